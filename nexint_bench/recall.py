"""``memos bench recall``: how much of each question's evidence reaches the context, on LoCoMo-format data.

Every method builds a context for every question under the same token budgets and tokenizer. A
question's recall is the share of its evidence turns whose whole text (``speaker: text``) is a substring
of the context; categories 1-4 make the overall figure, category 5 (adversarial) is reported apart.
Methods: nexint under each eviction policy, ``window`` (the newest turns that fit, what LangChain's
ConversationTokenBufferMemory and LlamaIndex's ChatMemoryBuffer keep), ``bm25`` and ``vector`` (the
best-ranked turns written so far, packed into the budget). Protocols: ``end`` (the whole conversation,
then every question) and ``interleaved`` (each question right after the turn that completes its
evidence, plus ``--delay`` turns). ``--data`` names a file, or a generated held-out set
(``synthetic:facts`` or ``synthetic:reworded``, see :mod:`nexint_bench.synthetic`).

The nexint-specific pieces are :func:`make_manager`, :func:`write_turns` and :func:`nexint_context`:
tune those, not the harness around them.
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import json
import math
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import accumulate
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from nexint_bench import synthetic
from nexint_bench._options import positive_ints
from nexint_core import __version__
from nexint_core.embedders import EMBEDDER_NAMES, Embedder, content_words, make_embedder, stem
from nexint_core.errors import InvalidArgument, NexintError
from nexint_core.manager import MemoryManager
from nexint_core.policies import POLICY_NAMES
from nexint_core.stores import query_terms
from nexint_core.tokens import Tokenizer, get_tokenizer

__all__ = [
    "METHODS",
    "Bm25Index",
    "CosineIndex",
    "Question",
    "Sample",
    "Turn",
    "TurnClock",
    "add_arguments",
    "evaluate",
    "evidence_recall",
    "load_data",
    "make_manager",
    "nexint_context",
    "pack",
    "parse_evidence",
    "parse_samples",
    "read_samples",
    "run",
    "window_context",
    "write_turns",
]

NEXINT_METHODS = tuple(f"nexint-{policy}" for policy in POLICY_NAMES)
METHODS = (*NEXINT_METHODS, "window", "bm25", "vector")
PROTOCOLS = ("end", "interleaved")
DEFAULT_BUDGETS = "512,1024,2048,4096"
OVERALL_CATEGORIES = (1, 2, 3, 4)  # category 5 (adversarial) is reported apart
_SESSION_KEY = re.compile(r"session_(\d+)")  # not session_N_date_time
_DIALOGUE_ID = re.compile(r"D\s*:?\s*(\d+)\s*:\s*(\d+)", re.IGNORECASE)
_SESSION_FORMATS = ("%I:%M %p on %d %B, %Y", "%I:%M %p on %d %b, %Y", "%d %B, %Y", "%d %B %Y")
_FIRST_SESSION = datetime(2023, 1, 1, tzinfo=timezone.utc).timestamp()  # when a session has no readable time
_DAY = 86_400.0


# -- the data ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Turn:
    """One turn of a conversation; ``line`` (``speaker: text``) is what must reach a context to count."""

    dia_id: str
    speaker: str
    text: str
    time: float  # its session's time, seconds since the epoch
    line: str


@dataclass(frozen=True, slots=True)
class Question:
    """A scored question: its evidence ids (normalised, all present in the conversation) and their turns."""

    number: int  # index in the sample's ``qa`` list
    text: str
    category: int
    evidence: tuple[str, ...]
    turns: tuple[int, ...]  # positions of the evidence turns in the conversation, ascending


@dataclass(frozen=True, slots=True)
class Sample:
    """One conversation and its scored questions, with what reading its evidence ids had to fix."""

    index: int
    sample_id: str
    turns: tuple[Turn, ...]
    questions: tuple[Question, ...]
    categories_excluded: dict[int, int]  # questions left with no valid evidence, by category
    ids_repaired: int  # evidence entries rewritten (split, zero-padded, stray characters)
    ids_dropped: int  # evidence ids that name no turn of the conversation, or no id at all


def parse_evidence(entry: object) -> list[str]:
    """The dialogue ids one evidence entry names, normalised: ``"D8:6; D9:17"`` -> ``["D8:6", "D9:17"]``,
    ``"D30:05"`` -> ``["D30:5"]``, ``"D:11:26"`` -> ``["D11:26"]``; ``[]`` when it names none."""
    if not isinstance(entry, str):
        return []
    return [f"D{int(session)}:{int(turn)}" for session, turn in _DIALOGUE_ID.findall(entry)]


def _fail(source: str, where: str, problem: str) -> InvalidArgument:
    return InvalidArgument(f"{source}: {where}: {problem}")


def read_samples(path: Path) -> tuple[list[Sample], str]:
    """Every sample of a LoCoMo-format JSON file, and the file's sha256."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InvalidArgument(f"--data {path}: no such file") from None
    except OSError as exc:
        raise InvalidArgument(f"--data {path}: cannot read it ({exc.strerror or exc})") from None
    return parse_samples(raw, str(path))


