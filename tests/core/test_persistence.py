"""Persistence of the SQLite store: SIGKILL, restart in a new process, damaged files, two processes.

Everything here uses real SQLite files, real FAISS files and real subprocesses (tests/core/_writer.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import warnings
from collections import Counter
from pathlib import Path

import pytest

from nexint_core import MemoryManager, StepClock, Tier, rebuild_from_events
from nexint_core.embedders import HashingEmbedder
from nexint_core.errors import EmbedderMismatch, StoreCorrupted, StoreError
from nexint_core.ids import PageId
from nexint_core.pages import Page
from nexint_core.stores import SqliteSwapStore, StoreWarning
from tests.core._writer import fact_text, pair_text

WRITER = Path(__file__).with_name("_writer.py")
NAMESPACES = ["default"]


# -- helpers -----------------------------------------------------------------------------------


def run_helper(*args: object, timeout: float = 60.0) -> str:
    """Run one _writer.py mode to completion with warnings as errors; returns its stdout."""
    result = subprocess.run(
        [sys.executable, "-W", "error", str(WRITER), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def write_until_killed(args: list[str], acks: int, pause: float) -> list[tuple[str, int]]:
    """Start a writer, SIGKILL it ``pause`` seconds after its ``acks``-th acknowledgement.

    Returns every acknowledged ``(page id, n)``: the complete lines it printed before it died.
    """
    command = [sys.executable, str(WRITER), *args]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        watchdog = threading.Timer(40.0, proc.kill)
        watchdog.start()
        try:
            assert proc.stdout is not None
            assert proc.stderr is not None
            lines: list[str] = []
            while len(lines) < acks:
                line = proc.stdout.readline()
                if not line:
                    break
                lines.append(line)
            assert len(lines) == acks, f"writer died after {len(lines)} writes: {proc.stderr.read()}"
            time.sleep(pause)
            os.kill(proc.pid, signal.SIGKILL)
            lines += proc.stdout.read().splitlines(keepends=True)
            proc.wait()
        finally:
            watchdog.cancel()
    assert proc.returncode == -signal.SIGKILL
    acked = [line.split() for line in lines if line.endswith("\n")]
    return [(page_id, int(n)) for page_id, n in acked]


def digest(directory: Path) -> dict[str, str]:
    """sha256 of every file under ``directory``, by relative path."""
    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def open_error(directory: Path, **kwargs: object) -> Exception | None:
    """The error opening the store raised, or None (the store is closed again either way)."""
    try:
        store = SqliteSwapStore(directory, **kwargs)  # type: ignore[arg-type]
    except Exception as exc:
        return exc
    store.close()
    return None


def fill(directory: Path, numbers: range) -> dict[str, int]:
    """Create a store holding one page per number, closed cleanly; returns page id -> number."""
    with SqliteSwapStore(directory) as store:
        for n in numbers:
            store.put([Page(PageId.make("FACT", n), fact_text(n), 16)])
    return {PageId.make("FACT", n): n for n in numbers}


def missed(store: SqliteSwapStore, pages: dict[str, int]) -> list[str]:
    """Pages that ``get``, ``search_text`` on their unique word or ``search_vector`` on their text miss."""
    vectors = store.embedder.embed([fact_text(n) for n in pages.values()])
    out = []
    for (page_id, n), vector in zip(pages.items(), vectors, strict=True):
        page = store.get(page_id)
        by_text = [hit.page_id for hit in store.search_text(f"zebra{n}", namespaces=NAMESPACES, k=3)]
        by_vector = [hit.page_id for hit in store.search_vector(vector, namespaces=NAMESPACES, k=5)]
        if page is None or page.content != fact_text(n) or by_text != [page_id] or page_id not in by_vector:
            out.append(page_id)
    return out


def integrity(directory: Path) -> list[tuple[str]]:
    with contextlib.closing(sqlite3.connect(directory / "nexint.db")) as conn:
        return conn.execute("PRAGMA integrity_check").fetchall()


# -- 1. crash safety ---------------------------------------------------------------------------


def test_sqlite_store_keeps_every_acknowledged_write_across_sigkills(tmp_path: Path) -> None:
    rng = random.Random(20260101)
    directory = tmp_path / "store"
    modes = ["store", "store", "manager", "store", "store", "manager"] * 2
    acked: dict[str, int] = {}
    stored: set[str] = set()
    for round_no, mode in enumerate(modes, start=1):
        first = round_no * 100_000
        if mode == "store":
            save_every = rng.choice((25, 20_000))  # 25: kills also land while a FAISS file is written
            args = ["store", str(directory), str(first), str(save_every)]
        else:
            args = ["manager", str(directory), str(first)]
        new = dict(write_until_killed(args, acks=rng.randint(5, 120), pause=rng.uniform(0.0, 0.004)))
        acked.update(new)
        assert integrity(directory) == [("ok",)]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with SqliteSwapStore(directory) as store:
                assert missed(store, acked) == [], f"round {round_no} ({mode})"
                now: set[str] = {page.id for page in store.scan()}
        assert [w.message for w in caught if not issubclass(w.category, StoreWarning)] == []
        # At most the one write in flight at the kill is committed without its acknowledgement.
        committed = now - stored
        assert set(new) <= committed
        assert len(committed) - len(new) in (0, 1)
        stored = now
        if mode == "manager":
            with MemoryManager(300, store=directory, clock=StepClock()) as mmu:
                assert all(page_id in mmu for page_id in acked)
                usage = mmu.usage()
                assert usage["core"] + usage["active"] + usage["summary"] <= 300


def test_manager_event_log_replays_reopened_table_after_sigkill(tmp_path: Path) -> None:
    directory = tmp_path / "store"
    acked = write_until_killed(["manager", str(directory), "1"], acks=60, pause=0.0)
    with MemoryManager(300, store=directory, clock=StepClock()) as mmu:
        assert all(page_id in mmu for page_id, _ in acked)
        assert isinstance(mmu.store, SqliteSwapStore)
        logged = {event.memory_id for event in mmu.store.events("default") if event.action.value == "allocate"}
        assert [page_id for page_id, _ in acked if page_id not in logged] == []
        assert rebuild_from_events(mmu.store.events("default")) == mmu.page_table.snapshot()


# -- 2. restart --------------------------------------------------------------------------------


def test_manager_restart_in_new_process_restores_table_and_searches(tmp_path: Path) -> None:
    directory = tmp_path / "store"
    run_helper("restart-write", directory, tmp_path / "before.json")
    run_helper("restart-read", directory, tmp_path / "after.json")
    before = json.loads((tmp_path / "before.json").read_text(encoding="utf-8"))
    after = json.loads((tmp_path / "after.json").read_text(encoding="utf-8"))
    tiers = Counter(row[0] for row in before["table"].values())
    assert len(before["table"]) == 5000
    assert tiers["swap"] > 4000
    assert tiers["active"] > 0
    assert tiers["core"] == 1
    assert any(row[3] for row in before["table"].values())
    assert {page_id.split("-")[0] for page_id in before["table"]} == {"MSG", "TOL"}
    assert after["table"] == before["table"]
    assert after["rebuilt"] == after["table"]
    assert all(before["search"].values())
    for query, hits in before["search"].items():
        assert [hit[0] for hit in after["search"][query]] == [hit[0] for hit in hits], query
        assert [hit[1] for hit in after["search"][query]] == pytest.approx([hit[1] for hit in hits]), query


@pytest.mark.parametrize("variant", ["forget", "summarizer"])
def test_manager_restart_keeps_virtual_addresses(tmp_path: Path, variant: str) -> None:
    directory = tmp_path / "store"
    summarizer = "extractive" if variant == "summarizer" else None
    with MemoryManager(512, store=directory, clock=StepClock(), summarizer=summarizer) as mmu:
        ids = [page_id for n in range(1, 301) for page_id in mmu.write("user", fact_text(n))]
        if variant == "forget":
            for page_id in ids[10:300:50]:
                mmu.forget(page_id)
        assert mmu.pages(Tier.SUMMARY) or variant == "forget"
        before = mmu.page_table.snapshot()
    with MemoryManager(512, store=directory, clock=StepClock(), summarizer=summarizer) as mmu:
        assert isinstance(mmu.store, SqliteSwapStore)
        assert mmu.page_table.snapshot() == before
        assert rebuild_from_events(mmu.store.events("default")) == before


# -- 3. FAISS files are a cache --------------------------------------------------------------


def test_sqlite_store_rebuilds_missing_vector_file_with_warning(tmp_path: Path) -> None:
    directory = tmp_path / "store"
    pages = fill(directory, range(1, 301))
    (index_file,) = (directory / "vectors").glob("*.faiss")
    index_file.unlink()
    with SqliteSwapStore(directory) as store:
        with pytest.warns(StoreWarning, match="missing"):
            store.search_vector(store.embedder.embed(["zebra7"])[0], namespaces=NAMESPACES)
        assert missed(store, pages) == []
    assert index_file.exists()
    with SqliteSwapStore(directory) as store:  # rebuilt and saved: no second warning
        assert missed(store, pages) == []


@pytest.mark.parametrize("damage", ["garbage", "truncated", "middle"])
def test_sqlite_store_rebuilds_damaged_vector_file_with_warning(tmp_path: Path, damage: str) -> None:
    directory = tmp_path / "store"
    pages = fill(directory, range(1, 301))
    (index_file,) = (directory / "vectors").glob("*.faiss")
    data = index_file.read_bytes()
    junk = random.Random(damage).randbytes(len(data))
    if damage == "garbage":
        index_file.write_bytes(junk)
    elif damage == "truncated":
        index_file.write_bytes(data[: len(data) // 2])
    else:
        middle = len(data) // 2
        index_file.write_bytes(data[:middle] + junk[:4096] + data[middle + 4096 :])
    with SqliteSwapStore(directory) as store:
        with pytest.warns(StoreWarning, match="rebuilding"):
            store.search_vector(store.embedder.embed(["zebra7"])[0], namespaces=NAMESPACES)
        assert missed(store, pages) == []
    with SqliteSwapStore(directory) as store:
        assert missed(store, pages) == []


def test_sqlite_store_vector_search_finds_exact_text_of_templated_pages(tmp_path: Path) -> None:
    texts = {PageId.make("MSG", n): f"fact number {n} about zebra{n}" for n in range(1, 501)}
    # hashed vectors: every text its own vector (a subword embedder may give "zebra123" and "zebra321" one)
    with SqliteSwapStore(tmp_path / "store", embedder=HashingEmbedder(256)) as store:
        for page_id, text in texts.items():
            store.put([Page(page_id, text, 8)])
        vectors = store.embedder.embed(list(texts.values()))
        lost = [
            page_id
            for page_id, vector in zip(texts, vectors, strict=True)
            if page_id not in [hit.page_id for hit in store.search_vector(vector, namespaces=NAMESPACES, k=5)]
        ]
    assert lost == []


# -- 4. damaged SQLite -------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["header", "page-header", "middle", "not-sqlite"])
def test_sqlite_store_refuses_damaged_database_and_changes_nothing(tmp_path: Path, damage: str) -> None:
    directory = tmp_path / "store"
    fill(directory, range(1, 2001))
    db = directory / "nexint.db"
    data = db.read_bytes()
    junk = random.Random(damage).randbytes(4096)
    if damage == "header":
        db.write_bytes(junk[:100] + data[100:])
    elif damage == "page-header":  # the magic string survives, the page size and counters do not
        db.write_bytes(data[:16] + junk[:84] + data[100:])
    elif damage == "middle":
        middle = len(data) // 2
        db.write_bytes(data[:middle] + junk + data[middle + 4096 :])
    else:
        db.write_text("name,value\nthis,is a csv file\n" * 50, encoding="utf-8")
    before = digest(directory)
    error = open_error(directory)
    assert isinstance(error, StoreCorrupted), error
    assert error.code == "STORE_CORRUPTED"
    assert digest(directory) == before
    with pytest.raises(StoreCorrupted):
        MemoryManager(512, store=directory, clock=StepClock())
    assert digest(directory) == before


def test_sqlite_store_refuses_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    directory = tmp_path / "store"
    directory.mkdir()
    (directory / "nexint.db").write_bytes(b"\x89PNG\r\n\x1a\n" + random.Random(1).randbytes(5000))
    before = digest(directory)
    error = open_error(directory)
    assert isinstance(error, StoreCorrupted), error
    assert error.code == "STORE_CORRUPTED"
    assert digest(directory) == before


@pytest.mark.parametrize("state", ["empty", "missing"])
@pytest.mark.parametrize("kind", [".faiss", ".lex"])
def test_sqlite_store_refuses_a_lost_database_beside_its_indexes(tmp_path: Path, state: str, kind: str) -> None:
    """A store whose nexint.db was truncated or deleted is damaged, not new: opening it must not create an
    empty store over the remains (its index files would then describe pages that no longer exist)."""
    directory = tmp_path / "store"
    fill(directory, range(1, 101))
    db = directory / "nexint.db"
    for index in (directory / "vectors").glob("*"):
        if index.suffix != kind:
            index.unlink()  # either kind of index file alone is evidence
    if state == "empty":
        db.write_bytes(b"")
    else:
        db.unlink()
    before = digest(directory)
    for options in ({}, {"create": False}, {"read_only": True}):
        error = open_error(directory, **options)
        assert isinstance(error, StoreCorrupted), (options, error)
        assert error.code == "STORE_CORRUPTED"
        assert f"nexint.db is {state} but {directory / 'vectors'} holds index files" in str(error)
        assert "nothing was changed" in str(error)
    with pytest.raises(StoreCorrupted):
        MemoryManager(512, store=directory, clock=StepClock())
    assert digest(directory) == before
    assert db.exists() is (state == "empty")


@pytest.mark.parametrize("where", ["missing", "empty-directory", "empty-database", "empty-vectors"])
def test_sqlite_store_creates_a_new_store_where_there_is_none(tmp_path: Path, where: str) -> None:
    directory = tmp_path / "store"
    if where != "missing":
        directory.mkdir()
    if where == "empty-database":  # a first open killed before SQLite wrote anything
        (directory / "nexint.db").write_bytes(b"")
    if where == "empty-vectors":
        (directory / "vectors").mkdir()
    error = open_error(directory, create=False)
    assert type(error) is StoreError, error
    assert f"no store at {directory}" in str(error)
    with SqliteSwapStore(directory) as store:
        store.put([Page(PageId.make("FACT", 1), fact_text(1), 16)])
    with SqliteSwapStore(directory, create=False) as store:
        assert missed(store, {PageId.make("FACT", 1): 1}) == []


# -- 5. embedder mismatch ----------------------------------------------------------------------


def test_sqlite_store_rejects_other_embedding_dimension(tmp_path: Path) -> None:
    directory = tmp_path / "store"
    pages = fill(directory, range(1, 101))
    before = digest(directory)
    error = open_error(directory, embedder=HashingEmbedder(128))
    assert isinstance(error, EmbedderMismatch), error
    assert error.code == "EMBEDDER_MISMATCH"
    assert digest(directory) == before
    with pytest.raises(EmbedderMismatch):
        MemoryManager(512, store=directory, embedder=HashingEmbedder(128))
    assert digest(directory) == before
    other = open_error(directory, embedder=HashingEmbedder(256))  # the same dimension, another embedder
    assert isinstance(other, EmbedderMismatch), other
    assert "was built with embedder wordllama" in str(other)
    assert digest(directory) == before
    with SqliteSwapStore(directory) as store:
        assert missed(store, pages) == []


# -- 6. two processes --------------------------------------------------------------------------


def test_sqlite_store_is_shared_by_two_writing_processes(tmp_path: Path) -> None:
    directory, sync, count = tmp_path / "store", tmp_path / "sync", 150
    SqliteSwapStore(directory).close()
    sync.mkdir()
    procs = [
        subprocess.Popen(
            [sys.executable, "-W", "error", str(WRITER), "pair", str(directory), str(sync), tag, other, str(count)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag, other in (("alpha", "beta"), ("beta", "alpha"))
    ]
    outputs = []
    for proc in procs:
        with proc:
            out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        outputs.append(json.loads(out))
    alpha, beta = outputs
    for report in outputs:
        assert (report["found_text"], report["found_vector"]) == (count, count)
        assert len(report["ids"]) == count
    assert not set(alpha["ids"]) & set(beta["ids"])
    with SqliteSwapStore(directory, create=False) as store:
        pages = list(store.scan())
        assert len(store) == 2 * count
        assert sorted(page.id for page in pages) == sorted(alpha["ids"] + beta["ids"])
        expected = {pair_text(tag, i) for tag in ("alpha", "beta") for i in range(count)}
        assert {page.content for page in pages} == expected


def race_open(paths: list[Path], *, spacing: str, lag: str, timeout: float) -> list[str]:
    """Two processes open the stores of ``paths`` one after another (``spacing`` s apart), the second
    ``(i % 12) * lag`` s after the first at store ``i``; returns the errors they met."""
    start, names = time.time() + 1.0, ",".join(map(str, paths))
    procs = [
        subprocess.Popen(
            [sys.executable, str(WRITER), "open-race", names, str(start), spacing, delay],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for delay in ("0", lag)
    ]
    errors = []
    for proc in procs:
        with proc:
            out, err = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, err
        errors += [line["error"] for line in map(json.loads, out.splitlines()) if line["error"] is not None]
    return errors


def test_sqlite_store_concurrent_first_open_succeeds_in_every_process(tmp_path: Path) -> None:
    paths = [tmp_path / f"store{i}" for i in range(36)]
    for path in paths[::2]:
        path.mkdir()  # half exist empty, half are created by the race
    assert race_open(paths, spacing="0.03", lag="0.001", timeout=60) == []  # the second 0 to 11 ms later
    for path in paths:
        assert open_error(path, create=False) is None


# -- 7. bad paths ------------------------------------------------------------------------------


def test_sqlite_store_rejects_a_regular_file_as_path(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a store\n", encoding="utf-8")
    error = open_error(path)
    assert type(error) is StoreError, error
    assert error.code == "STORE_ERROR"
    assert path.read_text(encoding="utf-8") == "not a store\n"
    with pytest.raises(StoreError):
        MemoryManager(512, store=path)


def test_sqlite_store_without_create_rejects_missing_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "store"
    error = open_error(missing, create=False)
    assert type(error) is StoreError, error
    assert error.code == "STORE_ERROR"
    assert not missing.parent.exists()


def test_persistence_wal_is_checkpointed_off_the_writing_thread(tmp_path: Path) -> None:
    """SQLite's own checkpoints are off (they cost the writer a few ms every 1,000 pages); background ones
    keep the write-ahead log from growing with the store."""
    from nexint_core import HashingEmbedder
    from nexint_core.stores import SqliteSwapStore

    with SqliteSwapStore(tmp_path / "store", embedder=HashingEmbedder()) as store:
        assert store._conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        for number in range(1, 4001):
            store.put([Page(PageId(f"MSG-{number:06d}"), f"note {number} " + "word " * 60, 70)])
            if number % 200 == 0 and store._checkpoint is not None:
                store._checkpoint.result()  # let each one finish, as a quiet moment would
        assert store._checkpoint is not None
        wal = (tmp_path / "store" / "nexint.db-wal").stat().st_size
    # the log is reused from its start after each checkpoint: it stays near 200 pages' worth (about 4 MB),
    # where without checkpoints it would hold all 4,000 (about 80 MB)
    assert wal < 8_000_000, wal


# -- 8. schema upgrades ------------------------------------------------------------------------


def as_schema_3(directory: Path) -> None:
    """Turn a store this nexint wrote into what nexint with schema 3 left: each page's tier in its row, and
    events indexed by page."""
    with contextlib.closing(sqlite3.connect(directory / "nexint.db")) as conn, conn:
        conn.execute("ALTER TABLE pages ADD COLUMN tier TEXT NOT NULL DEFAULT 'swap'")
        conn.execute("UPDATE pages SET tier = COALESCE((SELECT tier FROM tiers WHERE tiers.seq = pages.seq), 'swap')")
        conn.execute("DROP TABLE tiers")
        conn.execute("CREATE INDEX events_by_memory ON events(memory_id)")
        conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")


def write_every_tier(directory: Path) -> dict[str, list[object]]:
    """A manager's session leaving pages in every tier, some quarantined; returns its page table."""
    with MemoryManager(512, store=directory, clock=StepClock(), summarizer="extractive") as mmu:
        mmu.write("system", "Answer briefly and cite memory ids.", pin=True)
        for n in range(1, 241):
            mmu.write("user", fact_text(n), quarantined=n % 37 == 3)
        mmu.page_in("zebra17")
        table = {page_id: [entry.tier.value, entry.quarantined] for page_id, entry in mmu.page_table.snapshot().items()}
    assert {tier for tier, _ in table.values()} == {tier.value for tier in Tier}
    assert any(quarantined for _, quarantined in table.values())
    return table


