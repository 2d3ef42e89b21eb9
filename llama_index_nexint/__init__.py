"""llama_index_nexint: nexint memory for LlamaIndex (thin adapters over nexint_core).

``NexintMemory`` replaces ``ChatMemoryBuffer`` / ``Memory`` as the ``memory=`` of chat engines and
agents; ``NexintMemoryBlock`` puts nexint's archive into LlamaIndex's ``Memory`` beside its own
blocks; ``LlamaIndexEmbedder`` and ``LLMSummarizer`` let a manager use LlamaIndex models.
"""

from __future__ import annotations

try:
    import llama_index.core  # noqa: F401
except ImportError as exc:
    raise ImportError(
        "llama_index_nexint needs llama-index-core, which is not installed: pip install 'nexint[llama-index]'"
    ) from exc

from llama_index_nexint.block import NexintMemoryBlock
from llama_index_nexint.embedders import LlamaIndexEmbedder
from llama_index_nexint.memory import NexintMemory
from llama_index_nexint.summarizer import LLMSummarizer

__all__ = ["LLMSummarizer", "LlamaIndexEmbedder", "NexintMemory", "NexintMemoryBlock"]
