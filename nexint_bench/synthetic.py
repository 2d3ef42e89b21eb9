"""Seeded LoCoMo-format recall sets that nothing in nexint was tuned on: ``memos bench generate`` and
``memos bench recall --data synthetic:KIND``.

Each conversation is two speakers over sessions of about 30 turns. Each speaker states personal facts
drawn from the fact families of :mod:`nexint_bench._lexicon` with random values; some facts change later
(an update turn), some happen twice (two trips), and near misses state the same kind of fact about
someone else or another object. Every other turn is small talk, as long as the facts and never repeated.
Questions: category 4 asks one fact (or its current value after an update), category 2 asks when an
event happened or what date a fact names, category 1 needs two turns (a value before its update, or both
of two trips).

Two kinds, with the same conversations for the same seed (only the questions differ):

- ``facts``: most questions in the fact's own words (70%), the rest reworded;
- ``reworded``: every question reworded, and none shares a word with its evidence turns, by nexint's own
  stemmed content terms or by the raw lower-case words without stopwords (see :func:`shared_words`);
  a question that would is asked with another template, or dropped.

The output is a pure function of ``(kind, seed, conversations, turns)``: the same bytes from
:func:`to_json` on every machine (the generator uses only ``random.Random.random()``, the one method whose
sequence Python keeps across versions). Conversation ``i`` does not depend on how many are generated.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import string
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, TextIO, TypeVar

from nexint_bench._lexicon import (
    AGO,
    FAMILIES,
    GREETINGS,
    MONTHS,
    NAMES,
    POOLS,
    RELATIONS,
    SMALL_POOLS,
    SMALL_TALK,
    Asks,
    Family,
)
from nexint_core.embedders import content_terms, content_words
from nexint_core.errors import InvalidArgument

__all__ = [
    "DEFAULT_CONVERSATIONS",
    "DEFAULT_SEED",
    "DEFAULT_TURNS",
    "GENERATOR",
    "KINDS",
    "MIN_TURNS",
    "SyntheticSet",
    "add_arguments",
    "generate",
    "parse_source",
    "run",
    "shared_words",
    "small_talk",
    "to_json",
]

KINDS = ("facts", "reworded")
GENERATOR = "nexint-synthetic-1"  # bump when the lexicon or the generator changes what a seed gives
DEFAULT_SEED = 0
DEFAULT_CONVERSATIONS = 10
DEFAULT_TURNS = 600
MIN_TURNS = 40
PREFIX = "synthetic:"
TURNS_PER_SESSION = 30
TURNS_PER_FACT = 12  # one planted fact per this many turns, the two speakers sharing them
UPDATE_CHANCE = 0.6  # of a fact whose family can change
TWICE_CHANCE = 0.6  # of a fact whose family can happen twice (and cannot change)
NEAR_CHANCE = 0.6  # of a near miss for each fact
BEFORE_CHANCE = 0.7  # of also asking, after an update, what the value was before it
WHEN_CHANCE = 0.5  # of also asking when an event happened
LITERAL_CHANCE = 0.7  # in ``facts`` sets, of asking in the fact's own words (else reworded)
_FIRST_DAY = datetime(2022, 1, 3)
_T = TypeVar("_T")


class _Rng:
    """Choices built on ``random.Random.random()`` alone, so a seed gives the same set in every Python."""

    __slots__ = ("_random",)

    def __init__(self, seed: str) -> None:
        self._random = random.Random(seed).random  # a str seed is hashed with SHA-512: no hash salting

    def below(self, n: int) -> int:
        return int(self._random() * n)

    def between(self, low: int, high: int) -> int:
        return low + self.below(high - low + 1)

    def chance(self, p: float) -> bool:
        return self._random() < p

    def choice(self, options: Sequence[_T]) -> _T:
        return options[self.below(len(options))]

    def shuffled(self, items: Sequence[_T]) -> list[_T]:
        out = list(items)
        for i in range(len(out) - 1, 0, -1):
            j = self.below(i + 1)
            out[i], out[j] = out[j], out[i]
        return out

    def sample(self, items: Sequence[_T], k: int) -> list[_T]:
        return self.shuffled(items)[:k]


# -- the check of reworded questions -----------------------------------------------------------------


def shared_words(question: str, text: str) -> set[str]:
    """Words ``question`` shares with ``text``: nexint's stemmed content terms, and the raw lower-case words
    without stopwords (empty for a question a lexical retriever cannot match to the text)."""
    terms = set(content_terms(question)) & set(content_terms(text))
    return terms | (set(content_words(question)) & set(content_words(text)))


# -- one conversation --------------------------------------------------------------------------------

_FORMATTER = string.Formatter()


def _slots(template: str) -> list[str]:
    return [name for _, name, _, _ in _FORMATTER.parse(template) if name]


def _fill(template: str, values: Mapping[str, str]) -> str:
    """``template`` with its slots filled; ``{Slot}`` takes ``values["slot"]`` capitalised."""
    filled: dict[str, str] = {}
    for name in _slots(template):
        if name in values:
            filled[name] = values[name]
        else:
            value = values[name[0].lower() + name[1:]]
            filled[name] = value[:1].upper() + value[1:]
    return template.format_map(filled)


_PEOPLE = frozenset({"who", "whose", "their", "P"})  # filled by the generator, not drawn from a pool


@cache
def _family_slots(family: Family) -> tuple[str, ...]:
    """Every pool slot the family's statements, near misses and answer use, lower-cased, in a fixed order."""
    templates = (family.answer, *family.facts, *family.updates, *family.near)
    names = dict.fromkeys(name[0].lower() + name[1:] for text in templates for name in _slots(text))
    return tuple(name for name in names if name not in _PEOPLE)


