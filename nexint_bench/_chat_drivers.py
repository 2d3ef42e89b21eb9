"""How ``memos bench chat`` drives each method: one driver per method, the frameworks imported on demand.

A driver feeds the user turns of one or two chats (two threads of one app) through a framework's real
code path, with a fake model that replays the chat's scripted replies (tool calls included) and hands
every input it receives to a :class:`Recorder`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from nexint_bench.chat_metrics import Count, Msg
from nexint_bench.chat_script import Chat, ChatTurn

__all__ = ["FRAMEWORK", "METHODS", "SYSTEM_PROMPT", "Driver", "Recorder", "open_driver"]

SYSTEM_PROMPT = "You are a helpful personal assistant. Answer briefly, and use the tools when asked for files or pages."

# method -> the framework it needs (its module is imported only when a method of it runs)
FRAMEWORK = {
    "nexint-langchain": "langchain",
    "trim-messages": "langchain",
    "summarization": "langchain",
    "token-buffer": "langchain",
    "nexint-llamaindex": "llama_index",
    "chat-memory-buffer": "llama_index",
}
METHODS = tuple(FRAMEWORK)


class Recorder:
    """The inputs of the model calls of the turn being run, kept as received and converted when taken
    (so the conversion is not timed)."""

    def __init__(self) -> None:
        self._raw: list[tuple[list[Any], Callable[[Sequence[Any]], list[Msg]]]] = []

    def record(self, messages: Sequence[Any], convert: Callable[[Sequence[Any]], list[Msg]]) -> None:
        """Keep one call's input (a copy of the list; the messages themselves are not changed afterwards)."""
        self._raw.append((list(messages), convert))

    def take(self) -> list[list[Msg]]:
        """Every call's input since the last take, as :class:`Msg` lists."""
        taken = [convert(messages) for messages, convert in self._raw]
        self._raw.clear()
        return taken


class Driver(Protocol):
    """One method, set up for a group of chats run as threads of one app."""

    def turn(self, chat: Chat, turn: ChatTurn) -> None:
        """Run one user turn of ``chat``; raises whatever the method raises."""

    def close(self) -> None:
        """Release what the method holds."""


def open_driver(method: str, budget: int, chats: Sequence[Chat], recorder: Recorder, count: Count) -> Driver:
    """A driver of ``method`` at ``budget`` tokens for ``chats`` (their tool results are what the tools return)."""
    results = {
        (turn.call.name, turn.call.argument): turn.call.result for chat in chats for turn in chat.turns if turn.call
    }
    if FRAMEWORK[method] == "langchain":
        from nexint_bench import _chat_langchain

        return _chat_langchain.open_driver(method, budget, chats, results, recorder, count)
    from nexint_bench import _chat_llama_index

    return _chat_llama_index.open_driver(method, budget, chats, results, recorder)
