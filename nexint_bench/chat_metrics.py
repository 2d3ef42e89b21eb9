"""What a model call received, framework-neutral, and the per-call measures of ``memos bench chat``.

Every recorded model input becomes a list of :class:`Msg` (role, text, tool calls, the call a tool
result answers), whatever framework sent it; the measures read only that.

Tokens: a message costs the tokens of its text; each tool call it makes costs the tokens of
``name(arguments as JSON, keys sorted)``; a tool result costs its text. Roles and message framing cost
nothing, so the count is a floor of what a provider would bill.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ROLES",
    "CallMeasure",
    "Count",
    "Msg",
    "MsgKey",
    "arguments_json",
    "call_text",
    "input_tokens",
    "measure_call",
    "message_tokens",
    "normalize",
    "orphaned_calls",
    "present",
    "shingles",
]

ROLES = ("system", "user", "assistant", "tool")
SHINGLE_WORDS = 6  # words per shingle of the cross-thread check: a planted fact is about 8 words
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[\w'-]+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")

ToolCall = tuple[str, str, str]  # (call id, tool name, arguments as JSON)
MsgKey = tuple[str, str, tuple[str, ...], str | None]  # role, normalised text, call ids, answered call id
Count = Callable[[str], int]  # a text's tokens


def normalize(text: str) -> str:
    """``text`` with every run of whitespace one space, trimmed (a memory may rejoin a split message so)."""
    return _SPACE.sub(" ", text).strip()


def arguments_json(arguments: Mapping[str, Any] | str) -> str:
    """A tool call's arguments as JSON, keys sorted (a string is taken as JSON already)."""
    return arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False, sort_keys=True)


def call_text(name: str, arguments: Mapping[str, Any] | str) -> str:
    """What a tool call is counted as: ``name({"key": "value"})``, keys sorted."""
    return f"{name}({arguments_json(arguments)})"


@dataclass(frozen=True, slots=True)
class Msg:
    """One message as a model received it, or as the conversation holds it."""

    role: str  # system, user, assistant or tool
    text: str
    calls: tuple[ToolCall, ...] = ()  # the tool calls an assistant message makes
    call_id: str | None = None  # the call a tool result answers

    def key(self) -> MsgKey:
        """What makes two messages the same message: role, text up to whitespace, call ids."""
        return self.role, normalize(self.text), tuple(call[0] for call in self.calls), self.call_id


def message_tokens(message: Msg, count: Count) -> int:
    """Tokens of one message: its text, plus ``name(arguments)`` of each tool call it makes."""
    return count(message.text) + sum(count(call_text(name, args)) for _, name, args in message.calls)


def input_tokens(messages: Iterable[Msg], count: Count) -> int:
    """Tokens of a whole model input (system message included)."""
    return sum(message_tokens(message, count) for message in messages)


def orphaned_calls(messages: Sequence[Msg]) -> int:
    """Tool calls not followed by all their results, plus tool results not preceded by their call.

    A call's results are the tool messages right after its assistant message; a result belongs to the
    nearest assistant message before the run of tool messages it is in.
    """
    orphans = 0
    for index, message in enumerate(messages):
        if message.role == "assistant" and message.calls:
            answered: set[str | None] = set()
            for later in messages[index + 1 :]:
                if later.role != "tool":
                    break
                answered.add(later.call_id)
            orphans += sum(call_id not in answered for call_id, _, _ in message.calls)
        elif message.role == "tool":
            before = index - 1
            while before >= 0 and messages[before].role == "tool":
                before -= 1
            caller = messages[before] if before >= 0 else None
            if caller is None or caller.role != "assistant" or message.call_id not in {c[0] for c in caller.calls}:
                orphans += 1
    return orphans


_MARKER = re.compile(r"\n?\[\.\.\. [\d,]+ tokens left out[^\]]*\.\.\.\]\n?")


def faithful_excerpt(excerpt: str, whole: str) -> bool:
    """Whether ``excerpt`` is the head and tail of ``whole`` around one "[... N tokens left out ...]" marker."""
    parts = _MARKER.split(excerpt)
    if len(parts) != 2:
        return False
    head, tail = normalize(parts[0]), normalize(parts[1])
    text = normalize(whole)
    return text.startswith(head) and text.endswith(tail) and len(head) + len(tail) < len(text)


def present(wanted: Sequence[Msg], received: Sequence[Msg]) -> list[bool]:
    """For each wanted message, whether it reached the model as a real message (same role and calls, and its
    text or a faithful excerpt of it: its head and tail around a marker saying how much was left out); text
    folded into another message, a system message say, does not count."""
    keys = {message.key() for message in received}
    excerpts = [message for message in received if _MARKER.search(message.text)]
    return [
        message.key() in keys
        or any(
            (other.role, other.calls, other.call_id) == (message.role, message.calls, message.call_id)
            and faithful_excerpt(other.text, message.text)
            for other in excerpts
        )
        for message in wanted
    ]


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[int]:
    """Hashes of every run of ``size`` words (lowercased) inside one sentence of ``text``; a shorter sentence
    is one run. Runs never cross a sentence: a memory that renders pieces of messages side by side would
    otherwise make runs no message holds."""
    runs: set[int] = set()
    for sentence in _SENTENCE.split(text):
        words = [word.lower() for word in _WORD.findall(sentence)]
        if len(words) < size:
            if words:
                runs.add(hash(tuple(words)))
            continue
        runs.update(hash(tuple(words[start : start + size])) for start in range(len(words) - size + 1))
    return runs


@dataclass(frozen=True, slots=True)
class CallMeasure:
    """The measures of one model call."""

    tokens: int
    over: int  # tokens over the budget, 0 if within it
    orphaned: int
    messages: int


def measure_call(messages: Sequence[Msg], budget: int, count: Count) -> CallMeasure:
    """Tokens (and how far over ``budget``), orphaned tool calls and size of one model input."""
    tokens = input_tokens(messages, count)
    return CallMeasure(tokens, max(0, tokens - budget), orphaned_calls(messages), len(messages))
