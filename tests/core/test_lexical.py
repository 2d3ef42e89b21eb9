"""LexicalIndex: BM25 over compact posting arrays, bounded by the posting budget; both stores rank alike."""

from __future__ import annotations

import math
import sqlite3
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nexint_core import InMemorySwapStore
from nexint_core.embedders import content_terms
from nexint_core.errors import StoreCorrupted
from nexint_core.lexical import LexicalIndex
from nexint_core.stores import SqliteSwapStore, StoreWarning, query_terms
from nexint_core.stores.sqlite import DB_NAME, SCHEMA_VERSION
from tests.core.test_persistence import as_schema_3
from tests.core.test_swap_store import corpus, ids

VOCABULARY = ["otter", "falcon", "lima", "oslo", "amber", "code", "trip", "night", "river", "stone"]


def reference_bm25(docs: dict[int, list[str]], terms: list[str]) -> dict[int, float]:
    """Textbook BM25 (k1 1.2, b 0.75, idf log(1 + (n - df + 0.5) / (df + 0.5))), one document at a time."""
    n = len(docs)
    average = sum(len(words) for words in docs.values()) / n
    scores: dict[int, float] = {}
    for seq, words in docs.items():
        counts = Counter(words)
        total = 0.0
        for term in set(terms):
            if term in counts:
                df = sum(term in other for other in docs.values())
                idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
                tf = counts[term]
                total += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * len(words) / average))
        if total > 0:
            scores[seq] = total
    return scores


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=12), min_size=1, max_size=40),
    st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=4),
)
def test_lexical_search_scores_like_textbook_bm25(documents: list[list[str]], query: list[str]) -> None:
    index = LexicalIndex()
    docs = {seq: words for seq, words in enumerate(documents, start=1)}
    for seq, words in docs.items():
        index.add(seq, words)
    expected = reference_bm25(docs, query)
    found = index.search(query, k=len(docs))
    assert [seq for seq, _ in found] == sorted(expected, key=lambda seq: (-round(expected[seq], 9), seq))
    for seq, score in found:
        assert score == pytest.approx(expected[seq], rel=1e-9, abs=1e-9)  # rounded to 9 decimals


def test_lexical_search_returns_the_k_best_ties_by_write_order() -> None:
    index = LexicalIndex()
    for seq in range(1, 11):
        index.add(seq, ["river", "stone"] if seq in (4, 7) else ["night"])
    assert [seq for seq, _ in index.search(["river"], k=5)] == [4, 7]
    assert [seq for seq, _ in index.search(["night"], k=3)] == [1, 2, 3]


def test_lexical_term_in_more_pages_than_the_budget_keeps_only_its_count() -> None:
    index = LexicalIndex(posting_budget=10)
    for seq in range(1, 13):
        index.add(seq, ["common", "rare"] if seq == 12 else ["common"])
    assert index.document_frequency("common") == 12
    assert "common" not in index._postings  # dropped, never to be scored: its count is all that is kept
    assert index.search(["common"], k=5) == []
    assert [seq for seq, _ in index.search(["common", "rare"], k=5)] == [12]


def test_lexical_query_keeps_its_rarest_terms_within_the_budget() -> None:
    index = LexicalIndex(posting_budget=6)
    for seq in range(1, 6):
        index.add(seq, ["mid"] if seq <= 4 else ["rare", "mid"])
    # rare (1 posting) is kept first; mid (5 postings) fits beside it: 1 + 5 = 6
    assert {seq for seq, _ in index.search(["rare", "mid"], k=10)} == {1, 2, 3, 4, 5}
    index.add(6, ["mid"])  # now 1 + 6 > 6: mid is left out of the query, rare alone decides
    assert [seq for seq, _ in index.search(["rare", "mid"], k=10)] == [5]


def test_lexical_remove_forgets_a_page_and_its_counts() -> None:
    index = LexicalIndex()
    index.add(1, ["otter", "river", "otter"])
    index.add(2, ["otter"])
    index.remove(1, ["otter", "river", "otter"])
    assert index.document_frequency("otter") == 1
    assert index.document_frequency("river") == 0
    assert [seq for seq, _ in index.search(["otter", "river"], k=5)] == [2]
    assert (len(index), index.total_length) == (1, 1)


def test_lexical_add_rejects_an_out_of_range_sequence_number() -> None:
    with pytest.raises(ValueError, match="out of range"):
        LexicalIndex().add(0, ["otter"])


