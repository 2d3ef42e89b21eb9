"""The persistent swap store: one directory, SQLite (WAL) as the source of truth, FAISS as a cache.

``nexint.db`` holds every page (content, metadata, embedding, index terms), the tier of each page not in
swap, the event log and the id counters. ``vectors/`` holds each namespace's FAISS and BM25 indexes
(:mod:`.sqlite_indexes`), which can always be rebuilt from SQLite.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import numpy.typing as npt

from nexint_core.embedders import (
    Embedder,
    EmbedderSpec,
    content_terms,
    embed_texts,
    make_embedder,
    recorded_embedder,
)
from nexint_core.errors import EmbedderMismatch, InvalidArgument, StoreCorrupted, StoreError, StoreReadOnly
from nexint_core.events import EventSink, PagingEvent
from nexint_core.pages import Page, Tier
from nexint_core.stores.base import SearchHit, query_terms
from nexint_core.stores.sql import (
    EVENT_COLUMNS,
    EVENT_FIELDS,
    PAGE_FIELDS,
    SqlStore,
    event_from_row,
    event_row,
    filter_sql,
    mean_of_sums,
    page_from_row,
    page_row,
    tier_changes,
)
from nexint_core.stores.sqlite_db import Database, is_busy, translate
from nexint_core.stores.sqlite_indexes import NamespaceIndexes, ns_token

__all__ = ["DB_NAME", "SCHEMA_VERSION", "SqliteSwapStore"]

# 2: no FTS5 table (BM25 runs in memory); 3: each namespace's vector sum (its centroid); 4: tiers in a table of
# their own, holding only the pages not in swap, and no index of events by page
SCHEMA_VERSION = 4
DB_NAME = "nexint.db"
_HEADER = b"SQLite format 3\x00"
_STORED = ("seq", *(field for field in PAGE_FIELDS if field != "tier"), "ns", "embedding", "terms")
_INSERT = f"INSERT INTO pages({', '.join(_STORED)}) VALUES ({', '.join(':' + column for column in _STORED)})"
_EVENT_ROW = ("namespace", *EVENT_FIELDS)
_EVENT_INSERT = f"INSERT INTO events({', '.join(_EVENT_ROW)}) VALUES {{values}}"
_DELETIONS = (
    "CREATE TABLE deletions (id INTEGER PRIMARY KEY AUTOINCREMENT, seq INTEGER NOT NULL, namespace TEXT NOT NULL,"
    "\n    terms TEXT NOT NULL)"
)
_CENTROIDS = "CREATE TABLE centroids (namespace TEXT PRIMARY KEY, total BLOB NOT NULL, count INTEGER NOT NULL)"
# A page's tier, when it is not swap. Most pages are in swap, so a page-in or page-out rewrites a row of this
# small table instead of the page's wide row (content, embedding) in a random place of a large one.
_TIERS = "CREATE TABLE tiers (seq INTEGER PRIMARY KEY, tier TEXT NOT NULL)"
_SWAP = Tier.SWAP.value
_TIER_OF = "COALESCE((SELECT tier FROM tiers WHERE tiers.seq = {table}.seq), '" + _SWAP + "')"
_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE pages (
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
    quarantined INTEGER NOT NULL,
    metadata TEXT NOT NULL,
    embedding BLOB,
    vaddr INTEGER NOT NULL DEFAULT -1,
    terms TEXT NOT NULL
)""",
    "CREATE INDEX pages_by_namespace ON pages(namespace, seq)",
    """CREATE TABLE events (
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
)""",
    "CREATE INDEX events_by_namespace ON events(namespace, event_seq)",
    "CREATE TABLE counters (kind TEXT PRIMARY KEY, last INTEGER NOT NULL)",
    _DELETIONS,
    _CENTROIDS,
    _TIERS,
)

_VERIFY_UP_TO = 256 * 1024 * 1024
_SCAN_CHUNK = 2_000
_CHECKPOINT_EVERY = 200  # pages written between background WAL checkpoints (about SQLite's 1,000 WAL frames)


