"""langchain_nexint: nexint memory for LangChain (thin adapters over nexint_core)."""

from __future__ import annotations

from langchain_nexint.llm import chat_model_responder, responder_for

__all__ = ["chat_model_responder", "responder_for"]