def parse_samples(raw: bytes, source: str) -> tuple[list[Sample], str]:
    """Every sample of LoCoMo-format JSON bytes, and their sha256; ``source`` names them in errors."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidArgument(f"--data {source}: not UTF-8 text, so not LoCoMo JSON") from None
    except json.JSONDecodeError as exc:
        raise InvalidArgument(f"--data {source}: not JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, list) or not data:
        raise _fail(source, "file", "expected a non-empty list of LoCoMo samples")
    return [_sample(source, index, item) for index, item in enumerate(data)], hashlib.sha256(raw).hexdigest()


def load_data(data: str) -> tuple[list[Sample], dict[str, Any]]:
    """The samples ``--data`` names, a file or a generated set (``synthetic:KIND?seed=N&...``, see
    :mod:`nexint_bench.synthetic`), and what the report's config records of them."""
    chosen = synthetic.parse_source(data)
    if chosen is None:
        samples, digest = read_samples(Path(data))
        return samples, {"data": str(Path(data)), "data_sha256": digest}
    samples, digest = parse_samples(synthetic.to_json(chosen.generate()), chosen.spec)
    return samples, {"data": chosen.spec, "data_sha256": digest, "synthetic": chosen.config()}


def _session_time(value: object, previous: float | None) -> float:
    """A session's time (``"1:56 pm on 8 May, 2023"``); an unreadable one is a day after the previous session."""
    if isinstance(value, str):
        for form in _SESSION_FORMATS:
            try:
                return datetime.strptime(value.strip(), form).replace(tzinfo=timezone.utc).timestamp()
            except ValueError:
                continue
    return _FIRST_SESSION if previous is None else previous + _DAY


def _sample(source: str, index: int, item: object) -> Sample:
    where = f"sample {index}"
    if not isinstance(item, dict):
        raise _fail(source, where, f"expected an object, got {type(item).__name__}")
    sample_id = str(item.get("sample_id", f"sample-{index}"))
    where = f"sample {index} ({sample_id})"
    talk = item.get("conversation")
    if not isinstance(talk, dict):
        raise _fail(source, where, "missing 'conversation' mapping")
    numbers = sorted(int(match[1]) for key in talk if (match := _SESSION_KEY.fullmatch(key)))
    turns: list[Turn] = []
    by_id: dict[str, int] = {}
    when: float | None = None
    for number in numbers:
        session = talk[f"session_{number}"]
        if not isinstance(session, list):
            raise _fail(source, f"{where} session_{number}", "expected a list of turns")
        when = _session_time(talk.get(f"session_{number}_date_time"), when)
        for position, turn in enumerate(session):
            if not isinstance(turn, dict) or not isinstance(turn.get("speaker"), str):
                raise _fail(source, f"{where} session_{number} turn {position}", "needs a 'speaker' string")
            if not isinstance(turn.get("text"), str):
                raise _fail(source, f"{where} session_{number} turn {position}", "needs a 'text' string")
            raw_id = str(turn.get("dia_id", f"D{number}:{position + 1}"))
            ids = parse_evidence(raw_id)
            dia_id = ids[0] if len(ids) == 1 else raw_id
            if dia_id in by_id:
                raise _fail(source, f"{where} session_{number} turn {position}", f"dia_id {raw_id!r} is used twice")
            by_id[dia_id] = len(turns)
            speaker, text = turn["speaker"], turn["text"]
            turns.append(Turn(dia_id, speaker, text, when, f"{speaker}: {text}"))
    if not turns:
        raise _fail(source, where, "the conversation has no session_<N> turns")
    qa = item.get("qa", [])
    if not isinstance(qa, list):
        raise _fail(source, where, "'qa' must be a list")
    questions: list[Question] = []
    excluded: Counter[int] = Counter()
    repaired = dropped = 0
    for number, entry in enumerate(qa):
        if not isinstance(entry, dict) or not isinstance(entry.get("question"), str):
            raise _fail(source, f"{where} qa {number}", "needs a 'question' string")
        category = entry.get("category")
        if isinstance(category, bool) or not isinstance(category, int):
            raise _fail(source, f"{where} qa {number}", f"'category' must be an integer, got {category!r}")
        raw = entry.get("evidence", [])
        raw = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else [raw]
        evidence: list[str] = []
        for piece in raw:
            ids = parse_evidence(piece)
            if not ids:
                dropped += 1
                continue
            if ids != [piece]:
                repaired += 1
            for dia_id in ids:
                if dia_id not in by_id:
                    dropped += 1
                elif dia_id not in evidence:
                    evidence.append(dia_id)
        if not evidence:
            excluded[category] += 1
            continue
        positions = tuple(sorted(by_id[dia_id] for dia_id in evidence))
        questions.append(Question(number, entry["question"], category, tuple(evidence), positions))
    return Sample(index, sample_id, tuple(turns), tuple(questions), dict(excluded), repaired, dropped)


