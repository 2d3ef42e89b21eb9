"""The persistent swap store: one directory, SQLite (WAL) as the source of truth, FAISS as a cache.

``nexint.db`` holds every page (content, metadata, tier, embedding, index terms), the event log and
the id counters. ``vectors/<namespace>.faiss`` holds one FAISS index per namespace, keyed by the
page's SQLite ``seq`` (a stable int64, never a position). The FAISS files can always be rebuilt from
SQLite: on open they are checked against it. The BM25 index (:class:`LexicalIndex`) is built in
memory from the stored terms when a namespace is first used. Before each search, rows written by
other processes are added to both.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from nexint_core.embedders import Embedder, HashingEmbedder, content_terms, embed_texts
from nexint_core.errors import EmbedderMismatch, InvalidArgument, StoreCorrupted, StoreError
from nexint_core.events import PagingEvent
from nexint_core.lexical import LexicalIndex
from nexint_core.pages import Page, Tier, namespace_of
from nexint_core.rows import EVENT_COLUMNS, PAGE_COLUMNS, event_from_row, event_row, page_from_row, tier_changes
from nexint_core.swap import SearchHit, check_filter, query_terms
from nexint_core.vector_index import VectorIndex

__all__ = ["SCHEMA_VERSION", "SqliteSwapStore", "StoreWarning"]

SCHEMA_VERSION = 2  # 2: no FTS5 table (BM25 runs in memory over the stored terms)
DB_NAME = "nexint.db"
_HEADER = b"SQLite format 3\x00"
_INSERT = (
    "INSERT INTO pages(seq, id, namespace, ns, content, tokens, role, importance, frame_id, group_id, part, created,"
    " last_used, use_count, tier, quarantined, metadata, embedding, vaddr, terms)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
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
    embedding BLOB,
    vaddr INTEGER NOT NULL DEFAULT -1,
    terms TEXT NOT NULL
);
CREATE INDEX pages_by_namespace ON pages(namespace, seq);
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
CREATE INDEX events_by_namespace ON events(namespace, event_seq);
CREATE TABLE counters (kind TEXT PRIMARY KEY, last INTEGER NOT NULL);
CREATE TABLE deletions (id INTEGER PRIMARY KEY AUTOINCREMENT, seq INTEGER NOT NULL, namespace TEXT NOT NULL,
    terms TEXT NOT NULL);
"""


_VERIFY_UP_TO = 256 * 1024 * 1024
_SCAN_CHUNK = 2_000
_DELETIONS = next(statement for statement in _SCHEMA.split(";") if "TABLE deletions" in statement).strip()
_CHECKPOINT_EVERY = 200  # pages written between background WAL checkpoints (about SQLite's 1,000 WAL frames)


def _translate(exc: sqlite3.Error, db: Path) -> StoreError:
    """A SQLite error as nexint's typed error: busy/locked is a StoreError, damage is StoreCorrupted."""
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) or "locked" in text or "busy" in text:
        return StoreError(f"store {db}: {text}")
    return StoreCorrupted(f"{db} is damaged ({text}); nothing was changed")


class _Guarded:
    """A sqlite3 connection whose errors surface as typed nexint errors."""

    __slots__ = ("_conn", "_db")

    def __init__(self, conn: sqlite3.Connection, db: Path) -> None:
        self._conn, self._db = conn, db

    def execute(self, sql: str, args: Sequence[Any] = ()) -> _Rows:
        try:
            return _Rows(self._conn.execute(sql, args), self._db)
        except sqlite3.Error as exc:
            raise _translate(exc, self._db) from exc

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        """Run ``sql`` for each row; returns the rows changed."""
        try:
            return self._conn.executemany(sql, rows).rowcount
        except sqlite3.Error as exc:
            raise _translate(exc, self._db) from exc

    def close(self) -> None:
        self._conn.close()


class _Rows:
    """A cursor whose fetches surface errors as typed nexint errors."""

    __slots__ = ("_cursor", "_db")

    def __init__(self, cursor: sqlite3.Cursor, db: Path) -> None:
        self._cursor, self._db = cursor, db

    def fetchone(self) -> Any:
        try:
            return self._cursor.fetchone()
        except sqlite3.Error as exc:
            raise _translate(exc, self._db) from exc

    def fetchall(self) -> list[Any]:
        try:
            return self._cursor.fetchall()
        except sqlite3.Error as exc:
            raise _translate(exc, self._db) from exc

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class StoreWarning(RuntimeWarning):
    """Something in a store was repaired (for example a FAISS file rebuilt from SQLite)."""


