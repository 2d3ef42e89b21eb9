"""The eviction-policy protocol: track order, name a victim; the page table owns the accounting."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Protocol, runtime_checkable

__all__ = ["EvictionPolicy", "explain"]


@runtime_checkable
class EvictionPolicy(Protocol):
    """Anything with these four methods can choose eviction victims.

    Keys are eviction units (a page id, or ``"@group"`` for a tool-call group). The manager calls
    ``on_insert`` when a unit becomes resident, ``on_access`` when it is used, ``on_remove`` when it
    leaves (evicted, pinned or dropped), and ``victim`` for the unit to evict next (None if empty).
    Optional extras: ``name`` (used in event reasons), ``explain(key) -> str`` (why this key), and
    ``bind(importance)`` (receives a callable giving a unit's importance in [0, 1]).
    """

    def on_insert(self, key: Hashable) -> None: ...

    def on_access(self, key: Hashable) -> None: ...

    def on_remove(self, key: Hashable) -> None: ...

    def victim(self) -> Hashable | None: ...


def explain(policy: EvictionPolicy, key: Hashable) -> str:
    """The policy's own words for why ``key`` is its victim, if it has any."""
    describe: Callable[[Hashable], str] | None = getattr(policy, "explain", None)
    return describe(key) if describe is not None else "chosen by policy"
