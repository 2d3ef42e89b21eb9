"""SwapStoreContract: every swap store keeps, finds and forgets pages the same way."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from nexint_core import InMemorySwapStore, InvalidArgument, Page, PageId, SwapStore, Tier
from nexint_core.stores import PostgresSwapStore, SearchHit, SqliteSwapStore

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


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SwapStore]:
    if request.param == "memory":
        yield InMemorySwapStore()
        return
    if request.param == "postgres":
        with PostgresSwapStore(request.getfixturevalue("postgres_uri")) as postgres:
            yield postgres
        return
    with SqliteSwapStore(tmp_path / "store") as sqlite:
        yield sqlite


@pytest.fixture
def filled(store: SwapStore) -> SwapStore:
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
