"""Fail early, and say how to fix it, when the LangChain extra is not installed."""

from __future__ import annotations

from importlib import import_module

__all__: list[str] = []

for _framework in ("langchain_core", "langchain", "langchain_classic", "langgraph"):
    try:
        import_module(_framework)
    except ImportError as exc:
        raise ImportError(
            f"langchain_nexint needs LangChain ({_framework} is missing): pip install 'nexint[langchain]'"
        ) from exc
