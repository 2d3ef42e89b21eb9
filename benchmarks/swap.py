"""Swap benchmark: write throughput and page-in latency with 10^4..10^6 pages in a persistent store.

One process fills a fresh store directory (tokenization, the default embedder, SQLite + FTS5 +
FAISS, all included): in batches through ``MemoryManager.write_many`` (``bulk_write_pages_per_s``),
then the last 2,000 pages of each size one ``write`` each, each its own durable transaction
(``write_pages_per_s``, ``write_p50_ms``, ``write_p99_ms``). Each time the archive reaches a size it
times ``page_in(query)`` for seeded queries. Text comes from a Zipf-distributed vocabulary, so
common words are as common as in real conversation.

    python benchmarks/swap.py                                  # 10^4, 10^5, 10^6
    python benchmarks/swap.py --sizes 10000,100000 --json out.json
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from nexint_core import MemoryManager, StepClock, Tier


def rss_mb() -> float:
    """Current resident set size in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Corpus:
    """Seeded synthetic turns: 20-60 words drawn from a Zipf vocabulary of made-up words."""

    def __init__(self, seed: int = 0, vocabulary: int = 50_000) -> None:
        self.rng = np.random.default_rng(seed)
        syllables = ["ka", "lo", "mi", "ren", "sa", "tor", "vel", "qui", "da", "no", "pe", "zu", "har", "bel"]
        picker = random.Random(seed)
        words: set[str] = set()
        while len(words) < vocabulary:
            words.add("".join(picker.choice(syllables) for _ in range(picker.randint(2, 5))))
        self.words = sorted(words)
        ranks = np.arange(1, vocabulary + 1, dtype=np.float64)
        weights = 1.0 / ranks**1.05
        self.cdf = np.cumsum(weights) / np.sum(weights)

    def _words(self, n: int) -> str:
        picks = np.searchsorted(self.cdf, self.rng.random(n))
        return " ".join(self.words[min(i, len(self.words) - 1)] for i in picks)

    def turn(self) -> str:
        return self._words(int(self.rng.integers(20, 61))) + "."

    def query(self) -> str:
        return "what about " + self._words(int(self.rng.integers(2, 6))) + "?"


SINGLE = 2_000  # pages written by one write() call each, at the end of every size


def emit(report: dict[str, Any], json_path: str | None) -> None:
    """Print a report as JSON, and write it to ``json_path`` if given."""
    text = json.dumps(report, indent=2)
    print(text)
    if json_path:
        Path(json_path).write_text(text + "\n", encoding="utf-8")


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def fill(
    mmu: MemoryManager, corpus: Corpus, written: int, size: int, single: int = SINGLE
) -> tuple[int, int, float, list[float]]:
    """Write pages until the store holds ``size``, the last ``single`` one ``write`` each: returns the new
    count, the pages and seconds of the batched writes, and the milliseconds of each single write."""
    # Most pages arrive in batches (write_many: one transaction, one embedding batch per 1,000 turns,
    # how a history is imported); the last `single` arrive one write() each, as turns in a live chat do.
    bulk_pages, bulk_s = 0, 0.0
    while written < size - single:
        turns = [("user", corpus.turn()) for _ in range(min(1_000, size - single - written))]
        start = time.perf_counter()
        pages = sum(len(ids) for ids in mmu.write_many(turns))
        bulk_s += time.perf_counter() - start
        bulk_pages += pages
        written += pages
    single_ms: list[float] = []
    while written < size:
        turn = corpus.turn()
        start = time.perf_counter()
        written += len(mmu.write("user", turn))
        single_ms.append((time.perf_counter() - start) * 1000)
    return written, bulk_pages, bulk_s, single_ms


def measure(
    mmu: MemoryManager, corpus: Corpus, written: int, size: int, queries: int, single: int = SINGLE
) -> tuple[int, dict[str, Any]]:
    """Fill the store to ``size`` pages (see :func:`fill`), then time ``queries`` page-ins and searches;
    returns the new count and the row of figures."""
    written, bulk_pages, bulk_s, single_ms = fill(mmu, corpus, written, size, single)
    latencies, text_ms, vector_ms, promoted = [], [], [], 0
    store = mmu.store
    for _ in range(queries):
        query = corpus.query()
        t0 = time.perf_counter()
        promoted += len(mmu.page_in(query))
        latencies.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        store.search_text(query, namespaces=["default"], k=40)
        text_ms.append((time.perf_counter() - t0) * 1000)
        vector = store.embedder.embed([query])[0]
        t0 = time.perf_counter()
        store.search_vector(vector, namespaces=["default"], k=40)
        vector_ms.append((time.perf_counter() - t0) * 1000)
    row = {
        "pages_in_store": written,
        "swap_pages": mmu.page_table.count(Tier.SWAP),
        "bulk_write_pages_per_s": round(bulk_pages / bulk_s, 1) if bulk_s else None,
        "write_pages_per_s": round(len(single_ms) / (sum(single_ms) / 1000), 1) if single_ms else None,
        "write_p50_ms": round(percentile(single_ms, 50), 3) if single_ms else None,
        "write_p99_ms": round(percentile(single_ms, 99), 3) if single_ms else None,
        "page_in_p50_ms": round(percentile(latencies, 50), 2),
        "page_in_p99_ms": round(percentile(latencies, 99), 2),
        "bm25_p50_ms": round(percentile(text_ms, 50), 2),
        "bm25_p99_ms": round(percentile(text_ms, 99), 2),
        "vector_p50_ms": round(percentile(vector_ms, 50), 2),
        "vector_p99_ms": round(percentile(vector_ms, 99), 2),
        "pages_promoted_per_query": round(promoted / queries, 2),
        "rss_mb": round(rss_mb(), 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    return written, row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--limit", type=int, default=4096, help="the manager's token limit")
    parser.add_argument("--dir", help="store directory (default: a fresh temporary one)")
    parser.add_argument("--json", dest="json_path")
    args = parser.parse_args(argv)
    sizes = sorted(int(size) for size in args.sizes.split(","))
    workdir = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="nexint-swap-bench-"))
    corpus = Corpus()
    mmu = MemoryManager(args.limit, store=workdir / "store", clock=StepClock())
    rows: list[dict[str, Any]] = []
    written = 0
    for size in sizes:
        written, row = measure(mmu, corpus, written, size, args.queries)
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    mmu.close()
    report = {
        "benchmark": "swap",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "limit_tokens": args.limit,
        "queries": args.queries,
        "embedder": mmu.store.embedder.name,
        "rows": rows,
    }
    emit(report, args.json_path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
