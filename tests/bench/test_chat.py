"""``memos bench chat``: the chat generator's claims, the measures on messages with known answers, a tiny
run through every driver, and the CLI."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nexint_bench import chat
from nexint_bench._chat_drivers import METHODS, Recorder
from nexint_bench.chat import ChatIndex, Other, TokenCount, TurnScore, score_turn, summarize
from nexint_bench.chat_metrics import Msg, measure_call, orphaned_calls, present, shingles
from nexint_bench.chat_script import (
    MAX_RESULT_TOKENS,
    MIN_RESULT_TOKENS,
    Chat,
    ChatTurn,
    Fact,
    ToolCall,
    generate_chats,
)
from nexint_core.cli import main
from nexint_core.embedders import content_words, stem
from nexint_core.errors import InvalidArgument
from nexint_core.tokens import get_tokenizer

TOKENIZER = get_tokenizer(None)


@pytest.fixture(scope="module")
def chats() -> list[Chat]:
    return generate_chats(2, 300, 11, TOKENIZER)


# -- the generator -----------------------------------------------------------------------------------


def test_generate_chats_same_seed_same_chats(chats: list[Chat]) -> None:
    assert generate_chats(2, 300, 11, TOKENIZER) == chats
    other = generate_chats(2, 300, 12, TOKENIZER)
    assert [turn.user for turn in other[0].turns] != [turn.user for turn in chats[0].turns]


def test_generate_chats_have_the_turns_asked_for_of_every_kind(chats: list[Chat]) -> None:
    for generated in chats:
        assert len(generated.turns) == 300
        assert [turn.index for turn in generated.turns] == list(range(300))
        kinds = {turn.kind for turn in generated.turns}
        assert kinds == {"talk", "fact", "question", "tool"}
        assert sum(turn.kind == "tool" for turn in generated.turns) >= 30


def test_tool_results_are_50_to_8000_tokens_and_reach_both_ends(chats: list[Chat]) -> None:
    for generated in chats:
        calls = [turn.call for turn in generated.turns if turn.call is not None]
        sizes = [TOKENIZER.count(call.result) for call in calls]
        assert sizes == [call.result_tokens for call in calls]
        assert all(MIN_RESULT_TOKENS <= size <= MAX_RESULT_TOKENS for size in sizes)
        assert min(sizes) < 200
        assert max(sizes) > 7000
        assert sum(size > 1000 for size in sizes) >= 5  # over the smallest default budget on purpose
        assert {call.name for call in calls} == {"fetch_page", "list_files", "read_file"}


def test_tool_arguments_are_unique_in_the_run(chats: list[Chat]) -> None:
    arguments = [turn.call.argument for generated in chats for turn in generated.turns if turn.call is not None]
    assert len(arguments) == len(set(arguments))


def test_user_messages_are_of_mixed_length(chats: list[Chat]) -> None:
    sizes = [TOKENIZER.count(turn.user) for turn in chats[0].turns if turn.kind == "talk"]
    assert min(sizes) < 20
    assert max(sizes) > 300
    assert sum(size > 100 for size in sizes) > 10


def test_facts_are_unique_stated_early_and_asked_later_in_their_own_words(chats: list[Chat]) -> None:
    facts = [fact for generated in chats for fact in generated.facts]
    assert len({fact.text for fact in facts}) == len(facts) == 20
    for generated in chats:
        for fact in generated.facts:
            assert fact.stated < 300 // 4 <= 300 - 120 <= fact.asked
            assert generated.turns[fact.stated].kind == "fact"
            assert fact.text in generated.turns[fact.stated].user
            assert generated.turns[fact.asked].kind == "question"
            assert generated.turns[fact.asked].user.endswith(fact.question)
            asked = {stem(word) for word in content_words(fact.question)}
            stated = {stem(word) for word in content_words(fact.text)}
            assert len(asked & stated) >= 2, fact
            assert fact.answer in fact.text


def test_every_message_of_a_chat_is_unique_and_starts_index_the_user_messages(chats: list[Chat]) -> None:
    for generated in chats:
        messages = generated.messages()
        keys = [message.key() for message in messages]
        assert len(keys) == len(set(keys))
        starts = generated.starts()
        assert [messages[start].text for start in starts] == [turn.user for turn in generated.turns]


def test_generate_chats_rejects_too_few_turns_or_chats() -> None:
    with pytest.raises(InvalidArgument, match="--turns must be at least 4"):
        generate_chats(1, 3, 0, TOKENIZER)
    with pytest.raises(InvalidArgument, match="--chats must be at least 1"):
        generate_chats(0, 10, 0, TOKENIZER)


def test_a_short_chat_still_states_a_fact_calls_a_tool_and_asks() -> None:
    [short] = generate_chats(1, 4, 5, TOKENIZER)
    assert sorted(turn.kind for turn in short.turns) == ["fact", "question", "talk", "tool"]
    [fact] = short.facts
    assert fact.stated < fact.asked


# -- the measures ------------------------------------------------------------------------------------


def call(call_id: str, *more: str, text: str = "") -> Msg:
    return Msg("assistant", text, tuple((c, "read_file", '{"path": "/x"}') for c in (call_id, *more)))


def result(call_id: str, text: str = "ok") -> Msg:
    return Msg("tool", text, call_id=call_id)


@pytest.mark.parametrize(
    ("messages", "orphans"),
    [
        ([Msg("user", "hi"), call("a"), result("a"), Msg("assistant", "done")], 0),
        ([call("a", "b"), result("b"), result("a")], 0),
        ([call("a", "b"), result("a")], 1),  # b never answered
        ([result("a")], 1),  # a result with no call before it
        ([Msg("user", "hi"), result("a")], 1),
        ([call("a"), Msg("user", "hi"), result("a")], 2),  # the call unanswered, the result cut off from it
        ([call("a"), result("b")], 2),
        ([call("a"), result("a"), call("b")], 1),  # a call at the end: its result did not come with it
        ([Msg("system", "s"), Msg("user", "u")], 0),
    ],
)
def test_orphaned_calls_counts_calls_without_results_and_results_without_calls(
    messages: list[Msg], orphans: int
) -> None:
    assert orphaned_calls(messages) == orphans


def test_present_needs_the_same_role_text_and_calls() -> None:
    wanted = [Msg("user", "My locker code at the gym is 4512."), call("a", text="Opening."), result("a", "line")]
    assert present(wanted, [Msg("user", "My  locker code at the gym\nis 4512. "), call("a", text="Opening.")]) == [
        True,
        True,
        False,
    ]
    folded = [Msg("system", "Recalled: user: My locker code at the gym is 4512."), call("b", text="Opening.")]
    assert present(wanted, folded) == [False, False, False]
    assert present(wanted, [Msg("assistant", "My locker code at the gym is 4512."), result("a", "line")]) == [
        False,
        False,
        True,
    ]


def test_measure_call_counts_text_and_tool_calls_against_the_budget() -> None:
    messages = [Msg("system", "Be brief."), Msg("user", "Open /x please."), call("a", text="Opening."), result("a")]
    expected = sum(TOKENIZER.count(text) for text in ("Be brief.", "Open /x please.", "Opening.", "ok"))
    expected += TOKENIZER.count('read_file({"path": "/x"})')
    measure = measure_call(messages, expected - 3, TOKENIZER.count)
    assert (measure.tokens, measure.over, measure.orphaned, measure.messages) == (expected, 3, 0, 4)
    assert measure_call(messages, expected, TOKENIZER.count).over == 0


def test_token_count_counts_known_and_new_texts_as_the_tokenizer_does() -> None:
    known = small_chat()
    count = TokenCount(TOKENIZER, [known])
    for text in [message.text for message in known.messages()] + ["A text no chat holds, counted afresh."]:
        assert count(text) == TOKENIZER.count(text)


def test_shingles_are_word_runs_inside_sentences() -> None:
    text = "Nadia told me that the fair was fun. My cousin's wedding plans turned out fine.\nOk then"
    assert shingles("the fair was fun, Nadia said") <= shingles("The fair was fun, Nadia said today.")
    assert hash(("that", "the", "fair", "was", "fun")) not in shingles(text)  # five words: runs are six
    assert hash(("told", "me", "that", "the", "fair", "was")) in shingles(text)
    assert hash(("fun", "my", "cousin's", "wedding", "plans", "turned")) not in shingles(text)  # across a sentence
    assert hash(("ok", "then")) in shingles(text)  # a short sentence is one run
    assert shingles("") == set()


def small_chat() -> Chat:
    """Turns: 0 talk, 1 fact, 2 tool, 3 question; messages u0 a0 | u1 a1 | u2 c2 r2 a2 | u3 a3."""
    fact = Fact("locker", "My locker code at the gym is 4512.", "What is my locker code at the gym?", "4512", 1, 3)
    tool = ToolCall("call_2", "read_file", "/x", "line one\nline two", 5)
    turns = (
        ChatTurn(0, "talk", "Hello there, I baked bread today.", "Lovely, how did it turn out?"),
        ChatTurn(1, "fact", fact.text, "Noted, I will remember that.", fact=fact),
        ChatTurn(2, "tool", "Open the file /x please.", "/x has 2 lines.", call=tool, call_text="Opening /x."),
        ChatTurn(3, "question", fact.question, "From what you told me earlier: 4512.", fact=fact),
    )
    return Chat("s", turns, (fact,))


def score(turn: int, inputs: list[list[Msg]], *, recent: int = 6, other: Other | None = None) -> TurnScore:
    return score_turn(
        ChatIndex.of(small_chat()), turn, inputs, budget=20, recent=recent, count=TOKENIZER.count, other=other
    )


def test_score_turn_counts_the_recent_messages_that_reached_the_first_call() -> None:
    messages = small_chat().messages()  # 10 messages; turn 3's user message is messages[8]
    everything = [Msg("system", "Be brief."), *messages[:9]]
    full = score(3, [everything])
    assert (full.recent_present, full.recent_expected, full.current_present) == (6, 6, True)
    gapped = [Msg("system", "Be brief."), messages[2], messages[4], messages[5], messages[8]]  # no a1, r2 or a2
    partial = score(3, [gapped])
    assert (partial.recent_present, partial.recent_expected, partial.current_present) == (3, 6, True)
    assert partial.orphaned == 1  # the call without its result
    no_question = score(3, [messages[2:8]])
    assert (no_question.recent_present, no_question.current_present) == (6, False)
    assert score(3, [everything], recent=2).recent_expected == 2
    first = score(0, [[messages[0]]])
    assert (first.recent_present, first.recent_expected, first.current_present) == (0, 0, True)


def test_score_turn_checks_the_tool_turns_own_result_in_the_second_call() -> None:
    messages = small_chat().messages()  # turn 2: u2 c2 r2 at 4, 5, 6
    both = score(2, [messages[:5], messages[:7]])
    assert both.own_result is True
    assert both.calls == 2
    assert both.orphaned == 0
    only_first = score(2, [messages[:5]])
    assert only_first.own_result is False
    cut = score(2, [messages[:5], [*messages[:6], messages[7]]])  # the result trimmed away
    assert cut.own_result is False
    assert cut.orphaned == 1
    assert score(1, [messages[:3]]).own_result is None


def test_score_turn_finds_the_fact_anywhere_in_the_question_turns_input() -> None:
    messages = small_chat().messages()
    in_system = [Msg("system", "Recalled from the archive:\n- user: My locker code at the gym is 4512."), messages[8]]
    assert score(3, [in_system]).recalled is True
    assert score(3, [[Msg("system", "Nothing."), messages[8]]]).recalled is False
    assert score(3, []).recalled is False  # no call at all
    assert score(2, [messages[:5]]).recalled is None


def test_score_turn_measures_tokens_over_the_budget_of_the_largest_call() -> None:
    messages = small_chat().messages()
    turn = score(2, [messages[:5], messages[:7]])
    expected = sum(TOKENIZER.count(m.text) for m in messages[:7]) + TOKENIZER.count('read_file({"path": "/x"})')
    assert turn.tokens == expected
    assert turn.over == expected - 20


def test_score_turn_flags_text_only_the_other_thread_said() -> None:
    own = ChatIndex.of(small_chat())
    stranger_turns = (ChatTurn(0, "talk", "My flight to Oslo leaves from gate B12 tomorrow morning.", "Safe travels."),)
    stranger = ChatIndex.of(Chat("t", stranger_turns, ()))
    other = Other.of(own, stranger)
    messages = small_chat().messages()
    assert score(1, [messages[:3]], other=other).leaked is False
    copied = [Msg("user", "My flight to Oslo leaves from gate B12 tomorrow morning."), messages[2]]
    assert score(1, [copied], other=other).leaked is True
    recalled = [Msg("system", "Archive:\n[p3] user: my flight to Oslo leaves from gate B12 tomorrow"), messages[2]]
    assert score(1, [recalled], other=other).leaked is True
    shared = [Msg("system", "Safe travels."), messages[2]]  # a short message of the other thread, whole
    assert score(1, [shared], other=other).leaked is True
    assert score(1, [messages[:3]]).leaked is None


def scored(
    turn: int, present: int, *, expected: int = 6, current: bool = True, error: str | None = None, over: int = 0
) -> TurnScore:
    return TurnScore("c", turn, "talk", 1, present, expected, current, None, 0, 10, over, None, None, 0.01, error)


def test_summarize_aggregates_the_turns() -> None:
    scores = [
        scored(0, 0, expected=0),
        scored(1, 6),
        scored(2, 3, over=40),
        scored(3, 6, current=False),
        scored(4, 0, current=False, error="PageTooLarge: too big"),
        scored(5, 6, over=7),
    ]
    summary = summarize(scores, 6)
    assert summary["turns"] == 6
    assert summary["recent_all_share"] == pytest.approx(3 / 6)  # turns 0, 1 and 5
    assert summary["recent_min"] == 0
    assert summary["recent_mean"] == pytest.approx((6 + 3 + 6 + 0 + 6) / 5)  # turn 0 had no full window
    assert summary["current_missing"] == 2
    assert (summary["over_budget_turns"], summary["max_over"]) == (2, 40)
    assert summary["failures"] == 1
    assert summary["failures_by_error"] == {"PageTooLarge": 1}
    assert summary["first_failure"] == {"chat": "c", "turn": 4, "error": "PageTooLarge: too big"}
    assert summary["leak_turns"] is None
    assert summary["recall"] is None
    assert summary["ms_mean"] == pytest.approx(10.0)


# -- the drivers, end to end -------------------------------------------------------------------------

TINY_TURNS = 16


@pytest.fixture(scope="module")
def tiny_run() -> tuple[dict[str, Any], list[dict[str, Any]], list[Chat]]:
    """Every method at one budget over two 16-turn chats run as two threads, every turn dumped."""
    chats = generate_chats(2, TINY_TURNS, 3, TOKENIZER)
    dump = io.StringIO()
    body = chat.evaluate(chats, budgets=[1000], methods=list(METHODS), tokenizer=TOKENIZER, dump=dump)
    records = [json.loads(line) for line in dump.getvalue().splitlines()]
    return body, records, chats


def test_tiny_run_measures_every_turn_of_every_method(
    tiny_run: tuple[dict[str, Any], list[dict[str, Any]], list[Chat]],
) -> None:
    body, records, _ = tiny_run
    assert set(body["results"]) == set(METHODS)
    for method in METHODS:
        entry = body["results"][method]["1000"]
        assert entry["turns"] == 2 * TINY_TURNS
        assert entry["questions"] == 2
        assert entry["tool_turns"] == 2 * (TINY_TURNS // 7)
        assert entry["leak_turns"] is not None  # two threads
        assert 0.0 <= entry["recent_all_share"] <= 1.0
        assert 0 <= entry["recent_mean"] <= 6
        for key in ("orphaned", "over_budget_turns", "max_over", "failures", "ms_mean", "ms_p95", "recall"):
            assert key in entry
        mine = [record for record in records if record["method"] == method]
        assert len(mine) == 2 * TINY_TURNS


def test_tiny_run_calls_each_model_as_scripted_unless_the_turn_failed(
    tiny_run: tuple[dict[str, Any], list[dict[str, Any]], list[Chat]],
) -> None:
    _, records, chats = tiny_run
    by_id = {generated.chat_id: generated for generated in chats}
    for record in records:
        turn = by_id[record["chat_id"]].turns[record["turn"]]
        if record["error"] is None:
            assert record["calls"] == (2 if turn.call is not None else 1), record["method"]
            first = record["inputs"][0]
            assert first[0]["role"] == "system"
            assert first[0]["text"].startswith(chat.SYSTEM_PROMPT[:100])
        else:
            assert record["calls"] <= (2 if turn.call is not None else 1)


def test_tiny_run_baselines_do_not_fail_on_oversized_results(
    tiny_run: tuple[dict[str, Any], list[dict[str, Any]], list[Chat]],
) -> None:
    """The framework memories pass an oversized result on (over budget) rather than raise; a failure here
    would be the harness's (a warning turned error, a driver bug), which the run would otherwise hide."""
    body, _, chats = tiny_run
    assert max(turn.call.result_tokens for c in chats for turn in c.turns if turn.call is not None) > 1000
    for method in ("trim-messages", "summarization", "token-buffer", "chat-memory-buffer"):
        assert body["results"][method]["1000"]["failures"] == 0, body["results"][method]["1000"]["first_failure"]


