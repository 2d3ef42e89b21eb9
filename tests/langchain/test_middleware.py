"""NexintMiddleware in real ``create_agent`` agents, driven by a tool-calling fake model that records its input."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver

from langchain_nexint import NexintMiddleware
from langchain_nexint._bridge import META_KEY
from nexint_core import InvalidArgument, MemoryManager, StepClock
from nexint_core.session import load_session
from tests.langchain.fakes import (
    QUESTION,
    SECRET,
    ScriptedChatModel,
    assert_tool_pairs_intact,
    get_weather,
    tokens_received,
    turn_text,
)

BUDGET = 800
TURNS = 300


def written_keys(manager: MemoryManager) -> Counter[str]:
    """How many frames each message key was written as (each page of a frame carries the key)."""
    keys: Counter[str] = Counter()
    for page in manager.page_table:
        if page.part == 0 and META_KEY in page.metadata:
            keys[page.metadata[META_KEY]["key"]] += 1
    return keys


def run_agent(
    middleware: NexintMiddleware, turns: int, *, asynchronous: bool, **agent_options: Any
) -> tuple[ScriptedChatModel, dict[str, Any]]:
    model = ScriptedChatModel()
    agent = create_agent(
        model, tools=[get_weather], middleware=[middleware], checkpointer=InMemorySaver(), **agent_options
    )
    config: Any = {"configurable": {"thread_id": "conversation"}}
    inputs = [{"messages": [HumanMessage(turn_text(turn, turns))]} for turn in range(1, turns + 1)]
    if asynchronous:

        async def converse() -> dict[str, Any]:
            state: dict[str, Any] = {}
            for given in inputs:
                state = await agent.ainvoke(given, config)
            return state

        return model, asyncio.run(converse())
    state = {}
    for given in inputs:
        state = agent.invoke(given, config)
    return model, state


@pytest.mark.parametrize(
    ("compact", "asynchronous"),
    [(False, False), (True, False), (False, True), (True, True)],
    ids=["state-kept", "compact", "state-kept-async", "compact-async"],
)
def test_middleware_300_turns_stay_in_budget_keep_tool_pairs_and_recall(compact: bool, asynchronous: bool) -> None:
    middleware = NexintMiddleware(token_limit=BUDGET, compact=compact, clock=StepClock())
    model, state = run_agent(middleware, TURNS, asynchronous=asynchronous)
    tokenizer = middleware.manager.tokenizer

    assert model.tool_calls >= TURNS // 4 - 1
    for received in model.received:
        assert tokens_received(received, tokenizer) <= BUDGET
        assert_tool_pairs_intact(received)
    with_tools = [received for received in model.received if any(isinstance(m, ToolMessage) for m in received)]
    assert len(with_tools) >= model.tool_calls  # the turn's tool results reach the model as real ToolMessages
    assert sum(len(received) for received in model.received) < TURNS * 40  # not the whole history each time

    asked = next(received for received in model.received if received[-1].text == QUESTION)
    assert SECRET in " ".join(message.text for message in asked)
    assert state["messages"][-1].text == f"Your locker code is {SECRET}."

    keys = written_keys(middleware.manager)
    assert set(keys.values()) == {1}  # every message written exactly once
    assert len(keys) == TURNS + len(model.received) + model.tool_calls
    if compact:
        assert [type(message) for message in state["messages"]] == [HumanMessage, AIMessage]
    else:
        assert set(keys) == {message.id for message in state["messages"]}


def test_middleware_keeps_tool_calls_apart_when_their_ids_repeat() -> None:
    middleware = NexintMiddleware(token_limit=400, clock=StepClock())
    model = ScriptedChatModel(numbered_calls=True)
    agent = create_agent(model, tools=[get_weather], middleware=[middleware], checkpointer=InMemorySaver())
    config: Any = {"configurable": {"thread_id": "conversation"}}
    for turn in range(1, 61):
        agent.invoke({"messages": [HumanMessage(turn_text(turn, 1000))]}, config)
    for received in model.received:
        assert_tool_pairs_intact(received)
        assert tokens_received(received, middleware.manager.tokenizer) <= 400
    groups = {page.group_id for page in middleware.manager.page_table if page.role == "tool"}
    assert len(groups) == model.tool_calls == 15


def test_middleware_model_sees_one_system_message_with_the_agent_prompt_first() -> None:
    middleware = NexintMiddleware(token_limit=BUDGET, system_prompt="Answer in English.")
    model, _ = run_agent(middleware, 40, asynchronous=False, system_prompt="You are a careful assistant.")
    for received in model.received:
        assert isinstance(received[0], SystemMessage)
        assert received[0].text.startswith("Answer in English.\n\nYou are a careful assistant.")
        assert not any(isinstance(message, SystemMessage) for message in received[1:])
        assert tokens_received(received, middleware.manager.tokenizer) <= BUDGET


def test_middleware_rebuilds_a_frame_split_into_pages_as_one_message() -> None:
    middleware = NexintMiddleware(token_limit=2000, page_size=32)
    long_text = " ".join(f"Sentence number {i} of a long message about the harbour." for i in range(20))
    model = ScriptedChatModel()
    agent = create_agent(model, tools=[get_weather], middleware=[middleware], checkpointer=InMemorySaver())
    config: Any = {"configurable": {"thread_id": "conversation"}}
    agent.invoke({"messages": [HumanMessage(long_text)]}, config)
    pages = [page for page in middleware.manager.page_table if page.role == "user"]
    assert len(pages) > 5
    assert len({page.frame_id for page in pages}) == 1
    agent.invoke({"messages": [HumanMessage("What is the weather in Oslo?")]}, config)
    last = model.received[-1]
    assert [type(message) for message in last] == [HumanMessage, AIMessage, HumanMessage, AIMessage, ToolMessage]
    assert last[0].text == long_text  # seven pages, one message
    assert last[3].tool_calls[0]["args"] == {"city": "Oslo"}


def test_middleware_writes_a_restored_history_once() -> None:
    middleware = NexintMiddleware(token_limit=BUDGET)
    model = ScriptedChatModel()
    agent = create_agent(model, tools=[get_weather], middleware=[middleware])
    state = agent.invoke({"messages": [HumanMessage("What is the weather in Oslo?")]})
    history: list[BaseMessage] = state["messages"]
    state = agent.invoke({"messages": [*history, HumanMessage("Thanks.")]})  # a stateless client resends it
    keys = written_keys(middleware.manager)
    assert set(keys.values()) == {1}
    assert set(keys) == {message.id for message in state["messages"]}


def test_middleware_records_a_session(tmp_path: Path) -> None:
    path = tmp_path / "agent.jsonl"
    middleware = NexintMiddleware(token_limit=BUDGET, namespace="chat", record=path, clock=StepClock())
    run_agent(middleware, 9, asynchronous=False)  # weather at turns 4 and 8
    middleware.close()
    session = load_session(path)
    assert session.counts()["query"] >= 9
    assert [record.role for record in session.records if record.type == "message"].count("tool") == 2


def test_middleware_takes_a_manager_or_settings_not_both() -> None:
    manager = MemoryManager(500)
    assert NexintMiddleware(manager=manager).manager is manager
    with pytest.raises(InvalidArgument, match="not both"):
        NexintMiddleware(manager=manager, token_limit=500)
    assert NexintMiddleware(token_limit=700, policy="ARC").manager.eviction_name == "ARC"
