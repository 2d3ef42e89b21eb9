"""``memos bench chat``: what the model actually receives, turn by turn, in long chats with tool calls.

Seeded chats (:mod:`nexint_bench.chat_script`: small talk of mixed length, facts stated early and asked
about late, tool calls with results of 50 to 8,000 tokens) are fed through each method's real code path
with a fake model that replays the scripted replies and records every input it receives
(:mod:`nexint_bench._chat_drivers`). The chats are run two at a time, interleaved turn by turn as two
threads of one app (one agent with a checkpointer; one chat engine and memory per chat for LlamaIndex).

Per turn, from what the model calls received (:mod:`nexint_bench.chat_metrics`):

- recent: how many of the ``k`` conversation messages before the user's message reached the first call of
  the turn as real messages (same role, text and tool calls), and whether the user's message did;
- own result: in a tool turn, whether the second call had the turn's tool call and its result;
- orphaned: tool calls without all their results, and results without their call, over all calls;
- over: tokens over the budget (system message included; see :mod:`~nexint_bench.chat_metrics`);
- recall: in a question turn, whether the planted fact's sentence was anywhere in the input;
- leak: whether the input held text only the other thread's chat said: one of its messages, or a run of
  six words inside a sentence of one (a memory may show other messages inside its system message);
- the turn's wall time, and its failure if the method raised (the run goes on).

A failed turn counts as what its model received: nothing, if it failed before the first call.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import math
import platform
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

from nexint_bench._chat_drivers import FRAMEWORK, METHODS, SYSTEM_PROMPT, Recorder, open_driver
from nexint_bench._options import positive_ints
from nexint_bench.chat_metrics import Msg, MsgKey, measure_call, normalize, present, shingles
from nexint_bench.chat_script import MIN_TURNS, Chat, generate_chats
from nexint_core import __version__
from nexint_core.errors import InvalidArgument
from nexint_core.tokens import Tokenizer, get_tokenizer

__all__ = [
    "METHODS",
    "ChatIndex",
    "Other",
    "TokenCount",
    "TurnScore",
    "add_arguments",
    "evaluate",
    "render_table",
    "run",
    "score_turn",
    "summarize",
]

DEFAULT_BUDGETS = "1000,2000,4000,8000"
DEFAULT_TURNS = 300
DEFAULT_CHATS = 2
DEFAULT_RECENT = 6
QUICK_TURNS = 60
QUICK_BUDGETS = "1000,4000"
_PACKAGES = ("langchain", "langchain-core", "langchain-classic", "langgraph", "llama-index-core", "tiktoken")
_ERROR_CHARS = 300


class TokenCount:
    """Token counts with the chats' own texts cached (they come back in every call); other texts, such as
    assembled system messages, are counted each time."""

    def __init__(self, tokenizer: Tokenizer, chats: Sequence[Chat] = ()) -> None:
        self.tokenizer = tokenizer
        self._known: dict[str, int] = {}
        for chat in chats:
            for message in chat.messages():
                self._known[message.text] = tokenizer.count(message.text)

    def __call__(self, text: str) -> int:
        known = self._known.get(text)
        return known if known is not None else self.tokenizer.count(text)


@dataclass(frozen=True, slots=True)
class ChatIndex:
    """A chat's conversation, where each turn starts in it, and what tells its messages from another chat's."""

    chat: Chat
    messages: tuple[Msg, ...]
    starts: tuple[int, ...]
    keys: frozenset[MsgKey]
    shingles: frozenset[int]

    @classmethod
    def of(cls, chat: Chat) -> ChatIndex:
        messages = tuple(chat.messages())
        words: set[int] = set()
        for message in messages:
            words |= shingles(message.text)
        return cls(chat, messages, tuple(chat.starts()), frozenset(m.key() for m in messages), frozenset(words))


@dataclass(frozen=True, slots=True)
class Other:
    """What only the other thread's chat said: its messages' keys and word runs that this chat lacks."""

    keys: frozenset[MsgKey]
    shingles: frozenset[int]

    @classmethod
    def of(cls, own: ChatIndex, other: ChatIndex) -> Other:
        return cls(other.keys - own.keys, other.shingles - own.shingles)


@dataclass(slots=True)
class TurnScore:
    """The measures of one user turn of one chat."""

    chat_id: str
    turn: int
    kind: str
    calls: int
    recent_present: int  # of the recent_expected messages before the user's message
    recent_expected: int
    current_present: bool  # the user's message itself
    own_result: bool | None  # tool turns: the second call had the turn's tool call and result
    orphaned: int
    tokens: int  # the largest call's input
    over: int  # the most tokens over the budget of any call
    recalled: bool | None  # question turns: the fact's sentence reached the model
    leaked: bool | None  # None when the chat ran alone
    seconds: float
    error: str | None


def _leaked(inputs: Sequence[Sequence[Msg]], own: ChatIndex, other: Other) -> bool:
    for messages in inputs:
        for message in messages:
            key = message.key()
            if key in own.keys:
                continue
            if key in other.keys or not other.shingles.isdisjoint(shingles(message.text)):
                return True
    return False


def score_turn(
    index: ChatIndex,
    turn: int,
    inputs: Sequence[Sequence[Msg]],
    *,
    budget: int,
    recent: int,
    count: TokenCount,
    other: Other | None = None,
    seconds: float = 0.0,
    error: str | None = None,
) -> TurnScore:
    """The measures of ``turn`` of a chat, from the inputs of the model calls it made (in order)."""
    chat_turn = index.chat.turns[turn]
    start = index.starts[turn]
    earlier = index.messages[max(0, start - recent) : start]
    first: Sequence[Msg] = inputs[0] if inputs else ()
    found = present([*earlier, index.messages[start]], first)
    own_result: bool | None = None
    if chat_turn.call is not None:
        second = inputs[1] if len(inputs) > 1 else ()
        own_result = all(present(index.messages[start + 1 : start + 3], second))
    recalled: bool | None = None
    if chat_turn.kind == "question" and chat_turn.fact is not None:
        seen = " ".join(normalize(message.text) for message in first)
        recalled = normalize(chat_turn.fact.text) in seen
    measures = [measure_call(messages, budget, count) for messages in inputs]
    return TurnScore(
        chat_id=index.chat.chat_id,
        turn=turn,
        kind=chat_turn.kind,
        calls=len(inputs),
        recent_present=sum(found[:-1]),
        recent_expected=len(earlier),
        current_present=found[-1],
        own_result=own_result,
        orphaned=sum(measure.orphaned for measure in measures),
        tokens=max((measure.tokens for measure in measures), default=0),
        over=max((measure.over for measure in measures), default=0),
        recalled=recalled,
        leaked=_leaked(inputs, index, other) if other is not None else None,
        seconds=seconds,
        error=error,
    )


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _percentile(values: Sequence[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


def summarize(scores: Sequence[TurnScore], recent: int) -> dict[str, Any]:
    """One method at one budget: the per-turn measures aggregated."""
    full = [score.recent_present for score in scores if score.recent_expected == recent]
    complete = sum(score.recent_present == score.recent_expected and score.current_present for score in scores)
    tool_turns = [score for score in scores if score.own_result is not None]
    questions = [score for score in scores if score.recalled is not None]
    paired = [score for score in scores if score.leaked is not None]
    errors: dict[str, int] = {}
    for score in scores:
        if score.error is not None:
            kind = score.error.split(":", 1)[0]
            errors[kind] = errors.get(kind, 0) + 1
    first_error = next((score for score in scores if score.error is not None), None)
    times = [score.seconds for score in scores]
    return {
        "turns": len(scores),
        "recent_all_share": _share(complete, len(scores)),
        "recent_min": min(full, default=None),
        "recent_mean": math.fsum(full) / len(full) if full else None,
        "current_missing": sum(not score.current_present for score in scores),
        "tool_turns": len(tool_turns),
        "own_result_missing": sum(not score.own_result for score in tool_turns),
        "orphaned": sum(score.orphaned for score in scores),
        "turns_with_orphans": sum(score.orphaned > 0 for score in scores),
        "over_budget_turns": sum(score.over > 0 for score in scores),
        "max_over": max((score.over for score in scores), default=0),
        "max_tokens": max((score.tokens for score in scores), default=0),
        "questions": len(questions),
        "recalled": sum(bool(score.recalled) for score in questions),
        "recall": _share(sum(bool(score.recalled) for score in questions), len(questions)),
        "leak_turns": sum(bool(score.leaked) for score in paired) if paired else None,
        "first_leak": next(({"chat": s.chat_id, "turn": s.turn} for s in paired if s.leaked), None),
        "failures": sum(score.error is not None for score in scores),
        "failures_by_error": errors,
        "first_failure": (
            {"chat": first_error.chat_id, "turn": first_error.turn, "error": first_error.error}
            if first_error is not None
            else None
        ),
        "ms_mean": 1000 * math.fsum(times) / len(times) if times else None,
        "ms_p95": 1000 * p95 if (p95 := _percentile(times, 0.95)) is not None else None,
    }


class _Progress:
    """A progress line on a terminal's stderr; silent when stderr is not a terminal."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty()
        self.total = total
        self.done = 0

    def show(self, what: str) -> None:
        if self.enabled:
            self.stream.write(f"\r\033[Kchat {self.done}/{self.total} {what}")
            self.stream.flush()

    def step(self) -> None:
        self.done += 1
        if self.enabled and self.done >= self.total:
            self.stream.write(f"\r\033[Kchat {self.done}/{self.total} done\n")
            self.stream.flush()


