"""Stable page ids: a kind prefix and a zero-padded counter, e.g. ``MSG-000042``."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable

from nexint_core.errors import InvalidArgument

__all__ = ["IdAllocator", "PageId"]

# reserve(kind, count, at_least) -> first number of ``count`` fresh ids, all >= at_least
Reserve = Callable[[str, int, int], int]

_PATTERN = re.compile(r"^([A-Z][A-Z0-9]{1,7})-(\d{1,12})$")
DEFAULT_WIDTH = 6
# Widths that match the memory-record format of the spec ("PRF-00012").
KIND_WIDTHS = {"PRF": 5, "RUL": 5, "EPI": 5}


class PageId(str):
    """A page id string such as ``MSG-000042``; ``PageId.next()`` draws a fresh one."""

    __slots__ = ()

    def __new__(cls, value: str) -> PageId:
        if isinstance(value, PageId):
            return value
        if not isinstance(value, str) or _PATTERN.match(value) is None:
            raise InvalidArgument(f"invalid page id {value!r}: expected KIND-NNNN, e.g. 'MSG-000042' or 'PRF-00012'")
        return super().__new__(cls, value)

    @property
    def kind(self) -> str:
        """The prefix before the dash."""
        return self.split("-", 1)[0]

    @property
    def number(self) -> int:
        """The counter after the dash."""
        return int(self.split("-", 1)[1])

    @classmethod
    def make(cls, kind: str, number: int) -> PageId:
        """Format ``kind`` and ``number`` with the kind's zero padding."""
        width = KIND_WIDTHS.get(kind, DEFAULT_WIDTH)
        return cls(f"{kind}-{number:0{width}d}")

    @classmethod
    def next(cls, kind: str = "MSG") -> PageId:
        """A process-wide fresh id of this kind (managers keep their own counters too)."""
        return _GLOBAL.next(kind)


class IdAllocator:
    """Per-kind counters that never reuse an id they have issued or observed."""

    __slots__ = ("_counters", "_limits", "_lock", "_reserve")

    BLOCK = 256

    def __init__(self, seen: Iterable[str] = (), *, reserve: Reserve | None = None) -> None:
        self._counters: dict[str, int] = {}
        self._limits: dict[str, int] = {}
        self._lock = threading.Lock()
        self._reserve = reserve
        for page_id in seen:
            self.observe(PageId(page_id))

    def next(self, kind: str = "MSG") -> PageId:
        """Issue the next id of ``kind`` (from a block reserved in the store, when there is one)."""
        if _PATTERN.match(f"{kind}-0") is None:
            raise InvalidArgument(f"invalid page id kind {kind!r}: use 2-8 uppercase letters or digits")
        with self._lock:
            number = self._counters.get(kind, 0) + 1
            if self._reserve is not None and number > self._limits.get(kind, 0):
                number = self._reserve(kind, self.BLOCK, number)
                self._limits[kind] = number + self.BLOCK - 1
            self._counters[kind] = number
        return PageId.make(kind, number)

    def observe(self, page_id: PageId) -> None:
        """Make sure this id is never issued again."""
        kind, _, digits = page_id.partition("-")
        number = int(digits)
        if self._counters.get(kind, 0) < number:
            with self._lock:
                if self._counters.get(kind, 0) < number:
                    self._counters[kind] = number

    def state(self) -> dict[str, int]:
        """The last number issued or observed per kind."""
        return dict(self._counters)

    def restore(self, state: dict[str, int]) -> None:
        """Return to an earlier :meth:`state` (used to undo a failed write)."""
        with self._lock:
            self._counters = dict(state)


_GLOBAL = IdAllocator()


def observe_global(page_id: PageId) -> None:
    """Keep ``PageId.next()`` from issuing an id that a manager already used."""
    _GLOBAL.observe(page_id)
