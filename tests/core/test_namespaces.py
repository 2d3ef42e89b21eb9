"""Namespaces: agents sharing one store never see each other's pages, except through a mounted shared tier."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from nexint_core import Action, InMemorySwapStore, MemoryManager, Page, PageId, StepClock, SwapStore, Tier
from nexint_core.errors import NamespaceViolation
from nexint_core.stores import SqliteSwapStore

ALICE_FACT = "Alice keeps her spare house key under the blue flowerpot by the door."
BOB_FACT = "Bob keeps his spare house key inside the brass garden lantern."
TEAM_FACT = "The team deploy password rotates every Friday at noon."
KEY_QUERY = "where is the spare house key kept"
TEAM_QUERY = "when does the deploy password rotate"


def agent(store: SwapStore, namespace: str, shared: Sequence[str] = ()) -> MemoryManager:
    return MemoryManager(200, page_size=32, store=store, namespace=namespace, shared=shared, clock=StepClock())


def chatter(mmu: MemoryManager, turns: int = 30) -> None:
    """Enough small talk to push everything written before into swap."""
    for i in range(turns):
        mmu.write("user", f"{mmu.namespace} chatter {i}: weather, traffic and lunch plans")


def state(mmu: MemoryManager) -> tuple[object, ...]:
    return (
        mmu.page_table.snapshot(),
        mmu.events.last_seq,
        mmu.usage(),
        mmu.kernel.ids.state(),
        dict(mmu.kernel.groups),
    )


def store_state(store: SwapStore) -> list[tuple[str, str | None, str]]:
    return [(page.id, page.namespace, page.content) for page in store.scan()]


def contents(mmu: MemoryManager) -> list[str]:
    return [page.content for page in mmu.active_pages()]


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SwapStore]:
    """One store object that every agent of a test is given with ``store=``."""
    if request.param == "memory":
        yield InMemorySwapStore()
        return
    with SqliteSwapStore(tmp_path / "store") as sqlite:
        yield sqlite


def test_namespaces_agents_sharing_a_store_get_distinct_ids(store: SwapStore) -> None:
    alice, bob = agent(store, "alice"), agent(store, "bob")
    a = alice.write("user", ALICE_FACT)
    b = bob.write("user", BOB_FACT)
    assert set(a).isdisjoint(b)
    assert {(page.id, page.namespace) for page in store.scan()} == {(a[0], "alice"), (b[0], "bob")}


def test_namespaces_page_in_never_promotes_another_agents_page(store: SwapStore) -> None:
    alice, bob = agent(store, "alice"), agent(store, "bob")
    alice_fact = alice.write("user", ALICE_FACT)[0]
    bob_fact = bob.write("user", BOB_FACT)[0]
    chatter(alice)
    chatter(bob)
    assert (alice.get(alice_fact).tier, bob.get(bob_fact).tier) == (Tier.SWAP, Tier.SWAP)
    pairs = ((alice, alice_fact, bob_fact, BOB_FACT), (bob, bob_fact, alice_fact, ALICE_FACT))
    for mmu, own, other, other_text in pairs:
        promoted = mmu.page_in(KEY_QUERY)
        assert own in promoted  # the query does reach the archive
        assert other not in promoted
        assert other not in mmu
        assert {mmu.get(page_id).namespace for page_id in promoted} == {mmu.namespace}
        assert other_text not in contents(mmu)
    assert alice.page_in("brass garden lantern") == []
    assert bob.page_in("blue flowerpot by the door") == []


def test_namespaces_write_to_an_unmounted_namespace_is_refused_and_changes_nothing(store: SwapStore) -> None:
    alice = agent(store, "alice", shared=("team",))
    agent(store, "bob")
    alice.write("user", ALICE_FACT)
    before, stored = state(alice), store_state(store)
    for namespace in ("bob", "default", "teams"):
        with pytest.raises(NamespaceViolation, match="not mounted") as info:
            alice.write("user", "a note for somebody else", namespace=namespace)
        assert info.value.code == "NAMESPACE_VIOLATION"
        assert isinstance(info.value, PermissionError)
    with pytest.raises(NamespaceViolation):
        alice.allocate(Page(PageId("MSG-000900"), "a page for bob", namespace="bob"))
    assert state(alice) == before
    assert store_state(store) == stored
    assert alice.write("user", "my next note")[0] == "MSG-000002"


def test_namespaces_shared_page_is_adopted_by_an_agent_that_mounts_it(store: SwapStore) -> None:
    alice = agent(store, "alice", shared=("team",))
    bob = agent(store, "bob", shared=("team",))
    carol = agent(store, "carol")
    team = alice.write("user", TEAM_FACT, namespace="team")[0]
    assert alice.get(team).namespace == "team"
    assert team not in bob
    assert bob.page_in(TEAM_QUERY) == [team]
    adopted = bob.get(team)
    assert (adopted.namespace, adopted.tier, adopted.content) == ("team", Tier.ACTIVE, TEAM_FACT)
    allocate, page_in = bob.events.filter(memory_id=team)
    assert (allocate.action, allocate.reason) == (Action.ALLOCATE, "found in namespace 'team', written elsewhere")
    assert (page_in.action, page_in.tier_from, page_in.tier_to) == (Action.PAGE_IN, Tier.SWAP, Tier.ACTIVE)
    assert TEAM_FACT in contents(bob)
    assert carol.page_in(TEAM_QUERY) == []
    assert team not in carol
    assert TEAM_FACT not in contents(carol)
    with pytest.raises(NamespaceViolation):
        carol.write("user", "let me into the team space", namespace="team")


def test_namespaces_agents_mounting_the_shared_tier_read_each_others_shared_pages(store: SwapStore) -> None:
    alice = agent(store, "alice", shared=("team",))
    bob = agent(store, "bob", shared=("team",))
    carol = agent(store, "carol")
    from_alice = alice.write("user", TEAM_FACT, namespace="team")[0]
    from_bob = bob.write("user", "The team standup moved to the blue meeting room.", namespace="team")[0]
    carol.write("user", "Carol's standup is in the blue meeting room too.")
    chatter(alice)
    assert from_bob in alice.page_in("where is the team standup meeting room")
    assert from_alice in bob.page_in(TEAM_QUERY)
    promoted = carol.page_in("where is the team standup meeting room")
    assert from_alice not in promoted
    assert from_bob not in promoted
    assert {page.namespace for page in carol.page_table} == {"carol"}


def test_namespaces_agent_started_later_loads_shared_pages_into_swap(store: SwapStore) -> None:
    alice = agent(store, "alice", shared=("team",))
    alice.write("user", ALICE_FACT)
    team = alice.write("user", TEAM_FACT, namespace="team")[0]
    dave = agent(store, "dave", shared=("team",))
    carol = agent(store, "carol")
    assert [(page.id, page.tier) for page in dave.page_table] == [(team, Tier.SWAP)]
    assert dave.page_in(TEAM_QUERY) == [team]
    assert len(carol) == 0
    assert carol.page_in(TEAM_QUERY) == []


# -- random operations -------------------------------------------------------------------------

AGENTS = {"alice": ("team",), "bob": ("team",), "carol": ()}
# One id kind per agent, so that this machine explores isolation even while agents sharing an
# InMemorySwapStore still draw colliding ids (test_namespaces_agents_sharing_a_store_get_distinct_ids).
KINDS = {"alice": "ALI", "bob": "BOB", "carol": "CAR"}
VOCABULARY = ("kettle", "harbor", "violin", "cactus", "glacier", "lantern", "pepper", "saddle", "tundra", "walnut")
PROMOTED: Counter[str] = Counter()


class NamespaceMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.store = InMemorySwapStore()
        self.agents = {
            name: MemoryManager(
                40, page_size=32, page_in_budget=20, store=self.store, namespace=name, shared=shared, clock=StepClock()
            )
            for name, shared in AGENTS.items()
        }
        self.private: dict[str, set[str]] = {name: set() for name in AGENTS}
        self.published: set[str] = set()  # texts also written to the shared namespace
        self.words: set[str] = set()

    @rule(
        name=st.sampled_from(sorted(AGENTS)),
        notes=st.lists(st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=8), min_size=1, max_size=4),
        to_shared=st.booleans(),
    )
    def write(self, name: str, notes: list[list[str]], to_shared: bool) -> None:
        mmu = self.agents[name]
        namespace = "team" if to_shared and mmu.shared else name
        for words in notes:
            ids = mmu.write("user", f"{name} notes {' '.join(words)}", namespace=namespace, kind=KINDS[name])
            texts = {mmu.get(page_id).content for page_id in ids}
            if namespace == name:
                self.private[name].update(texts)
            else:
                self.published.update(texts)
            self.words.update(words)

    @rule(name=st.sampled_from(sorted(AGENTS)), elsewhere=st.sampled_from([*sorted(AGENTS), "team"]))
    def write_elsewhere(self, name: str, elsewhere: str) -> None:
        mmu = self.agents[name]
        if elsewhere in mmu.namespaces:
            return
        before, stored = state(mmu), store_state(self.store)
        with pytest.raises(NamespaceViolation):
            mmu.write("user", f"{name} trespasses on {elsewhere}", namespace=elsewhere, kind=KINDS[name])
        assert state(mmu) == before
        assert store_state(self.store) == stored

    @precondition(lambda self: self.words)
    @rule(name=st.sampled_from(sorted(AGENTS)), data=st.data())
    def page_in(self, name: str, data: st.DataObject) -> None:
        mmu = self.agents[name]
        query = data.draw(st.lists(st.sampled_from(sorted(self.words)), min_size=1, max_size=3))
        promoted = mmu.page_in(" ".join(query))
        for page_id in promoted:
            assert mmu.get(page_id).namespace in mmu.namespaces
            stored = self.store.get(page_id)
            assert stored is not None
            assert stored.namespace in mmu.namespaces
        PROMOTED["pages"] += len(promoted)

    @rule(name=st.sampled_from(sorted(AGENTS)), data=st.data())
    def touch(self, name: str, data: st.DataObject) -> None:
        mmu = self.agents[name]
        if len(mmu):
            mmu.touch(data.draw(st.sampled_from(sorted(page.id for page in mmu.page_table))))

    @rule(name=st.sampled_from(sorted(AGENTS)), data=st.data())
    def page_out(self, name: str, data: st.DataObject) -> None:
        mmu = self.agents[name]
        active = mmu.pages(Tier.ACTIVE)
        if active:
            mmu.page_out(data.draw(st.sampled_from([page.id for page in active])))

    @invariant()
    def agents_stay_within_their_namespaces(self) -> None:
        for name, mmu in self.agents.items():
            assert {page.namespace for page in mmu.page_table} <= set(mmu.namespaces)
            others = set().union(*(texts for owner, texts in self.private.items() if owner != name))
            others -= self.published  # the same words published to the shared tier may be read
            assert not others.intersection(contents(mmu))
            usage = mmu.usage()
            assert usage["core"] + usage["active"] + usage["summary"] <= mmu.limit_tokens


def test_namespaces_random_operations_keep_agents_isolated() -> None:
    PROMOTED.clear()
    run_state_machine_as_test(
        NamespaceMachine, settings=settings(max_examples=40, stateful_step_count=50, deadline=None, database=None)
    )
    assert PROMOTED["pages"] > 0, "page_in never promoted a page: the machine tested nothing"
