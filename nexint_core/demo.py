"""A scripted tour of the kernel: pin rules, overflow the budget, watch evictions, page a fact back in.

Run with ``python -m nexint_core.demo`` (what ``make demo`` does).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any, TextIO

from nexint_core.clock import StepClock, parse_time
from nexint_core.events import Action, rebuild_from_events
from nexint_core.ids import PageId
from nexint_core.manager import MemoryManager
from nexint_core.pages import Tier

__all__ = ["DEMO_MEMORIES", "fill_demo_store", "main", "run_archive_demo", "run_demo"]

_CHATTER = [
    "Can you recommend a book for the flight?",
    "Try 'The Left Hand of Darkness'; it is a good length for a long flight.",
    "What's the weather like in Lisbon in March?",
    "Mild, around 17 degrees, with some rain; pack a light jacket.",
    "Remind me what a Merkle tree is.",
    "A tree of hashes: each parent hashes its children, so one root hash commits to all the data.",
]


def run_demo(out: TextIO, *, limit_tokens: int = 160, policy: str = "LRU") -> MemoryManager:
    """Run the tour, printing what happens; returns the manager for inspection."""
    mmu = MemoryManager(limit_tokens, policy=policy, core_budget=48, page_size=64, clock=StepClock())
    rule = mmu.write("system", "Answer concisely and cite memory ids.", kind="RUL", pin=True)
    pref = mmu.write("user", "I am vegetarian and allergic to peanuts.", kind="PRF", importance=0.9)
    mmu.pin(pref[0])
    print(f"[CORE] pinned {rule[0]} (rule) and {pref[0]} (preference): {mmu.usage()['core']} tokens", file=out)

    fact = mmu.write("user", "My locker code at the gym is 4512.", importance=0.8)[0]
    mmu.write("assistant", "search_restaurants(city='Lisbon', diet='vegetarian')", group="call-1")
    mmu.write("tool", "Ao 26 Vegan Food Project; Princesa do Castelo.", group="call-1")
    for turn in range(3):
        for line in _CHATTER:
            mmu.write("user" if line.endswith("?") else "assistant", f"{line} (round {turn + 1})")
    usage = mmu.usage()
    print(
        f"[MEMORY] {len(mmu)} pages written; core={usage['core']} active={usage['active']} "
        f"swap={usage['swap']} tokens (limit {mmu.limit_tokens})",
        file=out,
    )
    evictions = mmu.events.filter(action=Action.EVICT)
    victims = [event for event in evictions if event.reason.startswith(mmu.policy_name)]
    print(
        f"[EVICT] {len(evictions)} pages evicted: {len(victims)} {mmu.policy_name} victims, "
        f"{len(evictions) - len(victims)} pushed out while among the last six messages (still shown, read from swap); "
        f"first {mmu.policy_name} victim: {victims[0].reason}",
        file=out,
    )
    group_tiers = {page.tier for page in mmu.page_table if page.group_id == "call-1"}
    print(f"[GROUP] tool call and result share one tier: {sorted(str(t) for t in group_tiers)}", file=out)

    page = mmu.touch(fact)
    print(f"[PAGE-IN] {fact} back in {page.tier} after a touch: {page.content!r}", file=out)
    assert page.tier is Tier.ACTIVE
    rebuilt = rebuild_from_events(mmu.events) == mmu.page_table.snapshot()
    print(f"[EVENTS] {len(mmu.events)} events; page table rebuilt from the log matches: {rebuilt}", file=out)
    context = " | ".join(p.content for p in mmu.core_pages() + mmu.active_pages())
    print(f"[CONTEXT] {context[:160]}...", file=out)
    return mmu


def run_archive_demo(out: TextIO, store: Path) -> list[PageId]:
    """Write to a persistent store, close it, reopen it, and page an old fact back in for a question."""
    with MemoryManager(160, store=store, page_size=64, clock=StepClock()) as mmu:
        fact = mmu.write("user", "My sister Maria lives in Porto and teaches chemistry.", importance=0.8)[0]
        for turn in range(4):
            for line in _CHATTER:
                mmu.write("user" if line.endswith("?") else "assistant", f"{line} (round {turn + 1})")
        print(f"[STORE] {len(mmu)} pages written to {store.name}/; {fact} is in {mmu.get(fact).tier}", file=out)
    with MemoryManager(160, store=store, page_size=64, clock=StepClock()) as mmu:
        print(f"[REOPEN] page table restored: {len(mmu)} pages, {fact} still in {mmu.get(fact).tier}", file=out)
        promoted = mmu.page_in("Where does my sister live?")
        reason = next(e.reason for e in mmu.events if e.action == Action.PAGE_IN and e.memory_id == fact)
        print(f"[PAGE-IN] 'Where does my sister live?' promoted {promoted}: {reason}", file=out)
        print(f"[ROUTES] {mmu.route_counts()}", file=out)
        return promoted


DEMO_MEMORIES = Path(__file__).parent / "_data" / "demo_memories.json"
DEMO_NOW = "2026-11-21T09:00:00Z"


class DemoClock:
    """A clock that can be set to a memory's date while the demo store is filled, then steps on."""

    __slots__ = ("t",)

    def __init__(self, start: str = DEMO_NOW) -> None:
        self.t = parse_time(start)

    def now(self) -> float:
        self.t += 1.0
        return self.t


def fill_demo_store(mmu: MemoryManager, clock: DemoClock) -> None:
    """Write the bundled demo memories: rules pinned to core, episodes and preferences archived in swap."""
    memories: list[dict[str, Any]] = json.loads(DEMO_MEMORIES.read_text(encoding="utf-8"))["memories"]
    resume = clock.t
    archived: list[PageId] = []
    for memory in memories:
        if "date" in memory:
            clock.t = parse_time(memory["date"] + "T12:00:00Z")
        ids = mmu.write(
            memory["role"],
            memory["text"],
            kind=memory["kind"],
            importance=memory["importance"],
            pin=memory.get("pin", False),
        )
        if not memory.get("pin", False):
            archived.extend(ids)
    clock.t = resume
    for page_id in archived:
        if mmu.get(page_id).tier is Tier.ACTIVE:
            mmu.page_out(page_id, "demo store: archived")


def main() -> int:
    """Entry point for ``python -m nexint_core.demo``."""
    run_demo(sys.stdout)
    with tempfile.TemporaryDirectory(prefix="nexint-demo-") as tmp:
        run_archive_demo(sys.stdout, Path(tmp) / "store")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
