"""What every adapter shares: LangChain messages <-> nexint frames, and assembled prompts back to messages.

A message becomes one frame. Its role and text are what nexint pages, counts and searches; the message
itself, serialised (``message_to_dict``, without the content when the pages carry it and without the
provider's response bookkeeping), rides along in ``metadata["langchain"]``, so a frame in a prompt comes
back as the real message (an ``AIMessage`` with its ``tool_calls``, a ``ToolMessage`` with its
``tool_call_id``). An assistant tool call and its results share one nexint group.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    message_to_dict,
    messages_from_dict,
)
from langchain_core.utils.function_calling import convert_to_openai_tool
from langgraph.config import get_config

from nexint_core import Frame, InvalidArgument, MemoryManager, NexintError, Page
from nexint_core.conversation import Conversation, TurnContext
from nexint_core.pages import DEFAULT_NAMESPACE

__all__ = [
    "DEFAULT_TOKEN_LIMIT",
    "META_KEY",
    "Bridge",
    "check_messages",
    "frame_of",
    "message_key",
    "message_of",
    "thread_of",
]

DEFAULT_TOKEN_LIMIT = 4096
META_KEY = "langchain"
_ROLES = {"human": "user", "ai": "assistant", "tool": "tool", "system": "system", "function": "tool"}
_DROPPED = ("response_metadata", "usage_metadata")  # provider bookkeeping, not model input
_GROUP_MEMORY = 4096  # tool-call ids remembered to find a result's group (results follow their call closely)


def check_messages(messages: object, where: str) -> None:
    """Raise :class:`InvalidArgument` unless ``messages`` is a sequence of LangChain messages."""
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
        raise InvalidArgument(f"{where} takes a list of LangChain messages, got {type(messages).__name__}")
    for message in messages:
        if not isinstance(message, BaseMessage):
            raise InvalidArgument(f"{where} takes LangChain messages, got {type(message).__name__}: {message!r:.60}")


def schema_tokens(tools: Sequence[Any], count: Callable[[str], int]) -> int:
    """Tokens of the tool schemas a model is bound to (each as the JSON of its OpenAI function schema)."""
    total = 0
    for tool in tools:
        schema = tool if isinstance(tool, dict) else convert_to_openai_tool(tool)
        total += count(json.dumps(schema, ensure_ascii=False, sort_keys=True, default=str))
    return total


def thread_of(runtime: Any) -> str:
    """The thread a graph run serves: ``configurable.thread_id`` of its config, else a ``thread_id`` in the
    runtime context (a mapping or an object); ``default`` outside a thread."""
    try:
        config = get_config()
    except RuntimeError:  # not inside a runnable
        config = {}
    thread = (config.get("configurable") or {}).get("thread_id")
    if thread is None:
        context = getattr(runtime, "context", None)
        thread = context.get("thread_id") if isinstance(context, Mapping) else getattr(context, "thread_id", None)
    return DEFAULT_NAMESPACE if thread is None else str(thread)


def role_of(message: BaseMessage) -> str:
    """The nexint role of a message: user, assistant, tool, system, or a chat message's own role."""
    if isinstance(message, ChatMessage):
        return message.role or "user"
    kind = message.type.removesuffix("MessageChunk").lower()
    return _ROLES.get(kind, kind)


def _call_text(name: object, args: object) -> str:
    rendered = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False, sort_keys=True, default=str)
    return f"{name or ''}({rendered or ''})"


def _text_of(message: BaseMessage) -> tuple[str, bool]:
    """The text nexint pages (and counts), and whether the message's content can be rebuilt from it."""
    calls = [*message.tool_calls, *message.invalid_tool_calls] if isinstance(message, AIMessage) else []
    if isinstance(message.content, str) and not calls:
        return message.content, True
    parts = [message.text, *(_call_text(call.get("name"), call.get("args")) for call in calls)]
    return "\n".join(part for part in parts if part), False


def message_key(message: BaseMessage) -> str:
    """What makes a message the same message when it is seen again: its id, else its tool call, else its data."""
    if message.id:
        return message.id
    if isinstance(message, ToolMessage):
        return f"tool-result:{message.tool_call_id}"
    digest = hashlib.sha256(json.dumps(message_to_dict(message), sort_keys=True, default=str).encode()).hexdigest()
    return f"sha256:{digest[:32]}"


def frame_of(message: BaseMessage, *, group: str | None = None, key: str | None = None) -> Frame:
    """One message as one nexint frame, the serialised message in ``metadata["langchain"]``."""
    text, restorable = _text_of(message)
    serialised = message_to_dict(message)
    data = {
        name: value
        for name, value in serialised["data"].items()
        if name not in _DROPPED and value is not None and value != {} and value != []
    }
    if restorable:
        data.pop("content", None)  # the pages carry it
    meta: dict[str, Any] = {"type": serialised["type"], "data": data}
    if key is not None:
        meta["key"] = key
    return Frame(role_of(message), text, group, {META_KEY: meta})


def message_of(pages: Sequence[Page], text: str | None = None) -> BaseMessage:
    """The message one frame's pages came from (a frame nexint wrote itself becomes a plain message), with
    ``text`` (an excerpt, say) instead of the pages' own when given."""
    text = " ".join(page.content for page in pages) if text is None else text
    meta = pages[0].metadata.get(META_KEY)
    if isinstance(meta, dict) and isinstance(meta.get("data"), dict):
        data = dict(meta["data"])
        data.setdefault("content", text)
        return messages_from_dict([{"type": meta["type"], "data": data}])[0]
    role = pages[0].role
    if role == "user":
        return HumanMessage(text)
    if role == "assistant":
        return AIMessage(text)
    if role == "system":
        return SystemMessage(text)
    return HumanMessage(f"[{role}] {text}")  # a tool result without its call cannot be a ToolMessage