class SqliteSwapStore(SqlStore):
    """A store directory that survives restarts and ``kill -9`` and can be shared by processes.

    Pages are copied into SQLite, so a manager may release the content of pages it swaps out
    (:attr:`keeps_copies`).

    ``durability="process"`` (default) survives any process crash; ``"power"`` also fsyncs each
    commit so it survives power loss, at a cost in write throughput. ``verify`` runs SQLite's
    ``quick_check`` on open (default: for databases up to 256 MiB); damage found then, or by any
    later read, raises :class:`StoreCorrupted` and nothing is written.

    ``read_only=True`` opens an existing store for reading (a read-only mount, a backup, a snapshot)
    without writing any file (see :func:`_connect_read_only`): searches and reads work, indexes missing on
    disk are built in memory only, writes raise :class:`StoreReadOnly`, and a manager on it records nothing.
    A store whose ``nexint.db`` is missing or empty beside index files is refused as damaged, never created
    anew.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        embedder: EmbedderSpec | None = None,
        create: bool = True,
        durability: str = "process",
        index_kind: str = "auto",
        save_every: int = 20_000,
        verify: bool | None = None,
        read_only: bool = False,
    ) -> None:
        if durability not in ("process", "power"):
            raise InvalidArgument(f"durability must be 'process' or 'power', got {durability!r}")
        super().__init__()
        self.path = Path(path)
        self.read_only = read_only
        self._checkpointer: ThreadPoolExecutor | None = None  # WAL checkpoints, off the writing thread
        self._checkpoint: Future[None] | None = None
        self._checkpoint_conn: sqlite3.Connection | None = None
        self._since_checkpoint = 0
        self._closed = False
        self._tier_of = _TIER_OF  # a read-only open of a schema 3 store reads the tier column it still has
        if self.path.exists() and not self.path.is_dir():
            raise StoreError(f"store path {self.path} is a file, not a directory")
        db = self.path / DB_NAME
        existing = db.is_file() and db.stat().st_size > 0
        if existing:
            with open(db, "rb") as handle:
                if handle.read(16) != _HEADER:
                    raise StoreCorrupted(f"{db} is not a SQLite database; nothing was changed")
        else:
            _refuse_orphaned_indexes(self.path, db)
            if read_only or not create:
                raise StoreError(f"no store at {self.path} (expected {db})")
        if read_only:
            raw = _connect_read_only(db)
        else:
            _check_writable(self.path, db)
            try:
                self.path.mkdir(parents=True, exist_ok=True)
                raw = sqlite3.connect(db, isolation_level=None, check_same_thread=False, timeout=30.0)
            except (OSError, sqlite3.Error) as exc:
                raise StoreError(f"cannot open {db}: {exc}") from None
        self._conn = Database(raw, db)
        self._lock = self._conn.lock
        try:
            self._conn.execute("PRAGMA busy_timeout=30000")
            if not read_only:
                self._enable_wal()
                self._conn.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints run in the background instead
                self._conn.execute(f"PRAGMA synchronous={'FULL' if durability == 'power' else 'NORMAL'}")
            # 16 MiB: the page ids index and the tiers table stay hot; contents are read a few at a time
            self._conn.execute("PRAGMA cache_size=-16384")
            self.embedder = self._embedder_for(embedder)
            if not read_only:
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
        if not read_only:
            vectors.mkdir(exist_ok=True)
            for leftover in vectors.glob(".*.tmp"):  # an index save interrupted by a crash
                leftover.unlink(missing_ok=True)
        self._indexes = NamespaceIndexes(
            self._conn, vectors, self.embedder.dim, index_kind=index_kind, save_every=save_every, read_only=read_only
        )

    def _enable_wal(self) -> None:
        """Switch to WAL. It needs an exclusive lock, and SQLite answers a concurrent first open with
        SQLITE_BUSY at once instead of waiting on the busy timeout, so retry for up to 30 s."""
        deadline = time.monotonic() + 30.0
        while True:
            try:
                self._conn.execute("PRAGMA journal_mode=WAL")
                return
            except StoreError as exc:
                if not is_busy(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    # -- schema --------------------------------------------------------------------------------

    def _embedder_for(self, given: EmbedderSpec | None) -> Embedder:
        """The embedder given, else the one the store recorded, else (a new store) the default."""
        if given is not None:
            return make_embedder(given)
        has_meta = self._conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'meta'").fetchone()[0]
        meta = dict(self._conn.execute("SELECT key, value FROM meta").fetchall()) if has_meta else {}
        if "embedder" not in meta:
            return make_embedder(None)
        known = recorded_embedder(meta["embedder"], int(meta.get("dim", "0")))
        if known is None:
            raise EmbedderMismatch(
                f"store {self.path} was built with embedder {meta['embedder']} (dim {meta.get('dim')}), which "
                "nexint cannot make by itself: pass that embedder (embedder=...)"
            )
        return known

    def _create_if_missing(self) -> None:
        with self._conn.transaction() as conn:
            if conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'meta'").fetchone()[0]:
                return  # created before, possibly by another process a moment ago
            for statement in _SCHEMA:
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
        if not self._conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'meta'").fetchone()[0]:
            raise StoreError(f"{self.path / DB_NAME} is a SQLite database, but not a nexint store")
        meta = dict(self._conn.execute("SELECT key, value FROM meta").fetchall())
        version = int(meta.get("schema_version", "0"))
        if version in (1, 2) and self.read_only:
            raise StoreReadOnly(
                f"store {self.path} has schema version {version}, which is upgraded in place on a writable "
                "open; open it writable once"
            )
        if version in (1, 2, 3) and not self.read_only:
            with self._conn.transaction() as conn:  # the version read again under the lock: another process
                found = int(conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
                if found < SCHEMA_VERSION:  # may have upgraded it a moment ago
                    self._upgrade(conn, found, int(meta.get("dim", "0")))
            version = SCHEMA_VERSION
        if version == 3:  # read-only: read the tier column the page rows still have
            self._tier_of = "{table}.tier"
        elif version != SCHEMA_VERSION:
            raise StoreError(f"store {self.path} has schema version {version}; this nexint reads {SCHEMA_VERSION}")
        if meta.get("embedder") != self.embedder.name or int(meta.get("dim", "0")) != self.embedder.dim:
            raise EmbedderMismatch(
                f"store {self.path} was built with embedder {meta.get('embedder')} (dim {meta.get('dim')}), "
                f"but {self.embedder.name} (dim {self.embedder.dim}) was given; open it with the same embedder, or "
                f"re-embed it first: memos reindex --store {self.path} --embedder NAME"
            )

    @staticmethod
    def _upgrade(conn: Database, version: int, dim: int) -> None:
        """Bring a store of an older schema to this one, in the caller's transaction."""
        if version == 1:  # BM25 moved from FTS5 into memory
            conn.execute("DROP TABLE IF EXISTS pages_fts")
            conn.execute(_DELETIONS.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1))
        if version <= 2:  # the vector sum of each namespace, from the stored embeddings
            conn.execute(_CENTROIDS.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1))
            namespaces = [row[0] for row in conn.execute("SELECT DISTINCT namespace FROM pages").fetchall()]
            for namespace in namespaces:
                total, count = np.zeros(dim, dtype=np.float64), 0
                for (blob,) in conn.execute("SELECT embedding FROM pages WHERE namespace = ?", (namespace,)):
                    total += np.frombuffer(blob, dtype=np.float16)
                    count += 1
                conn.execute("INSERT OR REPLACE INTO centroids VALUES (?, ?, ?)", (namespace, total.tobytes(), count))
        if version <= 3:  # tiers out of the page rows, and no index of events by page (nothing reads one)
            conn.execute(_TIERS)
            conn.execute(f"INSERT INTO tiers(seq, tier) SELECT seq, tier FROM pages WHERE tier != '{_SWAP}'")
            conn.execute("ALTER TABLE pages DROP COLUMN tier")
            conn.execute("DROP INDEX IF EXISTS events_by_memory")
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))

    # -- writes --------------------------------------------------------------------------------

    def _write_events(self, conn: Database, pending: Sequence[tuple[str, PagingEvent]]) -> None:
        if not pending:
            return
        rows = [event_row(namespace, event) for namespace, event in pending]
        conn.execute_values(_EVENT_INSERT, [[row[column] for column in _EVENT_ROW] for row in rows])
        changes = tier_changes(pending).items()
        # A manager's view of tiers is persisted for its own namespace only (shared pages are per reader).
        swapped = [key for key, (tier, _) in changes if tier == _SWAP]
        placed = [(tier, *key) for key, (tier, _) in changes if tier is not None and tier != _SWAP]
        flagged = [(int(flag), *key) for key, (_, flag) in changes if flag is not None]
        if swapped:
            conn.executemany(
                "DELETE FROM tiers WHERE seq = (SELECT seq FROM pages WHERE id = ? AND namespace = ?)", swapped
            )
        if placed:
            conn.executemany(
                "INSERT INTO tiers(seq, tier) SELECT seq, ? FROM pages WHERE id = ? AND namespace = ?"
                " ON CONFLICT(seq) DO UPDATE SET tier = excluded.tier",
                placed,
            )
        if flagged:
            conn.executemany("UPDATE pages SET quarantined = ? WHERE id = ? AND namespace = ?", flagged)

    def _refuse_write(self, what: str) -> None:
        if self.read_only:
            raise StoreReadOnly(f"store {self.path} is open read-only: cannot {what}")

    def put(self, pages: Sequence[Page]) -> None:
        self._refuse_write("store pages")
        if not pages:
            return
        pages = list({page.id: page for page in pages}.values())  # a page given twice is stored once, as last given
        terms = [content_terms(page.content) for page in pages]
        vectors = embed_texts(self.embedder, [page.content for page in pages], terms)
        blobs = vectors.astype(np.float16)
        rows: list[dict[str, Any]] = []
        for page, blob, words in zip(pages, blobs, terms, strict=True):
            row = page_row(page)
            row.update(seq=0, ns=ns_token(row["namespace"]), embedding=blob.tobytes(), terms=" ".join(words))
            rows.append(row)  # seq is assigned under the write lock below
        with self._lock, self._buffer.batch() as pending, self._conn.transaction() as conn:
            self._write_events(conn, pending)
            last = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'pages'").fetchone()
            first = (int(last[0]) if last is not None else 0) + 1
            for offset, row in enumerate(rows):
                row["seq"] = first + offset
            inserted = conn.executemany(_INSERT + " ON CONFLICT(id) DO NOTHING", rows)
            replaced = self._overwrite(conn, rows) if inserted != len(rows) else []
            conn.executemany(  # every row is stored now, under the seq assigned above
                "INSERT INTO tiers(seq, tier) VALUES (?, ?)",
                [(row["seq"], row["tier"]) for row in rows if row["tier"] != _SWAP],
            )
            self._add_to_centroids(conn, [(str(row["namespace"]), blob) for row, blob in zip(rows, blobs, strict=True)])
        written = [(int(row["seq"]), str(row["id"]), str(row["namespace"]), str(row["terms"])) for row in rows]
        self._indexes.written(written, vectors, replaced)
        self._since_checkpoint += len(pages)
        if self._since_checkpoint >= _CHECKPOINT_EVERY:
            self._start_checkpoint()
        self._indexes.save_if_due()

    def delete(self, page_ids: Sequence[str]) -> None:
        self._refuse_write("delete pages")
        if not page_ids:
            return
        with self._lock, self._buffer.batch() as pending, self._conn.transaction() as conn:
            self._write_events(conn, pending)
            gone = [row for row in (self._delete_row(conn, page_id) for page_id in page_ids) if row is not None]
        self._indexes.unindex(gone)

    def _overwrite(self, conn: Database, rows: list[dict[str, Any]]) -> list[tuple[int, str, str]]:
        """Replace the stored pages whose ids some of ``rows`` reuse; returns the rows deleted.

        An overwrite gets a fresh seq: FAISS cannot replace a vector in place.
        """
        assigned = {row["id"]: row for row in rows}
        stale: list[dict[str, Any]] = []
        for start in range(0, len(rows), 500):
            chunk = [row["id"] for row in rows[start : start + 500]]
            found = conn.execute(f"SELECT id, seq FROM pages WHERE id IN ({', '.join('?' * len(chunk))})", chunk)
            stale.extend(assigned[page_id] for page_id, seq in found.fetchall() if seq != assigned[page_id]["seq"])
        replaced = [old for old in (self._delete_row(conn, row["id"]) for row in stale) if old is not None]
        conn.executemany(_INSERT, stale)
        return replaced

    def _delete_row(self, conn: Database, page_id: str) -> tuple[int, str, str] | None:
        """Delete a page, logging it so other processes drop it from their in-memory indexes."""
        row = conn.execute(
            "DELETE FROM pages WHERE id = ? RETURNING seq, namespace, terms, embedding", (page_id,)
        ).fetchone()
        if row is None:
            return None
        conn.execute("INSERT INTO deletions(seq, namespace, terms) VALUES (?, ?, ?)", row[:3])
        conn.execute("DELETE FROM tiers WHERE seq = ?", row[:1])
        if row[3] is not None:
            self._add_to_centroids(conn, [(str(row[1]), np.frombuffer(row[3], dtype=np.float16))], sign=-1)
        return int(row[0]), str(row[1]), str(row[2])

    def _add_to_centroids(
        self, conn: Database, vectors: Sequence[tuple[str, npt.NDArray[np.float16]]], *, sign: int = 1
    ) -> None:
        """Add (or, with ``sign=-1``, take away) stored vectors to their namespaces' sums, in this transaction."""
        sums: dict[str, tuple[npt.NDArray[np.float64], int]] = {}
        for namespace, vector in vectors:
            total, count = sums.get(namespace, (np.zeros(self.embedder.dim, dtype=np.float64), 0))
            sums[namespace] = (total + sign * vector.astype(np.float64), count + sign)
        for namespace, (change, count) in sums.items():
            held = conn.execute("SELECT total, count FROM centroids WHERE namespace = ?", (namespace,)).fetchone()
            total = np.frombuffer(held[0], dtype=np.float64) + change if held is not None else change
            conn.execute(  # an upsert rewrites the row in place; a replace would also rewrite its key's index
                "INSERT INTO centroids VALUES (?, ?, ?)"
                " ON CONFLICT(namespace) DO UPDATE SET total = excluded.total, count = excluded.count",
                (namespace, total.tobytes(), (int(held[1]) if held is not None else 0) + count),
            )

    def vector_centroid(self, namespaces: Sequence[str]) -> npt.NDArray[np.float32] | None:
        """The mean stored vector of ``namespaces`` (kept with every write, so every process agrees)."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT total, count FROM centroids WHERE namespace IN ({', '.join('?' * len(namespaces))})",
                list(namespaces),
            ).fetchall()
        return mean_of_sums([(np.frombuffer(row[0], dtype=np.float64), int(row[1])) for row in rows])

    def event_sink(self, namespace: str) -> EventSink | None:
        """A sink for one manager's events, written with the next transaction; none on a read-only store,
        which keeps no log of what its readers do."""
        return None if self.read_only else super().event_sink(namespace)

    def flush(self) -> None:
        """Write buffered events (and the tier changes they carry) now."""
        if self.pending_events:
            with self._lock, self._buffer.batch() as pending, self._conn.transaction() as conn:
                self._write_events(conn, pending)

    def reserve_ids(self, kind: str, count: int, at_least: int) -> int:
        """Reserve ``count`` ids of ``kind`` no process has used; returns the first number."""
        self._refuse_write("reserve ids")
        with self._conn.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO counters(kind, last) VALUES (?, 0)", (kind,))
            last = conn.execute(
                "UPDATE counters SET last = max(last, ?) + ? WHERE kind = ? RETURNING last",
                (at_least - 1, count, kind),
            ).fetchone()[0]
        return int(last) - count + 1

    # -- reads ---------------------------------------------------------------------------------

    def get(self, page_id: str) -> Page | None:
        with self._lock:
            row = self._conn.execute(self._select_pages("id = ?"), (page_id,), named=True).fetchone()
        return page_from_row(row) if row is not None else None

    def _select_pages(self, condition: str) -> str:
        """A query of the columns :data:`PAGE_FIELDS` names (and ``seq``) of the pages meeting ``condition``."""
        tier = self._tier_of.format(table="pages")
        columns = ", ".join(f"{tier} AS tier" if field == "tier" else field for field in PAGE_FIELDS)
        return f"SELECT {columns}, seq FROM pages WHERE {condition}"

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

    def scan(self, namespaces: Sequence[str] | None = None) -> Iterator[Page]:
        """Pages in write order, read in chunks so a large archive never sits in memory at once."""
        where = "" if namespaces is None else f" AND namespace IN ({', '.join('?' * len(namespaces))})"
        args: list[object] = [] if namespaces is None else list(namespaces)
        last = 0
        while True:
            with self._lock:
                rows = self._conn.execute(
                    self._select_pages(f"seq > ?{where} ORDER BY seq LIMIT {_SCAN_CHUNK}"), [last, *args], named=True
                ).fetchall()
            for row in rows:
                yield page_from_row(row)
            if len(rows) < _SCAN_CHUNK:
                return
            last = int(rows[-1]["seq"])

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
            rows = self._conn.execute(sql + " ORDER BY seq", args, named=True).fetchall()
        return [event_from_row(row) for row in rows]

    # -- search --------------------------------------------------------------------------------

    def search_text(
        self, query: str, *, namespaces: Sequence[str], k: int = 20, where: Mapping[str, object] | None = None
    ) -> list[SearchHit]:
        extra, args = filter_sql(where, "IS ?", {"tier": self._tier_of.format(table="p")})
        terms = query_terms(query)
        if not terms or k <= 0:
            return []
        hits = self._indexes.search_text(terms, namespaces, k, extra, args)
        hits.sort(key=lambda hit: (-hit.score, hit.page_id))
        return hits[:k]

    def text_weight(self, query: str, *, namespaces: Sequence[str]) -> float:
        return self._indexes.text_weight(query_terms(query), namespaces)

    def search_vector(
        self,
        vector: npt.NDArray[np.float32],
        *,
        namespaces: Sequence[str],
        k: int = 20,
        where: Mapping[str, object] | None = None,
    ) -> list[SearchHit]:
        extra, args = filter_sql(where, "IS ?", {"tier": self._tier_of.format(table="p")})
        hits = self._indexes.search_vector(vector, namespaces, k, extra, args)
        hits.sort(key=lambda hit: (-hit.score, hit.page_id))
        return hits[:k]

    def build_indexes(self) -> None:
        """Load (or rebuild from SQLite) every namespace's FAISS and BM25 indexes now, and save them."""
        self._refuse_write("save its indexes")
        with self._lock:
            namespaces = [str(row[0]) for row in self._conn.execute("SELECT DISTINCT namespace FROM pages")]
            for namespace in namespaces:
                self._indexes.index_for(namespace)
            self._indexes.save()

    def preload(self, namespaces: Sequence[str]) -> None:
        """Start loading these namespaces' FAISS indexes in a background thread.

        A large index takes seconds to read; a manager asks for this when it opens, so the first
        search rarely has to wait. A search that does need an index still loading waits for it.
        """
        with self._lock:
            if not self._closed:
                self._indexes.preload(namespaces)

    # -- lifecycle -----------------------------------------------------------------------------

    def save_indexes(self) -> None:
        """Write every loaded FAISS and BM25 index atomically (each BM25 index after catching up with SQLite,
        so the file holds exactly the pages up to the seq it names)."""
        self._refuse_write("save its indexes")
        self._indexes.save()

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
        """Flush events, save indexes, close the database (a read-only store only closes it)."""
        if self._closed:
            return
        self._indexes.stop_loading()
        if self.read_only:
            self._conn.close()
            self._closed = True
            return
        if self._checkpointer is not None:
            self._checkpointer.shutdown(wait=True)
        if self._checkpoint_conn is not None:
            self._checkpoint_conn.close()
        self.flush()
        self._indexes.save_on_close()
        self._conn.close()
        self._closed = True

    def __repr__(self) -> str:
        read_only = ", read_only=True" if self.read_only else ""
        return f"SqliteSwapStore({str(self.path)!r}, embedder={self.embedder.name!r}{read_only})"


