"""The PostgreSQL + pgvector swap store: one archive shared by many agent processes and hosts.

Pages, the page table (each page's tier), the event log and id counters live in tables with a versioned
schema. BM25 runs in SQL over each page's stemmed terms (a ``tsvector`` with a GIN index finds the pages
holding a query term), with the embedded store's formula, term selection and tie order, so both stores
rank the same pages the same way; vectors are pgvector columns searched exactly up to
:data:`EXACT_UP_TO` pages per namespace and through an HNSW index beyond. Every query filters on the
namespace, and row-level security keeps a role granted some namespaces (:meth:`grant`) from reading
any other's rows, even through raw SQL.

Writes are transactions with idempotent retries: a page is written with ``ON CONFLICT`` on its id,
so a retry after a lost acknowledgement stores it once; ids come from a counter row updated
atomically, so processes never collide. A server that is down or restarting raises
:class:`StoreUnavailable` after ``retry_for`` seconds of retrying; the pool reconnects by itself once
the server is back.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

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
from nexint_core.errors import (
    EmbedderMismatch,
    InvalidArgument,
    NamespaceViolation,
    NexintError,
    StoreCorrupted,
    StoreError,
    StoreUnavailable,
)
from nexint_core.events import PagingEvent
from nexint_core.lexical import POSTING_BUDGET, LexicalIndex
from nexint_core.pages import Page
from nexint_core.stores.base import SearchHit, query_terms
from nexint_core.stores.sql import (
    EVENT_COLUMNS,
    EVENT_FIELDS,
    PAGE_COLUMNS,
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

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

__all__ = ["EXACT_UP_TO", "SCHEMA_VERSION", "PostgresSwapStore", "migrate"]

SCHEMA_VERSION = 4
EXACT_UP_TO = 50_000  # pages per namespace searched exactly (as the embedded store's flat index), HNSW beyond
HNSW_BUILD_MEMORY = "2GB"  # maintenance_work_mem for the one HNSW build (about 1.5 KB per 256-d vector)
_HNSW = "CREATE INDEX IF NOT EXISTS nexint_pages_vectors ON nexint_pages USING hnsw (embedding vector_ip_ops)"
_SHARDS = 16  # per-namespace statistics rows, so concurrent writers rarely wait on one another
_DAMAGED = ("XX001", "XX002")  # data_corrupted, index_corrupted
_INSUFFICIENT_PRIVILEGE = "42501"  # row-level security refused a row
_UNIQUE_VIOLATION = "23505"
_PAGE_INSERT = (
    f"INSERT INTO nexint_pages ({PAGE_COLUMNS}, terms, tf, doc_len, embedding)"
    f" VALUES ({', '.join(f'%({column})s' for column in PAGE_FIELDS)},"
    " %(terms)s, %(tf)s, %(doc_len)s, %(embedding)s::vector)"
)
_EVENT_INSERT = (
    f"INSERT INTO nexint_events (namespace, {EVENT_COLUMNS}, batch, ordinal)"
    f" VALUES (%(namespace)s, {', '.join(f'%({column})s' for column in EVENT_FIELDS)}, %(batch)s, %(ordinal)s)"
    " ON CONFLICT (batch, ordinal) DO NOTHING"
)
_T = TypeVar("_T")
logging.getLogger("psycopg.pool").addHandler(logging.NullHandler())  # the pool's retries are ours to report


# Forward migrations: _MIGRATIONS[n] takes a schema at version n to n + 1. Never edit one that shipped.
_MIGRATIONS: list[str] = [
    # 0 -> 1: pages, events, counters, per-namespace statistics.
    """
    CREATE EXTENSION IF NOT EXISTS vector;
    CREATE TABLE nexint_pages (
        seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        id text PRIMARY KEY,
        namespace text NOT NULL,
        content text NOT NULL,
        tokens integer NOT NULL,
        role text NOT NULL,
        importance double precision NOT NULL,
        frame_id text,
        group_id text,
        part integer NOT NULL,
        created double precision,
        last_used double precision,
        use_count integer NOT NULL,
        tier text NOT NULL,
        quarantined boolean NOT NULL,
        metadata jsonb NOT NULL,
        vaddr bigint NOT NULL,
        terms text[] NOT NULL,
        tf jsonb NOT NULL,
        doc_len integer NOT NULL,
        tsv tsvector GENERATED ALWAYS AS (array_to_tsvector(terms)) STORED,
        embedding vector({dim}) NOT NULL
    ) WITH (fillfactor = 70);
    ALTER TABLE nexint_pages ALTER COLUMN embedding SET STORAGE PLAIN;
    CREATE INDEX nexint_pages_by_namespace ON nexint_pages (namespace, seq);
    CREATE INDEX nexint_pages_terms ON nexint_pages USING gin (tsv);
    CREATE TABLE nexint_events (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        namespace text NOT NULL,
        event_seq bigint NOT NULL,
        time double precision NOT NULL,
        memory_id text NOT NULL,
        action text NOT NULL,
        reason text NOT NULL,
        tier_from text,
        tier_to text,
        tokens integer NOT NULL,
        policy text NOT NULL
    );
    CREATE INDEX nexint_events_by_namespace ON nexint_events (namespace, event_seq);
    CREATE INDEX nexint_events_by_memory ON nexint_events (memory_id);
    CREATE TABLE nexint_counters (kind text PRIMARY KEY, last bigint NOT NULL);
    CREATE TABLE nexint_stats (
        namespace text NOT NULL,
        shard integer NOT NULL,
        docs bigint NOT NULL,
        total_length bigint NOT NULL,
        PRIMARY KEY (namespace, shard)
    );
    """,
    # 1 -> 2: row-level security by namespace grants.
    """
    CREATE TABLE nexint_grants (grantee name NOT NULL, namespace text NOT NULL, PRIMARY KEY (grantee, namespace));
    ALTER TABLE nexint_pages ENABLE ROW LEVEL SECURITY;
    ALTER TABLE nexint_events ENABLE ROW LEVEL SECURITY;
    ALTER TABLE nexint_stats ENABLE ROW LEVEL SECURITY;
    CREATE POLICY nexint_by_namespace ON nexint_pages
        USING (namespace IN (SELECT g.namespace FROM nexint_grants g WHERE g.grantee = current_user));
    CREATE POLICY nexint_by_namespace ON nexint_events
        USING (namespace IN (SELECT g.namespace FROM nexint_grants g WHERE g.grantee = current_user));
    CREATE POLICY nexint_by_namespace ON nexint_stats
        USING (namespace IN (SELECT g.namespace FROM nexint_grants g WHERE g.grantee = current_user));
    """,
    # 2 -> 3: events carry the write that logged them, so a retried write cannot log them twice.
    """
    ALTER TABLE nexint_events ADD COLUMN batch uuid, ADD COLUMN ordinal integer;
    CREATE UNIQUE INDEX nexint_events_once ON nexint_events (batch, ordinal);
    """,
    # 3 -> 4: each namespace's vector sum (its centroid, which page-in takes off the query), sharded as the stats.
    """
    CREATE TABLE nexint_centroids (
        namespace text NOT NULL,
        shard integer NOT NULL,
        total float8[] NOT NULL,
        count bigint NOT NULL,
        PRIMARY KEY (namespace, shard)
    );
    ALTER TABLE nexint_centroids ENABLE ROW LEVEL SECURITY;
    CREATE POLICY nexint_by_namespace ON nexint_centroids
        USING (namespace IN (SELECT g.namespace FROM nexint_grants g WHERE g.grantee = current_user));
    INSERT INTO nexint_centroids
        SELECT namespace, 0, sum(embedding)::real[]::float8[], count(*) FROM nexint_pages GROUP BY namespace;
    """,
]
assert len(_MIGRATIONS) == SCHEMA_VERSION


def _vector_text(vector: npt.NDArray[np.float32]) -> str:
    return "[" + ",".join(repr(float(x)) for x in vector) + "]"


def _tsquery(terms: Sequence[str]) -> str:
    return " | ".join("'" + term.replace("'", "''").replace("\\", "\\\\") + "'" for term in terms)


def _shard(page_id: str) -> int:
    return zlib.crc32(page_id.encode("utf-8")) % _SHARDS


class PostgresSwapStore(SqlStore):
    """A :class:`~nexint_core.stores.SwapStore` in PostgreSQL with pgvector.

    ``dsn`` is a libpq URI (``postgresql://user@host/db``). ``pool_size`` connections are shared by
    this process's threads. ``retry_for`` bounds how long an operation retries while the server is
    unreachable before raising :class:`~nexint_core.errors.StoreUnavailable`.
    """

    def __init__(
        self,
        dsn: str,
        *,
        embedder: EmbedderSpec | None = None,
        pool_size: int = 4,
        retry_for: float = 30.0,
        create: bool = True,
    ) -> None:
        try:
            import psycopg  # noqa: F401  (checked here, used below)
            from psycopg_pool import ConnectionPool
        except ImportError:  # pragma: no cover - the extra is installed in development
            raise StoreError("the PostgreSQL store needs psycopg: pip install 'nexint[postgres]'") from None
        if pool_size < 1:
            raise InvalidArgument(f"pool_size must be at least 1, got {pool_size}")
        super().__init__()
        self.dsn = dsn
        self.embedder: Embedder = make_embedder(embedder)
        self._given_embedder = embedder is not None
        self.retry_for = retry_for
        self._closed = False
        self._hnsw = False
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            dsn,
            min_size=1,
            max_size=pool_size,
            open=False,
            check=ConnectionPool.check_connection,
            kwargs={"connect_timeout": 5},
            reconnect_timeout=max(retry_for, 1.0),
        )
        self._first_connection()
        try:
            self._pool.open(wait=True, timeout=max(retry_for, 1.0))
        except Exception as exc:
            self._pool.close()
            raise StoreUnavailable(f"cannot reach the PostgreSQL server at {_redacted(dsn)}: {exc}") from None
        try:
            self._run(lambda conn: self._prepare(conn, create))
        except BaseException:
            self._pool.close()
            raise

    # -- connections, retries, schema ---------------------------------------------------------------

    def _first_connection(self) -> None:
        """Connect once before the pool does: a server that answers with an error (no such database,
        authentication failed) fails at once; one that does not answer is retried for ``retry_for``."""
        import psycopg

        for last in _attempts(self.retry_for):
            try:
                psycopg.connect(self.dsn, connect_timeout=5).close()
                return
            except psycopg.OperationalError as exc:
                if exc.sqlstate is not None or _refuses(self.dsn):
                    raise StoreError(
                        f"cannot open the PostgreSQL store at {_redacted(self.dsn)}: {_first_line(exc)}"
                    ) from None
                if last:
                    raise StoreUnavailable(
                        f"PostgreSQL at {_redacted(self.dsn)} is unavailable: {_first_line(exc)}"
                    ) from None

    def _run(self, work: Callable[[psycopg.Connection[Any]], _T]) -> _T:
        """Run ``work`` in one transaction, retrying while the server is unreachable."""
        import psycopg
        from psycopg_pool import PoolTimeout

        if self._closed:
            raise StoreError("the store is closed")
        for last in _attempts(self.retry_for):
            try:
                with self._pool.connection(timeout=max(self.retry_for, 1.0)) as conn, conn.transaction():
                    return work(conn)
            except PoolTimeout as exc:
                if last:
                    raise StoreUnavailable(f"PostgreSQL at {_redacted(self.dsn)} is unavailable: {exc}") from None
            except psycopg.Error as exc:
                error = _translate(exc, self.dsn)
                if error is not None:
                    raise error from None
                if last:
                    raise _given_up(exc, self.dsn) from None
        raise AssertionError("unreachable: _attempts never ends")  # pragma: no cover

    def _prepare(self, conn: psycopg.Connection[Any], create: bool) -> None:
        """Create or upgrade the schema (one process at a time), then check the embedder."""
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('nexint-schema'))")
        exists = conn.execute("SELECT to_regclass('nexint_meta') IS NOT NULL").fetchone()
        if not (exists and exists[0]):
            if not create:
                raise StoreError(f"no nexint store in {_redacted(self.dsn)}")
            conn.execute("CREATE TABLE nexint_meta (key text PRIMARY KEY, value text NOT NULL)")
            conn.execute(
                "INSERT INTO nexint_meta VALUES ('schema_version', '0'), ('embedder', %s), ('dim', %s)",
                (self.embedder.name, str(self.embedder.dim)),
            )
        meta = dict(conn.execute("SELECT key, value FROM nexint_meta").fetchall())
        version = int(meta["schema_version"])
        if not self._given_embedder:  # the embedder the store recorded
            known = recorded_embedder(meta["embedder"], int(meta["dim"]))
            if known is None:
                raise EmbedderMismatch(
                    f"the store was built with embedder {meta['embedder']} ({meta['dim']} dimensions), which "
                    "nexint cannot make by itself: pass that embedder (embedder=...)"
                )
            self.embedder = known
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the store at {_redacted(self.dsn)} has schema {version}, newer than this nexint's "
                f"{SCHEMA_VERSION}: upgrade nexint"
            )
        if meta["embedder"] != self.embedder.name or int(meta["dim"]) != self.embedder.dim:
            raise EmbedderMismatch(
                f"the store was built with embedder {meta['embedder']} ({meta['dim']} dimensions), "
                f"not {self.embedder.name} ({self.embedder.dim})"
            )
        migrate(conn, version, SCHEMA_VERSION, int(meta["dim"]))

    # -- writes -------------------------------------------------------------------------------------

    def _write_events(
        self, conn: psycopg.Connection[Any], pending: Sequence[tuple[str, PagingEvent]], batch: uuid.UUID
    ) -> None:
        """Insert the events (once: a retry of the same ``batch`` finds them there) and the tier changes."""
        if not pending:
            return
        with conn.cursor() as cur:
            cur.executemany(
                _EVENT_INSERT,
                [
                    {**event_row(namespace, event), "batch": batch, "ordinal": ordinal}
                    for ordinal, (namespace, event) in enumerate(pending)
                ],
            )
            updates = tier_changes(pending)
            if updates:  # one statement, rows by primary key (the namespace checked on each), in id order
                ordered = sorted(updates.items())
                cur.execute(
                    "UPDATE nexint_pages p SET tier = COALESCE(u.tier, p.tier),"
                    " quarantined = COALESCE(u.flag, p.quarantined)"
                    " FROM unnest(%s::text[], %s::text[], %s::text[], %s::boolean[]) AS u(id, namespace, tier, flag)"
                    " WHERE p.id = u.id AND p.namespace = u.namespace",
                    (
                        [memory_id for (memory_id, _), _ in ordered],
                        [namespace for (_, namespace), _ in ordered],
                        [tier for _, (tier, _) in ordered],
                        [flag for _, (_, flag) in ordered],
                    ),
                )

    def _with_events(self, work: Callable[[psycopg.Connection[Any]], _T]) -> _T:
        """Run ``work`` in a transaction that also writes the buffered events (kept if it fails)."""
        batch = uuid.uuid4()  # the same on every retry of this write
        with self._buffer.batch() as pending:

            def run(conn: psycopg.Connection[Any]) -> _T:
                self._write_events(conn, pending, batch)
                return work(conn)

            try:
                return self._run(run)
            except NamespaceViolation:
                self._drop_refused_events()  # they would be refused again, and block every later write
                raise

    def _drop_refused_events(self) -> None:
        """Forget buffered events of namespaces this role was not granted (row-level security)."""
        granted = self._run(
            lambda conn: conn.execute("SELECT namespace FROM nexint_grants WHERE grantee = current_user").fetchall()
        )
        self._buffer.keep({str(row[0]) for row in granted})

    def put(self, pages: Sequence[Page]) -> None:
        if not pages:
            return
        pages = list({page.id: page for page in pages}.values())
        terms = [content_terms(page.content) for page in pages]
        vectors = embed_texts(self.embedder, [page.content for page in pages], terms)
        vectors = vectors.astype(np.float16).astype(np.float32)  # the precision the embedded store keeps
        rows = [
            {
                **page_row(page),
                "terms": sorted(counts),
                "tf": json.dumps(counts, sort_keys=True),
                "doc_len": len(words),
                "embedding": _vector_text(vector),
            }
            for page, words, vector in zip(pages, terms, vectors, strict=True)
            for counts in [dict(Counter(words))]
        ]

        def write(conn: psycopg.Connection[Any]) -> None:
            self._delete(conn, [page.id for page in pages])  # an overwrite: a fresh row, as in the embedded store
            with conn.cursor() as cur:
                cur.executemany(_PAGE_INSERT, rows)
            self._count(conn, [(row["namespace"], _shard(row["id"]), 1, row["doc_len"]) for row in rows])
            self._add_to_centroids(
                conn, [(row["namespace"], _shard(row["id"]), vector) for row, vector in zip(rows, vectors, strict=True)]
            )

        self._with_events(write)

    def _count(self, conn: psycopg.Connection[Any], changes: Sequence[tuple[str, int, int, int]]) -> None:
        """Add ``(namespace, shard, docs, length)`` changes to the BM25 statistics, in one lock order."""
        merged: dict[tuple[str, int], list[int]] = {}
        for namespace, shard, docs, length in changes:
            entry = merged.setdefault((namespace, shard), [0, 0])
            entry[0] += docs
            entry[1] += length
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO nexint_stats VALUES (%s, %s, %s, %s) ON CONFLICT (namespace, shard) DO UPDATE"
                " SET docs = nexint_stats.docs + excluded.docs,"
                " total_length = nexint_stats.total_length + excluded.total_length",
                [(ns, shard, docs, length) for (ns, shard), (docs, length) in sorted(merged.items())],
            )

    def _delete(self, conn: psycopg.Connection[Any], page_ids: Sequence[str]) -> None:
        gone = conn.execute(
            "DELETE FROM nexint_pages WHERE id = ANY(%s) RETURNING id, namespace, doc_len, embedding::real[]",
            (list(page_ids),),
        ).fetchall()
        if gone:
            self._count(conn, [(namespace, _shard(page_id), -1, -length) for page_id, namespace, length, _ in gone])
            removed = [
                (namespace, _shard(page_id), np.asarray(vector, dtype=np.float32))
                for page_id, namespace, _, vector in gone
            ]
            self._add_to_centroids(conn, removed, sign=-1)

    def _add_to_centroids(
        self,
        conn: psycopg.Connection[Any],
        vectors: Sequence[tuple[str, int, npt.NDArray[np.float32]]],
        *,
        sign: int = 1,
    ) -> None:
        """Add (``sign=-1``: take away) vectors to their namespaces' sharded sums, in one lock order."""
        merged: dict[tuple[str, int], tuple[npt.NDArray[np.float64], int]] = {}
        for namespace, shard, vector in vectors:
            total, count = merged.get((namespace, shard), (np.zeros(self.embedder.dim, dtype=np.float64), 0))
            merged[(namespace, shard)] = (total + sign * vector.astype(np.float64), count + sign)
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO nexint_centroids VALUES (%s, %s, %s, %s) ON CONFLICT (namespace, shard) DO UPDATE"
                " SET total = (SELECT array_agg(a + b ORDER BY i) FROM unnest(nexint_centroids.total,"
                " excluded.total) WITH ORDINALITY AS t(a, b, i)), count = nexint_centroids.count + excluded.count",
                [(ns, shard, total.tolist(), count) for (ns, shard), (total, count) in sorted(merged.items())],
            )

    def vector_centroid(self, namespaces: Sequence[str]) -> npt.NDArray[np.float32] | None:
        rows = self._run(
            lambda conn: conn.execute(
                "SELECT total, count FROM nexint_centroids WHERE namespace = ANY(%s)", (list(namespaces),)
            ).fetchall()
        )
        return mean_of_sums([(np.asarray(row[0], dtype=np.float64), int(row[1])) for row in rows])

    def delete(self, page_ids: Sequence[str]) -> None:
        if page_ids:
            self._with_events(lambda conn: self._delete(conn, list(page_ids)))

    def flush(self) -> None:
        """Write buffered events (and the tier changes they carry) now."""
        if self.pending_events:
            self._with_events(lambda conn: None)

    def reserve_ids(self, kind: str, count: int, at_least: int) -> int:
        """Reserve ``count`` ids of ``kind`` that no process has used; returns the first number."""
        last = self._run(
            lambda conn: conn.execute(
                "INSERT INTO nexint_counters VALUES (%s, %s) ON CONFLICT (kind) DO UPDATE"
                " SET last = greatest(nexint_counters.last, %s) + %s RETURNING last",
                (kind, at_least - 1 + count, at_least - 1, count),
            ).fetchone()
        )
        assert last is not None
        return int(last[0]) - count + 1

    def grant(self, role: str, namespaces: Sequence[str]) -> None:
        """Let database role ``role`` read and write these namespaces (and no other) under row-level
        security. Run it as the tables' owner; the role needs table privileges too (see docs)."""

        def write(conn: psycopg.Connection[Any]) -> None:
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO nexint_grants VALUES (%s, %s) ON CONFLICT DO NOTHING",
                    [(role, namespace) for namespace in namespaces],
                )

        self._run(write)

    # -- reads --------------------------------------------------------------------------------------

    def get(self, page_id: str) -> Page | None:
        rows = self._run(
            partial(_fetch_named, sql=f"SELECT {PAGE_COLUMNS} FROM nexint_pages WHERE id = %s", args=(page_id,))
        )
        return page_from_row(rows[0]) if rows else None

    def contents(self, page_ids: Sequence[str]) -> dict[str, str]:
        """The content of each stored page among ``page_ids``, in one query."""
        rows = self._run(
            lambda conn: conn.execute(
                "SELECT id, content FROM nexint_pages WHERE id = ANY(%s)", (list(page_ids),)
            ).fetchall()
        )
        return {str(page_id): str(content) for page_id, content in rows}

    def __contains__(self, page_id: object) -> bool:
        if not isinstance(page_id, str):
            return False
        row = self._run(lambda conn: conn.execute("SELECT 1 FROM nexint_pages WHERE id = %s", (page_id,)).fetchone())
        return row is not None

    def __len__(self) -> int:
        row = self._run(lambda conn: conn.execute("SELECT count(*) FROM nexint_pages").fetchone())
        return int(row[0]) if row else 0

    def scan(self, namespaces: Sequence[str] | None = None) -> Iterator[Page]:
        """Every stored page (of ``namespaces``) in write order, read in chunks."""
        after = 0
        while True:
            if namespaces is None:
                sql = f"SELECT {PAGE_COLUMNS}, seq FROM nexint_pages WHERE seq > %s ORDER BY seq LIMIT 2000"
                args: tuple[Any, ...] = (after,)
            else:
                sql = (
                    f"SELECT {PAGE_COLUMNS}, seq FROM nexint_pages WHERE namespace = ANY(%s) AND seq > %s"
                    " ORDER BY seq LIMIT 2000"
                )
                args = (list(namespaces), after)
            rows = self._run(partial(_fetch_named, sql=sql, args=args))
            if not rows:
                return
            for row in rows:
                yield page_from_row(row)
            after = int(rows[-1]["seq"])

    def last_event_seq(self, namespace: str) -> int:
        """The number of the last event persisted for ``namespace`` (0 if none)."""
        row = self._run(
            lambda conn: conn.execute(
                "SELECT COALESCE(max(event_seq), 0) FROM nexint_events WHERE namespace = %s", (namespace,)
            ).fetchone()
        )
        return int(row[0]) if row else 0

    def events(self, namespace: str | None = None) -> list[PagingEvent]:
        """The persisted event log (of one namespace), in order."""
        sql = f"SELECT {EVENT_COLUMNS} FROM nexint_events"
        args: tuple[Any, ...] = ()
        if namespace is not None:
            sql += " WHERE namespace = %s"
            args = (namespace,)
        rows = self._run(partial(_fetch_named, sql=sql + " ORDER BY seq", args=args))
        return [event_from_row(row) for row in rows]

    # -- search -------------------------------------------------------------------------------------

    def _stats(self, conn: psycopg.Connection[Any], namespace: str) -> tuple[int, int]:
        row = conn.execute(
            "SELECT COALESCE(sum(docs), 0), COALESCE(sum(total_length), 0) FROM nexint_stats WHERE namespace = %s",
            (namespace,),
        ).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def search_text(
        self, query: str, *, namespaces: Sequence[str], k: int = 20, where: Mapping[str, object] | None = None
    ) -> list[SearchHit]:
        extra, args = filter_sql(where, "IS NOT DISTINCT FROM %s")
        terms = query_terms(query)
        if not terms or k <= 0:
            return []

        def search(conn: psycopg.Connection[Any]) -> list[SearchHit]:
            hits: list[SearchHit] = []
            for namespace in namespaces:
                hits.extend(self._bm25(conn, namespace, terms, k, extra, args))
            return hits

        hits = self._run(search)
        hits.sort(key=lambda hit: (-hit.score, hit.page_id))
        return hits[:k]

    @staticmethod
    def _document_frequencies(conn: psycopg.Connection[Any], namespace: str, terms: Sequence[str]) -> list[Any]:
        """``(term, pages holding it)`` for each distinct term, counted up to one past the posting budget."""
        return conn.execute(
            "SELECT t.term, (SELECT count(*) FROM (SELECT 1 FROM nexint_pages p WHERE p.namespace = %s"
            " AND p.tsv @@ quote_literal(t.term)::tsquery LIMIT %s) hits)"
            " FROM unnest(%s::text[]) AS t(term)",
            (namespace, POSTING_BUDGET + 1, sorted(set(terms))),
        ).fetchall()

    def text_weight(self, query: str, *, namespaces: Sequence[str]) -> float:
        terms = query_terms(query)
        if not terms:
            return 0.0

        def weigh(conn: psycopg.Connection[Any]) -> float:
            best = 0.0
            for namespace in namespaces:
                docs, _ = self._stats(conn, namespace)
                if docs:
                    counts = [int(df) for _, df in self._document_frequencies(conn, namespace, terms)]
                    best = max(best, float(sum(np.log1p((docs - df + 0.5) / (df + 0.5)) for df in counts)))
            return best

        return self._run(weigh)

    def _bm25(
        self,
        conn: psycopg.Connection[Any],
        namespace: str,
        terms: Sequence[str],
        k: int,
        extra: str,
        args: list[object],
    ) -> list[SearchHit]:
        """The embedded index's BM25 (:class:`~nexint_core.lexical.LexicalIndex`), computed in SQL."""
        docs, total_length = self._stats(conn, namespace)
        if not docs:
            return []
        counted = self._document_frequencies(conn, namespace, terms)
        found = sorted((int(df), str(term)) for term, df in counted if 0 < int(df) <= POSTING_BUDGET)
        kept: list[tuple[str, float]] = []
        total = 0
        for df, term in found:  # the rarest terms, until the posting budget, as the embedded index keeps them
            if total + df > POSTING_BUDGET:
                break
            kept.append((term, float(np.log1p((docs - df + 0.5) / (df + 0.5)))))
            total += df
        if not kept:
            return []
        k1, b = LexicalIndex.K1, LexicalIndex.B
        average = total_length / docs or 1.0
        rows = conn.execute(
            "WITH q(term, idf) AS (SELECT * FROM unnest(%s::text[], %s::float8[]))"
            " SELECT p.id, round(sum(tf.idf * tf.n * %s / (tf.n + %s + %s * p.doc_len))::numeric, 9)::float8 AS score"
            " FROM nexint_pages p"
            " CROSS JOIN LATERAL (SELECT q.idf, (p.tf ->> q.term)::float8 AS n FROM q) tf"
            f" WHERE p.namespace = %s AND p.tsv @@ %s::tsquery AND tf.n IS NOT NULL{extra}"
            " GROUP BY p.id, p.seq ORDER BY score DESC, p.seq LIMIT %s",
            (
                [term for term, _ in kept],
                [idf for _, idf in kept],
                k1 + 1.0,
                k1 * (1.0 - b),
                k1 * b / average,
                namespace,
                _tsquery([term for term, _ in kept]),
                *args,
                k,
            ),
        ).fetchall()
        return [SearchHit(str(page_id), float(score)) for page_id, score in rows]

    def search_vector(
        self,
        vector: npt.NDArray[np.float32],
        *,
        namespaces: Sequence[str],
        k: int = 20,
        where: Mapping[str, object] | None = None,
    ) -> list[SearchHit]:
        extra, args = filter_sql(where, "IS NOT DISTINCT FROM %s")
        if k <= 0:
            return []
        query = _vector_text(np.asarray(vector, dtype=np.float32))

        def search(conn: psycopg.Connection[Any]) -> list[SearchHit]:
            hits: list[SearchHit] = []
            for namespace in namespaces:
                docs, _ = self._stats(conn, namespace)
                if not docs:
                    continue
                if docs <= EXACT_UP_TO:  # "+ 0" keeps the planner off the HNSW index: an exact scan
                    order = "(p.embedding <#> %s::vector) + 0, p.seq"
                else:  # the index orders by distance alone (ties are broken by page id below)
                    self._ensure_hnsw(conn)
                    conn.execute(f"SET LOCAL hnsw.ef_search = {max(100, 4 * k)}")
                    order = "p.embedding <#> %s::vector"
                rows = conn.execute(
                    f"SELECT p.id, -(p.embedding <#> %s::vector) FROM nexint_pages p"
                    f" WHERE p.namespace = %s{extra} ORDER BY {order} LIMIT %s",
                    (query, namespace, *args, query, k),
                ).fetchall()
                hits.extend(SearchHit(str(page_id), float(score)) for page_id, score in rows)
            return hits

        hits = self._run(search)
        hits.sort(key=lambda hit: (-hit.score, hit.page_id))
        return hits[:k]

    def _ensure_hnsw(self, conn: psycopg.Connection[Any]) -> None:
        """Build the HNSW index the first time a namespace outgrows exact search (once, by one process):
        below that, every insert would pay for an index no search uses."""
        if self._hnsw:
            return
        found = conn.execute("SELECT to_regclass('nexint_pages_vectors') IS NOT NULL").fetchone()
        if not (found and found[0]):
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('nexint-hnsw'))")
            conn.execute(f"SET LOCAL maintenance_work_mem = '{HNSW_BUILD_MEMORY}'")  # a graph in memory builds fast
            conn.execute(_HNSW)  # one build, in this transaction; writers wait for it, searches do not
        self._hnsw = True

    # -- lifecycle ----------------------------------------------------------------------------------

    def close(self) -> None:
        """Flush events and close the connection pool."""
        if self._closed:
            return
        try:
            try:
                self.flush()
            except NamespaceViolation:  # events of a namespace this role may not write were dropped
                self.flush()
        finally:
            self._closed = True
            self._pool.close()

    def __repr__(self) -> str:
        return f"PostgresSwapStore({_redacted(self.dsn)!r})"


