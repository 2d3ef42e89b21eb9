"""Injectable clocks: wall time by default, a stepping clock for tests and replay."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "StepClock", "SystemClock", "format_time", "parse_time"]


@runtime_checkable
class Clock(Protocol):
    """Anything that tells the time in seconds since the epoch."""

    def now(self) -> float: ...


class SystemClock:
    """Wall-clock time."""

    __slots__ = ()

    def now(self) -> float:
        return time.time()


class StepClock:
    """A deterministic clock: starts at ``start`` and advances ``step`` seconds per reading."""

    __slots__ = ("_t", "step")

    def __init__(self, start: float | str = "2026-01-01T10:00:00Z", step: float = 1.0) -> None:
        self._t = parse_time(start) if isinstance(start, str) else float(start)
        self.step = step

    def now(self) -> float:
        t = self._t
        self._t += self.step
        return t


def format_time(t: float) -> str:
    """ISO-8601 UTC with a ``Z`` suffix, as in memory records."""
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> float:
    """Parse an ISO-8601 time; a naive time is taken as UTC."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()