def _groups(indexes: Sequence[ChatIndex]) -> Iterator[list[ChatIndex]]:
    """The chats two at a time (threads of one app); an odd last one alone."""
    for start in range(0, len(indexes), 2):
        yield list(indexes[start : start + 2])


def _run_group(
    method: str,
    budget: int,
    group: Sequence[ChatIndex],
    *,
    recent: int,
    count: TokenCount,
    recorder: Recorder,
    progress: _Progress | None,
) -> Iterator[tuple[TurnScore, list[list[Msg]]]]:
    others = {own.chat.chat_id: Other.of(own, other) for own in group for other in group if other is not own}
    driver = open_driver(method, budget, [index.chat for index in group], recorder, count)
    try:
        for turn in range(len(group[0].chat.turns)):
            if progress is not None and turn % 10 == 0:
                progress.show(f"{method} at {budget} tokens, turn {turn}")
            for index in group:
                error = None
                started = time.perf_counter()
                try:
                    driver.turn(index.chat, index.chat.turns[turn])
                except Exception as exc:  # a method that raises on some input is measured, not fatal
                    error = f"{type(exc).__name__}: {exc}"[:_ERROR_CHARS]
                seconds = time.perf_counter() - started
                inputs = recorder.take()
                score = score_turn(
                    index,
                    turn,
                    inputs,
                    budget=budget,
                    recent=recent,
                    count=count,
                    other=others.get(index.chat.chat_id),
                    seconds=seconds,
                    error=error,
                )
                yield score, inputs
    finally:
        driver.close()


