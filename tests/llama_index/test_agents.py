"""NexintMemory as the memory of LlamaIndex's workflow agents (FunctionAgent, ReActAgent).

An agent sends the LLM ``memory.get()`` (the history, ending with the user's message), then the
current run's scratchpad (its tool calls and results so far). Asserted on every LLM call: the memory
part (everything up to the latest user message) stays within ``token_limit`` (counted as in
``test_chat_engines``), every tool call is followed by its results and every result follows its call,
and the fact stated at turn 3, evicted half-way, is in the LLM input when asked about at the end.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from llama_index.core.agent.workflow import FunctionAgent, ReActAgent
from llama_index.core.base.llms.types import ChatMessage, MessageRole, ToolCallBlock
from llama_index.core.llms.mock import MockFunctionCallingLLM
from llama_index.core.tools import FunctionTool

from llama_index_nexint import NexintMemory
from nexint_core import StepClock
from tests.llama_index._support import (
    ANSWER,
    FACT,
    QUESTION,
    ToolCallingLLM,
    assert_tool_pairs_intact,
    get_weather,
    memory_part,
    small_talk,
    text_of,
    transcript_tokens,
)

# llama-index-workflows lists an agent's steps with inspect.getmembers(), which reads pydantic's deprecated
# attributes (``__fields__``, ``model_computed_fields``, ...) of the agent, a pydantic model: the framework's
# warnings, raised from the inspect module, not ours. ReActAgent asks the workflow context ``is_running``,
# which llama-index-workflows deprecated.
pytestmark = [
    pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecationWarning:inspect"),
    pytest.mark.filterwarnings("ignore:is_running called from within a step:DeprecationWarning"),
]

BUDGET = 700
CITIES = ("Lisbon", "Porto", "Madrid", "Paris")


def agent_message(turn: int, turns: int) -> str:
    if turn == 3:
        return FACT
    if turn == turns - 1:
        return QUESTION
    if turn % 3 == 0:
        return f"Turn {turn}: what is the weather in {CITIES[turn % len(CITIES)]}?"
    return small_talk(turn)


def test_function_agent_keeps_budget_tool_pairs_and_recall() -> None:
    memory = NexintMemory.from_defaults(token_limit=BUDGET, clock=StepClock())
    llm = ToolCallingLLM()
    agent = FunctionAgent(tools=[FunctionTool.from_defaults(fn=get_weather)], llm=llm)
    turns = 100

    async def converse() -> list[str]:
        answers = []
        for turn in range(turns):
            output = await agent.run(user_msg=agent_message(turn, turns), memory=memory)
            answers.append(str(output))
        return answers

    answers = asyncio.run(converse())
    assert answers[6].startswith("The forecast says: Madrid: 17 degrees")  # turn 6 asked about Madrid
    tokenizer = memory.manager.tokenizer
    pairs = 0
    for received in llm.received:
        assert transcript_tokens(memory_part(received), tokenizer) <= BUDGET
        pairs += assert_tool_pairs_intact(received)
    history = memory.get_all()
    assert (
        sum(len([b for b in m.blocks if isinstance(b, ToolCallBlock)]) for m in history) == llm.calls + llm.calls // 4
    )
    assert pairs > 2 * llm.calls  # pairs came back from memory as real messages, not only from the scratchpad
    assert_tool_pairs_intact(history)
    assert transcript_tokens(history, tokenizer) > 5 * BUDGET
    assert ANSWER not in text_of(llm.received[len(llm.received) // 2])
    assert ANSWER in text_of(llm.received[-1])


class RecordingMemory(NexintMemory):
    """NexintMemory that also keeps what each ``get()`` returned (ReAct's prompt wraps it in its own format)."""

    def get(self, input: str | ChatMessage | None = None, **kwargs: Any) -> list[ChatMessage]:
        messages = super().get(input, **kwargs)
        self.returned.append(messages)
        return messages

    @property
    def returned(self) -> list[list[ChatMessage]]:
        store: list[list[ChatMessage]] = self.__dict__.setdefault("_returned", [])
        return store


def react_response(messages: Any, **kwargs: Any) -> ChatMessage:
    last = messages[-1].content or ""
    if last.startswith("Observation:"):
        return ChatMessage(role="assistant", content="Thought: I can answer now.\nAnswer: It is mild and rainy.")
    if "weather in" in last:
        city = last.rsplit("weather in ", 1)[1].rstrip("?. ")
        action = f'Thought: I need the forecast.\nAction: get_weather\nAction Input: {{"city": "{city}"}}'
        return ChatMessage(role="assistant", content=action)
    return ChatMessage(role="assistant", content="Thought: I can answer without tools.\nAnswer: Noted.")


def test_react_agent_keeps_budget_and_recall() -> None:
    memory = RecordingMemory(token_limit=BUDGET, clock=StepClock())
    received: list[list[ChatMessage]] = []

    def respond(messages: Any, **kwargs: Any) -> ChatMessage:
        received.append([message.model_copy(deep=True) for message in messages])
        return react_response(messages, **kwargs)

    llm = MockFunctionCallingLLM(is_chat_model=True, response_generator=respond)
    # ReActAgent drops the first system message of its input when it has no system_prompt of its own
    # (it takes that message for its system prompt): with one, the memory's system message is kept.
    tools = [FunctionTool.from_defaults(fn=get_weather)]
    agent = ReActAgent(tools=tools, llm=llm, system_prompt="You are a helpful assistant.")
    turns = 40

    async def converse() -> None:
        for turn in range(turns):
            await agent.run(user_msg=agent_message(turn, turns), memory=memory)

    asyncio.run(converse())
    tokenizer = memory.manager.tokenizer
    assert len(memory.returned) >= turns
    for messages in memory.returned:
        assert transcript_tokens(messages, tokenizer) <= BUDGET
    assert transcript_tokens(memory.get_all(), tokenizer) > 3 * BUDGET
    assert "You are a helpful assistant." in (received[-1][0].content or "")  # ReAct's own header
    assert received[-1][1].role is MessageRole.SYSTEM
    assert ANSWER in (received[-1][1].content or "")
    assert received[-1][-1].role is MessageRole.USER
    assert received[-1][-1].content == QUESTION
    assert any((message.content or "").startswith("Observation:") for messages in received for message in messages)
