"""A FAISS index addressed by stable int64 ids (never positions), saved atomically with a checksum."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import faiss
import numpy as np
import numpy.typing as npt

from nexint_core.errors import InvalidArgument, StoreCorrupted

__all__ = ["FLAT_LIMIT", "VectorIndex", "write_atomic"]

FLAT_LIMIT = 50_000  # vectors per index searched exactly; past this an "auto" index becomes HNSW
_MAGIC = b"NXVI0001"
_omp_lock = threading.Lock()


@contextmanager
def _single_thread() -> Iterator[None]:
    """One query or one small batch is faster, and HNSW insertion deterministic, on one thread."""
    with _omp_lock:
        before = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            yield
        finally:
            faiss.omp_set_num_threads(before)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file, fsync, rename, and fsync of the directory."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _hnsw(dim: int, m: int, ef_search: int) -> faiss.Index:
    index = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_fp16, m, faiss.METRIC_INNER_PRODUCT)  # type: ignore[arg-type]
    index.hnsw.efConstruction = 40
    index.hnsw.efSearch = ef_search
    return index


class VectorIndex:
    """Inner-product search over L2-normalised vectors.

    ``kind="auto"`` (default) searches exactly (a flat index) up to ``flat_limit`` vectors and then
    converts itself, once, to an fp16 HNSW graph; ``"flat"`` and ``"hnsw"`` fix the kind. HNSW
    cannot delete, so its removed ids become tombstones that searches skip.
    """

    def __init__(
        self, dim: int, *, kind: str = "auto", flat_limit: int = FLAT_LIMIT, m: int = 24, ef_search: int = 128
    ) -> None:
        if kind not in ("auto", "flat", "hnsw"):
            raise InvalidArgument(f"vector index kind must be 'auto', 'flat' or 'hnsw', got {kind!r}")
        self.dim, self.kind, self.flat_limit, self._m, self._ef = dim, kind, flat_limit, m, ef_search
        inner = _hnsw(dim, m, ef_search) if kind == "hnsw" else faiss.IndexFlatIP(dim)
        self._index = faiss.IndexIDMap2(inner)
        self._deleted: set[int] = set()

    @property
    def is_flat(self) -> bool:
        """Whether searches are exact."""
        return isinstance(faiss.downcast_index(self._index.index), faiss.IndexFlat)

    @property
    def ntotal(self) -> int:
        """Vectors held, tombstones included."""
        return int(self._index.ntotal)

    def __len__(self) -> int:
        return self.ntotal - len(self._deleted)

    def ids(self) -> npt.NDArray[np.int64]:
        """Live ids, sorted."""
        held = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        if self._deleted:
            held = held[~np.isin(held, np.fromiter(self._deleted, dtype=np.int64))]
        return np.sort(held)

    def add(self, ids: npt.NDArray[np.int64], vectors: npt.NDArray[np.float32]) -> None:
        """Add vectors under their ids."""
        if len(ids) == 0:
            return
        if vectors.shape != (len(ids), self.dim):
            raise InvalidArgument(f"expected vectors of shape ({len(ids)}, {self.dim}), got {vectors.shape}")
        self._deleted.difference_update(int(i) for i in ids)
        with _single_thread():
            self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))
        if self.kind == "auto" and self.ntotal > self.flat_limit and self.is_flat:
            self._to_hnsw()

    def _to_hnsw(self) -> None:
        ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        vectors = self._index.index.reconstruct_n(0, self.ntotal)
        graph = faiss.IndexIDMap2(_hnsw(self.dim, self._m, self._ef))
        with _single_thread():
            for start in range(0, len(ids), 10_000):
                graph.add_with_ids(vectors[start : start + 10_000], ids[start : start + 10_000])
        self._index = graph

    def remove(self, ids: npt.NDArray[np.int64]) -> None:
        """Delete ids (exactly from a flat index, as tombstones from HNSW)."""
        if len(ids) == 0:
            return
        if self.is_flat:
            self._index.remove_ids(np.asarray(ids, dtype=np.int64))  # type: ignore[arg-type]
        else:
            self._deleted.update(int(i) for i in ids)

    def search(self, vector: npt.NDArray[np.float32], k: int) -> list[tuple[int, float]]:
        """The ``k`` nearest live ids with their inner products, best first."""
        if self.ntotal == 0 or k <= 0:
            return []
        fetch = min(self.ntotal, k + len(self._deleted))
        query = np.ascontiguousarray(vector.reshape(1, self.dim), dtype=np.float32)
        with _single_thread():
            scores, ids = self._index.search(query, fetch)
        pairs = zip(ids[0], scores[0], strict=True)
        return [(int(i), float(s)) for i, s in pairs if i >= 0 and int(i) not in self._deleted][:k]

    def save(self, path: Path) -> None:
        """Write the index atomically, followed by its SHA-256 so damage is detected on load."""
        data = faiss.serialize_index(self._index).tobytes()
        write_atomic(path, data + hashlib.sha256(data).digest() + _MAGIC)

    @classmethod
    def load(cls, path: Path, dim: int, *, kind: str = "auto", flat_limit: int = FLAT_LIMIT) -> VectorIndex:
        """Read a saved index; raises :class:`StoreCorrupted` if it is damaged or of another dimension."""
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise StoreCorrupted(f"vector index {path} is unreadable: {exc}") from None
        data, digest, magic = raw[:-40], raw[-40:-8], raw[-8:]
        if magic != _MAGIC or hashlib.sha256(data).digest() != digest:
            raise StoreCorrupted(f"vector index {path} is damaged (checksum mismatch)")
        try:
            index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
        except (RuntimeError, ValueError) as exc:
            raise StoreCorrupted(f"vector index {path} is unreadable: {exc}") from None
        if index.d != dim or not isinstance(index, faiss.IndexIDMap2):
            raise StoreCorrupted(f"vector index {path} has dimension {index.d}, expected {dim}")
        loaded = cls(dim, kind=kind, flat_limit=flat_limit)
        loaded._index = index
        return loaded
