"""The LlamaIndex methods of ``memos bench chat``: a ``SimpleChatEngine`` per chat, with

- ``nexint-llamaindex``: ``NexintMemory.from_defaults(token_limit=B)``;
- ``chat-memory-buffer``: ``ChatMemoryBuffer.from_defaults(token_limit=B)`` counting with the same tokenizer
  (its count of a message list cached per message: :class:`CountingChatMemoryBuffer`).

A turn without a tool call is ``engine.chat(text)``. A turn with one runs on the same memory and model as
an agent whose every step goes through its memory: the user message is put, the history is got (the
engine's system prompt counted in, as the engine counts it) and the model called; the tool call and its
result are put with one ``put_messages``, the history is got again and the model called again; the answer
is put. (LlamaIndex's ``FunctionAgent`` keeps the current run's tool calls and results in a scratchpad
beside the memory until the run ends, so a large result comes on top of any memory's budget there.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from llama_index.core.base.llms.types import ChatMessage, ChatResponse, MessageRole, TextBlock, ToolCallBlock
from llama_index.core.chat_engine import SimpleChatEngine
from llama_index.core.llms import MockLLM
from llama_index.core.llms.callbacks import llm_chat_callback
from llama_index.core.memory import ChatMemoryBuffer
from llama_index.core.memory.types import BaseMemory
from llama_index.core.tools import FunctionTool
from pydantic import PrivateAttr

from nexint_bench._chat_drivers import SYSTEM_PROMPT, Recorder
from nexint_bench.chat_metrics import Msg, arguments_json
from nexint_bench.chat_script import Chat, ChatTurn
from nexint_core.tokens import get_tokenizer

__all__ = ["CountingChatMemoryBuffer", "RecordingLLM", "open_driver", "to_msgs"]


def to_msg(message: ChatMessage) -> Msg:
    """A LlamaIndex message as the framework-neutral record (tool calls from ``ToolCallBlock`` blocks)."""
    text = "\n".join(block.text for block in message.blocks if isinstance(block, TextBlock))
    calls = tuple(
        (block.tool_call_id or "", block.tool_name, arguments_json(block.tool_kwargs))
        for block in message.blocks
        if isinstance(block, ToolCallBlock)
    )
    answers = message.additional_kwargs.get("tool_call_id")
    role = message.role.value
    return Msg(role, text, calls, answers if role == "tool" and isinstance(answers, str) else None)


def to_msgs(messages: Sequence[Any]) -> list[Msg]:
    """A recorded LlamaIndex input as neutral records."""
    return [to_msg(message) for message in messages]


class RecordingLLM(MockLLM):
    """``MockLLM`` as a chat model that replies with the turn's scripted messages and records every input."""

    _replies: Iterator[ChatMessage] = PrivateAttr(default_factory=lambda: iter(()))
    _recorder: Recorder | None = PrivateAttr(default=None)

    def __init__(self) -> None:
        super().__init__(is_chat_model=True)

    def script(self, replies: Sequence[ChatMessage], recorder: Recorder) -> None:
        """Replies for the next calls, in order, and where to record their inputs."""
        self._replies = iter(replies)
        self._recorder = recorder

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        if self._recorder is not None:
            self._recorder.record(messages, to_msgs)  # lists of fresh or stored messages, never changed later
        return ChatResponse(message=next(self._replies))


def replies(turn: ChatTurn) -> list[ChatMessage]:
    """What the model answers in ``turn``: its tool call (if any), then its reply."""
    scripted = []
    if turn.call is not None:
        call = ToolCallBlock(tool_call_id=turn.call.call_id, tool_name=turn.call.name, tool_kwargs=turn.call.args)
        scripted.append(ChatMessage(role=MessageRole.ASSISTANT, blocks=[TextBlock(text=turn.call_text), call]))
    scripted.append(ChatMessage(role=MessageRole.ASSISTANT, content=turn.reply))
    return scripted


def make_tools(results: dict[tuple[str, str], str]) -> dict[str, FunctionTool]:
    """The chats' tools, by name: each returns the scripted result for its argument."""

    def fetch_page(url: str) -> str:
        """Fetch a web page and return its text."""
        return results[("fetch_page", url)]

    def list_files(path: str) -> str:
        """List the files in a folder."""
        return results[("list_files", path)]

    def read_file(path: str) -> str:
        """Read a text file."""
        return results[("read_file", path)]

    return {fn.__name__: FunctionTool.from_defaults(fn) for fn in (fetch_page, list_files, read_file)}


