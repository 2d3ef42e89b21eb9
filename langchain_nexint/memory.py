"""nexint as the memory of a classic LangChain chain (``ConversationChain``, ``LLMChain``).

LangChain deprecated ``BaseMemory`` and the chains that use it in favour of ``create_agent``; they still
run, and :class:`NexintMemory` replaces ``ConversationBufferMemory`` in them. New code should use
:class:`~langchain_nexint.NexintMiddleware`.
"""

from __future__ import annotations

import os
from typing import Any

from langchain_classic.base_memory import BaseMemory
from langchain_classic.memory.utils import get_prompt_input_key
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, get_buffer_string
from pydantic import PrivateAttr

from langchain_nexint._bridge import DEFAULT_TOKEN_LIMIT, Bridge
from nexint_core import EvictionPolicy, InvalidArgument, MemoryManager, SwapStore
from nexint_core.manager import open_manager

__all__ = ["NexintMemory"]


class NexintMemory(BaseMemory):
    """Chain memory: the context assembled for the current input (core, summaries, paged-in archive pages,
    recent turns), within ``token_limit`` tokens together with the input.

    ``load_memory_variables`` pages in with the input as the query and returns the context under
    ``memory_key``, as one string (``Human: ...`` lines) or as messages (``return_messages=True``);
    ``save_context`` writes the input and the output.

    >>> from langchain_core.prompts import PromptTemplate
    >>> from langchain_core.language_models import FakeListLLM
    >>> memory = NexintMemory(token_limit=1000)
    >>> prompt = PromptTemplate.from_template("{history}\\nHuman: {input}\\nAI:")
    >>> llm = FakeListLLM(responses=["Noted.", "Teal."])
    >>> for question in ["My favourite colour is teal.", "What is my favourite colour?"]:
    ...     context = memory.load_memory_variables({"input": question})
    ...     answer = llm.invoke(prompt.format(input=question, **context))
    ...     memory.save_context({"input": question}, {"output": answer})
    >>> print(memory.load_memory_variables({"input": "Anything else?"})["history"])
    Human: My favourite colour is teal.
    AI: Noted.
    Human: What is my favourite colour?
    AI: Teal.
    """

    memory_key: str = "history"
    input_key: str | None = None
    output_key: str | None = None
    return_messages: bool = False
    human_prefix: str = "Human"
    ai_prefix: str = "AI"
    _bridge: Bridge = PrivateAttr()

    def __init__(
        self,
        *,
        manager: MemoryManager | None = None,
        token_limit: int | None = None,
        store: SwapStore | str | os.PathLike[str] | None = None,
        policy: str | EvictionPolicy | None = None,
        namespace: str | None = None,
        memory_key: str = "history",
        input_key: str | None = None,
        output_key: str | None = None,
        return_messages: bool = False,
        human_prefix: str = "Human",
        ai_prefix: str = "AI",
        **manager_options: Any,
    ) -> None:
        fields: dict[str, Any] = {
            "memory_key": memory_key,
            "input_key": input_key,
            "output_key": output_key,
            "return_messages": return_messages,
            "human_prefix": human_prefix,
            "ai_prefix": ai_prefix,
        }
        super().__init__(**fields)
        opened, owned = open_manager(
            manager,
            default_limit=DEFAULT_TOKEN_LIMIT,
            token_limit=token_limit,
            store=store,
            policy=policy,
            namespace=namespace,
            options=manager_options,
            adapter="NexintMemory",
        )
        self._bridge = Bridge(opened, owned=owned)

    @property
    def manager(self) -> MemoryManager:
        """The memory manager behind this memory."""
        return self._bridge.manager

    @property
    def memory_variables(self) -> list[str]:
        return [self.memory_key]

    def load_memory_variables(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """The context for this input: page in with it as the query, assemble, return it without the query."""
        query = str(inputs[self.input_key or get_prompt_input_key(inputs, self.memory_variables)])
        bridge = self._bridge
        with bridge.lock:
            system, recent = bridge.messages_of(bridge.context(query, page_in=True))
        messages: list[BaseMessage] = [system] if system is not None else []
        messages.extend(message for _, message in recent)
        if self.return_messages:
            return {self.memory_key: messages}
        return {self.memory_key: get_buffer_string(messages, self.human_prefix, self.ai_prefix)}

    def save_context(self, inputs: dict[str, Any], outputs: dict[str, str]) -> None:
        """Write the input and the output as a user and an assistant turn."""
        human = str(inputs[self.input_key or get_prompt_input_key(inputs, self.memory_variables)])
        if self.output_key is not None:
            output_key = self.output_key
        elif len(outputs) == 1:
            output_key = next(iter(outputs))
        elif "output" in outputs:
            output_key = "output"
        else:
            raise InvalidArgument(f"set output_key: the chain returns several outputs {sorted(outputs)}")
        with self._bridge.lock:
            self._bridge.write([HumanMessage(human), AIMessage(str(outputs[output_key]))], once=False)

    def clear(self) -> None:
        """Forget the conversation this memory holds (pages written to its manager directly stay)."""
        with self._bridge.lock:
            self._bridge.clear()

    def close(self) -> None:
        """Close the manager if this memory opened it."""
        self._bridge.close()