# -- the metric --------------------------------------------------------------------------------------


def evidence_recall(context: str, evidence: Sequence[str]) -> float:
    """The share of ``evidence`` lines (``speaker: text``) found whole in ``context``."""
    if not evidence:
        raise InvalidArgument("a question needs at least one evidence turn to be scored")
    return sum(line in context for line in evidence) / len(evidence)


def _summary(scores: Sequence[float]) -> dict[str, Any]:
    if not scores:
        return {"recall": None, "all_present": None, "questions": 0}
    return {
        "recall": math.fsum(scores) / len(scores),
        "all_present": sum(score == 1.0 for score in scores) / len(scores),
        "questions": len(scores),
    }


# -- the baselines -----------------------------------------------------------------------------------


def _render(lines: Sequence[str], chosen: Sequence[int]) -> str:
    """Chosen turns one per line, in conversation order."""
    return "\n".join(lines[index] for index in sorted(chosen))


def window_context(
    lines: Sequence[str], costs: Sequence[int], end: int, budget: int, count: Callable[[str], int]
) -> str:
    """The newest turns up to ``end`` (inclusive) that fit ``budget`` together: the longest suffix that fits.

    ``costs`` are each line's tokens plus one for its line break; they give the first guess, which the
    exact count of the joined text then settles.
    """
    start, used = end + 1, -1  # n lines take n - 1 line breaks
    while start > 0 and used + costs[start - 1] <= budget:
        start -= 1
        used += costs[start]
    text = "\n".join(lines[start : end + 1])
    while start <= end and count(text) > budget:
        start += 1
        text = "\n".join(lines[start : end + 1])
    while start > 0:
        longer = "\n".join(lines[start - 1 : end + 1])
        if count(longer) > budget:
            break
        start, text = start - 1, longer
    return text


def pack(
    ranked: Sequence[int], lines: Sequence[str], costs: Sequence[int], budget: int, count: Callable[[str], int]
) -> str:
    """Turns taken best first while they fit (one that does not is skipped for smaller ones), then
    rendered in conversation order; the lowest-ranked go if the exact count is still over."""
    chosen: list[int] = []
    used = -1
    smallest = min(costs, default=1)
    for index in ranked:
        if used + costs[index] <= budget:
            chosen.append(index)
            used += costs[index]
            if budget - used < smallest:
                break
    text = _render(lines, chosen)
    while chosen and count(text) > budget:
        chosen.pop()
        text = _render(lines, chosen)
    return text


