"""The swap store protocol and the in-memory store (the default, and the test double)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from nexint_core.embedders import Embedder, HashingEmbedder, content_words, stem
from nexint_core.errors import InvalidArgument
from nexint_core.pages import Page, namespace_of
from nexint_core.vector_index import VectorIndex

__all__ = ["FILTER_FIELDS", "POSTING_BUDGET", "InMemorySwapStore", "SearchHit", "SwapStore", "matches", "query_terms"]

# Page fields a search may filter on with equality.
FILTER_FIELDS = frozenset({"role", "tier", "quarantined", "group_id", "frame_id"})


class SearchHit(NamedTuple):
    """One search result: a page id and its score (BM25 or cosine; higher is better)."""

    page_id: str
    score: float


@runtime_checkable
class SwapStore(Protocol):
    """Where pages are archived and searched. The manager writes every page through on allocation."""

    embedder: Embedder

    def put(self, pages: Sequence[Page]) -> None:
        """Store (or overwrite) pages; when this returns they are durable for this store's kind."""
        ...

    def get(self, page_id: str) -> Page | None:
        """The stored page, or None."""
        ...

    def delete(self, page_ids: Sequence[str]) -> None:
        """Forget pages; unknown ids are ignored."""
        ...

    def search_text(
        self, query: str, *, namespaces: Sequence[str], k: int = 20, where: Mapping[str, object] | None = None
    ) -> list[SearchHit]:
        """Lexical (BM25) search within ``namespaces``, best first."""
        ...

    def search_vector(
        self,
        vector: npt.NDArray[np.float32],
        *,
        namespaces: Sequence[str],
        k: int = 20,
        where: Mapping[str, object] | None = None,
    ) -> list[SearchHit]:
        """Nearest pages by cosine similarity within ``namespaces``, best first."""
        ...

    def scan(self, namespaces: Sequence[str] | None = None) -> Iterator[Page]:
        """Every stored page (of ``namespaces``, if given) in write order, as copies the caller owns."""
        ...

    def __contains__(self, page_id: object) -> bool: ...

    def __len__(self) -> int: ...


# Postings a lexical query may score: its rarest terms are kept until this is reached, so BM25 costs at
# most a few ms however large the archive (a term in more pages than this is dropped from the query).
POSTING_BUDGET = 5_000


def query_terms(text: str) -> list[str]:
    """Distinct stemmed content words of a query, in order."""
    return list(dict.fromkeys(stem(word) for word in content_words(text)))


def matches(page: Page, where: Mapping[str, object] | None) -> bool:
    """Whether ``page`` passes an equality filter."""
    if not where:
        return True
    return all(getattr(page, name) == value for name, value in where.items())


def check_filter(where: Mapping[str, object] | None) -> None:
    """Reject filters on fields that cannot be filtered."""
    if where:
        unknown = set(where) - FILTER_FIELDS
        if unknown:
            raise InvalidArgument(f"cannot filter on {sorted(unknown)}; allowed: {sorted(FILTER_FIELDS)}")


class _Namespace:
    __slots__ = ("doc_len", "index", "pending", "postings", "total_len")

    def __init__(self, dim: int) -> None:
        self.postings: dict[str, dict[str, int]] = {}
        self.doc_len: dict[str, int] = {}
        self.total_len = 0
        self.index = VectorIndex(dim, kind="flat")
        self.pending: dict[str, None] = {}


