"""Least frequently used, with least-recent tie-breaking, in O(1) (frequency buckets)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

__all__ = ["LFUPolicy"]


class LFUPolicy:
    """Evict the unit with the fewest uses since it became resident; ties go to the least recent.

    Buckets of equal frequency form a doubly linked list in increasing frequency, so insert,
    access, remove and victim are all O(1).
    """

    name = "LFU"

    def __init__(self) -> None:
        self._freq: dict[Hashable, int] = {}
        self._buckets: dict[int, OrderedDict[Hashable, None]] = {}
        self._next: dict[int, int | None] = {}
        self._prev: dict[int, int | None] = {}
        self._head: int | None = None

    def __len__(self) -> int:
        return len(self._freq)

    def _link_after(self, freq: int, after: int | None) -> None:
        self._buckets[freq] = OrderedDict()
        if after is None:
            self._prev[freq], self._next[freq] = None, self._head
            if self._head is not None:
                self._prev[self._head] = freq
            self._head = freq
        else:
            following = self._next[after]
            self._prev[freq], self._next[freq] = after, following
            self._next[after] = freq
            if following is not None:
                self._prev[following] = freq

    def _unlink_if_empty(self, freq: int) -> None:
        if self._buckets[freq]:
            return
        before, after = self._prev.pop(freq), self._next.pop(freq)
        del self._buckets[freq]
        if before is None:
            self._head = after
        else:
            self._next[before] = after
        if after is not None:
            self._prev[after] = before

    def on_insert(self, key: Hashable) -> None:
        if key in self._freq:
            self.on_access(key)
            return
        if self._head != 1:
            self._link_after(1, None)
        self._freq[key] = 1
        self._buckets[1][key] = None

    def on_access(self, key: Hashable) -> None:
        freq = self._freq.get(key)
        if freq is None:
            return
        higher = freq + 1
        if higher not in self._buckets:
            self._link_after(higher, freq)
        del self._buckets[freq][key]
        self._buckets[higher][key] = None
        self._freq[key] = higher
        self._unlink_if_empty(freq)

    def on_remove(self, key: Hashable) -> None:
        freq = self._freq.pop(key, None)
        if freq is not None:
            del self._buckets[freq][key]
            self._unlink_if_empty(freq)

    def victim(self) -> Hashable | None:
        if self._head is None:
            return None
        return next(iter(self._buckets[self._head]))

    def explain(self, key: Hashable) -> str:
        return f"used {self._freq.get(key, 0)} times"
