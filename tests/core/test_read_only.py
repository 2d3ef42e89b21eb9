"""Read-only stores: a read-only mount, a backup, a snapshot.

Two honest ways to be read-only, both with real SQLite files:

- ``read_only=True`` opens SQLite with ``immutable=1`` or ``mode=ro``, so SQLite itself refuses writes, whoever
  runs the process (root included); these tests run in this process.
- An OS-level read-only directory (``chmod -R a-w``). Root writes through permission bits, so when the tests run
  as root the commands run in a subprocess without the capabilities that let root do that (``CAP_DAC_OVERRIDE``,
  ``CAP_DAC_READ_SEARCH``); every such test first checks that writing there really fails.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nexint_core import MemoryManager, StepClock, Tier
from nexint_core.errors import StoreError, StoreReadOnly
from nexint_core.ids import PageId
from nexint_core.pages import Page
from nexint_core.stores import SqliteSwapStore
from tests.core.test_cli import ROOT, BuiltStore, build_store, error_line, memos, snapshot

_PR_CAPBSET_DROP = 24
_ROOT_OVERRIDES = (1, 2)  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH


def _drop_root_overrides() -> None:
    """In the child, before exec: drop what lets root ignore permission bits (its next program cannot regain it)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in _ROOT_OVERRIDES:
        if libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def ordinary(args: list[str], **options: Any) -> subprocess.CompletedProcess[str]:
    """Run ``args`` bound by permission bits, as any user is (root drops its overrides first)."""
    if os.geteuid() == 0:
        options["preexec_fn"] = _drop_root_overrides
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False, **options)


def python(code: str, *args: object) -> subprocess.CompletedProcess[str]:
    """Run Python ``code`` (warnings as errors) with ``ordinary``, in the repository root."""
    return ordinary([sys.executable, "-W", "error", "-c", textwrap.dedent(code), *map(str, args)], cwd=ROOT)


