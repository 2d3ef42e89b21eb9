"""nexint as the memory of a LangChain 1.x agent (``create_agent(..., middleware=[NexintMiddleware(...)])``)."""

from __future__ import annotations

import os
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

from langchain.agents.middleware import AgentMiddleware, AgentState, ModelRequest, ModelResponse
from langchain_core.messages import AnyMessage, BaseMessage, HumanMessage, RemoveMessage
from langchain_core.runnables.config import run_in_executor
from langgraph.runtime import Runtime

from langchain_nexint._bridge import DEFAULT_TOKEN_LIMIT, Bridge, message_key, schema_tokens, thread_of
from nexint_core import EvictionPolicy, InvalidArgument, MemoryManager, SwapStore
from nexint_core.manager import check_options, open_manager
from nexint_core.pages import DEFAULT_NAMESPACE
from nexint_core.pool import DEFAULT_OPEN, ManagerPool

__all__ = ["NexintMiddleware"]


def _last_human(messages: Sequence[BaseMessage]) -> int | None:
    for index in range(len(messages) - 1, -1, -1):
        if isinstance(messages[index], HumanMessage):
            return index
    return None


class NexintMiddleware(AgentMiddleware[AgentState[Any], Any, Any]):
    """Agent memory: every message goes into nexint once; the model sees the assembled context.

    Each model call gets, within ``token_limit`` tokens, one system message (the agent's system prompt,
    core memory, summaries and the archive pages paged in for the latest human message) and the recent
    turns as real messages; a tool call and its results are written as one nexint group, so they are
    never separated. With ``compact=True`` the graph state is trimmed too (earlier turns are removed with
    ``RemoveMessage`` once nexint holds them); by default it is left as it is.

    >>> from langchain.agents import create_agent
    >>> from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    >>> from langchain_core.messages import AIMessage
    >>> model = GenericFakeChatModel(messages=iter([AIMessage("Noted."), AIMessage("Teal.")]))
    >>> memory = NexintMiddleware(token_limit=2000)
    >>> agent = create_agent(model, tools=[], middleware=[memory])
    >>> state = agent.invoke({"messages": [("user", "My favourite colour is teal.")]})
    >>> state = agent.invoke({"messages": [("user", "What is my favourite colour?")]})
    >>> state["messages"][-1].content
    'Teal.'
    >>> len(memory.manager)  # two questions, two answers
    4
    """

    def __init__(
        self,
        *,
        manager: MemoryManager | None = None,
        token_limit: int | None = None,
        store: SwapStore | str | os.PathLike[str] | None = None,
        policy: str | EvictionPolicy | None = None,
        namespace: str | None = None,
        compact: bool = False,
        **manager_options: Any,
    ) -> None:
        super().__init__()
        self.compact = compact
        self._pool: ManagerPool | None = None
        self._bridges: dict[str, Bridge] = {}
        self._last: Bridge | None = None
        self._lock = threading.RLock()
        self._schemas: dict[tuple[int, ...], int] = {}  # tool schema tokens, by the tools' identities
        if manager is not None or namespace is not None:  # one memory, shared by every thread on purpose
            opened, owned = open_manager(
                manager,
                default_limit=DEFAULT_TOKEN_LIMIT,
                token_limit=token_limit,
                store=store,
                policy=policy,
                namespace=namespace,
                options=manager_options,
                adapter="NexintMiddleware",
            )
            self._last = Bridge(opened, owned=owned)
        else:  # each thread (``configurable.thread_id``) its own namespace, on one store
            check_options("NexintMiddleware", manager_options)
            limit = DEFAULT_TOKEN_LIMIT if token_limit is None else token_limit
            self._pool = ManagerPool(limit, store=store, policy=policy, options=manager_options)

    @property
    def manager(self) -> MemoryManager:
        """The memory manager of the thread served last (of the ``default`` thread before any)."""
        return self._bridge(None).manager

    def manager_for(self, thread_id: str | None) -> MemoryManager:
        """The memory manager of a thread (the one given at construction when a namespace was fixed)."""
        return self._bridge(thread_id).manager

    def close(self) -> None:
        """Close what this middleware opened (a manager passed in is the caller's to close)."""
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._bridges.clear()
            elif self._last is not None:
                self._last.close()

    def _bridge(self, thread: str | None) -> Bridge:
        """The bridge of a thread: the fixed one, or its namespace's in the pool."""
        with self._lock:
            if self._pool is None:
                assert self._last is not None
                return self._last
            if thread is None:
                if self._last is not None:
                    return self._last
                thread = DEFAULT_NAMESPACE
            manager = self._pool.get(thread)
            bridge = self._bridges.get(thread)
            if bridge is None or bridge.manager is not manager:  # new, or rebuilt after the pool closed it
                bridge = self._bridges[thread] = Bridge(manager, owned=False)
                if len(self._bridges) > 4 * DEFAULT_OPEN:
                    self._bridges = {name: b for name, b in self._bridges.items() if b.manager in set(self._pool)}
            self._last = bridge
            return bridge

    # -- hooks ------------------------------------------------------------------------------------

    def before_model(self, state: AgentState[Any], runtime: Runtime[Any]) -> dict[str, Any] | None:
        """Write the turns before the latest human message; with ``compact``, remove them from the state."""
        return self._settle(self._bridge(thread_of(runtime)), state["messages"])

    async def abefore_model(self, state: AgentState[Any], runtime: Runtime[Any]) -> dict[str, Any] | None:
        return await run_in_executor(None, self._settle, self._bridge(thread_of(runtime)), state["messages"])

    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> ModelResponse[Any]:
        """Call the model with the assembled context instead of the whole history."""
        return handler(self._prepare(self._bridge(thread_of(request.runtime)), request))

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> ModelResponse[Any]:
        bridge = self._bridge(thread_of(request.runtime))
        return await handler(await run_in_executor(None, self._prepare, bridge, request))

    def after_agent(self, state: AgentState[Any], runtime: Runtime[Any]) -> dict[str, Any] | None:
        """Write what the run added since the last model call (the final answer), so a restart finds it."""
        self._write(self._bridge(thread_of(runtime)), state["messages"])
        return None

    async def aafter_agent(self, state: AgentState[Any], runtime: Runtime[Any]) -> dict[str, Any] | None:
        await run_in_executor(None, self._write, self._bridge(thread_of(runtime)), state["messages"])
        return None

    # -- work -------------------------------------------------------------------------------------

    @staticmethod
    def _write(bridge: Bridge, messages: Sequence[BaseMessage]) -> None:
        with bridge.lock:
            bridge.write(messages)

    def _settle(self, bridge: Bridge, messages: Sequence[AnyMessage]) -> dict[str, Any] | None:
        human = _last_human(messages)
        if human is None:
            return None
        earlier = messages[:human]
        with bridge.lock:
            bridge.write(earlier)
        if not self.compact:
            return None
        removed = [RemoveMessage(id=message.id) for message in earlier if message.id is not None]
        return {"messages": removed} if removed else None

    def _schema_tokens(self, tools: Sequence[Any], manager: MemoryManager) -> int:
        """Tokens of the bound tools' schemas, counted once per set of tools."""
        key = tuple(id(tool) for tool in tools)
        tokens = self._schemas.get(key)
        if tokens is None:
            tokens = self._schemas[key] = schema_tokens(tools, manager.tokenizer.count)
        return tokens

    def _prepare(self, bridge: Bridge, request: ModelRequest[Any]) -> ModelRequest[Any]:
        """Write what is new, assemble for the latest human message, and rebuild the request from the prompt.

        The latest human message is paged in for once, when it is new: assembled before it is written, so it
        is the prompt's query and not a match for itself. Later calls of the same turn (after tool calls)
        reuse what that page-in brought back.
        """
        manager = bridge.manager
        messages = request.messages
        anchor = "\n\n".join(part for part in (manager.system_prompt, request.system_prompt or "") if part)
        budget = manager.limit_tokens - self._schema_tokens(request.tools, manager)
        if budget < 1:
            raise InvalidArgument(
                f"the tool schemas take {manager.limit_tokens - budget} tokens, the whole token_limit "
                f"({manager.limit_tokens}): raise token_limit or bind fewer tools"
            )
        index = _last_human(messages)
        with bridge.lock:
            if index is None:
                bridge.write(messages)
                context = bridge.context("", system=anchor, budget=budget)
            else:
                human = messages[index]
                query = human.text
                if bridge.written(human):
                    bridge.write(messages)
                    context = bridge.context(query, system=anchor, budget=budget)
                else:
                    bridge.write(messages[:index])
                    context = bridge.begin(human, system=anchor, budget=budget)
                    bridge.write(messages[index + 1 :])
                    if index + 1 < len(messages):  # something came after it: show it as recent turns
                        context = bridge.context(query, system=anchor, budget=budget)
            system, recent = bridge.messages_of(context)
        rebuilt = [message for _, message in recent]
        if index is not None:
            human_key = message_key(messages[index])
            keys = [key for key, _ in recent]
            if human_key not in keys:  # the query section holds it: put it back where it belongs
                later = {message_key(message) for message in messages[index + 1 :]}
                at = next((position for position, key in enumerate(keys) if key in later), len(rebuilt))
                human = messages[index]
                if context.query != human.text:  # too long for the budget: the excerpt the prompt counted
                    human = human.model_copy(update={"content": context.query})
                rebuilt.insert(at, human)
        return request.override(messages=cast("list[AnyMessage]", rebuilt), system_message=system)
