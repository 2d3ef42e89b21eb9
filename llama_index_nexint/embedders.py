"""``LlamaIndexEmbedder``: any LlamaIndex embedding model as a nexint :class:`~nexint_core.Embedder`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from llama_index.core.base.embeddings.base import BaseEmbedding

from nexint_core import InvalidArgument

__all__ = ["LlamaIndexEmbedder"]


class LlamaIndexEmbedder:
    """Embeds pages with a LlamaIndex ``BaseEmbedding``: batched through ``get_text_embedding_batch``
    (``embed_batch_size`` texts per call), returned L2-normalised as float32.

    The store records the embedder's ``name`` and ``dim`` and refuses to open with another, so keep
    the model (and ``name``, if you set one) for the life of a store. Queries are embedded as texts
    (nexint compares pages and queries in one space).

    >>> from llama_index.core.embeddings import MockEmbedding
    >>> from nexint_core import MemoryManager
    >>> from llama_index_nexint import LlamaIndexEmbedder
    >>> embedder = LlamaIndexEmbedder(MockEmbedding(embed_dim=8))
    >>> embedder.name, embedder.dim
    ('llama-index:MockEmbedding:unknown:8', 8)
    >>> mmu = MemoryManager(500, embedder=embedder)  # or store="memory/" for SQLite + FAISS
    >>> embedder.embed(["a page", "another page"]).shape
    (2, 8)
    """

    def __init__(self, model: BaseEmbedding, *, dim: int | None = None, name: str | None = None) -> None:
        if not isinstance(model, BaseEmbedding):
            raise InvalidArgument(f"model must be a LlamaIndex BaseEmbedding, got {type(model).__name__}")
        self.model = model
        self.dim = dim if dim is not None else self._probe_dim()
        if isinstance(self.dim, bool) or not isinstance(self.dim, int) or self.dim < 1:
            raise InvalidArgument(f"dim must be a positive integer, got {self.dim!r}")
        self.name = name or f"llama-index:{model.class_name()}:{model.model_name}:{self.dim}"

    def _probe_dim(self) -> int:
        """The model's dimension: its ``embed_dim`` if it declares one, else the length of one embedding."""
        declared = getattr(self.model, "embed_dim", None)
        if isinstance(declared, int) and not isinstance(declared, bool):
            return declared
        return len(self.model.get_text_embedding("dimension probe"))

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = np.asarray(self.model.get_text_embedding_batch(list(texts)), dtype=np.float32)
        if vectors.shape != (len(texts), self.dim):
            raise InvalidArgument(
                f"{self.name} returned vectors of shape {vectors.shape}, expected ({len(texts)}, {self.dim})"
            )
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.where(norms > 0.0, norms, 1.0)).astype(np.float32)

    def __repr__(self) -> str:
        return f"LlamaIndexEmbedder({self.name!r})"
