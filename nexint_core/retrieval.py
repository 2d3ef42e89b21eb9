"""Retrieval for page-in: whether to search the archive, how lexical and vector hits fuse, how candidates score."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from nexint_core.embedders import content_words
from nexint_core.errors import InvalidArgument
from nexint_core.pages import Page
from nexint_core.stores import SwapStore

__all__ = ["DISTINCT_BM25", "DISTINCT_COSINE", "Candidate", "Router", "ScoringWeights", "fuse", "score"]

DISTINCT_BM25 = 1.0
DISTINCT_COSINE = 0.6


@dataclass(frozen=True, slots=True)
class ScoringWeights:
    """How page-in ranks archive candidates; the policy (file) sets them."""

    relevance: float = 0.85  # what the query asks for decides; the rest break near-ties
    importance: float = 0.05
    recency: float = 0.05
    frequency: float = 0.05
    recency_half_life: float = 86_400.0  # seconds of the injected clock
    candidates: int = 40  # hits taken from each of the lexical and the vector search
    min_similarity: float = 0.3  # vector hits below this cosine are noise (one hash collision is ~0.2)
    vector: float = 0.3  # weight of vector similarity against BM25 in relevance (raise it for a semantic model)

    def __post_init__(self) -> None:
        for name in ("relevance", "importance", "recency", "frequency", "vector"):
            value = getattr(self, name)
            if isinstance(value, bool) or not (
                isinstance(value, (int, float)) and value >= 0.0 and math.isfinite(value)
            ):
                raise InvalidArgument(f"scoring weight {name} must be a finite number >= 0, got {value!r}")
        if not self.recency_half_life > 0:
            raise InvalidArgument(f"recency_half_life must be > 0, got {self.recency_half_life!r}")
        if self.candidates < 1:
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

    @property
    def distinct(self) -> bool:
        """Whether it matched on more than common words: a BM25 score of a term in under about a third of
        the pages, or, found by the vector search alone, a close vector. Only such matches bring the turns
        around them. (A short page shares a close hashed vector with a query of one common word.)"""
        if self.lexical_rank is not None:
            return self.bm25 >= DISTINCT_BM25
        return self.cosine >= DISTINCT_COSINE

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
    store: SwapStore,
    query: str,
    namespaces: Sequence[str],
    k: int,
    min_similarity: float = 0.0,
    vector_weight: float = 0.3,
) -> list[Candidate]:
    """Lexical and vector hits fused by score: relevance in [0, 1] is BM25 relative to the best hit's,
    plus ``vector_weight`` times the cosine similarity, over ``1 + vector_weight``.

    Scores, not ranks: rank fusion makes the 40th hit look nearly as relevant as the first, so the
    other parts of a page's score would decide, and a weak vector list would dilute a strong lexical one.
    """
    lexical = store.search_text(query, namespaces=namespaces, k=k)
    vector = [
        hit
        for hit in store.search_vector(store.embedder.embed([query])[0], namespaces=namespaces, k=k)
        if hit.score >= min_similarity
    ]
    lexical_rank = {hit.page_id: rank for rank, hit in enumerate(lexical, 1)}
    vector_rank = {hit.page_id: rank for rank, hit in enumerate(vector, 1)}
    best = lexical[0].score if lexical and lexical[0].score > 0 else 1.0
    bm25 = {hit.page_id: max(hit.score, 0.0) for hit in lexical}
    cosine = {hit.page_id: max(hit.score, 0.0) for hit in vector}
    fused = {page_id: value / best for page_id, value in bm25.items()}
    for page_id, value in cosine.items():
        fused[page_id] = fused.get(page_id, 0.0) + vector_weight * value
    return [
        Candidate(
            page_id,
            min(value / (1.0 + vector_weight), 1.0),
            lexical_rank.get(page_id),
            vector_rank.get(page_id),
            bm25=bm25.get(page_id, 0.0),
            cosine=cosine.get(page_id, 0.0),
        )
        for page_id, value in sorted(fused.items(), key=lambda item: (-item[1], item[0]))
    ]


def score(candidate: Candidate, page: Page, weights: ScoringWeights, now: float) -> Candidate:
    """Add importance, recency and frequency to a fused candidate."""
    age = max(0.0, now - (page.last_used if page.last_used is not None else now))
    recency = 0.5 ** (age / weights.recency_half_life)
    frequency = page.use_count / (page.use_count + 1.0)
    total = (
        weights.relevance * candidate.relevance
        + weights.importance * page.importance
        + weights.recency * recency
        + weights.frequency * frequency
    )
    return Candidate(
        candidate.page_id,
        candidate.relevance,
        candidate.lexical_rank,
        candidate.vector_rank,
        page.importance,
        recency,
        frequency,
        total,
        candidate.bm25,
        candidate.cosine,
    )