@dataclass(slots=True)
class _Plant:
    """One planted turn: a fact, an update or a near miss, with its slot values and where it went."""

    template: str
    values: dict[str, str]
    text: str = ""
    position: int = -1


@dataclass(slots=True)
class _Group:
    """A fact of one speaker, with its update or its second time, if any."""

    family: Family
    owner: int
    first: _Plant
    second: _Plant | None = None
    change: str = ""  # "update" or "twice" when there is a second plant


@dataclass(slots=True)
class _Conversation:
    """The skeleton a conversation is written into: who speaks each turn, in which session, when."""

    names: tuple[tuple[str, str], tuple[str, str]]
    sessions: list[int]  # turns per session
    dates: list[datetime]
    speakers: list[int] = field(default_factory=list)  # per turn
    session_of: list[int] = field(default_factory=list)  # per turn
    texts: list[str] = field(default_factory=list)  # per turn, "" until written


def _skeleton(rng: _Rng, turns: int) -> _Conversation:
    first, second = rng.sample(NAMES, 2)
    count = max(1, round(turns / TURNS_PER_SESSION))
    sizes = [turns // count + (1 if i < turns % count else 0) for i in range(count)]
    for _ in range(count):  # uneven sessions, none shorter than 8 turns
        giver, taker = rng.below(count), rng.below(count)
        moved = rng.below(sizes[giver] // 4 + 1)
        if giver != taker and sizes[giver] - moved >= 8:
            sizes[giver] -= moved
            sizes[taker] += moved
    day = _FIRST_DAY + timedelta(days=rng.below(540))
    dates = []
    for _ in sizes:
        dates.append(day.replace(hour=rng.between(8, 21), minute=rng.below(60)))
        day += timedelta(days=rng.between(3, 18))
    talk = _Conversation((first, second), sizes, dates)
    for number, size in enumerate(sizes):
        opener = rng.below(2)
        talk.speakers += [(opener + k) % 2 for k in range(size)]
        talk.session_of += [number] * size
    talk.texts = [""] * turns
    return talk


def _draw(rng: _Rng, family: Family, templates: Sequence[str]) -> tuple[str, dict[str, str]]:
    """A template of ``templates`` and random values for every slot the family uses."""
    template = rng.choice(templates)
    values: dict[str, str] = {}
    for name in _family_slots(family):
        if name == "ago":
            values[name] = rng.choice(AGO)[0]
        else:
            pool = POOLS[name]
            values[name] = rng.choice(pool) if isinstance(pool, tuple) else pool(rng)
    return template, values


class _Writer:
    """Draws plants with unique texts and distinct values per family, and places them in free turns."""

    def __init__(self, rng: _Rng, talk: _Conversation) -> None:
        self.rng = rng
        self.talk = talk
        self.texts: set[str] = set()
        self.answers: dict[str, set[str]] = {}
        self.free = [
            [p for p, who in enumerate(talk.speakers) if who == speaker and not self._opens_session(p)]
            for speaker in (0, 1)
        ]

    def _opens_session(self, position: int) -> bool:
        return position == 0 or self.talk.session_of[position] != self.talk.session_of[position - 1]

    def plant(self, family: Family, templates: Sequence[str], extra: Mapping[str, str] | None = None) -> _Plant:
        used = self.answers.setdefault(family.name, set())
        for _ in range(200):
            template, values = _draw(self.rng, family, templates)
            values.update(extra or {})
            key = _fill(family.answer, {**values, "their": ""})
            text = _fill(template, values)
            if key not in used and text not in self.texts:
                used.add(key)
                self.texts.add(text)
                return _Plant(template, values, text)
        raise AssertionError(f"the {family.name!r} family ran out of distinct values")  # pragma: no cover

    def place(self, plant: _Plant, speaker: int, low: int = 0, high: int | None = None) -> None:
        """Put ``plant`` in a free turn of ``speaker`` in ``[low, high)`` (anywhere later if none is free)."""
        free = self.free[speaker]
        end = len(self.talk.speakers) if high is None else high
        options = [p for p in free if low <= p < end] or [p for p in free if p >= low] or free
        plant.position = self.rng.choice(options)
        free.remove(plant.position)
        self.talk.texts[plant.position] = plant.text


def _plant_facts(rng: _Rng, talk: _Conversation, turns: int) -> list[_Group]:
    writer = _Writer(rng, talk)
    count = max(2, turns // TURNS_PER_FACT)
    groups: list[_Group] = []
    for owner, share in ((0, (count + 1) // 2), (1, count // 2)):
        for family in rng.sample(FAMILIES, share):
            group = _Group(family, owner, writer.plant(family, family.facts))
            if family.updates and rng.chance(UPDATE_CHANCE):
                group.second, group.change = writer.plant(family, family.updates), "update"
            elif family.both is not None and rng.chance(TWICE_CHANCE):
                other = [text for text in family.facts if text != group.first.template]  # said another way
                group.second, group.change = writer.plant(family, other), "twice"
            groups.append(group)
    nears = []
    for group in groups:
        if rng.chance(NEAR_CHANCE):
            who, whose, their = rng.choice(RELATIONS)
            extra = {"who": who, "whose": whose, "their": their}
            nears.append((writer.plant(group.family, group.family.near, extra), rng.below(2)))
    split, gap = int(turns * 0.6), max(1, turns // 8)
    for group in sorted(groups, key=lambda g: g.second is None):  # the ordered pairs first
        if group.second is None:
            writer.place(group.first, group.owner)
        else:
            writer.place(group.first, group.owner, 0, split)
            writer.place(group.second, group.owner, group.first.position + gap)
    for plant, speaker in nears:
        writer.place(plant, speaker)
    return sorted(groups, key=lambda g: g.first.position)


def _small_talk(rng: _Rng, talk: _Conversation, used: set[str]) -> None:
    """Fill every unwritten turn: a greeting to open each session, small talk elsewhere; no text twice."""
    for position, text in enumerate(talk.texts):
        if text:
            continue
        other = talk.names[1 - talk.speakers[position]][0]
        date = talk.dates[talk.session_of[position]]
        fixed = {"name": other, "month": MONTHS[date.month % 12]}  # "it's nearly <next month>"
        opens = position == 0 or talk.session_of[position] != talk.session_of[position - 1]
        for _ in range(1000):
            text = rng.choice(GREETINGS if opens else SMALL_TALK)
            while "{" in text:  # a greeting's pieces hold slots of their own
                text = text.format_map(
                    {name: fixed.get(name) or rng.choice(SMALL_POOLS[name]) for name in _slots(text)}
                )
            if text not in used:
                break
        else:  # pragma: no cover - thousands of combinations per template
            raise AssertionError("small talk ran out of distinct turns")
        used.add(text)
        talk.texts[position] = text


def small_talk(count: int, *, seed: int = 123) -> list[str]:
    """``count`` distinct small-talk turns as the generator writes them: texts about nothing in particular,
    unrelated to each other (what ``scripts/calibrate_embedders.py`` measures an embedder's noise on)."""
    rng = _Rng(f"{GENERATOR}/small-talk/{seed}")
    talk = _Conversation(
        names=(("Ann", ""), ("Bob", "")),
        speakers=[position % 2 for position in range(count)],
        sessions=[count],
        session_of=[0] * count,
        dates=[datetime(2024, 5, 1)],
        texts=[""] * count,
    )
    _small_talk(rng, talk, set())
    return list(talk.texts)


def _day(date: datetime) -> str:
    return f"{date.day} {MONTHS[date.month - 1]} {date.year}"


def _when(phrase: str, date: datetime) -> str:
    """The date an ``{ago}`` phrase names, said in a session on ``date``."""
    offset = dict(AGO)[phrase]
    if isinstance(offset, int):
        return _day(date - timedelta(days=offset))
    return f"the {offset} before {_day(date)}"


def _session_time(date: datetime) -> str:
    """LoCoMo's form: ``"1:56 pm on 8 May, 2023"``."""
    clock = f"{date.hour % 12 or 12}:{date.minute:02d} {'am' if date.hour < 12 else 'pm'}"
    return f"{clock} on {date.day} {MONTHS[date.month - 1]}, {date.year}"


def _questions(kind: str, rng: _Rng, talk: _Conversation, groups: Sequence[_Group]) -> list[dict[str, Any]]:
    qa: list[tuple[int, dict[str, Any]]] = []

    def dia_id(plant: _Plant) -> str:
        session = talk.session_of[plant.position]
        start = talk.session_of.index(session)
        return f"D{session + 1}:{plant.position - start + 1}"

    def ask(asks: Asks, about: _Plant, evidence: Sequence[_Plant], answer: str, category: int, owner: int) -> None:
        name, their = talk.names[owner]
        values = {**about.values, "P": name, "their": their}
        if kind == "facts":
            templates = asks.literal if rng.chance(LITERAL_CHANCE) else asks.reworded
            question = _fill(rng.choice(templates), values)
        else:
            candidates = (_fill(template, values) for template in rng.shuffled(asks.reworded))
            fits = [q for q in candidates if not any(shared_words(q, plant.text) for plant in evidence)]
            if not fits:
                return
            question = fits[0]
        entry = {
            "question": question,
            "answer": answer,
            "evidence": [dia_id(p) for p in evidence],
            "category": category,
        }
        qa.append((evidence[0].position, entry))

    for group in groups:
        family, first, second = group.family, group.first, group.second
        their = talk.names[group.owner][1]
        answer = [_fill(family.answer, {**plant.values, "their": their}) for plant in (first, second) if plant]
        if second is not None and group.change == "update":
            assert family.now is not None
            ask(family.now, second, [second], answer[1], 4, group.owner)
            if family.before is not None and rng.chance(BEFORE_CHANCE):
                ask(family.before, first, [first, second], answer[0], 1, group.owner)
        elif second is not None:
            assert family.both is not None
            ask(family.both, first, [first, second], " and ".join(answer), 1, group.owner)
        else:
            ask(family.value, first, [first], answer[0], 2 if family.dated else 4, group.owner)
            if family.when is not None and rng.chance(WHEN_CHANCE):
                date = talk.dates[talk.session_of[first.position]]
                ask(family.when, first, [first], _when(first.values["ago"], date), 2, group.owner)
    return [entry for _, entry in sorted(qa, key=lambda item: item[0])]


def _sample(kind: str, seed: int, index: int, turns: int) -> dict[str, Any]:
    rng = _Rng(f"{GENERATOR}/{seed}/{index}")  # the conversation: the same for both kinds
    talk = _skeleton(rng, turns)
    groups = _plant_facts(rng, talk, turns)
    _small_talk(rng, talk, {text for text in talk.texts if text})
    questions = _questions(kind, _Rng(f"{GENERATOR}/{kind}/{seed}/{index}"), talk, groups)
    (speaker_a, _), (speaker_b, _) = talk.names
    conversation: dict[str, Any] = {"speaker_a": speaker_a, "speaker_b": speaker_b}
    position = 0
    for number, size in enumerate(talk.sessions, start=1):
        conversation[f"session_{number}_date_time"] = _session_time(talk.dates[number - 1])
        conversation[f"session_{number}"] = [
            {
                "speaker": talk.names[talk.speakers[p]][0],
                "dia_id": f"D{number}:{p - position + 1}",
                "text": talk.texts[p],
            }
            for p in range(position, position + size)
        ]
        position += size
    return {"sample_id": f"{kind}-{seed}-{index}", "conversation": conversation, "qa": questions}


# -- the API -----------------------------------------------------------------------------------------


def _check(kind: str, conversations: int, turns: int, seed: int) -> None:
    if kind not in KINDS:
        raise InvalidArgument(f"unknown synthetic set {kind!r}; valid kinds: {', '.join(KINDS)}")
    if isinstance(conversations, bool) or not isinstance(conversations, int) or conversations < 1:
        raise InvalidArgument(f"conversations must be an integer >= 1, got {conversations!r}")
    if isinstance(turns, bool) or not isinstance(turns, int) or turns < MIN_TURNS:
        raise InvalidArgument(f"turns must be an integer >= {MIN_TURNS}, got {turns!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidArgument(f"seed must be an integer >= 0, got {seed!r}")


def generate(
    kind: str, *, conversations: int = DEFAULT_CONVERSATIONS, turns: int = DEFAULT_TURNS, seed: int = DEFAULT_SEED
) -> list[dict[str, Any]]:
    """``conversations`` LoCoMo-format samples of ``turns`` turns each, of set ``kind`` (``facts`` or
    ``reworded``), ready for :func:`json.dumps`."""
    _check(kind, conversations, turns, seed)
    return [_sample(kind, seed, index, turns) for index in range(conversations)]


def to_json(samples: Sequence[Mapping[str, Any]]) -> bytes:
    """The canonical bytes of a set: what ``memos bench generate`` writes and the report's sha256 is of."""
    return (json.dumps(list(samples), indent=1, ensure_ascii=False) + "\n").encode("utf-8")


@dataclass(frozen=True, slots=True)
class SyntheticSet:
    """A synthetic set named by its parameters: ``synthetic:KIND?seed=N&conversations=N&turns=N``."""

    kind: str
    seed: int = DEFAULT_SEED
    conversations: int = DEFAULT_CONVERSATIONS
    turns: int = DEFAULT_TURNS

    def __post_init__(self) -> None:
        _check(self.kind, self.conversations, self.turns, self.seed)

    @property
    def spec(self) -> str:
        """The full name, every parameter spelled out."""
        return f"{PREFIX}{self.kind}?seed={self.seed}&conversations={self.conversations}&turns={self.turns}"

    def generate(self) -> list[dict[str, Any]]:
        return generate(self.kind, conversations=self.conversations, turns=self.turns, seed=self.seed)

    def config(self) -> dict[str, Any]:
        """What a report records of the set (its sha256 goes beside it)."""
        return {
            "kind": self.kind,
            "seed": self.seed,
            "conversations": self.conversations,
            "turns": self.turns,
            "generator": GENERATOR,
        }


_PARAMETERS = ("seed", "conversations", "turns")


def parse_source(text: str) -> SyntheticSet | None:
    """The set ``synthetic:KIND[?seed=N&conversations=N&turns=N]`` names; ``None`` for anything else (a path)."""
    if not text.startswith(PREFIX):
        return None
    kind, _, query = text[len(PREFIX) :].partition("?")
    given: dict[str, int] = {}
    for part in query.split("&") if query else []:
        key, sep, value = part.partition("=")
        if key not in _PARAMETERS or not sep:
            raise InvalidArgument(f"--data {text}: expected {PREFIX}KIND?seed=N&conversations=N&turns=N, got {part!r}")
        try:
            given[key] = int(value)
        except ValueError:
            raise InvalidArgument(f"--data {text}: {key} must be a whole number, got {value!r}") from None
    try:
        return SyntheticSet(kind, **given)
    except InvalidArgument as exc:
        raise InvalidArgument(f"--data {text}: {exc.message}") from None


# -- the command -------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``memos bench generate``; sets ``handler=run``."""
    parser.add_argument("kind", help=f"the set: {' or '.join(KINDS)}")
    parser.add_argument("--seed", default=str(DEFAULT_SEED), help=f"(default: {DEFAULT_SEED})")
    parser.add_argument(
        "--conversations", default=str(DEFAULT_CONVERSATIONS), help=f"(default: {DEFAULT_CONVERSATIONS})"
    )
    parser.add_argument("--turns", default=str(DEFAULT_TURNS), help=f"per conversation (default: {DEFAULT_TURNS})")
    parser.add_argument("--out", required=True, metavar="FILE", help="the LoCoMo-format JSON file to write")
    parser.set_defaults(handler=run)


def _whole(text: str, option: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InvalidArgument(f"{option} must be a whole number, got {text!r}") from None


def run(args: argparse.Namespace, out: TextIO) -> int:
    """``memos bench generate``: write the set, print one line saying what it holds and its sha256."""
    chosen = SyntheticSet(
        args.kind,
        seed=_whole(args.seed, "--seed"),
        conversations=_whole(args.conversations, "--conversations"),
        turns=_whole(args.turns, "--turns"),
    )
    path = Path(args.out)
    samples = chosen.generate()
    raw = to_json(samples)
    try:
        path.write_bytes(raw)
    except OSError as exc:
        raise InvalidArgument(f"--out {path}: cannot write it ({exc.strerror or exc})") from None
    categories = Counter(entry["category"] for sample in samples for entry in sample["qa"])
    by_category = ", ".join(f"{categories[c]} in category {c}" for c in sorted(categories))
    print(
        f"wrote {path}: {chosen.spec}, {sum(categories.values())} questions ({by_category}), "
        f"sha256 {hashlib.sha256(raw).hexdigest()}",
        file=out,
    )
    return 0
