"""langchain_nexint: nexint memory for LangChain (thin adapters over nexint_core).

- :class:`NexintMiddleware`: agent memory for ``langchain.agents.create_agent``.
- :class:`NexintMemory`: chain memory for classic chains (``ConversationChain``, ``LLMChain``).
- :class:`NexintChatMessageHistory`: a chat history for ``RunnableWithMessageHistory``.
- :class:`LangChainEmbedder`, :class:`ChatModelSummarizer`: LangChain models as nexint's embedder and summarizer.
"""

from __future__ import annotations

import langchain_nexint._require  # noqa: F401  (first: says how to install LangChain when it is missing)
from langchain_nexint.history import NexintChatMessageHistory
from langchain_nexint.llm import chat_model_responder, responder_for
from langchain_nexint.memory import NexintMemory
from langchain_nexint.middleware import NexintMiddleware
from langchain_nexint.models import ChatModelSummarizer, LangChainEmbedder

__all__ = [
    "ChatModelSummarizer",
    "LangChainEmbedder",
    "NexintChatMessageHistory",
    "NexintMemory",
    "NexintMiddleware",
    "chat_model_responder",
    "responder_for",
]