@lru_cache(maxsize=4096)
def _ns_token(namespace: str) -> str:
    return "ns" + hashlib.sha1(namespace.encode("utf-8")).hexdigest()[:20]


class _EventSink:
    """Buffers one manager's events; they are written with the store's next transaction."""

    __slots__ = ("_namespace", "_store")

    def __init__(self, store: SqliteSwapStore, namespace: str) -> None:
        self._store, self._namespace = store, namespace

    def emit(self, event: PagingEvent) -> None:
        self._store._pending_events.append((self._namespace, event))


class SqliteSwapStore:
    """A store directory that survives restarts and ``kill -9`` and can be shared by processes.

    Pages are copied into SQLite, so a manager may release the content of pages it swaps out
    (:attr:`durable`).

    ``durability="process"`` (default) survives any process crash; ``"power"`` also fsyncs each
    commit so it survives power loss, at a cost in write throughput. ``verify`` runs SQLite's
    ``quick_check`` on open (default: for databases up to 256 MiB); damage found then, or by any
    later read, raises :class:`StoreCorrupted` and nothing is written.
    """

    durable = True

    def __init__(
        self,
        path: str | Path,
        *,
        embedder: Embedder | None = None,
        create: bool = True,
        durability: str = "process",
        index_kind: str = "auto",
        save_every: int = 20_000,
        verify: bool | None = None,
    ) -> None:
        if durability not in ("process", "power"):
            raise InvalidArgument(f"durability must be 'process' or 'power', got {durability!r}")
        self.path = Path(path)
        self.embedder: Embedder = embedder if embedder is not None else HashingEmbedder()
        self._index_kind = index_kind
        self._save_every = save_every
        self._lock = threading.RLock()
        self._indexes: dict[str, VectorIndex] = {}
        self._lexical: dict[str, LexicalIndex] = {}
        self._page_ids: list[str | None] = []  # page id by seq, for the indexed pages: hits need no lookup
        self._data_version = -1
        self._deletions_seen = 0
        self._stale: dict[str, bool] = {}  # namespaces whose index may lag SQLite whatever data_version says
        self._fresh_lexical: set[str] = set()  # BM25 indexes built from SQLite and not saved yet
        self._synced: dict[str, int] = {}
        self._added: dict[str, set[int]] = {}
        self._unsaved = 0
        self._pending_events: list[tuple[str, PagingEvent]] = []
        self._loader: ThreadPoolExecutor | None = None
        self._checkpointer: ThreadPoolExecutor | None = None  # WAL checkpoints, off the writing thread
        self._checkpoint: Future[None] | None = None
        self._checkpoint_conn: sqlite3.Connection | None = None
        self._since_checkpoint = 0
        self._loading: dict[str, Future[tuple[VectorIndex, LexicalIndex, int, list[str]]]] = {}
        self._closed = False
        if self.path.exists() and not self.path.is_dir():
            raise StoreError(f"store path {self.path} is a file, not a directory")
        if not self.path.exists() and not create:
            raise StoreError(f"no store at {self.path}")
        db = self.path / DB_NAME
        if db.exists() and db.stat().st_size > 0:
            with open(db, "rb") as handle:
                if handle.read(16) != _HEADER:
                    raise StoreCorrupted(f"{db} is not a SQLite database; nothing was changed")
        self.path.mkdir(parents=True, exist_ok=True)
        try:
            raw = sqlite3.connect(db, isolation_level=None, check_same_thread=False, timeout=30.0)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {db}: {exc}") from None
        self._conn = _Guarded(raw, db)
        try:
            self._conn.execute("PRAGMA busy_timeout=30000")
            self._enable_wal()
            self._conn.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints run in the background instead
            self._conn.execute(f"PRAGMA synchronous={'FULL' if durability == 'power' else 'NORMAL'}")
            self._conn.execute("PRAGMA cache_size=-65536")  # 64 MiB: BM25 reads document sizes at random
            self._create_if_missing()
            self._check_meta()
            if verify or (verify is None and db.stat().st_size <= _VERIFY_UP_TO):
                result = self._conn.execute("PRAGMA quick_check").fetchone()
                if result is None or result[0] != "ok":
                    raise StoreCorrupted(f"{db} failed its integrity check ({result}); nothing was changed")
        except BaseException:
            raw.close()
            raise
        vectors = self.path / "vectors"
        vectors.mkdir(exist_ok=True)
        for leftover in vectors.glob(".*.tmp"):  # an index save interrupted by a crash
            leftover.unlink(missing_ok=True)

    def _enable_wal(self) -> None:
        """Switch to WAL. It needs an exclusive lock, and SQLite answers a concurrent first open with
        SQLITE_BUSY at once instead of waiting on the busy timeout, so retry for up to 30 s."""
        deadline = time.monotonic() + 30.0
        while True:
            try:
                self._conn.execute("PRAGMA journal_mode=WAL")
                return
            except StoreError as exc:
                if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    # -- schema --------------------------------------------------------------------------------

    def _create_if_missing(self) -> None:
        with self._transaction() as conn:
            if conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'meta'").fetchone()[0]:
                return  # created before, possibly by another process a moment ago
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
        if version == 1:  # forward migration: BM25 moved from FTS5 into memory
            with self._transaction() as conn:
                conn.execute("DROP TABLE IF EXISTS pages_fts")
                conn.execute(_DELETIONS.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1))
                conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
            version = SCHEMA_VERSION
        if version != SCHEMA_VERSION:
            raise StoreError(f"store {self.path} has schema version {version}; this nexint reads {SCHEMA_VERSION}")
        if meta.get("embedder") != self.embedder.name or int(meta.get("dim", "0")) != self.embedder.dim:
            raise EmbedderMismatch(
                f"store {self.path} was built with embedder {meta.get('embedder')} (dim {meta.get('dim')}), "
                f"but {self.embedder.name} (dim {self.embedder.dim}) was given; open it with the same embedder"
            )

    @contextmanager
    def _transaction(self) -> Iterator[_Guarded]:
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
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

    def _write_events(self, conn: _Guarded) -> None:
        if not self._pending_events:
            return
        pending, self._pending_events = self._pending_events, []
        conn.executemany(
            f"INSERT INTO events(namespace, {EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [event_row(ns, e) for ns, e in pending],
        )
        updates = {
            key: (tier or "", None if flag is None else int(flag))
            for key, (tier, flag) in tier_changes(pending).items()
        }
        # A manager's view of tiers is persisted for its own namespace only (shared pages are per reader).
        conn.executemany(
            "UPDATE pages SET tier = CASE WHEN ?1 = '' THEN tier ELSE ?1 END, "
            "quarantined = COALESCE(?2, quarantined) WHERE id = ?3 AND namespace = ?4",
            [(tier, flag, memory_id, namespace) for (memory_id, namespace), (tier, flag) in updates.items()],
        )

    def put(self, pages: Sequence[Page]) -> None:
        if not pages:
            return
        pages = list({page.id: page for page in pages}.values())  # a page given twice is stored once, as last given
        terms = [content_terms(page.content) for page in pages]
        vectors = embed_texts(self.embedder, [page.content for page in pages], terms)
        blobs = vectors.astype(np.float16)
        rows = []
        for page, blob, words in zip(pages, blobs, terms, strict=True):
            namespace = namespace_of(page)
            rows.append(
                [
                    0,  # seq, assigned under the write lock below
                    page.id,
                    namespace,
                    _ns_token(namespace),
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
                    page.vaddr,
                    " ".join(words),
                ]
            )
        events = list(self._pending_events)
        try:
            with self._transaction() as conn:
                self._write_events(conn)
                last = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'pages'").fetchone()
                first = (int(last[0]) if last is not None else 0) + 1
                for offset, row in enumerate(rows):
                    row[0] = first + offset
                inserted = conn.executemany(_INSERT + " ON CONFLICT(id) DO NOTHING", rows)
                replaced = self._overwrite(conn, rows) if inserted != len(rows) else []
        except BaseException:
            self._pending_events[:0] = events  # rolled back: they go with the next transaction
            raise
        seqs = [int(row[0]) for row in rows]
        self._unindex(replaced)
        self._know(zip(seqs, (page.id for page in pages), strict=True))
        opened = {namespace_of(page) for page in pages} - set(self._indexes)
        for namespace in opened:
            self._index_for(namespace)  # loads or builds it from SQLite, this batch included
        by_namespace: dict[str, list[int]] = {}
        for position, page in enumerate(pages):
            by_namespace.setdefault(namespace_of(page), []).append(position)
        for namespace, positions in by_namespace.items():
            if namespace in opened:
                continue
            index, lexical = self._indexes[namespace], self._lexical[namespace]
            added = np.array([seqs[position] for position in positions], dtype=np.int64)
            index.add(added, vectors[positions])
            for position in positions:
                lexical.add(seqs[position], rows[position][19].split())
            self._added[namespace].update(added.tolist())
            if len(self._added[namespace]) >= 10_000:  # catch up with other writers, forget our own ids
                self._stale[namespace] = True
                self._sync(namespace, index)
        self._unsaved += len(pages)
        self._since_checkpoint += len(pages)
        if self._since_checkpoint >= _CHECKPOINT_EVERY:
            self._start_checkpoint()
        if self._unsaved >= self._save_every:
            self.save_indexes()

    def delete(self, page_ids: Sequence[str]) -> None:
        if not page_ids:
            return
        with self._transaction() as conn:
            self._write_events(conn)
            gone = [row for row in (self._delete_row(conn, page_id) for page_id in page_ids) if row is not None]
        self._unindex(gone)

    def _overwrite(self, conn: _Guarded, rows: list[list[Any]]) -> list[tuple[int, str, str]]:
        """Replace the stored pages whose ids some of ``rows`` reuse; returns the rows deleted.

        An overwrite gets a fresh seq: FAISS cannot replace a vector in place.
        """
        assigned = {row[1]: row for row in rows}
        stale: list[list[Any]] = []
        for start in range(0, len(rows), 500):
            chunk = [row[1] for row in rows[start : start + 500]]
            found = conn.execute(f"SELECT id, seq FROM pages WHERE id IN ({', '.join('?' * len(chunk))})", chunk)
            stale.extend(assigned[page_id] for page_id, seq in found.fetchall() if seq != assigned[page_id][0])
        replaced = [old for old in (self._delete_row(conn, row[1]) for row in stale) if old is not None]
        conn.executemany(_INSERT, stale)
        return replaced

    def _delete_row(self, conn: _Guarded, page_id: str) -> tuple[int, str, str] | None:
        """Delete a page, logging it so other processes drop it from their in-memory indexes."""
        row = conn.execute("DELETE FROM pages WHERE id = ? RETURNING seq, namespace, terms", (page_id,)).fetchone()
        if row is None:
            return None
        conn.execute("INSERT INTO deletions(seq, namespace, terms) VALUES (?, ?, ?)", row)
        return int(row[0]), str(row[1]), str(row[2])

    def _know(self, pairs: Iterable[tuple[int, str]]) -> None:
        """Remember the page ids of indexed seqs."""
        known = self._page_ids
        for seq, page_id in pairs:
            if seq >= len(known):
                known.extend([None] * (seq + 1 - len(known) + len(known) // 4))
            known[seq] = page_id

    def _unindex(self, rows: Sequence[tuple[int, str, str]]) -> None:
        """Drop deleted rows ``(seq, namespace, terms)`` from the loaded indexes (after their commit)."""
        for seq, namespace, terms in rows:
            if seq < len(self._page_ids):
                self._page_ids[seq] = None
            index = self._indexes.get(namespace)
            if index is None:
                continue
            index.remove(np.array([seq], dtype=np.int64))
            if seq <= self._synced[namespace] or seq in self._added[namespace]:  # else never indexed
                self._lexical[namespace].remove(seq, terms.split())
            self._added[namespace].discard(seq)

    @property
    def pending_events(self) -> int:
        """Events buffered for the next transaction."""
        return len(self._pending_events)

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

    def get(self, page_id: str) -> Page | None:
        with self._lock:
            row = self._conn.execute(f"SELECT {PAGE_COLUMNS} FROM pages WHERE id = ?", (page_id,)).fetchone()
        return page_from_row(row) if row is not None else None

    def contents(self, page_ids: Sequence[str]) -> dict[str, str]:
        """The content of each stored page among ``page_ids``, in one query per 500."""
        out: dict[str, str] = {}
        for start in range(0, len(page_ids), 500):
            chunk = list(page_ids[start : start + 500])
            with self._lock:
                rows = self._conn.execute(
                    f"SELECT id, content FROM pages WHERE id IN ({', '.join('?' * len(chunk))})", chunk
                ).fetchall()
            out.update(rows)
        return out

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
        """Pages in write order, read in chunks so a large archive never sits in memory at once."""
        where = "" if namespaces is None else f" AND namespace IN ({', '.join('?' * len(namespaces))})"
        args: list[object] = [] if namespaces is None else list(namespaces)
        last = 0
        while True:
            with self._lock:
                rows = self._conn.execute(
                    f"SELECT seq, {PAGE_COLUMNS} FROM pages WHERE seq > ?{where} ORDER BY seq LIMIT {_SCAN_CHUNK}",
                    [last, *args],
                ).fetchall()
            for row in rows:
                yield page_from_row(row[1:])
            if len(rows) < _SCAN_CHUNK:
                return
            last = int(rows[-1][0])

    def last_event_seq(self, namespace: str) -> int:
        """The number of the last event persisted for ``namespace`` (0 if none)."""
        with self._lock:
            row = self._conn.execute("SELECT max(event_seq) FROM events WHERE namespace = ?", (namespace,)).fetchone()
        return int(row[0] or 0)

    def events(self, namespace: str | None = None) -> list[PagingEvent]:
        """The persisted event log (of one namespace, if given), in order."""
        self.flush()
        sql = f"SELECT {EVENT_COLUMNS} FROM events"
        args: tuple[str, ...] = ()
        if namespace is not None:
            sql, args = sql + " WHERE namespace = ?", (namespace,)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY seq", args).fetchall()
        return [event_from_row(row) for row in rows]

    def _where_sql(self, where: Mapping[str, object] | None) -> tuple[str, list[object]]:
        check_filter(where)
        if not where:
            return "", []
        clauses, args = [], []
        for name, value in sorted(where.items()):
            clauses.append(f"p.{name} IS ?")
            args.append(value.value if isinstance(value, Tier) else int(value) if isinstance(value, bool) else value)
        return " AND " + " AND ".join(clauses), args

    def search_text(
        self, query: str, *, namespaces: Sequence[str], k: int = 20, where: Mapping[str, object] | None = None
    ) -> list[SearchHit]:
        extra, args = self._where_sql(where)
        terms = query_terms(query)
        hits: list[SearchHit] = []
        if not terms or k <= 0:
            return hits
        for namespace in namespaces:
            self._index_for(namespace)
            lexical = self._lexical[namespace]
            hits.extend(self._widen(partial(lexical.search, terms), k, len(lexical), extra, args))
        hits.sort(key=lambda hit: (-hit.score, hit.page_id))
        return hits[:k]

    def _widen(
        self,
        search: Callable[[int], list[tuple[int, float]]],
        k: int,
        size: int,
        extra: str,
        args: list[object],
    ) -> list[SearchHit]:
        """Page ids of the best ``k`` hits of ``search(fetch)`` that exist (and pass a filter): with a
        filter, the search widens until ``k`` rows pass or the index is exhausted."""
        fetch = k
        while True:
            found = dict(search(fetch))
            if not found:
                return []
            if not extra:
                known = self._page_ids
                ids = [known[seq] if seq < len(known) else None for seq in found]
                if None not in ids:  # else some were deleted, or are not indexed yet: ask SQLite
                    return [SearchHit(str(page_id), score) for page_id, score in zip(ids, found.values(), strict=True)]
            with self._lock:
                rows = self._conn.execute(
                    f"SELECT p.seq, p.id FROM pages p WHERE p.seq IN ({', '.join('?' * len(found))}){extra}",
                    [*found, *args],
                ).fetchall()
            if len(rows) >= k or fetch >= size or not extra:
                return [SearchHit(page_id, found[seq]) for seq, page_id in rows]
            fetch *= 4

    def preload(self, namespaces: Sequence[str]) -> None:
        """Start loading these namespaces' FAISS indexes in a background thread.

        A large index takes seconds to read; a manager asks for this when it opens, so the first
        search rarely has to wait. A search that does need an index still loading waits for it.
        """
        with self._lock:
            if self._closed:
                return
            if self._loader is None:
                self._loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nexint-index")
            for namespace in namespaces:
                if namespace not in self._indexes and namespace not in self._loading:
                    self._loading[namespace] = self._loader.submit(self._open_index, namespace)

    def _index_for(self, namespace: str) -> VectorIndex:
        """The namespace's FAISS index (and BM25 index), loaded or rebuilt on first use, synced with SQLite."""
        index = self._indexes.get(namespace)
        if index is None:
            loading = self._loading.pop(namespace, None)
            index, lexical, synced, problems = loading.result() if loading is not None else self._open_index(namespace)
            for problem in problems:
                warnings.warn(problem, StoreWarning, stacklevel=3)
            self._indexes[namespace], self._lexical[namespace] = index, lexical
            self._added[namespace] = set()
            self._synced[namespace] = synced
            self._stale[namespace] = True
        self._sync(namespace, index)
        return index

    def _index_path(self, namespace: str) -> Path:
        return self.path / "vectors" / f"{_ns_token(namespace)}.faiss"

    def _open_index(self, namespace: str) -> tuple[VectorIndex, LexicalIndex, int, list[str]]:
        """Load (or rebuild from SQLite) one namespace's indexes: FAISS, BM25, the last seq they hold,
        and what was repaired (warned about by the caller, which may be another thread)."""
        path = self._index_path(namespace)
        dim = self.embedder.dim
        with self._lock:
            seqs = np.array(
                [r[0] for r in self._conn.execute("SELECT seq FROM pages WHERE namespace = ?", (namespace,))],
                dtype=np.int64,
            )
            saved = self._conn.execute("SELECT 1 FROM meta WHERE key = ?", (f"saved:{path.name}",)).fetchone()
        index: VectorIndex | None = None
        problems = []
        if path.exists():
            try:
                index = VectorIndex.load(path, dim, kind=self._index_kind)
            except StoreCorrupted as exc:
                problems.append(f"{exc}; rebuilding it from SQLite")
        elif saved is not None:
            problems.append(f"vector index {path} is missing; rebuilding it from SQLite")
        if index is None:
            index = VectorIndex(dim, kind=self._index_kind)
        held = index.ids()
        index.remove(np.setdiff1d(held, seqs, assume_unique=True))
        missing = np.setdiff1d(seqs, held, assume_unique=True)
        self._add_from_sqlite(index, missing)
        if len(missing):
            self._save(namespace, index)
        synced = int(seqs.max()) if len(seqs) else 0
        lexical = self._load_lexical(namespace, synced, problems)
        if lexical is None:
            lexical = self._build_lexical(namespace, synced)
            self._fresh_lexical.add(namespace)  # saved on close, so the next open need not rebuild it
        return index, lexical, synced, problems

    def _lexical_path(self, namespace: str) -> Path:
        return self.path / "vectors" / f"{_ns_token(namespace)}.lex"

    def _load_lexical(self, namespace: str, up_to: int, problems: list[str]) -> LexicalIndex | None:
        """The namespace's saved BM25 index brought up to seq ``up_to`` (None if there is no usable file).

        The file says up to which seq it holds the pages and up to which entry of the deletions log it has
        dropped theirs; what came after is applied from SQLite.
        """
        path = self._lexical_path(namespace)
        if not path.exists():
            return None
        try:
            lexical, meta = LexicalIndex.load(path)
            base, seen = int(meta["synced"]), int(meta["deletions_seen"])
        except (StoreCorrupted, KeyError, ValueError, TypeError) as exc:
            problems.append(f"{exc}; rebuilding it from SQLite")
            return None
        self._index_stored(lexical, namespace, base, up_to)  # pages written since the save
        with self._lock:
            self._know(
                self._conn.execute(
                    "SELECT seq, id FROM pages WHERE namespace = ? AND seq <= ?", (namespace, base)
                ).fetchall()
            )
            gone = self._conn.execute(
                "SELECT seq, terms FROM deletions WHERE id > ? AND namespace = ? AND seq <= ?", (seen, namespace, base)
            ).fetchall()
            for seq, terms in gone:  # pages deleted since the save
                lexical.remove(seq, terms.split())
                if seq < len(self._page_ids):
                    self._page_ids[seq] = None
        return lexical

    def _build_lexical(self, namespace: str, up_to: int) -> LexicalIndex:
        """The namespace's BM25 index, built from the terms stored with each page up to seq ``up_to``."""
        lexical = LexicalIndex()
        self._index_stored(lexical, namespace, 0, up_to)
        return lexical

    def _index_stored(self, lexical: LexicalIndex, namespace: str, after: int, up_to: int) -> None:
        """Add to ``lexical`` the namespace's stored pages with a seq in ``(after, up_to]``, in chunks."""
        while after < up_to:
            with self._lock:
                rows = self._conn.execute(
                    "SELECT seq, terms, id FROM pages WHERE namespace = ? AND seq > ? AND seq <= ?"
                    " ORDER BY seq LIMIT ?",
                    (namespace, after, up_to, _SCAN_CHUNK * 5),
                ).fetchall()
            lexical.add_many((seq, terms.split()) for seq, terms, _ in rows)
            with self._lock:
                self._know((seq, page_id) for seq, _, page_id in rows)
            if len(rows) < _SCAN_CHUNK * 5:
                return
            after = int(rows[-1][0])

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

    def _others_wrote(self) -> bool:
        """Whether another connection committed since the last look (SQLite's data_version)."""
        with self._lock:
            version = int(self._conn.execute("PRAGMA data_version").fetchone()[0])
        changed, self._data_version = version != self._data_version, version
        return changed

    def _catch_up_deletions(self) -> None:
        """Drop from the loaded indexes the pages other processes deleted since the last look."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, seq, namespace, terms FROM deletions WHERE id > ? ORDER BY id", (self._deletions_seen,)
            ).fetchall()
        if rows:
            known = self._page_ids
            self._unindex([(seq, ns, terms) for _, seq, ns, terms in rows if seq < len(known) and known[seq]])
            self._deletions_seen = int(rows[-1][0])

    def _sync(self, namespace: str, index: VectorIndex) -> None:
        """Index the pages other processes wrote since the last look, and drop those they deleted."""
        if self._others_wrote():
            self._stale.update(dict.fromkeys(self._indexes, True))
        if not self._stale.pop(namespace, False):
            return
        self._catch_up_deletions()
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, embedding, terms, id FROM pages WHERE namespace = ? AND seq > ? ORDER BY seq",
                (namespace, self._synced[namespace]),
            ).fetchall()
        if not rows:
            return
        own = self._added[namespace]
        fresh = [row for row in rows if row[0] not in own]
        if fresh:
            self._add_rows(index, [(seq, blob) for seq, blob, _, _ in fresh])
            self._lexical[namespace].add_many((seq, terms.split()) for seq, _, terms, _ in fresh)
            self._know((seq, page_id) for seq, _, _, page_id in fresh)
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
        hits: list[SearchHit] = []
        for namespace in namespaces:
            index = self._index_for(namespace)
            hits.extend(self._widen(partial(index.search, vector), k, len(index), extra, args))
        hits.sort(key=lambda hit: (-hit.score, hit.page_id))
        return hits[:k]

    # -- lifecycle -----------------------------------------------------------------------------

    def save_indexes(self) -> None:
        """Write every loaded FAISS and BM25 index atomically (each BM25 index after catching up with SQLite,
        so the file holds exactly the pages up to the seq it names)."""
        for namespace, index in self._indexes.items():
            self._save(namespace, index)
            self._save_lexical(namespace, index)
        self._unsaved = 0

    def _save_lexical(self, namespace: str, index: VectorIndex) -> None:
        self._stale[namespace] = True
        self._sync(namespace, index)
        meta = {"synced": self._synced[namespace], "deletions_seen": self._deletions_seen}
        self._lexical[namespace].save(self._lexical_path(namespace), meta)
        self._fresh_lexical.discard(namespace)

    def _start_checkpoint(self) -> None:
        """Copy the WAL into the database in a background thread (SQLite would do it on the writing thread,
        a few ms every thousand pages). A checkpoint still running is not doubled."""
        if self._checkpoint is not None and not self._checkpoint.done():
            return
        if self._checkpointer is None:
            self._checkpointer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nexint-checkpoint")
        self._since_checkpoint = 0
        self._checkpoint = self._checkpointer.submit(self._run_checkpoint)

    def _run_checkpoint(self) -> None:
        try:
            if self._checkpoint_conn is None:
                self._checkpoint_conn = sqlite3.connect(self.path / DB_NAME, check_same_thread=False, timeout=1.0)
            self._checkpoint_conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error:
            pass  # busy or interrupted: the next one catches up, and closing the store checkpoints too

    def close(self) -> None:
        """Flush events, save indexes, close the database."""
        if self._closed:
            return
        if self._loader is not None:
            self._loader.shutdown(wait=True, cancel_futures=True)
            self._loading.clear()
        if self._checkpointer is not None:
            self._checkpointer.shutdown(wait=True)
        if self._checkpoint_conn is not None:
            self._checkpoint_conn.close()
        self.flush()
        if self._unsaved:
            self.save_indexes()
        for namespace in list(self._fresh_lexical):
            if namespace in self._indexes:
                self._save_lexical(namespace, self._indexes[namespace])
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
