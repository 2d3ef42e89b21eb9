"""``NexintMemory``: a LlamaIndex ``BaseMemory`` whose history is paged by a nexint ``MemoryManager``."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.llms.llm import LLM
from llama_index.core.memory.types import BaseMemory
from pydantic import ConfigDict, Field, PrivateAttr

from llama_index_nexint._options import open_for_adapter
from llama_index_nexint.messages import META_KEY, FrameWriter, message_text, to_message
from nexint_core import EvictionPolicy, Frame, MemoryManager, PageTooLarge, SwapStore
from nexint_core.conversation import Conversation, TurnContext
from nexint_core.manager import session_namespace

__all__ = ["NexintMemory"]

_TOKEN_LIMIT_RATIO = 0.75  # of the LLM's context window, as ChatMemoryBuffer.from_defaults(llm=...) takes


@dataclass(slots=True)
class _Pending:
    """The latest message, a user's: the query of the next ``get()``, which writes it once the prompt is
    assembled (the core's order: a query is assembled before it joins memory, so it never recalls itself)."""

    message: ChatMessage
    frame: Frame
    page_ids: frozenset[str] = frozenset()
    written: bool = False


class NexintMemory(BaseMemory):
    """Chat memory for LlamaIndex engines and agents, kept by a nexint :class:`~nexint_core.MemoryManager`.

    Drop-in for ``ChatMemoryBuffer`` / ``Memory``: ``get()`` pages in what the latest user message
    needs and returns at most ``token_limit`` tokens: one system message (core memory, summaries,
    and archive pages recalled for the query), then the recent turns as the messages they were
    (tool calls and their results included), ending with the latest user message.

    >>> from llama_index.core.chat_engine import SimpleChatEngine
    >>> from llama_index.core.llms import MockLLM
    >>> from llama_index_nexint import NexintMemory
    >>> memory = NexintMemory.from_defaults(token_limit=400)  # store="memory/" to persist
    >>> engine = SimpleChatEngine.from_defaults(llm=MockLLM(max_tokens=4), memory=memory)
    >>> engine.chat("My locker code at the gym is 4512.").response
    'text text text text'
    >>> for i in range(40):
    ...     _ = engine.chat(f"Small talk about trains and the weather, message {i}.")
    >>> messages = memory.get("What is my locker code?")
    >>> messages[0].role.value, "4512" in messages[0].content
    ('system', True)
    >>> len(memory.get_all())
    82
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    manager: MemoryManager = Field(exclude=True, description="The memory manager that pages the history.")
    token_limit: int = Field(gt=0, description="The most tokens get() returns.")

    _lock: threading.RLock = PrivateAttr(default_factory=threading.RLock)
    _writer: FrameWriter = PrivateAttr(default_factory=FrameWriter)
    _pending: _Pending | None = PrivateAttr(default=None)
    _owned: bool = PrivateAttr(default=False)
    _conversation: Conversation = PrivateAttr()

    def __init__(
        self,
        manager: MemoryManager | None = None,
        *,
        token_limit: int | None = None,
        store: SwapStore | str | os.PathLike[str] | None = None,
        policy: str | EvictionPolicy | None = None,
        namespace: str | None = None,
        session_id: str | None = None,
        **manager_options: Any,
    ) -> None:
        manager, owned, token_limit = open_for_adapter(
            manager,
            token_limit=token_limit,
            store=store,
            policy=policy,
            namespace=session_namespace(session_id, namespace, "NexintMemory"),
            options=manager_options,
            adapter="NexintMemory",
        )
        fields: dict[str, Any] = {
            "manager": manager,
            "token_limit": token_limit,
        }
        super().__init__(**fields)
        self._owned = owned
        self._conversation = Conversation(manager, marker=META_KEY)

    @classmethod
    def class_name(cls) -> str:
        return "NexintMemory"

    @classmethod
    def from_defaults(
        cls,
        manager: MemoryManager | None = None,
        token_limit: int | None = None,
        store: SwapStore | str | os.PathLike[str] | None = None,
        policy: str | EvictionPolicy | None = None,
        namespace: str | None = None,
        *,
        session_id: str | None = None,
        chat_history: Sequence[ChatMessage] | None = None,
        llm: LLM | None = None,
        **manager_options: Any,
    ) -> NexintMemory:
        """A memory on ``manager``, or on a new manager of ``token_limit`` tokens (default: three quarters
        of ``llm``'s context window, else 3000) with ``store``, ``policy``, ``namespace`` and any other
        :class:`~nexint_core.MemoryManager` option (``record=`` records a session). ``session_id`` names the
        memory's namespace (as ``Memory.from_defaults(session_id=...)`` keys LlamaIndex's own), so sessions
        sharing a store stay apart; without it (and without ``namespace=``) it is ``default``. A non-empty
        ``chat_history`` replaces the stored history, as ``set()`` does."""
        if token_limit is None and llm is not None:
            token_limit = int(llm.metadata.context_window * _TOKEN_LIMIT_RATIO)
        memory = cls(
            manager,
            token_limit=token_limit,
            store=store,
            policy=policy,
            namespace=namespace,
            session_id=session_id,
            **manager_options,
        )
        if chat_history:
            memory.set(list(chat_history))
        return memory

    @property
    def tokenizer_fn(self) -> Callable[[str], list[int]]:
        """The manager's tokenizer (engines use it to count their prefix messages into ``initial_token_count``)."""
        return self.manager.tokenizer.encode

    # -- reads ---------------------------------------------------------------------------------

    def get(self, input: str | ChatMessage | None = None, **kwargs: Any) -> list[ChatMessage]:
        """The history to send with ``input`` (default: the latest user message), within ``token_limit``
        minus ``initial_token_count`` tokens, the query's own tokens included.

        ``input`` is the page-in query. When it is the latest message put (a user's), that message
        ends the list; any other ``input`` is left for the caller to send.
        """
        initial = int(kwargs.get("initial_token_count") or 0)
        budget = self.token_limit - initial
        if budget < 1:
            raise ValueError(f"initial token count ({initial}) exceeds the token limit ({self.token_limit})")
        with self._lock:
            pending = self._pending
            if input is None:
                query = pending.frame.text if pending is not None else ""
            else:
                query = input if isinstance(input, str) else message_text(input)
            if pending is None or pending.frame.text != query:
                self._write_pending()
                pending = None
            context: TurnContext | None = None
            try:
                if pending is not None and not pending.written:  # a new user message: its turn begins
                    context, ids = self._conversation.begin(pending.frame, budget=budget)
                    pending.written, pending.page_ids = True, frozenset(ids)
                else:  # a later get() for the same message (an agent's, after its tool calls) keeps its recalls
                    context = self._conversation.context(query, budget=budget, page_in=pending is None)
            except PageTooLarge:  # the query alone is over budget: hand it on, as ChatMemoryBuffer does
                context = None
            self._write_pending()
            if context is None:
                return [pending.message.model_copy(deep=True)] if pending is not None else []
            return self._messages(context, pending)

    def _messages(self, context: TurnContext, last: _Pending | None) -> list[ChatMessage]:
        messages: list[ChatMessage] = []
        if context.system is not None:
            messages.append(ChatMessage(role=MessageRole.SYSTEM, content=context.system))
        skip = last.page_ids if last is not None else frozenset()
        for frame in context.recent:
            if not any(page.id in skip for page in frame.pages):
                messages.append(to_message(frame.pages, frame.text))
        if last is not None:  # its tokens are the query's, which the assembled prompt counted
            message = last.message.model_copy(deep=True)
            if context.query != last.frame.text:  # too long for the budget: the excerpt the prompt counted
                message = ChatMessage(
                    role=message.role, content=context.query, additional_kwargs=message.additional_kwargs
                )
            messages.append(message)
        return messages

    def get_all(self) -> list[ChatMessage]:
        """Every message stored in this memory's namespace, in the order written (summaries left out)."""
        with self._lock:
            self._write_pending()
            frames = self._conversation.history()
        return [to_message(frame) for frame in frames]

    # -- writes --------------------------------------------------------------------------------

    def put(self, message: ChatMessage) -> None:
        """Write one message (a tool call or result joins its call's group); a user's message is written
        by the ``get()`` that takes it as the query, or by the next write."""
        self.put_messages([message])

    def put_messages(self, messages: list[ChatMessage]) -> None:
        """Write messages in order, stored in one batch (a final user message as :meth:`put` says)."""
        if not messages:
            return
        with self._lock:
            self._write_pending()
            frames = [self._writer.frame(message) for message in messages]
            last = messages[-1]
            held = frames.pop() if last.role is MessageRole.USER and frames[-1].group_id is None else None
            self._conversation.write(frames)
            self._pending = _Pending(last.model_copy(deep=True), held) if held is not None else None

    def _write_pending(self) -> None:
        pending = self._pending
        if pending is not None and not pending.written:
            pending.written = True  # first: a write that fails (the manager says why) is not tried again
            pending.page_ids = frozenset(self._conversation.write([pending.frame])[0])

    def set(self, messages: list[ChatMessage]) -> None:
        """Replace the stored history with ``messages``."""
        with self._lock:
            self.reset()
            self.put_messages(messages)

    def reset(self) -> None:
        """Forget the conversation (see :meth:`~nexint_core.conversation.Conversation.clear`): every message
        this adapter wrote to the namespace, and the summaries made of them. Pages written to the manager
        by other means (pinned rules, say) stay."""
        with self._lock:
            self._conversation.clear()
            self._writer = FrameWriter()
            self._pending = None  # not written yet: dropped with the rest

    # -- lifecycle -----------------------------------------------------------------------------

    def flush(self) -> None:
        """Write a user message still waiting for its ``get()``, and persist the manager's buffered events."""
        with self._lock:
            self._write_pending()
            self.manager.flush()

    def close(self) -> None:
        """Flush; then close the manager if this memory built it (a manager passed in is left open)."""
        self.flush()
        if self._owned:
            self.manager.close()

    def __enter__(self) -> NexintMemory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
