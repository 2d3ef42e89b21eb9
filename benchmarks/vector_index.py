"""The vector index against exact search: top-k recall and query time at 2x10^4, 2x10^5 and 10^6 vectors.

The vectors are the default embedder's (WordLlama) of generated chat: the latency benchmark's turns
(made-up words, the hardest case) and small talk, every text distinct (small talk runs out of
distinct turns at a few tens of thousands: the latency benchmark's turns fill the rest). Queries are 200 held-out
turns of each kind, centred by the stored vectors' mean as page-in centres them. Each size builds the
``auto`` index (what a SQLite store uses) and the exact ``flat`` one from the same vectors, added 1,000
at a time, and reports the auto index's stage, its recall of the exact top ``k``, and the median query
time of both, warm and with the caches swept (a 64 MB buffer written before each query, as a chat turn's
other work does).

    python benchmarks/vector_index.py
    python benchmarks/vector_index.py --sizes 20000 --json out.json
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from typing import Any

import numpy as np
import numpy.typing as npt
from swap import emit

from nexint_bench._latency_worker import Conversation
from nexint_bench.synthetic import small_talk
from nexint_core.embedders import WordLlamaEmbedder
from nexint_core.vector_index import VectorIndex

_SWEEP = bytearray(64 << 20)


def texts(count: int, seed: int) -> list[str]:
    """``count`` distinct chat messages: small talk (draws of 2,000 distinct turns, repeats across draws left
    out) and the latency benchmark's turns, interleaved, the latter filling what small talk cannot."""
    talk: list[str] = []
    seen: set[str] = set()
    draw = 0
    while len(talk) < count // 2 and draw < 40:
        talk += [text for text in small_talk(2000, seed=seed + 100 + draw) if not (text in seen or seen.add(text))]
        draw += 1
    talk = talk[: count // 2]
    turns = [text for turn in Conversation(seed).turns((count - len(talk) + 1) // 2) for text in turn]
    mixed = [text for pair in zip(turns, talk, strict=False) for text in pair] + turns[len(talk) :]
    return mixed[:count]


def embed(embedder: WordLlamaEmbedder, rows: list[str]) -> npt.NDArray[np.float32]:
    return np.concatenate([embedder.embed(rows[start : start + 2000]) for start in range(0, len(rows), 2000)])


def timed(index: VectorIndex, queries: npt.NDArray[np.float32], k: int, *, cold: bool) -> list[float]:
    out = []
    for query in queries:
        if cold:
            _SWEEP[::4096] = b"\x01" * len(range(0, len(_SWEEP), 4096))
        started = time.perf_counter()
        index.search(query, k)
        out.append(1000 * (time.perf_counter() - started))
    return out


def measure(size: int, k: int, seed: int) -> dict[str, Any]:
    embedder = WordLlamaEmbedder()
    corpus = texts(size, seed)
    known = set(corpus)
    stored = embed(embedder, corpus)
    queries = embed(embedder, [text for text in texts(2000, seed + 5000) if text not in known][:400])  # held out
    centred = queries - stored.mean(axis=0)
    centred /= np.linalg.norm(centred, axis=1, keepdims=True)
    ids = np.arange(1, size + 1, dtype=np.int64)
    built: dict[str, VectorIndex] = {}
    build_s: dict[str, float] = {}
    for kind in ("auto", "flat"):
        index = VectorIndex(embedder.dim, kind=kind)
        started = time.perf_counter()
        for start in range(0, size, 1000):
            index.add(ids[start : start + 1000], stored[start : start + 1000])
        build_s[kind] = time.perf_counter() - started
        built[kind] = index
    recall = [
        len({hit for hit, _ in built["auto"].search(query, k)} & {hit for hit, _ in built["flat"].search(query, k)}) / k
        for query in centred
    ]
    row: dict[str, Any] = {
        "vectors": size,
        "k": k,
        "stage": built["auto"].describe(),
        "recall": round(float(np.mean(recall)), 4),
    }
    for kind, index in built.items():
        row[f"{kind}_cold_ms"] = round(statistics.median(timed(index, centred, k, cold=True)), 3)
        row[f"{kind}_warm_ms"] = round(statistics.median(timed(index, centred, k, cold=False)), 3)
        row[f"{kind}_build_s"] = round(build_s[kind], 2)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="20000,200000,1000000", help="vectors per index (default: 20000,200000,1000000)"
    )
    parser.add_argument("--k", type=int, default=40, help="results per query (default: 40, page-in's depth)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", dest="json_path", help="also write the report to this file")
    args = parser.parse_args(argv)
    rows = []
    for size in (int(part) for part in args.sizes.split(",")):
        rows.append(measure(size, args.k, args.seed))
        print(rows[-1], file=sys.stderr, flush=True)
    report = {
        "benchmark": "vector_index",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "rows": rows,
    }
    emit(report, args.json_path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
