"""``benchmarks/postgres.py`` end to end at a tiny size, on the test server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.postgres

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "postgres.py"


def test_postgres_benchmark_quick_reports_store_and_writers(postgres_uri: str, tmp_path: Path) -> None:
    out = tmp_path / "postgres.json"
    tiny = ["--sizes", "200", "--single", "50", "--queries", "5", "--writer-pages", "100"]
    command = [sys.executable, str(SCRIPT), "--quick", *tiny, "--stores", "postgres", "--writers", "2"]
    done = subprocess.run(
        [*command, "--dsn", postgres_uri, "--json", str(out)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text(encoding="utf-8"))
    assert json.loads(done.stdout) == report
    assert "PostgreSQL" in report["server"]["version"]
    assert report["server"]["pgvector"]
    [row] = report["rows"]
    assert row["store"] == "postgres"
    assert row["pages_in_store"] == 200
    assert 0 < row["write_p50_ms"] <= row["write_p99_ms"]
    assert 0 < row["page_in_p50_ms"] <= row["page_in_p99_ms"]
    assert row["bulk_write_pages_per_s"] > 0
    [point] = report["writer_scaling"]
    assert point["writers"] == 2
    assert point["namespaces"] == "own"
    assert point["total_pages"] >= 200
    assert point["total_pages_per_s"] > 0
