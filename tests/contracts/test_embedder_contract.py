"""EmbedderContract: every embedder, the core's and the adapters', turns texts into vectors the same way."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from llama_index.core.embeddings import MockEmbedding

from langchain_nexint import LangChainEmbedder
from llama_index_nexint import LlamaIndexEmbedder
from nexint_core import Embedder, HashingEmbedder, SentenceTransformerEmbedder
from tests.contracts import public_classes


class FakeSentenceModel:
    """The two methods nexint uses of a sentence-transformers model: a seeded random vector per text."""

    dim = 24

    def get_sentence_embedding_dimension(self) -> int:
        return self.dim

    def encode(
        self, texts: list[str], *, batch_size: int, normalize_embeddings: bool, convert_to_numpy: bool
    ) -> npt.NDArray[np.float64]:
        assert convert_to_numpy
        rows = [np.random.default_rng(zlib.crc32(text.encode("utf-8"))).normal(size=self.dim) for text in texts]
        if normalize_embeddings:
            rows = [row / np.linalg.norm(row) for row in rows]
        return np.array(rows)  # shape (0,) for no texts, as sentence-transformers returns


FACTORIES: dict[str, Callable[[], Embedder]] = {
    "hashing": HashingEmbedder,
    "hashing-64": lambda: HashingEmbedder(64),
    "sentence-transformers": lambda: SentenceTransformerEmbedder(FakeSentenceModel(), name="fake"),
    "llama-index": lambda: LlamaIndexEmbedder(MockEmbedding(embed_dim=16)),
    "langchain": lambda: LangChainEmbedder(DeterministicFakeEmbedding(size=32)),
}
CONTENT = [
    "My sister Maria lives in Porto.",
    "The 8:15 train to Lisbon was late again.",
    "Otters, otters everywhere! 🦦",
    "日本 の 夏 summer",
]
WITHOUT_CONTENT = ["", "a the of"]  # the hashed embedder finds no feature in these: a zero vector
TEXTS = [*CONTENT, *WITHOUT_CONTENT]


@pytest.fixture(params=sorted(FACTORIES))
def make(request: pytest.FixtureRequest) -> Callable[[], Embedder]:
    return FACTORIES[request.param]


@pytest.fixture
def embedder(make: Callable[[], Embedder]) -> Embedder:
    return make()


def norms(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    return np.linalg.norm(vectors.astype(np.float64), axis=1)


class TestEmbedderContract:
    def test_embedder_implements_the_protocol_with_a_name_and_a_dimension(self, embedder: Embedder) -> None:
        assert isinstance(embedder, Embedder)
        assert isinstance(embedder.name, str)
        assert embedder.name
        assert isinstance(embedder.dim, int)
        assert not isinstance(embedder.dim, bool)
        assert embedder.dim >= 1

    def test_embedder_returns_a_float32_row_per_text(self, embedder: Embedder) -> None:
        vectors = embedder.embed(TEXTS)
        assert isinstance(vectors, np.ndarray)
        assert vectors.dtype == np.float32
        assert vectors.shape == (len(TEXTS), embedder.dim)
        assert np.isfinite(vectors).all()

    def test_embedder_rows_are_unit_length_or_zero(self, embedder: Embedder) -> None:
        lengths = norms(embedder.embed(TEXTS))
        np.testing.assert_allclose(lengths[: len(CONTENT)], 1.0, rtol=0, atol=1e-5)
        for length in lengths[len(CONTENT) :]:
            assert length == 0.0 or abs(length - 1.0) <= 1e-5, length

    def test_embedder_is_deterministic_across_calls_and_instances(
        self, make: Callable[[], Embedder], embedder: Embedder
    ) -> None:
        first = embedder.embed(TEXTS)
        assert np.array_equal(embedder.embed(TEXTS), first)
        other = make()
        assert (other.name, other.dim) == (embedder.name, embedder.dim)
        assert np.array_equal(other.embed(TEXTS), first)

    def test_embedder_row_does_not_depend_on_the_rest_of_the_batch(self, embedder: Embedder) -> None:
        batch = embedder.embed(TEXTS)
        for index, text in enumerate(TEXTS):
            np.testing.assert_allclose(embedder.embed([text])[0], batch[index], rtol=0, atol=1e-6)
        np.testing.assert_allclose(embedder.embed(TEXTS[::-1]), batch[::-1], rtol=0, atol=1e-6)

    @pytest.mark.parametrize("texts", [tuple(TEXTS), TEXTS * 40], ids=["tuple", "long list"])
    def test_embedder_takes_any_sequence_of_texts(self, embedder: Embedder, texts: Sequence[str]) -> None:
        vectors = embedder.embed(texts)
        assert vectors.shape == (len(texts), embedder.dim)
        np.testing.assert_allclose(vectors[: len(TEXTS)], embedder.embed(TEXTS), rtol=0, atol=1e-6)

    @pytest.mark.parametrize("texts", [[], ()], ids=["list", "tuple"])
    def test_embedder_of_no_texts_is_an_empty_float32_matrix(self, embedder: Embedder, texts: Sequence[str]) -> None:
        vectors = embedder.embed(texts)
        assert vectors.dtype == np.float32
        assert vectors.shape == (0, embedder.dim)


def test_embedder_contract_covers_every_embedder() -> None:
    assert {type(make()) for make in FACTORIES.values()} == public_classes(Embedder)
    assert len(public_classes(Embedder)) == 4
