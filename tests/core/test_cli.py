"""The ``memos`` command line, driven as a real subprocess with ``NEXINT_HOME`` in a temporary directory.

Expensive runs (the demo query, the replays, the store built through the Python API) are shared by
module-scoped fixtures; every other test starts the CLI once or twice.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any, TextIO

import pytest

from nexint_core import MemoryManager, StepClock, cli
from nexint_core.cli import COMMAND_GROUP, offline_response

ROOT = Path(__file__).resolve().parents[2]
QUERY = "Summarize my preferences"
PROMPT_LINE = re.compile(r"\[PROMPT\] memory_tokens=(\d+)")
TURN_LINE = re.compile(
    r"turn +(\d+) (query|probe) promoted \d+(?: \([A-Z0-9 -]+\))?  evicted \d+  memory_tokens \d+  "
    r"stable_prefix \d+(  HIT|  MISS \(missing [A-Z0-9 -]+\))?"
)
PROBES_LINE = re.compile(r"probes (\d+)/(\d+) hit \((\d+\.\d%|n/a)\)  evictions \d+  page-ins \d+  .*")
POLICIES = ["LRU", "LFU", "ARC", "importance"]


def memos(
    *args: object, home: Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m nexint_core.cli ARGS`` (warnings as errors) with ``NEXINT_HOME=home``."""
    return subprocess.run(
        [sys.executable, "-W", "error", "-m", "nexint_core.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "NEXINT_HOME": str(home), **(env or {})},
        cwd=cwd if cwd is not None else home,
        timeout=120,
        check=False,
    )


def snapshot(directory: Path) -> dict[str, str]:
    """Every path under ``directory``: relative path -> sha256 of a file's bytes (or ``<dir>``)."""
    if not directory.exists():
        return {}
    return {
        path.relative_to(directory).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        if path.is_file()
        else "<dir>"
        for path in sorted(directory.rglob("*"))
    }


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single ``[ERROR] ...`` line a failed command printed on stderr."""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("[ERROR] "), result.stderr
    return lines[0]


@dataclass(frozen=True)
class BuiltStore:
    path: Path
    tiers: dict[str, str]
    events: list[dict[str, Any]]
    pinned: list[str]
    archived_fact: str


def build_store(path: Path) -> BuiltStore:
    """A real store written through the Python API: two pinned pages, notes, two pages paged out."""
    mmu = MemoryManager(512, store=path, clock=StepClock())
    rule = mmu.write("system", "Always answer in metric units.", kind="RUL", pin=True)[0]
    diet = mmu.write("user", "I am vegetarian and allergic to peanuts.", kind="PRF", importance=0.9)[0]
    mmu.pin(diet)
    notes = [mmu.write("user", f"Note {n}: hiking trip number {n} in the mountains.")[0] for n in range(6)]
    fact = mmu.write("user", "My favourite colour is teal.", kind="PRF", importance=0.6)[0]
    mmu.page_out(fact)
    mmu.page_out(notes[0])
    tiers = {str(page.id): str(page.tier) for page in mmu.page_table}
    events = [event.to_dict() for event in mmu.events]
    mmu.close()
    return BuiltStore(path, tiers, events, [rule, diet], fact)


def locomo_sample() -> list[dict[str, Any]]:
    """A tiny LoCoMo-format file: one conversation, two sessions, three questions (one without evidence)."""
    return [
        {
            "sample_id": "s1",
            "conversation": {
                "speaker_a": "Ann",
                "speaker_b": "Bob",
                "session_1_date_time": "1:56 pm on 8 May, 2023",
                "session_1": [
                    {"speaker": "Ann", "dia_id": "D1:1", "text": "My sister Ines lives in Porto, she teaches."},
                    {"speaker": "Bob", "dia_id": "D1:2", "text": "That sounds like a busy week."},
                    {"speaker": "Ann", "dia_id": "D1:3", "text": "My locker code at the gym is 4512."},
                ],
                "session_2_date_time": "2:00 pm on 9 May, 2023",
                "session_2": [
                    {"speaker": "Ann", "dia_id": "D2:1", "text": "I adopted a grey cat called Pixel."},
                    {"speaker": "Bob", "dia_id": "D2:2", "text": "Congratulations on the new cat!"},
                ],
            },
            "qa": [
                {"question": "Where does Ann's sister live?", "answer": "Porto", "evidence": ["D1:1"], "category": 1},
                {"question": "What is the name of Ann's cat?", "answer": "Pixel", "evidence": ["D2:1"], "category": 1},
                {"question": "What was never said?", "answer": "-", "evidence": ["D9:9"], "category": 2},
            ],
        }
    ]


# -- shared fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A NEXINT_HOME (and working directory) for commands that write nothing."""
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def golden(home: Path) -> subprocess.CompletedProcess[str]:
    return memos("run", "--query", QUERY, home=home)


@pytest.fixture(scope="module")
def golden_tokens(golden: subprocess.CompletedProcess[str]) -> int:
    match = PROMPT_LINE.search(golden.stdout)
    assert match is not None, golden.stdout
    return int(match.group(1))


@pytest.fixture(scope="module")
def built_store(tmp_path_factory: pytest.TempPathFactory) -> BuiltStore:
    """A store the read-only commands (inspect, log) look at."""
    return build_store(tmp_path_factory.mktemp("built") / "store")


@pytest.fixture(scope="module")
def target_store(tmp_path_factory: pytest.TempPathFactory) -> BuiltStore:
    """A store the failing commands are pointed at (kept apart, so a bug there cannot hide in other tests)."""
    return build_store(tmp_path_factory.mktemp("target") / "store")


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Malformed inputs: policy files, a session, chat JSONL and LoCoMo JSON."""
    files = tmp_path_factory.mktemp("bad")
    (files / "syntax.yaml").write_text("policy:\n  eviction: [LRU\n  memory_budget_tokens: 100\n", encoding="utf-8")
    (files / "value.yaml").write_text("policy:\n  eviction: LRU\n  memory_budget_tokens: -5\n", encoding="utf-8")
    (files / "eviction.yaml").write_text("policy:\n  eviction: MRU\n", encoding="utf-8")
    (files / "garbage.jsonl").write_text("this is not a session\n\x00\x01{{{\n", encoding="utf-8")
    (files / "chat_not_json.jsonl").write_text('{"role": "user", "content": "hello"}\nnot json\n', encoding="utf-8")
    (files / "chat_no_role.jsonl").write_text('{"content": "who said this?"}\n', encoding="utf-8")
    (files / "locomo_syntax.json").write_text('[{"sample_id": "x", "conversation": {', encoding="utf-8")
    broken = locomo_sample()
    del broken[0]["conversation"]["session_2"][1]["speaker"]
    (files / "locomo_no_speaker.json").write_text(json.dumps(broken), encoding="utf-8")
    return files


@dataclass(frozen=True)
class Replays:
    first: subprocess.CompletedProcess[str]
    second: subprocess.CompletedProcess[str]
    first_events: Path
    second_events: Path


@pytest.fixture(scope="module")
def replays(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Replays:
    """The bundled session replayed under LRU twice, in two processes with different hash seeds."""
    out = tmp_path_factory.mktemp("replays")
    runs = []
    for seed in (1, 2):
        events = out / f"events_{seed}.jsonl"
        args = ["replay", "--session", "session_01", "--policy", "LRU", "--events", events]
        runs.append(memos(*args, home=home, env={"PYTHONHASHSEED": str(seed)}))
    return Replays(runs[0], runs[1], out / "events_1.jsonl", out / "events_2.jsonl")


# -- run -------------------------------------------------------------------------------------------


def test_run_golden_path_prints_exactly_four_lines(golden: subprocess.CompletedProcess[str]) -> None:
    assert golden.returncode == 0, golden.stderr
    assert golden.stderr == ""
    lines = golden.stdout.splitlines()
    assert len(lines) == 4, golden.stdout
    assert lines[0] == "[CORE] 3 memories loaded"
    assert lines[1] == "[PAGING] 2 memories promoted"
    assert PROMPT_LINE.fullmatch(lines[2]), lines[2]
    assert lines[3] == "[RESULT] response includes PRF-00012"


def test_run_empty_query_fails_with_error_and_no_output(home: Path) -> None:
    result = memos("run", "--query", "", home=home)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == "[ERROR] empty query\n"


def test_run_console_script_exits_with_the_status_of_main(home: Path) -> None:
    script = Path(sys.executable).with_name("memos")
    result = subprocess.run(
        [str(script), "run", "--query", "   "],
        capture_output=True,
        text=True,
        env={**os.environ, "NEXINT_HOME": str(home)},
        cwd=home,
        timeout=120,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (1, "", "[ERROR] empty query\n")


def test_run_show_prompt_prints_the_assembled_prompt(home: Path, golden: subprocess.CompletedProcess[str]) -> None:
    result = memos("run", "--query", QUERY, "--show-prompt", home=home)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    expected = golden.stdout.splitlines()
    assert lines[:3] == expected[:3]
    assert lines[-1] == expected[-1]
    prompt = "\n".join(lines[3:-1])
    assert "## Core memory" in prompt
    assert "[PRF-00012" in prompt
    assert "[RUL-00001] Answer in the language the user writes in." in prompt
    assert prompt.index("## Core memory") < prompt.index("[PRF-00012")
    assert lines[-2] == f"user: {QUERY}"


def test_run_json_reports_the_same_run(home: Path, golden_tokens: int) -> None:
    result = memos("run", "--query", QUERY, "--json", home=home)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    report = json.loads(result.stdout)
    assert {"core_loaded", "promoted", "memory_tokens", "response_ids", "prompt"} <= report.keys()
    assert report["core_loaded"] == 3
    assert len(report["promoted"]) == 2
    assert "PRF-00012" in report["promoted"]
    assert report["memory_tokens"] == golden_tokens
    assert report["response_ids"] == ["PRF-00012"]
    assert report["prompt"]["memory_tokens"] == golden_tokens
    assert report["prompt"]["tokens"] <= report["prompt"]["budget"]
    assert "text" not in report["prompt"]  # the prompt text only with --show-prompt


@pytest.mark.parametrize("budget", [30, 100])
def test_run_budget_shrinks_memory_and_bounds_the_prompt(home: Path, golden_tokens: int, budget: int) -> None:
    result = memos("run", "--query", QUERY, "--json", "--budget", budget, home=home)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["memory_tokens"] < golden_tokens
    assert report["prompt"]["budget"] == budget
    assert report["prompt"]["tokens"] <= budget
    assert report["memory_tokens"] <= report["prompt"]["tokens"]


def test_run_store_reports_core_count_and_pages_the_fact_in(tmp_path: Path) -> None:
    store = build_store(tmp_path / "store")
    assert sorted(page_id for page_id, tier in store.tiers.items() if tier == "core") == sorted(store.pinned)
    assert store.tiers[store.archived_fact] == "swap"
    result = memos("run", "--store", store.path, "--query", "What is my favourite colour?", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == 4, result.stdout
    assert lines[0] == "[CORE] 2 memories loaded"
    assert lines[1] == "[PAGING] 1 memories promoted"
    assert PROMPT_LINE.fullmatch(lines[2]), lines[2]
    assert lines[3] == f"[RESULT] response includes {store.archived_fact}"


def test_offline_response_cites_recent_turns_by_id_too() -> None:
    mmu = MemoryManager(2000, clock=StepClock())
    fact = mmu.write("user", "Sam is allergic to shellfish.")[0]
    mmu.write("user", "We fly into Osaka in April.")
    prompt = mmu.assemble("What is Sam allergic to?")
    assert fact in prompt.section("recent").page_ids  # still a recent turn, not recalled from the archive
    assert offline_response(prompt) == f"From memory: [{fact}] user: Sam is allergic to shellfish."


# -- bad input: an [ERROR] line, a non-zero exit, nothing written ----------------------------------

BAD_INPUTS = [
    pytest.param(
        ["run", "--query", QUERY, "--store", "{store}", "--policy", "nope"],
        ["unknown policy 'nope'", "LRU, LFU, FIFO, ARC, importance"],
        id="unknown-policy",
    ),
    pytest.param(
        ["run", "--query", QUERY, "--store", "{tmp}/missing"], ["no store at", "missing"], id="run-missing-store"
    ),
    pytest.param(["log", "--store", "{tmp}/missing"], ["no store at", "missing"], id="log-missing-store"),
    pytest.param(
        ["run", "--query", QUERY, "--store", "{store}", "--policy", "{files}/syntax.yaml"],
        ["syntax.yaml", "not valid YAML", "line 3"],
        id="policy-yaml-syntax",
    ),
    pytest.param(
        ["run", "--query", QUERY, "--store", "{store}", "--policy", "{files}/value.yaml"],
        ["value.yaml", "memory_budget_tokens", "-5"],
        id="policy-bad-value",
    ),
    pytest.param(
        ["replay", "--session", "session_01", "--policy", "{files}/eviction.yaml", "--events", "{tmp}/events.jsonl"],
        ["eviction.yaml", "policy.eviction", "'MRU'"],
        id="policy-bad-eviction",
    ),
    pytest.param(
        ["replay", "--session", "{files}/garbage.jsonl", "--policy", "LRU", "--events", "{tmp}/events.jsonl"],
        ["garbage.jsonl", "line 1", "not JSON"],
        id="session-garbage",
    ),
    pytest.param(
        ["replay", "--session", "no_such_session", "--events", "{tmp}/events.jsonl"],
        ["no session named 'no_such_session'", "session_01"],
        id="session-unknown-name",
    ),
    pytest.param(
        ["run", "--query", QUERY, "--store", "{store}", "--budget", "0"], ["--budget", "got 0"], id="budget-zero"
    ),
    pytest.param(["run", "--query", QUERY, "--budget", "5"], ["budget of 5 tokens", "query"], id="budget-below-query"),
    pytest.param(
        ["replay", "--session", "session_01", "--compare", "LRU", "--events", "{tmp}/events.jsonl"],
        ["--compare needs at least two policies", "'LRU'"],
        id="compare-one-policy",
    ),
    pytest.param(
        ["replay", "--session", "session_01", "--policy", "LRU", "--compare", "LRU,LFU", "--events", "{tmp}/e.jsonl"],
        ["--policy or --compare, not both"],
        id="policy-and-compare",
    ),
    pytest.param(
        ["replay", "--session", "session_01", "--budget", "-5", "--events", "{tmp}/events.jsonl"],
        ["--budget must be a positive number of tokens, got -5"],
        id="replay-budget-negative",
    ),
    pytest.param(
        ["replay", "--session", "session_01", "--compare", "LRU,nope", "--events", "{tmp}/events.jsonl"],
        ["unknown policy 'nope'"],
        id="compare-unknown-policy",
    ),
    pytest.param(
        ["import", "{files}/chat_not_json.jsonl", "--store", "{tmp}/new", "--session-dir", "{tmp}/sessions"],
        ["chat_not_json.jsonl", "line 2", "not JSON"],
        id="import-chat-not-json-new-store",
    ),
    pytest.param(
        ["import", "{files}/chat_no_role.jsonl", "--store", "{store}", "--session-dir", "{tmp}/sessions"],
        ["chat_no_role.jsonl", "line 1", "role"],
        id="import-chat-no-role-existing-store",
    ),
    pytest.param(
        ["import", "{files}/locomo_syntax.json", "--store", "{tmp}/new", "--session-dir", "{tmp}/sessions"],
        ["locomo_syntax.json", "not JSON"],
        id="import-locomo-syntax-new-store",
    ),
    pytest.param(
        ["import", "{files}/locomo_no_speaker.json", "--store", "{store}", "--session-dir", "{tmp}/sessions"],
        ["locomo_no_speaker.json", "session_2 turn 1", "'speaker'"],
        id="import-locomo-no-speaker-existing-store",
    ),
]


@pytest.mark.parametrize(("args", "fragments"), BAD_INPUTS)
def test_cli_bad_input_fails_cleanly_and_writes_nothing(
    tmp_path: Path, target_store: BuiltStore, bad_files: Path, args: list[str], fragments: list[str]
) -> None:
    argv = [arg.format(store=target_store.path, files=bad_files, tmp=tmp_path) for arg in args]
    store_before = snapshot(target_store.path)
    files_before = snapshot(bad_files)
    assert "nexint.db" in store_before
    result = memos(*argv, home=tmp_path / "home", cwd=tmp_path)
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert result.stdout == ""
    message = error_line(result)
    for fragment in fragments:
        assert fragment in message, message
    assert snapshot(tmp_path) == {}  # no store, session, event file or NEXINT_HOME created
    assert snapshot(target_store.path) == store_before
    assert snapshot(bad_files) == files_before


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["run"], id="run-without-query"),
        pytest.param(["frobnicate"], id="unknown-command"),
        pytest.param(["run", "--query", QUERY, "--budget", "lots"], id="budget-not-int"),
        pytest.param(["inspect", "--tier", "attic"], id="unknown-tier"),
    ],
)
def test_parser_usage_error_prints_error_line_and_exits_2(tmp_path: Path, args: list[str]) -> None:
    result = memos(*args, home=tmp_path / "home", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    error_line(result)
    assert snapshot(tmp_path) == {}


# -- replay ----------------------------------------------------------------------------------------


def test_replay_is_byte_identical_across_processes(replays: Replays) -> None:
    for run in (replays.first, replays.second):
        assert run.returncode == 0, run.stderr
        assert run.stderr == ""
    assert replays.first.stdout == replays.second.stdout
    first_events = replays.first_events.read_bytes()
    assert first_events == replays.second_events.read_bytes()
    events = [json.loads(line) for line in first_events.decode("utf-8").splitlines()]
    assert events
    assert {event["policy"] for event in events} == {"LRU@1"}
    assert [event["seq"] for event in events] == list(range(1, len(events) + 1))


def test_replay_prints_every_turn_and_a_probe_summary(replays: Replays) -> None:
    lines = replays.first.stdout.splitlines()
    assert lines[0] == "session session_01 under policy LRU@1"
    assert lines[1].startswith("turn   1 ")
    turns = [TURN_LINE.fullmatch(line) for line in lines[1:-1]]
    assert all(turns), [line for line, turn in zip(lines[1:-1], turns, strict=True) if not turn]
    assert [int(turn.group(1)) for turn in turns if turn] == list(range(1, 71))  # 60 queries and 10 probes
    assert sum(1 for turn in turns if turn and turn.group(2) == "probe") == 10
    summary = PROBES_LINE.fullmatch(lines[-1])
    assert summary is not None, lines[-1]
    hits = sum(1 for line in lines if line.endswith("  HIT"))
    assert (int(summary.group(1)), int(summary.group(2))) == (hits, 10)


def test_replay_compare_prints_a_row_per_policy_and_divergences(home: Path, replays: Replays) -> None:
    result = memos("replay", "--session", "session_01", "--compare", ",".join(POLICIES), home=home)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == "session session_01"
    assert lines[1].split()[:3] == ["policy", "probe", "hits"]
    rows, divergences = lines[2 : 2 + len(POLICIES)], lines[2 + len(POLICIES) :]
    assert [row.split()[0] for row in rows] == [f"{name}@1" for name in POLICIES]
    assert len(divergences) == len(POLICIES) - 1
    for name, line in zip(POLICIES[1:], divergences, strict=True):
        assert re.match(rf"{name}@1 (first diverges from LRU@1 at turn \d+ \(|never diverges from LRU@1$)", line), line
    single = PROBES_LINE.fullmatch(replays.first.stdout.splitlines()[-1])
    assert single is not None
    assert rows[0].split()[1] == f"{single.group(1)}/{single.group(2)}"  # the LRU row agrees with the single replay


def test_replay_budget_replays_at_that_size(home: Path) -> None:
    result = memos("replay", "--session", "session_01", "--policy", "LRU", "--budget", "100", "--json", home=home)
    assert result.returncode == 0, result.stderr
    (run,) = json.loads(result.stdout)["runs"]
    assert run["probe_hits"] < run["probes"] == 10  # the recorded 600 tokens recall all ten
    assert all(turn["usage"]["core"] + turn["usage"]["active"] <= 100 for turn in run["turns"])


# -- inspect, log, sessions ------------------------------------------------------------------------


def test_inspect_prints_header_and_demo_page_table(home: Path) -> None:
    result = memos("inspect", home=home)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["id", "tier", "tokens", "importance", "last", "used", "uses"]
    assert len(lines) == 1 + 20  # the 20 bundled demo memories, one page each
    assert re.match(r"RUL-00001 +core +\d+ +1\.00 +\S+ +\d+$", lines[1]), lines[1]
    assert sum(1 for line in lines[1:] if line.split()[1] == "core") == 3


def test_inspect_tier_json_lists_only_that_tier(home: Path) -> None:
    result = memos("inspect", "--tier", "swap", "--json", home=home)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert isinstance(rows, list)
    assert rows
    assert {row["tier"] for row in rows} == {"swap"}
    ids = {row["id"] for row in rows}
    assert "PRF-00012" in ids
    assert not any(page_id.startswith("RUL-") for page_id in ids)


def test_inspect_store_shows_its_tiers_and_changes_nothing(built_store: BuiltStore) -> None:
    before = snapshot(built_store.path)
    result = memos("inspect", "--store", built_store.path, "--json", home=built_store.path.parent)
    assert result.returncode == 0, result.stderr
    assert {row["id"]: row["tier"] for row in json.loads(result.stdout)} == built_store.tiers
    assert snapshot(built_store.path) == before


def test_log_filters_by_action_and_id(home: Path) -> None:
    result = memos("log", "--action", "page_out", "--id", "PRF-00012", home=home)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    assert "PRF-00012" in lines[0]
    assert "page_out" in lines[0]
    assert "active->swap" in lines[0]


def test_log_store_json_is_the_stored_event_log(built_store: BuiltStore) -> None:
    before = snapshot(built_store.path)
    result = memos("log", "--store", built_store.path, "--json", home=built_store.path.parent)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert [json.loads(line) for line in result.stdout.splitlines()] == built_store.events
    assert snapshot(built_store.path) == before


def test_sessions_lists_the_bundled_session(tmp_path: Path) -> None:
    result = memos("sessions", home=tmp_path / "home", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    assert re.match(
        r"session_01 +121 messages +60 queries +10 probes  policy session_01@1  \S+session_01\.jsonl$", lines[0]
    )


# -- import ----------------------------------------------------------------------------------------


def test_import_locomo_writes_a_session_that_replays(tmp_path: Path) -> None:
    source = tmp_path / "tiny_locomo.json"
    source.write_text(json.dumps(locomo_sample()), encoding="utf-8")
    store, sessions = tmp_path / "store", tmp_path / "sessions"
    result = memos("import", source, "--store", store, "--session-dir", sessions, home=tmp_path / "home", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no progress bar when stderr is a pipe
    session = sessions / "locomo_s1.jsonl"
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    assert re.fullmatch(
        rf"\[IMPORT\] locomo_s1: 5 messages, 5 pages, 2 probes into {re.escape(str(store))} "
        rf"\(namespace s1\); session {re.escape(str(session))}",
        lines[0],
    ), lines[0]
    assert (store / "nexint.db").is_file()
    records = [json.loads(line) for line in session.read_text(encoding="utf-8").splitlines()]
    assert records[0]["type"] == "header"
    assert records[0]["name"] == "locomo_s1"
    assert [record["question"] for record in records if record["type"] == "probe"] == [
        "Where does Ann's sister live?",
        "What is the name of Ann's cat?",
    ]

    replayed = memos("replay", "--session", session, "--policy", "LRU", home=tmp_path / "home", cwd=tmp_path)
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stderr == ""
    out = replayed.stdout.splitlines()
    assert out[0] == "session locomo_s1 under policy LRU@1"
    assert [line.split()[:3] for line in out[1:-1]] == [["turn", "1", "probe"], ["turn", "2", "probe"]]
    assert out[-1].startswith("probes 2/2 hit (100.0%)")


def test_import_chat_jsonl_into_the_default_sessions_dir(tmp_path: Path) -> None:
    source = tmp_path / "chat.jsonl"
    source.write_text(
        '{"role": "user", "content": "I drink green tea every morning."}\n\n'
        '{"role": "assistant", "content": "Noted: green tea in the morning."}\n',
        encoding="utf-8",
    )
    home, store = tmp_path / "home", tmp_path / "store"
    result = memos("import", source, "--store", store, home=home, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    session = home / "sessions" / "chat.jsonl"
    assert result.stdout == (
        f"[IMPORT] chat: 2 messages, 2 pages, 0 probes into {store} (namespace default); session {session}\n"
    )
    records = [json.loads(line) for line in session.read_text(encoding="utf-8").splitlines()]
    assert [(record["type"], record.get("role")) for record in records] == [
        ("header", None),
        ("message", "user"),
        ("message", "assistant"),
    ]
    listed = memos("sessions", home=home, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert [line.split()[0] for line in listed.stdout.splitlines()] == ["chat", "session_01"]


# -- regressions -----------------------------------------------------------------------------------


def test_run_store_with_a_budget_below_the_query_changes_nothing(tmp_path: Path) -> None:
    built = build_store(tmp_path / "store")
    before = snapshot(built.path)
    result = memos(
        "run",
        "--store",
        built.path,
        "--query",
        "What is my favourite colour?",
        "--budget",
        "5",
        home=tmp_path / "h",
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert "budget of 5 tokens" in error_line(result)
    assert snapshot(built.path) == before  # checked before anything is paged in


@pytest.mark.parametrize("state", ["empty", "missing"])
def test_store_commands_refuse_a_store_that_lost_its_database(tmp_path: Path, state: str) -> None:
    built = build_store(tmp_path / "store")
    db = built.path / "nexint.db"
    if state == "empty":
        db.write_bytes(b"")
    else:
        db.unlink()
    chat = tmp_path / "chat.jsonl"
    chat.write_text('{"role": "user", "content": "I drink green tea."}\n', encoding="utf-8")
    before = snapshot(tmp_path)
    commands = [
        ["inspect", "--store", built.path],
        ["log", "--store", built.path],
        ["run", "--store", built.path, "--query", "What is my favourite colour?"],
        ["import", chat, "--store", built.path, "--session-dir", tmp_path / "sessions"],
    ]
    for command in commands:
        result = memos(*command, home=tmp_path / "home", cwd=tmp_path)
        assert (result.returncode, result.stdout) == (1, ""), command
        assert error_line(result).startswith(
            f"[ERROR] store {built.path} is damaged: nexint.db is {state} but {built.path / 'vectors'} holds index "
            "files (ns"
        ), command
        assert "nothing was changed (restore nexint.db from a backup" in result.stderr
        assert snapshot(tmp_path) == before, command


def test_replay_events_to_an_unwritable_path_is_an_error_line(tmp_path: Path) -> None:
    result = memos(
        "replay",
        "--session",
        "session_01",
        "--events",
        tmp_path / "no" / "dir.jsonl",
        home=tmp_path / "h",
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert "cannot write the event log" in error_line(result)


def test_log_limit_must_be_positive(tmp_path: Path) -> None:
    result = memos("log", "--limit", "0", home=tmp_path / "h", cwd=tmp_path)
    assert result.returncode == 2
    assert "positive integer" in error_line(result)


def test_log_piped_into_a_closed_reader_prints_no_traceback(tmp_path: Path) -> None:
    reader = subprocess.Popen(["head", "-n", "1"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    assert reader.stdin is not None
    writer = subprocess.run(
        [sys.executable, "-m", "nexint_core.cli", "log"],
        stdout=reader.stdin,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NEXINT_HOME": str(tmp_path)},
        timeout=120,
        check=False,
    )
    reader.stdin.close()
    reader.wait(timeout=30)
    assert "Traceback" not in writer.stderr


def test_sessions_reports_a_broken_file_and_still_lists_the_others(tmp_path: Path) -> None:
    (tmp_path / "sessions").mkdir()
    (tmp_path / "sessions" / "broken.jsonl").write_text("not json\n", encoding="utf-8")
    result = memos("sessions", "--dir", tmp_path / "sessions", home=tmp_path / "h", cwd=tmp_path)
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("broken")
    assert "unreadable" in lines[0]
    assert lines[1].startswith("session_01")


def test_log_numbers_continue_across_reopens(tmp_path: Path) -> None:
    built = build_store(tmp_path / "store")
    with MemoryManager(512, store=built.path, clock=StepClock()) as mmu:
        mmu.write("user", "One more note after the restart.")
    result = memos("log", "--store", built.path, "--json", home=tmp_path / "h", cwd=tmp_path)
    seqs = [json.loads(line)["seq"] for line in result.stdout.splitlines()]
    assert seqs == list(range(1, len(seqs) + 1))
    assert len(seqs) > len(built.events)


# -- commands from entry points (memos bench) ------------------------------------------------------


def add_hello(parser: argparse.ArgumentParser, parser_class: type[argparse.ArgumentParser]) -> None:
    """say hello

    A ``nexint.commands`` hook for these tests.
    """
    assert parser_class is type(parser)  # the [ERROR] parser, for the hook's own subcommands
    parser.add_argument("--name", required=True)
    parser.set_defaults(handler=hello)


def hello(args: argparse.Namespace, out: TextIO) -> int:
    print(f"hello {args.name}", file=out)
    return 0


def test_commands_from_entry_points_join_memos(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    entries = [EntryPoint(name, f"{__name__}:add_hello", COMMAND_GROUP) for name in ("hello", "run")]
    monkeypatch.setattr(cli, "entry_points", lambda group: entries if group == COMMAND_GROUP else [])
    out = io.StringIO()
    assert cli.main(["hello", "--name", "Ada"], out=out) == 0
    assert out.getvalue() == "hello Ada\n"
    with pytest.raises(SystemExit) as failed:
        cli.main(["hello"])
    assert failed.value.code == 2
    assert capsys.readouterr().err == "[ERROR] the following arguments are required: --name (see memos hello --help)\n"
    with pytest.raises(SystemExit) as shown:
        cli.main(["--help"])
    assert shown.value.code == 0
    assert re.search(r"\n    hello +say hello\n", capsys.readouterr().out)
    assert cli._parser().parse_args(["run", "--query", "q"]).handler is cli.cmd_run  # built-ins keep their names


def test_bench_without_its_entry_point_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "entry_points", lambda group: [])
    assert cli.main(["bench", "recall", "--data", "locomo10.json"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "[ERROR] memos bench needs the nexint_bench package, which ships with nexint: reinstall nexint\n"
    )


def test_bench_that_cannot_be_imported_prints_one_error_line(tmp_path: Path) -> None:
    code = (
        "import sys, tests.import_blocker\ntests.import_blocker.install()\n"
        "from nexint_core.cli import main\nsys.exit(main(sys.argv[1:]))"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code, "bench", "latency", "--cap", "1"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "NEXINT_HOME": str(tmp_path)},
        timeout=120,
        check=False,
    )
    assert (result.returncode, result.stdout) == (1, "")
    line = error_line(result)
    assert line.startswith("[ERROR] memos bench needs the nexint_bench package, which ships with nexint: reinstall")
    assert "(cannot import nexint_bench.cli:add_bench_commands: nexint_bench is blocked" in line


def test_run_llm_without_the_langchain_adapter_says_what_to_install(tmp_path: Path) -> None:
    code = (
        "import sys, tests.import_blocker\ntests.import_blocker.install()\n"
        "from nexint_core.cli import main\nsys.exit(main(sys.argv[1:]))"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code, "run", "--query", QUERY, "--llm", "openai:gpt-4o"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "NEXINT_HOME": str(tmp_path / "home")},
        timeout=120,
        check=False,
    )
    assert (result.returncode, result.stdout) == (1, "")
    line = error_line(result)
    assert line.startswith("[ERROR] --llm openai:gpt-4o needs the LangChain adapter, which cannot be imported (")
    assert line.endswith("): pip install 'nexint[langchain]'")
    assert snapshot(tmp_path) == {}
