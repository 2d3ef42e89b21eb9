"""The persistent swap store: one directory, SQLite (WAL) as the source of truth, FAISS as a cache.

``nexint.db`` holds every page (content, metadata, tier, embedding), the FTS5 index for BM25, the
event log and the id counters. ``vectors/<namespace>.faiss`` holds one FAISS index per namespace,
keyed by the page's SQLite ``seq`` (a stable int64, never a position). The FAISS files can always be
rebuilt from SQLite: on open they are checked against it, and before each search rows written by
other processes are added.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from nexint_core.embedders import Embedder, HashingEmbedder, content_words
from nexint_core.errors import EmbedderMismatch, InvalidArgument, StoreCorrupted, StoreError
from nexint_core.events import PagingEvent
from nexint_core.ids import PageId
from nexint_core.pages import Page, Tier, namespace_of
from nexint_core.swap import SearchHit, check_filter
from nexint_core.vector_index import VectorIndex

__all__ = ["SCHEMA_VERSION", "SqliteSwapStore", "StoreWarning"]

SCHEMA_VERSION = 1
DB_NAME = "nexint.db"
_HEADER = b"SQLite format 3\x00"
_COLUMNS = (
    "id, namespace, content, tokens, role, importance, frame_id, group_id, part, created, last_used, "
    "use_count, tier, quarantined, metadata"
)
_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE pages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    namespace TEXT NOT NULL,
    ns TEXT NOT NULL,
    content TEXT NOT NULL,
    tokens INTEGER NOT NULL,
    role TEXT NOT NULL,
    importance REAL NOT NULL,
    frame_id TEXT,
    group_id TEXT,
    part INTEGER NOT NULL,
    created REAL,
    last_used REAL,
    use_count INTEGER NOT NULL,
    tier TEXT NOT NULL,
    quarantined INTEGER NOT NULL,
    metadata TEXT NOT NULL,
    embedding BLOB
);
CREATE INDEX pages_by_namespace ON pages(namespace, seq);
CREATE VIRTUAL TABLE pages_fts USING fts5(
    ns, content, content='pages', content_rowid='seq', tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER pages_ai AFTER INSERT ON pages BEGIN
    INSERT INTO pages_fts(rowid, ns, content) VALUES (new.seq, new.ns, new.content);
END;
CREATE TRIGGER pages_ad AFTER DELETE ON pages BEGIN
    INSERT INTO pages_fts(pages_fts, rowid, ns, content) VALUES ('delete', old.seq, old.ns, old.content);
END;
CREATE TRIGGER pages_au AFTER UPDATE OF ns, content ON pages BEGIN
    INSERT INTO pages_fts(pages_fts, rowid, ns, content) VALUES ('delete', old.seq, old.ns, old.content);
    INSERT INTO pages_fts(rowid, ns, content) VALUES (new.seq, new.ns, new.content);
END;
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace TEXT NOT NULL,
    event_seq INTEGER NOT NULL,
    time REAL NOT NULL,
    memory_id TEXT NOT NULL,
    action TEXT NOT NULL,
    reason TEXT NOT NULL,
    tier_from TEXT,
    tier_to TEXT,
    tokens INTEGER NOT NULL,
    policy TEXT NOT NULL
);
CREATE INDEX events_by_memory ON events(memory_id);
CREATE TABLE counters (kind TEXT PRIMARY KEY, last INTEGER NOT NULL);
"""


class StoreWarning(RuntimeWarning):
    """Something in a store was repaired (for example a FAISS file rebuilt from SQLite)."""


def _ns_token(namespace: str) -> str:
    return "ns" + hashlib.sha1(namespace.encode("utf-8")).hexdigest()[:20]


def _fts_query(text: str) -> str | None:
    words = list(dict.fromkeys(content_words(text)))
    if not words:
        return None
    return " OR ".join('"' + word.replace('"', '""') + '"' for word in words)


class _EventSink:
    """Buffers one manager's events; they are written with the store's next transaction."""

    __slots__ = ("_namespace", "_store")

    def __init__(self, store: SqliteSwapStore, namespace: str) -> None:
        self._store, self._namespace = store, namespace

    def emit(self, event: PagingEvent) -> None:
        self._store._pending_events.append((self._namespace, event))


