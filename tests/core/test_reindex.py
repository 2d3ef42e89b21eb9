"""``memos reindex``: a store directory re-embedded with another embedder, whole or not at all."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from nexint_core import EmbedderMismatch, MemoryManager, Page, PageId, StepClock
from nexint_core.embedders import HashingEmbedder, WordLlamaEmbedder
from nexint_core.stores import SqliteSwapStore
from nexint_core.stores.reindex import reindex
from tests.core._writer import fact_text
from tests.core.test_cli import memos

NAMESPACES = ("alice", "bob")


def build(directory: Path, count: int, embedder: str = "hashing") -> dict[str, str]:
    """A store of ``count`` pages over two namespaces, built with ``embedder``: page id -> namespace."""
    placed = {}
    with SqliteSwapStore(directory, embedder=embedder) as store:
        for n in range(1, count + 1):
            namespace = NAMESPACES[n % 2]
            store.put([Page(PageId.make("FACT", n), fact_text(n), 16, namespace=namespace)])
            placed[PageId.make("FACT", n)] = namespace
    return placed


def digest(directory: Path) -> dict[str, str]:
    return {
        path.relative_to(directory).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file() and not path.name.endswith(("-wal", "-shm"))
    }


def found_by_own_text(store: SqliteSwapStore, placed: dict[str, str]) -> list[str]:
    """Pages whose own text, embedded, finds them among the five nearest of their namespace."""
    ids = list(placed)
    vectors = store.embedder.embed([fact_text(int(page_id.split("-")[1])) for page_id in ids])
    return [
        page_id
        for page_id, vector in zip(ids, vectors, strict=True)
        if page_id in [hit.page_id for hit in store.search_vector(vector, namespaces=[placed[page_id]], k=5)]
    ]


def test_reindex_moves_a_store_to_another_embedder_as_if_built_with_it(tmp_path: Path) -> None:
    placed = build(tmp_path / "store", 300)
    result = memos("reindex", "--store", tmp_path / "store", "--embedder", "wordllama", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # the progress bar is drawn on a terminal only
    assert result.stdout.startswith(
        f"[REINDEX] 300 pages of {tmp_path / 'store'} re-embedded with wordllama-l2_supercat-256 (was hashing-v1-256)"
    )
    assert sorted(path.suffix for path in (tmp_path / "store" / "vectors").iterdir()) == [".faiss"] * 2 + [".lex"] * 2
    with SqliteSwapStore(tmp_path / "store") as store:  # the recorded embedder is the new one
        assert store.embedder.name == "wordllama-l2_supercat-256"
        assert found_by_own_text(store, placed) == list(placed)
        centroid = store.vector_centroid(list(NAMESPACES))
        assert [hit.page_id for hit in store.search_text("zebra7", namespaces=["bob"], k=1)] == ["FACT-000007"]
    build(tmp_path / "fresh", 300, embedder="wordllama")
    with SqliteSwapStore(tmp_path / "fresh") as fresh:
        expected = fresh.vector_centroid(list(NAMESPACES))
    assert centroid is not None
    assert expected is not None
    assert np.allclose(centroid, expected, atol=1e-6)
    mmu = MemoryManager(400, store=tmp_path / "store", namespace="bob", clock=StepClock())
    assert mmu.store.embedder.name == "wordllama-l2_supercat-256"
    mmu.close()


def test_reindex_to_the_same_embedder_changes_nothing(tmp_path: Path) -> None:
    build(tmp_path / "store", 50)
    before = digest(tmp_path / "store")
    report = reindex(tmp_path / "store", "hashing")
    assert (report.changed, report.pages, report.new_embedder) == (False, 50, "hashing-v1-256")
    assert digest(tmp_path / "store") == before
    result = memos("reindex", "--store", tmp_path / "store", "--embedder", "hashing", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"[REINDEX] {tmp_path / 'store'} already uses hashing-v1-256: nothing to do\n"


def test_reindex_reports_its_progress_and_the_old_embedder_is_refused_after(tmp_path: Path) -> None:
    build(tmp_path / "store", 1200)
    seen: list[tuple[int, int]] = []
    report = reindex(tmp_path / "store", WordLlamaEmbedder(), progress=lambda done, total: seen.append((done, total)))
    assert report.changed
    assert report.old_embedder == "hashing-v1-256"
    assert seen == [(512, 1200), (1024, 1200), (1200, 1200)]
    with pytest.raises(EmbedderMismatch, match="memos reindex --store"):
        SqliteSwapStore(tmp_path / "store", embedder=HashingEmbedder())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--embedder", "wordllama"], "no store at"),
        (["--embedder", "nope"], "invalid choice: 'nope'"),
    ],
)
def test_reindex_bad_input_prints_one_error_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = memos("reindex", "--store", tmp_path / "missing", *args, home=tmp_path)
    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.startswith("[ERROR] ")
    assert message in result.stderr, result.stderr
    assert not (tmp_path / "missing").exists()


def test_reindex_of_a_postgres_store_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    result = memos("reindex", "--store", "postgresql://localhost/none", "--embedder", "hashing", home=tmp_path)
    assert result.returncode != 0
    assert result.stderr == (
        "[ERROR] memos reindex re-embeds a store directory; a PostgreSQL store cannot be re-embedded yet\n"
    )


def test_reindex_killed_midway_leaves_the_old_store_whole(tmp_path: Path) -> None:
    """SIGKILL after the first batch was re-embedded (uncommitted): the store is the old one, and a second
    run finishes the job."""
    placed = build(tmp_path / "store", 1500)
    before = digest(tmp_path / "store")
    marker = tmp_path / "first-batch"
    script = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from nexint_core.stores.reindex import reindex

        def progress(done, total):
            Path({str(marker)!r}).write_text(str(done))
            time.sleep(60)  # killed here, the first batch written inside the open transaction

        reindex({str(tmp_path / "store")!r}, "wordllama", progress=progress)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], env={**os.environ})
    try:
        for _ in range(600):
            if marker.exists() or proc.poll() is not None:
                break
            subprocess.run(["sleep", "0.1"], check=True)
        assert marker.read_text() == "512"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    with SqliteSwapStore(tmp_path / "store") as store:
        assert store.embedder.name == "hashing-v1-256"
        assert found_by_own_text(store, placed) == list(placed)
    assert {name for name in digest(tmp_path / "store") if name.startswith("vectors/")} == {
        name for name in before if name.startswith("vectors/")
    }
    report = reindex(tmp_path / "store", "wordllama")
    assert (report.changed, report.pages) == (True, 1500)
    with SqliteSwapStore(tmp_path / "store") as store:
        assert found_by_own_text(store, placed) == list(placed)
