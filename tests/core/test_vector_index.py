"""VectorIndex: exact below the flat limit, IVF above it; stable ids, exact deletes, checksummed files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nexint_core.errors import InvalidArgument, StoreCorrupted
from nexint_core.vector_index import VectorIndex

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
