"""The swap store protocol and the in-memory store (the default, and the test double)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

from nexint_core.pages import Page

__all__ = ["InMemorySwapStore", "SwapStore"]


@runtime_checkable
class SwapStore(Protocol):
    """Where pages are archived. The manager writes every page through on allocation."""

    def put(self, pages: Sequence[Page]) -> None:
        """Store (or overwrite) pages; when this returns, they are durable for this store's kind."""
        ...

    def get(self, page_id: str) -> Page | None:
        """The stored page, or None."""
        ...

    def delete(self, page_ids: Sequence[str]) -> None:
        """Forget pages; unknown ids are ignored."""
        ...

    def __contains__(self, page_id: object) -> bool: ...

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[Page]: ...


class InMemorySwapStore:
    """A dict of pages: fast, complete, gone when the process ends."""

    __slots__ = ("_pages",)

    def __init__(self) -> None:
        self._pages: dict[str, Page] = {}

    def put(self, pages: Sequence[Page]) -> None:
        for page in pages:
            self._pages[page.id] = page

    def get(self, page_id: str) -> Page | None:
        return self._pages.get(page_id)

    def delete(self, page_ids: Sequence[str]) -> None:
        for page_id in page_ids:
            self._pages.pop(page_id, None)

    def __contains__(self, page_id: object) -> bool:
        return page_id in self._pages

    def __len__(self) -> int:
        return len(self._pages)

    def __iter__(self) -> Iterator[Page]:
        return iter(self._pages.values())