def set_writable(directory: Path, writable: bool) -> None:
    """``chmod -R a-w`` (or ``u+w`` back) on a directory tree."""
    for path in [directory, *directory.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        path.chmod(mode | stat.S_IWUSR if writable else mode & ~0o222)


def writes_fail(directory: Path) -> bool:
    """Whether a process run with ``ordinary`` can neither create a file in ``directory`` nor open its database
    for writing."""
    result = python(
        """
        import sys
        from pathlib import Path
        directory = Path(sys.argv[1])
        for attempt in (lambda: (directory / "probe").write_text("x"), lambda: open(directory / "nexint.db", "ab")):
            try:
                attempt()
            except PermissionError:
                continue
            sys.exit(3)
        """,
        directory,
    )
    return result.returncode == 0


def fill(directory: Path, count: int) -> None:
    with SqliteSwapStore(directory) as store:
        store.put([Page(PageId.make("FACT", n), f"fact number {n} about zebra{n}", 8) for n in range(1, count + 1)])


@pytest.fixture
def built(tmp_path: Path) -> BuiltStore:
    return build_store(tmp_path / "store")


@pytest.fixture
def frozen(tmp_path: Path) -> Iterator[BuiltStore]:
    """A store whose directory and files nobody may write, checked."""
    store = build_store(tmp_path / "store")
    set_writable(store.path, False)
    try:
        if not writes_fail(store.path):
            pytest.skip("this machine lets the test process write through permission bits")
        yield store
    finally:
        set_writable(store.path, True)


# -- the store -------------------------------------------------------------------------------------


def test_read_only_store_reads_everything_and_creates_no_file(built: BuiltStore) -> None:
    before = snapshot(built.path)
    with SqliteSwapStore(built.path, read_only=True) as store:
        assert store.read_only
        assert {page.id: str(page.tier) for page in store.scan()} == built.tiers
        fact = store.get(built.archived_fact)
        assert fact is not None
        assert fact.content == "My favourite colour is teal."
        assert [hit.page_id for hit in store.search_text("favourite colour teal", namespaces=["default"], k=1)] == [
            built.archived_fact
        ]
        vector = store.embedder.embed(["My favourite colour is teal."])[0]
        assert store.search_vector(vector, namespaces=["default"], k=1)[0].page_id == built.archived_fact
        assert [event.to_dict() for event in store.events("default")] == built.events
    assert snapshot(built.path) == before  # no -wal, no -shm, no index saved


def test_read_only_store_refuses_writes_and_so_does_sqlite(built: BuiltStore) -> None:
    before = snapshot(built.path)
    with SqliteSwapStore(built.path, read_only=True) as store:
        writes = {
            "put": lambda: store.put([Page(PageId("MSG-999999"), "new", 1)]),
            "delete": lambda: store.delete([built.archived_fact]),
            "reserve_ids": lambda: store.reserve_ids("MSG", 10, 1),
            "save_indexes": store.save_indexes,
        }
        for name, write in writes.items():
            with pytest.raises(StoreReadOnly, match="open read-only") as refused:
                write()
            assert refused.value.code == "STORE_READ_ONLY", name
        with pytest.raises(StoreReadOnly):  # below the store's own checks, SQLite refuses too
            store._conn.execute("INSERT INTO meta(key, value) VALUES ('x', 'y')")
        assert store.event_sink("default") is None
    assert snapshot(built.path) == before


def test_read_only_open_of_no_store_creates_nothing(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    for path in (tmp_path / "missing", empty):
        with pytest.raises(StoreError, match="no store at") as refused:
            SqliteSwapStore(path, read_only=True)
        assert type(refused.value) is StoreError
    assert snapshot(tmp_path) == {"empty": "<dir>"}


def test_writable_open_of_an_unwritable_store_is_store_read_only(frozen: BuiltStore) -> None:
    result = python(
        """
        import sys
        from nexint_core import MemoryManager
        from nexint_core.errors import StoreReadOnly
        from nexint_core.stores import SqliteSwapStore
        for open_it in (lambda: SqliteSwapStore(sys.argv[1]), lambda: MemoryManager(512, store=sys.argv[1])):
            try:
                open_it()
            except StoreReadOnly as exc:
                print(exc.code, exc)
        """,
        frozen.path,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2, result.stdout
    for line in lines:
        assert line.startswith(f"STORE_READ_ONLY store {frozen.path} cannot be written ("), line


def test_read_only_store_sees_a_live_writers_commits(tmp_path: Path) -> None:
    directory = tmp_path / "store"
    with SqliteSwapStore(directory) as writer:
        writer.put([Page(PageId.make("FACT", n), f"fact number {n} about zebra{n}", 8) for n in range(1, 51)])
        assert (directory / "nexint.db-wal").stat().st_size > 0  # the pages are in the log, not yet in the database
        with SqliteSwapStore(directory, read_only=True) as reader:  # shared locks (mode=ro): the log is read
            assert len(reader) == 50
            writer.put([Page(PageId.make("FACT", 51), "fact number 51 about zebra51", 8)])
            assert len(reader) == 51
            hits = reader.search_text("zebra51", namespaces=["default"], k=1)
            assert [hit.page_id for hit in hits] == [PageId.make("FACT", 51)]


def copy_with_an_unfolded_log(tmp_path: Path) -> Path:
    """A copy of a 50-page store taken while its writer had it open: ``nexint.db`` and its ``-wal``."""
    live, copy = tmp_path / "live", tmp_path / "copy"
    with SqliteSwapStore(live) as writer:
        writer.put([Page(PageId.make("FACT", n), f"fact number {n} about zebra{n}", 8) for n in range(1, 51)])
        copy.mkdir()
        for name in ("nexint.db", "nexint.db-wal"):
            shutil.copy2(live / name, copy / name)
    return copy


def test_read_only_copy_with_an_unfolded_log_reads_the_log(tmp_path: Path) -> None:
    """A copy taken while a writer had the store open: its commits are in ``nexint.db-wal``, which an
    ``immutable`` open would ignore; the read-only open reads them (SQLite creates the ``-shm`` it needs)."""
    copy = copy_with_an_unfolded_log(tmp_path)
    with SqliteSwapStore(copy, read_only=True) as reader:
        assert len(reader) == 50


def test_read_only_copy_with_an_unfolded_log_in_a_frozen_directory_is_refused(tmp_path: Path) -> None:
    copy = copy_with_an_unfolded_log(tmp_path)
    before = snapshot(copy)
    set_writable(copy, False)
    try:
        if not writes_fail(copy):
            pytest.skip("this machine lets the test process write through permission bits")
        result = python(
            """
            import sys
            from nexint_core.stores import SqliteSwapStore
            try:
                SqliteSwapStore(sys.argv[1], read_only=True)
            except Exception as exc:
                print(type(exc).__name__, exc)
            """,
            copy,
        )
    finally:
        set_writable(copy, True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("StoreError cannot open store "), result.stdout
    assert "nexint.db-wal holds commits not yet in nexint.db" in result.stdout
    assert snapshot(copy) == before


# -- the manager -----------------------------------------------------------------------------------


def test_read_only_manager_pages_in_and_records_nothing(built: BuiltStore) -> None:
    before = snapshot(built.path)
    with MemoryManager(512, store=built.path, clock=StepClock(), read_only=True) as mmu:
        assert mmu.read_only
        assert mmu.store.read_only
        assert mmu.get(built.archived_fact).tier is Tier.SWAP
        prompt = mmu.assemble("What is my favourite colour?")
        assert built.archived_fact in prompt.promoted
        assert mmu.get(built.archived_fact).tier is Tier.ACTIVE  # in this process only
        assert [event.action.value for event in mmu.events][-1] == "page_in"
        mmu.flush()
        assert [event.to_dict() for event in mmu.store.events("default")] == built.events
    assert snapshot(built.path) == before
    with SqliteSwapStore(built.path, read_only=True) as store:
        fact = store.get(built.archived_fact)
        assert fact is not None
        assert fact.tier is Tier.SWAP


def test_read_only_manager_refuses_every_write_and_stays_as_it_was(built: BuiltStore) -> None:
    before = snapshot(built.path)
    rule, diet = built.pinned
    note = next(page_id for page_id, tier in built.tiers.items() if tier == "active")
    with MemoryManager(512, store=built.path, clock=StepClock(), read_only=True) as mmu:
        table = {page.id: (page.tier, page.quarantined) for page in mmu.page_table}
        events = len(mmu.events)
        writes = {
            "write": lambda: mmu.write("user", "A new fact."),
            "write_many": lambda: mmu.write_many([("user", "One."), ("assistant", "Two.")]),
            "allocate": lambda: mmu.allocate(Page(PageId("MSG-999999"), "x", 1)),
            "pin": lambda: mmu.pin(note),
            "unpin": lambda: mmu.unpin(diet),
            "promote": lambda: mmu.promote(note),
            "page_out": lambda: mmu.page_out(note),
            "quarantine": lambda: mmu.quarantine(note),
            "approve": lambda: mmu.approve(note),
            "forget": lambda: mmu.forget(rule),
        }
        for name, write in writes.items():
            with pytest.raises(StoreReadOnly, match=r"^cannot .*: the store is open read-only \(SqliteSwapStore"):
                write()
            assert {page.id: (page.tier, page.quarantined) for page in mmu.page_table} == table, name
        assert len(mmu.events) == events
    assert snapshot(built.path) == before


def test_read_only_manager_on_a_writable_store_writes_nothing(built: BuiltStore) -> None:
    with SqliteSwapStore(built.path) as store:
        counters = store._conn.execute("SELECT kind, last FROM counters ORDER BY kind").fetchall()
        mmu = MemoryManager(512, store=store, clock=StepClock(), read_only=True)
        assert mmu.read_only
        assert not store.read_only
        assert built.archived_fact in mmu.assemble("What is my favourite colour?").promoted
        with pytest.raises(StoreReadOnly):
            mmu.write("user", "A new fact.")
        mmu.flush()
        assert [event.to_dict() for event in store.events("default")] == built.events
        assert store._conn.execute("SELECT kind, last FROM counters ORDER BY kind").fetchall() == counters
    with SqliteSwapStore(built.path, read_only=True) as store:
        assert {page.id: str(page.tier) for page in store.scan()} == built.tiers


def test_read_only_manager_writes_no_summary(tmp_path: Path) -> None:
    """Evictions during a page-in would be summarized into new pages; a read-only manager keeps the summaries the
    store has and makes none."""
    directory = tmp_path / "store"
    with MemoryManager(400, store=directory, clock=StepClock()) as mmu:
        for n in range(40):
            mmu.write("user", f"Note {n}: the zebra{n % 4} crossed the river number {n} at dawn.")
    options: dict[str, Any] = {"clock": StepClock(), "summarizer": "extractive", "summary_span": 2}
    shutil.copytree(directory, tmp_path / "writable")
    with MemoryManager(400, store=tmp_path / "writable", **options) as writable:
        writable.assemble("Where did zebra1 cross the river?")
        assert writable.pages(Tier.SUMMARY)  # the same page-in, on a writable store, summarizes
    before = snapshot(directory)
    with MemoryManager(400, store=directory, read_only=True, **options) as mmu:
        prompt = mmu.assemble("Where did zebra1 cross the river?")
        assert prompt.promoted
        assert any(event.action.value == "evict" for event in mmu.events)
        assert not mmu.pages(Tier.SUMMARY)
    assert snapshot(directory) == before


# -- memos on a read-only store -------------------------------------------------------------------


def test_memos_inspect_log_and_run_read_a_frozen_store(frozen: BuiltStore, tmp_path: Path) -> None:
    before = snapshot(frozen.path)
    home = tmp_path / "home"
    command = [sys.executable, "-W", "error", "-m", "nexint_core.cli"]
    options: dict[str, Any] = {"cwd": tmp_path, "env": {**os.environ, "NEXINT_HOME": str(home)}}
    inspected = ordinary([*command, "inspect", "--store", str(frozen.path), "--json"], **options)
    assert inspected.returncode == 0, inspected.stderr
    assert inspected.stderr == ""
    assert {row["id"]: row["tier"] for row in json.loads(inspected.stdout)} == frozen.tiers
    logged = ordinary([*command, "log", "--store", str(frozen.path), "--json"], **options)
    assert logged.returncode == 0, logged.stderr
    assert [json.loads(line) for line in logged.stdout.splitlines()] == frozen.events
    ran = ordinary([*command, "run", "--store", str(frozen.path), "--query", "What is my favourite colour?"], **options)
    assert ran.returncode == 0, ran.stderr
    assert ran.stderr == (
        f"[NOTE] {frozen.path} cannot be written: opened read-only, nothing of this run is recorded\n"
    )
    lines = ran.stdout.splitlines()
    assert lines[0] == "[CORE] 2 memories loaded"
    assert lines[1] == "[PAGING] 1 memories promoted"
    assert lines[3] == f"[RESULT] response includes {frozen.archived_fact}"
    assert snapshot(frozen.path) == before


def test_memos_import_into_a_frozen_store_says_it_is_read_only(frozen: BuiltStore, tmp_path: Path) -> None:
    chat = tmp_path / "chat.jsonl"
    chat.write_text('{"role": "user", "content": "I drink green tea."}\n', encoding="utf-8")
    before = snapshot(frozen.path)
    command = [sys.executable, "-W", "error", "-m", "nexint_core.cli", "import", str(chat), "--store", str(frozen.path)]
    result = ordinary([*command, "--session-dir", str(tmp_path / "sessions")], cwd=tmp_path)
    assert (result.returncode, result.stdout) == (1, "")
    assert error_line(result).startswith(f"[ERROR] store {frozen.path} cannot be written (")
    assert snapshot(frozen.path) == before


def test_memos_inspect_is_read_only_even_on_a_writable_store(built: BuiltStore, tmp_path: Path) -> None:
    """Under a smaller budget than the store was written with, loading the page table evicts; inspect shows
    that view and writes none of it (no event, no tier change) into the store."""
    policy = tmp_path / "tiny.yaml"
    policy.write_text("policy:\n  eviction: LRU\n  memory_budget_tokens: 60\n  core_budget_tokens: 30\n")
    before = snapshot(built.path)
    result = memos("inspect", "--store", built.path, "--policy", policy, "--json", home=tmp_path)
    assert result.returncode == 0, result.stderr
    shown = {row["id"]: row["tier"] for row in json.loads(result.stdout)}
    assert shown != built.tiers  # the small budget evicted in this view
    assert snapshot(built.path) == before
    logged = memos("log", "--store", built.path, "--json", home=tmp_path)
    assert [json.loads(line) for line in logged.stdout.splitlines()] == built.events


def test_memos_run_on_a_writable_store_still_records_its_page_ins(built: BuiltStore, tmp_path: Path) -> None:
    result = memos("run", "--store", built.path, "--query", "What is my favourite colour?", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    logged = memos("log", "--store", built.path, "--action", "page_in", "--json", home=tmp_path)
    assert [json.loads(line)["memory_id"] for line in logged.stdout.splitlines()] == [built.archived_fact]
