"""``memos bench`` reaches ``memos`` through the ``nexint.commands`` entry point, and is the same command as
``python -m nexint_bench`` and ``benchmarks/*.py``, which never go through the core's command line."""

from __future__ import annotations

import ast
import io
import json
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from nexint_bench import cli as bench_cli
from nexint_bench.recall import METHODS
from nexint_core import cli as core_cli
from tests.bench.locomo_sample import write_locomo

ROOT = Path(__file__).resolve().parents[2]
MEMOS = Path(sys.executable).parent / "memos"
BENCH_HELP = "recall, per-turn cost and long-chat benchmarks against the frameworks' memories"


def run(*command: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, cwd=ROOT, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_locomo(tmp_path_factory.mktemp("locomo") / "locomo_tiny.json")


def test_cli_bench_is_registered_as_a_nexint_commands_entry_point() -> None:
    (entry,) = [entry for entry in entry_points(group=core_cli.COMMAND_GROUP) if entry.name == "bench"]
    assert entry.value == "nexint_bench.cli:add_bench_commands"
    assert entry.load() is bench_cli.add_bench_commands


def test_cli_memos_help_lists_bench_with_its_one_line_help() -> None:
    result = run(MEMOS, "--help")
    assert result.returncode == 0, result.stderr
    assert "{run,replay,inspect,log,import,reindex,sessions,bench}" in result.stdout
    assert " ".join(result.stdout.split("\n    bench", 1)[1].split()).startswith(BENCH_HELP)
    result = run(MEMOS, "bench", "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: memos bench [-h] {recall,latency,chat,generate} ...")


@pytest.mark.parametrize(
    "argv",
    [
        ["--budgets", "128,256", "--methods", "window,bm25,nexint-LRU"],
        ["--budgets", "128", "--methods", "nexint-LFU", "--protocol", "interleaved", "--json"],
    ],
)
def test_cli_nexint_bench_main_prints_what_memos_bench_prints(data: Path, argv: list[str]) -> None:
    through_memos, direct = io.StringIO(), io.StringIO()
    assert core_cli.main(["bench", "recall", "--data", str(data), *argv], out=through_memos) == 0
    assert bench_cli.main(["recall", "--data", str(data), *argv], out=direct) == 0
    if "--json" in argv:
        reports = [json.loads(out.getvalue()) for out in (through_memos, direct)]
        for report in reports:
            assert report.pop("seconds") >= 0
        assert reports[0] == reports[1]
    else:
        lines = [out.getvalue().splitlines() for out in (through_memos, direct)]
        assert lines[0][:-1] == lines[1][:-1]  # the last line ends with the seconds the run took
        assert lines[0][-1].rsplit(";", 1)[0] == lines[1][-1].rsplit(";", 1)[0]


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-m", "nexint_bench", "recall"],
        [sys.executable, ROOT / "benchmarks" / "recall.py"],
        [MEMOS, "bench", "recall"],
    ],
    ids=["python -m nexint_bench", "benchmarks/recall.py", "memos bench"],
)
def test_cli_every_way_in_reports_bad_input_alike(command: list[str | Path], tmp_path: Path) -> None:
    missing = run(*command, "--data", tmp_path / "missing.json")
    assert (missing.returncode, missing.stdout) == (1, "")
    assert missing.stderr == f"[ERROR] --data {tmp_path / 'missing.json'}: no such file\n"
    usage = run(*command, "--budgets", "128")
    assert (usage.returncode, usage.stdout) == (2, "")
    assert usage.stderr == "[ERROR] the following arguments are required: --data (see memos bench recall --help)\n"


def test_cli_python_m_nexint_bench_runs_the_benchmark(data: Path) -> None:
    result = run(sys.executable, "-m", "nexint_bench", "recall", "--data", data, "--budgets", "128", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["config"]["methods"] == list(METHODS)


@pytest.mark.parametrize("script", sorted((ROOT / "benchmarks").glob("*.py")), ids=lambda path: path.name)
def test_cli_benchmark_scripts_never_use_the_core_command_line(script: Path) -> None:
    tree = ast.parse(script.read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {
        f"{node.module}.{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    }
    assert imported, "no imports found"
    assert not {name for name in imported if name.startswith("nexint_core.cli")}, imported