def _dump_record(method: str, budget: int, score: TurnScore, inputs: list[list[Msg]], count: TokenCount) -> str:
    calls = [
        [
            {
                "role": message.role,
                "tokens": count(message.text),
                "text": message.text[:160],
                **({"calls": [call[0] for call in message.calls]} if message.calls else {}),
                **({"call_id": message.call_id} if message.call_id is not None else {}),
            }
            for message in messages
        ]
        for messages in inputs
    ]
    return json.dumps({"method": method, "budget": budget, **asdict(score), "inputs": calls}, ensure_ascii=False)


def evaluate(
    chats: Sequence[Chat],
    *,
    budgets: Sequence[int],
    methods: Sequence[str],
    recent: int = DEFAULT_RECENT,
    tokenizer: Tokenizer | None = None,
    dump: TextIO | None = None,
    progress: _Progress | None = None,
) -> dict[str, Any]:
    """Run every method at every budget over ``chats``; returns ``{"results": {method: {budget: ...}}}``."""
    count = TokenCount(tokenizer if tokenizer is not None else get_tokenizer(None), chats)
    indexes = [ChatIndex.of(chat) for chat in chats]
    recorder = Recorder()
    results: dict[str, dict[str, Any]] = {method: {} for method in methods}
    for method in methods:
        for budget in budgets:
            scores: list[TurnScore] = []
            started = time.perf_counter()
            for group in _groups(indexes):
                for score, inputs in _run_group(
                    method, budget, group, recent=recent, count=count, recorder=recorder, progress=progress
                ):
                    scores.append(score)
                    if dump is not None:
                        dump.write(_dump_record(method, budget, score, inputs, count) + "\n")
            results[method][str(budget)] = {
                **summarize(scores, recent),
                "seconds": round(time.perf_counter() - started, 2),
            }
            if progress is not None:
                progress.step()
    return {"results": results}


