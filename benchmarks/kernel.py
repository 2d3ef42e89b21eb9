"""Kernel micro-benchmark: microseconds per write-with-eviction and per access, by policy and history size.

Pages hold realistic text (20-60 words from a seeded vocabulary, so the in-memory store's BM25
indexing is included) but are pre-counted (``ContextPage(..., tokens=n)``), so tokenization is
excluded, as the target asks. Each point writes ``n`` pages into a manager whose limit holds only a
few hundred, so every timed write evicts; the cost is timed over the last ``window`` writes (and
``window`` accesses of resident pages), so the figure at 10^6 pages is the per-operation cost with
10^6 pages in the table, not an average over a growing table.

    python benchmarks/kernel.py                       # 10^3, 10^5, 10^6 pages, every policy
    python benchmarks/kernel.py --sizes 1000,100000 --policies LRU,ARC --json out.json
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import sys
import time
from typing import Any

from nexint_core import POLICY_NAMES, ContextPage, MemoryManager, PageId, StepClock

LIMIT = 8192  # tokens; holds about 200 pages of 20-60 tokens, so every timed write evicts
VOCABULARY = [f"{a}{b}" for a in ("ka", "lo", "mi", "ren", "sa", "tor", "vel", "qui") for b in range(500)]


def measure(policy: str, pages: int, window: int, seed: int = 0) -> dict[str, Any]:
    """Fill a manager with ``pages`` pages; time the last ``window`` writes and ``window`` accesses.

    The timed writes all evict (the memory is full long before), and their page objects are built
    before the timer starts, so the figure is the manager's own cost per write-with-eviction.
    """
    rng = random.Random(seed)
    mmu = MemoryManager(
        LIMIT, policy=policy, core_budget=LIMIT // 8, clock=StepClock(), max_events=10_000, tokenizer="cl100k_base"
    )
    warm = pages - window

    def page(i: int) -> ContextPage:
        words = rng.randint(20, 60)
        text = " ".join(VOCABULARY[int(rng.paretovariate(1.1)) % len(VOCABULARY)] for _ in range(words))
        return ContextPage(PageId.make("MSG", i + 1), text, tokens=words, importance=rng.random())

    for i in range(warm):
        mmu.allocate(page(i))
    timed = [page(i) for i in range(warm, pages)]
    seq_before = mmu.events.last_seq
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter_ns()
        for item in timed:
            mmu.allocate(item)
        write_ns = (time.perf_counter_ns() - start) / window
        evictions = sum(1 for event in mmu.events if event.action == "evict" and event.seq > seq_before)
        resident = [p.id for p in mmu.active_pages()]
        picks = [resident[rng.randrange(len(resident))] for _ in range(window)]
        start = time.perf_counter_ns()
        for page_id in picks:
            mmu.touch(page_id)
        access_ns = (time.perf_counter_ns() - start) / window
    finally:
        gc.enable()
    return {
        "policy": policy,
        "pages_written": pages,
        "write_with_eviction_us": round(write_ns / 1000, 2),
        "access_us": round(access_ns / 1000, 2),
        "active_pages": len(resident),
        "evictions_per_timed_write": round(evictions / window, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,100000,1000000")
    parser.add_argument("--policies", default=",".join(POLICY_NAMES))
    parser.add_argument("--window", type=int, default=500, help="operations timed at the end of each run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per point; the median is reported")
    parser.add_argument("--json", dest="json_path", help="also write the figures to this file")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]
    rows = []
    for policy in args.policies.split(","):
        for size in sizes:
            runs = [measure(policy, size, min(args.window, size // 2), seed) for seed in range(args.repeat)]
            runs.sort(key=lambda row: row["write_with_eviction_us"])
            row = runs[len(runs) // 2]
            row["access_us"] = sorted(run["access_us"] for run in runs)[len(runs) // 2]
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
    flatness = {}
    for policy in args.policies.split(","):
        mine = [row for row in rows if row["policy"] == policy]
        first, last = mine[0], mine[-1]
        write_ratio = last["write_with_eviction_us"] / first["write_with_eviction_us"]
        flatness[policy] = {
            "write_ratio_largest_vs_smallest": round(write_ratio, 2),
            "access_ratio_largest_vs_smallest": round(last["access_us"] / first["access_us"], 2),
        }
    report = {
        "benchmark": "kernel",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "window": args.window,
        "repeat": args.repeat,
        "rows": rows,
        "flatness": flatness,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.json_path:
        with open(args.json_path, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
