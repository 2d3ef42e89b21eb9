"""Retrieval for page-in: whether to search the archive, how lexical and vector hits fuse, how candidates score."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from nexint_core.embedders import content_words, embedder_profile
from nexint_core.errors import InvalidArgument
from nexint_core.pages import Page
from nexint_core.stores import PersistentStore

__all__ = ["Candidate", "Hit", "Router", "ScoringWeights", "fuse", "fused_hits", "score", "scored"]


@dataclass(frozen=True, slots=True)
class ScoringWeights:
    """How page-in ranks archive candidates; the policy (file) sets them."""

    relevance: float = 0.85  # what the query asks for decides; the rest break near-ties
    importance: float = 0.05
    recency: float = 0.05
    frequency: float = 0.05
    recency_half_life: float = 86_400.0  # seconds of the injected clock
    candidates: int | None = None  # hits taken from each search (None: as many as the room could hold, twice)
    min_similarity: float | None = None  # cosine below this is noise (None: the embedder's calibrated floor)
    vector: float | None = None  # the vector part's weight against the lexical part's 1 (None: the embedder's)

    def __post_init__(self) -> None:
        for name in ("relevance", "importance", "recency", "frequency", "vector"):
            value = getattr(self, name)
            if value is None and name == "vector":
                continue
            if isinstance(value, bool) or not (
                isinstance(value, (int, float)) and value >= 0.0 and math.isfinite(value)
            ):
                raise InvalidArgument(f"scoring weight {name} must be a finite number >= 0, got {value!r}")
        if not self.recency_half_life > 0:
            raise InvalidArgument(f"recency_half_life must be > 0, got {self.recency_half_life!r}")
        if self.candidates is not None and self.candidates < 1:
            raise InvalidArgument(f"candidates must be >= 1, got {self.candidates!r}")


@dataclass(frozen=True, slots=True)
class Candidate:
    """An archived page considered for page-in, with the parts of its score."""

    page_id: str
    relevance: float
    lexical_rank: int | None
    vector_rank: int | None
    importance: float = 0.0
    recency: float = 0.0
    frequency: float = 0.0
    score: float = 0.0
    bm25: float = 0.0  # the raw lexical score (0 if only the vector search found it)
    cosine: float = 0.0

    def reason(self) -> str:
        """The human-readable score breakdown logged with the page-in."""
        ranks = []
        if self.lexical_rank is not None:
            ranks.append(f"bm25 #{self.lexical_rank}")
        if self.vector_rank is not None:
            ranks.append(f"vector #{self.vector_rank}")
        return (
            f"query match: relevance {self.relevance:.2f} ({', '.join(ranks)}), importance {self.importance:.2f}, "
            f"recency {self.recency:.2f}, frequency {self.frequency:.2f} -> score {self.score:.3f}"
        )


class Router:
    """Decides whether a query needs the archive at all, and counts each route taken."""

    ROUTES = ("retrieve", "skip_nothing_stored", "skip_no_content_words", "skip_no_room")

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter(dict.fromkeys(self.ROUTES, 0))

    def route(self, query: str, *, searchable_pages: int, room: int) -> str:
        """One of :attr:`ROUTES`. ``searchable_pages`` counts active pages too: a match still resident is
        not moved, but the prompt recalls it, which keeps it when the recent turns outgrow their section."""
        if searchable_pages == 0:
            route = "skip_nothing_stored"
        elif not content_words(query):
            route = "skip_no_content_words"
        elif room <= 0:
            route = "skip_no_room"
        else:
            route = "retrieve"
        self.counts[route] += 1
        return route


def fuse(
    store: PersistentStore,
    query: str,
    namespaces: Sequence[str],
    k: int,
    min_similarity: float | None = None,
    vector_weight: float | None = None,
) -> list[Candidate]:
    """Lexical and vector hits fused by calibrated scores, best first.

    Relevance in [0, 1] combines two parts that each say how well a page answers the query: the better of
    the two, plus half of the other (the vector part times the embedder's vector weight).
    The lexical part is the page's BM25 score over the score of a page explaining the whole query (every
    query term once, a term no page holds at the highest idf: :meth:`PersistentStore.text_weight`), so a
    match on one common word (a name that is in every other turn) is worth little. The vector part is the
    cosine similarity above the embedder's noise floor, rescaled to [0, 1] (:func:`embedder_profile`):
    below the floor a hit is noise. A page relevant by neither part is no candidate at all (paging it in would
    push out a turn the model can use for one it cannot). ``vector_weight`` and ``min_similarity`` override
    the profile's.
    """
    return [
        Candidate(page_id, value, lexical_rank, vector_rank, bm25=bm25, cosine=cosine)
        for page_id, value, lexical_rank, vector_rank, bm25, cosine in fused_hits(
            store, query, namespaces, k, min_similarity, vector_weight
        )
    ]


Hit: TypeAlias = tuple[str, float, "int | None", "int | None", float, float]


def fused_hits(
    store: PersistentStore,
    query: str,
    namespaces: Sequence[str],
    k: int,
    min_similarity: float | None = None,
    vector_weight: float | None = None,
) -> list[Hit]:
    """:func:`fuse`'s candidates as plain tuples ``(page id, relevance, lexical rank, vector rank, bm25,
    cosine)``, best first: page-in scores them and builds one :class:`Candidate` each."""
    profile = embedder_profile(store.embedder)
    weight = profile.vector_weight if vector_weight is None else vector_weight
    lexical = store.search_text(query, namespaces=namespaces, k=k)
    full = store.text_weight(query, namespaces=namespaces) if lexical else 0.0
    scale = full if full > 0 else (lexical[0].score if lexical and lexical[0].score > 0 else 1.0)
    probe, centred = _probe(store, query, namespaces)
    floor = (profile.noise_floor if centred else profile.raw_floor) if min_similarity is None else min_similarity
    vector = store.search_vector(probe, namespaces=namespaces, k=k)
    # page id -> [lexical rank, vector rank, bm25, cosine]
    parts: dict[str, list[Any]] = {}
    for rank, hit in enumerate(lexical, 1):
        parts[hit.page_id] = [rank, None, max(hit.score, 0.0), 0.0]
    for rank, hit in enumerate(vector, 1):
        held = parts.get(hit.page_id)
        if held is None:
            parts[hit.page_id] = [None, rank, 0.0, hit.score]
        else:
            held[1], held[3] = rank, hit.score
    # A page is as relevant as the better of its two parts, plus half of the other (the two searches agree):
    # a search that found nothing convincing (a name shared with every other turn) does not drown the one
    # that did, and a page both find comes first.
    fused: list[Hit] = []
    for page_id, (lexical_rank, vector_rank, bm25, cosine) in parts.items():
        lexical_value = min(bm25 / scale, 1.0) if lexical_rank is not None else 0.0
        vector_value = weight * _above_noise(cosine, floor) if vector_rank is not None else 0.0
        value = (max(lexical_value, vector_value) + 0.5 * min(lexical_value, vector_value)) / 1.5
        if value > 0:
            fused.append((page_id, value, lexical_rank, vector_rank, bm25, cosine))
    fused.sort(key=lambda hit: (-hit[1], hit[0]))
    return fused


def _above_noise(similarity: float, floor: float) -> float:
    """A similarity rescaled to [0, 1] above the noise floor; below it a hit is noise and worth nothing."""
    return min((similarity - floor) / (1.0 - floor), 1.0) if similarity > floor else 0.0


def _probe(store: PersistentStore, query: str, namespaces: Sequence[str]) -> tuple[npt.NDArray[np.float32], bool]:
    """The vector to search with: the query's embedding less the centroid of the stored vectors, normalised
    (what every page shares, the speakers' names say, then counts for nothing), and whether it was centred.
    The scores it gets rank pages as the centred vectors' inner products do."""
    vector = store.embedder.embed([query])[0]
    centroid = store.vector_centroid(namespaces)
    if centroid is None:
        return vector, False
    centred = vector - centroid
    norm = float(np.linalg.norm(centred))
    return (np.asarray(centred / norm, dtype=np.float32), True) if norm > 0 else (vector, False)


def score(candidate: Candidate, page: Page, weights: ScoringWeights, now: float) -> Candidate:
    """Weigh a fused candidate's relevance by its importance, recency and frequency.

    The score is the relevance times a factor of at most the sum of the weights: what the query asks
    for decides, and among pages that answer it alike, the important, recent and often used win. A page
    the query does not match scores nothing, however often it was used (use would feed on itself).
    """
    c = candidate
    return scored((c.page_id, c.relevance, c.lexical_rank, c.vector_rank, c.bm25, c.cosine), page, weights, now)


def scored(hit: Hit, page: Page, weights: ScoringWeights, now: float) -> Candidate:
    """:func:`score` of a hit of :func:`fused_hits`."""
    page_id, relevance, lexical_rank, vector_rank, bm25, cosine = hit
    age = max(0.0, now - (page.last_used if page.last_used is not None else now))
    recency = 0.5 ** (age / weights.recency_half_life)
    frequency = page.use_count / (page.use_count + 1.0)
    total = relevance * (
        weights.relevance
        + weights.importance * page.importance
        + weights.recency * recency
        + weights.frequency * frequency
    )
    return Candidate(
        page_id, relevance, lexical_rank, vector_rank, page.importance, recency, frequency, total, bm25, cosine
    )
