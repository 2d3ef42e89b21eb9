"""Re-embed a store directory with another embedder (``memos reindex``).

A store records the embedder its vectors came from and refuses to open with another, since vectors of two
embedders cannot be compared. :func:`reindex` moves a whole store to a new embedder in one SQLite
transaction: every page's vector is computed again, the per-namespace centroids are rebuilt, the recorded
embedder is changed, and the FAISS files (a cache of the vectors) are removed, to be rebuilt from SQLite
on the next open. A crash at any point leaves either the old store or the new one, never a mix: until the
commit, the old vectors are what SQLite holds, and missing FAISS files are rebuilt from them.

Run it while no other process has the store open: the transaction holds SQLite's write lock (other writers
wait, then fail with "database is locked"), and a process that opened the store before keeps the old vectors.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nexint_core.embedders import EmbedderSpec, content_terms, embed_texts, make_embedder
from nexint_core.errors import StoreError
from nexint_core.stores.sqlite import DB_NAME, SCHEMA_VERSION, SqliteSwapStore

__all__ = ["ReindexReport", "reindex"]

BATCH = 512  # pages embedded at a time
Progress = Callable[[int, int], None]  # (pages done, pages in all)


@dataclass(frozen=True, slots=True)
class ReindexReport:
    """What :func:`reindex` did."""

    path: Path
    pages: int
    old_embedder: str
    new_embedder: str
    dim: int
    seconds: float
    changed: bool  # False when the store had that embedder already (nothing was written)


def reindex(path: str | Path, embedder: EmbedderSpec, *, progress: Progress | None = None) -> ReindexReport:
    """Re-embed every page of the store directory ``path`` with ``embedder`` (a name or an embedder)."""
    started = time.perf_counter()
    directory = Path(path)
    target = make_embedder(embedder)
    db_path = directory / DB_NAME
    if not db_path.is_file() or db_path.stat().st_size == 0:
        raise StoreError(f"no store at {directory} (expected {db_path})")
    _upgrade_if_needed(directory, db_path)
    conn = sqlite3.connect(db_path, isolation_level=None, timeout=30.0)
    try:
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("BEGIN IMMEDIATE")  # the write lock, held until the new vectors are committed
        try:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            old = str(meta.get("embedder"))
            total = int(conn.execute("SELECT count(*) FROM pages").fetchone()[0])
            if old == target.name and int(meta.get("dim", "0")) == target.dim:
                conn.execute("ROLLBACK")
                return ReindexReport(directory, total, old, target.name, target.dim, 0.0, changed=False)
            sums: dict[str, np.ndarray] = {}
            counts: dict[str, int] = {}
            done = 0
            last = 0
            while True:
                rows = conn.execute(
                    "SELECT seq, namespace, content FROM pages WHERE seq > ? ORDER BY seq LIMIT ?", (last, BATCH)
                ).fetchall()
                if not rows:
                    break
                texts = [str(row[2]) for row in rows]
                vectors = embed_texts(target, texts, [content_terms(text) for text in texts]).astype(np.float16)
                conn.executemany(
                    "UPDATE pages SET embedding = ? WHERE seq = ?",
                    [(vector.tobytes(), int(row[0])) for row, vector in zip(rows, vectors, strict=True)],
                )
                for row, vector in zip(rows, vectors, strict=True):
                    namespace = str(row[1])
                    sums[namespace] = sums.get(namespace, 0.0) + vector.astype(np.float64)
                    counts[namespace] = counts.get(namespace, 0) + 1
                last = int(rows[-1][0])
                done += len(rows)
                if progress is not None:
                    progress(done, total)
            conn.execute("DELETE FROM centroids")
            conn.executemany(
                "INSERT INTO centroids VALUES (?, ?, ?)",
                [(namespace, np.asarray(sums[namespace]).tobytes(), count) for namespace, count in counts.items()],
            )
            conn.execute("DELETE FROM meta WHERE key LIKE 'saved:%.faiss'")  # no saved index to miss
            conn.executemany(
                "UPDATE meta SET value = ? WHERE key = ?", [(target.name, "embedder"), (str(target.dim), "dim")]
            )
            for index in (directory / "vectors").glob("*.faiss"):  # the old vectors' cache, rebuilt on open
                index.unlink()
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    except sqlite3.Error as exc:
        raise StoreError(f"cannot re-embed {directory}: {exc}; nothing was changed") from None
    finally:
        conn.close()
    with SqliteSwapStore(directory, embedder=target) as store:  # build and save the FAISS indexes now
        store.build_indexes()
    return ReindexReport(directory, done, old, target.name, target.dim, time.perf_counter() - started, changed=True)


def _upgrade_if_needed(directory: Path, db_path: Path) -> None:
    """Bring an older store to this nexint's schema (opening it does; it needs the recorded embedder)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read {db_path}: {exc}") from None
    finally:
        conn.close()
    if row is None or int(row[0]) != SCHEMA_VERSION:
        SqliteSwapStore(directory).close()
