"""One manager per conversation thread, all on one store: what keeps an app's threads apart by default.

An agent graph or a service serves many threads (users, sessions) at once. Each thread gets its own
namespace, named after the thread, so nothing one says reaches another's prompt; the managers share
one store (one directory, one database, or one in-memory archive). The pool keeps the managers of the
threads used most recently; a thread whose manager was closed gets a new one, rebuilt from the store.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

from nexint_core.errors import InvalidArgument
from nexint_core.manager import MemoryManager
from nexint_core.pages import DEFAULT_NAMESPACE
from nexint_core.policies import EvictionPolicy
from nexint_core.stores import PersistentStore, SwapStore, resolve_store

__all__ = ["ManagerPool"]

DEFAULT_OPEN = 64  # managers kept open; a thread beyond them is rebuilt from the store when it returns


class ManagerPool:
    """Managers by namespace on one shared store, built on first use with the same settings."""

    def __init__(
        self,
        limit_tokens: int,
        *,
        store: SwapStore | str | os.PathLike[str] | None = None,
        policy: str | EvictionPolicy | None = None,
        options: Mapping[str, Any] | None = None,
        keep_open: int = DEFAULT_OPEN,
    ) -> None:
        options = dict(options or {})
        if policy is not None and not isinstance(policy, str):
            raise InvalidArgument("one policy object cannot serve many threads: name the policy, or pass namespace=")
        if options.get("record") is not None:
            raise InvalidArgument("a session recording follows one thread: pass namespace= to record it")
        self._limit, self._policy, self._options = limit_tokens, policy, options
        self.store: PersistentStore = resolve_store(store, embedder=options.pop("embedder", None))
        self._owned_store = store is None or isinstance(store, (str, os.PathLike))
        self._open: OrderedDict[str, MemoryManager] = OrderedDict()
        self._keep = keep_open
        self._lock = threading.RLock()

    def get(self, namespace: str | None) -> MemoryManager:
        """The manager of ``namespace`` (``default`` for None), built from the store if it is not open."""
        name = namespace or DEFAULT_NAMESPACE
        with self._lock:
            manager = self._open.get(name)
            if manager is None:
                settings: dict[str, Any] = {"policy": self._policy} if self._policy is not None else {}
                manager = MemoryManager(self._limit, store=self.store, namespace=name, **settings, **self._options)
                self._open[name] = manager
                while len(self._open) > self._keep:
                    _, oldest = self._open.popitem(last=False)
                    oldest.flush()  # its pages and events are in the shared store; the store stays open
            self._open.move_to_end(name)
            return manager

    def __iter__(self) -> Iterator[MemoryManager]:
        return iter(list(self._open.values()))

    def close(self) -> None:
        """Flush every open manager; close the store if the pool opened it."""
        with self._lock:
            for manager in self._open.values():
                manager.flush()
            self._open.clear()
            if self._owned_store:
                self.store.close()
