"""PolicyContract: every built-in policy (and the protocol) obeys the same rules."""

from __future__ import annotations

import random
from collections.abc import Callable, Hashable

import pytest

from nexint_core import (
    POLICY_NAMES,
    ARCPolicy,
    EvictionPolicy,
    FIFOPolicy,
    ImportancePolicy,
    InvalidArgument,
    LFUPolicy,
    LRUPolicy,
    UnknownPolicy,
    make_policy,
)

FACTORIES: dict[str, Callable[[], EvictionPolicy]] = {
    "LRU": LRUPolicy,
    "LFU": LFUPolicy,
    "FIFO": FIFOPolicy,
    "ARC": ARCPolicy,
    "importance": ImportancePolicy,
}


@pytest.fixture(params=sorted(FACTORIES))
def policy(request: pytest.FixtureRequest) -> EvictionPolicy:
    return FACTORIES[request.param]()


class TestPolicyContract:
    def test_policy_empty_has_no_victim(self, policy: EvictionPolicy) -> None:
        assert policy.victim() is None

    def test_policy_implements_the_protocol(self, policy: EvictionPolicy) -> None:
        assert isinstance(policy, EvictionPolicy)

    def test_policy_victim_is_always_resident(self, policy: EvictionPolicy) -> None:
        rng = random.Random(7)
        resident: set[Hashable] = set()
        for step in range(3000):
            op = rng.random()
            key = f"k{rng.randrange(60)}"
            if op < 0.4:
                policy.on_insert(key)
                resident.add(key)
            elif op < 0.7:
                if key in resident:
                    policy.on_access(key)
            elif op < 0.85:
                policy.on_remove(key)
                resident.discard(key)
            else:
                victim = policy.victim()
                if resident:
                    assert victim in resident, f"step {step}: {victim!r} not resident"
                    policy.on_remove(victim)
                    resident.discard(victim)
                else:
                    assert victim is None
        drained = []
        while (victim := policy.victim()) is not None:
            drained.append(victim)
            policy.on_remove(victim)
        assert sorted(map(str, drained)) == sorted(map(str, resident))

    def test_policy_victim_does_not_remove(self, policy: EvictionPolicy) -> None:
        policy.on_insert("a")
        policy.on_insert("b")
        assert policy.victim() == policy.victim()

    def test_policy_removing_unknown_key_is_harmless(self, policy: EvictionPolicy) -> None:
        policy.on_remove("ghost")
        policy.on_access("ghost")
        assert policy.victim() is None

    def test_policy_reinsert_after_removal_is_resident_again(self, policy: EvictionPolicy) -> None:
        policy.on_insert("a")
        victim = policy.victim()
        assert victim == "a"
        policy.on_remove(victim)
        policy.on_insert("a")
        assert policy.victim() == "a"

    def test_policy_explains_its_victim(self, policy: EvictionPolicy) -> None:
        policy.on_insert("a")
        assert policy.explain("a")


def test_lru_evicts_least_recently_used() -> None:
    policy = LRUPolicy()
    for key in "abc":
        policy.on_insert(key)
    policy.on_access("a")
    assert policy.victim() == "b"


def test_fifo_ignores_access() -> None:
    policy = FIFOPolicy()
    for key in "abc":
        policy.on_insert(key)
    policy.on_access("a")
    assert policy.victim() == "a"


def test_lfu_evicts_least_frequent_breaking_ties_by_recency() -> None:
    policy = LFUPolicy()
    for key in "abcd":
        policy.on_insert(key)
    for key in "abca":
        policy.on_access(key)
    assert policy.victim() == "d"
    policy.on_remove("d")
    assert policy.victim() == "b"  # b and c used twice; b less recently
    policy.on_remove("b")
    policy.on_remove("c")
    assert policy.victim() == "a"


def test_arc_ghost_hit_in_b1_grows_recency_target() -> None:
    policy = ARCPolicy()
    for key in "abcd":
        policy.on_insert(key)
    policy.on_access("c")
    policy.on_access("d")  # c, d move to T2
    victim = policy.victim()
    assert victim == "a"  # T1 longer than p=0
    policy.on_remove(victim)  # becomes a ghost in B1
    policy.on_insert("a")  # ghost hit: p grows, a enters T2
    assert policy._p >= 1.0
    assert "a" in policy._t2


def test_arc_prefers_frequent_pages_over_one_time_scans() -> None:
    policy = ARCPolicy()
    for key in ("hot1", "hot2"):
        policy.on_insert(key)
        policy.on_access(key)
    for i in range(10):
        policy.on_insert(f"scan{i}")
        victim = policy.victim()
        assert victim is not None
        assert str(victim).startswith("scan")
        policy.on_remove(victim)


def test_importance_evicts_low_importance_before_recent() -> None:
    policy = ImportancePolicy()
    importance = {"low": 0.0, "high": 1.0}
    policy.bind(lambda key: importance[str(key)])
    policy.on_insert("high")
    policy.on_insert("low")
    assert policy.victim() == "low"


def test_importance_recency_outweighs_small_importance_gaps_over_the_horizon() -> None:
    policy = ImportancePolicy(horizon=10)
    importance = {"old": 0.6, "new": 0.5}
    policy.bind(lambda key: importance[str(key)])
    policy.on_insert("old")
    for _ in range(50):
        policy.on_insert("new")
        policy.on_access("new")
    assert policy.victim() == "old"


def test_importance_heap_stays_bounded_under_many_accesses() -> None:
    policy = ImportancePolicy()
    for i in range(100):
        policy.on_insert(i)
    for step in range(20_000):
        policy.on_access(step % 100)
    assert len(policy._heap) <= 2 * 100 + 64


def test_importance_rejects_negative_weights() -> None:
    with pytest.raises(InvalidArgument):
        ImportancePolicy(recency=-1.0)


@pytest.mark.parametrize("name", [*POLICY_NAMES, "lru", "Arc", "IMPORTANCE", "importance+recency"])
def test_make_policy_names_are_case_insensitive(name: str) -> None:
    assert isinstance(make_policy(name), EvictionPolicy)


def test_make_policy_unknown_name_lists_valid_names() -> None:
    with pytest.raises(UnknownPolicy) as info:
        make_policy("MRU")
    assert info.value.code == "UNKNOWN_POLICY"
    for name in POLICY_NAMES:
        assert name in str(info.value)


def test_make_policy_accepts_a_protocol_object_without_inheritance() -> None:
    class Newest:
        def __init__(self) -> None:
            self.keys: list[Hashable] = []

        def on_insert(self, key: Hashable) -> None:
            self.keys.append(key)

        def on_access(self, key: Hashable) -> None:
            pass

        def on_remove(self, key: Hashable) -> None:
            self.keys.remove(key)

        def victim(self) -> Hashable | None:
            return self.keys[-1] if self.keys else None

    custom = Newest()
    assert make_policy(custom) is custom


def test_make_policy_rejects_other_objects() -> None:
    with pytest.raises(InvalidArgument):
        make_policy(42)  # type: ignore[arg-type]
