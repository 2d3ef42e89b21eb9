"""A LangChain chat model as the responder of ``memos run --llm provider:model``."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from nexint_core.errors import InvalidArgument

__all__ = ["chat_model_responder", "responder_for"]

Responder = Callable[[Sequence[dict[str, str]]], str]


def to_messages(messages: Sequence[dict[str, str]]) -> list[BaseMessage]:
    """nexint role messages as LangChain messages (a tool result without its call becomes user text)."""
    out: list[BaseMessage] = []
    for message in messages:
        role, content = message["role"], message["content"]
        if role == "system":
            out.append(SystemMessage(content))
        elif role == "assistant":
            out.append(AIMessage(content))
        elif role == "user":
            out.append(HumanMessage(content))
        else:
            out.append(HumanMessage(f"[{role}] {content}"))
    return out


def responder_for(model: BaseChatModel) -> Responder:
    """A responder that sends the assembled prompt's messages to ``model`` and returns its text."""

    def respond(messages: Sequence[dict[str, str]]) -> str:
        return str(model.invoke(to_messages(messages)).text)

    return respond


def chat_model_responder(spec: str) -> Responder:
    """The ``nexint.llm`` entry point: ``provider:model`` through LangChain's ``init_chat_model``.

    A malformed spec, an unknown provider, or a provider whose package is not installed raises
    :class:`~nexint_core.errors.InvalidArgument` saying how to fix it; no provider is contacted.
    """
    from langchain.chat_models import init_chat_model

    provider, _, model = spec.partition(":")
    if not provider.strip() or not model.strip():
        raise InvalidArgument(f"expected PROVIDER:MODEL (for example openai:gpt-4o or ollama:llama3), got {spec!r}")
    try:
        chat_model = init_chat_model(model, model_provider=provider)
    except ImportError as exc:
        raise InvalidArgument(f"the {provider!r} provider is not installed: {_one_line(exc)}") from None
    except ValueError as exc:  # an unknown provider, or settings the provider's model rejects
        raise InvalidArgument(_one_line(exc)) from None
    return responder_for(chat_model)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