def migrate(conn: psycopg.Connection[Any], current: int, target: int, dim: int) -> None:
    """Apply the forward migrations from schema ``current`` to ``target`` in this transaction."""
    for version in range(current, target):
        for statement in _MIGRATIONS[version].split(";"):
            if statement.strip():
                conn.execute(statement.replace("{dim}", str(dim)))
        conn.execute("UPDATE nexint_meta SET value = %s WHERE key = 'schema_version'", (str(version + 1),))


def _translate(exc: psycopg.Error, dsn: str) -> NexintError | None:
    """nexint's error for what the server answered, by SQLSTATE; None while a retry may succeed: the server
    is unreachable (class 08), shutting down or starting (57P01-57P03), or dropped the connection (an
    OperationalError with no SQLSTATE: no answer came to carry one), or two writers raced on one id."""
    import psycopg

    state = exc.sqlstate or ""
    if state in _DAMAGED:
        return StoreCorrupted(f"PostgreSQL at {_redacted(dsn)} reports damaged data: {_first_line(exc)}")
    if state == _INSUFFICIENT_PRIVILEGE:
        return NamespaceViolation(f"PostgreSQL refused: {exc}")
    if state == "3D000" or state.startswith("28"):  # no such database; authentication failed
        return StoreError(f"cannot open the PostgreSQL store at {_redacted(dsn)}: {_first_line(exc)}")
    if isinstance(exc, psycopg.OperationalError) or state == _UNIQUE_VIOLATION:
        return None
    return StoreError(f"PostgreSQL at {_redacted(dsn)} failed: {_first_line(exc)}")


