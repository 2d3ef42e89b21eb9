"""A FAISS index addressed by stable int64 ids (never positions), saved atomically."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import faiss
import numpy as np
import numpy.typing as npt

from nexint_core.errors import InvalidArgument, StoreCorrupted

__all__ = ["VectorIndex", "write_atomic"]

_omp_lock = threading.Lock()


@contextmanager
def _single_thread() -> Iterator[None]:
    """HNSW insertion is only deterministic on one thread; restore the caller's setting after."""
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


class VectorIndex:
    """Inner-product search over L2-normalised vectors; ``kind`` is ``"hnsw"`` (fp16 HNSW) or ``"flat"``.

    HNSW cannot delete, so removed ids become tombstones that searches skip; ``ids()`` lists the
    live ones.
    """

    def __init__(self, dim: int, *, kind: str = "hnsw", m: int = 32, ef_search: int = 128) -> None:
        if kind not in ("hnsw", "flat"):
            raise InvalidArgument(f"vector index kind must be 'hnsw' or 'flat', got {kind!r}")
        self.dim = dim
        self.kind = kind
        inner: faiss.Index
        if kind == "hnsw":
            hnsw = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_fp16, m, faiss.METRIC_INNER_PRODUCT)  # type: ignore[arg-type]
            hnsw.hnsw.efConstruction = 80
            hnsw.hnsw.efSearch = ef_search
            inner = hnsw
        else:
            inner = faiss.IndexFlatIP(dim)
        self._index = faiss.IndexIDMap2(inner)
        self._deleted: set[int] = set()

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
        """Add vectors under their ids (an id that was removed comes back to life)."""
        if len(ids) == 0:
            return
        if vectors.shape != (len(ids), self.dim):
            raise InvalidArgument(f"expected vectors of shape ({len(ids)}, {self.dim}), got {vectors.shape}")
        self._deleted.difference_update(int(i) for i in ids)
        with _single_thread():
            self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))

    def remove(self, ids: npt.NDArray[np.int64]) -> None:
        """Mark ids as deleted."""
        self._deleted.update(int(i) for i in ids)

    def search(self, vector: npt.NDArray[np.float32], k: int) -> list[tuple[int, float]]:
        """The ``k`` nearest live ids with their inner products, best first."""
        if self.ntotal == 0 or k <= 0:
            return []
        fetch = min(self.ntotal, k + len(self._deleted))
        scores, ids = self._index.search(np.ascontiguousarray(vector.reshape(1, self.dim), dtype=np.float32), fetch)
        pairs = zip(ids[0], scores[0], strict=True)
        out = [(int(i), float(s)) for i, s in pairs if i >= 0 and int(i) not in self._deleted]
        return out[:k]

    def save(self, path: Path) -> None:
        """Write the index atomically (tombstoned vectors are dropped from flat indexes only)."""
        if self._deleted and self.kind == "flat":
            self._index.remove_ids(np.fromiter(self._deleted, dtype=np.int64))  # type: ignore[arg-type]
            self._deleted.clear()
        write_atomic(path, faiss.serialize_index(self._index).tobytes())

    @classmethod
    def load(cls, path: Path, dim: int, *, kind: str = "hnsw") -> VectorIndex:
        """Read a saved index; raises :class:`StoreCorrupted` if it is unreadable or of another dimension."""
        try:
            data = np.frombuffer(path.read_bytes(), dtype=np.uint8)
            index = faiss.deserialize_index(data)
        except (OSError, RuntimeError, ValueError) as exc:
            raise StoreCorrupted(f"vector index {path} is unreadable: {exc}") from None
        if index.d != dim or not isinstance(index, faiss.IndexIDMap2):
            raise StoreCorrupted(f"vector index {path} has dimension {index.d}, expected {dim}")
        loaded = cls.__new__(cls)
        loaded.dim, loaded.kind, loaded._index, loaded._deleted = dim, kind, index, set()
        return loaded
