"""The LangChain methods of ``memos bench chat``.

- ``nexint-langchain``: ``create_agent(..., middleware=[NexintMiddleware(token_limit=B)])``;
- ``trim-messages``: the same agent with a middleware that sends the model
  ``trim_messages([system, *history], max_tokens=B, strategy="last", start_on="human", include_system=True)``;
- ``summarization``: the same agent with ``SummarizationMiddleware`` (a fake summarizer that writes a
  fixed summary, trigger at ``B`` minus the system prompt's tokens, keep half of that);
- ``token-buffer``: LangChain classic, an ``AgentExecutor`` over ``create_tool_calling_agent`` with a
  ``ConversationTokenBufferMemory(max_token_limit=B)`` per chat (the memory keeps user and final
  assistant messages; tool calls live in the executor's scratchpad for the turn only).

The agents keep their state in an ``InMemorySaver`` checkpointer, one thread per chat; the chats of a
group share one agent, as threads of one app do.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, cast

from langchain.agents import create_agent
from langchain.agents.middleware import AgentMiddleware, AgentState, ModelRequest, ModelResponse
from langchain.agents.middleware.summarization import SummarizationMiddleware
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    AnyMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    trim_messages,
)
from langchain_core.messages.tool import ToolCallChunk, tool_call_chunk
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.tools import BaseTool, tool
from langgraph.checkpoint.memory import InMemorySaver
from pydantic import PrivateAttr

from nexint_bench._chat_drivers import SYSTEM_PROMPT, Recorder
from nexint_bench.chat_metrics import Count, Msg, arguments_json, message_tokens
from nexint_bench.chat_script import Chat, ChatTurn

__all__ = ["RecordingChatModel", "make_tools", "open_driver", "to_msgs"]

SUMMARY = "Summary of the earlier conversation: small talk, some tool results, and a few personal details."
_ROLES = {"system": "system", "human": "user", "ai": "assistant", "tool": "tool"}


def to_msg(message: BaseMessage) -> Msg:
    """A LangChain message as the framework-neutral record."""
    if isinstance(message, ChatMessage):
        role = message.role
    else:
        role = _ROLES.get(message.type.removesuffix("MessageChunk").lower(), message.type)
    if isinstance(message, AIMessage):
        calls = tuple((call.get("id") or "", call["name"], arguments_json(call["args"])) for call in message.tool_calls)
        return Msg(role, message.text, calls)
    if isinstance(message, ToolMessage):
        return Msg(role, message.text, call_id=message.tool_call_id)
    return Msg(role, message.text)


def to_msgs(messages: Sequence[Any]) -> list[Msg]:
    """A recorded LangChain input as neutral records."""
    return [to_msg(message) for message in messages]


class RecordingChatModel(GenericFakeChatModel):
    """``GenericFakeChatModel`` that accepts tools, replays the replies scripted for the turn, and records
    every input it receives."""

    _recorder: Recorder | None = PrivateAttr(default=None)

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> RecordingChatModel:
        return self  # the script decides when a tool is called

    def script(self, replies: Sequence[AIMessage], recorder: Recorder) -> None:
        """Replies for the next calls, in order, and where to record their inputs."""
        self.messages = iter(replies)
        self._recorder = recorder

    def _generate(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        if self._recorder is not None:
            self._recorder.record(messages, to_msgs)
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)

    def _stream(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        """The scripted reply as one chunk, tool calls included (the parent's stream drops them, and the
        classic ``AgentExecutor`` streams its model)."""
        reply = self._generate(messages, stop=stop, run_manager=run_manager, **kwargs).generations[0].message
        calls: list[ToolCallChunk] = [
            tool_call_chunk(name=call["name"], args=json.dumps(call["args"]), id=call["id"], index=number)
            for number, call in enumerate(reply.tool_calls if isinstance(reply, AIMessage) else [])
        ]
        chunk = AIMessageChunk(content=reply.content, id=reply.id, tool_call_chunks=calls, chunk_position="last")
        yield ChatGenerationChunk(message=chunk)


def replies(turn: ChatTurn) -> list[AIMessage]:
    """What the model answers in ``turn``: its tool call (if any), then its reply; fresh messages each time."""
    scripted = []
    if turn.call is not None:
        call = {"name": turn.call.name, "args": turn.call.args, "id": turn.call.call_id, "type": "tool_call"}
        scripted.append(AIMessage(turn.call_text, tool_calls=[call]))
    scripted.append(AIMessage(turn.reply))
    return scripted


def make_tools(results: dict[tuple[str, str], str]) -> list[BaseTool]:
    """The chats' tools: each returns the scripted result for its argument."""

    @tool
    def fetch_page(url: str) -> str:
        """Fetch a web page and return its text."""
        return results[("fetch_page", url)]

    @tool
    def list_files(path: str) -> str:
        """List the files in a folder."""
        return results[("list_files", path)]

    @tool
    def read_file(path: str) -> str:
        """Read a text file."""
        return results[("read_file", path)]

    return [fetch_page, list_files, read_file]


def _counter(count: Count) -> Callable[[Iterable[Any]], int]:
    """A LangChain ``token_counter``: the benchmark's own count of messages (text plus tool calls)."""

    def counter(messages: Iterable[Any]) -> int:
        return sum(message_tokens(to_msg(message), count) for message in messages)

    return counter


