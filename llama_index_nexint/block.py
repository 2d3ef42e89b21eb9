"""``NexintMemoryBlock``: nexint's archive with page-in, as a block of LlamaIndex's ``Memory``."""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.memory.memory import BaseMemoryBlock
from pydantic import ConfigDict, Field, PrivateAttr

from llama_index_nexint._options import open_for_adapter
from llama_index_nexint.messages import META_KEY, FrameWriter, message_text
from nexint_core import EvictionPolicy, MemoryManager, PageTooLarge, SwapStore
from nexint_core.conversation import Conversation

__all__ = ["NexintMemoryBlock"]

_EARLIER_HEADER = "## Earlier turns"


class NexintMemoryBlock(BaseMemoryBlock[str]):
    """A ``Memory`` block: messages ``Memory`` flushes from its short-term queue go into a nexint manager,
    and each ``get()`` pages in what the latest user message needs and returns the manager's core
    memory, summaries, recalled archive pages and the newest turns it still holds in its working set
    (at most ``token_limit`` tokens, the query's included).

    >>> import asyncio
    >>> from llama_index.core.llms import ChatMessage
    >>> from llama_index.core.memory import Memory
    >>> from sqlalchemy.ext.asyncio import create_async_engine
    >>> from llama_index_nexint import NexintMemoryBlock
    >>> block = NexintMemoryBlock(token_limit=300)  # or NexintMemoryBlock(manager=MemoryManager(...))
    >>> async def chat() -> str:
    ...     queue = create_async_engine("sqlite+aiosqlite://")  # Memory's short-term queue
    ...     memory = Memory.from_defaults(token_limit=200, memory_blocks=[block], async_engine=queue)
    ...     await memory.aput(ChatMessage(role="user", content="My sister Maria lives in Porto."))
    ...     for i in range(60):
    ...         await memory.aput(ChatMessage(role="user", content=f"Chatter about trains, message {i}."))
    ...     await memory.aput(ChatMessage(role="user", content="Where does my sister live?"))
    ...     messages = await memory.aget()
    ...     await queue.dispose()
    ...     return messages[0].content
    >>> "Maria lives in Porto" in asyncio.run(chat())
    True
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    name: str = Field(default="nexint_archive", description="The block's name (its tag in the memory template).")
    manager: MemoryManager = Field(exclude=True, description="The memory manager holding the flushed messages.")
    token_limit: int = Field(gt=0, description="The most tokens the block's content takes.")

    _lock: threading.RLock = PrivateAttr(default_factory=threading.RLock)
    _writer: FrameWriter = PrivateAttr(default_factory=FrameWriter)
    _owned: bool = PrivateAttr(default=False)
    _conversation: Conversation = PrivateAttr()

    def __init__(
        self,
        manager: MemoryManager | None = None,
        *,
        name: str = "nexint_archive",
        description: str | None = "Earlier conversation recalled from nexint's archive.",
        priority: int = 0,
        accept_short_term_memory: bool = True,
        token_limit: int | None = None,
        store: SwapStore | str | os.PathLike[str] | None = None,
        policy: str | EvictionPolicy | None = None,
        namespace: str | None = None,
        **manager_options: Any,
    ) -> None:
        manager, owned, token_limit = open_for_adapter(
            manager,
            token_limit=token_limit,
            store=store,
            policy=policy,
            namespace=namespace,
            options=manager_options,
            adapter="NexintMemoryBlock",
        )
        fields: dict[str, Any] = {
            "name": name,
            "description": description,
            "priority": priority,
            "accept_short_term_memory": accept_short_term_memory,
            "manager": manager,
            "token_limit": token_limit,
        }
        super().__init__(**fields)
        self._owned = owned
        self._conversation = Conversation(manager, marker=META_KEY)

    async def _aget(self, messages: list[ChatMessage] | None = None, **block_kwargs: Any) -> str:
        """Page in for the latest user message (the latest message, if no user spoke) and return what is recalled."""
        messages = messages or []
        latest = next((m for m in reversed(messages) if m.role is MessageRole.USER), messages[-1] if messages else None)
        return await asyncio.to_thread(self.recall, message_text(latest) if latest is not None else "")

    def recall(self, query: str) -> str:
        """What the manager holds for ``query``: core memory, summaries and recalled archive pages (as the
        manager renders them), then the newest turns still in its working set, within ``token_limit``."""
        with self._lock:
            try:
                context = self._conversation.context(query, budget=self.token_limit, system="", page_in=True)
            except PageTooLarge:  # the query alone is over the block's budget: nothing else fits
                return ""
        parts = [context.system] if context.system is not None else []
        recent = context.prompt.section("recent").items
        if recent:  # turns Memory flushed lately: earlier than its own queue, so no message is repeated
            parts.append("\n".join([_EARLIER_HEADER, *(item.text for item in recent)]))
        return "\n\n".join(parts)

    async def _aput(self, messages: list[ChatMessage]) -> None:
        """Write the messages ``Memory`` flushed, in one batch (tool calls with their results in one group)."""
        if messages:
            await asyncio.to_thread(self._write, messages)

    def _write(self, messages: list[ChatMessage]) -> None:
        with self._lock:
            self._conversation.write([self._writer.frame(message) for message in messages])

    def close(self) -> None:
        """Close the manager if this block built it."""
        if self._owned:
            self.manager.close()
