"""LangChain models as nexint parts: ``Embeddings`` as an :class:`~nexint_core.Embedder`, a chat model as a
:class:`~nexint_core.Summarizer`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from nexint_core import InvalidArgument, Page, Tokenizer
from nexint_core.tokens import truncate

__all__ = ["DEFAULT_SUMMARY_INSTRUCTIONS", "ChatModelSummarizer", "LangChainEmbedder"]

DEFAULT_SUMMARY_INSTRUCTIONS = (
    "Summarise this excerpt of a conversation for your own later reference. Keep names, numbers, dates, "
    "decisions, preferences and tool results; drop small talk. Reply with the summary only, in at most "
    "{max_words} words."
)


class LangChainEmbedder:
    """Any LangChain ``Embeddings`` as a nexint embedder: batched ``embed_documents``, float32, L2-normalised.

    ``dim`` is measured with one embedding unless given; ``name`` (what a store checks before reuse) defaults
    to the class, model and dimension. Pages and queries are both embedded with ``embed_documents``.

    >>> from langchain_core.embeddings import DeterministicFakeEmbedding
    >>> from nexint_core import MemoryManager
    >>> embedder = LangChainEmbedder(DeterministicFakeEmbedding(size=64))
    >>> embedder.name, embedder.dim
    ('langchain-DeterministicFakeEmbedding-64', 64)
    >>> mmu = MemoryManager(1000, embedder=embedder)
    >>> round(float((embedder.embed(["a", "b"]) ** 2).sum(axis=1)[0]), 4)
    1.0
    """

    def __init__(
        self, embeddings: Embeddings, *, name: str | None = None, dim: int | None = None, batch_size: int = 64
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidArgument(f"batch_size must be a positive integer, got {batch_size!r}")
        self.embeddings = embeddings
        self.batch_size = batch_size
        if dim is None:
            dim = len(embeddings.embed_documents(["dimension probe"])[0])
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise InvalidArgument(f"dim must be a positive integer, got {dim!r}")
        self.dim = dim
        model = getattr(embeddings, "model", None) or getattr(embeddings, "model_name", None)
        parts = ["langchain", type(embeddings).__name__, *([str(model)] if model else []), str(dim)]
        self.name = name if name is not None else "-".join(parts)

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        rows: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            rows.extend(self.embeddings.embed_documents(list(texts[start : start + self.batch_size])))
        try:
            vectors = np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)
        except ValueError:  # ragged rows
            vectors = np.zeros((len(rows), 0))
        if vectors.shape != (len(texts), self.dim):
            raise InvalidArgument(
                f"{self.name} returned {len(rows)} vectors of sizes {sorted({len(row) for row in rows})} "
                f"for {len(texts)} texts; expected dimension {self.dim}"
            )
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.where(norms > 0.0, norms, 1.0)).astype(np.float32)

    def __repr__(self) -> str:
        return f"LangChainEmbedder({type(self.embeddings).__name__}, dim={self.dim})"


class ChatModelSummarizer:
    """Any LangChain chat model as a nexint summarizer: asked for a summary within the budget, then cut to it.

    The model is asked for at most ``max_tokens * 3 // 4`` words; whatever it returns is truncated with
    nexint's tokenizer, so the summary never exceeds ``max_tokens`` tokens.

    >>> from langchain_core.language_models.fake_chat_models import FakeListChatModel
    >>> from nexint_core import MemoryManager
    >>> summarizer = ChatModelSummarizer(FakeListChatModel(responses=["The user likes teal."]))
    >>> mmu = MemoryManager(400, summarizer=summarizer, summary_span=2, page_size=64)
    >>> for i in range(60):
    ...     _ = mmu.write("user", f"Message {i} about the weather and trains.")
    >>> [page.content for page in mmu.pages("summary")][:1]
    ['The user likes teal.']
    """

    def __init__(self, model: BaseChatModel, *, instructions: str = DEFAULT_SUMMARY_INSTRUCTIONS) -> None:
        self.model = model
        self.instructions = instructions

    def summarize(self, pages: Sequence[Page], max_tokens: int, tokenizer: Tokenizer) -> str:
        transcript = "\n".join(f"{page.role}: {page.content}" for page in pages)
        instructions = self.instructions.format(max_words=max(1, max_tokens * 3 // 4), max_tokens=max_tokens)
        reply = self.model.invoke([SystemMessage(instructions), HumanMessage(transcript)])
        return truncate(reply.text.strip(), max_tokens, tokenizer)
