"""SwapStoreContract: every swap store keeps, finds and forgets pages the same way, and offers every
capability of the store boundary (ids, events, flush, preload, contents, close) as it declares."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import pytest

import nexint_core.manager
from nexint_core import Action, InMemorySwapStore, InvalidArgument, MemoryManager, Page, PageId, PagingEvent, Tier
from nexint_core.stores import (
    PersistentStore,
    PostgresSwapStore,
    SearchHit,
    SqliteSwapStore,
    StoreBase,
    SwapStore,
    SwapStoreAdapter,
    resolve_store,
)

COLOURS = ("red", "green", "blue", "amber", "violet", "silver", "ochre")
ANIMALS = ("otter", "falcon", "badger", "heron", "lynx", "marten", "viper", "bison", "crane", "gecko", "moose")
CITIES = ("paris", "lima", "oslo", "quito", "hanoi", "dakar", "perth", "tunis", "sofia", "riga", "baku", "doha", "suva")
NAMESPACES = ("alice", "bob", "team")
CORPUS_SIZE = 240
FIELDS = (
    "id",
    "content",
    "tokens",
    "role",
    "importance",
    "namespace",
    "frame_id",
    "group_id",
    "part",
    "created",
    "last_used",
    "use_count",
    "tier",
    "quarantined",
    "metadata",
)
FILTERS: list[dict[str, object]] = [
    {"role": "tool"},
    {"tier": Tier.SUMMARY},
    {"quarantined": True},
    {"group_id": "call-2"},
    {"frame_id": "MSG-000011"},
    {"role": "assistant", "quarantined": False, "tier": Tier.SWAP},
]


def page_id(number: int) -> PageId:
    return PageId(f"MSG-{number:06d}")


def corpus_page(number: int) -> Page:
    """Page ``number`` (1-based) of a deterministic corpus; ``code<number>`` occurs in no other page."""
    return Page(
        page_id(number),
        f"The {COLOURS[number % 7]} {ANIMALS[number % 11]} visited {CITIES[number % 13]} on trip code{number}.",
        tokens=12,
        role="tool" if number % 10 == 0 else "assistant" if number % 2 else "user",
        importance=(number % 5) / 4,
        namespace=NAMESPACES[number % 3],
        frame_id=str(page_id(number - (number - 1) % 2)),  # frames of two pages
        group_id=f"call-{number % 4}" if number % 5 == 0 else None,
        part=(number - 1) % 2,
        created=1_767_261_600.0 + number,
        last_used=1_767_261_600.0 + 2 * number,
        use_count=number % 3,
        tier=Tier.SUMMARY if number % 9 == 0 else Tier.SWAP if number % 2 else Tier.ACTIVE,
        quarantined=number % 7 == 0,
        metadata={"number": number},
    )


def corpus() -> list[Page]:
    return [corpus_page(number) for number in range(1, CORPUS_SIZE + 1)]


def page(number: int, content: str, namespace: str = "alice", **fields: Any) -> Page:
    fields.setdefault("tier", Tier.SWAP)
    return Page(page_id(number), content, tokens=len(content.split()), namespace=namespace, **fields)


def fields_of(stored: Page | None) -> dict[str, object]:
    assert stored is not None
    return {name: getattr(stored, name) for name in FIELDS}


def ids(hits: list[SearchHit]) -> list[str]:
    return [hit.page_id for hit in hits]


def passes(candidate: Page, where: Mapping[str, object]) -> bool:
    return all(getattr(candidate, name) == value for name, value in where.items())


POSTGRES = pytest.param("postgres", marks=pytest.mark.postgres)
# What each store declares: (keeps_copies, persistent, keeps an event log, keeps id counters).
DECLARED = {
    "memory": (False, False, False, True),
    "adapted": (False, True, False, False),
    "sqlite": (True, True, True, True),
    "postgres": (True, True, True, True),
}


def opener(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], StoreBase]:
    """A way to open (and open again) the store ``kind`` names."""
    if kind == "memory":
        return InMemorySwapStore
    if kind == "adapted":  # a store with only the small protocol, behind the boundary's defaults
        return lambda: SwapStoreAdapter(InMemorySwapStore())
    if kind == "postgres":
        return partial(PostgresSwapStore, request.getfixturevalue("postgres_uri"))
    return partial(SqliteSwapStore, tmp_path / "store")


@pytest.fixture(params=["memory", "adapted", "sqlite", POSTGRES])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreBase]:
    with opener(kind, request, tmp_path)() as opened:
        yield opened


@pytest.fixture(params=["sqlite", POSTGRES])
def reopen(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], StoreBase]:
    """Opens one persistent store, again on each call (another handle on the same data)."""
    return opener(str(request.param), request, tmp_path)


@pytest.fixture
def filled(store: StoreBase) -> StoreBase:
    """The store holding the corpus, written one page per put (batch puts have their own test)."""
    for each in corpus():
        store.put([each])
    return store


class TestSwapStoreContract:
    def test_store_satisfies_the_protocol(self, store: SwapStore) -> None:
        assert isinstance(store, SwapStore)
        vector = store.embedder.embed(["a red otter"])[0]
        assert vector.shape == (store.embedder.dim,)
        assert len(store) == 0
        assert list(store.scan()) == []

    def test_put_get_round_trips_every_field(self, store: SwapStore) -> None:
        written = Page(
            PageId("TOL-000042"),
            "Résumé: the café's Wi-Fi password is 'teal-42'.\nSecond line.",
            tokens=17,
            role="tool",
            importance=0.75,
            namespace="alice",
            frame_id="MSG-000041",
            group_id="call-7",
            part=3,
            created=1_767_261_600.25,
            last_used=1_767_265_200.5,
            use_count=4,
            tier=Tier.SUMMARY,
            quarantined=True,
            metadata={"source": "web", "tags": ["a", "b"], "nested": {"level": 2, "ok": True}, "none": None},
        )
        expected = fields_of(written)
        store.put([written])
        assert fields_of(store.get("TOL-000042")) == expected
        assert "TOL-000042" in store
        assert len(store) == 1

    def test_get_of_unknown_id_is_none(self, filled: SwapStore) -> None:
        assert filled.get("MSG-999999") is None
        assert "MSG-999999" not in filled

    def test_put_again_overwrites_the_stored_page(self, store: SwapStore) -> None:
        store.put([page(1, "The quartz lantern hums at dusk", role="user")])
        store.put([page(2, "An unrelated note about lunch")])
        replacement = page(1, "A velvet compass spins northward", role="assistant", tier=Tier.ACTIVE, use_count=2)
        expected = fields_of(replacement)
        store.put([replacement])
        assert fields_of(store.get("MSG-000001")) == expected
        assert len(store) == 2
        assert sorted(p.id for p in store.scan()) == ["MSG-000001", "MSG-000002"]
        assert store.search_text("quartz lantern", namespaces=["alice"]) == []
        assert ids(store.search_text("velvet compass", namespaces=["alice"])) == ["MSG-000001"]

    def test_put_again_after_a_vector_search_replaces_the_vector(self, store: SwapStore) -> None:
        old, new = "The quartz lantern hums at dusk", "A velvet compass spins northward"
        store.put([page(1, old), page(2, "An unrelated note about lunch")])
        assert ids(store.search_vector(store.embedder.embed([old])[0], namespaces=["alice"]))[0] == "MSG-000001"
        store.put([page(1, new)])
        hits = store.search_vector(store.embedder.embed([new])[0], namespaces=["alice"])
        assert ids(hits)[0] == "MSG-000001"
        assert hits[0].score > 0.99
        assert sorted(ids(hits)) == ["MSG-000001", "MSG-000002"]
        stale = store.search_vector(store.embedder.embed([old])[0], namespaces=["alice"])
        assert all(hit.score < 0.5 for hit in stale if hit.page_id == "MSG-000001")

    def test_put_twice_before_any_search_keeps_one_vector(self, store: SwapStore) -> None:
        old, new = "The quartz lantern hums at dusk", "A velvet compass spins northward"
        store.put([page(1, old)])
        store.put([page(1, new)])
        hits = store.search_vector(store.embedder.embed([new])[0], namespaces=["alice"])
        assert ids(hits) == ["MSG-000001"]
        assert hits[0].score > 0.99
        store.delete(["MSG-000001"])
        assert store.search_vector(store.embedder.embed([new])[0], namespaces=["alice"]) == []

    def test_put_moving_a_page_to_another_namespace_leaves_the_old_one(self, store: SwapStore) -> None:
        text = "The quartz lantern hums at dusk"
        store.put([page(1, text, namespace="alice")])
        store.put([page(1, text, namespace="bob")])
        vector = store.embedder.embed([text])[0]
        assert store.search_vector(vector, namespaces=["alice"]) == []
        assert store.search_text("quartz", namespaces=["alice"]) == []
        assert list(store.scan(["alice"])) == []
        assert ids(store.search_vector(vector, namespaces=["bob"])) == ["MSG-000001"]
        assert ids(store.search_text("quartz", namespaces=["bob"])) == ["MSG-000001"]

    def test_put_of_a_batch_then_search_vector_returns_k_distinct_pages(self, store: SwapStore) -> None:
        store.put([page(number, corpus_page(number).content) for number in range(1, 61)])
        for k in (1, 5, 10, 20):
            hits = store.search_vector(store.embedder.embed(["red otter trip"])[0], namespaces=["alice"], k=k)
            assert len(hits) == k
            assert len(set(ids(hits))) == k

    def test_delete_removes_a_page_from_every_view(self, filled: SwapStore) -> None:
        targets = [page_id(30), page_id(31), page_id(32)]  # one page of each namespace
        contents = [corpus_page(number).content for number in (30, 31, 32)]
        for text in contents:  # make sure the vectors are indexed before the delete
            assert ids(filled.search_vector(filled.embedder.embed([text])[0], namespaces=NAMESPACES, k=1))
        filled.delete([*targets, "MSG-999999"])
        assert len(filled) == CORPUS_SIZE - 3
        remaining = [p.id for p in filled.scan()]
        assert len(remaining) == CORPUS_SIZE - 3
        for target, text, number in zip(targets, contents, (30, 31, 32), strict=True):
            assert filled.get(target) is None
            assert target not in filled
            assert target not in remaining
            assert filled.search_text(f"code{number}", namespaces=NAMESPACES) == []
            vector = filled.embedder.embed([text])[0]
            assert target not in ids(filled.search_vector(vector, namespaces=NAMESPACES, k=CORPUS_SIZE))

    def test_delete_of_unknown_ids_is_ignored(self, filled: SwapStore) -> None:
        filled.delete(["MSG-999999", "TOL-000001"])
        filled.delete([])
        assert len(filled) == CORPUS_SIZE
        assert [p.id for p in filled.scan()] == [p.id for p in corpus()]

    def test_delete_before_any_search_is_never_found(self, store: SwapStore) -> None:
        text = "The quartz lantern hums at dusk"
        store.put([page(1, text), page(2, "A velvet compass spins northward")])
        store.delete(["MSG-000001"])
        assert "MSG-000001" not in ids(store.search_vector(store.embedder.embed([text])[0], namespaces=["alice"]))
        assert store.search_text("quartz", namespaces=["alice"]) == []

    def test_search_text_finds_pages_by_content_words(self, filled: SwapStore) -> None:
        assert ids(filled.search_text("code17", namespaces=NAMESPACES)) == ["MSG-000017"]
        hits = filled.search_text("otter", namespaces=NAMESPACES, k=CORPUS_SIZE)
        assert sorted(ids(hits)) == [page_id(n) for n in range(1, CORPUS_SIZE + 1) if n % 11 == 0]

    def test_search_text_ranks_more_matching_words_first(self, store: SwapStore) -> None:
        store.put(
            [
                page(1, "alpha epsilon zeta omega"),
                page(2, "alpha beta gamma omega"),
                page(3, "alpha beta sigma omega"),
                page(4, "theta iota kappa lambda"),
            ]
        )
        hits = store.search_text("alpha beta gamma", namespaces=["alice"])
        assert ids(hits) == ["MSG-000002", "MSG-000003", "MSG-000001"]
        assert hits[0].score > hits[1].score > hits[2].score > 0

    def test_search_text_of_only_stopwords_is_empty(self, filled: SwapStore) -> None:
        assert filled.search_text("the and of", namespaces=NAMESPACES) == []
        assert filled.search_text("", namespaces=NAMESPACES) == []

    def test_search_text_never_returns_unlisted_namespaces(self, filled: SwapStore) -> None:
        for listed in (["alice"], ["bob", "team"], ["team", "nobody"]):
            hits = filled.search_text("trip", namespaces=listed, k=CORPUS_SIZE)
            expected = {p.id for p in corpus() if p.namespace in listed}
            assert set(ids(hits)) == expected
            assert len(hits) == len(expected)
        assert filled.search_text("code16", namespaces=["alice", "team"]) == []  # page 16 belongs to bob
        assert filled.search_text("trip", namespaces=[]) == []
        assert filled.search_text("trip", namespaces=["nobody"]) == []

    def test_search_text_respects_k_best_first(self, filled: SwapStore) -> None:
        for k in (1, 5, 20):
            hits = filled.search_text("red otter paris", namespaces=NAMESPACES, k=k)
            assert len(hits) == k
            assert len(set(ids(hits))) == k
            assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)

    def test_search_vector_finds_the_exact_text_first(self, filled: SwapStore) -> None:
        for number in (1, 50, 99, 173, CORPUS_SIZE):
            vector = filled.embedder.embed([corpus_page(number).content])[0]
            hits = filled.search_vector(vector, namespaces=NAMESPACES, k=5)
            assert hits[0].page_id == page_id(number)
            assert hits[0].score > 0.99
            assert hits[0].score > hits[1].score

    def test_search_vector_respects_namespaces(self, filled: SwapStore) -> None:
        alice_text = corpus_page(30).content
        vector = filled.embedder.embed([alice_text])[0]
        for listed in (["bob"], ["bob", "team"], ["team", "nobody"]):
            hits = filled.search_vector(vector, namespaces=listed, k=CORPUS_SIZE)
            assert {fields_of(filled.get(hit))["namespace"] for hit in ids(hits)} <= set(listed)
            assert page_id(30) not in ids(hits)
        assert filled.search_vector(vector, namespaces=[]) == []
        assert filled.search_vector(vector, namespaces=["nobody"]) == []

    def test_search_vector_same_text_in_two_namespaces_stays_apart(self, store: SwapStore) -> None:
        text = "The quartz lantern hums at dusk"
        store.put([page(1, text, namespace="alice"), page(2, text, namespace="bob")])
        vector = store.embedder.embed([text])[0]
        assert ids(store.search_vector(vector, namespaces=["alice"])) == ["MSG-000001"]
        assert ids(store.search_vector(vector, namespaces=["bob"])) == ["MSG-000002"]
        assert sorted(ids(store.search_vector(vector, namespaces=["alice", "bob"]))) == ["MSG-000001", "MSG-000002"]

    def test_search_vector_respects_k_best_first(self, filled: SwapStore) -> None:
        vector = filled.embedder.embed(["red otter paris"])[0]
        for k in (1, 5, 20):
            hits = filled.search_vector(vector, namespaces=NAMESPACES, k=k)
            assert len(hits) == k
            assert len(set(ids(hits))) == k
            assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)

    @pytest.mark.parametrize("where", FILTERS, ids=lambda where: ",".join(where))
    def test_search_text_where_keeps_only_matching_pages(self, filled: SwapStore, where: dict[str, object]) -> None:
        hits = filled.search_text("trip", namespaces=NAMESPACES, k=CORPUS_SIZE, where=where)
        expected = {p.id for p in corpus() if passes(p, where)}
        assert expected
        assert set(ids(hits)) == expected
        assert len(hits) == len(expected)

    @pytest.mark.parametrize("where", FILTERS, ids=lambda where: ",".join(where))
    def test_search_vector_where_keeps_only_matching_pages(self, filled: SwapStore, where: dict[str, object]) -> None:
        vector = filled.embedder.embed(["trip"])[0]
        hits = filled.search_vector(vector, namespaces=NAMESPACES, k=CORPUS_SIZE, where=where)
        expected = {p.id for p in corpus() if passes(p, where)}
        assert set(ids(hits)) == expected
        assert len(hits) == len(expected)

    def test_search_vector_where_with_small_k_still_finds_rare_matches(self, filled: SwapStore) -> None:
        # Eight alice pages are tool results, none of them close to the query: all must still come back.
        vector = filled.embedder.embed([corpus_page(1).content])[0]
        where = {"role": "tool"}
        expected = {p.id for p in corpus() if p.namespace == "alice" and passes(p, where)}
        hits = filled.search_vector(vector, namespaces=["alice"], k=len(expected), where=where)
        assert set(ids(hits)) == expected
        few = filled.search_vector(vector, namespaces=["alice"], k=3, where=where)
        assert len(few) == 3
        assert set(ids(few)) <= expected

    def test_search_where_none_matches_pages_without_a_group(self, filled: SwapStore) -> None:
        expected = {p.id for p in corpus() if p.group_id is None}
        text_hits = filled.search_text("trip", namespaces=NAMESPACES, k=CORPUS_SIZE, where={"group_id": None})
        assert set(ids(text_hits)) == expected
        vector = filled.embedder.embed(["trip"])[0]
        vector_hits = filled.search_vector(vector, namespaces=NAMESPACES, k=CORPUS_SIZE, where={"group_id": None})
        assert set(ids(vector_hits)) == expected

    @pytest.mark.parametrize("where", [{"content": "x"}, {"namespace": "alice"}, {"role": "tool", "vaddr": 0}])
    def test_search_where_on_an_unknown_field_raises_invalid_argument(
        self, filled: SwapStore, where: dict[str, object]
    ) -> None:
        with pytest.raises(InvalidArgument, match="cannot filter on") as info:
            filled.search_text("trip", namespaces=NAMESPACES, where=where)
        assert info.value.code == "INVALID_ARGUMENT"
        vector = filled.embedder.embed(["trip"])[0]
        with pytest.raises(InvalidArgument, match="cannot filter on"):
            filled.search_vector(vector, namespaces=NAMESPACES, where=where)

    def test_scan_returns_pages_in_write_order(self, store: SwapStore) -> None:
        for number in (9, 2, 7, 4, 5):
            store.put([page(number, f"note {number}", namespace="alice" if number % 2 else "bob")])
        assert [p.id for p in store.scan()] == ["MSG-000009", "MSG-000002", "MSG-000007", "MSG-000004", "MSG-000005"]
        assert [p.id for p in store.scan(["alice"])] == ["MSG-000009", "MSG-000007", "MSG-000005"]
        assert [p.id for p in store.scan(["bob", "nobody"])] == ["MSG-000002", "MSG-000004"]
        assert list(store.scan([])) == []
        store.delete(["MSG-000009"])
        store.put([page(9, "note 9 again")])
        assert [p.id for p in store.scan()] == ["MSG-000002", "MSG-000007", "MSG-000004", "MSG-000005", "MSG-000009"]

    def test_scan_filters_the_corpus_by_namespace(self, filled: SwapStore) -> None:
        assert [p.id for p in filled.scan()] == [p.id for p in corpus()]
        for listed in (["alice"], ["bob", "team"]):
            assert [p.id for p in filled.scan(listed)] == [p.id for p in corpus() if p.namespace in listed]

    def test_store_holds_240_pages_each_findable(self, filled: SwapStore) -> None:
        assert len(filled) == CORPUS_SIZE
        for expected in corpus():
            assert expected.id in filled
            assert fields_of(filled.get(expected.id)) == fields_of(expected)
            namespace = [expected.namespace or ""]
            number = expected.id.number
            assert ids(filled.search_text(f"code{number}", namespaces=namespace)) == [expected.id]
            vector = filled.embedder.embed([expected.content])[0]
            assert ids(filled.search_vector(vector, namespaces=namespace, k=1)) == [expected.id]


def event(seq: int, memory_id: str, action: Action = Action.PAGE_IN, tier_to: Tier | None = Tier.ACTIVE) -> PagingEvent:
    tier_from = Tier.SWAP if tier_to is not None else None
    return PagingEvent(seq, 1_767_261_600.0 + seq, memory_id, action, f"reason {seq}", tier_from, tier_to, 12, "LRU@1")


class TestStoreCapabilities:
    """Every capability :class:`PersistentStore` declares, on every store (the defaults where it has none)."""

    def test_store_declares_every_capability(self, kind: str, store: StoreBase) -> None:
        keeps_copies, persistent, _, _ = DECLARED[kind]
        assert isinstance(store, PersistentStore)
        assert store.keeps_copies is keeps_copies
        assert store.persistent is persistent

    def test_keeps_copies_means_a_written_page_object_can_change_or_be_released(
        self, kind: str, store: StoreBase
    ) -> None:
        written = page(1, "The quartz lantern hums at dusk")
        store.put([written])
        written.content = ""  # what a manager does to a swapped page when the store keeps a copy
        stored = store.get(written.id)
        assert stored is not None
        assert (stored.content == "The quartz lantern hums at dusk") is store.keeps_copies
        assert store.contents([written.id]) == {written.id: stored.content}

    def test_reserve_ids_never_hands_out_a_number_twice(self, kind: str, store: StoreBase) -> None:
        if not DECLARED[kind][3]:  # no counter: the first free number is the one asked for
            assert [store.reserve_ids("MSG", 10, at_least) for at_least in (1, 1, 100, 50)] == [1, 1, 100, 50]
            return
        assert store.reserve_ids("MSG", 10, 1) == 1
        assert store.reserve_ids("MSG", 10, 1) == 11
        assert store.reserve_ids("MSG", 5, 100) == 100  # never below at_least
        assert store.reserve_ids("MSG", 5, 50) == 105  # never back to numbers already reserved
        assert store.reserve_ids("TOL", 3, 1) == 1  # kinds count apart

    def test_reserve_ids_are_shared_by_every_handle_on_one_store(self, reopen: Callable[[], StoreBase]) -> None:
        with reopen() as first, reopen() as second:
            assert first.reserve_ids("MSG", 256, 1) == 1
            assert second.reserve_ids("MSG", 256, 1) == 257
            assert first.reserve_ids("MSG", 256, 1) == 513

    def test_event_sink_buffers_events_until_flush(self, kind: str, store: StoreBase) -> None:
        store.put([page(1, "The quartz lantern hums at dusk"), page(2, "A velvet compass spins northward")])
        sink = store.event_sink("alice")
        if not DECLARED[kind][2]:  # no log: no sink, nothing pending, flush has nothing to write
            assert sink is None
            assert store.pending_events == 0
            store.flush()
            assert store.last_event_seq("alice") == 0
            assert store.events() == []
            return
        assert sink is not None
        emitted = [event(1, "MSG-000001"), event(2, "MSG-000002"), event(3, "MSG-000001", Action.EVICT, Tier.SWAP)]
        for each in emitted:
            sink.emit(each)
        assert store.pending_events == 3
        assert store.last_event_seq("alice") == 0  # buffered, not written
        store.flush()
        assert store.pending_events == 0
        assert store.last_event_seq("alice") == 3
        assert store.events("alice") == emitted
        store.flush()  # nothing pending: writes nothing
        assert store.events() == emitted

    def test_many_events_written_at_once_come_back_in_order_field_for_field(self, kind: str, store: StoreBase) -> None:
        store.put([page(n, f"Note {n} of a long session") for n in range(1, 3)])
        alice, bob = store.event_sink("alice"), store.event_sink("bob")
        if alice is None or bob is None:
            return
        moves = [(Action.PAGE_IN, Tier.ACTIVE), (Action.EVICT, Tier.SWAP), (Action.DROP, None)]
        emitted = []
        for n in range(1, 1235):  # more than one multi-row statement holds
            action, tier_to = moves[n % 3]
            emitted.append(("alice" if n % 5 else "bob", event(n, f"MSG-{n % 2 + 1:06d}", action, tier_to)))
        for namespace, each in emitted:
            (alice if namespace == "alice" else bob).emit(each)
        store.flush()
        assert store.events() == [each for _, each in emitted]
        assert store.events("bob") == [each for namespace, each in emitted if namespace == "bob"]
        last = {each.memory_id: each.tier_to for namespace, each in emitted if namespace == "alice" and each.tier_to}
        stored = [store.get(page_id) for page_id in last]
        assert {found.id: found.tier for found in stored if found is not None} == last

    @pytest.mark.parametrize("write", ["put", "delete"])
    def test_buffered_events_go_with_the_next_write(self, reopen: Callable[[], StoreBase], write: str) -> None:
        with reopen() as store:
            store.put([page(1, "The quartz lantern hums at dusk"), page(2, "A velvet compass spins northward")])
            sink = store.event_sink("alice")
            assert sink is not None
            sink.emit(event(1, "MSG-000001"))
            sink.emit(event(2, "MSG-000002"))
            if write == "put":
                store.put([page(3, "An unrelated note about lunch")])
            else:
                store.delete(["MSG-000002"])
            assert store.pending_events == 0
            assert store.last_event_seq("alice") == 2

    def test_events_and_their_tier_changes_stay_in_their_namespace(self, reopen: Callable[[], StoreBase]) -> None:
        with reopen() as store:
            store.put([page(1, "The quartz lantern hums at dusk"), page(2, "A note of bob's", namespace="bob")])
            alice, bob = store.event_sink("alice"), store.event_sink("bob")
            assert alice is not None
            assert bob is not None
            alice.emit(event(1, "MSG-000001"))  # swap -> active
            bob.emit(event(1, "MSG-000001", tier_to=Tier.CORE))  # bob's view of alice's page: not written on it
            alice.emit(event(2, "MSG-000001", Action.QUARANTINE, None))
            bob.emit(event(2, "MSG-000002", tier_to=Tier.SUMMARY))
            store.flush()
            first, second = store.get("MSG-000001"), store.get("MSG-000002")
            assert first is not None
            assert second is not None
            assert (first.tier, first.quarantined) == (Tier.ACTIVE, True)
            assert second.tier is Tier.SUMMARY
            alice.emit(event(3, "MSG-000001", Action.APPROVE, None))
            store.flush()
            approved = store.get("MSG-000001")
            assert approved is not None
            assert not approved.quarantined
            assert [e.seq for e in store.events("alice")] == [1, 2, 3]
            assert [(e.seq, e.memory_id) for e in store.events("bob")] == [(1, "MSG-000001"), (2, "MSG-000002")]
            assert [e.seq for e in store.events()] == [1, 1, 2, 2, 3]  # the order they were written
            assert store.events("nobody") == []
            assert (store.last_event_seq("alice"), store.last_event_seq("bob"), store.last_event_seq("x")) == (3, 2, 0)

    def test_close_flushes_events_and_a_second_close_does_nothing(self, reopen: Callable[[], StoreBase]) -> None:
        store = reopen()
        store.put([page(1, "The quartz lantern hums at dusk")])
        sink = store.event_sink("alice")
        assert sink is not None
        sink.emit(event(1, "MSG-000001"))
        store.close()
        store.close()
        with reopen() as again:
            assert again.last_event_seq("alice") == 1
            assert [e.memory_id for e in again.events("alice")] == ["MSG-000001"]
            assert again.contents(["MSG-000001"]) == {"MSG-000001": "The quartz lantern hums at dusk"}

    def test_close_of_a_store_with_nothing_open_is_harmless(self, kind: str, store: StoreBase) -> None:
        store.put([page(1, "The quartz lantern hums at dusk")])
        store.close()
        store.close()

    def test_preload_then_search_finds_every_namespace(self, store: StoreBase) -> None:
        store.put(corpus())
        store.preload(NAMESPACES)
        assert ids(store.search_text("code17", namespaces=NAMESPACES)) == ["MSG-000017"]
        vector = store.embedder.embed([corpus_page(30).content])[0]
        assert ids(store.search_vector(vector, namespaces=["alice"], k=1)) == ["MSG-000030"]

    def test_preload_of_a_reopened_store_loads_its_saved_indexes(self, reopen: Callable[[], StoreBase]) -> None:
        with reopen() as store:
            store.put(corpus())
            assert ids(store.search_text("code17", namespaces=NAMESPACES)) == ["MSG-000017"]
        with reopen() as store:
            store.preload([*NAMESPACES, "nobody"])
            for number in (16, 17, 18):  # one page of each namespace
                expected = corpus_page(number)
                found = store.search_text(f"code{number}", namespaces=[expected.namespace or ""])
                assert ids(found) == [expected.id]
                vector = store.embedder.embed([expected.content])[0]
                assert ids(store.search_vector(vector, namespaces=NAMESPACES, k=1)) == [expected.id]

    def test_contents_reads_many_pages_across_namespaces(self, store: StoreBase) -> None:
        written = [page(n, f"note {n} of {NAMESPACES[n % 3]}", namespace=NAMESPACES[n % 3]) for n in range(1, 601)]
        store.put(written)
        wanted = [p.id for p in written[::-1]] + ["MSG-999999"]  # more than one chunk of 500, and an unknown id
        assert store.contents(wanted) == {p.id: p.content for p in written}
        assert store.contents(["MSG-999999"]) == {}
        assert store.contents([]) == {}

    def test_resolve_store_keeps_a_full_store_and_adapts_a_plain_one(self, tmp_path: Path) -> None:
        memory = InMemorySwapStore()
        assert resolve_store(memory) is memory
        assert isinstance(resolve_store(None), InMemorySwapStore)
        plain = PlainStore()
        adapted = resolve_store(plain)
        assert isinstance(adapted, SwapStoreAdapter)
        assert adapted.store is plain
        opened = resolve_store(tmp_path / "store")
        assert isinstance(opened, SqliteSwapStore)
        opened.close()


class PlainStore:
    """A user's store with only the small protocol (nothing of :class:`PersistentStore`)."""

    def __init__(self) -> None:
        self.inner = InMemorySwapStore()
        self.embedder = self.inner.embedder

    def put(self, pages: Any) -> None:
        self.inner.put(pages)

    def get(self, page_id: str) -> Page | None:
        return self.inner.get(page_id)

    def delete(self, page_ids: Any) -> None:
        self.inner.delete(page_ids)

    def search_text(self, query: str, **options: Any) -> list[SearchHit]:
        return self.inner.search_text(query, **options)

    def search_vector(self, vector: Any, **options: Any) -> list[SearchHit]:
        return self.inner.search_vector(vector, **options)

    def scan(self, namespaces: Any = None) -> Iterator[Page]:
        return self.inner.scan(namespaces)

    def __contains__(self, page_id: object) -> bool:
        return page_id in self.inner

    def __len__(self) -> int:
        return len(self.inner)


