"""Store errors are told apart by exception class, SQLite result code and PostgreSQL SQLSTATE, never by
message: only real damage is StoreCorrupted."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from nexint_core import Action, Page, PageId, PagingEvent, StoreCorrupted, StoreError, Tier
from nexint_core.stores import SqliteSwapStore
from nexint_core.stores.sqlite_db import is_busy, translate


def fill(directory: Path, count: int) -> None:
    with SqliteSwapStore(directory) as store:
        store.put(
            [Page(PageId.make("MSG", n), f"note {n} about the weather in town {n % 17}", 12) for n in range(count)]
        )


def test_sqlite_damaged_pages_are_store_corrupted_by_result_code(tmp_path: Path) -> None:
    fill(tmp_path / "store", 3000)
    db = tmp_path / "store" / "nexint.db"
    data = db.read_bytes()
    size = 4096  # SQLite's default page size
    # Damage a page of the pages table (one holding page content), which a scan reads, from the middle of the file.
    content = [start for start in range(0, len(data), size) if b"about the weather" in data[start : start + size]]
    middle = content[len(content) // 2]
    db.write_bytes(data[:middle] + random.Random(1).randbytes(size) + data[middle + size :])
    store = SqliteSwapStore(tmp_path / "store", verify=False)  # the header is intact: it opens
    with pytest.raises(StoreCorrupted, match="damaged") as caught:
        list(store.scan())
    store.close()
    cause = caught.value.__cause__
    assert isinstance(cause, sqlite3.DatabaseError)
    assert cause.sqlite_errorname == "SQLITE_CORRUPT"


def test_sqlite_damaged_header_is_store_corrupted_as_not_a_database(tmp_path: Path) -> None:
    fill(tmp_path / "store", 10)
    db = tmp_path / "store" / "nexint.db"
    data = db.read_bytes()
    db.write_bytes(data[:16] + random.Random(2).randbytes(84) + data[100:])  # the magic string survives
    with pytest.raises(StoreCorrupted) as caught:
        SqliteSwapStore(tmp_path / "store", verify=False)
    cause = caught.value.__cause__
    assert isinstance(cause, sqlite3.DatabaseError)
    assert cause.sqlite_errorname == "SQLITE_NOTADB"


def test_sqlite_integrity_error_of_a_bug_is_a_plain_store_error(tmp_path: Path) -> None:
    with SqliteSwapStore(tmp_path / "store") as store:
        sink = store.event_sink("default")
        assert sink is not None
        sink.emit(PagingEvent(1, 0.0, "MSG-000001", Action.ALLOCATE, "written", None, Tier.ACTIVE, 3, "LRU"))
        broken = Page(PageId("MSG-000001"), "a page a bug left without a role", 3, role=None)  # type: ignore[arg-type]
        with pytest.raises(StoreError) as caught:
            store.put([broken])  # NOT NULL constraint failed: a real IntegrityError
        assert type(caught.value) is StoreError
        assert isinstance(caught.value.__cause__, sqlite3.IntegrityError)
        assert store.pending_events == 1  # rolled back: the event waits for the next transaction
        store.put([Page(PageId("MSG-000001"), "the same page, whole", 3)])
        assert store.pending_events == 0
        assert store.last_event_seq("default") == 1
        assert len(store) == 1


def test_sqlite_busy_database_is_a_store_error_marked_busy(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    holder, waiter = sqlite3.connect(path, isolation_level=None), sqlite3.connect(path, timeout=0)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.OperationalError) as busy:
            waiter.execute("BEGIN IMMEDIATE")
        holder.execute("CREATE TABLE t (a UNIQUE)")
        holder.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(sqlite3.IntegrityError) as duplicate:
            holder.execute("INSERT INTO t VALUES (1)")
    finally:
        holder.close()
        waiter.close()
    error = translate(busy.value, path)
    assert type(error) is StoreError
    assert is_busy(busy.value)
    assert not is_busy(duplicate.value)
    assert type(translate(duplicate.value, path)) is StoreError
