"""LlamaIndex's own mock LLMs, made to keep what they receive; token counting of that; tool-call checks."""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseGen,
    MessageRole,
    TextBlock,
    ToolCallBlock,
)
from llama_index.core.llms import MockLLM
from llama_index.core.llms.callbacks import llm_chat_callback
from llama_index.core.llms.mock import MockFunctionCallingLLM
from pydantic import Field

from nexint_core import Tokenizer

FACT = "By the way, my locker code at the gym is 4512."
QUESTION = "What is my locker code at the gym?"
ANSWER = "4512"
TOPICS = ("trains", "the weather", "a new bakery", "football", "the garden", "a documentary", "the office")


def small_talk(turn: int) -> str:
    """A user message of varying length that shares no content word with the fact or the question."""
    topic = TOPICS[turn % len(TOPICS)]
    tail = " It went on for a while and nobody minded much." * (turn % 3)
    return f"Message {turn}: I keep thinking about {topic} today.{tail}"


class RecordingLLM(MockLLM):
    """``MockLLM`` as a chat model that keeps a deep copy of every message list it is sent."""

    received: list[list[ChatMessage]] = Field(default_factory=list, exclude=True)

    def __init__(self, max_tokens: int = 12) -> None:
        super().__init__(max_tokens=max_tokens, is_chat_model=True)

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        self.received.append(copy.deepcopy(list(messages)))
        return super().chat(messages, **kwargs)

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        self.received.append(copy.deepcopy(list(messages)))
        return super().stream_chat(messages, **kwargs)


class ToolCallingLLM(MockFunctionCallingLLM):
    """LlamaIndex's mock function-calling LLM, answering like a small agent model: it calls
    ``get_weather`` when the user asks about the weather, answers from a tool result, and otherwise
    acknowledges; it keeps a deep copy of every message list it is sent."""

    received: list[list[ChatMessage]] = Field(default_factory=list, exclude=True)
    calls: int = 0

    def __init__(self) -> None:
        super().__init__(is_chat_model=True)
        self.response_generator = self._respond

    def _respond(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatMessage:
        self.received.append(copy.deepcopy(list(messages)))
        last = messages[-1]
        if last.role is MessageRole.TOOL:
            return ChatMessage(role="assistant", content=f"The forecast says: {last.content}")
        text = last.content or ""
        if "weather in" in text:
            self.calls += 1
            city = text.rsplit("weather in ", 1)[1].rstrip("?. ")
            blocks = [
                TextBlock(text="Let me check."),
                ToolCallBlock(tool_call_id=f"call-{self.calls}", tool_name="get_weather", tool_kwargs={"city": city}),
            ]
            if self.calls % 4 == 0:  # now and then two calls in parallel
                blocks.append(
                    ToolCallBlock(
                        tool_call_id=f"call-{self.calls}b", tool_name="get_weather", tool_kwargs={"city": "Oslo"}
                    )
                )
            return ChatMessage(role="assistant", blocks=blocks)
        return ChatMessage(role="assistant", content=f"Noted, thanks. ({len(text)} characters)")


def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"{city}: 17 degrees, light rain, wind from the west at 12 km/h."


def transcript_tokens(messages: Sequence[ChatMessage], tokenizer: Tokenizer) -> int:
    """Tokens of the messages as a transcript: one ``role: text`` line each, a tool call counted as
    ``name(arguments as JSON)`` on its own line; non-text blocks carry nothing else here."""
    lines = []
    for message in messages:
        texts = [block.text for block in message.blocks if isinstance(block, TextBlock)]
        texts += [
            f"{block.tool_name}({json.dumps(block.tool_kwargs, ensure_ascii=False)})"
            for block in message.blocks
            if isinstance(block, ToolCallBlock)
        ]
        lines.append(f"{message.role.value}: " + "\n".join(texts))
    return tokenizer.count("\n".join(lines))


def memory_part(messages: Sequence[ChatMessage]) -> list[ChatMessage]:
    """What an agent took from memory: everything up to the latest user message (the run's scratchpad,
    tool calls and results of the current turn, comes after it)."""
    last_user = max(i for i, message in enumerate(messages) if message.role is MessageRole.USER)
    return list(messages[: last_user + 1])


def assert_tool_pairs_intact(messages: Sequence[ChatMessage]) -> int:
    """Every assistant tool call is followed by its results, and every result follows its call; returns the pairs."""
    pairs = 0
    for index, message in enumerate(messages):
        calls = [block.tool_call_id for block in message.blocks if isinstance(block, ToolCallBlock)]
        if calls:
            results = messages[index + 1 : index + 1 + len(calls)]
            assert [result.role for result in results] == [MessageRole.TOOL] * len(calls), (index, messages)
            assert {result.additional_kwargs.get("tool_call_id") for result in results} == set(calls)
            pairs += len(calls)
        if message.role is MessageRole.TOOL:
            before = index - 1
            while before >= 0 and messages[before].role is MessageRole.TOOL:
                before -= 1
            assert before >= 0, messages
            made = {block.tool_call_id for block in messages[before].blocks if isinstance(block, ToolCallBlock)}
            assert message.additional_kwargs.get("tool_call_id") in made, (index, messages)
    return pairs


def text_of(messages: Sequence[ChatMessage]) -> str:
    return "\n".join(message.content or "" for message in messages)
