"""How pages and events map to database rows, for the SQL swap stores (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from nexint_core.events import PagingEvent
from nexint_core.ids import PageId
from nexint_core.pages import Page, Tier

__all__ = ["EVENT_COLUMNS", "PAGE_COLUMNS", "event_from_row", "event_row", "page_from_row", "tier_changes"]

PAGE_COLUMNS = (
    "id, namespace, content, tokens, role, importance, frame_id, group_id, part, created, last_used, "
    "use_count, tier, quarantined, metadata, vaddr"
)
EVENT_COLUMNS = "event_seq, time, memory_id, action, reason, tier_from, tier_to, tokens, policy"
_EVENT_KEYS = ("seq", "time", "memory_id", "action", "reason", "tier_from", "tier_to", "tokens", "policy")


def page_from_row(row: Sequence[Any]) -> Page:
    """A page from the columns :data:`PAGE_COLUMNS` names, in that order (metadata as JSON text or a dict)."""
    metadata = row[14] if isinstance(row[14], dict) else json.loads(row[14])
    return Page(
        PageId(row[0]),
        row[2],
        int(row[3]),
        role=row[4],
        importance=float(row[5]),
        namespace=row[1],
        frame_id=row[6],
        group_id=row[7],
        part=int(row[8]),
        created=row[9],
        last_used=row[10],
        use_count=int(row[11]),
        tier=Tier(row[12]),
        quarantined=bool(row[13]),
        metadata=metadata,
        vaddr=int(row[15]),
    )


def event_row(namespace: str, event: PagingEvent) -> tuple[Any, ...]:
    """``(namespace, *EVENT_COLUMNS)`` for one event."""
    return (
        namespace,
        event.seq,
        event.time,
        event.memory_id,
        event.action.value,
        event.reason,
        event.tier_from.value if event.tier_from else None,
        event.tier_to.value if event.tier_to else None,
        event.tokens,
        event.policy,
    )


def event_from_row(row: Sequence[Any]) -> PagingEvent:
    """An event from the columns :data:`EVENT_COLUMNS` names."""
    return PagingEvent.from_dict(dict(zip(_EVENT_KEYS, row, strict=True)))


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
