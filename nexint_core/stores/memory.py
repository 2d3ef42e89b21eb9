"""The in-memory swap store: the default, and the test double."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from nexint_core.embedders import Embedder, EmbedderSpec, content_terms, embed_texts, make_embedder
from nexint_core.lexical import LexicalIndex
from nexint_core.pages import Page, namespace_of
from nexint_core.stores.base import SearchHit, StoreBase, check_filter, matches, query_terms
from nexint_core.vector_index import VectorIndex

__all__ = ["InMemorySwapStore"]


class _Namespace:
    __slots__ = ("index", "lexical", "pending", "total")

    def __init__(self, dim: int) -> None:
        self.lexical = LexicalIndex()
        self.index = VectorIndex(dim, kind="flat")
        self.pending: dict[str, list[str]] = {}  # pages to embed at the next vector search, with their terms
        self.total = np.zeros(dim, dtype=np.float64)  # the sum of the vectors held: the centroid's numerator


class InMemorySwapStore(StoreBase):
    """Pages in a dict, BM25 over an inverted index, exact FAISS vectors; gone when the process ends.

    Embeddings are computed lazily, in one batch, before the first vector search that needs them.
    """

    keeps_copies = False  # holds the manager's own page objects: their content must stay in memory
    persistent = False  # gone with the process: it holds only what managers here wrote

    def __init__(self, embedder: EmbedderSpec | None = None) -> None:
        self.embedder: Embedder = make_embedder(embedder)
        self._pages: dict[str, Page] = {}
        self._seqs: dict[str, int] = {}  # page id -> its write number (the lexical index's key)
        self._by_seq: dict[int, str] = {}
        self._next_seq = 1
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
            seq = self._next_seq
            self._next_seq += 1
            self._seqs[page.id], self._by_seq[seq] = seq, page.id
            space = self._space(namespace_of(page))
            terms = content_terms(page.content)
            space.lexical.add(seq, terms)
            space.pending[page.id] = terms

    def _unindex(self, page: Page) -> None:
        space = self._space(namespace_of(page))
        space.pending.pop(page.id, None)
        seq = self._seqs.pop(page.id)
        del self._by_seq[seq]
        space.lexical.remove(seq, content_terms(page.content))
        vector_id = self._vector_ids.pop(page.id, None)
        if vector_id is not None:
            held = np.array([vector_id], dtype=np.int64)
            space.total -= space.index.vectors(held)[0]
            space.index.remove(held)
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
        scored: list[tuple[float, int]] = []
        for namespace in namespaces:
            space = self._namespaces.get(namespace)
            if space is None:
                continue
            fetch = k if not where else len(space.lexical)  # a filter may reject any of the best
            scored.extend((-score, seq) for seq, score in space.lexical.search(terms, fetch))
        scored.sort()
        hits = (SearchHit(self._by_seq[seq], -negative) for negative, seq in scored)
        return [hit for hit in hits if matches(self._pages[hit.page_id], where)][:k]

    def text_weight(self, query: str, *, namespaces: Sequence[str]) -> float:
        terms = query_terms(query)
        spaces = [self._namespaces[name] for name in namespaces if name in self._namespaces]
        return max((space.lexical.query_weight(terms) for space in spaces), default=0.0)

    def _embed_pending(self, space: _Namespace) -> None:
        pending = {
            page_id: terms
            for page_id, terms in space.pending.items()
            if page_id in self._pages and page_id not in self._vector_ids
        }
        space.pending.clear()
        if not pending:
            return
        ids = list(pending)
        vectors = embed_texts(self.embedder, [self._pages[page_id].content for page_id in ids], list(pending.values()))
        numbers = np.arange(self._next_vector, self._next_vector + len(ids), dtype=np.int64)
        self._next_vector += len(ids)
        for page_id, number in zip(ids, numbers, strict=True):
            self._vector_ids[page_id] = int(number)
            self._by_vector_id[int(number)] = page_id
        space.index.add(numbers, vectors)
        space.total += space.index.vectors(numbers).sum(axis=0, dtype=np.float64)  # as held, so removal undoes it

    def vector_centroid(self, namespaces: Sequence[str]) -> npt.NDArray[np.float32] | None:
        spaces = [self._namespaces[name] for name in namespaces if name in self._namespaces]
        for space in spaces:
            self._embed_pending(space)
        count = sum(len(space.index) for space in spaces)
        if not count:
            return None
        total = np.sum([space.total for space in spaces], axis=0)
        return np.asarray(total / count, dtype=np.float32)

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