class InMemorySwapStore:
    """Pages in a dict, BM25 over an inverted index, exact FAISS vectors; gone when the process ends.

    Embeddings are computed lazily, in one batch, before the first vector search that needs them.
    """

    K1, B = 1.2, 0.75
    durable = False  # holds the manager's own page objects: their content must stay in memory

    def __init__(self, embedder: Embedder | None = None) -> None:
        self.embedder: Embedder = embedder if embedder is not None else HashingEmbedder()
        self._pages: dict[str, Page] = {}
        self._namespaces: dict[str, _Namespace] = {}
        self._vector_ids: dict[str, int] = {}
        self._by_vector_id: dict[int, str] = {}
        self._next_vector = 1
        self._id_counters: dict[str, int] = {}

    def _space(self, namespace: str) -> _Namespace:
        space = self._namespaces.get(namespace)
        if space is None:
            space = self._namespaces[namespace] = _Namespace(self.embedder.dim)
        return space

    def put(self, pages: Sequence[Page]) -> None:
        for page in pages:
            if page.id in self._pages:
                self._unindex(self._pages[page.id])
            self._pages[page.id] = page
            space = self._space(namespace_of(page))
            terms = Counter(stem(word) for word in content_words(page.content))
            for term, count in terms.items():
                space.postings.setdefault(term, {})[page.id] = count
            length = sum(terms.values())
            space.doc_len[page.id] = length
            space.total_len += length
            space.pending[page.id] = None

    def _unindex(self, page: Page) -> None:
        space = self._space(namespace_of(page))
        space.pending.pop(page.id, None)
        for term in {stem(word) for word in content_words(page.content)}:
            postings = space.postings.get(term)
            if postings is not None:
                postings.pop(page.id, None)
                if not postings:
                    del space.postings[term]
        space.total_len -= space.doc_len.pop(page.id, 0)
        vector_id = self._vector_ids.pop(page.id, None)
        if vector_id is not None:
            space.index.remove(np.array([vector_id], dtype=np.int64))
            del self._by_vector_id[vector_id]

    def get(self, page_id: str) -> Page | None:
        return self._pages.get(page_id)

    def reserve_ids(self, kind: str, count: int, at_least: int) -> int:
        """Reserve ``count`` ids of ``kind`` that no manager sharing this store has used."""
        last = max(self._id_counters.get(kind, 0), at_least - 1) + count
        self._id_counters[kind] = last
        return last - count + 1

    def delete(self, page_ids: Sequence[str]) -> None:
        for page_id in page_ids:
            page = self._pages.pop(page_id, None)
            if page is not None:
                self._unindex(page)

    def search_text(
        self, query: str, *, namespaces: Sequence[str], k: int = 20, where: Mapping[str, object] | None = None
    ) -> list[SearchHit]:
        check_filter(where)
        terms = query_terms(query)
        scores: dict[str, float] = {}
        for namespace in namespaces:
            space = self._namespaces.get(namespace)
            if space is None or not space.doc_len:
                continue
            n = len(space.doc_len)
            avgdl = space.total_len / n or 1.0
            lists = sorted(
                ((term, space.postings[term]) for term in terms if space.postings.get(term)),
                key=lambda item: (len(item[1]), item[0]),
            )
            scored = 0
            for _, postings in lists:
                scored += len(postings)
                if scored > POSTING_BUDGET:
                    break  # the rarest terms carry the idf; a term this common would cost the most
                idf = math.log(1.0 + (n - len(postings) + 0.5) / (len(postings) + 0.5))
                for page_id, tf in postings.items():
                    norm = tf + self.K1 * (1.0 - self.B + self.B * space.doc_len[page_id] / avgdl)
                    scores[page_id] = scores.get(page_id, 0.0) + idf * tf * (self.K1 + 1.0) / norm
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
        hits = [SearchHit(pid, score) for pid, score in ranked if matches(self._pages[pid], where)]
        return hits[:k]

    def _embed_pending(self, space: _Namespace) -> None:
        ids = [page_id for page_id in space.pending if page_id in self._pages and page_id not in self._vector_ids]
        space.pending.clear()
        if not ids:
            return
        vectors = self.embedder.embed([self._pages[page_id].content for page_id in ids])
        numbers = np.arange(self._next_vector, self._next_vector + len(ids), dtype=np.int64)
        self._next_vector += len(ids)
        for page_id, number in zip(ids, numbers, strict=True):
            self._vector_ids[page_id] = int(number)
            self._by_vector_id[int(number)] = page_id
        space.index.add(numbers, vectors)

    def search_vector(
        self,
        vector: npt.NDArray[np.float32],
        *,
        namespaces: Sequence[str],
        k: int = 20,
        where: Mapping[str, object] | None = None,
    ) -> list[SearchHit]:
        check_filter(where)
        hits: list[SearchHit] = []
        for namespace in namespaces:
            space = self._namespaces.get(namespace)
            if space is None:
                continue
            self._embed_pending(space)
            fetch = k if not where else len(space.index)
            for number, score in space.index.search(vector, fetch):
                page_id = self._by_vector_id[number]
                if matches(self._pages[page_id], where):
                    hits.append(SearchHit(page_id, score))
        hits.sort(key=lambda hit: (-hit.score, hit.page_id))
        return hits[:k]

    def scan(self, namespaces: Sequence[str] | None = None) -> Iterator[Page]:
        wanted = None if namespaces is None else set(namespaces)
        return (replace(page) for page in list(self._pages.values()) if wanted is None or namespace_of(page) in wanted)

    def __contains__(self, page_id: object) -> bool:
        return page_id in self._pages

    def __len__(self) -> int:
        return len(self._pages)

    def __iter__(self) -> Iterator[Page]:
        return self.scan()
