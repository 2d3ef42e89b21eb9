"""Faults on the PostgreSQL store: writers killed with SIGKILL, the server stopped under a writer and
while idle. Every acknowledged write survives and is found; the same store object reconnects.

Real writer processes (tests/postgres/_pg_writer.py) on a real server; nothing is mocked.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest

from nexint_core import MemoryManager, StepClock, Tier
from nexint_core.errors import StoreUnavailable
from nexint_core.ids import PageId
from nexint_core.pages import Page
from nexint_core.stores import PostgresSwapStore
from tests.postgres._pg_writer import (
    LIMIT,
    acknowledged,
    code_word,
    missed,
    page_text,
    partial_calls,
    stats_drift,
    stored,
)
from tests.postgres.server import ENV, Server

pytestmark = pytest.mark.postgres

WRITER = Path(__file__).with_name("_pg_writer.py")


def writer_command(uri: str, namespace: str, tag: str, count: int, seed: int, retry_for: float) -> list[str]:
    arguments = [uri, namespace, tag, str(count), str(seed), str(retry_for)]
    return [sys.executable, "-W", "error", str(WRITER), "write", *arguments]


@contextmanager
def watched(command: list[str], timeout: float) -> Iterator[subprocess.Popen[str]]:
    """A running writer, killed if it outlives ``timeout`` seconds or the test fails."""
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        watchdog = threading.Timer(timeout, proc.kill)
        watchdog.start()
        try:
            yield proc
        finally:
            watchdog.cancel()
            if proc.poll() is None:
                proc.kill()


def read_calls(proc: subprocess.Popen[str], calls: int, lines: list[str]) -> None:
    """Read the writer's lines into ``lines`` until it acknowledged ``calls`` calls in all."""
    assert proc.stdout is not None
    done = sum('"call"' in line for line in lines)
    while done < calls:
        line = proc.stdout.readline()
        assert line, f"writer died after {done} calls: {proc.stderr.read() if proc.stderr else ''}"
        lines.append(line)
        done += '"call"' in line


@contextmanager
def server_down(server: Server) -> Iterator[None]:
    """The server stopped at once (as in a crash) for the block; started again however the block ends."""
    server.stop("immediate")
    try:
        yield
    finally:
        server.start()


@pytest.fixture
def controlled_server(postgres_server: Server) -> Server:
    """The test server, for tests that stop and start it (the session fixture stops it when the run ends)."""
    if not postgres_server.controllable:
        pytest.skip(f"the server {ENV} names is not ours to stop and start")
    return postgres_server


def owned(rows: dict[str, tuple[str, str, dict[str, object]]], tag: str) -> dict[str, tuple[str, str, int]]:
    """Stored pages written by ``tag``: id -> (namespace, tag, n)."""
    out: dict[str, tuple[str, str, int]] = {}
    for page_id, (namespace, _, metadata) in rows.items():
        if metadata.get("writer") == tag:
            n = metadata["n"]
            assert isinstance(n, int)
            out[page_id] = (namespace, tag, n)
    return out


# -- (a) writers killed with SIGKILL ------------------------------------------------------------


def test_postgres_store_keeps_every_acknowledged_write_across_sigkills(postgres_uri: str) -> None:
    rng = random.Random(20260102)
    acked_all: dict[str, tuple[str, str, int]] = {}
    for round_no in range(1, 7):
        namespace, tag = ("alpha", "beta")[round_no % 2], f"k{round_no}"
        command = writer_command(postgres_uri, namespace, tag, 0, rng.randrange(1000), 30.0)
        lines: list[str] = []
        with watched(command, timeout=60.0) as proc:
            read_calls(proc, rng.randint(2, 30), lines)
            time.sleep(rng.uniform(0.0, 0.08))  # a write takes tens of ms: the kill often lands inside one
            os.kill(proc.pid, signal.SIGKILL)
            assert proc.stdout is not None
            lines += proc.stdout.read().splitlines(keepends=True)
            proc.wait()
        assert proc.returncode == -signal.SIGKILL
        acked = {page_id: (namespace, tag, n) for page_id, (n, _) in acknowledged(lines).items()}
        last_call = max(call for _, call in acknowledged(lines).values())
        acked_all.update(acked)

        rows = stored(postgres_uri)
        assert [page_id for page_id in acked_all if page_id not in rows] == [], f"round {round_no}"
        assert partial_calls(postgres_uri) == [], f"round {round_no}"  # a batch is all or nothing
        assert stats_drift(postgres_uri) == [], f"round {round_no}"
        # At most the call in flight at the kill is stored without its acknowledgement.
        extra = {page_id: rows[page_id][2]["call"] for page_id in owned(rows, tag).keys() - acked.keys()}
        assert set(extra.values()) <= {last_call + 1}, f"round {round_no}"
        with PostgresSwapStore(postgres_uri) as store:
            assert missed(store, acked) == [], f"round {round_no}"

        # A new manager reopens the namespace: every page is there, within the limit, and it writes and finds.
        with MemoryManager(LIMIT, store=postgres_uri, namespace=namespace, clock=StepClock()) as mmu:
            mine = {page_id for page_id, (ns, _, _) in acked_all.items() if ns == namespace}
            assert [page_id for page_id in mine if page_id not in mmu] == []
            usage = mmu.usage()
            assert usage["core"] + usage["active"] + usage["summary"] <= LIMIT
            (fresh,) = mmu.write("user", f"reopened after round {round_no}: marker{round_no}")
            assert fresh not in rows
            oldest = min(acked, key=lambda page_id: acked[page_id][2])
            if mmu.page_table.get(oldest).tier is Tier.SWAP:
                assert oldest in mmu.page_in(code_word(tag, acked[oldest][2]))
            assert mmu.get(oldest).content == page_text(tag, acked[oldest][2])
        with PostgresSwapStore(postgres_uri) as store:
            assert [hit.page_id for hit in store.search_text(f"marker{round_no}", namespaces=[namespace])] == [fresh]
    assert len(acked_all) > 100