def stored_state(directory: Path, **options: object) -> dict[str, object]:
    """Each stored page's tier and flag, the event log, and the pages a search keeps per tier filter."""
    with SqliteSwapStore(directory, **options) as store:  # type: ignore[arg-type]
        vector = store.embedder.embed(["fact number zebra"])[0]
        return {
            "pages": {page.id: [page.tier.value, page.quarantined] for page in store.scan()},
            "got": [store.get(page.id).tier.value for page in store.scan()],  # type: ignore[union-attr]
            "events": [event.to_dict() for event in store.events()],
            "found": {
                tier.value: [
                    sorted(
                        hit.page_id
                        for hit in store.search_text("fact number", namespaces=NAMESPACES, k=500, where=where)
                    ),
                    sorted(
                        hit.page_id for hit in store.search_vector(vector, namespaces=NAMESPACES, k=500, where=where)
                    ),
                ]
                for tier in Tier
                for where in ({"tier": tier},)
            },
        }


def schema(directory: Path) -> tuple[str, list[str], list[str], list[tuple[int, str]]]:
    """The recorded version, the page columns, the indexes and the rows of the tiers table (if any)."""
    with contextlib.closing(sqlite3.connect(directory / "nexint.db")) as conn:
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
        columns = [row[1] for row in conn.execute("PRAGMA table_info(pages)")]
        indexes = sorted(row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'"))
        has_tiers = conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'tiers'").fetchone()[0]
        tiers = conn.execute("SELECT seq, tier FROM tiers ORDER BY seq").fetchall() if has_tiers else []
    return version, columns, indexes, tiers


def test_sqlite_store_keeps_a_tier_row_only_for_pages_out_of_swap(tmp_path: Path) -> None:
    directory = tmp_path / "store"
    table = write_every_tier(directory)
    state = stored_state(directory)
    assert state["pages"] == table
    assert state["got"] == [tier for tier, _ in table.values()]
    version, columns, indexes, tiers = schema(directory)
    assert (version, "tier" in columns, "events_by_memory" in indexes) == ("4", False, False)
    assert len(tiers) == sum(tier != "swap" for tier, _ in table.values()) < len(table) // 4
    found = state["found"]
    assert isinstance(found, dict)
    for tier in Tier:  # a search filtered on a tier keeps exactly the pages in it
        kept = {page_id for page_id, (stored, _) in table.items() if stored == tier.value}
        assert set(found[tier.value][1]) == kept, tier
        assert set(found[tier.value][0]) <= kept, tier
    with SqliteSwapStore(directory) as store:  # a deleted page takes its tier row along
        active = [page.id for page in store.scan() if page.tier is Tier.ACTIVE]
        store.delete(active)
    assert len(schema(directory)[3]) == len(tiers) - len(active)


def test_sqlite_store_upgrades_a_schema_3_store_in_place(tmp_path: Path) -> None:
    directory = tmp_path / "store"
    table = write_every_tier(directory)
    expected = stored_state(directory)
    as_schema_3(directory)
    files = digest(directory)
    assert stored_state(directory, read_only=True) == expected  # read as it is: the tiers in the page rows
    assert digest(directory) == files
    assert schema(directory)[:2] == ("3", [*schema(directory)[1][:-1], "tier"])
    assert stored_state(directory) == expected  # a writable open upgrades it
    version, columns, indexes, tiers = schema(directory)
    assert (version, "tier" in columns, "events_by_memory" in indexes) == ("4", False, False)
    assert len(tiers) == sum(tier != "swap" for tier, _ in table.values())
    with MemoryManager(512, store=directory, clock=StepClock(), summarizer="extractive") as mmu:
        assert {
            page_id: [entry.tier.value, entry.quarantined] for page_id, entry in mmu.page_table.snapshot().items()
        } == table
        mmu.page_in("zebra200")  # and goes on
        moved = {page.id: [page.tier.value, page.quarantined] for page in mmu.page_table}
    assert stored_state(directory)["pages"] == moved


def test_sqlite_store_schema_3_upgrade_succeeds_in_every_racing_process(tmp_path: Path) -> None:
    original = tmp_path / "original"
    write_every_tier(original)
    expected = stored_state(original)
    as_schema_3(original)
    paths = [tmp_path / f"store{i}" for i in range(12)]
    for path in paths:
        shutil.copytree(original, path)
    assert race_open(paths, spacing="0.1", lag="0.002", timeout=120) == []  # the second 0 to 22 ms later
    for path in paths:
        assert schema(path)[0] == "4"
        assert stored_state(path) == expected