class Bm25Index:
    """BM25 (k1 1.2, b 0.75, nexint's stemmed content words) over a conversation's turns, scored over
    the turns written so far (a prefix), as an index that grows with the conversation would."""

    K1, B = 1.2, 0.75

    def __init__(self, texts: Sequence[str]) -> None:
        self._postings: dict[str, tuple[list[int], list[int]]] = {}  # term -> (turns ascending, term counts)
        lengths: list[int] = []
        for index, text in enumerate(texts):
            terms = Counter(stem(word) for word in content_words(text))
            for term, tf in terms.items():
                docs, tfs = self._postings.setdefault(term, ([], []))
                docs.append(index)
                tfs.append(tf)
            lengths.append(sum(terms.values()))
        self._lengths = lengths
        self._prefix = list(accumulate(lengths, initial=0))

    def rank(self, query: str, end: int) -> list[int]:
        """Turns ``0..end`` that share a term with ``query``, best first (ties: earlier turn first)."""
        n = end + 1
        average = self._prefix[n] / n
        if average == 0:
            return []
        scores: dict[int, float] = {}
        for term in query_terms(query):
            docs, tfs = self._postings.get(term, ([], []))
            df = bisect.bisect_right(docs, end)
            if not df:
                continue
            idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
            for doc, tf in zip(docs[:df], tfs[:df], strict=True):
                norm = tf + self.K1 * (1.0 - self.B + self.B * self._lengths[doc] / average)
                scores[doc] = scores.get(doc, 0.0) + idf * tf * (self.K1 + 1.0) / norm
        return sorted((doc for doc, value in scores.items() if value > 0.0), key=lambda doc: (-scores[doc], doc))


class CosineIndex:
    """Cosine similarity of the query to each turn, with the embedder nexint runs with."""

    def __init__(self, texts: Sequence[str], embedder: Embedder) -> None:
        self._embedder = embedder
        self._vectors = embedder.embed(list(texts))

    def rank(self, query: str, end: int) -> list[int]:
        """Turns ``0..end`` with a positive similarity, most similar first (ties: earlier turn first)."""
        similarity = self._vectors[: end + 1] @ self._embedder.embed([query])[0]
        order = np.lexsort((np.arange(len(similarity)), -similarity))
        return [int(index) for index in order if similarity[index] > 0.0]


# -- nexint: the pieces to tune (the harness around them stays fixed) ------------------------------


class TurnClock:
    """The clock of a replayed conversation: it reads whatever time :func:`write_turns` last set."""

    __slots__ = ("time",)

    def __init__(self, time: float = _FIRST_SESSION) -> None:
        self.time = time

    def now(self) -> float:
        return self.time


def make_manager(policy: str, budget: int, embedder: Embedder | None = None) -> MemoryManager:
    """The manager measured as ``nexint-<policy>`` at ``budget`` tokens (with ``embedder``, else the default)."""
    return MemoryManager(budget, policy=policy, core_budget=0, clock=TurnClock(), embedder=embedder)


def write_turns(manager: MemoryManager, turns: Sequence[Turn]) -> None:
    """Write turns in order, each at its session's time."""
    clock = manager.clock
    for turn in turns:
        if isinstance(clock, TurnClock):
            clock.time = turn.time
        manager.write("user", turn.line)


def nexint_context(manager: MemoryManager, question: str, budget: int) -> str:
    """nexint's context for ``question``: the whole assembled prompt, the question included."""
    return manager.assemble(question, budget).text


# -- the harness -------------------------------------------------------------------------------------


class _TokenCounter:
    """Exact counts of whole contexts, remembering the last few (a context is counted when built, then checked)."""

    __slots__ = ("_cache", "_keep", "tokenizer")

    def __init__(self, tokenizer: Tokenizer, keep: int = 64) -> None:
        self.tokenizer = tokenizer
        self._cache: dict[str, int] = {}
        self._keep = keep

    def __call__(self, text: str) -> int:
        tokens = self._cache.get(text)
        if tokens is None:
            if len(self._cache) >= self._keep:
                del self._cache[next(iter(self._cache))]
            tokens = self._cache[text] = self.tokenizer.count(text)
        return tokens


def schedule(sample: Sample, protocol: str, delay: int) -> list[tuple[int, Question]]:
    """When each question is asked: after which turn (its position), in asking order."""
    last = len(sample.turns) - 1
    if protocol == "end":
        return [(last, question) for question in sample.questions]
    asked = [(min(question.turns[-1] + delay, last), question) for question in sample.questions]
    return sorted(asked, key=lambda item: (item[0], item[1].number))


Context = tuple[str, int, Question, str]  # method, budget, question, context text


