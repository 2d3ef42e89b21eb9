"""LangChainEmbedder and ChatModelSummarizer inside real managers, with LangChain's fake models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from langchain_nexint import ChatModelSummarizer, LangChainEmbedder
from nexint_core import EmbedderMismatch, InvalidArgument, MemoryManager, StepClock
from tests.langchain.fakes import PromptRecorder

FACT = "My sister Maria lives in Porto and teaches chemistry."


class CountingEmbeddings(Embeddings):
    """Constant vectors (the zero vector for empty text); counts calls and batch sizes."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.batches.append(len(texts))
        return [[3.0, 4.0, 0.0] if text else [0.0, 0.0, 0.0] for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def test_embedder_drives_a_sqlite_store(tmp_path: Path) -> None:
    store = tmp_path / "memory"
    embedder = LangChainEmbedder(DeterministicFakeEmbedding(size=48))
    with MemoryManager(300, store=store, embedder=embedder, clock=StepClock()) as mmu:
        fact = mmu.write("user", FACT)[0]
        for i in range(60):
            mmu.write("user", f"Chatter about trains and weather, message {i}.")
        assert mmu.get(fact).tier == "swap"
    with MemoryManager(300, store=store, embedder=LangChainEmbedder(DeterministicFakeEmbedding(size=48))) as mmu:
        assert fact in mmu.page_in(FACT)  # the fake's vectors are random: only the same text is near
        reason = mmu.events.filter(action="page_in")[0].reason
        assert "vector #1" in reason
    with pytest.raises(EmbedderMismatch):
        MemoryManager(300, store=store, embedder=LangChainEmbedder(DeterministicFakeEmbedding(size=32)))


def test_embedder_batches_normalises_and_checks_shapes() -> None:
    embeddings = CountingEmbeddings()
    embedder = LangChainEmbedder(embeddings, batch_size=4)
    assert (embedder.dim, embedder.name, embeddings.batches) == (3, "langchain-CountingEmbeddings-3", [1])
    vectors = embedder.embed([f"text {i}" for i in range(10)] + [""])
    assert embeddings.batches[1:] == [4, 4, 3]
    assert vectors.shape == (11, 3)
    assert np.allclose(vectors[0], [0.6, 0.8, 0.0])
    assert not vectors[-1].any()  # the model's zero vector stays zero
    assert LangChainEmbedder(embeddings, dim=3, name="mine").name == "mine"
    assert embeddings.batches == [1, 4, 4, 3]  # a given dim needs no probe
    with pytest.raises(InvalidArgument, match="returned"):
        LangChainEmbedder(embeddings, dim=2).embed(["a"])
    with pytest.raises(InvalidArgument, match="batch_size"):
        LangChainEmbedder(embeddings, batch_size=0)


def test_summarizer_writes_summaries_within_their_budget() -> None:
    long_reply = "The user talked about trains. " * 200
    recorder = PromptRecorder()
    model = FakeListChatModel(responses=[long_reply], callbacks=[recorder])
    summarizer = ChatModelSummarizer(model)
    mmu = MemoryManager(400, summarizer=summarizer, summary_span=4, clock=StepClock())
    for i in range(80):
        mmu.write("user", f"Message {i}: the 8:15 train to Porto was late again.")
    summaries = mmu.pages("summary")
    assert summaries
    assert mmu.usage()["summary"] <= mmu.summary_budget
    assert all(page.content.startswith("The user talked about trains.") for page in summaries)
    assert all((page.tokens or 0) <= max(8, mmu.summary_budget // 2) for page in summaries)
    system, transcript = recorder.chats[0]
    assert "at most 18 words" in system.text
    assert transcript.text.startswith("user: Message 0: the 8:15 train to Porto was late again.")