def test_stores_rank_text_searches_identically(tmp_path: Path) -> None:
    """The in-memory and the SQLite store share the BM25 code: same pages, same order, same scores."""
    memory = InMemorySwapStore()
    with SqliteSwapStore(tmp_path / "store") as sqlite:
        for page in corpus():
            memory.put([page])
            sqlite.put([page])
        for query in ("amber otter lima", "falcon visited oslo trip", "code17 silver", "badger heron quito"):
            namespaces = ["alice", "team"]
            left = memory.search_text(query, namespaces=namespaces, k=15)
            right = sqlite.search_text(query, namespaces=namespaces, k=15)
            assert ids(left) == ids(right) != []
            assert [hit.score for hit in left] == pytest.approx([hit.score for hit in right], rel=1e-12)


def test_sqlite_store_rebuilds_its_bm25_index_on_reopen(tmp_path: Path) -> None:
    with SqliteSwapStore(tmp_path / "store") as store:
        for page in corpus():
            store.put([page])
        before = store.search_text("amber otter lima code42", namespaces=["alice"], k=10)
    with SqliteSwapStore(tmp_path / "store") as store:
        assert store.search_text("amber otter lima code42", namespaces=["alice"], k=10) == before


def test_sqlite_store_finds_a_page_another_connection_wrote(tmp_path: Path) -> None:
    with SqliteSwapStore(tmp_path / "store") as reader, SqliteSwapStore(tmp_path / "store") as writer:
        reader.put([corpus()[0]])
        assert reader.search_text("unheard", namespaces=["alice"], k=5) == []
        late = corpus()[3]
        late.content = "An unheard melody from the other process."
        writer.put([late])
        assert ids(reader.search_text("unheard melody", namespaces=[late.namespace or ""], k=5)) == [late.id]
        writer.delete([late.id])
        assert reader.search_text("unheard melody", namespaces=[late.namespace or ""], k=5) == []


@pytest.mark.parametrize("old_version", [1, 2, 3])
def test_sqlite_store_upgrades_an_older_schema(tmp_path: Path, old_version: int) -> None:
    with SqliteSwapStore(tmp_path / "store") as store:
        for page in corpus()[:30]:
            store.put([page])
        centroid = store.vector_centroid(["alice", "bob"])
        tiers = {page.id: page.tier for page in store.scan()}
    assert centroid is not None
    assert len(set(tiers.values())) > 1
    as_schema_3(tmp_path / "store")  # what an older nexint made
    db = sqlite3.connect(tmp_path / "store" / DB_NAME)
    with db:
        if old_version == 1:  # nexint 0.1: an FTS5 table, no deletions log
            db.execute("CREATE VIRTUAL TABLE pages_fts USING fts5(terms, content='')")
            db.execute("DROP TABLE deletions")
        if old_version <= 2:
            db.execute("DROP TABLE centroids")  # schema 2 kept no per-namespace vector sums
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(old_version),))
    db.close()
    with SqliteSwapStore(tmp_path / "store") as store:
        assert ids(store.search_text("code7", namespaces=["bob"], k=3)) == ["MSG-000007"]
        rebuilt = store.vector_centroid(["alice", "bob"])
        assert {page.id: page.tier for page in store.scan()} == tiers
    assert rebuilt is not None
    assert np.allclose(rebuilt, centroid, atol=1e-6)
    db = sqlite3.connect(tmp_path / "store" / DB_NAME)
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    version = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    db.close()
    assert "pages_fts" not in tables
    assert {"deletions", "centroids", "tiers"} <= tables
    assert int(version) == SCHEMA_VERSION == 4


def test_sqlite_store_refuses_a_newer_schema(tmp_path: Path) -> None:
    SqliteSwapStore(tmp_path / "store").close()
    db = sqlite3.connect(tmp_path / "store" / DB_NAME)
    with db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    db.close()
    from nexint_core import StoreError

    with pytest.raises(StoreError, match=f"schema version {SCHEMA_VERSION + 1}"):
        SqliteSwapStore(tmp_path / "store")


def test_query_terms_are_the_distinct_content_terms() -> None:
    text = "Otters, otters everywhere: the otter swims."
    assert query_terms(text) == list(dict.fromkeys(content_terms(text)))


def test_lexical_index_saves_and_loads_exactly(tmp_path: Path) -> None:
    index = LexicalIndex(posting_budget=8)
    for seq, page in enumerate(corpus()[:60], start=1):
        index.add(seq, content_terms(page.content))
    index.remove(5, content_terms(corpus()[4].content))
    index.save(tmp_path / "x.lex", {"synced": 60})
    loaded, meta = LexicalIndex.load(tmp_path / "x.lex")
    assert meta == {"synced": 60}
    assert (loaded.docs, loaded.total_length) == (index.docs, index.total_length)
    assert loaded._postings == index._postings
    assert loaded._overflow == index._overflow
    for query in (["amber", "otter"], ["code17"], ["visit", "lima", "oslo"]):
        assert loaded.search(query, 10) == index.search(query, 10)


