"""LlamaIndexEmbedder and LLMSummarizer: LlamaIndex models as a manager's embedder and summarizer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.base.llms.types import ChatMessage, CompletionResponse
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import MockLLM
from llama_index.core.llms.callbacks import llm_completion_callback
from pydantic import Field

from llama_index_nexint import LlamaIndexEmbedder, LLMSummarizer, NexintMemory
from nexint_core import EmbedderMismatch, InvalidArgument, MemoryManager, SqliteSwapStore, StepClock
from tests.llama_index._support import ANSWER, FACT, QUESTION, small_talk


class CountingEmbedding(MockEmbedding):
    """LlamaIndex's MockEmbedding, counting the batches it is asked for; its vectors vary with the text."""

    batches: list[int] = Field(default_factory=list)

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        self.batches.append(len(texts))
        return [[float(len(text) % 7 + 1), *([0.5] * (self.embed_dim - 1))] for text in texts]


class RecordingCompletionLLM(MockLLM):
    """MockLLM keeping the prompts it completes."""

    prompts: list[str] = Field(default_factory=list, exclude=True)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        self.prompts.append(prompt)
        return super().complete(prompt, formatted=formatted, **kwargs)


def test_embedder_is_batched_and_named_after_the_model() -> None:
    model = CountingEmbedding(embed_dim=16, embed_batch_size=4)
    embedder = LlamaIndexEmbedder(model)
    assert (embedder.name, embedder.dim) == ("llama-index:MockEmbedding:unknown:16", 16)
    vectors = embedder.embed([f"text {'x' * i}" for i in range(10)])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)  # the model's vectors are not
    assert model.batches == [4, 4, 2]


class PlainEmbedding(BaseEmbedding):
    """A LlamaIndex embedding model that does not declare its dimension."""

    def _get_text_embedding(self, text: str) -> list[float]:
        return [1.0, 2.0, 2.0]

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._get_text_embedding(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_text_embedding(query)


def test_embedder_probes_the_dimension_and_checks_the_shape() -> None:
    embedder = LlamaIndexEmbedder(PlainEmbedding(model_name="plain"), name="plain-3")
    assert (embedder.dim, embedder.name) == (3, "plain-3")  # measured on one embedding
    np.testing.assert_allclose(embedder.embed(["a"]), [[1 / 3, 2 / 3, 2 / 3]], rtol=1e-6)
    with pytest.raises(InvalidArgument, match="shape"):
        LlamaIndexEmbedder(MockEmbedding(embed_dim=8), dim=9).embed(["a"])
    with pytest.raises(InvalidArgument, match="BaseEmbedding"):
        LlamaIndexEmbedder("not a model")  # type: ignore[arg-type]


def test_embedder_backs_a_sqlite_store_across_reopens(tmp_path: Path) -> None:
    model = CountingEmbedding(embed_dim=16, embed_batch_size=32)
    store = tmp_path / "memory"
    with MemoryManager(300, store=store, embedder=LlamaIndexEmbedder(model), clock=StepClock()) as mmu:
        assert isinstance(mmu.store, SqliteSwapStore)
        fact = mmu.write("user", FACT)[0]
        mmu.write_many([("user", small_talk(turn)) for turn in range(60)])
        assert mmu.get(fact).tier == "swap"
        assert fact in mmu.page_in(QUESTION)
    embedded = sum(model.batches)
    assert embedded >= 61
    assert max(model.batches) <= 32
    with MemoryManager(300, store=store, embedder=LlamaIndexEmbedder(model), clock=StepClock()) as mmu:
        assert mmu.get(fact).tier == "active"  # the page table came back
        assert mmu.store.search_text(QUESTION, namespaces=["default"])[0].page_id == fact
        vector = mmu.store.embedder.embed([FACT])[0]
        assert len(mmu.store.search_vector(vector, namespaces=["default"], k=5)) == 5
    assert sum(model.batches) == embedded + 1  # only the query: stored pages are not embedded again
    with pytest.raises(EmbedderMismatch):
        MemoryManager(300, store=store, embedder=LlamaIndexEmbedder(MockEmbedding(embed_dim=8)))


def test_summarizer_cuts_the_model_answer_to_the_budget() -> None:
    llm = RecordingCompletionLLM(max_tokens=600)  # answers 600 tokens whatever it is asked
    mmu = MemoryManager(300, summarizer=LLMSummarizer(llm), summary_span=4, clock=StepClock())
    for turn in range(60):
        mmu.write("user", small_talk(turn))
    summaries = mmu.pages("summary")
    assert summaries
    assert all(page.content.startswith("text text") for page in summaries)
    assert all(page.tokens <= mmu.summary_budget // 2 for page in summaries)
    assert "user: Message 0: I keep thinking about trains today." in llm.prompts[0]
    max_tokens = mmu.summary_budget // 2  # what a summary may take here
    assert f"at most {max_tokens * 3 // 4} words" in llm.prompts[0]


def test_summarizer_prompt_must_have_a_place_for_the_transcript() -> None:
    with pytest.raises(InvalidArgument, match="transcript"):
        LLMSummarizer(MockLLM(), prompt="Summarize in {max_words} words.")


def test_summarizer_feeds_the_memory_system_message() -> None:
    memory = NexintMemory.from_defaults(
        token_limit=400, summarizer=LLMSummarizer(MockLLM(max_tokens=30)), summary_span=4, clock=StepClock()
    )
    for turn in range(80):
        memory.put(ChatMessage(role="user", content=FACT if turn == 3 else small_talk(turn)))
    memory.put(ChatMessage(role="user", content=QUESTION))
    system = memory.get()[0].content or ""
    assert "## Summaries of earlier conversation" in system
    assert ANSWER in system