def _contexts(
    sample: Sample,
    plan: Sequence[tuple[int, Question]],
    method: str,
    budgets: Sequence[int],
    count: _TokenCounter,
    costs: Sequence[int],
    embedder: Embedder,
) -> Iterator[Context]:
    """Every context ``method`` builds for the planned questions, at every budget (``costs``: each turn's
    tokens plus one for its line break)."""
    lines = [turn.line for turn in sample.turns]
    if method == "window":
        windows: dict[tuple[int, int], str] = {}
        for end, question in plan:
            for budget in budgets:
                key = (end, budget)
                if key not in windows:
                    windows[key] = window_context(lines, costs, end, budget, count)
                yield method, budget, question, windows[key]
    elif method in ("bm25", "vector"):
        index = Bm25Index(lines) if method == "bm25" else CosineIndex(lines, embedder)
        for end, question in plan:
            ranked = index.rank(question.text, end)
            for budget in budgets:
                yield method, budget, question, pack(ranked, lines, costs, budget, count)
    else:
        policy = method.removeprefix("nexint-")
        for budget in budgets:
            manager = make_manager(policy, budget, embedder)
            written = 0
            for end, question in plan:
                try:
                    write_turns(manager, sample.turns[written : end + 1])
                    written = end + 1
                    text = nexint_context(manager, question.text, budget)
                except NexintError as exc:
                    exc.message = f"{method} at budget {budget}, {sample.sample_id} qa {question.number}: {exc.message}"
                    raise
                yield method, budget, question, text
            manager.close()