class Bridge:
    """One manager as an adapter sees it: writes messages (once each, if asked) and reads prompts as messages.

    Calls that touch the manager hold :attr:`lock`: the manager is not thread-safe, and LangChain runs
    the async variants of classic interfaces in worker threads.
    """

    def __init__(self, manager: MemoryManager, *, owned: bool) -> None:
        self.manager = manager
        self.conversation = Conversation(manager, marker=META_KEY)
        self.owned = owned
        self.lock = threading.RLock()
        self._written: set[str] = set()
        self._groups: dict[str, str] = {}  # tool call id -> nexint group of the call and its results
        self._last_user: Page | None = None  # first page of the newest user frame
        self._scan()

    def _scan(self) -> None:
        """Learn from the store what earlier runs wrote: message keys, tool-call groups, the last user turn."""
        manager = self.manager
        for page in manager.page_table:
            if page.namespace != manager.namespace or page.part:
                continue  # one look per frame, at its first page
            if page.role == "user":
                self._last_user = page
            meta = page.metadata.get(META_KEY)
            if not isinstance(meta, dict):
                continue
            if isinstance(meta.get("key"), str):
                self._written.add(meta["key"])
            if page.group_id is not None:
                data = meta.get("data", {})
                for call in [*data.get("tool_calls", []), *data.get("invalid_tool_calls", [])]:
                    if isinstance(call, dict) and call.get("id"):
                        self._remember_group(call["id"], page.group_id)

    def _remember_group(self, call_id: str, group: str) -> None:
        self._groups[call_id] = group
        if len(self._groups) > _GROUP_MEMORY:
            del self._groups[next(iter(self._groups))]

    def _group_of(self, message: BaseMessage) -> str | None:
        if isinstance(message, AIMessage) and (message.tool_calls or message.invalid_tool_calls):
            calls = [*message.tool_calls, *message.invalid_tool_calls]
            ids = [call_id for call in calls if (call_id := call.get("id"))]
            group = "lc:" + (message.id or (ids[0] if ids else uuid.uuid4().hex))  # some servers number calls per reply
            for call_id in ids:
                self._remember_group(call_id, group)
            return group
        if isinstance(message, ToolMessage):
            return self._groups.get(message.tool_call_id, "lc:" + message.tool_call_id)
        return None

    def written(self, message: BaseMessage) -> bool:
        """Whether this message was written already (by this adapter, or one that used the store before)."""
        return message_key(message) in self._written

    def _frames(self, messages: Iterable[BaseMessage], *, once: bool) -> tuple[list[Frame], list[str]]:
        """The frames to write for ``messages`` and their keys; with ``once``, those already written are skipped."""
        frames: list[Frame] = []
        keys: list[str] = []
        for message in messages:
            key = message_key(message) if once else None
            if key is not None:
                if key in self._written or key in keys:
                    continue
                keys.append(key)
            frames.append(frame_of(message, group=self._group_of(message), key=key))
        return frames, keys

    def write(self, messages: Iterable[BaseMessage], *, once: bool = True) -> None:
        """Write messages in order, in one batch; with ``once``, skip those already written."""
        frames, keys = self._frames(messages, once=once)
        if not frames:
            return
        table = self.manager.page_table
        before = len(table)
        try:
            written = self.conversation.write(frames)
        except NexintError:  # write_many writes the whole batch or nothing: remember whatever is in the table
            for page in list(table)[before:]:
                meta = page.metadata.get(META_KEY)
                if isinstance(meta, dict) and isinstance(meta.get("key"), str):
                    self._written.add(meta["key"])
            raise
        self._written.update(keys)
        for frame, ids in zip(frames, written, strict=True):
            if frame.role == "user" and ids:
                self._last_user = table.get(ids[0])

    def begin(self, message: BaseMessage, *, system: str | None = None, budget: int | None = None) -> TurnContext:
        """A new user message: the context assembled for it (paging in), then the message written."""
        key = message_key(message)
        context, ids = self.conversation.begin(frame_of(message, key=key), system=system, budget=budget)
        self._written.add(key)
        if ids:
            self._last_user = self.manager.page_table.get(ids[0])
        return context

    def last_user_text(self) -> str:
        """The newest user turn's text (its first page), the default query of a history."""
        if self._last_user is None or self._last_user.id not in self.manager:
            return ""
        return self.manager.get(self._last_user.id).content

    def context(
        self, query: str, *, system: str | None = None, page_in: bool = False, budget: int | None = None
    ) -> TurnContext:
        """The context for ``query`` as memory stands (no page-in unless asked)."""
        return self.conversation.context(query, system=system, page_in=page_in, budget=budget)

    @staticmethod
    def messages_of(context: TurnContext) -> tuple[SystemMessage | None, list[tuple[str, BaseMessage]]]:
        """A context as a system message and its recent turns as messages, each with its key; the query
        is left to the caller."""
        system = SystemMessage(context.system) if context.system is not None else None
        recent: list[tuple[str, BaseMessage]] = []
        for frame in context.recent:
            meta = frame.pages[0].metadata.get(META_KEY)
            key = meta.get("key") if isinstance(meta, dict) else None
            recent.append((key if isinstance(key, str) else frame.pages[0].id, message_of(frame.pages, frame.text)))
        return system, recent

    def clear(self) -> None:
        """Forget the conversation (see :meth:`~nexint_core.conversation.Conversation.clear`)."""
        self.conversation.clear()
        self._written.clear()
        self._groups.clear()
        self._last_user = None

    def close(self) -> None:
        """Close the manager if the adapter opened it."""
        if self.owned:
            self.manager.close()