def _refuse_orphaned_indexes(path: Path, db: Path) -> None:
    """Raise :class:`StoreCorrupted` when ``db`` is missing or empty but ``path`` holds a store's index files:
    that is a store whose database was lost, never a new store to create over its remains."""
    vectors = path / "vectors"
    found = sorted(p.name for p in vectors.glob("*") if p.suffix in (".faiss", ".lex")) if vectors.is_dir() else []
    if found:
        state = "empty" if db.exists() else "missing"
        more = f" and {len(found) - 3} more" if len(found) > 3 else ""
        raise StoreCorrupted(
            f"store {path} is damaged: {db.name} is {state} but {vectors} holds index files "
            f"({', '.join(found[:3])}{more}); nothing was changed (restore {db.name} from a backup, "
            "or move the directory away to start a new store)"
        )


def _check_writable(path: Path, db: Path) -> None:
    """Raise :class:`StoreReadOnly` when an existing store cannot be written (a read-only mount, a snapshot,
    files without write permission): it can still be opened with ``read_only=True``."""
    if not path.is_dir():
        return  # created by the open, or refused by it with the reason
    files = [path, db, *_wal_files(db)]
    unwritable = [f for f in files if _unwritable(f)]
    if unwritable:
        raise StoreReadOnly(
            f"store {path} cannot be written ({unwritable[0]} is read-only); open it with read_only=True to read it"
        )