class _Progress:
    """A progress line on a terminal's stderr; silent when stderr is not a terminal."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty()
        self.total = total
        self.done = 0

    def step(self, what: str) -> None:
        self.done += 1
        if self.enabled:
            end = "\n" if self.done >= self.total else ""
            self.stream.write(f"\r\033[Krecall {self.done}/{self.total} {what}{end}")
            self.stream.flush()


def evaluate(
    samples: Sequence[Sample],
    *,
    budgets: Sequence[int],
    methods: Sequence[str],
    protocol: str = "end",
    delay: int = 0,
    dump: TextIO | None = None,
    progress: _Progress | None = None,
    embedder: Embedder | None = None,
) -> dict[str, Any]:
    """Build, check and score every context; returns ``{"counts": ..., "results": ...}`` (the report's body).
    ``embedder`` (default: nexint's) is nexint's and the ``vector`` baseline's.

    Raises :class:`NexintError` if any context exceeds its budget (counted with the real tokenizer).
    """
    count = _TokenCounter(get_tokenizer(None))
    embedder = make_embedder(embedder)
    scores: dict[tuple[str, int], dict[int, list[float]]] = {
        (method, budget): {} for method in methods for budget in budgets
    }
    tokens: dict[tuple[str, int], list[int]] = {key: [] for key in scores}
    for sample in samples:
        plan = schedule(sample, protocol, delay)
        evidence = {question.number: [sample.turns[i].line for i in question.turns] for question in sample.questions}
        costs = [count.tokenizer.count(turn.line) + 1 for turn in sample.turns]  # once, for every baseline
        for method in methods:
            for name, budget, question, context in _contexts(sample, plan, method, budgets, count, costs, embedder):
                used = count(context)
                if used > budget:
                    raise NexintError(
                        f"{name} gave a context of {used} tokens for a budget of {budget} "
                        f"({sample.sample_id} qa {question.number}): no method may exceed the budget"
                    )
                recall = evidence_recall(context, evidence[question.number])
                scores[name, budget].setdefault(question.category, []).append(recall)
                tokens[name, budget].append(used)
                if dump is not None:
                    record = {
                        "sample_id": sample.sample_id,
                        "qa": question.number,
                        "question": question.text,
                        "category": question.category,
                        "evidence": list(question.evidence),
                        "budget": budget,
                        "method": name,
                        "context": context,
                    }
                    dump.write(json.dumps(record, ensure_ascii=False) + "\n")
            if progress is not None:
                progress.step(f"{sample.sample_id} {method}")
    results: dict[str, dict[str, Any]] = {method: {} for method in methods}
    for (method, budget), by_category in scores.items():
        overall = [score for category in OVERALL_CATEGORIES for score in by_category.get(category, [])]
        sizes = tokens[method, budget]
        results[method][str(budget)] = {
            **_summary(overall),
            "per_category": {str(category): _summary(by_category[category]) for category in sorted(by_category)},
            "mean_tokens": math.fsum(sizes) / len(sizes) if sizes else None,
        }
    scored: Counter[int] = Counter(question.category for sample in samples for question in sample.questions)
    excluded: Counter[int] = Counter()
    for sample in samples:
        excluded.update(sample.categories_excluded)
    counts = {
        "conversations": len(samples),
        "turns": sum(len(sample.turns) for sample in samples),
        "questions": {str(category): scored[category] for category in sorted(scored)},
        "questions_overall": sum(scored[category] for category in OVERALL_CATEGORIES),
        "questions_excluded": sum(excluded.values()),
        "questions_excluded_by_category": {str(category): excluded[category] for category in sorted(excluded)},
        "evidence_ids_repaired": sum(sample.ids_repaired for sample in samples),
        "evidence_ids_dropped": sum(sample.ids_dropped for sample in samples),
    }
    return {"counts": counts, "results": results}


# -- the command -------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``memos bench recall``; sets ``handler=run``."""
    parser.add_argument(
        "--data",
        required=True,
        help="a LoCoMo-format JSON file (a list of samples), or a generated set: "
        "synthetic:facts or synthetic:reworded, optionally ?seed=N&conversations=N&turns=N",
    )
    parser.add_argument("--conversations", help="sample indexes, ranges and lists like 0-2,5 (default: all)")
    parser.add_argument("--budgets", default=DEFAULT_BUDGETS, help=f"token budgets (default: {DEFAULT_BUDGETS})")
    parser.add_argument(
        "--methods", default=",".join(METHODS), help=f"comma list of {', '.join(METHODS)} (default: all)"
    )
    parser.add_argument(
        "--protocol",
        default="end",
        help="end (default): ask after the whole conversation; "
        "interleaved: ask right after the turn that completes the evidence",
    )
    parser.add_argument(
        "--delay", default="0", help="interleaved: turns between that turn and the question (default: 0)"
    )
    parser.add_argument(
        "--embedder",
        help=f"nexint's and the vector baseline's embedder: {', '.join(EMBEDDER_NAMES)} (default: nexint's default)",
    )
    parser.add_argument("--json", action="store_true", help="print the JSON report instead of the table")
    parser.add_argument("--dump-contexts", metavar="FILE", help="write every context to this JSONL file")
    parser.set_defaults(handler=run)


def parse_budgets(text: str) -> list[int]:
    """``"512,1024"`` -> ``[512, 1024]`` (sorted, distinct, each > 0)."""
    return positive_ints(text, "--budgets", "tokens")


def parse_methods(text: str) -> list[str]:
    """``"bm25,nexint-lru"`` -> ``["nexint-LRU", "bm25"]`` (in the order of :data:`METHODS`)."""
    known = {method.lower(): method for method in METHODS}
    chosen: set[str] = set()
    for part in text.split(","):
        name = part.strip()
        if name.lower() not in known:
            raise InvalidArgument(f"--methods: unknown method {name!r}; valid methods: {', '.join(METHODS)}")
        chosen.add(known[name.lower()])
    return [method for method in METHODS if method in chosen]


def parse_indexes(text: str, count: int) -> list[int]:
    """``"0-2,5"`` -> ``[0, 1, 2, 5]``, each an index into ``count`` samples."""
    chosen: set[int] = set()
    for part in text.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if match is None:
            raise InvalidArgument(f"--conversations: {part.strip()!r} is not an index or a range like 0-2")
        first = int(match[1])
        last = int(match[2]) if match[2] is not None else first
        if last < first:
            raise InvalidArgument(f"--conversations: the range {part.strip()!r} runs backwards")
        if last >= count:
            raise InvalidArgument(
                f"--conversations: index {last} is out of range: the data has {count} samples (0-{count - 1})"
            )
        chosen.update(range(first, last + 1))
    return sorted(chosen)


def _delay(text: str, protocol: str) -> int:
    try:
        delay = int(text)
    except ValueError:
        raise InvalidArgument(f"--delay must be a whole number of turns, got {text!r}") from None
    if delay < 0:
        raise InvalidArgument(f"--delay must be >= 0 turns, got {delay}")
    if delay and protocol != "interleaved":
        raise InvalidArgument("--delay applies to --protocol interleaved only")
    return delay


def _open_dump(path: Path) -> TextIO:
    try:
        return open(path, "w", encoding="utf-8")
    except OSError as exc:
        raise InvalidArgument(f"--dump-contexts {path}: cannot write it ({exc.strerror or exc})") from None


def run(args: argparse.Namespace, out: TextIO) -> int:
    """``memos bench recall``: print the table (or ``--json`` report); bad input raises :class:`InvalidArgument`."""
    budgets = parse_budgets(args.budgets)
    methods = parse_methods(args.methods)
    if args.protocol not in PROTOCOLS:
        raise InvalidArgument(f"--protocol must be one of {', '.join(PROTOCOLS)}, got {args.protocol!r}")
    delay = _delay(args.delay, args.protocol)
    dump_path = Path(args.dump_contexts) if args.dump_contexts else None
    if dump_path is not None and not dump_path.parent.is_dir():
        raise InvalidArgument(f"--dump-contexts {dump_path}: {dump_path.parent} is not a directory")
    samples, source = load_data(args.data)
    indexes = parse_indexes(args.conversations, len(samples)) if args.conversations else list(range(len(samples)))
    chosen = [samples[index] for index in indexes]
    tokenizer = get_tokenizer(None)
    embedder = make_embedder(args.embedder)
    started = time.perf_counter()
    progress = _Progress(len(chosen) * len(methods))
    with ExitStack() as stack:
        dump = stack.enter_context(_open_dump(dump_path)) if dump_path is not None else None
        body = evaluate(
            chosen,
            budgets=budgets,
            methods=methods,
            protocol=args.protocol,
            delay=delay,
            dump=dump,
            progress=progress,
            embedder=embedder,
        )
    report = {
        "config": {
            **source,
            "conversations": indexes,
            "sample_ids": [sample.sample_id for sample in chosen],
            "budgets": budgets,
            "methods": methods,
            "protocol": args.protocol,
            "delay": delay,
            "tokenizer": tokenizer.name,
            "embedder": embedder.name,
            "nexint_version": __version__,
        },
        **body,
        "seconds": round(time.perf_counter() - started, 2),
    }
    if args.json:
        print(json.dumps(report, indent=2), file=out)
    else:
        print("\n".join(render_table(report)), file=out)
    return 0


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _cell(value: float | None, width: int = 5) -> str:
    return f"{value:.3f}".rjust(width) if value is not None else "-".rjust(width)


def render_table(report: dict[str, Any]) -> list[str]:
    """The human summary of a report: method x budget, then per-category lines."""
    config, counts, results = report["config"], report["counts"], report["results"]
    budgets = [str(budget) for budget in config["budgets"]]
    category_5 = counts["questions"].get("5", 0)
    lines = [
        f"evidence recall, {Path(config['data']).name}: {_plural(counts['conversations'], 'conversation')}, "
        f"{counts['questions_overall']} questions in categories 1-4 (+{category_5} in category 5), "
        f"protocol {config['protocol']}"
        + (f" (delay {config['delay']})" if config["protocol"] == "interleaved" else "")
        + f", tokenizer {config['tokenizer']}"
        + (f", embedder {config['embedder']}" if config.get("embedder") else ""),
        "recall of the evidence turns, categories 1-4 (share of questions with all their evidence)",
        f"{'method':<18}" + "".join(f"{budget:>16}" for budget in budgets),
    ]
    for method, by_budget in results.items():
        cells = []
        for budget in budgets:
            entry = by_budget[budget]
            share = f"({entry['all_present']:.0%})" if entry["all_present"] is not None else ""
            cells.append(f"{_cell(entry['recall'])} {share:>6}".rjust(16))
        lines.append(f"{method:<18}" + "".join(cells))
    categories = sorted(
        {
            category
            for by_budget in results.values()
            for entry in by_budget.values()
            for category in entry["per_category"]
        },
        key=int,
    )
    lines.append("recall by category (category 5, adversarial, is not in the overall)")
    lines.append(f"{'method':<18}{'budget':>7}" + "".join(f"{'cat ' + category:>8}" for category in categories))
    for method, by_budget in results.items():
        for budget in budgets:
            per = by_budget[budget]["per_category"]
            lines.append(
                f"{method:<18}{budget:>7}"
                + "".join(f"{_cell(per[c]['recall'] if c in per else None):>8}" for c in categories)
            )
    lines.append(
        f"excluded {_plural(counts['questions_excluded'], 'question')} with no valid evidence; "
        f"{counts['evidence_ids_dropped']} evidence ids dropped, {counts['evidence_ids_repaired']} repaired; "
        f"every context within its budget; {report['seconds']:.1f} s"
    )
    return lines
