"""Swap stores: the boundary the manager calls (:mod:`.base`) and the stores behind it.

:class:`InMemorySwapStore` (the default), :class:`SqliteSwapStore` (a directory) and
:class:`PostgresSwapStore` (a ``postgresql://`` URI; psycopg is imported only when it is used).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nexint_core.stores.base import (
    FILTER_FIELDS,
    PersistentStore,
    SearchHit,
    StoreBase,
    SwapStore,
    SwapStoreAdapter,
    check_filter,
    matches,
    query_terms,
)
from nexint_core.stores.memory import InMemorySwapStore
from nexint_core.stores.resolve import is_postgres_uri, open_store, resolve_store
from nexint_core.stores.sqlite import SqliteSwapStore
from nexint_core.stores.sqlite_indexes import StoreWarning

if TYPE_CHECKING:
    from nexint_core.stores.postgres import PostgresSwapStore

__all__ = [
    "FILTER_FIELDS",
    "InMemorySwapStore",
    "PersistentStore",
    "PostgresSwapStore",
    "SearchHit",
    "SqliteSwapStore",
    "StoreBase",
    "StoreWarning",
    "SwapStore",
    "SwapStoreAdapter",
    "check_filter",
    "is_postgres_uri",
    "matches",
    "open_store",
    "query_terms",
    "resolve_store",
]


def __getattr__(name: str) -> Any:
    if name == "PostgresSwapStore":
        from nexint_core.stores.postgres import PostgresSwapStore

        return PostgresSwapStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
