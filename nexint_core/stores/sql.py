"""What both SQL stores share: pages and events as rows of named columns, filters, and the event buffer.

Each manager's events go to the store's :class:`EventBuffer` and are written with the store's next
transaction (a page write, a delete, or :meth:`SqlStore.flush`): a committed transaction forgets the
events it wrote, a failed one leaves them for the next.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from nexint_core.events import EventSink, PagingEvent
from nexint_core.ids import PageId
from nexint_core.pages import Page, Tier, namespace_of
from nexint_core.stores.base import StoreBase, check_filter

__all__ = [
    "EVENT_COLUMNS",
    "EVENT_FIELDS",
    "PAGE_COLUMNS",
    "PAGE_FIELDS",
    "EventBuffer",
    "Row",
    "SqlStore",
    "event_from_row",
    "event_row",
    "filter_sql",
    "mean_of_sums",
    "page_from_row",
    "page_row",
    "tier_changes",
]


def mean_of_sums(sums: Sequence[tuple[npt.NDArray[np.float64], int]]) -> npt.NDArray[np.float32] | None:
    """The mean vector of namespaces kept as ``(vector sum, count)`` rows (a store's centroids table); None
    when they hold no vector."""
    count = sum(int(number) for _, number in sums)
    if count <= 0:
        return None
    total = np.sum([total for total, _ in sums], axis=0)
    return np.asarray(total / count, dtype=np.float32)


PAGE_FIELDS = (
    "id",
    "namespace",
    "content",
    "tokens",
    "role",
    "importance",
    "frame_id",
    "group_id",
    "part",
    "created",
    "last_used",
    "use_count",
    "tier",
    "quarantined",
    "metadata",
    "vaddr",
)
PAGE_COLUMNS = ", ".join(PAGE_FIELDS)
EVENT_FIELDS = ("event_seq", "time", "memory_id", "action", "reason", "tier_from", "tier_to", "tokens", "policy")
EVENT_COLUMNS = ", ".join(EVENT_FIELDS)

Pending = list[tuple[str, PagingEvent]]  # (namespace, event), oldest first


class Row(Protocol):
    """A fetched row whose columns are read by name (a ``sqlite3.Row`` or a dict)."""

    def __getitem__(self, column: str, /) -> Any: ...


def page_row(page: Page) -> dict[str, Any]:
    """The columns :data:`PAGE_FIELDS` names, for one page."""
    return {
        "id": page.id,
        "namespace": namespace_of(page),
        "content": page.content,
        "tokens": page.tokens or 0,
        "role": page.role,
        "importance": page.importance,
        "frame_id": page.frame_id,
        "group_id": page.group_id,
        "part": page.part,
        "created": page.created,
        "last_used": page.last_used,
        "use_count": page.use_count,
        "tier": (page.tier or Tier.ACTIVE).value,
        "quarantined": page.quarantined,
        "metadata": json.dumps(page.metadata, sort_keys=True, default=str),
        "vaddr": page.vaddr,
    }


def page_from_row(row: Row) -> Page:
    """The page a row of :data:`PAGE_FIELDS` holds (metadata as JSON text or already a dict)."""
    metadata = row["metadata"]
    return Page(
        PageId(row["id"]),
        row["content"],
        int(row["tokens"]),
        role=row["role"],
        importance=float(row["importance"]),
        namespace=row["namespace"],
        frame_id=row["frame_id"],
        group_id=row["group_id"],
        part=int(row["part"]),
        created=row["created"],
        last_used=row["last_used"],
        use_count=int(row["use_count"]),
        tier=Tier(row["tier"]),
        quarantined=bool(row["quarantined"]),
        metadata=metadata if isinstance(metadata, dict) else json.loads(metadata),
        vaddr=int(row["vaddr"]),
    )


def event_row(namespace: str, event: PagingEvent) -> dict[str, Any]:
    """The ``namespace`` column and the columns :data:`EVENT_COLUMNS` names, for one event."""
    return {
        "namespace": namespace,
        "event_seq": event.seq,
        "time": event.time,
        "memory_id": event.memory_id,
        "action": event.action.value,
        "reason": event.reason,
        "tier_from": event.tier_from.value if event.tier_from else None,
        "tier_to": event.tier_to.value if event.tier_to else None,
        "tokens": event.tokens,
        "policy": event.policy,
    }


def event_from_row(row: Row) -> PagingEvent:
    """The event a row of :data:`EVENT_COLUMNS` holds."""
    return PagingEvent.from_dict(
        {
            "seq": row["event_seq"],
            "time": row["time"],
            "memory_id": row["memory_id"],
            "action": row["action"],
            "reason": row["reason"],
            "tier_from": row["tier_from"],
            "tier_to": row["tier_to"],
            "tokens": row["tokens"],
            "policy": row["policy"],
        }
    )


def tier_changes(pending: Sequence[tuple[str, PagingEvent]]) -> dict[tuple[str, str], tuple[str | None, bool | None]]:
    """The last tier and quarantine flag the events give each ``(page id, namespace)``, None if unchanged."""
    updates: dict[tuple[str, str], tuple[str | None, bool | None]] = {}
    for namespace, event in pending:
        tier, flag = updates.get((event.memory_id, namespace), (None, None))
        if event.tier_to is not None:
            tier = event.tier_to.value
        if event.action.value == "quarantine":
            flag = True
        elif event.action.value == "approve":
            flag = False
        if tier is not None or flag is not None:
            updates[(event.memory_id, namespace)] = (tier, flag)
    return updates


def filter_sql(
    where: Mapping[str, object] | None, test: str, columns: Mapping[str, str] | None = None
) -> tuple[str, list[object]]:
    """An equality filter as `` AND p.<field> <test>`` per field (``test`` holds the placeholder; ``columns``
    gives the SQL of a field that is no column of ``p``), with its arguments; raises
    :class:`~nexint_core.errors.InvalidArgument` for a field that cannot be filtered."""
    check_filter(where)
    if not where:
        return "", []
    fields = sorted(where)
    values = [where[name] for name in fields]
    sql = columns or {}
    return "".join(f" AND {sql.get(name, 'p.' + name)} {test}" for name in fields), [
        value.value if isinstance(value, Tier) else value for value in values
    ]


class _BufferSink:
    """Buffers one manager's events (of one namespace) for the store's next transaction."""

    __slots__ = ("_namespace", "_pending")

    def __init__(self, pending: Pending, namespace: str) -> None:
        self._pending, self._namespace = pending, namespace

    def emit(self, event: PagingEvent) -> None:
        self._pending.append((self._namespace, event))


class EventBuffer:
    """The events of every manager on one store, kept until a transaction writes them."""

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        self._pending: Pending = []

    def __len__(self) -> int:
        return len(self._pending)

    def sink(self, namespace: str) -> EventSink:
        """A sink for one manager's events."""
        return _BufferSink(self._pending, namespace)

    @contextmanager
    def batch(self) -> Iterator[Pending]:
        """The events buffered now, for the transaction the block runs; forgotten only if it succeeds."""
        pending = list(self._pending)
        yield pending
        del self._pending[: len(pending)]

    def keep(self, namespaces: Collection[str]) -> None:
        """Forget buffered events of every namespace but these."""
        self._pending[:] = [(namespace, event) for namespace, event in self._pending if namespace in namespaces]


class SqlStore(StoreBase):
    """A store in a database: it keeps a copy of every page, and the events, written with its transactions."""

    keeps_copies = True
    persistent = True

    def __init__(self) -> None:
        self._buffer = EventBuffer()

    @property
    def pending_events(self) -> int:
        """Events buffered for the next transaction."""
        return len(self._buffer)

    def event_sink(self, namespace: str) -> EventSink | None:
        """A sink for one manager's events; they are written with the next transaction or :meth:`flush`."""
        return self._buffer.sink(namespace)
