"""Per-turn cost of prompt assembly: does it grow with history? (Not a timed test: it prints JSON.)

For each history size, a manager (in-memory store, 4,096-token limit) is filled with seeded turns; then
each measured turn is what an agent does per turn: ``write`` the user's message and ``assemble`` the
prompt for it (page-in included), then write the reply. Reported: microseconds per ``assemble``
without page-in and with it (median and p99), and tokenizer calls per assemble.

    python benchmarks/assembly.py
    python benchmarks/assembly.py --sizes 1000,10000 --json out.json
"""

from __future__ import annotations

import argparse
import platform
import time
from typing import Any

from swap import Corpus, emit, percentile

from nexint_core import MemoryManager, StepClock
from nexint_core.tokens import get_tokenizer


class CountingTokenizer:
    """The default tokenizer, counting calls."""

    def __init__(self) -> None:
        self._inner = get_tokenizer(None)
        self.name = self._inner.name
        self.calls = 0

    def encode(self, text: str) -> list[int]:
        self.calls += 1
        return self._inner.encode(text)

    def decode(self, tokens: list[int]) -> str:
        return self._inner.decode(tokens)

    def count(self, text: str) -> int:
        self.calls += 1
        return self._inner.count(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--json", dest="json_path")
    args = parser.parse_args(argv)
    rows: list[dict[str, Any]] = []
    for size in sorted(int(size) for size in args.sizes.split(",")):
        corpus = Corpus(seed=size)
        tokenizer = CountingTokenizer()
        mmu = MemoryManager(4096, clock=StepClock(), tokenizer=tokenizer)
        for start in range(0, size, 1_000):
            mmu.write_many([("user", corpus.turn()) for _ in range(min(1_000, size - start))])
        bare, full, calls = [], [], []
        for _ in range(args.turns):
            query = corpus.query()
            mmu.write("user", query)
            t0 = time.perf_counter()
            mmu.assemble(query, page_in=False)
            bare.append((time.perf_counter() - t0) * 1e6)
            before = tokenizer.calls
            t0 = time.perf_counter()
            prompt = mmu.assemble(query)
            full.append((time.perf_counter() - t0) * 1e6)
            calls.append(tokenizer.calls - before)
            mmu.write("assistant", corpus.turn())
        rows.append(
            {
                "pages": len(mmu),
                "assemble_us_p50": round(percentile(bare, 50), 1),
                "assemble_us_p99": round(percentile(bare, 99), 1),
                "assemble_with_page_in_us_p50": round(percentile(full, 50), 1),
                "assemble_with_page_in_us_p99": round(percentile(full, 99), 1),
                "tokenizer_calls_per_assemble_p50": percentile([float(c) for c in calls], 50),
                "prompt_tokens_last": prompt.tokens,
            }
        )
    emit(
        {
            "benchmark": "assembly",
            "python": platform.python_version(),
            "machine": platform.machine(),
            "limit_tokens": 4096,
            "turns": args.turns,
            "rows": rows,
        },
        args.json_path,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
