"""NexintChatMessageHistory behind a real ``RunnableWithMessageHistory``, driven by LangChain's fake chat model."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables import ConfigurableFieldSpec
from langchain_core.runnables.history import RunnableWithMessageHistory

from langchain_nexint import NexintChatMessageHistory
from nexint_core import MemoryManager, StepClock
from tests.langchain.fakes import SECRET, PromptRecorder, assert_tool_pairs_intact, tokens_received, turn_text

BUDGET = 600
TURNS = 300
# LangChain deprecated RunnableWithMessageHistory for LangGraph persistence: expected here, nowhere else.
history_deprecation = pytest.mark.filterwarnings(
    "ignore:RunnableWithMessageHistory is deprecated:langchain_core._api.deprecation.LangChainDeprecationWarning"
)


def chain_with_history(histories: dict[str, NexintChatMessageHistory]) -> RunnableWithMessageHistory:
    """The README's pattern: one history per session; the input reaches it as ``query`` through the config."""

    def session_history(session_id: str, query: str) -> NexintChatMessageHistory:
        history = histories[session_id]
        history.query = query or None
        return history

    prompt = ChatPromptTemplate.from_messages([MessagesPlaceholder("history"), ("human", "{input}")])
    return RunnableWithMessageHistory(
        prompt | FakeListChatModel(responses=["Noted.", "I see."]),
        session_history,
        input_messages_key="input",
        history_messages_key="history",
        history_factory_config=[
            ConfigurableFieldSpec(id="session_id", annotation=str, is_shared=True),
            ConfigurableFieldSpec(id="query", annotation=str, default="", is_shared=True),
        ],
    )


@history_deprecation
@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_history_runnable_stays_in_budget_and_recalls(asynchronous: bool) -> None:
    histories = {"s1": NexintChatMessageHistory(token_limit=BUDGET, clock=StepClock())}
    chain = chain_with_history(histories)
    recorder = PromptRecorder()
    texts = [turn_text(turn, TURNS) for turn in range(1, TURNS + 1)]

    def config(text: str) -> Any:
        return {"configurable": {"session_id": "s1", "query": text}, "callbacks": [recorder]}

    if asynchronous:

        async def converse() -> None:
            for text in texts:
                await chain.ainvoke({"input": text}, config(text))

        asyncio.run(converse())
    else:
        for text in texts:
            chain.invoke({"input": text}, config(text))

    manager = histories["s1"].manager
    assert len(recorder.chats) == TURNS
    assert max(tokens_received(chat, manager.tokenizer) for chat in recorder.chats) <= BUDGET
    assert SECRET in " ".join(message.text for message in recorder.chats[-1])
    assert len(manager) == 2 * TURNS  # every input and output written once
    assert manager.usage()["swap"] > 0


@history_deprecation
def test_history_without_a_query_pages_in_for_the_latest_human_message() -> None:
    history = NexintChatMessageHistory(token_limit=BUDGET, clock=StepClock())
    chain = RunnableWithMessageHistory(
        ChatPromptTemplate.from_messages([MessagesPlaceholder("history"), ("human", "{input}")])
        | FakeListChatModel(responses=["Noted."]),
        lambda session_id: history,
        input_messages_key="input",
        history_messages_key="history",
    )
    for turn in range(1, 61):
        chain.invoke({"input": turn_text(turn, 1000)}, {"configurable": {"session_id": "s"}})
    history.add_messages([HumanMessage("Remind me of my locker code at the gym?"), AIMessage("One moment.")])
    assert any(SECRET in message.text for message in history.messages)


def test_history_reads_are_stable_until_a_write() -> None:
    history = NexintChatMessageHistory(token_limit=BUDGET)
    for turn in range(1, 80):
        history.add_messages([HumanMessage(turn_text(turn, 1000)), AIMessage("Noted.")])
    history.query = "What is my locker code at the gym?"
    first = history.messages
    assert first == history.messages
    assert isinstance(first[0], SystemMessage)
    assert SECRET in first[0].text
    history.add_messages([HumanMessage("And one more thing.")])
    assert history.messages != first


def test_history_keeps_tool_calls_with_their_results() -> None:
    manager = MemoryManager(300, clock=StepClock())
    history = NexintChatMessageHistory(manager=manager)
    results_shown = 0
    for turn in range(40):
        call = {"name": "get_weather", "args": {"city": f"City{turn}"}, "id": f"call-{turn}"}
        history.add_messages([HumanMessage(f"Weather in City{turn}?"), AIMessage("", tool_calls=[call])])
        history.add_messages([ToolMessage(f"City{turn}: sunny.", tool_call_id=f"call-{turn}"), AIMessage("Sunny.")])
        messages = history.messages
        assert_tool_pairs_intact(messages)
        assert tokens_received(messages, manager.tokenizer) <= 300
        results_shown += sum(isinstance(message, ToolMessage) for message in messages)
    assert results_shown > 40  # rebuilt as real ToolMessages, right after their calls


def test_history_messages_can_be_replaced_and_cleared() -> None:
    history = NexintChatMessageHistory(token_limit=BUDGET)
    history.add_messages([HumanMessage("one"), AIMessage("two")])
    history.messages = [HumanMessage("three")]
    assert [message.text for message in history.messages] == ["three"]
    asyncio.run(history.aclear())
    assert asyncio.run(history.aget_messages()) == []
    asyncio.run(history.aadd_messages([HumanMessage("four")]))
    assert [message.text for message in history.messages] == ["four"]


@history_deprecation
def test_history_runnable_on_message_lists_writes_each_turn_once() -> None:
    history = NexintChatMessageHistory(token_limit=BUDGET, clock=StepClock())
    chain = RunnableWithMessageHistory(FakeListChatModel(responses=["Noted."]), lambda session_id: history)
    for turn in range(1, 101):  # the runnable tells input from history by the length of a second read
        chain.invoke([HumanMessage(turn_text(turn, 1000))], {"configurable": {"session_id": "s"}})
    assert len(history.manager) == 200
    assert [page.role for page in history.manager.page_table][-4:] == ["user", "assistant"] * 2
