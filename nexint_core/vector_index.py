"""A FAISS index addressed by stable int64 ids (never positions), saved atomically with a checksum."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import faiss
import numpy as np
import numpy.typing as npt

from nexint_core.errors import InvalidArgument, StoreCorrupted
from nexint_core.files import save_checked, verify_checked

__all__ = ["FLAT_LIMIT", "VectorIndex"]

FLAT_LIMIT = 50_000  # vectors per index searched exactly; past this an "auto" index becomes IVF
_MAGIC = b"NXVI0001"
_omp_lock = threading.Lock()


@contextmanager
def _single_thread() -> Iterator[None]:
    """One query or one small batch is faster, and k-means training deterministic, on one thread."""
    with _omp_lock:
        before = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            yield
        finally:
            faiss.omp_set_num_threads(before)


class VectorIndex:
    """Inner-product search over L2-normalised vectors, by stable int64 ids.

    ``kind="auto"`` (default) searches exactly (a flat index) up to ``flat_limit`` vectors, then
    converts itself, once, to an inverted-file index with fp16 codes (``nlist`` lists trained by
    seeded k-means on the vectors it holds, ``nprobe`` searched per query): approximate, 0.5 KB per
    256-dimension vector, and an insertion costs microseconds at any size. ``"flat"`` stays exact.
    Both delete exactly.
    """

    def __init__(
        self, dim: int, *, kind: str = "auto", flat_limit: int = FLAT_LIMIT, nlist: int = 1024, nprobe: int = 64
    ) -> None:
        if kind not in ("auto", "flat"):
            raise InvalidArgument(f"vector index kind must be 'auto' or 'flat', got {kind!r}")
        self.dim, self.kind, self.flat_limit, self.nlist, self.nprobe = dim, kind, flat_limit, nlist, nprobe
        self._index: faiss.IndexIDMap2 | faiss.IndexIVFScalarQuantizer = faiss.IndexIDMap2(_flat_fp16(dim))

    @property
    def is_flat(self) -> bool:
        """Whether searches are exact."""
        return isinstance(self._index, faiss.IndexIDMap2)

    @property
    def ntotal(self) -> int:
        """Vectors held."""
        return int(self._index.ntotal)

    def __len__(self) -> int:
        return self.ntotal

    def ids(self) -> npt.NDArray[np.int64]:
        """Held ids, sorted."""
        index = self._index
        if isinstance(index, faiss.IndexIDMap2):
            held = faiss.vector_to_array(index.id_map)
        else:
            lists = index.invlists
            assert lists is not None  # an IVF index always has its lists
            parts = [
                faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
                for i in range(index.nlist)
                if lists.list_size(i)
            ]
            held = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        return np.sort(held.astype(np.int64))

    def add(self, ids: npt.NDArray[np.int64], vectors: npt.NDArray[np.float32]) -> None:
        """Add vectors under their ids."""
        if len(ids) == 0:
            return
        if vectors.shape != (len(ids), self.dim):
            raise InvalidArgument(f"expected vectors of shape ({len(ids)}, {self.dim}), got {vectors.shape}")
        with _single_thread():
            self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))
        if self.kind == "auto" and isinstance(self._index, faiss.IndexIDMap2) and self.ntotal > self.flat_limit:
            self._to_ivf(self._index)

    def _to_ivf(self, flat: faiss.IndexIDMap2) -> None:
        ids = faiss.vector_to_array(flat.id_map).astype(np.int64)
        vectors = flat.index.reconstruct_n(0, self.ntotal)
        nlist = max(1, min(self.nlist, len(ids) // 39))  # k-means wants >= 39 points per list
        ivf = faiss.IndexIVFScalarQuantizer(
            faiss.IndexFlatIP(self.dim),
            self.dim,
            nlist,
            faiss.ScalarQuantizer.QT_fp16,
            faiss.METRIC_INNER_PRODUCT,
        )
        ivf.nprobe = min(self.nprobe, nlist)
        with _single_thread():  # seeded and single-threaded: the same lists in every process
            ivf.train(vectors)
            ivf.add_with_ids(vectors, ids)
        self._index = ivf

    def vectors(self, ids: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        """The vectors held under ``ids`` (as stored: fp16 precision), of an exact (flat) index."""
        if not isinstance(self._index, faiss.IndexIDMap2):
            raise InvalidArgument("only an exact (flat) index gives its vectors back by id")
        if len(ids) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._index.reconstruct(int(i)) for i in ids]).astype(np.float32)

    def remove(self, ids: npt.NDArray[np.int64]) -> None:
        """Delete ids."""
        if len(ids) == 0:
            return
        self._index.remove_ids(np.asarray(ids, dtype=np.int64))  # type: ignore[arg-type]

    def search(self, vector: npt.NDArray[np.float32], k: int) -> list[tuple[int, float]]:
        """The ``k`` nearest ids with their inner products, best first."""
        if self.ntotal == 0 or k <= 0:
            return []
        query = np.ascontiguousarray(vector.reshape(1, self.dim), dtype=np.float32)
        with _single_thread():
            scores, ids = self._index.search(query, min(k, self.ntotal))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def save(self, path: Path) -> None:
        """Write the index atomically, followed by its SHA-256 so damage is detected on load.

        FAISS writes straight to the temporary file (no in-memory copy of the index is made).
        """
        save_checked(path, lambda tmp: faiss.write_index(self._index, str(tmp)), _MAGIC)

    @classmethod
    def load(cls, path: Path, dim: int, *, kind: str = "auto", flat_limit: int = FLAT_LIMIT) -> VectorIndex:
        """Read a saved index; raises :class:`StoreCorrupted` if it is damaged or of another dimension."""
        verify_checked(path, _MAGIC, "vector index")
        try:
            index = faiss.read_index(str(path))  # streamed from the file; the trailer after it is not read
        except (RuntimeError, ValueError) as exc:
            raise StoreCorrupted(f"vector index {path} is unreadable: {exc}") from None
        known: faiss.IndexIDMap2 | faiss.IndexIVFScalarQuantizer
        inner = faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap2) else None
        if isinstance(index, faiss.IndexIDMap2) and isinstance(inner, (faiss.IndexScalarQuantizer, faiss.IndexFlat)):
            known = index  # an IndexFlat (float32) was saved by nexint 0.1
        elif isinstance(index, faiss.IndexIVFScalarQuantizer) and kind != "flat":
            known = index
        else:
            raise StoreCorrupted(f"vector index {path} is a {type(index).__name__}, not a {kind} index")
        if known.d != dim:
            raise StoreCorrupted(f"vector index {path} has dimension {known.d}, expected {dim}")
        loaded = cls(dim, kind=kind, flat_limit=flat_limit)
        loaded._index = known
        return loaded


def _flat_fp16(dim: int) -> faiss.IndexScalarQuantizer:
    """An exact index over fp16 codes: the precision vectors are stored in, at half the memory to scan."""
    return faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
