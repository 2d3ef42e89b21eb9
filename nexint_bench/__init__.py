"""nexint's comparative benchmarks: evidence recall under a token budget, per-turn cost by history length,
and what the model receives in long chats with tool calls.

Run them with ``memos bench recall``, ``memos bench latency`` and ``memos bench chat``. The framework baselines
(LangChain, LlamaIndex) are imported only inside the code that measures them, so this package
imports without either framework installed.
"""

from __future__ import annotations

__all__: list[str] = []
