"""Recall benchmark: evidence recall of nexint and the window, BM25 and vector baselines on LoCoMo-format data.

The same command as ``memos bench recall`` (options, output and errors), for people who run scripts:

    python benchmarks/recall.py --data /path/to/locomo10.json                       # the table
    python benchmarks/recall.py --data locomo10.json --conversations 0-1 --budgets 1024,4096 --json > recall.json
    python benchmarks/recall.py --data locomo10.json --protocol interleaved --delay 5 --dump-contexts contexts.jsonl
    python benchmarks/recall.py --data 'synthetic:reworded?seed=1'                    # a generated held-out set
"""

from __future__ import annotations

import sys

from nexint_bench.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["recall", *sys.argv[1:]]))
