"""``memos bench latency``: real workers for every memory at tiny sizes, the cap, extrapolation, the CLI."""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from nexint_bench import latency
from nexint_bench._latency_worker import (
    LIMIT_TOKENS,
    MIN_TURNS,
    Conversation,
    LlamaMemory,
    TokenBufferMemory,
    make_memory,
)
from nexint_bench.cli import main as bench_main
from nexint_bench.latency import Point, WorkerResult, bench, extrapolate, fit_power_law, render_table, run_point
from nexint_core.cli import main
from nexint_core.errors import InvalidArgument
from nexint_core.tokens import get_tokenizer

MEMOS = Path(sys.executable).parent / "memos"


@pytest.fixture(scope="module")
def worker_rows() -> dict[str, dict[str, Any]]:
    """Every memory measured by a real worker process: 20 turns of history, 5 timed turns."""
    rows: dict[str, dict[str, Any]] = {}
    for impl in latency.IMPL_NAMES:
        result = run_point(impl, 20, measure_turns=5, cap=60.0, seed=7)
        assert not result.crashed, result.reason
        assert result.row is not None, result.reason
        rows[impl] = result.row
    return rows


def test_impl_names_are_nexint_with_each_embedder_and_the_four_other_memories() -> None:
    assert latency.IMPL_NAMES == ("nexint", "nexint-hashing", "ctbm", "trim", "chatbuffer", "memory")


@pytest.mark.parametrize("impl", ["nexint", "nexint-hashing", "ctbm", "trim", "chatbuffer", "memory"])
def test_worker_measures_a_point(worker_rows: dict[str, dict[str, Any]], impl: str) -> None:
    row = worker_rows[impl]
    assert row["impl"] == impl
    assert row["history_turns"] == row["prefilled_turns"] == 20
    assert row["measured_turns"] == 5
    assert 0 < row["p50_ms"] <= row["p99_ms"]
    assert row["peak_rss_mb"] > 0
    assert row["setup_s"] >= row["prefill_s"] >= 0


def test_worker_same_seed_same_messages_for_every_memory(worker_rows: dict[str, dict[str, Any]]) -> None:
    digests = {row["messages_sha1"] for row in worker_rows.values()}
    assert len(digests) == 1
    conversation = Conversation(7)
    for _ in range(20 + 1 + 5 + 1):  # history, warm-up turn, timed turns, the last next query
        conversation.turn()
    assert digests == {conversation.digest()}


def test_conversation_same_seed_same_turns_however_read() -> None:
    one, other = Conversation(3), Conversation(3)
    turns = [one.turn() for _ in range(600)]
    assert list(other.turns(250)) + list(other.turns(350)) == turns
    assert list(Conversation(4).turns(5)) != turns[:5]


def test_conversation_messages_are_20_to_120_words_with_a_zipf_head() -> None:
    turns = list(Conversation(0).turns(400))
    lengths = [len(text.split()) for turn in turns for text in turn]
    assert min(lengths) >= 20
    assert max(lengths) <= 120
    assert max(lengths) - min(lengths) > 60  # spread over the range, not one length
    counts = Counter(word.strip(".").lower() for turn in turns for text in turn for word in text.split())
    ranked = [word for word, _ in counts.most_common()]
    assert ranked[0] == "the"
    assert counts["the"] > 5 * counts[ranked[200]]
    assert len(counts) > 3000


def test_ctbm_counts_tokens_with_cl100k(tmp_path: Path) -> None:
    memory = TokenBufferMemory(tmp_path)
    text = "Tokens are counted with cl100k, not GPT-2."
    assert memory.memory.llm.get_num_tokens(text) == get_tokenizer(None).count(text)