class SqliteSwapStore:
    """A store directory that survives restarts and ``kill -9`` and can be shared by processes.

    ``durability="process"`` (default) survives any process crash; ``"power"`` also fsyncs each
    commit so it survives power loss, at a cost in write throughput.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        embedder: Embedder | None = None,
        create: bool = True,
        durability: str = "process",
        index_kind: str = "hnsw",
        save_every: int = 20_000,
    ) -> None:
        if durability not in ("process", "power"):
            raise InvalidArgument(f"durability must be 'process' or 'power', got {durability!r}")
        self.path = Path(path)
        self.embedder: Embedder = embedder if embedder is not None else HashingEmbedder()
        self._index_kind = index_kind
        self._save_every = save_every
        self._lock = threading.RLock()
        self._indexes: dict[str, VectorIndex] = {}
        self._synced: dict[str, int] = {}
        self._added: dict[str, set[int]] = {}
        self._unsaved = 0
        self._pending_events: list[tuple[str, PagingEvent]] = []
        self._closed = False
        if self.path.exists() and not self.path.is_dir():
            raise StoreError(f"store path {self.path} is a file, not a directory")
        if not self.path.exists():
            if not create:
                raise StoreError(f"no store at {self.path}")
            self.path.mkdir(parents=True)
        (self.path / "vectors").mkdir(exist_ok=True)
        db = self.path / DB_NAME
        fresh = not db.exists() or db.stat().st_size == 0
        if not fresh:
            with open(db, "rb") as handle:
                if handle.read(16) != _HEADER:
                    raise StoreCorrupted(f"{db} is not a SQLite database; nothing was changed")
        try:
            self._conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False, timeout=30.0)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {db}: {exc}") from None
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute(f"PRAGMA synchronous={'FULL' if durability == 'power' else 'NORMAL'}")
            self._conn.execute("PRAGMA busy_timeout=30000")
            if fresh:
                self._create()
            else:
                self._check_meta()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise StoreCorrupted(f"{db} is damaged ({exc}); nothing was changed") from None
        except Exception:
            self._conn.close()
            raise

    # -- schema --------------------------------------------------------------------------------

    def _create(self) -> None:
        with self._transaction() as conn:
            if conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'meta'").fetchone()[0]:
                return  # another process created it first
            for statement in _split_sql(_SCHEMA):
                conn.execute(statement)
            conn.executemany(
                "INSERT INTO meta(key, value) VALUES (?, ?)",
                [
                    ("schema_version", str(SCHEMA_VERSION)),
                    ("embedder", self.embedder.name),
                    ("dim", str(self.embedder.dim)),
                ],
            )

    def _check_meta(self) -> None:
        meta = dict(self._conn.execute("SELECT key, value FROM meta").fetchall())
        version = int(meta.get("schema_version", "0"))
        if version != SCHEMA_VERSION:
            raise StoreError(f"store {self.path} has schema version {version}; this nexint reads {SCHEMA_VERSION}")
        if meta.get("embedder") != self.embedder.name or int(meta.get("dim", "0")) != self.embedder.dim:
            raise EmbedderMismatch(
                f"store {self.path} was built with embedder {meta.get('embedder')} (dim {meta.get('dim')}), "
                f"but {self.embedder.name} (dim {self.embedder.dim}) was given; open it with the same embedder"
            )

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise StoreError(f"store {self.path} is busy: {exc}") from None
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")

    # -- writes --------------------------------------------------------------------------------

    def event_sink(self, namespace: str) -> _EventSink:
        """A sink for one manager's events; they reach disk with the next write or :meth:`flush`."""
        return _EventSink(self, namespace)

    def _write_events(self, conn: sqlite3.Connection) -> None:
        if not self._pending_events:
            return
        pending, self._pending_events = self._pending_events, []
        conn.executemany(
            "INSERT INTO events(namespace, event_seq, time, memory_id, action, reason, tier_from, tier_to, tokens,"
            " policy) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    ns,
                    e.seq,
                    e.time,
                    e.memory_id,
                    e.action.value,
                    e.reason,
                    e.tier_from.value if e.tier_from else None,
                    e.tier_to.value if e.tier_to else None,
                    e.tokens,
                    e.policy,
                )
                for ns, e in pending
            ],
        )
        updates: dict[str, tuple[str, int | None]] = {}
        for _, event in pending:
            tier, flag = updates.get(event.memory_id, (None, None))
            if event.tier_to is not None:
                tier = event.tier_to.value
            if event.action.value == "quarantine":
                flag = 1
            elif event.action.value == "approve":
                flag = 0
            if tier is not None or flag is not None:
                updates[event.memory_id] = (tier or "", flag)
        conn.executemany(
            "UPDATE pages SET tier = CASE WHEN ?1 = '' THEN tier ELSE ?1 END, "
            "quarantined = COALESCE(?2, quarantined) WHERE id = ?3",
            [(tier, flag, memory_id) for memory_id, (tier, flag) in updates.items()],
        )

    def put(self, pages: Sequence[Page]) -> None:
        if not pages:
            return
        vectors = self.embedder.embed([page.content for page in pages])
        blobs = vectors.astype(np.float16)
        seqs: list[int] = []
        with self._transaction() as conn:
            self._write_events(conn)
            ids = [page.id for page in pages]
            replaced = conn.execute(
                f"SELECT namespace FROM pages WHERE id IN ({', '.join('?' * len(ids))})", ids
            ).fetchall()
            for page, blob in zip(pages, blobs, strict=True):
                row = (
                    page.id,
                    namespace_of(page),
                    _ns_token(namespace_of(page)),
                    page.content,
                    page.tokens or 0,
                    page.role,
                    page.importance,
                    page.frame_id,
                    page.group_id,
                    page.part,
                    page.created,
                    page.last_used,
                    page.use_count,
                    (page.tier or Tier.ACTIVE).value,
                    int(page.quarantined),
                    json.dumps(page.metadata, sort_keys=True, default=str),
                    blob.tobytes(),
                )
                seqs.append(
                    conn.execute(
                        "INSERT INTO pages(id, namespace, ns, content, tokens, role, importance, frame_id, group_id,"
                        " part, created, last_used, use_count, tier, quarantined, metadata, embedding)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                        " ON CONFLICT(id) DO UPDATE SET namespace = excluded.namespace, ns = excluded.ns,"
                        " content = excluded.content, tokens = excluded.tokens, role = excluded.role,"
                        " importance = excluded.importance, frame_id = excluded.frame_id,"
                        " group_id = excluded.group_id, part = excluded.part, created = excluded.created,"
                        " last_used = excluded.last_used, use_count = excluded.use_count, tier = excluded.tier,"
                        " quarantined = excluded.quarantined, metadata = excluded.metadata,"
                        " embedding = excluded.embedding RETURNING seq",
                        row,
                    ).fetchone()[0]
                )
        for (namespace,) in replaced:  # a vector cannot be replaced in place: rebuild that index on next use
            self._indexes.pop(namespace, None)
        for page, seq, vector in zip(pages, seqs, vectors, strict=True):
            namespace = namespace_of(page)
            if namespace not in self._indexes:
                self._index_for(namespace)  # loads or builds it, this row included
            else:
                self._indexes[namespace].add(np.array([seq], dtype=np.int64), vector.reshape(1, -1))
                self._added[namespace].add(seq)
        self._unsaved += len(pages)
        if self._unsaved >= self._save_every:
            self.save_indexes()

    def delete(self, page_ids: Sequence[str]) -> None:
        if not page_ids:
            return
        with self._transaction() as conn:
            self._write_events(conn)
            gone = []
            for page_id in page_ids:
                row = conn.execute("DELETE FROM pages WHERE id = ? RETURNING seq, namespace", (page_id,)).fetchone()
                if row is not None:
                    gone.append(row)
        for seq, namespace in gone:
            index = self._indexes.get(namespace)
            if index is not None:
                index.remove(np.array([seq], dtype=np.int64))

    def flush(self) -> None:
        """Write buffered events (and the tier changes they carry) now."""
        if self._pending_events:
            with self._transaction() as conn:
                self._write_events(conn)

    def reserve_ids(self, kind: str, count: int, at_least: int) -> int:
        """Reserve ``count`` ids of ``kind`` no process has used; returns the first number."""
        with self._transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO counters(kind, last) VALUES (?, 0)", (kind,))
            last = conn.execute(
                "UPDATE counters SET last = max(last, ?) + ? WHERE kind = ? RETURNING last",
                (at_least - 1, count, kind),
            ).fetchone()[0]
        return int(last) - count + 1

    # -- reads ---------------------------------------------------------------------------------

    def _page(self, row: Sequence[Any]) -> Page:
        return Page(
            PageId(row[0]),
            row[2],
            int(row[3]),
            role=row[4],
            importance=float(row[5]),
            namespace=row[1],
            frame_id=row[6],
            group_id=row[7],
            part=int(row[8]),
            created=row[9],
            last_used=row[10],
            use_count=int(row[11]),
            tier=Tier(row[12]),
            quarantined=bool(row[13]),
            metadata=json.loads(row[14]),
        )

    def get(self, page_id: str) -> Page | None:
        with self._lock:
            row = self._conn.execute(f"SELECT {_COLUMNS} FROM pages WHERE id = ?", (page_id,)).fetchone()
        return self._page(row) if row is not None else None

    def __contains__(self, page_id: object) -> bool:
        if not isinstance(page_id, str):
            return False
        with self._lock:
            return self._conn.execute("SELECT 1 FROM pages WHERE id = ?", (page_id,)).fetchone() is not None

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM pages").fetchone()[0])

    def __iter__(self) -> Iterator[Page]:
        return self.scan()

    def scan(self, namespaces: Sequence[str] | None = None) -> Iterator[Page]:
        sql = f"SELECT {_COLUMNS} FROM pages"
        args: list[str] = []
        if namespaces is not None:
            sql += f" WHERE namespace IN ({', '.join('?' * len(namespaces))})"
            args = list(namespaces)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY seq", args).fetchall()
        return (self._page(row) for row in rows)

    def events(self, namespace: str | None = None) -> list[PagingEvent]:
        """The persisted event log (of one namespace, if given), in order."""
        self.flush()
        sql = "SELECT event_seq, time, memory_id, action, reason, tier_from, tier_to, tokens, policy FROM events"
        args: tuple[str, ...] = ()
        if namespace is not None:
            sql, args = sql + " WHERE namespace = ?", (namespace,)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY seq", args).fetchall()
        keys = ("seq", "time", "memory_id", "action", "reason", "tier_from", "tier_to", "tokens", "policy")
        return [PagingEvent.from_dict(dict(zip(keys, row, strict=True))) for row in rows]

    def _where_sql(self, where: Mapping[str, object] | None) -> tuple[str, list[object]]:
        check_filter(where)
        if not where:
            return "", []
        clauses, args = [], []
        for name, value in sorted(where.items()):
            clauses.append(f"p.{name} = ?")
            args.append(value.value if isinstance(value, Tier) else int(value) if isinstance(value, bool) else value)
        return " AND " + " AND ".join(clauses), args

    def search_text(
        self, query: str, *, namespaces: Sequence[str], k: int = 20, where: Mapping[str, object] | None = None
    ) -> list[SearchHit]:
        match = _fts_query(query)
        if match is None or not namespaces or k <= 0:
            return []
        ns_match = " OR ".join(_ns_token(ns) for ns in namespaces)
        extra, args = self._where_sql(where)
        sql = (
            "SELECT p.id, bm25(pages_fts, 0.0, 1.0) AS r FROM pages_fts JOIN pages p ON p.seq = pages_fts.rowid"
            f" WHERE pages_fts MATCH ?{extra} ORDER BY r, p.seq LIMIT ?"
        )
        with self._lock:
            rows = self._conn.execute(sql, [f"ns : ({ns_match}) AND content : ({match})", *args, k]).fetchall()
        return [SearchHit(row[0], -float(row[1])) for row in rows]

    def _index_for(self, namespace: str) -> VectorIndex:
        """The namespace's FAISS index, loaded or rebuilt on first use and synced with SQLite."""
        index = self._indexes.get(namespace)
        if index is None:
            index = self._open_index(namespace)
            self._indexes[namespace] = index
            self._added[namespace] = set()
        else:
            self._sync(namespace, index)
        return index

    def _index_path(self, namespace: str) -> Path:
        return self.path / "vectors" / f"{_ns_token(namespace)}.faiss"

    def _open_index(self, namespace: str) -> VectorIndex:
        path = self._index_path(namespace)
        dim = self.embedder.dim
        with self._lock:
            seqs = np.array(
                [r[0] for r in self._conn.execute("SELECT seq FROM pages WHERE namespace = ?", (namespace,))],
                dtype=np.int64,
            )
            saved = self._conn.execute("SELECT 1 FROM meta WHERE key = ?", (f"saved:{path.name}",)).fetchone()
        index: VectorIndex | None = None
        if path.exists():
            try:
                index = VectorIndex.load(path, dim, kind=self._index_kind)
            except StoreCorrupted as exc:
                warnings.warn(f"{exc}; rebuilding it from SQLite", StoreWarning, stacklevel=4)
        elif saved is not None:
            warnings.warn(f"vector index {path} is missing; rebuilding it from SQLite", StoreWarning, stacklevel=4)
        if index is None:
            index = VectorIndex(dim, kind=self._index_kind)
        held = index.ids()
        index.remove(np.setdiff1d(held, seqs, assume_unique=True))
        missing = np.setdiff1d(seqs, held, assume_unique=True)
        self._add_from_sqlite(index, missing)
        self._synced[namespace] = int(seqs.max()) if len(seqs) else 0
        if len(missing):
            self._save(namespace, index)
        return index

    def _save(self, namespace: str, index: VectorIndex) -> None:
        path = self._index_path(namespace)
        index.save(path)
        with self._transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)", (f"saved:{path.name}", namespace))

    def _add_from_sqlite(self, index: VectorIndex, seqs: npt.NDArray[np.int64]) -> None:
        for start in range(0, len(seqs), 10_000):
            chunk = [int(s) for s in seqs[start : start + 10_000]]
            with self._lock:
                rows = self._conn.execute(
                    f"SELECT seq, embedding FROM pages WHERE seq IN ({', '.join('?' * len(chunk))}) ORDER BY seq",
                    chunk,
                ).fetchall()
            if rows:
                self._add_rows(index, rows)

    def _add_rows(self, index: VectorIndex, rows: Sequence[tuple[int, bytes]]) -> None:
        dim = self.embedder.dim
        ids = np.array([row[0] for row in rows], dtype=np.int64)
        vectors = np.frombuffer(b"".join(row[1] for row in rows), dtype=np.float16).reshape(len(rows), dim)
        index.add(ids, vectors.astype(np.float32))

    def _sync(self, namespace: str, index: VectorIndex) -> None:
        """Add vectors that other processes wrote since the last look."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, embedding FROM pages WHERE namespace = ? AND seq > ? ORDER BY seq",
                (namespace, self._synced[namespace]),
            ).fetchall()
        if not rows:
            return
        own = self._added[namespace]
        fresh = [row for row in rows if row[0] not in own]
        if fresh:
            self._add_rows(index, fresh)
        self._synced[namespace] = int(rows[-1][0])
        own.clear()

    def search_vector(
        self,
        vector: npt.NDArray[np.float32],
        *,
        namespaces: Sequence[str],
        k: int = 20,
        where: Mapping[str, object] | None = None,
    ) -> list[SearchHit]:
        extra, args = self._where_sql(where)
        found: list[tuple[int, float]] = []
        for namespace in namespaces:
            index = self._index_for(namespace)
            found.extend(index.search(vector, k * 4 if where else k))
        if not found:
            return []
        scores = dict(found)
        with self._lock:
            rows = self._conn.execute(
                f"SELECT p.seq, p.id FROM pages p WHERE p.seq IN ({', '.join('?' * len(scores))}){extra}",
                [*scores, *args],
            ).fetchall()
        hits = [SearchHit(page_id, scores[seq]) for seq, page_id in rows]
        hits.sort(key=lambda hit: (-hit.score, hit.page_id))
        return hits[:k]

    # -- lifecycle -----------------------------------------------------------------------------

    def save_indexes(self) -> None:
        """Write every loaded FAISS index atomically."""
        for namespace, index in self._indexes.items():
            self._save(namespace, index)
        self._unsaved = 0

    def close(self) -> None:
        """Flush events, save indexes, close the database."""
        if self._closed:
            return
        self.flush()
        if self._unsaved:
            self.save_indexes()
        self._conn.close()
        self._closed = True

    def __enter__(self) -> SqliteSwapStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SqliteSwapStore({str(self.path)!r}, embedder={self.embedder.name!r})"


def _split_sql(script: str) -> list[str]:
    """Split the schema into statements (trigger bodies contain semicolons)."""
    statements, buffer, depth = [], [], 0
    for line in script.strip().splitlines():
        buffer.append(line)
        stripped = line.strip().upper()
        if stripped.endswith("BEGIN"):
            depth += 1
        if stripped == "END;":
            depth -= 1
        if depth == 0 and stripped.endswith(";"):
            statements.append("\n".join(buffer))
            buffer = []
    return statements
