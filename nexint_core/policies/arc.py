"""Adaptive replacement (ARC, Megiddo & Modha 2003), adapted to on-demand victims of variable size."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

__all__ = ["ARCPolicy"]


class ARCPolicy:
    """Balance recency (T1: seen once) against frequency (T2: seen again), steered by ghost hits.

    Evicted keys are remembered in ghost lists B1/B2; re-inserting a ghost from B1 grows the target
    size ``p`` of T1, one from B2 shrinks it. The cache size ``c`` is the number of resident units,
    since the manager's budget is in tokens, not slots. Every operation is O(1).
    """

    name = "ARC"

    def __init__(self) -> None:
        self._t1: OrderedDict[Hashable, None] = OrderedDict()
        self._t2: OrderedDict[Hashable, None] = OrderedDict()
        self._b1: OrderedDict[Hashable, None] = OrderedDict()
        self._b2: OrderedDict[Hashable, None] = OrderedDict()
        self._p = 0.0
        self._pending: Hashable | None = None

    def __len__(self) -> int:
        return len(self._t1) + len(self._t2)

    def _capacity(self) -> int:
        return max(1, len(self._t1) + len(self._t2))

    def _trim_ghosts(self) -> None:
        c = self._capacity()
        while len(self._b1) > c:
            self._b1.popitem(last=False)
        while len(self._b2) > c:
            self._b2.popitem(last=False)

    def on_insert(self, key: Hashable) -> None:
        if key in self._t1 or key in self._t2:
            self.on_access(key)
            return
        c = self._capacity()
        if key in self._b1:
            self._p = min(float(c), self._p + max(1.0, len(self._b2) / len(self._b1)))
            del self._b1[key]
            self._t2[key] = None
        elif key in self._b2:
            self._p = max(0.0, self._p - max(1.0, len(self._b1) / len(self._b2)))
            del self._b2[key]
            self._t2[key] = None
        else:
            self._t1[key] = None
        self._trim_ghosts()

    def on_access(self, key: Hashable) -> None:
        if key in self._t1:
            del self._t1[key]
            self._t2[key] = None
        elif key in self._t2:
            self._t2.move_to_end(key)

    def on_remove(self, key: Hashable) -> None:
        evicted = key == self._pending
        self._pending = None
        if key in self._t1:
            del self._t1[key]
            if evicted:
                self._b1[key] = None
        elif key in self._t2:
            del self._t2[key]
            if evicted:
                self._b2[key] = None
        else:
            self._b1.pop(key, None)
            self._b2.pop(key, None)
        self._trim_ghosts()

    def victim(self) -> Hashable | None:
        if self._t1 and (len(self._t1) > self._p or not self._t2):
            key: Hashable | None = next(iter(self._t1))
        else:
            key = next(iter(self._t2), None)
        self._pending = key
        return key

    def explain(self, key: Hashable) -> str:
        where = "T1 (seen once)" if key in self._t1 else "T2 (seen again)"
        return f"LRU end of {where}, |T1|={len(self._t1)} |T2|={len(self._t2)} target p={self._p:.1f}"
