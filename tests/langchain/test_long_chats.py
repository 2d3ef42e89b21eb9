"""What the model receives in long, real LangChain chats: recent turns kept, big tool results whole in the archive
and excerpted in the prompt, threads apart, the budget honoured on every path."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langgraph.checkpoint.memory import InMemorySaver

from langchain_nexint import NexintChatMessageHistory, NexintMiddleware
from nexint_core import InvalidArgument, StepClock, get_tokenizer
from tests.langchain.fakes import ScriptedChatModel, assert_tool_pairs_intact, tokens_received, turn_text

TOKENIZER = get_tokenizer()
BIG = "\n".join(f"2024-03-{n % 28 + 1:02d} INFO worker-{n % 7} request {n} served in {n % 900} ms" for n in range(400))


@tool
def read_log(name: str) -> str:
    """Read a log file."""
    return BIG


class LogReadingModel(ScriptedChatModel):
    """Reads the log when asked to; otherwise as ScriptedChatModel."""

    def _reply(self, messages: list[BaseMessage]) -> AIMessage:
        last = messages[-1]
        if isinstance(last, HumanMessage) and "read the log" in last.text:
            self.received.append(list(messages))
            call = {"name": "read_log", "args": {"name": "service.log"}, "id": f"log_{len(self.received)}"}
            return AIMessage("Reading it.", tool_calls=[call])
        return super()._reply(messages)


def schema_tokens(*tools: Any) -> int:
    return sum(TOKENIZER.count(json.dumps(convert_to_openai_tool(t), sort_keys=True)) for t in tools)


def last_k_present(received: list[BaseMessage], conversation: list[BaseMessage], k: int = 6) -> bool:
    """Whether the k messages of the conversation before the current one, and the current one, reached the model
    as messages (a faithful excerpt counts: its head starts the message). The conversation ends with the reply."""
    wanted = conversation[-k - 2 : -1]
    texts = [message.text for message in received]
    return all(
        any(
            text == message.text or (text.split("\n[... ")[0] and message.text.startswith(text.split("\n[... ")[0]))
            for text in texts
        )
        for message in wanted
    )


def test_long_chat_every_model_call_gets_the_last_six_messages(tmp_path: Path) -> None:
    model = ScriptedChatModel()
    memory = NexintMiddleware(token_limit=1500, store=tmp_path / "memory", clock=StepClock())
    agent = create_agent(model, tools=[], middleware=[memory], checkpointer=InMemorySaver())
    config: Any = {"configurable": {"thread_id": "chat"}}
    conversation: list[BaseMessage] = []
    for turn in range(1, 151):
        text = turn_text(turn, 1000).replace("What is the weather", "How is the weather")
        state = agent.invoke({"messages": [HumanMessage(text)]}, config)
        conversation = [m for m in state["messages"] if isinstance(m, (HumanMessage, AIMessage))]
        received = model.received[-1]
        assert last_k_present(received, conversation), turn
        assert tokens_received(received, memory.manager.tokenizer) <= 1500
    memory.close()


def test_threads_of_one_graph_keep_their_memories_apart() -> None:
    model = FakeListChatModel(responses=["Noted."] * 3 + ["I do not know your PIN."])
    memory = NexintMiddleware(token_limit=2000)
    agent = create_agent(model, tools=[], middleware=[memory], checkpointer=InMemorySaver())
    alice: Any = {"configurable": {"thread_id": "alice"}}
    bob: Any = {"configurable": {"thread_id": "bob"}}
    agent.invoke({"messages": [HumanMessage("My bank PIN is 9931.")]}, alice)
    agent.invoke({"messages": [HumanMessage("I like sailing.")]}, bob)
    agent.invoke({"messages": [HumanMessage("Remember that too.")]}, alice)
    prompts: list[str] = []
    memory_pages = memory.manager_for("bob")
    agent.invoke({"messages": [HumanMessage("What is my bank PIN?")]}, bob)
    prompts = [page.content for page in memory_pages.page_table]
    assert not any("9931" in text for text in prompts)
    context = memory_pages.assemble("What is my bank PIN?")
    assert "9931" not in context.text
    assert "9931" in memory.manager_for("alice").assemble("What is my bank PIN?").text
    assert memory.manager_for("alice").namespace == "alice"


def test_a_shared_namespace_is_on_purpose() -> None:
    memory = NexintMiddleware(token_limit=2000, namespace="team")
    assert memory.manager_for("alice") is memory.manager_for("bob")
    assert memory.manager.namespace == "team"


def test_histories_of_two_sessions_on_one_store_stay_apart(tmp_path: Path) -> None:
    store = tmp_path / "memory"
    alice = NexintChatMessageHistory("alice", store=store, token_limit=1000)
    alice.add_messages([HumanMessage("My bank PIN is 9931."), AIMessage("Noted.")])
    alice.close()
    bob = NexintChatMessageHistory("bob", store=store, token_limit=1000)
    bob.query = "What is my bank PIN?"
    assert all("9931" not in message.text for message in bob.messages)
    bob.close()
    again = NexintChatMessageHistory(session_id="alice", store=store, token_limit=1000)
    again.query = "What is my bank PIN?"
    assert any("9931" in message.text for message in again.messages)
    again.close()


@pytest.mark.parametrize("restart", [False, True])
def test_a_tool_result_larger_than_the_budget_travels_with_its_call(tmp_path: Path, restart: bool) -> None:
    assert TOKENIZER.count(BIG) > 5000
    store = tmp_path / "memory"
    model = LogReadingModel()
    memory = NexintMiddleware(token_limit=4000, store=store, clock=StepClock())
    agent = create_agent(model, tools=[read_log], middleware=[memory], checkpointer=InMemorySaver())
    config: Any = {"configurable": {"thread_id": "ops"}}
    agent.invoke({"messages": [HumanMessage("Hello there.")]}, config)
    state = agent.invoke({"messages": [HumanMessage("Please read the log of the service.")]}, config)
    assert isinstance(state["messages"][-1], AIMessage)
    second = model.received[-1]  # the call after the tool ran: the call and its (excerpted) result
    assert isinstance(second[-1], ToolMessage)
    assert "tokens left out" in second[-1].text
    assert second[-1].text.startswith(BIG.splitlines()[0])
    if restart:
        memory.close()
        memory = NexintMiddleware(token_limit=4000, store=store, clock=StepClock())
        model = LogReadingModel()
        agent = create_agent(model, tools=[read_log], middleware=[memory], checkpointer=InMemorySaver())
    for turn in range(12):
        agent.invoke({"messages": [HumanMessage(f"Another thought, number {turn}, about rivers.")]}, config)
        received = model.received[-1]
        assert_tool_pairs_intact(received)
        budget = 4000 - schema_tokens(read_log)
        assert tokens_received(received, memory.manager.tokenizer) <= budget
    recalled = memory.manager_for("ops").assemble("request 313 served in how many ms?")
    assert "request 313 served in 313 ms" in recalled.text  # the whole result is in the archive
    memory.close()


def test_a_pasted_document_is_sent_as_an_excerpt_within_the_budget() -> None:
    document = " ".join(f"Clause {n}: the tenant keeps the garden tidy and pays on day {n % 28}." for n in range(5000))
    assert TOKENIZER.count(document) > 65_000
    model = ScriptedChatModel()
    memory = NexintMiddleware(token_limit=3000)
    agent = create_agent(model, tools=[], middleware=[memory])
    agent.invoke({"messages": [HumanMessage(document)]})
    received = model.received[-1]
    assert tokens_received(received, memory.manager.tokenizer) <= 3000
    assert received[-1].text.startswith("Clause 0: the tenant")
    assert "tokens left out" in received[-1].text
    agent.invoke({"messages": [HumanMessage("What does clause 4321 say about the day?")]})
    assert "Clause 4321:" in " ".join(message.text for message in model.received[-1])


def test_tool_schemas_count_against_the_budget() -> None:
    model = ScriptedChatModel()
    memory = NexintMiddleware(token_limit=700, clock=StepClock())
    agent = create_agent(model, tools=[read_log], middleware=[memory], checkpointer=InMemorySaver())
    config: Any = {"configurable": {"thread_id": "t"}}
    for turn in range(30):
        agent.invoke({"messages": [HumanMessage(f"Turn {turn}: a longer message about trains and rivers.")]}, config)
        sent = tokens_received(model.received[-1], memory.manager.tokenizer)
        assert sent + schema_tokens(read_log) <= 700


def test_a_misspelt_keyword_names_the_adapter() -> None:
    with pytest.raises(InvalidArgument, match=r"NexintMiddleware got unexpected keyword argument.*tokn_limit"):
        NexintMiddleware(tokn_limit=100)
    with pytest.raises(InvalidArgument, match="NexintChatMessageHistory got unexpected keyword"):
        NexintChatMessageHistory(pagesize=10)


def test_history_add_message_of_a_string_is_a_typed_error() -> None:
    history = NexintChatMessageHistory(token_limit=500)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(InvalidArgument, match="LangChain messages, got str"):
            history.add_message("text")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="list of LangChain messages"):
        history.add_messages("text")  # type: ignore[arg-type]
