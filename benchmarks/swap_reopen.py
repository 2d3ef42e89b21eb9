"""Reopen a store that benchmarks/swap.py filled and time page-in with the current code.

Reports the reopen (page table load) and the first page-in (which loads the FAISS index) apart from
the steady page-in percentiles.

python benchmarks/swap.py --dir /tmp/bench            # fills /tmp/bench/store (10^4..10^6 pages)
python benchmarks/swap_reopen.py /tmp/bench/store --json out.json
"""

from __future__ import annotations

import argparse
import resource
import time

from swap import Corpus, emit, percentile, rss_mb

from nexint_core import MemoryManager, StepClock


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--limit", type=int, default=4096)
    parser.add_argument("--json", dest="json_path")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    mmu = MemoryManager(args.limit, store=args.store, clock=StepClock())
    reopen_s = time.perf_counter() - start
    corpus = Corpus(seed=1)  # other queries than the filling run asked
    start = time.perf_counter()
    mmu.page_in(corpus.query())  # the first vector search loads the namespace's FAISS index
    first_s = time.perf_counter() - start
    page_in, bm25 = [], []
    for _ in range(args.queries):
        query = corpus.query()
        t0 = time.perf_counter()
        mmu.page_in(query)
        page_in.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        mmu.store.search_text(query, namespaces=["default"], k=40)
        bm25.append((time.perf_counter() - t0) * 1000)
    row = {
        "pages_in_store": len(mmu),
        "reopen_s": round(reopen_s, 1),
        "first_page_in_s": round(first_s, 1),
        "page_in_p50_ms": round(percentile(page_in, 50), 2),
        "page_in_p99_ms": round(percentile(page_in, 99), 2),
        "bm25_p50_ms": round(percentile(bm25, 50), 2),
        "bm25_p99_ms": round(percentile(bm25, 99), 2),
        "rss_mb": round(rss_mb(), 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    mmu.close()
    emit(row, args.json_path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
