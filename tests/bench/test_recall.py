"""``memos bench recall`` on a tiny generated LoCoMo file: reading, metric, baselines, protocols, the CLI."""

from __future__ import annotations

import argparse
import io
import json
import math
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from nexint_bench import recall
from nexint_core.embedders import HashingEmbedder
from nexint_core.errors import InvalidArgument, NexintError
from nexint_core.tokens import get_tokenizer
from tests.bench.locomo_sample import EXPECTED_COUNTS, locomo_data, write_locomo

TOKENIZER = get_tokenizer(None)


def bench(*argv: str) -> tuple[dict[str, Any], str]:
    """Run ``memos bench recall ARGV --json`` in process; returns the report and stdout."""
    parser = argparse.ArgumentParser()
    recall.add_arguments(parser)
    args = parser.parse_args([*argv, "--json"])
    out = io.StringIO()
    assert args.handler(args, out) == 0
    return json.loads(out.getvalue()), out.getvalue()


def read_dump(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_locomo(tmp_path_factory.mktemp("locomo") / "locomo_tiny.json")


@pytest.fixture(scope="module")
def end_run(data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Every method at two tight budgets, end protocol, with the contexts dumped."""
    dump = tmp_path_factory.mktemp("dump") / "contexts.jsonl"
    report, _ = bench("--data", str(data), "--budgets", "128,256", "--dump-contexts", str(dump))
    return report, read_dump(dump)


@pytest.fixture(scope="module")
def interleaved_run(
    data: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    dump = tmp_path_factory.mktemp("dump") / "contexts.jsonl"
    report, _ = bench(
        "--data", str(data), "--budgets", "128", "--protocol", "interleaved", "--methods", "window,nexint-LRU",
        "--dump-contexts", str(dump),
    )  # fmt: skip
    return report, read_dump(dump)


def lines_by_id() -> dict[tuple[str, str], str]:
    """``(sample_id, dia_id) -> "speaker: text"``, read from the generator's data, not through the benchmark."""
    out = {}
    for sample in locomo_data():
        for key, turns in sample["conversation"].items():
            if key.startswith("session_") and isinstance(turns, list):
                for turn in turns:
                    out[sample["sample_id"], turn["dia_id"]] = f"{turn['speaker']}: {turn['text']}"
    return out


# -- reading -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "ids"),
    [
        ("D1:3", ["D1:3"]),
        ("D8:6; D9:17", ["D8:6", "D9:17"]),
        ("D30:05", ["D30:5"]),
        ("D:11:26", ["D11:26"]),
        (" [D2:4] ", ["D2:4"]),
        ("D 1 : 6", ["D1:6"]),
        ("D9:1 D4:4 D4:6", ["D9:1", "D4:4", "D4:6"]),
        ("D", []),
        ("", []),
        (7, []),
    ],
)
def test_parse_evidence_normalises_malformed_ids(entry: object, ids: list[str]) -> None:
    assert recall.parse_evidence(entry) == ids


def test_read_samples_repairs_drops_and_excludes(data: Path) -> None:
    samples, digest = recall.read_samples(data)
    assert [sample.sample_id for sample in samples] == ["conv-a", "conv-b"]
    assert len(digest) == 64
    assert sum(sample.ids_repaired for sample in samples) == EXPECTED_COUNTS["repaired"]
    assert sum(sample.ids_dropped for sample in samples) == EXPECTED_COUNTS["dropped"]
    assert sum(sum(sample.categories_excluded.values()) for sample in samples) == EXPECTED_COUNTS["excluded"]
    assert sum(len(sample.questions) for sample in samples) == EXPECTED_COUNTS["scored"]
    a, b = samples
    assert [q.evidence for q in a.questions if q.category == 1] == [("D1:3", "D2:1")]
    assert [q.evidence for q in a.questions if q.text.startswith("When does")] == [("D1:5",)]
    assert [q.evidence for q in b.questions if q.text.startswith("What grows")] == [("D1:3", "D10:5")]
    # session_10 sorts after session_2 although the file lists it first; its date_time key is no turn
    assert [turn.dia_id for turn in b.turns][6:8] == ["D1:7", "D2:1"]
    assert b.turns[-1].dia_id == "D10:7"
    assert len(b.turns) == 21
    assert b.turns[0].time < b.turns[7].time < b.turns[14].time


# -- the metric ----------------------------------------------------------------------------------


def test_evidence_recall_counts_whole_turns_only() -> None:
    context = "## Recalled\n[MSG-000003 2023-05-08] Alice: I adopted a parrot.\nuser: Bruno: Hello there"
    assert recall.evidence_recall(context, ["Alice: I adopted a parrot."]) == 1.0
    assert recall.evidence_recall(context, ["Alice: I adopted a parrot.", "Bruno: Hello there, Alice!"]) == 0.5
    assert recall.evidence_recall(context, ["Bruno: I adopted a parrot."]) == 0.0  # another speaker's turn
    with pytest.raises(InvalidArgument):
        recall.evidence_recall(context, [])


# -- the baselines -------------------------------------------------------------------------------


def _costs(lines: list[str]) -> list[int]:
    return [TOKENIZER.count(line) + 1 for line in lines]


@pytest.mark.parametrize("budget", [1, 12, 40, 75, 200, 10_000])
def test_window_keeps_exactly_the_newest_turns_that_fit(data: Path, budget: int) -> None:
    samples, _ = recall.read_samples(data)
    lines = [turn.line for turn in samples[0].turns]
    end = 15
    text = recall.window_context(lines, _costs(lines), end, budget, TOKENIZER.count)
    kept = text.split("\n") if text else []
    assert kept == lines[end + 1 - len(kept) : end + 1]  # a suffix of the turns written so far
    assert TOKENIZER.count(text) <= budget
    if len(kept) <= end:  # one more (older) turn would not fit
        assert TOKENIZER.count("\n".join(lines[end - len(kept) : end + 1])) > budget
    else:
        assert budget == 10_000


def test_window_counts_the_joined_text_not_each_line() -> None:
    lines = [f"A: ok {n}." for n in range(40)]  # "." and the line break join into one token
    text = recall.window_context(lines, _costs(lines), 39, 60, TOKENIZER.count)
    kept = text.split("\n")
    assert TOKENIZER.count(text) <= 60 < TOKENIZER.count("\n".join(lines[39 - len(kept) :]))
    assert sum(_costs(kept)) - 1 > 60  # more than the per-line counts would have allowed


def test_bm25_ranks_the_matching_turn_first_and_only_sees_turns_written(data: Path) -> None:
    samples, _ = recall.read_samples(data)
    lines = [turn.line for turn in samples[0].turns]
    index = recall.Bm25Index(lines)
    parrot = lines.index("Alice: I adopted a parrot named Zephyr last spring and he keeps me company.")
    ranked = index.rank("What is the name of Alice's parrot?", len(lines) - 1)
    assert ranked[0] == parrot
    for end in range(len(lines)):  # only the turns written so far
        assert all(turn <= end for turn in index.rank("Zephyr the parrot, Clara and the cacti", end))
    assert index.rank("Zephyr parrot", parrot - 1) == []
    assert index.rank("zzz qqq", len(lines) - 1) == []


def test_vector_ranks_the_matching_turn_first(data: Path) -> None:
    samples, _ = recall.read_samples(data)
    lines = [turn.line for turn in samples[1].turns]
    index = recall.CosineIndex(lines, HashingEmbedder())
    ranked = index.rank("chess rating 1500", len(lines) - 1)
    assert lines[ranked[0]] == "Chen: Every evening, my rating reached 1500 last week."
    assert all(turn <= 10 for turn in index.rank("chess rating 1500", 10))


def test_pack_skips_a_turn_that_does_not_fit_and_renders_in_conversation_order() -> None:
    lines = ["A: " + "word " * 60, "B: short one", "C: another short one", "D: " + "long " * 40]
    costs = _costs(lines)
    budget = costs[1] + costs[2] + 5
    text = recall.pack([3, 0, 2, 1], lines, costs, budget, TOKENIZER.count)
    assert text == "B: short one\nC: another short one"
    assert recall.pack([], lines, costs, budget, TOKENIZER.count) == ""


# -- the runs ------------------------------------------------------------------------------------


def test_every_dumped_context_is_within_its_budget(end_run: tuple[dict[str, Any], list[dict[str, Any]]]) -> None:
    report, rows = end_run
    methods = report["config"]["methods"]
    assert methods == list(recall.METHODS)
    assert len(rows) == len(methods) * 2 * EXPECTED_COUNTS["scored"]
    for row in rows:
        assert TOKENIZER.count(row["context"]) <= row["budget"], (row["method"], row["budget"], row["question"])
    nexint = [row["context"] for row in rows if row["method"].startswith("nexint-")]
    assert all(context.endswith("## Current query\nuser: " + row) for context, row in zip(
        nexint, [r["question"] for r in rows if r["method"].startswith("nexint-")], strict=True
    ))  # fmt: skip


def test_rescoring_the_dump_reproduces_the_report(end_run: tuple[dict[str, Any], list[dict[str, Any]]]) -> None:
    report, rows = end_run
    lines = lines_by_id()
    scores: dict[tuple[str, str], dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        wanted = [lines[row["sample_id"], dia_id] for dia_id in row["evidence"]]
        found = sum(line in row["context"] for line in wanted)
        scores[row["method"], str(row["budget"])][row["category"]].append(found / len(wanted))
    for (method, budget), by_category in scores.items():
        result = report["results"][method][budget]
        overall = [score for category in (1, 2, 3, 4) for score in by_category[category]]
        assert result["recall"] == math.fsum(overall) / len(overall)
        assert result["all_present"] == sum(score == 1.0 for score in overall) / len(overall)
        assert result["questions"] == len(overall) == 10
        for category, values in by_category.items():
            assert result["per_category"][str(category)]["recall"] == math.fsum(values) / len(values)
        assert result["per_category"]["5"]["questions"] == 2  # reported, but not in the overall
    counts = report["counts"]
    assert counts["questions"] == {"1": 2, "2": 4, "3": 1, "4": 3, "5": 2}
    assert counts["questions_excluded"] == EXPECTED_COUNTS["excluded"]
    assert counts["evidence_ids_dropped"] == EXPECTED_COUNTS["dropped"]
    assert counts["evidence_ids_repaired"] == EXPECTED_COUNTS["repaired"]


def test_window_at_a_tight_budget_misses_early_evidence_at_the_end(
    end_run: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    _, rows = end_run
    early = [r for r in rows if r["method"] == "window" and r["budget"] == 128 and r["evidence"] == ["D1:3"]]
    assert len(early) == 1
    assert "parrot named Zephyr" not in early[0]["context"]


def test_interleaved_asks_each_question_right_after_its_evidence(
    interleaved_run: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    report, rows = interleaved_run
    lines = lines_by_id()
    window = [row for row in rows if row["method"] == "window"]
    assert len(window) == EXPECTED_COUNTS["scored"]
    for row in window:
        latest = lines[row["sample_id"], row["evidence"][-1]] if len(row["evidence"]) == 1 else None
        if latest is not None:  # one evidence turn: it is the newest turn, so the window holds it
            assert row["context"].endswith(latest), row["question"]
    single = [row for row in window if len(row["evidence"]) == 1 and row["category"] != 5]
    assert len(single) == 7
    assert report["config"]["protocol"] == "interleaved"


def test_interleaved_delay_is_clamped_at_the_conversation_end(data: Path) -> None:
    samples, _ = recall.read_samples(data)
    sample = samples[0]
    last = len(sample.turns) - 1
    plan = recall.schedule(sample, "interleaved", 3)
    assert [end for end, _ in plan] == sorted(end for end, _ in plan)
    for end, question in plan:
        assert end == min(question.turns[-1] + 3, last)
    assert {end for end, _ in recall.schedule(sample, "end", 0)} == {last}


def test_write_turns_writes_each_turn_whole_at_its_session_time(data: Path) -> None:
    samples, _ = recall.read_samples(data)
    turns = samples[1].turns
    manager = recall.make_manager("LRU", 4096)
    recall.write_turns(manager, turns)
    pages = manager.active_pages()
    assert [page.content for page in pages] == [turn.line for turn in turns]
    assert [page.created for page in pages] == [turn.time for turn in turns]
    assert len({turn.time for turn in turns}) == 3


def test_a_context_over_its_budget_stops_the_run(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    samples, _ = recall.read_samples(data)
    original = recall.nexint_context
    monkeypatch.setattr(
        recall,
        "nexint_context",
        lambda manager, question, budget: original(manager, question, budget) + " more" * budget,
    )
    with pytest.raises(NexintError, match=r"nexint-FIFO gave a context of \d+ tokens for a budget of 128"):
        recall.evaluate(samples, budgets=[128], methods=["window", "nexint-FIFO"])
    monkeypatch.undo()
    report = recall.evaluate(samples, budgets=[10_000], methods=["window", "nexint-FIFO"])
    assert report["results"]["nexint-FIFO"]["10000"]["recall"] == 1.0  # everything fits: every turn is there


# -- the command line ----------------------------------------------------------------------------


def memos(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("memos")), "bench", "recall", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_prints_a_json_report(data: Path) -> None:
    result = memos("--data", str(data), "--budgets", "256,512", "--methods", "bm25,window,nexint-LRU", "--json")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no progress when stderr is not a terminal
    report = json.loads(result.stdout)
    assert report["config"]["methods"] == ["nexint-LRU", "window", "bm25"]
    assert report["config"]["budgets"] == [256, 512]
    assert report["config"]["tokenizer"] == "cl100k_base"
    assert set(report["results"]["bm25"]) == {"256", "512"}
    assert 0.0 <= report["results"]["nexint-LRU"]["512"]["recall"] <= 1.0


def test_cli_prints_the_table(data: Path) -> None:
    result = memos("--data", str(data), "--budgets", "256", "--methods", "window,vector", "--conversations", "1")
    assert result.returncode == 0, result.stderr
    assert "1 conversation, 5 questions in categories 1-4 (+1 in category 5)" in result.stdout
    assert any(line.startswith("window") for line in result.stdout.splitlines())


@pytest.mark.parametrize(
    ("make", "args", "message"),
    [
        (None, ["--data", "{tmp}/missing.json"], "no such file"),
        ("not json {", ["--data", "{file}"], "not JSON"),
        ([{"sample_id": "x", "qa": []}], ["--data", "{file}"], "missing 'conversation'"),
        (True, ["--data", "{file}", "--budgets", "0"], "--budgets takes positive integers (tokens)"),
        (True, ["--data", "{file}", "--methods", "bm25,mem0"], "unknown method 'mem0'"),
        (True, ["--data", "{file}", "--conversations", "0-7"], "out of range"),
        (True, ["--data", "{file}", "--conversations", "a-b"], "not an index"),
    ],
)
def test_cli_bad_input_prints_one_error_line(tmp_path: Path, make: object, args: list[str], message: str) -> None:
    file = tmp_path / "data.json"
    if make is True:
        write_locomo(file)
    elif isinstance(make, str):
        file.write_text(make, encoding="utf-8")
    elif make is not None:
        file.write_text(json.dumps(make), encoding="utf-8")
    result = memos(*(arg.format(tmp=tmp_path, file=file) for arg in args))
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("[ERROR] ")
    assert message in lines[0]
    assert "Traceback" not in result.stderr


def test_the_example_shipped_for_the_readme_is_this_sample() -> None:
    shipped = Path(__file__).resolve().parents[2] / "examples" / "locomo_sample.json"
    assert json.loads(shipped.read_text(encoding="utf-8")) == locomo_data()