# -- (b) the server stopped under a writer ------------------------------------------------------


def test_postgres_store_writer_rides_through_an_immediate_server_restart(
    controlled_server: Server, postgres_uri: str
) -> None:
    rng = random.Random(20260103)
    count = 600
    lines: list[str] = []
    with watched(writer_command(postgres_uri, "alpha", "r1", count, 7, 30.0), timeout=90.0) as proc:
        for _ in range(2):
            read_calls(proc, sum('"call"' in line for line in lines) + rng.randint(3, 12), lines)
            with server_down(controlled_server):
                time.sleep(rng.uniform(1.0, 2.0))
        out, err = proc.communicate(timeout=80)
    assert proc.returncode == 0, err
    lines += out.splitlines(keepends=True)
    assert json.loads(lines[-1]) == {"done": "r1"}
    failed = [json.loads(line) for line in lines if '"failed"' in line]
    assert all("StoreUnavailable" in record["error"] for record in failed), failed
    acked = {page_id: ("alpha", "r1", n) for page_id, (n, _) in acknowledged(lines).items()}
    assert sorted(n for _, _, n in acked.values()) == list(range(1, count + 1))
    waited = [record["seconds"] for record in map(json.loads, lines) if record.get("seconds", 0.0) >= 1.0]
    assert len(waited) + len(failed) >= 2, "each stop should hold up the call in flight"

    rows = stored(postgres_uri)
    assert [page_id for page_id in acked if page_id not in rows] == []
    assert partial_calls(postgres_uri) == []
    assert stats_drift(postgres_uri) == []
    # A call that raised acknowledged nothing; whatever it stored is a whole batch, repeated by the retry.
    retried = {record["failed"] for record in failed}
    unacked = {page_id: rows[page_id][2]["call"] for page_id in owned(rows, "r1").keys() - acked.keys()}
    assert set(unacked.values()) <= retried
    with PostgresSwapStore(postgres_uri) as store:
        assert missed(store, acked, exact=not unacked) == []


# -- (c) the server down while a store is idle -------------------------------------------------


def fact(n: int) -> Page:
    return Page(PageId.make("FACT", n), page_text("idle", n), 16, namespace="alpha")


def test_postgres_store_unavailable_server_raises_then_the_same_store_reconnects(
    controlled_server: Server, postgres_uri: str
) -> None:
    parts = urlsplit(postgres_uri)
    database, socket_dir = parts.path.lstrip("/"), parse_qs(parts.query)["host"][0]
    store = PostgresSwapStore(postgres_uri, retry_for=1.0)
    mmu = MemoryManager(LIMIT, store=store, namespace="alpha", clock=StepClock())
    try:
        store.put([fact(1)])
        (written,) = mmu.write("user", page_text("idle", 2))
        with server_down(controlled_server):
            started = time.monotonic()
            with pytest.raises(StoreUnavailable) as caught:
                store.put([fact(3)])
            waited = time.monotonic() - started
            assert 1.0 <= waited < 10.0, waited
            error = caught.value
            assert error.code == "STORE_UNAVAILABLE"
            message = str(error)
            assert "PostgreSQL" in message
            assert "unavailable" in message
            assert database in message  # names the server: the database and where it listens
            assert socket_dir in message
            time.sleep(2.0)  # longer than retry_for: the pool has given up reconnecting by now
            with pytest.raises(StoreUnavailable):
                store.search_text(code_word("idle", 1), namespaces=["alpha"])
            with pytest.raises(StoreUnavailable):
                mmu.write("user", page_text("idle", 4))
            with pytest.raises(StoreUnavailable, match=database):
                PostgresSwapStore(postgres_uri, retry_for=1.0)
        # The same objects work again: nothing that failed was stored, everything acknowledged is found.
        store.put([fact(5)])
        (later,) = mmu.write("user", page_text("idle", 6))
        assert sorted(page.id for page in store.scan()) == sorted([fact(1).id, written, fact(5).id, later])
        pages = {str(page_id): ("alpha", "idle", n) for page_id, n in [(fact(1).id, 1), (written, 2), (fact(5).id, 5)]}
        pages[later] = ("alpha", "idle", 6)
        assert missed(store, pages) == []
        assert len(mmu) == 2
    finally:
        mmu.close()
        store.close()
    with psycopg.connect(postgres_uri) as conn:
        assert conn.execute("SELECT count(*) FROM nexint_pages").fetchone() == (4,)
