"""The store boundary: what every swap store does, what a persistent one offers, and their defaults.

:class:`SwapStore` is the small protocol a user's store implements. :class:`PersistentStore` declares
every capability the manager calls beyond it (ids, events, flush, preload, contents, close), and
:class:`StoreBase` implements each with a no-op default, so the manager calls methods and never asks
whether a store has them. :class:`SwapStoreAdapter` lifts a plain :class:`SwapStore` to the full boundary.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from typing import NamedTuple, Protocol, TypeVar, runtime_checkable

import numpy as np
import numpy.typing as npt

from nexint_core.embedders import Embedder, content_terms
from nexint_core.errors import InvalidArgument
from nexint_core.events import EventSink, PagingEvent
from nexint_core.pages import Page

__all__ = [
    "FILTER_FIELDS",
    "PersistentStore",
    "SearchHit",
    "StoreBase",
    "SwapStore",
    "SwapStoreAdapter",
    "check_filter",
    "matches",
    "query_terms",
]

# Page fields a search may filter on with equality.
FILTER_FIELDS = frozenset({"role", "tier", "quarantined", "group_id", "frame_id"})
_S = TypeVar("_S", bound="StoreBase")


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


@runtime_checkable
class PersistentStore(SwapStore, Protocol):
    """Every capability the manager uses beyond :class:`SwapStore` (:class:`StoreBase` has the defaults)."""

    @property
    def keeps_copies(self) -> bool:
        """Whether the store keeps its own copy of every page, so the manager may release swapped content."""
        ...

    @property
    def persistent(self) -> bool:
        """Whether the store may hold pages no manager in this process wrote (it outlives the process, or
        other processes write to it): a manager with an empty page table still searches it."""
        ...

    @property
    def read_only(self) -> bool:
        """Whether the store refuses every write (opened read-only): a manager on it records nothing."""
        ...

    @property
    def pending_events(self) -> int:
        """Events buffered for the next transaction."""
        ...

    def reserve_ids(self, kind: str, count: int, at_least: int) -> int:
        """Reserve ``count`` ids of ``kind``, none below ``at_least``, that no manager sharing this store
        has used; returns the first number."""
        ...

    def last_event_seq(self, namespace: str) -> int:
        """The number of the last event persisted for ``namespace`` (0 if none)."""
        ...

    def event_sink(self, namespace: str) -> EventSink | None:
        """A sink persisting one manager's events, or None if the store keeps no log."""
        ...

    def flush(self) -> None:
        """Write buffered events (and the tier changes they carry) now."""
        ...

    def preload(self, namespaces: Sequence[str]) -> None:
        """Start loading these namespaces' search indexes in the background."""
        ...

    def contents(self, page_ids: Sequence[str]) -> dict[str, str]:
        """The content of each stored page among ``page_ids``."""
        ...

    def text_weight(self, query: str, *, namespaces: Sequence[str]) -> float:
        """The BM25 score a page explaining all of ``query`` would get in ``namespaces`` (see
        :meth:`~nexint_core.lexical.LexicalIndex.query_weight`); 0 when the store cannot tell."""
        ...

    def vector_centroid(self, namespaces: Sequence[str]) -> npt.NDArray[np.float32] | None:
        """The mean of the stored vectors of ``namespaces`` (what every page shares: the speakers' names, the
        conversation's own words), which page-in takes off the query; None when the store cannot tell."""
        ...

    def events(self, namespace: str | None = None) -> list[PagingEvent]:
        """The persisted event log (of one namespace, if given), in order."""
        ...

    def close(self) -> None:
        """Flush and release what the store holds open."""
        ...


