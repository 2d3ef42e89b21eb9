"""Eviction policies, selectable by name (case-insensitive) or passed as an object."""

from __future__ import annotations

from collections.abc import Callable

from nexint_core.errors import InvalidArgument, UnknownPolicy
from nexint_core.policies.arc import ARCPolicy
from nexint_core.policies.base import EvictionPolicy, explain
from nexint_core.policies.lfu import LFUPolicy
from nexint_core.policies.lru import FIFOPolicy, LRUPolicy
from nexint_core.policies.scored import ImportancePolicy

__all__ = [
    "POLICY_NAMES",
    "ARCPolicy",
    "EvictionPolicy",
    "FIFOPolicy",
    "ImportancePolicy",
    "LFUPolicy",
    "LRUPolicy",
    "explain",
    "make_policy",
    "policy_name",
]

_FACTORIES: dict[str, Callable[[], EvictionPolicy]] = {
    "lru": LRUPolicy,
    "lfu": LFUPolicy,
    "fifo": FIFOPolicy,
    "arc": ARCPolicy,
    "importance": ImportancePolicy,
}
_ALIASES = {"importance+recency": "importance", "scored": "importance"}
POLICY_NAMES: tuple[str, ...] = ("LRU", "LFU", "FIFO", "ARC", "importance")


def make_policy(spec: str | EvictionPolicy) -> EvictionPolicy:
    """A fresh policy for a name, or the given policy object itself."""
    if isinstance(spec, str):
        key = spec.strip().lower()
        factory = _FACTORIES.get(_ALIASES.get(key, key))
        if factory is None:
            raise UnknownPolicy(f"unknown policy {spec!r}; valid names: {', '.join(POLICY_NAMES)}")
        return factory()
    if isinstance(spec, EvictionPolicy):
        return spec
    raise InvalidArgument(
        f"policy must be a name ({', '.join(POLICY_NAMES)}) or an object with "
        f"on_insert/on_access/on_remove/victim, got {spec!r}"
    )


def policy_name(policy: EvictionPolicy) -> str:
    """The name events use for this policy."""
    name = getattr(policy, "name", None)
    return name if isinstance(name, str) else type(policy).__name__
