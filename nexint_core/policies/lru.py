"""Least recently used, and first in first out."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

__all__ = ["FIFOPolicy", "LRUPolicy"]


class LRUPolicy:
    """Evict the unit used longest ago. All operations O(1)."""

    name = "LRU"

    def __init__(self) -> None:
        self._order: OrderedDict[Hashable, int] = OrderedDict()
        self._tick = 0

    def __len__(self) -> int:
        return len(self._order)

    def on_insert(self, key: Hashable) -> None:
        self._tick += 1
        self._order[key] = self._tick
        self._order.move_to_end(key)

    def on_access(self, key: Hashable) -> None:
        if key in self._order:
            self._tick += 1
            self._order[key] = self._tick
            self._order.move_to_end(key)

    def on_remove(self, key: Hashable) -> None:
        self._order.pop(key, None)

    def victim(self) -> Hashable | None:
        return next(iter(self._order), None)

    def explain(self, key: Hashable) -> str:
        return f"last used t={self._order.get(key, 0)}"


class FIFOPolicy:
    """Evict the unit that became resident first; accesses do not matter. All operations O(1)."""

    name = "FIFO"

    def __init__(self) -> None:
        self._order: OrderedDict[Hashable, int] = OrderedDict()
        self._tick = 0

    def __len__(self) -> int:
        return len(self._order)

    def on_insert(self, key: Hashable) -> None:
        if key not in self._order:
            self._tick += 1
            self._order[key] = self._tick

    def on_access(self, key: Hashable) -> None:
        return None

    def on_remove(self, key: Hashable) -> None:
        self._order.pop(key, None)

    def victim(self) -> Hashable | None:
        return next(iter(self._order), None)

    def explain(self, key: Hashable) -> str:
        return f"inserted t={self._order.get(key, 0)}"
