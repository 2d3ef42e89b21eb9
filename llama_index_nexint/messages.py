"""LlamaIndex ``ChatMessage`` <-> nexint frames: the text goes into pages, the structure into page metadata.

A page holds what the model reads of a message: its text blocks, then one line per tool call
(``name({"arg": ...})``), so the token budget counts tool calls too. The rest of the message (role,
``additional_kwargs``, tool-call and other non-text blocks, the length of each text block) is kept,
without its text, in ``page.metadata["llama_index"]``, and a message is rebuilt from its frame's pages.
A message that fits one page (``page_size`` tokens) comes back exactly; a longer one is split at
sentence boundaries and comes back with the whitespace at each cut turned into one space.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from llama_index.core.base.llms.types import ChatMessage, MessageRole, TextBlock, ToolCallBlock
from pydantic import BaseModel

from nexint_core import Frame, Page

__all__ = ["META_KEY", "FrameWriter", "message_text", "to_message", "tool_call_lines"]

META_KEY = "llama_index"
_TOOL_ROLES = (MessageRole.TOOL, MessageRole.FUNCTION)


def _plain(value: Any) -> Any:
    """A JSON-ready view of a tool call given as a dict or a pydantic model."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return value


def _arguments(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _tool_calls(message: ChatMessage) -> list[tuple[str | None, str, str]]:
    """``(call id, tool name, arguments as JSON)`` for each tool call the message makes.

    Tool calls come as ``ToolCallBlock`` blocks or, from some integrations, as
    ``additional_kwargs["tool_calls"]`` (OpenAI's ``{"id", "function": {"name", "arguments"}}`` or
    LlamaIndex's ``ToolSelection``).
    """
    calls: list[tuple[str | None, str, str]] = []
    for block in message.blocks:
        if isinstance(block, ToolCallBlock):
            calls.append((block.tool_call_id, block.tool_name, _arguments(block.tool_kwargs)))
    listed = message.additional_kwargs.get("tool_calls")
    for raw in listed if isinstance(listed, list) else []:
        call = _plain(raw)
        if not isinstance(call, dict):
            continue
        function = call.get("function")
        if isinstance(function, dict):
            calls.append((call.get("id"), str(function.get("name", "")), _arguments(function.get("arguments", ""))))
        elif "tool_name" in call:
            calls.append((call.get("tool_id"), str(call["tool_name"]), _arguments(call.get("tool_kwargs", {}))))
    return calls


def tool_call_lines(message: ChatMessage) -> str:
    """The tool calls of a message as the text a page holds: ``name(arguments)``, one per line."""
    return "\n".join(f"{name}({arguments})" for _, name, arguments in _tool_calls(message))


def _texts(message: ChatMessage) -> list[str]:
    return [block.text for block in message.blocks if isinstance(block, TextBlock)]


def message_text(message: ChatMessage) -> str:
    """What a page holds for a message: its text blocks (joined as ``.content`` joins them), then its tool calls."""
    text = "\n".join(_texts(message))
    calls = tool_call_lines(message)
    if not calls:
        return text
    return f"{text}\n{calls}" if text else calls


def _skeleton(message: ChatMessage) -> dict[str, Any]:
    """The message without its text: what page metadata carries (text blocks keep only their length)."""
    data = message.model_dump(mode="json")
    blocks = [
        {"text_chars": len(block.text)} if isinstance(block, TextBlock) else dumped
        for block, dumped in zip(message.blocks, data["blocks"], strict=True)
    ]
    return {"role": data["role"], "additional_kwargs": data["additional_kwargs"], "blocks": blocks}


def _cut_suffix(text: str, suffix: str) -> str | None:
    """``text`` without ``suffix`` and the separator before it; whitespace may differ (a page cut fell in it)."""
    if text == suffix:
        return ""
    for separator in ("\n", " "):
        if text.endswith(separator + suffix):
            return text[: len(text) - len(separator) - len(suffix)]
    i, j = len(text), len(suffix)
    while j > 0:
        if suffix[j - 1].isspace():
            j -= 1
            continue
        while i > 0 and text[i - 1].isspace():
            i -= 1
        if i == 0 or text[i - 1] != suffix[j - 1]:
            return None
        i, j = i - 1, j - 1
    return text[:i].rstrip()


def _role(role: str) -> MessageRole:
    try:
        return MessageRole(role)
    except ValueError:
        return MessageRole.USER


def to_message(pages: Sequence[Page], text: str | None = None) -> ChatMessage:
    """Rebuild the message one frame's pages (in write order) hold, with ``text`` (an excerpt, say) instead
    of theirs when given; pages written without the adapter become plain text messages of their role
    (``user`` for a role LlamaIndex does not know)."""
    if text is None:
        text = " ".join(page.content for page in pages)  # how the core joins a frame's pages
    skeleton = pages[0].metadata.get(META_KEY)
    if not isinstance(skeleton, dict):
        return ChatMessage(role=_role(pages[0].role), content=text)
    others = [block for block in skeleton["blocks"] if "text_chars" not in block]
    probe = ChatMessage.model_validate({**skeleton, "blocks": others})
    calls = tool_call_lines(probe)
    content = text
    if calls:
        cut = _cut_suffix(text, calls)
        content = cut if cut is not None else text  # None: the calls' text is not there (a partial frame)
    lengths = [block["text_chars"] for block in skeleton["blocks"] if "text_chars" in block]
    pieces = _split_exact(content, lengths)
    blocks: list[Any] = []
    for block in skeleton["blocks"]:
        if "text_chars" not in block:
            blocks.append(block)
        elif pieces:
            blocks.append({"block_type": "text", "text": pieces.pop(0)})
    if not lengths and content:  # text that the skeleton had no block for (should not happen): keep it
        blocks.insert(0, {"block_type": "text", "text": content})
    return ChatMessage.model_validate({**skeleton, "blocks": blocks})


def _split_exact(content: str, lengths: list[int]) -> list[str]:
    """The text blocks back from their lengths; one block with all the text if the lengths no longer fit."""
    if not lengths:
        return []
    if sum(lengths) + len(lengths) - 1 == len(content):
        pieces, start = [], 0
        for length in lengths:
            pieces.append(content[start : start + length])
            start += length + 1
        if "\n".join(pieces) == content:
            return pieces
    return [content]


class FrameWriter:
    """Turns messages into frames; an assistant message that calls tools and the results that answer it
    share one nexint group, so eviction and page-in never separate them."""

    def __init__(self) -> None:
        self._calls: dict[str, str] = {}  # call id -> group, for the open tool-call group
        self._open: str | None = None

    def frame(self, message: ChatMessage) -> Frame:
        """The frame for ``message``, in a tool-call group if it makes or answers tool calls."""
        calls = _tool_calls(message)
        answers = message.additional_kwargs.get("tool_call_id")
        group: str | None
        if calls:
            group = f"tools-{uuid.uuid4().hex[:12]}"
            self._calls = {call_id: group for call_id, _, _ in calls if call_id}
            self._open = group
        elif isinstance(answers, str) and answers in self._calls:
            group = self._calls[answers]
        elif message.role in _TOOL_ROLES and self._open is not None:
            group = self._open
        else:
            group, self._open, self._calls = None, None, {}
        return Frame(message.role.value, message_text(message), group, {META_KEY: _skeleton(message)})