def test_lexical_index_file_damage_is_detected(tmp_path: Path) -> None:
    index = LexicalIndex()
    index.add(1, ["otter"])
    index.save(tmp_path / "x.lex", {})
    data = bytearray((tmp_path / "x.lex").read_bytes())
    data[20] ^= 0xFF
    (tmp_path / "x.lex").write_bytes(bytes(data))
    with pytest.raises(StoreCorrupted, match="damaged"):
        LexicalIndex.load(tmp_path / "x.lex")


def test_sqlite_store_reopens_from_its_saved_bm25_index_and_catches_up(tmp_path: Path) -> None:
    """The BM25 index is saved on close; a reopen reads it instead of rebuilding from SQLite, then applies
    what other processes wrote and deleted after the save (the deletions log), so it ranks as a rebuild would."""
    pages = corpus()
    with SqliteSwapStore(tmp_path / "store") as store:
        for page in pages[:150]:
            store.put([page])
        store.search_text("amber", namespaces=["alice"], k=1)  # loads the namespace's indexes
    saved = tmp_path / "store" / "vectors"
    assert Counter(path.suffix for path in saved.iterdir()) == {".faiss": 3, ".lex": 3}  # one each per namespace
    other = SqliteSwapStore(tmp_path / "store")  # another process, after the save, that dies unsaved
    for page in pages[150:]:
        other.put([page])
    other.delete([pages[0].id, pages[3].id, pages[200].id])
    other._conn.close()  # as a SIGKILL would leave it: committed rows, no index files written
    built = SqliteSwapStore(tmp_path / "rebuilt")
    for page in pages:
        built.put([page])
    built.delete([pages[0].id, pages[3].id, pages[200].id])
    with SqliteSwapStore(tmp_path / "store") as store:
        for namespace in ("alice", "bob", "team"):
            for query in ("amber otter lima", "falcon visited oslo trip", "code201", "code1 code4", "heron"):
                assert store.search_text(query, namespaces=[namespace], k=20) == built.search_text(
                    query, namespaces=[namespace], k=20
                ), (namespace, query)
        assert store._indexes.fresh_lexical == set()  # read from the file, not rebuilt
    built.close()


def test_sqlite_store_rebuilds_a_damaged_bm25_index_with_a_warning(tmp_path: Path) -> None:
    with SqliteSwapStore(tmp_path / "store") as store:
        for page in corpus()[:40]:
            store.put([page])
        expected = store.search_text("amber otter", namespaces=["alice"], k=10)
    for lex in (tmp_path / "store" / "vectors").glob("*.lex"):
        lex.write_bytes(lex.read_bytes()[:-10])
    with SqliteSwapStore(tmp_path / "store") as store, pytest.warns(StoreWarning, match="BM25 index"):
        assert store.search_text("amber otter", namespaces=["alice"], k=10) == expected


def test_search_breaks_ties_at_the_cut_by_write_order() -> None:
    index = LexicalIndex()
    for seq in range(1, 41):
        index.add(seq, ["chatter", f"filler{seq}"])  # forty pages tied on "chatter"
    index.add(41, ["chatter", "chatter", "rare"])
    hits = index.search(["chatter", "rare"], k=5)
    assert [seq for seq, _ in hits] == [41, 1, 2, 3, 4]


def test_lexical_query_weight_is_the_same_float_whatever_the_hash_seed() -> None:
    """The full-match weight sums its terms' idf in the query's order, not a set's (whose order follows
    PYTHONHASHSEED): two processes score a query to the same bits, so replays agree across processes."""
    import os
    import subprocess
    import sys

    script = (
        "from nexint_core.lexical import LexicalIndex\n"
        "index = LexicalIndex()\n"
        "words = [f'w{i}' for i in range(400)]\n"
        "for seq in range(1, 2000):\n"
        "    index.add(seq, [words[(seq * k) % 400] for k in range(1, 1 + seq % 37)])\n"
        "print(repr(index.query_weight([words[i] for i in range(0, 400, 3)] + ['never', 'seen'])))\n"
    )
    outputs = set()
    for seed in ("1", "2", "3", "4"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
        outputs.add(done.stdout.strip())
    assert len(outputs) == 1, outputs
