"""nexint's comparative benchmarks: evidence recall under a token budget, and per-turn cost by history length.

Run them with ``memos bench recall`` and ``memos bench latency``. The framework baselines
(LangChain, LlamaIndex) are imported only inside the code that measures them, so this package
imports without either framework installed.
"""

from __future__ import annotations

__all__: list[str] = []
