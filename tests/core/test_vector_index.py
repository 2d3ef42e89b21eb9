"""VectorIndex: exact below the flat limit, a PQ scan with an exact rerank above it, inverted lists past the IVF
limit; stable ids, deletes (hidden, then compacted), checksummed files, older files still read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nexint_core.errors import InvalidArgument, StoreCorrupted
from nexint_core.vector_index import SEARCH_MARGIN, VectorIndex

DIM = 16


def unit_vectors(count: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((count, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def filled(count: int = 600, flat_limit: int = 200, first_id: int = 1000) -> tuple[VectorIndex, np.ndarray]:
    index = VectorIndex(DIM, flat_limit=flat_limit, nlist=8, nprobe=8)
    vectors = unit_vectors(count)
    for start in range(0, count, 50):
        index.add(
            np.arange(first_id + start, first_id + min(start + 50, count), dtype=np.int64), vectors[start : start + 50]
        )
    return index, vectors


def test_small_index_is_exact_and_converts_once_past_the_limit() -> None:
    index = VectorIndex(DIM, flat_limit=200, nlist=8, nprobe=8)
    vectors = unit_vectors(300)
    index.add(np.arange(200, dtype=np.int64), vectors[:200])
    assert index.is_flat
    index.add(np.arange(200, 300, dtype=np.int64), vectors[200:])
    assert not index.is_flat
    assert len(index) == 300
    assert index.ids().tolist() == list(range(300))


def test_ids_survive_conversion_and_every_vector_finds_itself() -> None:
    index, vectors = filled()
    # nprobe == nlist: every list is searched, so the IVF search is exact up to fp16 rounding
    for row in (0, 123, 599):
        best, score = index.search(vectors[row], 1)[0]
        assert best == 1000 + row
        assert score == pytest.approx(1.0, abs=1e-2)


def test_remove_is_exact_after_conversion() -> None:
    index, vectors = filled()
    index.remove(np.array([1000, 1001], dtype=np.int64))
    assert len(index) == 598
    assert 1000 not in index.ids()
    assert all(found != 1000 for found, _ in index.search(vectors[0], 50))


def test_search_returns_at_most_k_and_nothing_from_an_empty_index() -> None:
    assert VectorIndex(DIM).search(unit_vectors(1)[0], 5) == []
    index, vectors = filled(count=30)
    assert len(index.search(vectors[0], 5)) == 5
    assert len(index.search(vectors[0], 100)) == 30


def test_conversion_is_deterministic() -> None:
    first, _ = filled()
    second, _ = filled()
    query = unit_vectors(1, seed=9)[0]
    assert first.search(query, 20) == second.search(query, 20)


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    for count in (100, 600):  # flat and IVF
        index, vectors = filled(count=count)
        path = tmp_path / f"{count}.faiss"
        index.save(path)
        loaded = VectorIndex.load(path, DIM, flat_limit=200)
        assert loaded.is_flat == index.is_flat
        assert loaded.ids().tolist() == index.ids().tolist()
        assert loaded.search(vectors[7], 10) == index.search(vectors[7], 10)
        assert not list(tmp_path.glob(".*.tmp"))


def test_damaged_truncated_or_foreign_files_are_reported(tmp_path: Path) -> None:
    index, _ = filled(count=100)
    path = tmp_path / "v.faiss"
    index.save(path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(StoreCorrupted, match="checksum"):
        VectorIndex.load(path, DIM)
    path.write_bytes(b"short")
    with pytest.raises(StoreCorrupted):
        VectorIndex.load(path, DIM)
    index.save(path)
    with pytest.raises(StoreCorrupted, match="dimension"):
        VectorIndex.load(path, DIM * 2)
    with pytest.raises(StoreCorrupted, match="unreadable"):
        VectorIndex.load(tmp_path / "missing.faiss", DIM)


def test_an_approximate_file_is_refused_when_an_exact_index_is_asked_for(tmp_path: Path) -> None:
    index, _ = filled()
    index.save(tmp_path / "v.faiss")
    with pytest.raises(StoreCorrupted, match="not a flat index"):
        VectorIndex.load(tmp_path / "v.faiss", DIM, kind="flat")


def test_bad_arguments() -> None:
    with pytest.raises(InvalidArgument, match="kind"):
        VectorIndex(DIM, kind="hnsw")
    with pytest.raises(InvalidArgument, match="shape"):
        VectorIndex(DIM).add(np.arange(2, dtype=np.int64), unit_vectors(3))


def test_vector_index_reads_a_float32_flat_index_saved_by_nexint_0_1(tmp_path: Path) -> None:
    import hashlib

    import faiss

    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((50, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    legacy = faiss.IndexIDMap2(faiss.IndexFlatIP(16))
    legacy.add_with_ids(vectors, np.arange(100, 150, dtype=np.int64))
    path = tmp_path / "legacy.faiss"
    faiss.write_index(legacy, str(path))
    body = path.read_bytes()
    path.write_bytes(body + hashlib.sha256(body).digest() + b"NXVI0001")  # the trailer every version writes
    index = VectorIndex.load(path, 16)
    assert index.is_flat
    assert index.search(vectors[7], 1)[0][0] == 107
    index.add(np.array([200], dtype=np.int64), vectors[:1])
    assert {hit for hit, _ in index.search(vectors[0], 2)} == {100, 200}


def test_vector_index_flat_search_is_exact_over_fp16_codes() -> None:
    rng = np.random.default_rng(4)
    vectors = rng.standard_normal((500, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = VectorIndex(32, kind="flat")
    index.add(np.arange(1, 501, dtype=np.int64), vectors)
    query = rng.standard_normal(32).astype(np.float32)
    exact = vectors.astype(np.float16).astype(np.float32) @ query
    found = index.search(query, 10)
    assert [hit for hit, _ in found] == [int(i) + 1 for i in np.argsort(-exact, kind="stable")[:10]]
    assert [score for _, score in found] == pytest.approx(sorted(exact, reverse=True)[:10], abs=1e-4)


def exact_top(vectors: np.ndarray, query: np.ndarray, k: int, first_id: int = 0) -> list[int]:
    scores = vectors.astype(np.float16).astype(np.float32) @ query
    return [first_id + int(i) for i in np.argsort(-scores, kind="stable")[:k]]


def test_vector_index_converts_flat_then_pq_then_ivf_keeping_every_id() -> None:
    vectors = unit_vectors(3000, seed=11)
    index = VectorIndex(DIM, flat_limit=500, ivf_limit=1500, nlist=16, nprobe=16)
    stages = []
    for start in range(0, 3000, 250):
        index.add(np.arange(start, start + 250, dtype=np.int64), vectors[start : start + 250])
        stages.append(index.describe())
    assert stages[0] == "flat"
    assert "pq" in stages
    assert stages[-1] == "ivf-pq"
    assert stages.index("pq") == 2  # past 500
    assert stages.index("ivf-pq") == 6  # past 1,500
    assert not index.is_flat
    assert index.ids().tolist() == list(range(3000))
    for row in (0, 1234, 2999):
        assert index.search(vectors[row], 1)[0][0] == row


def test_vector_index_approximate_recall_against_exact_search() -> None:
    """The rerank keeps the approximate top 10 close to the exact one (fp16 codes both ways)."""
    vectors = unit_vectors(4000, seed=12)
    index = VectorIndex(DIM, flat_limit=1000)
    index.add(np.arange(4000, dtype=np.int64), vectors)
    assert index.describe() == "pq"
    queries = unit_vectors(100, seed=13)
    found = [{hit for hit, _ in index.search(query, 10)} for query in queries]
    recall = np.mean(
        [len(hits & set(exact_top(vectors, query, 10))) / 10 for hits, query in zip(found, queries, strict=True)]
    )
    assert recall >= 0.95


def test_vector_index_pq_deletes_are_hidden_then_compacted() -> None:
    vectors = unit_vectors(1200, seed=14)
    index = VectorIndex(DIM, flat_limit=500)
    index.add(np.arange(1200, dtype=np.int64), vectors)
    index.remove(np.array([3, 5, 99_999], dtype=np.int64))  # an id never held is ignored
    assert len(index) == 1198
    assert 3 not in index.ids().tolist()
    assert all(hit not in (3, 5) for hit, _ in index.search(vectors[3], 60))
    assert len(index.search(vectors[3], 60)) == 60
    index.add(np.array([3], dtype=np.int64), vectors[3:4])  # an id deleted and added again is found again
    assert index.search(vectors[3], 1)[0][0] == 3
    assert len(index) == 1199
    index.remove(np.arange(100, 200, dtype=np.int64))  # past 5% deleted: rebuilt without them
    assert len(index) == 1099
    assert index._index.ntotal == 1099  # nothing hidden left: compacted
    assert all(not 100 <= hit < 200 for hit, _ in index.search(vectors[150], 100))


def test_vector_index_pq_search_results_do_not_depend_on_hidden_deletions() -> None:
    """An approximate search always asks for the same margin, so a deletion changes no other result, and a
    saved (compacted) copy answers as the live index does."""
    vectors = unit_vectors(1500, seed=15)
    clean = VectorIndex(DIM, flat_limit=500)
    clean.add(np.arange(1500, dtype=np.int64), vectors)
    index = VectorIndex(DIM, flat_limit=500)
    index.add(np.arange(1500, dtype=np.int64), vectors)
    index.remove(np.array([7], dtype=np.int64))
    queries = unit_vectors(20, seed=16)
    for query in queries:
        scores, ids = clean._index.search(query.reshape(1, DIM), 20 + SEARCH_MARGIN)  # what both ask FAISS for
        expected = [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i != 7][:20]
        assert index.search(query, 20) == expected
        assert clean.search(query, 20) == [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True)][:20]


def test_vector_index_pq_save_compacts_and_round_trips(tmp_path: Path) -> None:
    vectors = unit_vectors(1500, seed=17)
    index = VectorIndex(DIM, flat_limit=500, ivf_limit=1000, nlist=8, nprobe=8)
    index.add(np.arange(1500, dtype=np.int64), vectors)
    index.remove(np.array([10, 11], dtype=np.int64))
    queries = unit_vectors(10, seed=18)
    before = [index.search(query, 15) for query in queries]
    index.save(tmp_path / "v.faiss")
    loaded = VectorIndex.load(tmp_path / "v.faiss", DIM)
    assert loaded.describe() == "ivf-pq"
    assert len(loaded) == 1498
    assert loaded.ids().tolist() == index.ids().tolist()
    assert [loaded.search(query, 15) for query in queries] == before
    loaded.add(np.array([5000], dtype=np.int64), vectors[:1])  # goes on growing after a load
    assert {hit for hit, _ in loaded.search(vectors[0], 2)} == {0, 5000}


def test_vector_index_builds_are_deterministic_at_every_stage() -> None:
    vectors = unit_vectors(2000, seed=19)

    def build() -> list[list[tuple[int, float]]]:
        index = VectorIndex(DIM, flat_limit=400, ivf_limit=1200, nlist=8, nprobe=4)
        for start in range(0, 2000, 100):
            index.add(np.arange(start, start + 100, dtype=np.int64), vectors[start : start + 100])
        return [index.search(query, 10) for query in unit_vectors(10, seed=20)]

    assert build() == build()


def test_vector_index_reads_and_updates_an_ivf_file_of_earlier_versions(tmp_path: Path) -> None:
    import hashlib

    import faiss

    vectors = unit_vectors(800, seed=21)
    legacy = faiss.IndexIVFScalarQuantizer(
        faiss.IndexFlatIP(DIM), DIM, 8, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
    )
    legacy.nprobe = 8
    legacy.train(vectors)
    legacy.add_with_ids(vectors, np.arange(800, dtype=np.int64))
    path = tmp_path / "legacy.faiss"
    faiss.write_index(legacy, str(path))
    body = path.read_bytes()
    path.write_bytes(body + hashlib.sha256(body).digest() + b"NXVI0001")
    index = VectorIndex.load(path, DIM)
    assert index.describe() == "ivf-sq"
    assert index.search(vectors[5], 1)[0][0] == 5
    index.remove(np.array([5], dtype=np.int64))
    assert len(index) == 799
    index.add(np.array([900], dtype=np.int64), vectors[5:6])
    assert index.search(vectors[5], 1)[0][0] == 900