class CountingChatMemoryBuffer(ChatMemoryBuffer):
    """``ChatMemoryBuffer`` that counts a message list from cached per-message counts, instead of encoding
    the joined history again for every message it drops (its own count takes hours over a 300-turn chat).

    The count is the same number as its own, ``len(tokenizer_fn(" ".join(str(m.content) for m in messages)))``:
    the tokenizer's pre-split never merges a space-led word into the text before it, so the joined
    text's tokens are the first message's plus each later message's with its leading space (a test
    checks this on generated chats). ``get()`` asks for ever shorter suffixes of the history; the sums
    from each message to the end are made once per history. Which messages it keeps is unchanged.
    """

    _counts: dict[str, tuple[int, int]] = PrivateAttr(default_factory=dict)
    _tails: dict[int, int] = PrivateAttr(default_factory=dict)  # id(message) -> later messages' tokens
    _end: int | None = PrivateAttr(default=None)  # id of the last message the sums run to

    def _count(self, text: str) -> tuple[int, int]:
        counts = self._counts.get(text)
        if counts is None:
            counts = self._counts[text] = (len(self.tokenizer_fn(text)), len(self.tokenizer_fn(" " + text)))
        return counts

    def _token_count_for_messages(self, messages: list[ChatMessage]) -> int:
        if not messages:
            return 0
        if id(messages[-1]) != self._end or id(messages[0]) not in self._tails:
            self._end, self._tails, after = id(messages[-1]), {}, 0
            for message in reversed(messages):
                self._tails[id(message)] = after
                after += self._count(str(message.content))[1]
        return self._count(str(messages[0].content))[0] + self._tails[id(messages[0])]


class EngineDriver:
    """A ``SimpleChatEngine`` and its memory per chat, one recording LLM for all."""

    def __init__(
        self, method: str, budget: int, chats: Sequence[Chat], results: dict[tuple[str, str], str], recorder: Recorder
    ) -> None:
        self.tools = make_tools(results)
        self.recorder = recorder
        self.llm = RecordingLLM()
        self.encode = get_tokenizer(None).encode
        self.engines: dict[str, tuple[SimpleChatEngine, BaseMemory]] = {}
        self.closers: list[Callable[[], None]] = []
        for chat in chats:
            memory: BaseMemory
            if method == "nexint-llamaindex":
                from llama_index_nexint import NexintMemory

                nexint = NexintMemory.from_defaults(token_limit=budget)
                self.closers.append(nexint.close)
                memory = nexint
            else:
                memory = CountingChatMemoryBuffer.from_defaults(token_limit=budget, tokenizer_fn=self.encode)
            engine = SimpleChatEngine.from_defaults(llm=self.llm, memory=memory, system_prompt=SYSTEM_PROMPT)
            self.engines[chat.chat_id] = engine, memory

    def turn(self, chat: Chat, turn: ChatTurn) -> None:
        engine, memory = self.engines[chat.chat_id]
        scripted = replies(turn)
        self.llm.script(scripted, self.recorder)
        if turn.call is None:
            engine.chat(turn.user)
            return
        memory.put(ChatMessage(role=MessageRole.USER, content=turn.user))
        prefix = [ChatMessage(role=MessageRole.SYSTEM, content=SYSTEM_PROMPT)]
        history = memory.get(initial_token_count=len(self.encode(SYSTEM_PROMPT)))
        call = self.llm.chat([*prefix, *history]).message
        output = self.tools[turn.call.name].call(**turn.call.args)
        result = ChatMessage(
            role=MessageRole.TOOL, content=str(output.content), additional_kwargs={"tool_call_id": turn.call.call_id}
        )
        memory.put_messages([call, result])
        history = memory.get(initial_token_count=len(self.encode(SYSTEM_PROMPT)))
        answer = self.llm.chat([*prefix, *history]).message
        memory.put(answer)

    def close(self) -> None:
        for close in self.closers:
            close()
        self.closers.clear()
        self.engines.clear()


def open_driver(
    method: str, budget: int, chats: Sequence[Chat], results: dict[tuple[str, str], str], recorder: Recorder
) -> EngineDriver:
    """The driver of a LlamaIndex method."""
    if method not in ("nexint-llamaindex", "chat-memory-buffer"):
        raise ValueError(f"not a LlamaIndex method: {method}")
    return EngineDriver(method, budget, chats, results, recorder)
