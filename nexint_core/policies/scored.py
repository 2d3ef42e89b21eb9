"""Importance + recency + frequency: evict the unit with the lowest weighted score, in O(log n)."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Hashable

from nexint_core.errors import InvalidArgument

__all__ = ["ImportancePolicy"]


def _default_importance(key: Hashable) -> float:
    return 0.5


class ImportancePolicy:
    """Score = w_importance * importance + w_recency * tick / horizon + w_frequency * uses / (uses + 1).

    The recency term grows with the policy's logical tick, so a unit used ``horizon`` ticks ago
    has lost ``w_recency`` against a fresh one. Differences between scores never change with time,
    so a heap with lazy deletion keeps insert/access/remove/victim O(log n) amortized.
    """

    name = "importance"

    def __init__(
        self,
        *,
        importance: float = 0.5,
        recency: float = 0.35,
        frequency: float = 0.15,
        horizon: int = 100,
    ) -> None:
        for label, weight in (("importance", importance), ("recency", recency), ("frequency", frequency)):
            if not weight >= 0.0:
                raise InvalidArgument(f"weight {label} must be non-negative, got {weight!r}")
        if horizon < 1:
            raise InvalidArgument(f"horizon must be at least 1 tick, got {horizon!r}")
        self.weights = (float(importance), float(recency), float(frequency))
        self.horizon = horizon
        self._importance: Callable[[Hashable], float] = _default_importance
        self._heap: list[tuple[float, int, Hashable]] = []
        self._live: dict[Hashable, tuple[float, int, int]] = {}  # key -> (score, seq, uses)
        self._tick = 0

    def __len__(self) -> int:
        return len(self._live)

    def bind(self, importance: Callable[[Hashable], float]) -> None:
        """Receive the manager's lookup of a unit's importance."""
        self._importance = importance

    def _score(self, key: Hashable, uses: int) -> float:
        w_i, w_r, w_f = self.weights
        return w_i * self._importance(key) + w_r * self._tick / self.horizon + w_f * uses / (uses + 1)

    def _push(self, key: Hashable, uses: int) -> None:
        self._tick += 1
        score = self._score(key, uses)
        self._live[key] = (score, self._tick, uses)
        heapq.heappush(self._heap, (score, self._tick, key))
        if len(self._heap) > 2 * len(self._live) + 64:
            self._heap = [(s, q, k) for k, (s, q, _) in self._live.items()]
            heapq.heapify(self._heap)

    def on_insert(self, key: Hashable) -> None:
        entry = self._live.get(key)
        self._push(key, 1 if entry is None else entry[2] + 1)

    def on_access(self, key: Hashable) -> None:
        entry = self._live.get(key)
        if entry is not None:
            self._push(key, entry[2] + 1)

    def on_remove(self, key: Hashable) -> None:
        self._live.pop(key, None)

    def victim(self) -> Hashable | None:
        heap, live = self._heap, self._live
        while heap:
            _score, seq, key = heap[0]
            entry = live.get(key)
            if entry is not None and entry[1] == seq:
                return key
            heapq.heappop(heap)
        return None

    def explain(self, key: Hashable) -> str:
        score, seq, uses = self._live.get(key, (0.0, 0, 0))
        importance = self._importance(key)
        return f"lowest score {score:.3f} (importance {importance:.2f}, last used t={seq}, used {uses} times)"
