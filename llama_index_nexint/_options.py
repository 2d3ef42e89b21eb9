"""The manager an adapter works on: one passed in, or one built from the usual keyword arguments."""

from __future__ import annotations

import os
from typing import Any

from nexint_core import EvictionPolicy, InvalidArgument, MemoryManager, SwapStore

__all__ = ["DEFAULT_TOKEN_LIMIT", "resolve_manager"]

DEFAULT_TOKEN_LIMIT = 3000  # ChatMemoryBuffer's default


def resolve_manager(
    manager: MemoryManager | None,
    token_limit: int | None,
    store: SwapStore | str | os.PathLike[str] | None,
    policy: str | EvictionPolicy | None,
    namespace: str | None,
    options: dict[str, Any],
) -> tuple[MemoryManager, bool]:
    """``(manager, owned)``: the given manager (not owned), or a new one (owned: the adapter closes it)."""
    if manager is not None:
        if not isinstance(manager, MemoryManager):
            raise InvalidArgument(f"manager must be a MemoryManager, got {type(manager).__name__}")
        extra = [name for name, value in (("store", store), ("policy", policy), ("namespace", namespace)) if value]
        if extra or options:
            raise InvalidArgument(
                f"pass a ready manager or the options to build one, not both (got manager and {extra + list(options)})"
            )
        return manager, False
    built = MemoryManager(
        DEFAULT_TOKEN_LIMIT if token_limit is None else token_limit,
        policy="LRU" if policy is None else policy,
        store=store,
        namespace="default" if namespace is None else namespace,
        **options,
    )
    return built, True
