"""Paging events: every decision with its reason, an in-memory log, pluggable sinks, and rebuild."""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable

from nexint_core.errors import InvalidArgument
from nexint_core.page_table import PageTableEntry
from nexint_core.pages import Tier

__all__ = ["Action", "EventLog", "EventSink", "JsonlSink", "PagingEvent", "rebuild_from_events", "select_events"]


class Action(str, Enum):
    """What a paging event did."""

    ALLOCATE = "allocate"
    EVICT = "evict"
    PAGE_OUT = "page_out"
    PAGE_IN = "page_in"
    PROMOTE = "promote"
    PIN = "pin"
    UNPIN = "unpin"
    QUARANTINE = "quarantine"
    APPROVE = "approve"
    SUMMARIZE = "summarize"
    DROP = "drop"
    SKIP = "skip"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class PagingEvent:
    """One paging decision."""

    seq: int
    time: float
    memory_id: str
    action: Action
    reason: str
    tier_from: Tier | None
    tier_to: Tier | None
    tokens: int
    policy: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        data = asdict(self)
        data["action"] = self.action.value
        data["tier_from"] = self.tier_from.value if self.tier_from is not None else None
        data["tier_to"] = self.tier_to.value if self.tier_to is not None else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PagingEvent:
        """The inverse of :meth:`to_dict`."""
        try:
            return cls(
                seq=int(data["seq"]),
                time=float(data["time"]),
                memory_id=str(data["memory_id"]),
                action=Action(data["action"]),
                reason=str(data["reason"]),
                tier_from=Tier(data["tier_from"]) if data["tier_from"] is not None else None,
                tier_to=Tier(data["tier_to"]) if data["tier_to"] is not None else None,
                tokens=int(data["tokens"]),
                policy=str(data["policy"]),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise InvalidArgument(f"malformed paging event {data!r}: {exc}") from None


@runtime_checkable
class EventSink(Protocol):
    """Receives every event as it happens."""

    def emit(self, event: PagingEvent) -> None: ...


class JsonlSink:
    """Appends events to a JSON Lines file, one object per line."""

    __slots__ = ("_file", "_fsync", "path")

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = False) -> None:
        self.path = Path(path)
        self._fsync = fsync
        self._file: IO[str] | None = self.path.open("a", encoding="utf-8")

    def emit(self, event: PagingEvent) -> None:
        if self._file is None:
            raise InvalidArgument(f"event sink {self.path} is closed")
        self._file.write(json.dumps(event.to_dict(), separators=(",", ":")) + "\n")
        if self._fsync:
            self._file.flush()
            os.fsync(self._file.fileno())

    def flush(self) -> None:
        """Push buffered lines to the file."""
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        """Flush and close the file."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> JsonlSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def read(path: str | os.PathLike[str]) -> list[PagingEvent]:
        """Load the events a sink wrote."""
        with open(path, encoding="utf-8") as handle:
            return [PagingEvent.from_dict(json.loads(line)) for line in handle if line.strip()]


class EventLog:
    """In-memory log of events (optionally bounded) that forwards each event to its sinks."""

    __slots__ = ("_events", "_seq", "sinks")

    def __init__(self, sinks: Sequence[EventSink] = (), *, maxlen: int | None = None) -> None:
        if maxlen is not None and maxlen < 0:
            raise InvalidArgument(f"maxlen must be non-negative, got {maxlen}")
        self._events: deque[PagingEvent] = deque(maxlen=maxlen)
        self._seq = 0
        self.sinks: list[EventSink] = list(sinks)

    def continue_from(self, seq: int) -> None:
        """Number the next event ``seq + 1`` (a reopened store's log goes on where it stopped)."""
        if len(self._events):
            raise InvalidArgument("continue_from() must be called before any event is recorded")
        self._seq = seq

    def record(
        self,
        time: float,
        memory_id: str,
        action: Action,
        reason: str,
        tier_from: Tier | None,
        tier_to: Tier | None,
        tokens: int,
        policy: str,
    ) -> PagingEvent:
        """Create the next event and publish it."""
        self._seq += 1
        event = PagingEvent(self._seq, time, memory_id, action, reason, tier_from, tier_to, tokens, policy)
        self._events.append(event)
        for sink in self.sinks:
            sink.emit(event)
        return event

    def __iter__(self) -> Iterator[PagingEvent]:
        return iter(self._events)

    def __len__(self) -> int:
        return len(self._events)

    @property
    def last_seq(self) -> int:
        """Sequence number of the newest event (counts events dropped from a bounded log)."""
        return self._seq

    def filter(self, *, action: str | None = None, memory_id: str | None = None) -> list[PagingEvent]:
        """Events matching an action and/or a memory id."""
        return select_events(self._events, action=action, memory_id=memory_id)


def select_events(
    events: Iterable[PagingEvent], *, action: str | None = None, memory_id: str | None = None
) -> list[PagingEvent]:
    """The events matching an action and/or a memory id (of any log: in memory or read from a store)."""
    return [
        event
        for event in events
        if (action is None or event.action == action) and (memory_id is None or event.memory_id == memory_id)
    ]


def rebuild_from_events(events: Iterable[PagingEvent]) -> dict[str, PageTableEntry]:
    """Replay a complete event log into page-table rows; equals the live table's ``snapshot()``."""
    rows: dict[str, PageTableEntry] = {}
    next_vaddr = 0
    for event in events:
        row = rows.get(event.memory_id)
        if event.action is Action.ALLOCATE or (event.action is Action.SUMMARIZE and event.tier_from is None):
            if event.tier_to is None:
                raise InvalidArgument(f"allocate event {event.seq} has no target tier")
            rows[event.memory_id] = PageTableEntry(event.memory_id, event.tier_to, event.tokens, next_vaddr, False)
            next_vaddr += event.tokens
            continue
        if row is None:
            raise InvalidArgument(f"event {event.seq} ({event.action}) names unknown page {event.memory_id}")
        if event.action is Action.DROP:
            del rows[event.memory_id]
            continue
        quarantined = row.quarantined
        if event.action is Action.QUARANTINE:
            quarantined = True
        elif event.action is Action.APPROVE:
            quarantined = False
        tier = event.tier_to if event.tier_to is not None else row.tier
        rows[event.memory_id] = PageTableEntry(row.page_id, tier, row.tokens, row.vaddr, quarantined)
    return rows
