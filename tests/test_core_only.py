"""``pytest tests/core`` with only the core installed: every optional package is made unimportable by
``tests/import_blocker.py``, and the core suite still collects, runs, and reports its PostgreSQL tests deselected."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.import_blocker import BLOCKED

ROOT = Path(__file__).resolve().parents[1]
PYTEST = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"]
CORE_ONLY = [*PYTEST, "-p", "tests.import_blocker"]
# The core suite, and one postgres test whose module imports nothing optional: the deselection is never vacuous.
COLLECTED = ["tests/core", "tests/bench/test_postgres_benchmark.py"]
# A real run, kept small (the whole core suite already runs once): the CLI and the tokenizer touch the
# optional packages (memos bench, LlamaIndex's bundled tiktoken cache), the import check reads every module.
SUBSET = [
    "tests/core/test_imports.py",
    "tests/core/test_tokens.py",
    "tests/core/test_cli.py::test_bench_without_its_entry_point_says_what_to_install",
    "tests/core/test_cli.py::test_commands_from_entry_points_join_memos",
    "tests/core/test_embedders.py",
    "tests/core/test_ids.py",
]
_COLLECTED = re.compile(r"^(\d+)(?:/(\d+))? tests? collected(?: \((\d+) deselected\))? in ", re.MULTILINE)


def pytest_run(command: list[str], basetemp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run pytest in ``ROOT``; its temporary directories go under ``basetemp``, never beside this run's (a
    new numbered one would retire the oldest, and with it the PostgreSQL server's data directory)."""
    return subprocess.run(
        [*command, f"--basetemp={basetemp}", *args], capture_output=True, text=True, cwd=ROOT, timeout=600, check=False
    )


def collected(result: subprocess.CompletedProcess[str]) -> tuple[int, int]:
    """(selected, deselected) from a ``--collect-only -q`` run that had no errors (an error would add
    ``, N errors`` before `` in``, and exit non-zero)."""
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    (match,) = _COLLECTED.finditer(result.stdout)
    return int(match[1]), int(match[3] or 0)


def test_core_only_blocker_makes_every_optional_package_unimportable() -> None:
    code = (
        "import importlib, tests.import_blocker\n"
        "tests.import_blocker.install()\n"
        "for name in sorted(tests.import_blocker.BLOCKED):\n"
        "    for module in (name, name + '.anything'):\n"
        "        try:\n"
        "            importlib.import_module(module)\n"
        "        except ModuleNotFoundError as error:\n"
        "            assert 'only the core is installed' in str(error), error\n"
        "        else:\n"
        "            raise AssertionError(module + ' imported')\n"
        "import nexint_core.cli, nexint_core.stores.postgres, nexint_core.importers, nexint_core.demo\n"
        "print(len(tests.import_blocker.BLOCKED))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{len(BLOCKED)}\n"
    assert {"langchain", "llama_index", "nexint_bench", "matplotlib", "psycopg", "pgserver"} <= BLOCKED


def test_core_only_collection_succeeds_and_reports_postgres_deselected(tmp_path: Path) -> None:
    marked, _ = collected(pytest_run(PYTEST, tmp_path / "all", "--collect-only", "-m", "postgres", *COLLECTED))
    assert marked >= 1
    result = pytest_run(CORE_ONLY, tmp_path / "core", "--collect-only", *COLLECTED)
    selected, deselected = collected(result)
    assert deselected == marked
    assert selected > 900
    plural = "s" if marked != 1 else ""
    assert f"{marked} test{plural} marked postgres deselected: not importable: psycopg" in result.stdout
    assert "PostgreSQL tests not run" in result.stdout


def test_core_only_core_tests_pass(tmp_path: Path) -> None:
    result = pytest_run(CORE_ONLY, tmp_path, "-x", *SUBSET)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"\d+ passed in [\d.]+s(?: \(\d+:\d\d:\d\d\))?", summary), summary
