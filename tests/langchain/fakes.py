"""Fakes and checks shared by the LangChain tests: a tool-calling chat model that records its input, a script."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import tool
from pydantic import Field

from nexint_core import Tokenizer

FACT_TURN = 3
FACT = "My locker code at the gym is 4512."
QUESTION = "What is my locker code at the gym?"
SECRET = "4512"
CITIES = ("Lisbon", "Porto", "Madrid", "Oslo", "Vienna", "Prague", "Dublin", "Tallinn")
TOPICS = ("trains", "gardening", "chess", "jazz", "bread", "rivers", "comets", "kites", "pottery", "owls")
_WEATHER = re.compile(r"weather in (\w+)")
_RECALL = re.compile(r"locker code at the gym is (\d+)")


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"{city}: 17 degrees, light rain, wind from the west."


def turn_text(turn: int, last: int) -> str:
    """The user's message at ``turn`` (1-based) of a conversation of ``last`` turns."""
    if turn == FACT_TURN:
        return FACT
    if turn == last:
        return QUESTION
    if turn % 4 == 0:
        return f"What is the weather in {CITIES[turn // 4 % len(CITIES)]} today?"
    topic = TOPICS[turn % len(TOPICS)]
    return f"Turn {turn}: I spent some time on {topic} this afternoon and it was pleasant enough."


class ScriptedChatModel(BaseChatModel):
    """Calls ``get_weather`` when asked about the weather, answers from tool results, recalls from its input.

    It records every input it receives (``received``), so tests check what the model saw.
    """

    received: list[list[BaseMessage]] = Field(default_factory=list)
    tool_calls: int = 0
    numbered_calls: bool = False  # ids like call_0 in every reply, as some servers give them

    @property
    def _llm_type(self) -> str:
        return "scripted-tool-calling"

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any) -> ScriptedChatModel:
        return self

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._reply(messages))])

    async def _agenerate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._reply(messages))])

    def _reply(self, messages: list[BaseMessage]) -> AIMessage:
        self.received.append(list(messages))
        last = messages[-1]
        if isinstance(last, ToolMessage):
            return AIMessage(f"The tool says: {last.text}")
        text = last.text
        if (match := _WEATHER.search(text)) is not None:
            self.tool_calls += 1
            call_id = "call_0" if self.numbered_calls else f"call_{len(self.received)}_{id(self)}"
            call = {"name": "get_weather", "args": {"city": match[1]}, "id": call_id}
            return AIMessage("Let me check.", tool_calls=[call])
        if text == QUESTION:
            seen = " ".join(message.text for message in messages)
            found = _RECALL.search(seen)
            return AIMessage(f"Your locker code is {found[1]}." if found else "I do not know.")
        return AIMessage(f"Noted: {text[:60]}")


class PromptRecorder(BaseCallbackHandler):
    """Records what every LLM or chat model call of a chain received."""

    def __init__(self) -> None:
        self.prompts: list[str] = []
        self.chats: list[list[BaseMessage]] = []

    def on_llm_start(self, serialized: dict[str, Any], prompts: list[str], **kwargs: Any) -> None:
        self.prompts.extend(prompts)

    def on_chat_model_start(self, serialized: dict[str, Any], messages: list[list[BaseMessage]], **kwargs: Any) -> None:
        self.chats.extend(list(batch) for batch in messages)


def tokens_received(messages: Sequence[BaseMessage], tokenizer: Tokenizer) -> int:
    """Tokens of everything a model received: message contents, tool-call names and arguments."""
    total = 0
    for message in messages:
        total += tokenizer.count(message.text)
        for call in getattr(message, "tool_calls", []):
            total += tokenizer.count(call["name"]) + tokenizer.count(json.dumps(call["args"]))
    return total


def assert_tool_pairs_intact(messages: Sequence[BaseMessage]) -> None:
    """Every tool call is answered right after it, and every tool result follows its call."""
    for index, message in enumerate(messages):
        if isinstance(message, AIMessage) and message.tool_calls:
            answered = set()
            for later in messages[index + 1 :]:
                if not isinstance(later, ToolMessage):
                    break
                answered.add(later.tool_call_id)
            assert answered == {call["id"] for call in message.tool_calls}, (message, messages)
        if isinstance(message, ToolMessage):
            before = index - 1
            while before >= 0 and isinstance(messages[before], ToolMessage):
                before -= 1
            caller = messages[before] if before >= 0 else None
            assert isinstance(caller, AIMessage), (message, messages)
            assert message.tool_call_id in {call["id"] for call in caller.tool_calls}, (message, messages)