class StoreBase(ABC):
    """A swap store with every :class:`PersistentStore` capability as a no-op default.

    Subclasses implement the :class:`SwapStore` methods and override the capabilities they offer.
    """

    embedder: Embedder
    keeps_copies: bool = False
    persistent: bool = True  # unless a store knows better, it may hold pages written elsewhere
    read_only: bool = False

    @abstractmethod
    def put(self, pages: Sequence[Page]) -> None:
        """Store (or overwrite) pages; when this returns they are durable for this store's kind."""

    @abstractmethod
    def get(self, page_id: str) -> Page | None:
        """The stored page, or None."""

    @abstractmethod
    def delete(self, page_ids: Sequence[str]) -> None:
        """Forget pages; unknown ids are ignored."""

    @abstractmethod
    def search_text(
        self, query: str, *, namespaces: Sequence[str], k: int = 20, where: Mapping[str, object] | None = None
    ) -> list[SearchHit]:
        """Lexical (BM25) search within ``namespaces``, best first."""

    @abstractmethod
    def search_vector(
        self,
        vector: npt.NDArray[np.float32],
        *,
        namespaces: Sequence[str],
        k: int = 20,
        where: Mapping[str, object] | None = None,
    ) -> list[SearchHit]:
        """Nearest pages by cosine similarity within ``namespaces``, best first."""

    @abstractmethod
    def scan(self, namespaces: Sequence[str] | None = None) -> Iterator[Page]:
        """Every stored page (of ``namespaces``, if given) in write order, as copies the caller owns."""

    @abstractmethod
    def __contains__(self, page_id: object) -> bool: ...

    @abstractmethod
    def __len__(self) -> int: ...

    @property
    def pending_events(self) -> int:
        """Events buffered for the next transaction (none by default)."""
        return 0

    def reserve_ids(self, kind: str, count: int, at_least: int) -> int:
        """Reserve ids; by default the store shares no counter, so the first free number is ``at_least``."""
        return at_least

    def last_event_seq(self, namespace: str) -> int:
        """The number of the last event persisted for ``namespace`` (by default none is: 0)."""
        return 0

    def event_sink(self, namespace: str) -> EventSink | None:
        """A sink persisting one manager's events (by default none: the store keeps no log)."""
        return None

    def flush(self) -> None:  # noqa: B027 (a no-op default, on purpose)
        """Write buffered events now (by default nothing is buffered)."""

    def preload(self, namespaces: Sequence[str]) -> None:  # noqa: B027 (a no-op default, on purpose)
        """Start loading search indexes in the background (by default there is nothing to load)."""

    def contents(self, page_ids: Sequence[str]) -> dict[str, str]:
        """The content of each stored page among ``page_ids`` (by default read with :meth:`get`)."""
        found: dict[str, str] = {}
        for page_id in page_ids:
            page = self.get(page_id)
            if page is not None:
                found[page_id] = page.content
        return found

    def text_weight(self, query: str, *, namespaces: Sequence[str]) -> float:
        """A full match's BM25 score for ``query`` (by default unknown: 0, and page-in normalizes by its best hit)."""
        return 0.0

    def vector_centroid(self, namespaces: Sequence[str]) -> npt.NDArray[np.float32] | None:
        """The mean stored vector (by default unknown: None, and page-in searches with the query as it is)."""
        return None

    def events(self, namespace: str | None = None) -> list[PagingEvent]:
        """The persisted event log (by default none is kept: empty)."""
        return []

    def close(self) -> None:  # noqa: B027 (a no-op default, on purpose)
        """Release what the store holds open (by default nothing)."""

    def __iter__(self) -> Iterator[Page]:
        return self.scan()

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SwapStoreAdapter(StoreBase):
    """A plain :class:`SwapStore` behind the full boundary: its methods, and every capability's default."""

    def __init__(self, store: SwapStore) -> None:
        self.store = store

    @property
    def embedder(self) -> Embedder:
        return self.store.embedder

    @embedder.setter
    def embedder(self, embedder: Embedder) -> None:
        self.store.embedder = embedder

    def put(self, pages: Sequence[Page]) -> None:
        self.store.put(pages)

    def get(self, page_id: str) -> Page | None:
        return self.store.get(page_id)

    def delete(self, page_ids: Sequence[str]) -> None:
        self.store.delete(page_ids)

    def search_text(
        self, query: str, *, namespaces: Sequence[str], k: int = 20, where: Mapping[str, object] | None = None
    ) -> list[SearchHit]:
        return self.store.search_text(query, namespaces=namespaces, k=k, where=where)

    def search_vector(
        self,
        vector: npt.NDArray[np.float32],
        *,
        namespaces: Sequence[str],
        k: int = 20,
        where: Mapping[str, object] | None = None,
    ) -> list[SearchHit]:
        return self.store.search_vector(vector, namespaces=namespaces, k=k, where=where)

    def scan(self, namespaces: Sequence[str] | None = None) -> Iterator[Page]:
        return self.store.scan(namespaces)

    def __contains__(self, page_id: object) -> bool:
        return page_id in self.store

    def __len__(self) -> int:
        return len(self.store)

    def __repr__(self) -> str:
        return f"SwapStoreAdapter({self.store!r})"


def query_terms(text: str) -> list[str]:
    """Distinct stemmed content words of a query, in order (the latest queries' are remembered: a page-in
    asks for them twice, and a query is often searched again)."""
    return list(_query_terms(text))


@lru_cache(maxsize=64)
def _query_terms(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(content_terms(text)))


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
