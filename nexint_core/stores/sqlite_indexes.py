"""The SQLite store's search indexes: per namespace, a FAISS index and a BM25 index, both caches of SQLite.

``vectors/<namespace>.faiss`` holds a namespace's FAISS index, keyed by each page's SQLite ``seq`` (a
stable int64, never a position), and ``vectors/<namespace>.lex`` its BM25 index. Either file can
always be rebuilt from SQLite: on load they are checked against it, and what was written after they
were saved (new pages, and the ``deletions`` log) is applied. Before each search, rows other processes
wrote or deleted are caught up with, when SQLite's ``data_version`` says another connection committed.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import lru_cache, partial
from pathlib import Path

import numpy as np
import numpy.typing as npt

from nexint_core.errors import StoreCorrupted
from nexint_core.lexical import LexicalIndex
from nexint_core.stores.base import SearchHit
from nexint_core.stores.sqlite_db import Database
from nexint_core.vector_index import VectorIndex

__all__ = ["NamespaceIndexes", "StoreWarning", "ns_token"]

_SCAN_CHUNK = 2_000
_OWN_IDS_KEPT = 10_000  # ids of our own writes remembered per namespace before catching up with other writers
_Loaded = tuple[VectorIndex, LexicalIndex, int, list[str]]


class StoreWarning(RuntimeWarning):
    """Something in a store was repaired (for example a FAISS file rebuilt from SQLite)."""


@lru_cache(maxsize=4096)
def ns_token(namespace: str) -> str:
    """A namespace as a short name safe in file names."""
    return "ns" + hashlib.sha1(namespace.encode("utf-8")).hexdigest()[:20]


class NamespaceIndexes:
    """The loaded FAISS and BM25 indexes of a store's namespaces, kept in step with its database."""

    def __init__(
        self, db: Database, directory: Path, dim: int, *, index_kind: str, save_every: int, read_only: bool = False
    ) -> None:
        self._db = db
        self._read_only = read_only  # indexes are built in memory and never saved
        self._directory = directory  # vectors/
        self._dim = dim
        self._index_kind = index_kind
        self._save_every = save_every
        self._indexes: dict[str, VectorIndex] = {}
        self._lexical: dict[str, LexicalIndex] = {}
        self._page_ids: list[str | None] = []  # page id by seq, for the indexed pages: hits need no lookup
        self._data_version = -1
        self._deletions_seen = 0
        self._stale: dict[str, bool] = {}  # namespaces whose index may lag SQLite whatever data_version says
        self.fresh_lexical: set[str] = set()  # BM25 indexes built from SQLite and not saved yet
        self._synced: dict[str, int] = {}
        self._added: dict[str, set[int]] = {}
        self._unsaved = 0
        self._loader: ThreadPoolExecutor | None = None
        self._loading: dict[str, Future[_Loaded]] = {}

    # -- loading -------------------------------------------------------------------------------

    def preload(self, namespaces: Sequence[str]) -> None:
        """Start loading these namespaces' indexes in a background thread (the caller holds the lock)."""
        if self._loader is None:
            self._loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nexint-index")
        for namespace in namespaces:
            if namespace not in self._indexes and namespace not in self._loading:
                self._loading[namespace] = self._loader.submit(self._open_index, namespace)

    def stop_loading(self) -> None:
        """Cancel loads not started and wait for the one running."""
        if self._loader is not None:
            self._loader.shutdown(wait=True, cancel_futures=True)
            self._loading.clear()

    def index_for(self, namespace: str) -> VectorIndex:
        """The namespace's FAISS index (and BM25 index), loaded or rebuilt on first use, synced with SQLite."""
        index = self._indexes.get(namespace)
        if index is None:
            loading = self._loading.pop(namespace, None)
            index, lexical, synced, problems = loading.result() if loading is not None else self._open_index(namespace)
            for problem in problems:
                warnings.warn(problem, StoreWarning, stacklevel=4)
            self._indexes[namespace], self._lexical[namespace] = index, lexical
            self._added[namespace] = set()
            self._synced[namespace] = synced
            self._stale[namespace] = True
        self._sync(namespace, index)
        return index

    @property
    def _where(self) -> str:
        return " in memory (the store is open read-only)" if self._read_only else ""

    def _index_path(self, namespace: str) -> Path:
        return self._directory / f"{ns_token(namespace)}.faiss"

    def _open_index(self, namespace: str) -> _Loaded:
        """Load (or rebuild from SQLite) one namespace's indexes: FAISS, BM25, the last seq they hold,
        and what was repaired (warned about by the caller, which may be another thread)."""
        path = self._index_path(namespace)
        db = self._db
        with db.lock:
            seqs = np.array(
                [r[0] for r in db.execute("SELECT seq FROM pages WHERE namespace = ?", (namespace,))],
                dtype=np.int64,
            )
            saved = db.execute("SELECT 1 FROM meta WHERE key = ?", (f"saved:{path.name}",)).fetchone()
        index: VectorIndex | None = None
        problems = []
        if path.exists():
            try:
                index = VectorIndex.load(path, self._dim, kind=self._index_kind)
            except StoreCorrupted as exc:
                problems.append(f"{exc}; rebuilding it from SQLite{self._where}")
        elif saved is not None:
            problems.append(f"vector index {path} is missing; rebuilding it from SQLite{self._where}")
        if index is None:
            index = VectorIndex(self._dim, kind=self._index_kind)
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
            self.fresh_lexical.add(namespace)  # saved on close, so the next open need not rebuild it
        return index, lexical, synced, problems

    def _lexical_path(self, namespace: str) -> Path:
        return self._directory / f"{ns_token(namespace)}.lex"

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
            problems.append(f"{exc}; rebuilding it from SQLite{self._where}")
            return None
        self._index_stored(lexical, namespace, base, up_to)  # pages written since the save
        db = self._db
        with db.lock:
            self._know(
                db.execute("SELECT seq, id FROM pages WHERE namespace = ? AND seq <= ?", (namespace, base)).fetchall()
            )
            gone = db.execute(
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
        db = self._db
        while after < up_to:
            with db.lock:
                rows = db.execute(
                    "SELECT seq, terms, id FROM pages WHERE namespace = ? AND seq > ? AND seq <= ?"
                    " ORDER BY seq LIMIT ?",
                    (namespace, after, up_to, _SCAN_CHUNK * 5),
                ).fetchall()
            lexical.add_many((seq, terms.split()) for seq, terms, _ in rows)
            with db.lock:
                self._know((seq, page_id) for seq, _, page_id in rows)
            if len(rows) < _SCAN_CHUNK * 5:
                return
            after = int(rows[-1][0])

    def _save(self, namespace: str, index: VectorIndex) -> None:
        if self._read_only:
            return
        path = self._index_path(namespace)
        index.save(path)
        with self._db.transaction() as db:
            db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)", (f"saved:{path.name}", namespace))

    def _add_from_sqlite(self, index: VectorIndex, seqs: npt.NDArray[np.int64]) -> None:
        for start in range(0, len(seqs), 10_000):
            chunk = [int(s) for s in seqs[start : start + 10_000]]
            with self._db.lock:
                rows = self._db.execute(
                    f"SELECT seq, embedding FROM pages WHERE seq IN ({', '.join('?' * len(chunk))}) ORDER BY seq",
                    chunk,
                ).fetchall()
            if rows:
                self._add_rows(index, rows)

    def _add_rows(self, index: VectorIndex, rows: Sequence[tuple[int, bytes]]) -> None:
        ids = np.array([row[0] for row in rows], dtype=np.int64)
        vectors = np.frombuffer(b"".join(row[1] for row in rows), dtype=np.float16).reshape(len(rows), self._dim)
        index.add(ids, vectors.astype(np.float32))

    # -- keeping up with SQLite ----------------------------------------------------------------

    def _others_wrote(self) -> bool:
        """Whether another connection committed since the last look (SQLite's data_version)."""
        with self._db.lock:
            version = int(self._db.execute("PRAGMA data_version").fetchone()[0])
        changed, self._data_version = version != self._data_version, version
        return changed

    def _catch_up_deletions(self) -> None:
        """Drop from the loaded indexes the pages other processes deleted since the last look."""
        with self._db.lock:
            rows = self._db.execute(
                "SELECT id, seq, namespace, terms FROM deletions WHERE id > ? ORDER BY id", (self._deletions_seen,)
            ).fetchall()
        if rows:
            known = self._page_ids
            self.unindex([(seq, ns, terms) for _, seq, ns, terms in rows if seq < len(known) and known[seq]])
            self._deletions_seen = int(rows[-1][0])

    def _sync(self, namespace: str, index: VectorIndex) -> None:
        """Index the pages other processes wrote since the last look, and drop those they deleted."""
        if self._others_wrote():
            self._stale.update(dict.fromkeys(self._indexes, True))
        if not self._stale.pop(namespace, False):
            return
        self._catch_up_deletions()
        with self._db.lock:
            rows = self._db.execute(
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

    def _know(self, pairs: Iterable[tuple[int, str]]) -> None:
        """Remember the page ids of indexed seqs."""
        known = self._page_ids
        for seq, page_id in pairs:
            if seq >= len(known):
                known.extend([None] * (seq + 1 - len(known) + len(known) // 4))
            known[seq] = page_id

    # -- our own writes ------------------------------------------------------------------------

    def written(
        self,
        pages: Sequence[tuple[int, str, str, str]],
        vectors: npt.NDArray[np.float32],
        replaced: Sequence[tuple[int, str, str]],
    ) -> None:
        """Index pages this store just committed, ``(seq, page id, namespace, terms)`` with their vectors,
        after dropping the rows ``(seq, namespace, terms)`` they replaced."""
        self.unindex(replaced)
        self._know((seq, page_id) for seq, page_id, _, _ in pages)
        opened = {namespace for _, _, namespace, _ in pages} - set(self._indexes)
        for namespace in opened:
            self.index_for(namespace)  # loads or builds it from SQLite, this batch included
        by_namespace: dict[str, list[int]] = {}
        for position, (_, _, namespace, _) in enumerate(pages):
            by_namespace.setdefault(namespace, []).append(position)
        for namespace, positions in by_namespace.items():
            if namespace in opened:
                continue
            index, lexical = self._indexes[namespace], self._lexical[namespace]
            added = np.array([pages[position][0] for position in positions], dtype=np.int64)
            index.add(added, vectors[positions])
            for position in positions:
                lexical.add(pages[position][0], pages[position][3].split())
            self._added[namespace].update(added.tolist())
            if len(self._added[namespace]) >= _OWN_IDS_KEPT:  # catch up with other writers, forget our own ids
                self._stale[namespace] = True
                self._sync(namespace, index)
        self._unsaved += len(pages)

    def unindex(self, rows: Sequence[tuple[int, str, str]]) -> None:
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

    # -- search --------------------------------------------------------------------------------

    def search_text(
        self, terms: Sequence[str], namespaces: Sequence[str], k: int, extra: str, args: list[object]
    ) -> list[SearchHit]:
        """BM25 hits of ``terms`` in each namespace (passing the SQL filter ``extra``), unsorted."""
        hits: list[SearchHit] = []
        for namespace in namespaces:
            self.index_for(namespace)
            lexical = self._lexical[namespace]
            hits.extend(self._widen(partial(lexical.search, terms), k, len(lexical), extra, args))
        return hits

    def text_weight(self, terms: Sequence[str], namespaces: Sequence[str]) -> float:
        """The largest full-match BM25 score of ``terms`` over the namespaces' lexical indexes."""
        weights = []
        for namespace in namespaces:
            self.index_for(namespace)
            weights.append(self._lexical[namespace].query_weight(terms))
        return max(weights, default=0.0)

    def search_vector(
        self, vector: npt.NDArray[np.float32], namespaces: Sequence[str], k: int, extra: str, args: list[object]
    ) -> list[SearchHit]:
        """Nearest pages to ``vector`` in each namespace (passing the SQL filter ``extra``), unsorted."""
        hits: list[SearchHit] = []
        for namespace in namespaces:
            index = self.index_for(namespace)
            hits.extend(self._widen(partial(index.search, vector), k, len(index), extra, args))
        return hits

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
            with self._db.lock:
                rows = self._db.execute(
                    f"SELECT p.seq, p.id FROM pages p WHERE p.seq IN ({', '.join('?' * len(found))}){extra}",
                    [*found, *args],
                ).fetchall()
            if len(rows) >= k or fetch >= size or not extra:
                return [SearchHit(page_id, found[seq]) for seq, page_id in rows]
            fetch *= 4

    # -- saving --------------------------------------------------------------------------------

    def save_if_due(self) -> None:
        """Save every index once ``save_every`` pages were written since the last save."""
        if self._unsaved >= self._save_every:
            self.save()

    def save(self) -> None:
        """Write every loaded FAISS and BM25 index atomically (each BM25 index after catching up with SQLite,
        so the file holds exactly the pages up to the seq it names)."""
        for namespace, index in self._indexes.items():
            self._save(namespace, index)
            self._save_lexical(namespace, index)
        self._unsaved = 0

    def save_on_close(self) -> None:
        """Save what a close must: every index if pages were written, and BM25 indexes built since opening."""
        if self._unsaved:
            self.save()
        for namespace in list(self.fresh_lexical):
            if namespace in self._indexes:
                self._save_lexical(namespace, self._indexes[namespace])

    def _save_lexical(self, namespace: str, index: VectorIndex) -> None:
        if self._read_only:
            return
        self._stale[namespace] = True
        self._sync(namespace, index)
        meta = {"synced": self._synced[namespace], "deletions_seen": self._deletions_seen}
        self._lexical[namespace].save(self._lexical_path(namespace), meta)
        self.fresh_lexical.discard(namespace)
