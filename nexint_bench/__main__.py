"""``python -m nexint_bench recall|latency ...``: ``memos bench`` without the ``memos`` command."""

from __future__ import annotations

from nexint_bench.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
