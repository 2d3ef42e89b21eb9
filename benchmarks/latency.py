"""Latency benchmark: per-turn cost of nexint and the LangChain and LlamaIndex memories as the history grows.

The same command as ``memos bench latency`` (options, output and errors), for people who run scripts. Each
point runs in a fresh process; points that do not fit ``--cap`` seconds are extrapolated and marked ``~``:

    python benchmarks/latency.py                                             # 10^2..10^5 turns, every memory
    python benchmarks/latency.py --lengths 100,1000,10000 --cap 60 --json latency.json --plot latency.png
    python benchmarks/latency.py --impls nexint,ctbm --turns-per-point 50
"""

from __future__ import annotations

import sys

from nexint_bench.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["latency", *sys.argv[1:]]))
