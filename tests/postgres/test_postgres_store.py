"""The PostgreSQL store on a real server: from a URI, the same decisions as the embedded store, a
versioned schema, and row-level security by namespace."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import psycopg
import pytest

from nexint_core import MemoryManager, NamespaceViolation, StepClock, StoreError, Tier, rebuild_from_events
from nexint_core.embedders import HashingEmbedder
from nexint_core.errors import EmbedderMismatch, StoreReadOnly
from nexint_core.stores import PostgresSwapStore, SqliteSwapStore, is_postgres_uri
from nexint_core.stores.postgres import SCHEMA_VERSION, migrate
from tests.postgres.server import Server

pytestmark = pytest.mark.postgres

FACT = "My sister Maria lives in Porto and teaches chemistry."
TOPICS = ("trains", "weather", "gardening", "chess", "bread", "rivers", "football", "museums")


def conversation(mmu: MemoryManager) -> list[str]:
    """A deterministic conversation with facts spread through small talk; returns the fact ids."""
    facts = []
    for turn in range(120):
        if turn % 15 == 3:
            text = f"Remember this: my locker code number {turn} is {1000 + 7 * turn}, near the {TOPICS[turn % 8]}."
            facts.append(mmu.write("user", text, importance=0.8)[0])
        else:
            mmu.write("user", f"Some chatter about {TOPICS[turn % 8]} and {TOPICS[(turn * 3) % 8]}, turn {turn}.")
        mmu.write("assistant", f"Noted, turn {turn}.")
    return facts


QUERIES = [f"What is my locker code number {turn}?" for turn in range(3, 120, 15)] + [
    "Tell me about chess and bread.",
    "Which museums did we discuss?",
]


def test_uri_spec_is_recognised() -> None:
    assert is_postgres_uri("postgresql://user@host/db")
    assert is_postgres_uri("postgres://host/db")
    assert not is_postgres_uri("memory/")
    assert not is_postgres_uri(Path("postgresql:/x"))


def test_manager_on_a_uri_persists_across_a_restart(postgres_uri: str) -> None:
    with MemoryManager(300, store=postgres_uri, clock=StepClock()) as mmu:
        assert isinstance(mmu.store, PostgresSwapStore)
        fact = mmu.write("user", FACT, importance=0.8)[0]
        for i in range(60):
            mmu.write("user", f"Chatter about trains and weather, message {i}.")
        assert mmu.get(fact).tier is Tier.SWAP
        table = mmu.page_table.snapshot()
    with MemoryManager(300, store=postgres_uri, clock=StepClock()) as mmu:  # another process, in effect
        assert mmu.page_table.snapshot() == table
        assert fact in mmu.page_in("Where does my sister live?")
        assert mmu.get(fact).tier is Tier.ACTIVE


def test_both_stores_make_the_same_page_in_decisions(postgres_uri: str, tmp_path: Path) -> None:
    runs = []
    for store in (SqliteSwapStore(tmp_path / "store"), PostgresSwapStore(postgres_uri)):
        with MemoryManager(400, store=store, clock=StepClock()) as mmu:
            facts = conversation(mmu)
            decisions = [(query, mmu.page_in(query)) for query in QUERIES]
            prompts = [mmu.assemble(query).page_ids for query in QUERIES]
            runs.append((facts, decisions, prompts, mmu.events.filter(action="page_in")))
    (facts, sqlite_decisions, sqlite_prompts, sqlite_events), (_, pg_decisions, pg_prompts, pg_events) = runs
    assert pg_decisions == sqlite_decisions
    assert pg_prompts == sqlite_prompts
    assert [event.reason for event in pg_events] == [event.reason for event in sqlite_events]  # scores too
    recalled = {page_id for _, ids in pg_decisions for page_id in ids}
    assert len(recalled & set(facts)) >= len(facts) // 2  # the comparison covers real recalls, not empty lists


def test_both_stores_score_searches_alike(postgres_uri: str, tmp_path: Path) -> None:
    stores = (SqliteSwapStore(tmp_path / "store"), PostgresSwapStore(postgres_uri))
    results = []
    for store in stores:
        with MemoryManager(400, store=store, clock=StepClock()) as mmu:
            conversation(mmu)
            vector = store.embedder.embed(["locker code chess"])[0]
            results.append(
                (
                    store.search_text("locker code chess museums", namespaces=["default"], k=15),
                    store.search_vector(vector, namespaces=["default"], k=15),
                )
            )
    (sqlite_text, sqlite_vector), (pg_text, pg_vector) = results
    assert [hit.page_id for hit in pg_text] == [hit.page_id for hit in sqlite_text]
    assert np.allclose([hit.score for hit in pg_text], [hit.score for hit in sqlite_text], rtol=1e-9)
    assert np.allclose([hit.score for hit in pg_vector], [hit.score for hit in sqlite_vector], atol=1e-5)
    cut = sqlite_vector[-1].score + 1e-5  # pages tied at the cut may differ: FAISS orders exact ties its own way
    assert {hit.page_id for hit in pg_vector if hit.score > cut} == {
        hit.page_id for hit in sqlite_vector if hit.score > cut
    }
    assert len([hit for hit in sqlite_vector if hit.score > cut]) >= 5


# -- schema ----------------------------------------------------------------------------------------


def schema_version(uri: str) -> int:
    with psycopg.connect(uri) as conn:
        row = conn.execute("SELECT value FROM nexint_meta WHERE key = 'schema_version'").fetchone()
    assert row is not None
    return int(row[0])


def test_a_new_store_has_the_current_schema(postgres_uri: str) -> None:
    PostgresSwapStore(postgres_uri).close()
    assert schema_version(postgres_uri) == SCHEMA_VERSION == 4


def test_opening_an_older_schema_upgrades_it_and_keeps_its_pages(postgres_uri: str) -> None:
    with psycopg.connect(postgres_uri) as conn:  # a store as schema 1 left it: no row-level security yet
        conn.execute("CREATE TABLE nexint_meta (key text PRIMARY KEY, value text NOT NULL)")
        embedder = HashingEmbedder()
        conn.execute(
            "INSERT INTO nexint_meta VALUES ('schema_version', '0'), ('embedder', %s), ('dim', %s)",
            (embedder.name, str(embedder.dim)),
        )
        migrate(conn, 0, 1, embedder.dim)
    assert schema_version(postgres_uri) == 1
    with psycopg.connect(postgres_uri) as conn:
        policies = conn.execute("SELECT count(*) FROM pg_policies WHERE tablename = 'nexint_pages'").fetchone()
    assert policies == (0,)
    with PostgresSwapStore(postgres_uri) as store, MemoryManager(300, store=store, clock=StepClock()) as mmu:
        fact = mmu.write("user", FACT)[0]
    assert schema_version(postgres_uri) == SCHEMA_VERSION
    with psycopg.connect(postgres_uri) as conn:
        policies = conn.execute("SELECT count(*) FROM pg_policies WHERE tablename = 'nexint_pages'").fetchone()
    assert policies == (1,)
    with PostgresSwapStore(postgres_uri) as store:
        assert store.get(fact) is not None


def test_a_newer_schema_is_refused_and_left_alone(postgres_uri: str) -> None:
    PostgresSwapStore(postgres_uri).close()
    with psycopg.connect(postgres_uri) as conn:
        conn.execute("UPDATE nexint_meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="schema 99, newer than this nexint's 4") as info:
        PostgresSwapStore(postgres_uri)
    assert info.value.code == "STORE_ERROR"
    assert schema_version(postgres_uri) == 99


def test_another_embedder_is_refused(postgres_uri: str) -> None:
    PostgresSwapStore(postgres_uri).close()

    class Other:
        name, dim = "other-8", 8

        def embed(self, texts: object) -> object:
            raise AssertionError("never called")

    with pytest.raises(EmbedderMismatch, match="built with embedder wordllama-l2_supercat-256"):
        PostgresSwapStore(postgres_uri, embedder=Other())  # type: ignore[arg-type]
    with pytest.raises(EmbedderMismatch, match="not hashing-v1-256"):
        PostgresSwapStore(postgres_uri, embedder="hashing")  # the same dimension, another embedder


def test_opening_without_create_refuses_an_empty_database(postgres_uri: str) -> None:
    with pytest.raises(StoreError, match="no nexint store"):
        PostgresSwapStore(postgres_uri, create=False)


def test_read_only_manager_on_a_uri_reads_and_records_nothing(postgres_uri: str) -> None:
    with pytest.raises(StoreError, match="no nexint store"):  # read-only never creates the schema
        MemoryManager(300, store=postgres_uri, read_only=True)
    with MemoryManager(300, store=postgres_uri, clock=StepClock()) as mmu:
        fact = mmu.write("user", FACT, importance=0.8)[0]
        for i in range(40):
            mmu.write("user", f"Chatter about trains and weather, message {i}.")
        assert mmu.get(fact).tier is Tier.SWAP
    with PostgresSwapStore(postgres_uri) as store:
        events = [event.to_dict() for event in store.events("default")]
    with MemoryManager(300, store=postgres_uri, clock=StepClock(), read_only=True) as mmu:
        assert mmu.read_only
        assert fact in mmu.assemble("Where does my sister live?").promoted
        with pytest.raises(StoreReadOnly, match="read-only"):
            mmu.write("user", "One more fact.")
    with PostgresSwapStore(postgres_uri) as store:
        assert [event.to_dict() for event in store.events("default")] == events
        stored = store.get(fact)
        assert stored is not None
        assert stored.tier is Tier.SWAP
        assert len(store) == 41


# -- row-level security ----------------------------------------------------------------------------


def make_role(postgres_uri: str, role: str) -> None:
    with psycopg.connect(postgres_uri, autocommit=True) as conn:
        conn.execute(f'DROP ROLE IF EXISTS "{role}"')  # left by an earlier run on a shared server
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
        conn.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}"')


def drop_role(postgres_uri: str, role: str) -> None:
    with psycopg.connect(postgres_uri, autocommit=True) as conn:
        conn.execute(f'DROP OWNED BY "{role}"')
        conn.execute(f'DROP ROLE IF EXISTS "{role}"')


def test_a_role_sees_only_the_namespaces_granted_even_in_raw_sql(postgres_server: Server, postgres_uri: str) -> None:
    database = urlsplit(postgres_uri).path.lstrip("/")
    with PostgresSwapStore(postgres_uri) as admin:  # managers sharing a store are flushed, not closed
        for namespace in ("alice", "bob", "team"):
            writer = MemoryManager(500, store=admin, namespace=namespace, clock=StepClock())
            writer.write("user", f"A private note of {namespace}: the code word is heron-{namespace}.")
            writer.flush()
        make_role(postgres_uri, "nexint_alice")
        try:
            admin.grant("nexint_alice", ["alice", "team"])
            alice_uri = postgres_server.role_uri(database, "nexint_alice")
            with psycopg.connect(alice_uri) as conn:  # raw SQL, as that role
                seen = {row[0] for row in conn.execute("SELECT DISTINCT namespace FROM nexint_pages")}
                events = {row[0] for row in conn.execute("SELECT DISTINCT namespace FROM nexint_events")}
                bob_rows = conn.execute("SELECT count(*) FROM nexint_pages WHERE namespace = 'bob'").fetchone()
            assert seen == {"alice", "team"}
            assert events == {"alice", "team"}
            assert bob_rows == (0,)
            with PostgresSwapStore(alice_uri) as store:
                alice = MemoryManager(500, store=store, namespace="alice", shared=("team",), clock=StepClock())
                assert alice.page_in("What is the code word of team?")
                assert not store.search_text("heron bob", namespaces=["bob"], k=5)
                intruder = MemoryManager(500, store=store, namespace="bob", clock=StepClock())
                with pytest.raises(NamespaceViolation, match="row-level security"):
                    intruder.write("user", "Writing into bob's namespace.")
        finally:
            drop_role(postgres_uri, "nexint_alice")


# -- the CLI ---------------------------------------------------------------------------------------


def test_the_cli_reads_a_postgres_store(postgres_uri: str, tmp_path: Path) -> None:
    with MemoryManager(300, store=postgres_uri, clock=StepClock()) as mmu:
        fact = mmu.write("user", FACT, importance=0.8)[0]
        for i in range(60):
            mmu.write("user", f"Chatter about trains and weather, message {i}.")
    env = {"NEXINT_HOME": str(tmp_path)}
    memos = [sys.executable, "-m", "nexint_core.cli"]
    run = subprocess.run(
        [*memos, "run", "--store", postgres_uri, "--budget", "300", "--query", "Where does my sister live?"],
        capture_output=True,
        text=True,
        env={**env, "PATH": ""},
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert fact in run.stdout.splitlines()[-1]
    inspect = subprocess.run(
        [*memos, "inspect", "--store", postgres_uri, "--tier", "active"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert inspect.returncode == 0, inspect.stderr
    assert fact in inspect.stdout
    missing = subprocess.run(
        [*memos, "inspect", "--store", postgres_uri.replace("nexint_test", "nexint_none")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert missing.returncode != 0
    assert missing.stderr.startswith("[ERROR] ")


def test_a_write_retried_after_a_lost_acknowledgement_is_stored_and_logged_once(
    postgres_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = PostgresSwapStore(postgres_uri)
    mmu = MemoryManager(1000, store=store, clock=StepClock())
    mmu.write("user", "Hello.")  # ids reserved: the next write is one transaction
    real = store._pool.connection
    lost = []

    @contextlib.contextmanager
    def commit_then_drop(*args: Any, **kwargs: Any) -> Iterator[Any]:
        with real(*args, **kwargs) as conn:
            yield conn
        if not lost:  # the transaction committed; the client sees the connection drop
            lost.append(True)
            raise psycopg.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(store._pool, "connection", commit_then_drop)
    fact = mmu.write("user", FACT)[0]
    monkeypatch.undo()
    assert lost == [True]
    mmu.write("user", "She teaches chemistry.")
    mmu.flush()
    events = store.events("default")
    assert len({(event.seq, event.memory_id, event.action) for event in events}) == len(events)
    assert [event.memory_id for event in events].count(fact) == 1
    assert rebuild_from_events(events) == mmu.page_table.snapshot()
    with psycopg.connect(postgres_uri) as conn:
        assert conn.execute("SELECT count(*) FROM nexint_pages WHERE id = %s", (fact,)).fetchone() == (1,)
    mmu.close()