# -- the command -------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``memos bench chat``; sets ``handler=run``."""
    parser.add_argument("--chats", help=f"how many chats, run two at a time as threads (default: {DEFAULT_CHATS})")
    parser.add_argument("--turns", help=f"user turns per chat (default: {DEFAULT_TURNS}; --quick: {QUICK_TURNS})")
    parser.add_argument("--seed", default="0", help="seed of the chats (default: 0)")
    parser.add_argument("--budgets", help=f"token budgets (default: {DEFAULT_BUDGETS}; --quick: {QUICK_BUDGETS})")
    parser.add_argument(
        "--methods", default=",".join(METHODS), help=f"comma list of {', '.join(METHODS)} (default: all)"
    )
    parser.add_argument(
        "--recent", default=str(DEFAULT_RECENT), help=f"k, the recent messages checked (default: {DEFAULT_RECENT})"
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_TURNS} turns at budgets {QUICK_BUDGETS} unless given"
    )
    parser.add_argument("--json", action="store_true", help="print the JSON report instead of the table")
    parser.add_argument("--dump-turns", metavar="FILE", help="write every turn's measures and inputs to this JSONL")
    parser.set_defaults(handler=run)


def _whole(text: str, option: str, minimum: int) -> int:
    try:
        value = int(text.strip().replace("_", ""))
    except ValueError:
        raise InvalidArgument(f"{option} must be a whole number, got {text!r}") from None
    if value < minimum:
        raise InvalidArgument(f"{option} must be at least {minimum}, got {value}")
    return value


def parse_methods(text: str) -> list[str]:
    """``"trim-messages,nexint-langchain"`` -> in the order of :data:`METHODS`; their frameworks must be installed."""
    chosen: set[str] = set()
    for part in text.split(","):
        name = part.strip().lower()
        if name not in METHODS:
            raise InvalidArgument(f"--methods: unknown method {part.strip()!r}; valid methods: {', '.join(METHODS)}")
        chosen.add(name)
    for name in chosen:
        module = FRAMEWORK[name]
        if importlib.util.find_spec(module) is None:
            extra = "langchain" if module == "langchain" else "llama-index"
            raise InvalidArgument(f"--methods: {name} needs {module}: pip install 'nexint[{extra}]'")
    return [method for method in METHODS if method in chosen]


def _versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"nexint": __version__, "python": platform.python_version()}
    for package in _PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def _counts(chats: Sequence[Chat], tokenizer: Tokenizer) -> dict[str, Any]:
    results = [turn.call.result_tokens for chat in chats for turn in chat.turns if turn.call is not None]
    return {
        "chats": len(chats),
        "turns_per_chat": len(chats[0].turns),
        "messages": sum(len(chat.messages()) for chat in chats),
        "conversation_tokens": [sum(tokenizer.count(m.text) for m in chat.messages()) for chat in chats],
        "tool_calls": len(results),
        "tool_result_tokens": {"min": min(results), "max": max(results), "mean": round(sum(results) / len(results))},
        "facts": sum(len(chat.facts) for chat in chats),
        "turn_kinds": {
            kind: sum(turn.kind == kind for chat in chats for turn in chat.turns)
            for kind in ("talk", "fact", "question", "tool")
        },
    }


def _open_dump(path: Path) -> TextIO:
    if not path.parent.is_dir():
        raise InvalidArgument(f"--dump-turns {path}: {path.parent} is not a directory")
    try:
        return open(path, "w", encoding="utf-8")
    except OSError as exc:
        raise InvalidArgument(f"--dump-turns {path}: cannot write it ({exc.strerror or exc})") from None