def _given_up(exc: psycopg.Error, dsn: str) -> StoreError:
    """The error once retries ran out: the server stayed unreachable, or the same id kept colliding."""
    if exc.sqlstate == _UNIQUE_VIOLATION:
        return StoreError(f"PostgreSQL at {_redacted(dsn)} failed: {_first_line(exc)}")
    return StoreUnavailable(f"PostgreSQL at {_redacted(dsn)} is unavailable: {exc}")


def _refuses(dsn: str) -> bool:
    """Whether the server is up and refuses this connection for good (no such database, authentication
    failed), rather than down or starting.

    libpq reports a failed connection as text only: psycopg's ``sqlstate`` and ``diag.sqlstate`` are None
    even when the server answered (a missing database, 3D000; a wrong password, 28P01). So ask libpq's
    ``PQping``, whose status is OK for a server accepting connections whatever the database or user.
    """
    import psycopg
    from psycopg import pq

    if pq.PGconn.ping(dsn.encode("utf-8")) != pq.Ping.OK:
        return False
    try:  # it may have come up between the failed connection and the ping
        psycopg.connect(dsn, connect_timeout=5).close()
    except psycopg.OperationalError:
        return True
    return False


def _attempts(retry_for: float) -> Iterator[bool]:
    """One value per attempt, True once ``retry_for`` seconds have passed (the last attempt); between
    attempts it sleeps, 50 ms doubling up to 1 s."""
    deadline = time.monotonic() + retry_for
    delay = 0.05
    while True:
        yield time.monotonic() >= deadline
        time.sleep(delay)
        delay = min(delay * 2, 1.0)


def _fetch_named(conn: psycopg.Connection[Any], *, sql: str, args: tuple[Any, ...]) -> list[dict[str, Any]]:
    """The rows of one query, each a dict by column name."""
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(sql, args).fetchall()


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _redacted(dsn: str) -> str:
    """The URI without its password."""
    scheme, sep, rest = dsn.partition("://")
    if not sep or "@" not in rest:
        return dsn
    credentials, _, host = rest.partition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}@{host}"