def test_tiny_run_tool_results_reach_the_second_call_of_the_agents_that_keep_them(
    tiny_run: tuple[dict[str, Any], list[dict[str, Any]], list[Chat]],
) -> None:
    """The executor's scratchpad and nexint's memories always carry the turn's own call and result."""
    _, records, _ = tiny_run
    for method in ("token-buffer", "nexint-langchain", "nexint-llamaindex"):
        tools = [record for record in records if record["method"] == method and record["kind"] == "tool"]
        assert tools
        assert all(record["own_result"] for record in tools)


def test_counting_chat_memory_buffer_counts_as_chat_memory_buffer_does(chats: list[Chat]) -> None:
    from llama_index.core.base.llms.types import ChatMessage
    from llama_index.core.memory import ChatMemoryBuffer

    from nexint_bench._chat_llama_index import CountingChatMemoryBuffer

    messages = [ChatMessage(role=message.role, content=message.text) for message in chats[0].messages()[:300]]
    own = ChatMemoryBuffer.from_defaults(token_limit=1000, tokenizer_fn=TOKENIZER.encode)
    counting = CountingChatMemoryBuffer.from_defaults(token_limit=1000, tokenizer_fn=TOKENIZER.encode)
    for start in (0, 1, 7, 100, 250, 299):
        suffix = messages[start:]
        assert counting._token_count_for_messages(suffix) == own._token_count_for_messages(suffix)
    for message in messages[:120]:
        own.put(message)
        counting.put(message)
    assert counting.get() == own.get()
    assert len(own.get()) < 120  # the limit was reached: the comparison means something