def run(args: argparse.Namespace, out: TextIO) -> int:
    """``memos bench chat``: print the table (or ``--json`` report); bad options raise :class:`InvalidArgument`."""
    chats_wanted = _whole(args.chats, "--chats", 1) if args.chats is not None else DEFAULT_CHATS
    turns = (
        _whole(args.turns, "--turns", MIN_TURNS)
        if args.turns is not None
        else (QUICK_TURNS if args.quick else DEFAULT_TURNS)
    )
    seed = _whole(args.seed, "--seed", 0)
    budgets = positive_ints(
        args.budgets if args.budgets is not None else (QUICK_BUDGETS if args.quick else DEFAULT_BUDGETS),
        "--budgets",
        "tokens",
    )
    methods = parse_methods(args.methods)
    recent = _whole(args.recent, "--recent", 1)
    dump = _open_dump(Path(args.dump_turns)) if args.dump_turns else None
    tokenizer = get_tokenizer(None)
    started = time.perf_counter()
    try:
        chats = generate_chats(chats_wanted, turns, seed, tokenizer)
        body = evaluate(
            chats,
            budgets=budgets,
            methods=methods,
            recent=recent,
            tokenizer=tokenizer,
            dump=dump,
            progress=_Progress(len(methods) * len(budgets)),
        )
    finally:
        if dump is not None:
            dump.close()
    room = max(1, min(budgets) - tokenizer.count(SYSTEM_PROMPT))
    report = {
        "config": {
            "chats": chats_wanted,
            "turns": turns,
            "seed": seed,
            "budgets": budgets,
            "methods": methods,
            "recent": recent,
            "tokenizer": tokenizer.name,
            "system_prompt_tokens": tokenizer.count(SYSTEM_PROMPT),
            "token_counting": "text of every message (system included) plus name(arguments as JSON) per tool call; "
            "no per-message framing",
            "threads": "chats run two at a time, interleaved turn by turn, as two threads of one app",
            "summarization": {
                "trigger": "('tokens', budget - system prompt tokens)",
                "keep": "('tokens', half of that)",
                "example": {"budget": min(budgets), "trigger": room, "keep": max(1, room // 2)},
                "summary": "a fixed text from a fake summarizer: it carries no fact",
            },
            "chat_memory_buffer_count": "its own count, summed per message (same numbers, see _chat_llama_index)",
            "versions": _versions(),
        },
        "counts": _counts(chats, tokenizer),
        **body,
        "seconds": round(time.perf_counter() - started, 1),
    }
    if args.json:
        print(json.dumps(report, indent=2), file=out)
    else:
        print("\n".join(render_table(report)), file=out)
    return 0


def _fmt(value: float | None, spec: str, width: int) -> str:
    return (format(value, spec) if value is not None else "-").rjust(width)


def render_table(report: dict[str, Any]) -> list[str]:
    """The human summary of a report: one line per method and budget."""
    config, counts, results = report["config"], report["counts"], report["results"]
    k = config["recent"]
    sizes = counts["tool_result_tokens"]
    lines = [
        f"chat benchmark: {counts['chats']} chats x {counts['turns_per_chat']} turns (seed {config['seed']}), "
        f"{counts['tool_calls']} tool calls with results of {sizes['min']}-{sizes['max']} tokens, "
        f"{counts['facts']} planted facts; tokenizer {config['tokenizer']}",
        f"recent: the {k} messages before each user message and the message itself reached the model as real "
        "messages (share of turns; min and mean of the k); no-msg: turns without the user's message; "
        "no-res: tool turns whose second call lacked the turn's own result; over: turns over budget; "
        "leaks: turns with the other thread's text",
        f"{'method':<20}{'budget':>7}{'recent':>8}{'min':>5}{'mean':>6}{'no-msg':>7}{'no-res':>7}{'orphans':>8}"
        f"{'over':>6}{'max-over':>9}{'recall':>8}{'leaks':>6}{'fails':>6}{'ms/turn':>8}",
    ]
    for method, by_budget in results.items():
        for budget in config["budgets"]:
            entry = by_budget[str(budget)]
            recall = f"{entry['recalled']}/{entry['questions']}" if entry["questions"] else "-"
            lines.append(
                f"{method:<20}{budget:>7}"
                + _fmt(entry["recent_all_share"] * 100 if entry["recent_all_share"] is not None else None, ".0f", 7)
                + "%"
                + _fmt(entry["recent_min"], "d", 5)
                + _fmt(entry["recent_mean"], ".1f", 6)
                + f"{entry['current_missing']:>7}{entry['own_result_missing']:>7}{entry['orphaned']:>8}"
                + f"{entry['over_budget_turns']:>6}{entry['max_over']:>9}{recall:>8}"
                + _fmt(entry["leak_turns"], "d", 6)
                + f"{entry['failures']:>6}"
                + _fmt(entry["ms_mean"], ".1f", 8)
            )
    failed = [
        f"{method} at {budget}: {entry['first_failure']['error']}"
        for method, by_budget in results.items()
        for budget, entry in by_budget.items()
        if entry["first_failure"] is not None
    ]
    if failed:
        lines.append("first failure of each method and budget that failed:")
        lines += [f"  {line}" for line in failed]
    lines.append(f"{report['seconds']:.1f} s")
    return lines