class TrimMiddleware(AgentMiddleware[AgentState[Any], Any, Any]):
    """Sends the model ``trim_messages`` of the system prompt and the whole history, as apps do each call."""

    def __init__(self, budget: int, count: Count) -> None:
        super().__init__()
        self.budget = budget
        self.counter = _counter(count)

    def wrap_model_call(
        self, request: ModelRequest[Any], handler: Callable[[ModelRequest[Any]], ModelResponse[Any]]
    ) -> ModelResponse[Any]:
        system = request.system_message
        whole: list[BaseMessage] = [*([system] if system is not None else []), *request.messages]
        kept = trim_messages(
            whole,
            max_tokens=self.budget,
            strategy="last",
            token_counter=self.counter,
            start_on="human",
            include_system=True,
        )
        if kept and isinstance(kept[0], SystemMessage):
            system, kept = kept[0], kept[1:]
        else:
            system = None
        return handler(request.override(messages=cast("list[AnyMessage]", kept), system_message=system))


class FakeSummarizer(GenericFakeChatModel):
    """A summarizer chat model whose summary is always :data:`SUMMARY`."""

    calls: int = 0

    def _generate(
        self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        self.calls += 1
        self.messages = iter([AIMessage(SUMMARY)])
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)


class AgentDriver:
    """A ``create_agent`` agent with one middleware, a checkpointer, and a thread per chat."""

    def __init__(
        self,
        middleware: AgentMiddleware[Any, Any, Any],
        tools: list[BaseTool],
        recorder: Recorder,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.model = RecordingChatModel(messages=iter(()))
        self.on_close = on_close
        self.recorder = recorder
        self.agent = create_agent(
            self.model,
            tools=tools,
            middleware=[middleware],
            checkpointer=InMemorySaver(),
            system_prompt=SYSTEM_PROMPT,
        )

    def turn(self, chat: Chat, turn: ChatTurn) -> None:
        self.model.script(replies(turn), self.recorder)
        config: Any = {"configurable": {"thread_id": chat.chat_id}}
        self.agent.invoke({"messages": [HumanMessage(turn.user)]}, config)

    def close(self) -> None:
        if self.on_close is not None:
            self.on_close()


class TokenBufferDriver:
    """LangChain classic: ``AgentExecutor`` with ``ConversationTokenBufferMemory``, one executor per chat."""

    def __init__(self, budget: int, chats: Sequence[Chat], tools: list[BaseTool], recorder: Recorder) -> None:
        from langchain_classic.agents import AgentExecutor, create_tool_calling_agent
        from langchain_classic.memory import ConversationTokenBufferMemory
        from langchain_core.language_models.fake_chat_models import FakeListChatModel
        from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder

        from nexint_core.tokens import get_tokenizer

        self.recorder = recorder
        self.model = RecordingChatModel(messages=iter(()))
        prompt = ChatPromptTemplate.from_messages(
            [
                ("system", SYSTEM_PROMPT),
                MessagesPlaceholder("chat_history"),
                ("human", "{input}"),
                MessagesPlaceholder("agent_scratchpad"),
            ]
        )
        counting = FakeListChatModel(responses=["-"], custom_get_token_ids=get_tokenizer(None).encode)
        self.executors: dict[str, Any] = {}
        for chat in chats:
            with warnings.catch_warnings():  # deprecated in favour of create_agent; measured as apps still use it
                warnings.simplefilter("ignore")
                memory = ConversationTokenBufferMemory(
                    llm=counting,
                    max_token_limit=budget,
                    memory_key="chat_history",
                    return_messages=True,
                    input_key="input",
                    output_key="output",
                )
                agent = create_tool_calling_agent(self.model, tools, prompt)
                self.executors[chat.chat_id] = AgentExecutor(agent=agent, tools=tools, memory=memory)

    def turn(self, chat: Chat, turn: ChatTurn) -> None:
        executor = self.executors[chat.chat_id]
        self.model.script(replies(turn), self.recorder)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            executor.invoke({"input": turn.user})

    def close(self) -> None:
        self.executors.clear()


def open_driver(
    method: str,
    budget: int,
    chats: Sequence[Chat],
    results: dict[tuple[str, str], str],
    recorder: Recorder,
    count: Count,
) -> AgentDriver | TokenBufferDriver:
    """The driver of a LangChain method."""
    tools = make_tools(results)
    if method == "nexint-langchain":
        from langchain_nexint import NexintMiddleware

        middleware = NexintMiddleware(token_limit=budget)
        return AgentDriver(middleware, tools, recorder, on_close=middleware.close)
    if method == "trim-messages":
        return AgentDriver(TrimMiddleware(budget, count), tools, recorder)
    if method == "summarization":
        room = max(1, budget - count(SYSTEM_PROMPT))
        summarizer = SummarizationMiddleware(
            FakeSummarizer(messages=iter(())),
            trigger=("tokens", room),
            keep=("tokens", max(1, room // 2)),
            token_counter=_counter(count),
        )
        return AgentDriver(summarizer, tools, recorder)
    if method == "token-buffer":
        return TokenBufferDriver(budget, chats, tools, recorder)
    raise ValueError(f"not a LangChain method: {method}")
