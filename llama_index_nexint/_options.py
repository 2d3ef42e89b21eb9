"""How a LlamaIndex adapter gets its manager and the token limit of what it returns."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from nexint_core.manager import MemoryManager, open_manager
from nexint_core.policies import EvictionPolicy
from nexint_core.stores import SwapStore

__all__ = ["DEFAULT_TOKEN_LIMIT", "open_for_adapter"]

DEFAULT_TOKEN_LIMIT = 3000  # ChatMemoryBuffer's default


def open_for_adapter(
    manager: MemoryManager | None,
    *,
    token_limit: int | None,
    store: SwapStore | str | os.PathLike[str] | None,
    policy: str | EvictionPolicy | None,
    namespace: str | None,
    options: Mapping[str, Any],
    adapter: str,
) -> tuple[MemoryManager, bool, int]:
    """``(manager, owned, token_limit)``: with a ready manager, ``token_limit`` is only the budget of
    ``get()`` (default: the manager's limit); without one, it is also the new manager's limit."""
    opened, owned = open_manager(
        manager,
        default_limit=DEFAULT_TOKEN_LIMIT,
        token_limit=None if manager is not None else token_limit,
        store=store,
        policy=policy,
        namespace=namespace,
        options=options,
        adapter=adapter,
    )
    return opened, owned, opened.limit_tokens if token_limit is None else token_limit