def _unwritable(path: Path) -> bool:
    """Whether ``path`` exists and this process may not write it. os.access says no for a file that is not
    there, and other processes create and remove their write-ahead log at any moment: a "no" counts only for a
    file that is there both before and after it is asked again."""
    for _ in range(3):
        if os.access(path, os.W_OK):
            return False
        if not path.exists():
            return False  # not there: nothing to refuse
        if not os.access(path, os.W_OK) and path.exists():
            return True
    return False


def _wal_files(db: Path) -> tuple[Path, Path]:
    return db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")


def _connect_read_only(db: Path) -> sqlite3.Connection:
    """A read-only connection to ``db``: it never writes the store, nor creates a file beside it but the ``-shm``
    file a copy's unfolded write-ahead log needs.

    A store a writer has open (its ``-wal`` and ``-shm`` files exist) is opened with ``mode=ro``: SQLite's shared
    locks, every commit seen. A closed store (no write-ahead log, or an empty one) is opened ``immutable=1``:
    ``mode=ro`` would have to create the ``-shm`` file, which a read-only directory refuses; immutable reads
    take no locks and look for no change, so a store read that way must not be written meanwhile. A
    write-ahead log with commits but no ``-shm`` file is read with ``mode=ro`` if the directory lets SQLite
    create it, and refused otherwise (an immutable read would miss those commits).
    """
    wal, shm = _wal_files(db)
    logged = wal.exists() and wal.stat().st_size > 0
    options = "mode=ro" if shm.exists() or logged else "immutable=1"
    uri = f"file:{quote(str(db.resolve()))}?{options}"
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False, timeout=30.0)
    except sqlite3.Error as exc:
        raise translate(exc, db) from None
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # opens the file, and its log
    except sqlite3.Error as exc:
        conn.close()
        if logged and not shm.exists():
            raise StoreError(
                f"cannot open store {db.parent} read-only: {wal.name} holds commits not yet in {db.name}, and "
                f"{shm.name}, which reading them needs, cannot be created in a read-only directory; open the "
                "store once where it can be written (or a copy of it) to fold the log in"
            ) from None
        raise translate(exc, db) from None
    return conn
