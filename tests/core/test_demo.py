from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from nexint_core import Tier
from nexint_core.demo import run_archive_demo, run_demo


def test_demo_runs_and_shows_eviction_and_page_in() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "nexint_core.demo"], capture_output=True, text=True, check=True, timeout=60
    )
    lines = result.stdout.splitlines()
    assert [line.split("]")[0] + "]" for line in lines] == [
        "[CORE]", "[MEMORY]", "[EVICT]", "[GROUP]", "[PAGE-IN]", "[EVENTS]", "[CONTEXT]",
        "[STORE]", "[REOPEN]", "[PAGE-IN]", "[ROUTES]",
    ]  # fmt: skip
    assert "LRU victim: last used t=" in result.stdout
    assert "matches: True" in result.stdout


def test_demo_archive_brings_the_fact_back_after_reopening(tmp_path: Path) -> None:
    out = io.StringIO()
    promoted = run_archive_demo(out, tmp_path / "store")
    assert "MSG-000001" in promoted
    assert "is in swap" in out.getvalue()
    assert "'retrieve': 1" in out.getvalue()


def test_demo_is_deterministic_under_every_policy() -> None:
    for policy in ("LRU", "LFU", "FIFO", "ARC", "importance"):
        first, second = io.StringIO(), io.StringIO()
        mmu = run_demo(first, policy=policy)
        run_demo(second, policy=policy)
        assert first.getvalue() == second.getvalue()
        assert mmu.usage()["core"] + mmu.usage()["active"] <= mmu.limit_tokens
        assert {page.tier for page in mmu.page_table if page.group_id == "call-1"} in ({Tier.ACTIVE}, {Tier.SWAP})
