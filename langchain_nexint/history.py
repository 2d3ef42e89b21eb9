"""nexint as a LangChain chat message history (``RunnableWithMessageHistory``).

LangChain deprecated ``BaseChatMessageHistory`` and ``RunnableWithMessageHistory`` in favour of
LangGraph persistence; they still run, and :class:`NexintChatMessageHistory` replaces
``InMemoryChatMessageHistory`` in them. New code should use :class:`~langchain_nexint.NexintMiddleware`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from langchain_core.chat_history import BaseChatMessageHistory
from langchain_core.messages import BaseMessage
from langchain_core.runnables.config import run_in_executor

from langchain_nexint._bridge import DEFAULT_TOKEN_LIMIT, Bridge, check_messages
from nexint_core import EvictionPolicy, MemoryManager, SwapStore
from nexint_core.manager import open_manager, session_namespace

__all__ = ["NexintChatMessageHistory"]


class NexintChatMessageHistory(BaseChatMessageHistory):
    """A chat history whose ``messages`` are the context assembled for a query, within ``token_limit`` tokens.

    ``session_id`` names the history's namespace, so histories of several sessions on one store stay apart
    (``RunnableWithMessageHistory``'s factory passes it: ``lambda session_id: NexintChatMessageHistory(session_id,
    store="memory/")``); without it (and without ``namespace=``) the history uses the ``default`` namespace.

    ``messages`` pages in for ``query`` (by default the latest human message written) and returns a system
    message (core, summaries, archive pages) and the recent turns. ``RunnableWithMessageHistory`` reads the
    history before it adds the new input, so to page in for the input itself, pass it as ``query``
    through a configurable field of the session factory (see the README).

    >>> from langchain_core.messages import AIMessage, HumanMessage
    >>> history = NexintChatMessageHistory(token_limit=1000)
    >>> history.add_messages([HumanMessage("My favourite colour is teal."), AIMessage("Noted.")])
    >>> [message.content for message in history.messages]
    ['My favourite colour is teal.', 'Noted.']
    >>> history.query = "What is my favourite colour?"
    >>> [message.type for message in history.messages]
    ['human', 'ai']
    """

    def __init__(
        self,
        session_id: str | None = None,
        *,
        manager: MemoryManager | None = None,
        token_limit: int | None = None,
        store: SwapStore | str | os.PathLike[str] | None = None,
        policy: str | EvictionPolicy | None = None,
        namespace: str | None = None,
        query: str | None = None,
        **manager_options: Any,
    ) -> None:
        super().__init__()
        namespace = session_namespace(session_id, namespace, "NexintChatMessageHistory")
        opened, owned = open_manager(
            manager,
            default_limit=DEFAULT_TOKEN_LIMIT,
            token_limit=token_limit,
            store=store,
            policy=policy,
            namespace=namespace,
            options=manager_options,
            adapter="NexintChatMessageHistory",
        )
        self._bridge = Bridge(opened, owned=owned)
        self.query = query
        self._read: tuple[tuple[str, int], list[BaseMessage]] | None = None

    @property
    def manager(self) -> MemoryManager:
        """The memory manager behind this history."""
        return self._bridge.manager

    @property
    def messages(self) -> list[BaseMessage]:
        """The assembled context for :attr:`query` (or the latest human message): system message, then recent turns.

        Read twice with nothing written between, it is the same list (``RunnableWithMessageHistory`` relies
        on that to tell history from input).
        """
        bridge = self._bridge
        with bridge.lock:
            query = self.query if self.query is not None else bridge.last_user_text()
            stamp = (query, len(bridge.manager))
            if self._read is None or self._read[0] != stamp:
                system, recent = bridge.messages_of(bridge.context(query, page_in=True))
                messages: list[BaseMessage] = [system] if system is not None else []
                messages.extend(message for _, message in recent)
                self._read = (stamp, messages)
            return list(self._read[1])

    @messages.setter
    def messages(self, messages: Sequence[BaseMessage]) -> None:
        self.clear()
        self.add_messages(messages)

    async def aget_messages(self) -> list[BaseMessage]:
        return await run_in_executor(None, lambda: self.messages)

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Write the messages in one batch (a tool call and its results as one group)."""
        check_messages(messages, "NexintChatMessageHistory.add_messages")
        with self._bridge.lock:
            self._bridge.write(messages, once=False)
            self._read = None

    async def aadd_messages(self, messages: Sequence[BaseMessage]) -> None:
        await run_in_executor(None, self.add_messages, messages)

    def clear(self) -> None:
        """Forget the conversation this history holds (pages written to its manager directly stay)."""
        with self._bridge.lock:
            self._bridge.clear()
            self._read = None

    async def aclear(self) -> None:
        await run_in_executor(None, self.clear)

    def close(self) -> None:
        """Close the manager if this history opened it."""
        self._bridge.close()
