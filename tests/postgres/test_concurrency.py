"""Many processes on one PostgreSQL store: four writers in two namespaces, then fresh readers and roles.

Real writer processes (tests/postgres/_pg_writer.py) on a real server; nothing is mocked.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

from nexint_core.embedders import content_terms
from nexint_core.errors import NamespaceViolation
from nexint_core.ids import PageId
from nexint_core.pages import Page
from nexint_core.stores import PostgresSwapStore
from tests.postgres._pg_writer import acknowledged, code_word, page_text, partial_calls, stored
from tests.postgres.server import Server

pytestmark = pytest.mark.postgres

WRITER = Path(__file__).with_name("_pg_writer.py")
WRITERS = {"aa": "alpha", "ab": "alpha", "ba": "beta", "bb": "beta"}  # writer tag -> its namespace
PAGES_PER_WRITER = 1500
SAMPLE_PER_WRITER = 25


def run_writers(uri: str, sync: Path) -> dict[str, list[str]]:
    """Run the four writers at once to completion; returns each one's output lines."""
    sync.mkdir()
    for tag in WRITERS:
        (sync / f"{tag}.wait").touch()  # each waits until all have opened the store, then all write at once
    procs: dict[str, subprocess.Popen[str]] = {}
    try:
        for seed, (tag, namespace) in enumerate(WRITERS.items(), start=1):
            arguments = [uri, namespace, tag, str(PAGES_PER_WRITER), str(seed), "30", str(sync)]
            procs[tag] = subprocess.Popen(
                [sys.executable, "-W", "error", str(WRITER), "write", *arguments],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        outputs = {}
        for tag, proc in procs.items():
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, f"writer {tag}: {err}"
            outputs[tag] = out.splitlines(keepends=True)
        return outputs
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()


def read_in_fresh_process(uri: str, namespace: str, sample: list[list[object]], path: Path) -> dict[str, object]:
    path.write_text(json.dumps(sample), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-W", "error", str(WRITER), "read", uri, namespace, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, object] = json.loads(result.stdout)
    return report


@contextmanager
def namespace_role(server: Server, uri: str, namespace: str) -> Iterator[str]:
    """A LOGIN role with table privileges, granted ``namespace`` only; yields its URI, drops it after."""
    database = urlsplit(uri).path.lstrip("/")
    role = f"{database}_{namespace}"
    with psycopg.connect(uri, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    try:
        with psycopg.connect(uri, autocommit=True) as admin:
            admin.execute(
                sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}").format(
                    sql.Identifier(role)
                )
            )
        with PostgresSwapStore(uri) as owner:
            owner.grant(role, [namespace])
        yield server.role_uri(database, role)
    finally:
        with psycopg.connect(uri, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


@dataclass
class Written:
    """What the four writers left: the database, each writer's acknowledged pages, the stored rows."""

    uri: str
    acked: dict[str, dict[str, tuple[int, int]]]  # writer tag -> page id -> (page number, call)
    rows: dict[str, tuple[str, str, dict[str, Any]]]

    def one_page(self, namespace: str) -> tuple[str, str, int]:
        """Some page of ``namespace``: (id, writer, number)."""
        tag = next(tag for tag, ns in WRITERS.items() if ns == namespace)
        page_id, (n, _) = min(self.acked[tag].items())
        return page_id, tag, n


@pytest.fixture(scope="module")
def written(postgres_server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Written]:
    """Four writer processes, two per namespace, all writing at once into a fresh database."""
    uri = postgres_server.create_database()
    try:
        outputs = run_writers(uri, tmp_path_factory.mktemp("writers") / "sync")
        for tag, lines in outputs.items():
            assert [line for line in lines if "failed" in json.loads(line)] == [], tag
            assert json.loads(lines[-1]) == {"done": tag}
        yield Written(uri, {tag: acknowledged(lines) for tag, lines in outputs.items()}, stored(uri))
    finally:
        postgres_server.drop_database(uri)


def test_concurrent_writers_get_every_page_acknowledged_under_ids_no_other_got(written: Written) -> None:
    for tag, pages in written.acked.items():
        assert sorted(n for n, _ in pages.values()) == list(range(1, PAGES_PER_WRITER + 1)), tag
        calls = Counter(call for _, call in pages.values())
        assert sum(1 for size in calls.values() if size == 1) > 20, "single writes"
        assert sum(1 for size in calls.values() if size > 1) > 20, "write_many batches"
    every_id = Counter(page_id for pages in written.acked.values() for page_id in pages)
    assert [page_id for page_id, times in every_id.items() if times > 1] == []
    assert len(every_id) == len(WRITERS) * PAGES_PER_WRITER


def test_concurrent_writers_store_each_page_once_in_its_namespace(written: Written) -> None:
    rows = written.rows
    assert len(rows) == len(WRITERS) * PAGES_PER_WRITER
    wrong = [
        page_id
        for tag, pages in written.acked.items()
        for page_id, (n, _) in pages.items()
        if page_id not in rows or rows[page_id][:2] != (WRITERS[tag], page_text(tag, n))
    ]
    assert wrong == []
    assert partial_calls(written.uri) == []
    with psycopg.connect(written.uri) as conn:
        counted = conn.execute("SELECT count(*), count(DISTINCT id) FROM nexint_pages").fetchone()
        by_namespace = conn.execute("SELECT namespace, count(*) FROM nexint_pages GROUP BY 1 ORDER BY 1").fetchall()
    assert counted == (len(rows), len(rows))
    assert by_namespace == [("alpha", 2 * PAGES_PER_WRITER), ("beta", 2 * PAGES_PER_WRITER)]


def test_concurrent_writers_leave_bm25_statistics_that_sum_to_the_pages(written: Written) -> None:
    lengths: Counter[str] = Counter()
    for namespace, content, _ in written.rows.values():
        lengths[namespace] += len(content_terms(content))
    expected = {ns: (2 * PAGES_PER_WRITER, lengths[ns]) for ns in ("alpha", "beta")}
    with psycopg.connect(written.uri) as conn:
        stats = conn.execute(
            "SELECT namespace, sum(docs)::int, sum(total_length)::int FROM nexint_stats GROUP BY namespace"
        ).fetchall()
        real = conn.execute(
            "SELECT namespace, count(*)::int, sum(doc_len)::int FROM nexint_pages GROUP BY namespace"
        ).fetchall()
    assert {ns: (docs, length) for ns, docs, length in real} == expected
    assert {ns: (docs, length) for ns, docs, length in stats} == expected


def test_concurrent_writers_log_each_allocation_in_its_own_namespace(written: Written) -> None:
    with psycopg.connect(written.uri) as conn:
        allocated = set(
            conn.execute("SELECT memory_id, namespace FROM nexint_events WHERE action = 'allocate'").fetchall()
        )
        crossed = conn.execute(
            "SELECT e.seq FROM nexint_events e JOIN nexint_pages p ON p.id = e.memory_id"
            " WHERE e.namespace <> p.namespace"
        ).fetchall()
    assert [page_id for page_id, (ns, _, _) in written.rows.items() if (page_id, ns) not in allocated] == []
    assert crossed == []


@pytest.mark.parametrize("namespace", ["alpha", "beta"])
def test_concurrent_writers_pages_are_found_and_paged_in_by_a_fresh_process(
    written: Written, namespace: str, tmp_path: Path
) -> None:
    rng = random.Random(namespace)
    sample = [
        [page_id, tag, n]
        for tag in WRITERS
        if WRITERS[tag] == namespace
        for page_id, (n, _) in rng.sample(sorted(written.acked[tag].items()), SAMPLE_PER_WRITER)
    ]
    report = read_in_fresh_process(written.uri, namespace, sample, tmp_path / "sample.json")
    assert report["loaded"] == 2 * PAGES_PER_WRITER
    assert report["text"] == [True] * len(sample)
    assert report["vector"] == [True] * len(sample)
    assert report["paged_in"] == [True] * len(sample)
    assert isinstance(report["swapped"], int)
    assert report["swapped"] >= len(sample) // 2  # most came back from swap, not from the working set


@pytest.mark.parametrize("namespace", ["alpha", "beta"])
def test_concurrent_writers_role_granted_one_namespace_sees_no_other(
    postgres_server: Server, written: Written, namespace: str
) -> None:
    other = {"alpha": "beta", "beta": "alpha"}[namespace]
    with namespace_role(postgres_server, written.uri, namespace) as role_uri:
        with psycopg.connect(role_uri) as conn:
            for table in ("nexint_pages", "nexint_events", "nexint_stats"):
                query = sql.SQL("SELECT DISTINCT namespace FROM {}").format(sql.Identifier(table))
                assert conn.execute(query).fetchall() == [(namespace,)], table
            assert conn.execute("SELECT count(*) FROM nexint_pages").fetchone() == (2 * PAGES_PER_WRITER,)
            hidden = conn.execute("SELECT count(*) FROM nexint_pages WHERE namespace = %s", (other,)).fetchone()
            assert hidden == (0,)
        with PostgresSwapStore(role_uri) as store:
            own_id, own_tag, own_n = written.one_page(namespace)
            hits = store.search_text(code_word(own_tag, own_n), namespaces=[namespace], k=3)
            assert [hit.page_id for hit in hits] == [own_id]
            foreign_id, foreign_tag, foreign_n = written.one_page(other)
            assert store.search_text(code_word(foreign_tag, foreign_n), namespaces=[other]) == []
            vector = store.embedder.embed([page_text(foreign_tag, foreign_n)])[0]
            assert store.search_vector(vector, namespaces=[other]) == []
            assert store.get(foreign_id) is None
            with pytest.raises(NamespaceViolation):
                store.put([Page(PageId(foreign_id), "overwritten by the wrong role", 5, namespace=other)])
    assert stored(written.uri) == written.rows
