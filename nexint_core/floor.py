"""The recent-turns floor: the newest messages always reach the model, whatever the policy or page-in do.

A unit just written (a message's page, or a tool-call group) enters the floor, not the eviction policy.
The floor lists the newest units while it holds fewer than ``messages`` messages, or while its tokens stay
within ``tokens`` (the recent section's share of the memory), and it starts at a user message where it
can, so the model sees the last exchanges from their question on. Older units graduate to the policy and
become evictable.

Page-in never evicts a floor unit. A write that finds nothing else to evict (the last messages are long)
evicts the oldest resident floor unit, which stays listed: the prompt still shows it, read back from the
store, and as an excerpt when it must be.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterator
from dataclasses import dataclass

from nexint_core.policies import EvictionPolicy

__all__ = ["FloorUnit", "RecentFloor"]


@dataclass(slots=True)
class FloorUnit:
    """A unit in the floor: its tokens, how many messages it holds, whether it opens with a user message, and
    whether it is still in the working set."""

    tokens: int
    messages: int
    opens_turn: bool
    resident: bool = True


class RecentFloor:
    """The newest units, in write order, kept out of ``policy`` until they graduate."""

    __slots__ = ("_held", "_listed_tokens", "_units", "messages", "policy", "tokens", "tokens_allowed")

    def __init__(self, policy: EvictionPolicy, *, messages: int, tokens: int) -> None:
        self.policy = policy
        self.messages = messages  # the floor's minimum, in messages
        self.tokens_allowed = tokens  # beyond the minimum, the floor grows while within this
        self._units: OrderedDict[Hashable, FloorUnit] = OrderedDict()
        self.tokens = 0  # of the units in the working set (what page-in may never take)
        self._listed_tokens = 0
        self._held = 0  # messages in the floor

    def __contains__(self, key: object) -> bool:
        return key in self._units

    def __len__(self) -> int:
        return len(self._units)

    def __iter__(self) -> Iterator[Hashable]:
        return iter(self._units)

    def resident_keys(self) -> list[Hashable]:
        """The floor's units still in the working set, oldest first."""
        return [key for key, unit in self._units.items() if unit.resident]

    def archived_keys(self) -> list[Hashable]:
        """The floor's units a write pushed to swap: still shown, read from the store."""
        return [key for key, unit in self._units.items() if not unit.resident]

    def written(self, key: Hashable, unit: FloorUnit) -> None:
        """``key`` was just written (or grew), and neither the floor nor the policy holds it: it is the newest
        unit; older ones graduate if not needed."""
        if not self.messages:
            self.policy.on_insert(key)
            return
        self._units[key] = unit
        self.tokens += unit.tokens
        self._listed_tokens += unit.tokens
        self._held += unit.messages
        self._settle()

    def resident(self, key: Hashable) -> None:
        """``key`` became resident by other means (a page-in, an unpin): the policy tracks it."""
        unit = self._units.get(key)
        if unit is not None and unit.resident:
            return
        if unit is not None:
            self._drop(key)  # an archived floor unit brought back by name: an ordinary resident now
        self.policy.on_insert(key)

    def accessed(self, key: Hashable) -> None:
        """A use of ``key`` (the floor needs none: its units stay anyway)."""
        if key not in self._units:
            self.policy.on_access(key)

    def remove(self, key: Hashable) -> None:
        """``key`` left active (evicted, pinned, paged out, dropped) or the table."""
        unit = self._units.get(key)
        if unit is None:
            self.policy.on_remove(key)
        else:
            self._drop(key)

    def yield_oldest(self, *, keep: Hashable | None = None) -> Hashable | None:
        """The oldest resident unit (other than ``keep``), for a write to evict; it stays listed, no longer in
        the working set. None if there is none."""
        for key, unit in self._units.items():
            if unit.resident and key != keep:
                unit.resident = False
                self.tokens -= unit.tokens
                return key
        return None

    def _settle(self) -> None:
        """Graduate the oldest turn (a user message and what answers it, up to the next unit that opens a turn;
        the oldest unit alone if none does) while the rest still holds the minimum and the floor is over its
        tokens."""
        while self._listed_tokens > self.tokens_allowed:
            keys = list(self._units)
            end, messages = 0, 0
            while end < len(keys):
                messages += self._units[keys[end]].messages
                end += 1
                if end < len(keys) and self._units[keys[end]].opens_turn:
                    break
            if end >= len(keys):  # no later unit opens a turn (say, every message is the assistant's)
                end, messages = 1, self._units[keys[0]].messages
            if end >= len(keys) or self._held - messages < self.messages:
                return
            for key in keys[:end]:
                resident = self._units[key].resident
                self._drop(key)
                if resident:
                    self.policy.on_insert(key)

    def _drop(self, key: Hashable) -> bool:
        unit = self._units.pop(key, None)
        if unit is None:
            return False
        if unit.resident:
            self.tokens -= unit.tokens
        self._listed_tokens -= unit.tokens
        self._held -= unit.messages
        return True