@pytest.mark.parametrize("seed", range(6))
def test_ctbm_prefill_ends_where_saving_every_turn_ends(tmp_path: Path, seed: int) -> None:
    turns = list(Conversation(seed).turns(120))
    every = TokenBufferMemory(tmp_path)
    for user, assistant in turns:
        every.memory.save_context({"input": user}, {"output": assistant})
    shortcut = TokenBufferMemory(tmp_path)
    for start in range(0, len(turns), 40):
        shortcut.prefill(turns[start : start + 40])
    assert 0 < len(shortcut._tail) < len(turns) // 4  # only a short run of last turns is saved
    shortcut.finish_prefill()
    expected = [(type(m).__name__, m.content) for m in every.memory.chat_memory.messages]
    assert [(type(m).__name__, m.content) for m in shortcut.memory.chat_memory.messages] == expected
    assert 0 < len(expected) < 2 * len(turns)  # the buffer was pruned: the comparison means something
    tokens = every.memory.llm.get_num_tokens_from_messages(every.memory.chat_memory.messages)
    assert tokens <= LIMIT_TOKENS


def test_memory_prefill_ends_where_putting_every_message_ends(tmp_path: Path) -> None:
    from llama_index.core.base.llms.types import ChatMessage
    from llama_index.core.storage.chat_store.base_db import MessageStatus

    turns = list(Conversation(5).turns(LlamaMemory.REPLAYED_TURNS + 60))

    def state(memory: LlamaMemory) -> tuple[list[str], list[str]]:
        active = memory.memory.get_all(status=MessageStatus.ACTIVE)
        every = memory.memory.get_all(status=None)
        return [m.content or "" for m in active], [f"{m.role.value}:{m.content}" for m in every]

    (tmp_path / "every").mkdir()
    every = LlamaMemory(tmp_path / "every")
    try:
        for user, assistant in turns:
            every.memory.put(ChatMessage(role="user", content=user))
            every.memory.put(ChatMessage(role="assistant", content=assistant))
        expected = state(every)
    finally:
        every.close()
    (tmp_path / "shortcut").mkdir()
    shortcut = LlamaMemory(tmp_path / "shortcut")
    try:
        shortcut.prefill(turns[:50])
        shortcut.prefill(turns[50:])
        shortcut.finish_prefill()
        assert state(shortcut) == expected
    finally:
        shortcut.close()
    assert 0 < len(expected[0]) < len(expected[1]) == 2 * len(turns)  # messages were archived on the way


