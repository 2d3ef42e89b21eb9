"""A FAISS index addressed by stable int64 ids (never positions), saved atomically with a checksum."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeAlias

import faiss
import numpy as np
import numpy.typing as npt

from nexint_core.errors import InvalidArgument, StoreCorrupted
from nexint_core.files import save_checked, verify_checked

__all__ = ["FLAT_LIMIT", "IVF_LIMIT", "VectorIndex"]

FLAT_LIMIT = 4_096  # vectors per index searched exactly; past this an "auto" index becomes a PQ scan + rerank
IVF_LIMIT = 300_000  # past this, the PQ scan goes through inverted lists
RERANK = 8  # candidates of the PQ scan reranked exactly over fp16 codes, per result asked
SEARCH_MARGIN = 16  # results asked beyond k of an approximate index, so deleted ids never leave it short
COMPACT_SHARE = 0.05  # deleted vectors an approximate index holds before it is rebuilt without them
_MAGIC = b"NXVI0001"
_omp_lock = threading.Lock()

Held: TypeAlias = "faiss.IndexIDMap2 | faiss.IndexIVFScalarQuantizer"


@contextmanager
def _single_thread() -> Iterator[None]:
    """One query or one small batch is faster, and k-means training deterministic, on one thread."""
    with _omp_lock:
        before = faiss.omp_get_max_threads()
        if before == 1:
            yield
            return
        faiss.omp_set_num_threads(1)
        try:
            yield
        finally:
            faiss.omp_set_num_threads(before)


class VectorIndex:
    """Inner-product search over L2-normalised vectors, by stable int64 ids.

    ``kind="auto"`` (default) searches exactly (a flat index over fp16 codes) up to ``flat_limit`` vectors,
    then converts itself to a 4-bit product-quantizer scan (``dim / 2`` sub-vectors, SIMD "fast scan")
    whose best ``rerank`` x k candidates are reranked exactly over fp16 codes; past ``ivf_limit`` the scan
    goes through ``nlist`` inverted lists (``nprobe`` searched per query). Each conversion trains once, by
    seeded k-means on the vectors held, on one thread: the same index in every process. Measured on chat
    embeddings (``docs/benchmarks.md``): top-40 recall against exact search 0.998 at 2x10^4 vectors,
    0.987 at 2x10^5 and 0.96 at 10^6, at a third of the exact scan's time at 2x10^4. ``"flat"`` stays exact.

    The approximate indexes cannot delete in place: a deleted id is left out of every result, and the index
    is rebuilt without the deleted vectors once they are :data:`COMPACT_SHARE` of it, and when it is saved.
    Indexes saved by earlier versions (IVF over fp16 codes, float32 flat) load and keep working.
    """

    def __init__(
        self,
        dim: int,
        *,
        kind: str = "auto",
        flat_limit: int = FLAT_LIMIT,
        ivf_limit: int = IVF_LIMIT,
        nlist: int = 1024,
        nprobe: int = 256,
        rerank: int = RERANK,
    ) -> None:
        if kind not in ("auto", "flat"):
            raise InvalidArgument(f"vector index kind must be 'auto' or 'flat', got {kind!r}")
        self.dim, self.kind, self.flat_limit, self.ivf_limit = dim, kind, flat_limit, ivf_limit
        self.nlist, self.nprobe, self.rerank = nlist, nprobe, rerank
        self._index: Held = faiss.IndexIDMap2(_flat_fp16(dim))
        self._deleted: set[int] = set()  # ids of an approximate index left out of results until it is rebuilt

    @property
    def is_flat(self) -> bool:
        """Whether searches are exact."""
        return isinstance(self._index, faiss.IndexIDMap2) and not isinstance(self._inner(), faiss.IndexRefine)

    def describe(self) -> str:
        """The index's stage: ``flat`` (exact), ``pq`` (PQ scan + rerank), ``ivf-pq`` (the same through
        inverted lists), or ``ivf-sq`` (an IVF over fp16 codes saved by an earlier version)."""
        inner = self._inner()
        if isinstance(inner, faiss.IndexRefine):
            return "ivf-pq" if isinstance(faiss.downcast_index(inner.base_index), faiss.IndexIVFPQFastScan) else "pq"
        return "flat" if inner is not None else "ivf-sq"

    @property
    def ntotal(self) -> int:
        """Vectors held (deleted ones not counted)."""
        return int(self._index.ntotal) - len(self._deleted)

    def __len__(self) -> int:
        return self.ntotal

    def _inner(self) -> faiss.Index | None:
        index = self._index
        return faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap2) else None

    def ids(self) -> npt.NDArray[np.int64]:
        """Held ids, sorted."""
        index = self._index
        if isinstance(index, faiss.IndexIDMap2):
            held = faiss.vector_to_array(index.id_map)
            if self._deleted:
                held = held[~np.isin(held, np.fromiter(self._deleted, dtype=np.int64))]
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
        if self._deleted and not self._deleted.isdisjoint(ids.tolist()):
            self._compact()  # an id added again must not stay hidden
        with _single_thread():
            self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))
        if self.kind != "auto" or not isinstance(self._index, faiss.IndexIDMap2):
            return
        stage = self.describe()
        if self.ntotal > self.ivf_limit and stage in ("flat", "pq"):
            self._convert(ivf=True)
        elif self.ntotal > self.flat_limit and stage == "flat":
            self._convert(ivf=False)

    def _held(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Every id held and its vector as stored (fp16 precision), deleted ones left out."""
        index = self._index
        assert isinstance(index, faiss.IndexIDMap2)
        ids = faiss.vector_to_array(index.id_map).astype(np.int64)
        inner = self._inner()
        stored = inner.refine_index if isinstance(inner, faiss.IndexRefine) else index.index
        vectors = stored.reconstruct_n(0, int(index.ntotal))
        if self._deleted:
            live = ~np.isin(ids, np.fromiter(self._deleted, dtype=np.int64))
            ids, vectors = ids[live], vectors[live]
        return ids, vectors

    def _convert(self, *, ivf: bool) -> None:
        """Rebuild as a PQ scan with an exact rerank (through inverted lists with ``ivf``), trained on the
        vectors held (a seeded sample of at most 100,000 for the lists)."""
        ids, vectors = self._held()
        subvectors = max(1, self.dim // 2)
        if ivf:
            nlist = max(1, min(self.nlist, len(ids) // 39))  # k-means wants >= 39 points per list
            spec = f"IVF{nlist},PQ{subvectors}x4fs,Refine(SQfp16)"
        else:
            spec = f"PQ{subvectors}x4fs,Refine(SQfp16)"
        built = faiss.index_factory(self.dim, spec, faiss.METRIC_INNER_PRODUCT)  # owns the index it names
        refine: Any = faiss.downcast_index(built)
        refine.k_factor = float(self.rerank)
        if ivf:
            faiss.extract_index_ivf(faiss.downcast_index(refine.base_index)).nprobe = min(self.nprobe, nlist)
        sample = vectors
        if len(vectors) > 100_000:
            sample = vectors[np.sort(np.random.default_rng(0).permutation(len(vectors))[:100_000])]
        with _single_thread():  # seeded and single-threaded: the same codebooks in every process
            built.train(np.ascontiguousarray(sample))
            mapped = faiss.IndexIDMap2(built)  # holds a reference to ``built``, so it lives as long
            mapped.add_with_ids(np.ascontiguousarray(vectors), ids)
        self._index, self._deleted = mapped, set()

    def _compact(self) -> None:
        """Rebuild an approximate index without its deleted vectors (the codebooks are kept)."""
        ids, vectors = self._held()
        with _single_thread():
            self._index.reset()
            self._index.add_with_ids(np.ascontiguousarray(vectors), ids)
        self._deleted = set()

    def vectors(self, ids: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        """The vectors held under ``ids`` (as stored: fp16 precision), of an exact (flat) index."""
        if not self.is_flat:
            raise InvalidArgument("only an exact (flat) index gives its vectors back by id")
        if len(ids) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._index.reconstruct(int(i)) for i in ids]).astype(np.float32)

    def remove(self, ids: npt.NDArray[np.int64]) -> None:
        """Delete ids."""
        if len(ids) == 0:
            return
        index = self._index
        if isinstance(index, faiss.IndexIDMap2) and isinstance(self._inner(), faiss.IndexRefine):
            self._deleted.update(int(i) for i in ids if _holds(index, int(i)))  # hidden now, compacted later
            if len(self._deleted) > COMPACT_SHARE * index.ntotal:
                self._compact()
            return
        self._index.remove_ids(np.asarray(ids, dtype=np.int64))  # type: ignore[arg-type]

    def search(self, vector: npt.NDArray[np.float32], k: int) -> list[tuple[int, float]]:
        """The ``k`` nearest ids with their inner products, best first."""
        if self.ntotal == 0 or k <= 0:
            return []
        query = np.ascontiguousarray(vector.reshape(1, self.dim), dtype=np.float32)
        want = min(k, self.ntotal)
        if self.is_flat or not isinstance(self._index, faiss.IndexIDMap2):
            with _single_thread():
                scores, ids = self._index.search(query, want)
            return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
        # Approximate: always SEARCH_MARGIN more (the same candidates whether or not some ids are deleted).
        held, fetch = int(self._index.ntotal), k + SEARCH_MARGIN
        while True:
            with _single_thread():
                scores, ids = self._index.search(query, min(fetch, held))
            hits = [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
            kept = [hit for hit in hits if hit[0] not in self._deleted] if self._deleted else hits
            if len(kept) >= want or fetch >= held:
                return kept[:want]
            fetch *= 2

    def save(self, path: Path) -> None:
        """Write the index atomically, followed by its SHA-256 so damage is detected on load (an approximate
        index is rebuilt without its deleted vectors first, so a file never holds one).

        FAISS writes straight to the temporary file (no in-memory copy of the index is made).
        """
        if self._deleted:
            self._compact()
        save_checked(path, lambda tmp: faiss.write_index(self._index, str(tmp)), _MAGIC)

    @classmethod
    def load(cls, path: Path, dim: int, *, kind: str = "auto", flat_limit: int = FLAT_LIMIT) -> VectorIndex:
        """Read a saved index; raises :class:`StoreCorrupted` if it is damaged or of another dimension."""
        verify_checked(path, _MAGIC, "vector index")
        try:
            index = faiss.read_index(str(path))  # streamed from the file; the trailer after it is not read
        except (RuntimeError, ValueError) as exc:
            raise StoreCorrupted(f"vector index {path} is unreadable: {exc}") from None
        known: Held
        inner = faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap2) else None
        if isinstance(index, faiss.IndexIDMap2) and isinstance(inner, (faiss.IndexScalarQuantizer, faiss.IndexFlat)):
            known = index  # an IndexFlat (float32) was saved by nexint 0.1
        elif isinstance(index, faiss.IndexIDMap2) and isinstance(inner, faiss.IndexRefine) and kind != "flat":
            known = index
        elif isinstance(index, faiss.IndexIVFScalarQuantizer) and kind != "flat":
            known = index  # the IVF of nexint 0.3 and earlier
        else:
            raise StoreCorrupted(f"vector index {path} is a {type(index).__name__}, not a {kind} index")
        if known.d != dim:
            raise StoreCorrupted(f"vector index {path} has dimension {known.d}, expected {dim}")
        loaded = cls(dim, kind=kind, flat_limit=flat_limit)
        loaded._index = known
        return loaded


def _holds(index: faiss.IndexIDMap2, vector_id: int) -> bool:
    """Whether the id map holds ``vector_id`` (its reverse map answers in O(1))."""
    try:
        index.reconstruct(vector_id)
    except RuntimeError:
        return False
    return True


def _flat_fp16(dim: int) -> faiss.IndexScalarQuantizer:
    """An exact index over fp16 codes: the precision vectors are stored in, at half the memory to scan."""
    return faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
