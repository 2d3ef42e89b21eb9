"""Hypothesis: random operation sequences under every policy keep the kernel's invariants."""

from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from nexint_core import (
    POLICY_NAMES,
    Action,
    CoreBudgetExceeded,
    MemoryManager,
    PageTooLarge,
    QuarantineViolation,
    StepClock,
    Tier,
    rebuild_from_events,
)

LIMIT, CORE_BUDGET, PAGE_SIZE = 90, 30, 16
WORDS = st.lists(
    st.sampled_from(["alpha", "beta", "gamma", "delta", "tool", "result", "paris", "42", "."]), max_size=40
)


class KernelMachine(RuleBasedStateMachine):
    policy_name = "LRU"

    @initialize()
    def start(self) -> None:
        self.mmu = MemoryManager(
            LIMIT, policy=self.policy_name, core_budget=CORE_BUDGET, page_size=PAGE_SIZE, clock=StepClock()
        )
        self.written: set[str] = set()
        self.forgotten: set[str] = set()
        self.open_groups: list[str] = []
        self.checked_seq = 0

    def _state(self) -> tuple[object, ...]:
        return (self.mmu.page_table.snapshot(), self.mmu.events.last_seq, self.mmu.usage())

    def _live_ids(self) -> list[str]:
        return sorted(self.written - self.forgotten)

    @rule(
        words=WORDS, importance=st.floats(0, 1), pin=st.booleans(), quarantined=st.booleans(), grouped=st.integers(0, 3)
    )
    def write(self, words: list[str], importance: float, pin: bool, quarantined: bool, grouped: int) -> None:
        group = None
        if grouped == 1:
            group = f"call-{len(self.open_groups)}"
            self.open_groups.append(group)
        elif grouped == 2 and self.open_groups:
            group = self.open_groups[-1]
        before = self._state()
        try:
            role = "user" if words and words != ["."] else "assistant"  # an empty user message is refused
            ids = self.mmu.write(
                role, " ".join(words), importance=importance, group=group, pin=pin, quarantined=quarantined
            )
        except (PageTooLarge, CoreBudgetExceeded, QuarantineViolation):
            assert self._state() == before, "a failed write changed the manager"
            return
        self.written.update(ids)

    @precondition(lambda self: self.written - self.forgotten)
    @rule(data=st.data())
    def touch(self, data: st.DataObject) -> None:
        page_id = data.draw(st.sampled_from(self._live_ids()))
        before = self._state()
        try:
            self.mmu.touch(page_id)
        except (PageTooLarge, CoreBudgetExceeded):
            assert self._state() == before

    @precondition(lambda self: self.written - self.forgotten)
    @rule(data=st.data(), promote=st.booleans())
    def pin(self, data: st.DataObject, promote: bool) -> None:
        page_id = data.draw(st.sampled_from(self._live_ids()))
        before = self._state()
        try:
            (self.mmu.promote if promote else self.mmu.pin)(page_id)
        except (CoreBudgetExceeded, QuarantineViolation, PageTooLarge):
            assert self._state() == before

    @precondition(lambda self: self.written - self.forgotten)
    @rule(data=st.data())
    def unpin(self, data: st.DataObject) -> None:
        self.mmu.unpin(data.draw(st.sampled_from(self._live_ids())))

    @precondition(lambda self: self.written - self.forgotten)
    @rule(data=st.data(), approve=st.booleans())
    def quarantine(self, data: st.DataObject, approve: bool) -> None:
        page_id = data.draw(st.sampled_from(self._live_ids()))
        (self.mmu.approve if approve else self.mmu.quarantine)(page_id)

    @precondition(lambda self: self.written - self.forgotten)
    @rule(data=st.data())
    def page_out(self, data: st.DataObject) -> None:
        page_id = data.draw(st.sampled_from(self._live_ids()))
        if self.mmu.get(page_id).tier is not Tier.CORE:
            self.mmu.page_out(page_id)

    @precondition(lambda self: len(self.written - self.forgotten) > 3)
    @rule(data=st.data())
    def forget(self, data: st.DataObject) -> None:
        page_id = data.draw(st.sampled_from(self._live_ids()))
        group = self.mmu.get(page_id).group_id
        members = [p.id for p in self.mmu.page_table if group is not None and p.group_id == group] or [page_id]
        self.mmu.forget(page_id)
        self.forgotten.update(members)

    @invariant()
    def budget_holds(self) -> None:
        usage = self.mmu.usage()
        assert usage["core"] + usage["active"] <= LIMIT
        assert usage["core"] <= CORE_BUDGET

    @invariant()
    def every_page_in_exactly_one_tier(self) -> None:
        table = self.mmu.page_table
        assert {p.id for p in table} == self.written - self.forgotten
        per_tier = {tier: {p.id for p in table.pages(tier)} for tier in Tier}
        assert sum(len(ids) for ids in per_tier.values()) == len(table)
        for page in table:
            assert page.id in per_tier[page.tier]  # type: ignore[index]
        for tier in Tier:
            assert table.tokens(tier) == sum(p.tokens or 0 for p in table.pages(tier))

    @invariant()
    def pinned_pages_never_evicted_and_never_quarantined(self) -> None:
        for event in list(self.mmu.events)[self.checked_seq :]:
            if event.action in (Action.EVICT, Action.PAGE_OUT):
                assert event.tier_from is Tier.ACTIVE
        self.checked_seq = len(self.mmu.events)
        assert not any(page.quarantined for page in self.mmu.core_pages())

    @invariant()
    def groups_never_split(self) -> None:
        tiers: dict[str, set[Tier | None]] = defaultdict(set)
        for page in self.mmu.page_table:
            if page.group_id is not None:
                tiers[page.group_id].add(page.tier)
        assert all(len(found) == 1 for found in tiers.values())

    @invariant()
    def policy_and_floor_track_exactly_the_active_units(self) -> None:
        units = {page.unit for page in self.mmu.page_table.pages(Tier.ACTIVE)}
        floor = set(self.mmu.kernel.floor.resident_keys())
        assert floor <= units  # the recent-turns floor holds active units, out of the policy's reach
        assert all(key not in units for key in self.mmu.kernel.floor.archived_keys())
        assert len(self.mmu.policy) + len(floor) == len(units)  # type: ignore[arg-type]
        assert self.mmu.kernel.floor.tokens == sum(
            page.tokens or 0 for page in self.mmu.page_table.pages(Tier.ACTIVE) if page.unit in floor
        )

    @invariant()
    def event_log_rebuilds_the_table(self) -> None:
        assert rebuild_from_events(self.mmu.events) == self.mmu.page_table.snapshot()


@pytest.mark.parametrize("policy", POLICY_NAMES)
def test_invariants_hold_under_random_operations(policy: str) -> None:
    machine = type(f"KernelMachine_{policy}", (KernelMachine,), {"policy_name": policy})
    from hypothesis import settings
    from hypothesis.stateful import run_state_machine_as_test

    run_state_machine_as_test(machine, settings=settings(settings(), max_examples=100, stateful_step_count=60))