def test_make_memory_rejects_an_unknown_impl(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown implementation 'buffer'"):
        make_memory("buffer", tmp_path)


# -- extrapolation ---------------------------------------------------------------------------------


def test_fit_power_law_recovers_a_known_exponent() -> None:
    points = [(n, 0.25 * n**1.7) for n in (100, 1_000, 10_000)]
    coefficient, exponent = fit_power_law(points)
    assert exponent == pytest.approx(1.7)
    assert coefficient == pytest.approx(0.25)
    assert extrapolate(points, 100_000) == pytest.approx(0.25 * 100_000**1.7)


def test_fit_power_law_uses_the_two_longest_histories() -> None:
    points = [(10, 999.0), (1_000, 2.0), (100, 1.0)]  # the shortest is off the curve and must not count
    assert fit_power_law(points)[1] == pytest.approx(math.log(2) / math.log(10))
    assert extrapolate(points, 10_000) == pytest.approx(4.0)


def test_fit_power_law_holds_a_falling_cost_flat() -> None:
    assert extrapolate([(100, 8.0), (1_000, 5.0)], 100_000) == pytest.approx(5.0)


def test_fit_power_law_needs_two_lengths() -> None:
    with pytest.raises(InvalidArgument, match="two positive points"):
        fit_power_law([(100, 1.0)])


# -- the cap ---------------------------------------------------------------------------------------


def test_a_point_over_a_tiny_cap_is_extrapolated() -> None:
    points, failures = bench(["ctbm"], [20], turns_per_point=5, cap=0.001)
    assert failures == []
    [point] = points
    assert point.extrapolated
    assert point.peak_rss_mb is None
    assert point.measured_turns < MIN_TURNS
    assert "cap" in point.note


def test_a_point_predicted_over_the_cap_is_extrapolated_from_the_measured_ones() -> None:
    lines: list[str] = []
    points, failures = bench(
        ["nexint"], [20, 40, 100_000], turns_per_point=5, cap=20.0, setup_cap=20.0, progress=lines.append
    )
    assert failures == []
    short, longer, longest = points
    assert not short.extrapolated
    assert not longer.extrapolated
    assert longest.history_turns == 100_000
    assert longest.extrapolated
    assert longest.peak_rss_mb is None
    assert longest.measured_turns == 0
    assert "predicted" in longest.note
    # each measured history is taken at its middle timed turn: 5 timed turns after a warm-up one add 3
    expected = extrapolate([(23, short.p50_ms or 0.0), (43, longer.p50_ms or 0.0)], 100_000)
    assert longest.p50_ms == pytest.approx(expected, rel=1e-3)
    assert longest.p99_ms is not None
    assert longest.p99_ms >= longest.p50_ms
    assert not any("@ 100,000 turns ..." in line for line in lines)  # no worker was started for it


def test_a_worker_past_its_timeout_is_killed() -> None:
    result = run_point("nexint", 20, measure_turns=5, cap=60.0, seed=0, timeout=0.05)
    assert result == WorkerResult(None, result.reason, crashed=False)
    assert "killed" in result.reason


def scripted_runner(cap: float, calls: list[int]) -> latency.Runner:
    """A stand-in worker whose turns cost ``(n / 100) ** 2`` ms and setup ``n / 1000`` s, honouring the cap."""

    def run(impl: str, turns: int, *, measure_turns: int, cap: float = cap, seed: int = 0) -> WorkerResult:
        calls.append(turns)
        per_turn = (turns / 100) ** 2 / 1000
        setup = 1.0 + turns / 1000 + per_turn
        fits = max(0, min(measure_turns, int((cap - setup) / per_turn))) if setup < cap else 0
        row = {
            "impl": impl,
            "history_turns": turns,
            "prefilled_turns": turns,
            "measured_turns": fits,
            "p50_ms": per_turn * 1000 if fits else None,
            "p99_ms": per_turn * 1200 if fits else None,
            "peak_rss_mb": 100.0,
            "setup_s": setup,
            "prefill_s": turns / 1000,
        }
        return WorkerResult(row)

    return run


def test_an_anchor_length_is_measured_when_one_point_is_not_enough_to_fit() -> None:
    calls: list[int] = []
    # 100 turns: 1 ms a turn; 10,000 turns: 10 s a turn, too slow for 3 turns in 20 s; the anchor at 1,000 fits.
    runner = scripted_runner(20.0, calls)
    points, failures = bench(["x"], [100, 10_000, 100_000], turns_per_point=3, cap=20.0, runner=runner)
    assert failures == []
    assert calls == [100, 10_000, 1_000]  # 100,000 is never started: a shorter history already failed
    by_length = {point.history_turns: point for point in points}
    assert by_length[1_000].anchor
    assert not by_length[1_000].extrapolated
    assert by_length[10_000].extrapolated
    assert by_length[100_000].extrapolated
    timed = {point.history_turns: point.measured_turns for point in points}
    assert timed == {100: 3, 1_000: 3, 10_000: 0, 100_000: 0}
    middle = {turns: turns + (timed[turns] + 1) / 2 for turns in (100, 1_000)}  # at their middle timed turns
    fitted = extrapolate([(middle[100], 1.0), (middle[1_000], 100.0)], 10_000)
    assert by_length[10_000].p50_ms == pytest.approx(fitted, rel=1e-4)
    assert 10_000 < fitted < 10_500  # near the exponent 2 the runner was scripted with
    table = "\n".join(render_table(points, [100, 10_000, 100_000]))
    assert f"~{fitted:,.0f} / ~{fitted * 1.2:,.0f}" in table
    assert "also measured at 1,000 turns" in table


def test_a_crashed_worker_is_reported_and_its_point_extrapolated() -> None:
    def crash(impl: str, turns: int, **options: Any) -> WorkerResult:
        return WorkerResult(None, "the worker failed (exit status 1): boom", crashed=True)

    points, failures = bench(["nexint"], [10], runner=crash)
    assert failures == ["nexint @ 10 turns: the worker failed (exit status 1): boom"]
    assert points[0].extrapolated
    assert points[0].p50_ms is None


# -- output ----------------------------------------------------------------------------------------


def test_render_table_marks_extrapolated_values() -> None:
    points = [
        Point("nexint", 100, 4.0, 6.5, 108.0, False, 200, 0.4),
        Point("nexint", 1_000, 12.0, 20.0, None, True, 0, None, note="predicted"),
    ]
    lines = render_table(points, [100, 1_000])
    assert "100 turns" in lines[1]
    assert "1,000 turns" in lines[1]
    assert lines[2].split() == ["nexint", "4.00", "/", "6.50", "108", "MB", "~12.0", "/", "~20.0", "-"]


def test_write_plot_without_matplotlib_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    with pytest.raises(InvalidArgument, match=r"pip install 'nexint\[bench\]'"):
        latency.write_plot([], tmp_path / "plot.png", title="t")


def run_latency(cwd: Path, *argv: str) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    """``memos bench latency ARGV --json out.json`` in ``cwd``: the finished process and the rows it wrote."""
    result = subprocess.run(
        [str(MEMOS), "bench", "latency", *argv, "--json", "out.json"],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result, json.loads((cwd / "out.json").read_text(encoding="utf-8"))


def test_cli_writes_json_rows_and_a_png(tmp_path: Path) -> None:
    argv = ["--impls", "nexint,ctbm", "--lengths", "20,40", "--turns-per-point", "5", "--plot", "out.png"]
    result, rows = run_latency(tmp_path, *argv)
    assert [(row["impl"], row["history_turns"]) for row in rows] == [
        ("nexint", 20),
        ("nexint", 40),
        ("ctbm", 20),
        ("ctbm", 40),
    ]
    for row in rows:
        assert {"p50_ms", "p99_ms", "peak_rss_mb", "extrapolated", "measured_turns", "setup_s"} <= set(row)
        assert row["extrapolated"] is False
        assert row["measured_turns"] == 5
    assert (tmp_path / "out.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result.stdout.splitlines()[2].startswith("nexint")
    assert "[latency] nexint @ 20 turns" in result.stderr


def test_cli_keeps_the_rows_of_memories_not_run_again(tmp_path: Path) -> None:
    """``--keep`` joins an earlier run's rows of the other memories to this run's, in the default order; the
    re-run memory's old rows are replaced."""
    earlier = [
        {
            "impl": impl,
            "history_turns": turns,
            "p50_ms": p50,
            "p99_ms": p50 * 2,
            "peak_rss_mb": 100.0,
            "extrapolated": False,
            "measured_turns": 5,
            "setup_s": 0.1,
            "anchor": False,
            "note": "",
        }
        for impl, turns, p50 in (("nexint", 20, 999.0), ("trim", 20, 7.0), ("trim", 80, 9.0), ("ctbm", 20, 1.0))
    ]
    (tmp_path / "earlier.json").write_text(json.dumps(earlier), encoding="utf-8")
    argv = ["--impls", "nexint", "--lengths", "20", "--turns-per-point", "3", "--keep", "earlier.json"]
    result, rows = run_latency(tmp_path, *argv)
    assert [(row["impl"], row["history_turns"]) for row in rows] == [
        ("nexint", 20),
        ("ctbm", 20),
        ("trim", 20),
        ("trim", 80),
    ]
    assert rows[0]["p50_ms"] != 999.0
    assert rows[0]["measured_turns"] == 3
    assert rows[2]["p50_ms"] == 7.0
    assert result.stdout.splitlines()[1].split() == ["impl", "20", "turns", "80", "turns"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--keep", "missing.json"], "--keep missing.json: not a file of latency rows"),
        (["--lengths", "0"], "--lengths takes positive integers (turns)"),
        (["--lengths", "100,ten"], "--lengths takes positive integers"),
        (["--impls", "nexint,buffer"], "unknown memory 'buffer' in --impls"),
        (["--cap", "-1"], "--cap must be a positive number"),
        (["--cap", "nan"], "--cap must be a positive number"),
        (["--turns-per-point", "2"], "--turns-per-point must be at least 3"),
        (["--json", "missing/out.json"], "is not a directory"),
    ],
)
@pytest.mark.parametrize("through_memos", [True, False], ids=["memos bench", "nexint_bench.cli.main"])
def test_cli_rejects_bad_input(
    argv: list[str], message: str, through_memos: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    out = io.StringIO()
    if through_memos:
        assert main(["bench", "latency", *argv], out=out) == 1
    else:
        assert bench_main(["latency", *argv], out=out) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("[ERROR] ")
    assert message in lines[0]
    assert out.getvalue() == ""
