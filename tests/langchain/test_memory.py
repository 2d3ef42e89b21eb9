"""NexintMemory in a real classic ``ConversationChain`` driven by LangChain's own fake LLMs."""

from __future__ import annotations

import asyncio

import pytest
from langchain_classic.chains import ConversationChain
from langchain_classic.chains.conversation.prompt import PROMPT
from langchain_core.language_models import FakeListLLM
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder

from langchain_nexint import NexintMemory
from nexint_core import InvalidArgument, StepClock
from tests.langchain.fakes import SECRET, PromptRecorder, tokens_received, turn_text

BUDGET = 600
TURNS = 300
# LangChain deprecated ConversationChain (and BaseMemory) in favour of create_agent: expected here, nowhere else.
chain_deprecation = pytest.mark.filterwarnings(
    "ignore:The class `ConversationChain` was deprecated:langchain_core._api.deprecation.LangChainDeprecationWarning"
)


@chain_deprecation
def test_memory_conversation_chain_stays_in_budget_and_recalls() -> None:
    memory = NexintMemory(token_limit=BUDGET, clock=StepClock())
    recorder = PromptRecorder()
    chain = ConversationChain(llm=FakeListLLM(responses=["Noted.", "I see.", "Go on."]), memory=memory)
    for turn in range(1, TURNS + 1):
        chain.invoke({"input": turn_text(turn, TURNS)}, config={"callbacks": [recorder]})

    tokenizer = memory.manager.tokenizer
    template = tokenizer.count(PROMPT.format(history="", input=""))
    assert len(recorder.prompts) == TURNS
    assert max(tokenizer.count(prompt) for prompt in recorder.prompts) <= BUDGET + template
    assert SECRET in recorder.prompts[-1]
    assert len(memory.manager) == 2 * TURNS  # every input and output written once
    assert memory.manager.usage()["swap"] > 0


@chain_deprecation
def test_memory_returns_messages_to_a_chat_model_chain() -> None:
    memory = NexintMemory(token_limit=BUDGET, return_messages=True, clock=StepClock())
    recorder = PromptRecorder()
    model = FakeListChatModel(responses=["Noted."])
    prompt = ChatPromptTemplate.from_messages([MessagesPlaceholder("history"), ("human", "{input}")])
    chain = ConversationChain(llm=model, memory=memory, prompt=prompt)
    for turn in range(1, TURNS + 1):
        chain.invoke({"input": turn_text(turn, TURNS)}, config={"callbacks": [recorder]})
    assert len(recorder.chats) == TURNS
    assert max(tokens_received(chat, memory.manager.tokenizer) for chat in recorder.chats) <= BUDGET
    asked = recorder.chats[-1]
    assert any(isinstance(message, SystemMessage) and SECRET in message.text for message in asked)


def test_memory_loads_messages_and_saves_the_named_keys() -> None:
    memory = NexintMemory(token_limit=BUDGET, return_messages=True, input_key="question", output_key="answer")
    memory.save_context({"question": "My cat is called Miso.", "context": "x"}, {"answer": "Noted.", "other": "y"})
    loaded = memory.load_memory_variables({"question": "Anything new?", "context": "x"})["history"]
    assert [type(message) for message in loaded] == [HumanMessage, AIMessage]
    assert [message.text for message in loaded] == ["My cat is called Miso.", "Noted."]
    assert memory.memory_variables == ["history"]


def test_memory_needs_an_output_key_when_the_chain_has_several() -> None:
    memory = NexintMemory(token_limit=BUDGET)
    with pytest.raises(InvalidArgument, match="output_key"):
        memory.save_context({"input": "hi"}, {"text": "a", "extra": "b"})


def test_memory_clear_forgets_the_conversation_and_keeps_pinned_rules() -> None:
    memory = NexintMemory(token_limit=BUDGET)
    rule = memory.manager.write("system", "Always answer in French.", kind="RUL", pin=True)[0]
    memory.save_context({"input": "My cat is called Miso."}, {"output": "Noted."})
    memory.clear()
    assert [page.id for page in memory.manager.page_table] == [rule]
    history = memory.load_memory_variables({"input": "What is my cat called?"})["history"]
    assert "Miso" not in history
    assert "Always answer in French." in history


@chain_deprecation
def test_memory_async_chain_calls_write_each_turn() -> None:
    memory = NexintMemory(token_limit=BUDGET, clock=StepClock())
    chain = ConversationChain(llm=FakeListLLM(responses=["Noted."]), memory=memory)

    async def converse() -> str:
        for turn in range(1, 60):
            await chain.ainvoke({"input": turn_text(turn, 60)})
        return str((await chain.ainvoke({"input": "What is my locker code at the gym?"}))["history"])

    assert SECRET in asyncio.run(converse())
    assert len(memory.manager) == 2 * 60