def test_manager_works_on_a_store_with_only_the_small_protocol() -> None:
    plain = PlainStore()
    assert isinstance(plain, SwapStore)
    assert not isinstance(plain, PersistentStore)
    mmu = MemoryManager(120, store=plain, page_size=32)
    assert isinstance(mmu.store, SwapStoreAdapter)
    for n in range(12):
        mmu.write("user", f"Entry {n}: the courier brought parcel number {n} to the depot.")
    assert len(plain) == 12
    assert "MSG-000004" in mmu.page_in("parcel number 3")
    assert mmu.get("MSG-000004").content.startswith("Entry 3")
    mmu.flush()
    mmu.close()


@pytest.mark.parametrize("module", ["manager", "kernel", "planner", "retrieval", "conversation", "summary_tier"])
def test_manager_never_probes_the_store_and_imports_no_concrete_one(module: str) -> None:
    tree = ast.parse((Path(nexint_core.__file__).parent / f"{module}.py").read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert {name for name in imported if name and name.startswith("nexint_core.stores")} <= {"nexint_core.stores"}
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for alias in node.names}
    assert not names & {"InMemorySwapStore", "SqliteSwapStore", "PostgresSwapStore"}
    probes = [
        ast.unparse(node)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("getattr", "hasattr", "isinstance")
        and node.args
        and "store" in ast.unparse(node.args[0])
    ]
    assert probes == []
