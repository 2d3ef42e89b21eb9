"""The page table: where every page lives, per-tier token totals, and the virtual token address space."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass

from nexint_core.errors import DuplicatePage, InvalidArgument, PageNotFound
from nexint_core.ids import PageId
from nexint_core.pages import Page, Tier

__all__ = ["PageTable", "PageTableEntry"]

_TIERS = tuple(Tier)
# Tiers indexed by their own dict. Swap holds nearly every page of a long history, so it is not
# indexed: keeping a million-entry dict in step on every eviction costs more than the rare listing.
_INDEXED = (Tier.CORE, Tier.ACTIVE, Tier.SUMMARY)


@dataclass(frozen=True, slots=True)
class PageTableEntry:
    """A snapshot of one page's row in the table."""

    page_id: str
    tier: Tier
    tokens: int
    vaddr: int
    quarantined: bool


class PageTable:
    """Maps page ids to pages; keeps token totals per tier in O(1) and virtual addresses in write order."""

    __slots__ = ("_by_tier", "_next_vaddr", "_pages", "_tokens", "_vids", "_vstarts", "removals")

    def __init__(self) -> None:
        self._pages: dict[str, Page] = {}
        self._by_tier: dict[Tier, dict[str, Page]] = {tier: {} for tier in _INDEXED}
        self._tokens: dict[Tier, int] = dict.fromkeys(_TIERS, 0)
        self._vstarts: list[int] = []
        self._vids: list[str] = []
        self._next_vaddr = 0
        self.removals = 0  # pages dropped so far: a walk's result holds until the next one

    def __len__(self) -> int:
        return len(self._pages)

    def __contains__(self, page_id: object) -> bool:
        return page_id in self._pages

    def __iter__(self) -> Iterator[Page]:
        return iter(self._pages.values())

    def get(self, page_id: str) -> Page:
        """The page with this id, or :class:`PageNotFound`."""
        try:
            return self._pages[page_id]
        except KeyError:
            raise PageNotFound(page_id) from None

    def find(self, page_id: str) -> Page | None:
        """The page with this id, or None (no exception on the hot path)."""
        return self._pages.get(page_id)

    def add(self, page: Page, tier: Tier) -> None:
        """Insert a counted page into ``tier`` and give it the next virtual token range."""
        if page.id in self._pages:
            raise DuplicatePage(f"page {page.id} is already in the page table")
        if page.tokens is None:
            raise InvalidArgument(f"page {page.id} has no token count")
        if page.vaddr < 0:
            page.vaddr = self._next_vaddr
        elif self._vstarts and page.vaddr < self._vstarts[-1]:
            raise InvalidArgument(f"page {page.id} virtual address {page.vaddr} is out of write order")
        self._vstarts.append(page.vaddr)
        self._vids.append(page.id)
        self._next_vaddr = max(self._next_vaddr, page.vaddr + page.tokens)
        page.tier = tier
        self._pages[page.id] = page
        if tier is not Tier.SWAP:
            self._by_tier[tier][page.id] = page
        self._tokens[tier] += page.tokens

    def move(self, page: Page, tier: Tier) -> Tier:
        """Move a page to ``tier``; returns the tier it left."""
        old = page.tier
        assert old is not None
        assert page.tokens is not None
        if old is not tier:
            if old is not Tier.SWAP:
                del self._by_tier[old][page.id]
            if tier is not Tier.SWAP:
                self._by_tier[tier][page.id] = page
            self._tokens[old] -= page.tokens
            self._tokens[tier] += page.tokens
            page.tier = tier
        return old

    def remove(self, page_id: str) -> Page:
        """Drop a page; its virtual range stays reserved so addresses never shift."""
        page = self.get(page_id)
        assert page.tier is not None
        assert page.tokens is not None
        del self._pages[page_id]
        if page.tier is not Tier.SWAP:
            del self._by_tier[page.tier][page_id]
        self._tokens[page.tier] -= page.tokens
        self.removals += 1
        return page

    def tokens(self, tier: Tier) -> int:
        """Total tokens in ``tier``, O(1)."""
        return self._tokens[tier]

    def count(self, tier: Tier) -> int:
        """Number of pages in ``tier``, O(1)."""
        if tier is Tier.SWAP:
            return len(self._pages) - sum(len(pages) for pages in self._by_tier.values())
        return len(self._by_tier[tier])

    def pages(self, tier: Tier) -> list[Page]:
        """Pages of ``tier`` in write (virtual address) order (swap: a scan of the whole table)."""
        if tier is Tier.SWAP:
            return [page for page in self._pages.values() if page.tier is Tier.SWAP]  # already in write order
        return sorted(self._by_tier[tier].values(), key=_vaddr)

    def page_at(self, vaddr: int) -> PageId | None:
        """The page owning virtual token index ``vaddr`` (O(log n)); None for a hole or a dropped page."""
        index = bisect_right(self._vstarts, vaddr) - 1
        if index < 0:
            return None
        page = self._pages.get(self._vids[index])
        if page is None or page.tokens is None or vaddr >= page.vaddr + page.tokens:
            return None
        return page.id

    def walk(self, page: Page, step: int) -> Iterator[Page]:
        """The live pages written before (``step=-1``, nearest first) or after (``step=1``) ``page``: one
        O(log n) search, then O(1) a page (pages are only ever appended to the write order)."""
        index = bisect_right(self._vstarts, page.vaddr) - 1
        while index >= 0 and self._vids[index] != page.id:
            index -= 1  # zero-token pages share a start address
        if index < 0:
            return
        vids, pages = self._vids, self._pages
        index += step
        while 0 <= index < len(vids):
            other = pages.get(vids[index])
            if other is not None:
                yield other
            index += step

    def neighbour(self, page: Page, step: int, *, reach: int = 64) -> Page | None:
        """The live page written just before (``step=-1``) or after (``step=1``) ``page``, O(log n)."""
        index = bisect_right(self._vstarts, page.vaddr) - 1
        while index >= 0 and self._vids[index] != page.id:
            index -= 1  # zero-token pages share a start address
        if index < 0:
            return None
        for _ in range(reach):
            index += step
            if not 0 <= index < len(self._vids):
                return None
            other = self._pages.get(self._vids[index])
            if other is not None:
                return other
        return None

    @property
    def virtual_size(self) -> int:
        """Tokens ever written: the end of the virtual address space."""
        return self._next_vaddr

    def entry(self, page_id: str) -> PageTableEntry:
        """A snapshot of one row."""
        page = self.get(page_id)
        assert page.tier is not None
        assert page.tokens is not None
        return PageTableEntry(page.id, page.tier, page.tokens, page.vaddr, page.quarantined)

    def snapshot(self) -> dict[str, PageTableEntry]:
        """Every row, keyed by page id."""
        return {page_id: self.entry(page_id) for page_id in self._pages}


def _vaddr(page: Page) -> int:
    return page.vaddr