def test_recording_chat_model_streams_its_tool_calls() -> None:
    from langchain_core.messages import HumanMessage

    from nexint_bench._chat_langchain import RecordingChatModel, replies

    tool_turn = small_chat().turns[2]
    model = RecordingChatModel(messages=iter(()))
    recorder = Recorder()
    model.script(replies(tool_turn), recorder)
    chunks = list(model.stream([HumanMessage(tool_turn.user)]))
    [chunk] = chunks
    assert chunk.tool_calls == [{"name": "read_file", "args": {"path": "/x"}, "id": "call_2", "type": "tool_call"}]
    assert recorder.take() == [[Msg("user", tool_turn.user)]]


# -- the command line --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--budgets", "0"], "--budgets takes positive integers (tokens)"),
        (["--budgets", "1000,lots"], "got 'lots'"),
        (["--methods", "trim-messages,mem0"], "unknown method 'mem0'"),
        (["--chats", "0"], "--chats must be at least 1"),
        (["--turns", "3"], "--turns must be at least 4"),
        (["--turns", "many"], "--turns must be a whole number"),
        (["--recent", "0"], "--recent must be at least 1"),
        (["--seed", "-1"], "--seed must be at least 0"),
        (["--dump-turns", "/nonexistent-dir/turns.jsonl"], "is not a directory"),
    ],
)
def test_cli_rejects_bad_options_with_one_error_line(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    status = main(["bench", "chat", *args])
    captured = capsys.readouterr()
    assert status != 0
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("[ERROR] ")
    assert message in lines[0]


def test_cli_unknown_option_is_an_error() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("memos")), "bench", "chat", "--frobnicate"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert result.stderr.startswith("[ERROR] ")


