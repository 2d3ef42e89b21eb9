"""From what a caller names to a store: a store object, a directory, a ``postgresql://`` URI, or nothing."""

from __future__ import annotations

import os
from pathlib import Path

from nexint_core.embedders import EmbedderSpec
from nexint_core.stores.base import PersistentStore, StoreBase, SwapStore, SwapStoreAdapter
from nexint_core.stores.memory import InMemorySwapStore
from nexint_core.stores.sqlite import SqliteSwapStore

__all__ = ["is_postgres_uri", "open_store", "resolve_store"]


def is_postgres_uri(spec: object) -> bool:
    """Whether a store spec names a PostgreSQL database (``postgresql://`` or ``postgres://``)."""
    return isinstance(spec, str) and spec.split("://", 1)[0] in ("postgresql", "postgres")


def open_store(
    spec: str | os.PathLike[str],
    *,
    embedder: EmbedderSpec | None = None,
    create: bool = True,
    read_only: bool = False,
) -> StoreBase:
    """The store a spec names: a ``postgresql://`` URI, or else a store directory.

    ``read_only`` opens an existing directory read-only (:class:`SqliteSwapStore`); a PostgreSQL database is
    opened without creating its schema, and whoever uses it writes nothing (``MemoryManager(read_only=True)``;
    a role granted only ``SELECT`` makes the server refuse writes too).
    """
    if is_postgres_uri(spec):
        from nexint_core.stores.postgres import PostgresSwapStore

        return PostgresSwapStore(str(spec), embedder=embedder, create=create and not read_only)
    return SqliteSwapStore(Path(spec), embedder=embedder, create=create, read_only=read_only)


def resolve_store(
    store: SwapStore | str | os.PathLike[str] | None,
    *,
    embedder: EmbedderSpec | None = None,
    read_only: bool = False,
) -> PersistentStore:
    """The store a manager works on: a new in-memory one for None, the one a path or URI names (opened
    read-only if asked), the given store if it offers every capability, or else the given store behind
    :class:`SwapStoreAdapter`."""
    if store is None:
        return InMemorySwapStore(embedder)
    if isinstance(store, (str, os.PathLike)):
        return open_store(store, embedder=embedder, read_only=read_only)
    if isinstance(store, PersistentStore):
        return store
    return SwapStoreAdapter(store)