def test_cli_prints_a_json_report_and_a_table(tmp_path: Path) -> None:
    argv = ["--turns", "8", "--chats", "1", "--budgets", "500", "--methods", "chat-memory-buffer,summarization"]
    memos = str(Path(sys.executable).with_name("memos"))
    result = subprocess.run(
        [memos, "bench", "chat", *argv, "--json", "--dump-turns", str(tmp_path / "turns.jsonl")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no progress line when stderr is not a terminal
    report = json.loads(result.stdout)
    config = report["config"]
    assert config["methods"] == ["summarization", "chat-memory-buffer"]
    assert (config["turns"], config["chats"], config["seed"], config["budgets"]) == (8, 1, 0, [500])
    assert config["tokenizer"] == "cl100k_base"
    assert config["versions"]["nexint"]
    assert report["counts"]["turns_per_chat"] == 8
    assert set(report["results"]["summarization"]) == {"500"}
    assert report["results"]["summarization"]["500"]["leak_turns"] is None  # one chat: no second thread
    assert len((tmp_path / "turns.jsonl").read_text(encoding="utf-8").splitlines()) == 2 * 8

    out = io.StringIO()
    assert main(["bench", "chat", *argv], out=out) == 0
    table = out.getvalue().splitlines()
    assert table[0].startswith("chat benchmark: 1 chats x 8 turns (seed 0)")
    assert sum(line.startswith(("summarization", "chat-memory-buffer")) for line in table) == 2
