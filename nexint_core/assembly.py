"""Prompt assembly: sections in a stable anchor order, per-section budgets, rendered last.

The structure (:class:`AssembledPrompt`) is built first; ``.text`` and ``.messages`` are renderings
of it and are never parsed back. Sections, in anchor order: the system anchor, core memory,
summaries, archive pages brought back for this query (chronological, labelled with id and date),
recent turns, and the query. The total never exceeds the budget and a tool-call group is never split.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from nexint_core.clock import format_time
from nexint_core.errors import InvalidArgument, PageTooLarge
from nexint_core.excerpts import MIN_EXCERPT, excerpt
from nexint_core.ids import PageId
from nexint_core.pages import Page, frames_of
from nexint_core.tokens import Tokenizer

__all__ = [
    "DEFAULT_SECTIONS",
    "SECTION_NAMES",
    "AssembledPrompt",
    "LeftOut",
    "PromptItem",
    "PromptView",
    "Section",
    "assemble_prompt",
    "check_sections",
    "minimum_budget",
]

SECTION_NAMES = ("system", "core", "summaries", "archive", "recent", "query")
_MEMORY_SECTIONS = ("core", "summaries", "archive", "recent")
_SECOND_PASS = ("archive", "recent", "summaries", "core")  # who gets the room other sections left, in order
_COUNT_CACHE = 32_768  # cached line counts (texts), cleared when full
# Shares of what the system anchor and the query leave. Unused budget flows to the next section; what is
# still unused at the end goes to items left out (archive, then recent, summaries, core), except to a
# section whose budget is a token count: that is a cap.
DEFAULT_SECTIONS: Mapping[str, int | float] = {"core": 0.25, "summaries": 0.15, "archive": 0.5, "recent": 0.1}
_HEADERS = {
    "core": "## Core memory",
    "summaries": "## Summaries of earlier conversation",
    "archive": "## Recalled from the archive",
    "recent": "## Recent turns",
    "query": "## Current query",
}


@dataclass(frozen=True, slots=True)
class PromptItem:
    """One line of the prompt: a page, or a whole unit (a tool-call group or a turn's pages)."""

    page_ids: tuple[PageId, ...]
    role: str
    text: str  # rendered, label included
    turns: tuple[tuple[str, str], ...]  # (role, text) per turn, without labels: what role messages carry
    tokens: int
    day: str | None = None  # archive items are grouped under a line naming their day (YYYY-MM-DD)


@dataclass(frozen=True, slots=True)
class Section:
    """A section with its budget (own share, what earlier sections left, and any room given back at the end)
    and what it holds."""

    name: str
    budget: int
    tokens: int
    items: tuple[PromptItem, ...]

    @property
    def page_ids(self) -> list[PageId]:
        return [page_id for item in self.items for page_id in item.page_ids]


@dataclass(frozen=True, slots=True)
class LeftOut:
    """A page that could have been in the prompt, and why it is not."""

    page_id: PageId
    section: str
    reason: str


@dataclass(frozen=True, slots=True)
class PromptView:
    """What a prompt is assembled from: the query and budget, the pages of each memory section in prompt
    order, and what page-in said about them.

    ``archive`` comes in order of preference (what a short section keeps first) and is rendered in
    write order; ``recent`` is chronological, and shown as one unbroken stretch back from the newest,
    which ends at a turn whose first page is in ``gaps`` (one not shown comes right before it). Recent
    turns ``matched`` ranks for the query that the stretch will not reach are shown in the archive
    section instead, each with the turn that answers it. ``context_of`` names, for an archive page shown
    as the context of a match, that match: it is shown only if its match is. ``skipped`` are pages left
    out before assembly (with their reasons); ``previous`` is the last prompt's ``lines``, for prefix
    stability.
    """

    query: str
    budget: int
    core: Sequence[Page] = ()
    summaries: Sequence[Page] = ()
    archive: Sequence[Page] = ()
    recent: Sequence[Page] = ()
    matched: Mapping[str, int] = field(default_factory=dict)
    recalled_now: Mapping[str, int] = field(default_factory=dict)  # archive pages this query paged in: their rank
    gaps: Collection[str] = ()
    context_of: Mapping[str, str] = field(default_factory=dict)
    system: str = ""
    sections: Mapping[str, int | float] = field(default_factory=lambda: DEFAULT_SECTIONS)
    skipped: Sequence[LeftOut] = ()
    previous: Sequence[str] = ()
    promoted: Sequence[PageId] = ()
    floor: Collection[str] = ()  # pages of the recent-turns floor: always shown, as excerpts if they must be
    floor_messages: int = 0  # the floor's minimum in messages; beyond it, the floor keeps to the recent share
    cite_ids: bool = False  # label archive lines with their page ids (for a model asked to cite memories)


@dataclass(frozen=True)
class AssembledPrompt:
    """The assembled prompt: structure first, renderings made from it."""

    query: str
    budget: int
    sections: tuple[Section, ...]
    left_out: tuple[LeftOut, ...]
    tokens: int
    text: str
    messages: tuple[dict[str, str], ...]
    stable_prefix_tokens: int
    promoted: tuple[PageId, ...] = ()
    lines: tuple[str, ...] = field(default=(), repr=False)  # the text's lines, to compare the next prompt's prefix
    query_text: str = ""  # the query as the prompt shows it: an excerpt when it alone would crowd the budget

    @property
    def page_ids(self) -> list[PageId]:
        """Every page in the prompt, in prompt order."""
        return [page_id for section in self.sections for page_id in section.page_ids]

    @property
    def memory_tokens(self) -> int:
        """Tokens of the memory sections (core, summaries, archive, recent turns), headers included."""
        return sum(section.tokens for section in self.sections if section.name in _MEMORY_SECTIONS)

    def section(self, name: str) -> Section:
        """The section called ``name``."""
        for section in self.sections:
            if section.name == name:
                return section
        raise InvalidArgument(f"no section {name!r}; sections are {list(SECTION_NAMES)}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (what ``memos run --json`` prints)."""
        return {
            "query": self.query,
            "budget": self.budget,
            "tokens": self.tokens,
            "memory_tokens": self.memory_tokens,
            "stable_prefix_tokens": self.stable_prefix_tokens,
            "promoted": list(self.promoted),
            "sections": [
                {"name": s.name, "budget": s.budget, "tokens": s.tokens, "page_ids": s.page_ids} for s in self.sections
            ],
            "left_out": [{"page_id": o.page_id, "section": o.section, "reason": o.reason} for o in self.left_out],
        }


def check_sections(sections: Mapping[str, int | float]) -> dict[str, int | float]:
    """Validate section budgets: a token count (int >= 0) or a share of the budget (float in [0, 1])."""
    out: dict[str, int | float] = {}
    for name, value in sections.items():
        if name not in _MEMORY_SECTIONS:
            raise InvalidArgument(
                f"unknown prompt section {name!r}: budgets are set for {list(_MEMORY_SECTIONS)} "
                "(the system anchor and the query always take what they need)"
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidArgument(f"section {name!r} budget must be tokens (int) or a share (float), got {value!r}")
        if isinstance(value, int) and value < 0:
            raise InvalidArgument(f"section {name!r} budget must be >= 0 tokens, got {value}")
        if isinstance(value, float) and not 0.0 <= value <= 1.0:
            raise InvalidArgument(f"section {name!r} share must be in [0, 1], got {value}")
        out[name] = value
    return out


class _Counter:
    """Token counts of prompt lines, cached by their text (a line recurs in prompt after prompt).

    ``line(text)`` counts ``text`` with the line break that follows it. With a tokenizer whose
    pre-tokenizer never merges across a line break followed by a non-space character
    (:attr:`additive`: tiktoken's cl100k), a prompt's tokens are exactly the sum of its
    lines' counts, because every line of a prompt starts with a header, a label or a role.
    """

    __slots__ = ("_cache", "_tokenizer", "additive")

    @property
    def tokenizer(self) -> Tokenizer:
        return self._tokenizer

    def __init__(self, tokenizer: Tokenizer, cache: dict[str, int]) -> None:
        self._tokenizer, self._cache = tokenizer, cache
        self.additive = bool(getattr(tokenizer, "line_additive", False))

    def __call__(self, text: str) -> int:
        count = self._cache.get(text)
        if count is None:
            if len(self._cache) > _COUNT_CACHE:
                self._cache.clear()
            count = self._cache[text] = self._tokenizer.count(text)
        return count

    def line(self, text: str) -> int:
        return self(text + "\n")


@lru_cache(maxsize=4096)
def _day(created: float) -> str:
    return format_time(created)[:10]


def _label(page: Page, dated: bool, *, role: bool = False) -> str:
    said = f" {page.role}:" if role else ""
    if dated and page.created is not None:
        return f"[{page.id} {_day(page.created)}]{said}"
    return f"[{page.id}]{said}"


def _text_tokens(frame: list[Page], text: str, count: _Counter) -> int:
    """Tokens of a turn's text as a line shows it; a one-page turn keeps the count on its page (counted when
    the manager wrote it, or here the first time it shows)."""
    if len(frame) > 1:
        return count(f" {text}\n")
    page = frame[0]
    if page.line_tokens is None:
        page.line_tokens = count._tokenizer.count(f" {text}\n")
    return page.line_tokens


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@lru_cache(maxsize=4096)
def _day_line(day: str) -> str:
    """The line naming a day (``2023-05-08`` -> ``8 May 2023``: a third fewer tokens than the ISO form)."""
    year, month, date = day.split("-")
    return f"{int(date)} {_MONTHS[int(month) - 1]} {year}"


def _items(
    units: Sequence[list[Page]],
    count: _Counter,
    *,
    labelled: bool,
    dated: bool,
    by_day: bool = False,
    role: bool = False,
) -> list[PromptItem]:
    """One item per unit, one line per turn in it: a label (or role) and the turn's text.

    A line's tokens are its prefix's plus those of its text with the space before it and the line
    break after it. That sum is exact (see :class:`_Counter`), as the prefix ends in punctuation, and
    a turn's text is counted once whether it shows as a recent turn or in the archive.
    """
    items = []
    for unit in units:
        frames = frames_of(unit)
        turns = tuple((frame[0].role, " ".join(page.content for page in frame)) for frame in frames)
        prefixes = [_label(frame[0], dated, role=role) if labelled else f"{frame[0].role}:" for frame in frames]
        tokens = sum(
            count(prefix) + _text_tokens(frame, text, count)
            for prefix, frame, (_, text) in zip(prefixes, frames, turns, strict=True)
        )
        text = "\n".join(f"{prefix} {text}" for prefix, (_, text) in zip(prefixes, turns, strict=True))
        day = _day(unit[0].created) if by_day and unit[0].created is not None else None
        items.append(PromptItem(tuple(page.id for page in unit), unit[0].role, text, turns, tokens, day))
    return items


def _units(pages: Sequence[Page], *, by_page: bool = False) -> list[list[Page]]:
    """A tool-call group, or the pages of one turn, travel as one unit (placed where its first page is; its
    pages in write order, whatever order they came in). With ``by_page`` (recalled archive pages) a turn's
    pages are units of their own, so a long document recalled for one passage shows that passage, not
    nothing; a tool-call group still travels whole."""
    units: dict[str, list[Page]] = {}
    for page in pages:
        units.setdefault(page.group_id or (page.id if by_page else page.frame_id) or page.id, []).append(page)
    return [sorted(unit, key=lambda page: page.vaddr) for unit in units.values()]


def _allowance(share: int | float, free: int) -> int:
    return share if isinstance(share, int) else int(share * free)


def minimum_budget(query: str, system: str, tokenizer: Tokenizer, cache: dict[str, int] | None = None) -> int:
    """Tokens the system anchor and the query take whatever else fits (a long query as a short excerpt): the
    smallest usable budget."""
    count = _Counter(tokenizer, cache if cache is not None else {})
    query_tokens = min(count("user: " + query), count("user: ") + MIN_EXCERPT)
    return (count.line(system) if system else 0) + count.line(_HEADERS["query"]) + query_tokens


def _query_item(query: str, room: int, count: _Counter) -> PromptItem:
    """The query's section line; a query over half the room left after the system anchor is an excerpt."""
    tokens = count("user: " + query)
    cap = max(MIN_EXCERPT, room // 2)
    if tokens > cap:
        where = "the whole message is kept in the archive"
        query, _ = excerpt(query, cap - count("user: "), count.tokenizer, where=where)
        tokens = count("user: " + query)
    return PromptItem((), "user", "user: " + query, (("user", query),), tokens)


def assemble_prompt(
    view: PromptView, *, tokenizer: Tokenizer, label_cache: dict[str, int] | None = None
) -> AssembledPrompt:
    """Lay out ``view`` within its budget: the system anchor, core, summaries, archive, recent turns, the query.

    ``label_cache`` keeps token counts of lines from one prompt to the next (see :class:`_Counter`).
    """
    query, budget, system, gaps = view.query, view.budget, view.system, view.gaps
    label_cache = label_cache if label_cache is not None else {}
    count = _Counter(tokenizer, label_cache)
    shares = {**DEFAULT_SECTIONS, **check_sections(view.sections)}
    system_tokens = count.line(system) if system else 0
    query_header = count.line(_HEADERS["query"])
    body = _query_item(query, budget - system_tokens - query_header, count)
    query_item = PromptItem((), "user", body.text, body.turns, body.tokens + query_header)
    free = budget - system_tokens - query_item.tokens
    if free < 0 or budget < minimum_budget(query, system, tokenizer, label_cache):
        raise PageTooLarge(
            f"a budget of {budget} tokens cannot hold the system anchor and the query "
            f"({system_tokens + query_item.tokens} tokens)"
        )
    left_out = list(view.skipped)
    built: list[Section] = []
    if system:
        anchor = PromptItem((), "system", system, (("system", system),), system_tokens)
        built.append(Section("system", system_tokens, system_tokens, (anchor,)))
    carry = 0
    recent_units = _units(view.recent)
    recent_items = _items(recent_units, count, labelled=False, dated=False)
    recent_header = count.line(_HEADERS["recent"])
    share = _allowance(shares["recent"], free) - recent_header
    floor = _trim_floor(recent_units, recent_items, _floor(recent_units, view.floor), view.floor_messages, share)
    recent_items, floor, floor_tokens = _fit_floor(recent_units, recent_items, floor, free - recent_header, count)
    allowance = max(_allowance(shares["recent"], free), floor_tokens + recent_header)  # the recent turns' least
    moved, gaps, answers = _recalled_matches(recent_units, recent_items, view.matched, gaps, allowance)
    archive_units = _by_rank(
        [recent_units[i] for i in moved], _units(view.archive, by_page=True), view.matched, answers, view.recalled_now
    )
    anchors = {**view.context_of, **answers}
    unit_of: dict[str, int] = {page.id: index for index, unit in enumerate(archive_units) for page in unit}
    requires = {
        index: unit_of[anchors[page.id]]
        for index, unit in enumerate(archive_units)
        for page in unit
        if page.id in anchors and unit_of.get(anchors[page.id], index) != index
    }
    staying = [i for i in range(len(recent_units)) if i not in moved]
    forced = {position for position, i in enumerate(staying) if i in floor}
    recent_units = [recent_units[i] for i in staying]
    candidates = {
        "core": _items(_units(view.core), count, labelled=True, dated=False),
        "summaries": _items(_units(view.summaries), count, labelled=True, dated=True),
        "archive": _items(archive_units, count, labelled=view.cite_ids, dated=False, by_day=True, role=True),
        "recent": [recent_items[i] for i in staying],
    }
    recent_order = list(reversed(range(len(recent_units))))  # one stretch back from the newest
    stops = {i for i, unit in enumerate(recent_units) if unit[0].id in gaps}
    # Which items a short section keeps: core in pin order; the newest summaries and recent turns; the
    # archive units in the order given (best recall first). Kept items are rendered in ``placement`` order.
    preference = {
        "core": list(range(len(candidates["core"]))),
        "summaries": list(reversed(range(len(candidates["summaries"])))),
        "archive": _distinct(candidates["archive"], candidates["recent"], left_out),
        "recent": recent_order,
    }
    days = [item.day or "" for item in candidates["archive"]]  # by day, so each day is named once; then write order
    chronological = sorted(
        range(len(archive_units)), key=lambda i: (days[i], min(p.vaddr for p in archive_units[i]), i)
    )
    fits = {name: _Fit(candidates[name], count.line(_HEADERS[name]), count) for name in _MEMORY_SECTIONS}
    fits["archive"].requires = requires  # context only beside the match it belongs to
    free -= fits["recent"].force(forced)  # the floor first: its turns reach the model whatever else does
    rooms: dict[str, int] = {}
    for name in _MEMORY_SECTIONS:  # each section's share, plus what the sections before it left
        held = fits[name].tokens
        room = min(free + held, _allowance(shares[name], budget - system_tokens - query_item.tokens) + carry)
        room = max(room, held)
        tokens = fits[name].take(preference[name], room, stops if name == "recent" else None)
        rooms[name] = max(room, 0)
        free -= tokens - held
        carry = max(room - tokens, 0)
    for name in _SECOND_PASS:  # room no section used goes to what was left out, the query's recalls first
        if not isinstance(shares[name], int):  # a budget in tokens is a cap
            held = fits[name].tokens
            extra = fits[name].take(preference[name], held + free, stops if name == "recent" else None) - held
            free -= extra
            rooms[name] += extra
    orphan = _answer_first(fits["recent"], recent_units, recent_order, forced)
    for name in _MEMORY_SECTIONS:
        items, chosen, tokens = candidates[name], fits[name].chosen, fits[name].tokens
        placement = chronological if name == "archive" else range(len(items))
        kept = tuple(items[index] for index in placement if index in chosen)
        for index in preference[name]:
            if index not in chosen:
                left = max(min(rooms[name] - tokens, free), 0)  # the prompt's budget may end before the section's
                need = fits[name].needs.get(index, items[index].tokens)
                reason = f"{name} section full: needs {need} tokens, {left} left"
                if name == "recent" and index == orphan:
                    reason = "recent section: the turn it answers did not fit"
                elif fits[name].gap and index not in fits[name].needs:
                    reason = f"{name} section: older than a turn in swap (the recent turns stop there)"
                left_out.extend(LeftOut(page_id, name, reason) for page_id in items[index].page_ids)
        built.append(Section(name, rooms[name], tokens, kept))
    built.append(Section("query", query_item.tokens, query_item.tokens, (query_item,)))
    while True:
        text, messages, lines = _render(built)
        if count.additive:  # the sum of the lines' counts is exact: no need to count the whole again
            tokens = sum(section.tokens for section in built)
            break
        tokens = tokenizer.count(text)  # else section counts are estimates: the whole is counted once
        if tokens <= budget or not _drop_one(built, left_out):
            break
    shared = 0
    for line, before in zip(lines, view.previous, strict=False):
        if line != before:
            break
        shared += 1
    if shared == len(lines):
        stable = tokens
    elif count.additive:
        stable = sum(count.line(line) for line in lines[:shared])
    else:
        stable = tokenizer.count("\n".join(lines[:shared])) if shared else 0
    return AssembledPrompt(
        query=query,
        budget=budget,
        sections=tuple(built),
        left_out=tuple(left_out),
        tokens=tokens,
        text=text,
        messages=tuple(messages),
        stable_prefix_tokens=stable,
        promoted=tuple(view.promoted),
        lines=tuple(lines),
        query_text=query_item.turns[0][1],
    )


def _by_rank(
    moved: list[list[Page]],
    archive: list[list[Page]],
    matched: Mapping[str, int],
    answers: Mapping[str, str],
    recalled_now: Mapping[str, int],
) -> list[list[Page]]:
    """The archive units in order of preference: this query's matches, resident (``moved``, each answer right
    after its match) or paged in (``recalled_now``), by their rank in the page-in; then earlier recalls, in
    the order given."""
    last = len(moved) + len(archive)

    def rank(unit: list[Page]) -> float:
        page = unit[0]
        if page.id in answers:
            return matched.get(answers[page.id], last) + 0.5
        return min((matched.get(p.id, recalled_now.get(p.id, last)) for p in unit), default=last)

    units = [*moved, *archive]
    return [unit for _, unit in sorted(enumerate(units), key=lambda item: (rank(item[1]), item[0]))]


def _recalled_matches(
    units: list[list[Page]],
    items: list[PromptItem],
    matched: Mapping[str, int],
    gaps: Collection[str],
    allowance: int,
) -> tuple[list[int], set[str], dict[str, str]]:
    """Resident turns the query matched that the recent turns will not reach, each with the turn that
    answers it, best match first: they are shown as recalls (the archive section). Returns their indices, the
    gaps the recent turns stop at (the turn after the newest of them included), and each answer's match.

    The recent turns surely reach back as far as their own allowance holds, from the newest to the first
    gap; a match in that stretch is shown there, in its place.
    """
    reach, used = len(units), 0
    for i in reversed(range(len(units))):
        used += items[i].tokens
        if used > allowance:
            break
        reach = i
        if units[i][0].id in gaps:
            break
    ranks = {
        i: rank
        for i, unit in enumerate(units[:reach])
        if (rank := min((matched[p.id] for p in unit if p.id in matched), default=-1)) >= 0
    }
    chosen: list[int] = []
    answers: dict[str, str] = {}
    for i in sorted(ranks, key=lambda i: (ranks[i], -i)):
        if i in chosen:
            continue
        chosen.append(i)
        following = i + 1
        if (
            following < reach
            and following not in chosen
            and following not in ranks  # a match of its own, not an answer
            and units[i][0].role == "user"
            and units[following][0].role == "assistant"
            and units[following][0].id not in gaps
        ):
            chosen.append(following)
            answers.update(dict.fromkeys((page.id for page in units[following]), units[i][0].id))
    if not chosen:
        return [], set(gaps), {}
    after = max(chosen) + 1
    stop = {units[after][0].id} if after < len(units) else set()
    return chosen, set(gaps) | stop, answers


def _distinct(archive: list[PromptItem], recent: list[PromptItem], left_out: list[LeftOut]) -> list[int]:
    """The archive items in order of preference, without those whose every turn's text is shown already (by a
    recent turn, or by an archive item preferred to it): identical text is shown once."""
    seen = {text for item in recent for _, text in item.turns}
    order: list[int] = []
    for index, item in enumerate(archive):
        texts = [text for _, text in item.turns]
        if all(text in seen for text in texts):
            reason = "archive section shows the same text already"
            left_out.extend(LeftOut(page_id, "archive", reason) for page_id in item.page_ids)
            continue
        seen.update(texts)
        order.append(index)
    return order


def _floor(units: list[list[Page]], floor: Collection[str]) -> set[int]:
    """The recent units in the floor: the newest, back to the first unit holding none of its pages."""
    if not floor:
        return set()
    chosen: set[int] = set()
    for index in reversed(range(len(units))):
        if not any(page.id in floor for page in units[index]):
            break
        chosen.add(index)
    return chosen


def _trim_floor(
    units: list[list[Page]], items: list[PromptItem], floor: set[int], minimum: int, allowance: int
) -> set[int]:
    """The floor as this prompt keeps it: the newest units up to ``minimum`` messages, and older ones while
    they stay within ``allowance`` tokens (the recent section's share of this prompt, which may be smaller
    than the share of the memory the floor was listed for); it starts at a user message where it can."""
    kept: set[int] = set()
    messages = tokens = 0
    for index in sorted(floor, reverse=True):
        opens_with_a_question = not kept or units[min(kept)][0].role == "user"
        if messages >= minimum and tokens + items[index].tokens > allowance and opens_with_a_question:
            break
        kept.add(index)
        messages += len(frames_of(units[index]))
        tokens += items[index].tokens
    return kept


def _fit_floor(
    units: list[list[Page]], items: list[PromptItem], floor: set[int], room: int, count: _Counter
) -> tuple[list[PromptItem], set[int], int]:
    """The floor's items within ``room``: whole if they fit, else the longest messages cut to one cap (the
    largest that fits, found by bisection) as excerpts; the oldest floor units go only if even excerpts of
    :data:`MIN_EXCERPT` tokens cannot fit. Returns the items, the floor kept, and its tokens."""
    floor = set(floor)
    while floor:
        total = sum(items[i].tokens for i in floor)
        if total <= room:
            return items, floor, total
        frames = {i: frames_of(units[i]) for i in floor}
        texts = {i: [text for _, text in items[i].turns] for i in floor}
        fixed = sum(count(f"{frame[0].role}:") for i in floor for frame in frames[i])
        sizes = [count(f" {text}\n") for i in floor for text in texts[i]]
        low, high = MIN_EXCERPT, max(sizes)
        if fixed + sum(min(size, low) for size in sizes) > room:
            floor.discard(min(floor))  # not even excerpts fit: the oldest goes
            continue
        while low < high:  # the largest cap whose excerpts fit
            middle = (low + high + 1) // 2
            if fixed + sum(min(size, middle) for size in sizes) <= room:
                low = middle
            else:
                high = middle - 1
        cut = list(items)
        for i in floor:
            turns = []
            for frame, (role, text) in zip(frames[i], items[i].turns, strict=True):
                if count(f" {text}\n") > low:
                    where = f"the whole message is {frame[0].id}" + (f"..{frame[-1].id}" if len(frame) > 1 else "")
                    text, _ = excerpt(text, max(1, low - 2), count.tokenizer, where=where)
                turns.append((role, text))
            tokens = sum(count(f"{role}:") + count(f" {text}\n") for role, text in turns)
            line = "\n".join(f"{role}: {text}" for role, text in turns)
            cut[i] = PromptItem(items[i].page_ids, items[i].role, line, tuple(turns), tokens, items[i].day)
        total = sum(cut[i].tokens for i in floor)
        if total <= room:
            return cut, floor, total
        room -= total - room  # the excerpts' markers cost more than guessed: aim lower
    return items, floor, 0


class _Fit:
    """The items a section keeps, and its tokens: its header, theirs, and a line per day among them."""

    __slots__ = ("_count", "_days", "_header", "_items", "chosen", "gap", "needs", "requires", "tokens")

    def __init__(self, items: list[PromptItem], header: int, count: _Counter) -> None:
        self._items, self._header, self._count = items, header, count
        self._days: set[str] = set()
        self.chosen: set[int] = set()
        self.needs: dict[int, int] = {}  # what an item that did not fit needed: its lines, a header, a day line
        self.gap = False  # the stretch ended at a turn not shown (in swap), not for room
        self.requires: dict[int, int] = {}  # an item shown only if this other item is
        self.tokens = 0

    def take(self, order: list[int], room: int, stops: Collection[int] | None = None) -> int:
        """Add the items, in ``order`` of preference, that fit while the section stays within ``room``.

        With ``stops`` (recent turns, newest first), the items are one unbroken stretch: the first item that
        does not fit ends it, and so does an item in ``stops`` once taken, never an answer left out with
        its question kept.
        """
        for index in order:
            if index in self.chosen:
                if stops is not None and index in stops:
                    self.gap = True
                    break
                continue
            if index in self.requires and self.requires[index] not in self.chosen:
                continue
            item = self._items[index]
            need = item.tokens + (0 if self.chosen else self._header)
            if item.day is not None and item.day not in self._days:
                need += self._count.line(_day_line(item.day))
            if self.tokens + need <= room:
                self.chosen.add(index)
                self.tokens += need
                if item.day is not None:
                    self._days.add(item.day)
                if stops is not None and index in stops:
                    self.gap = True
                    break
                continue
            self.needs[index] = need
            if stops is not None:
                break
        return self.tokens

    def force(self, indices: Collection[int]) -> int:
        """Take these items whatever the room (the recent-turns floor); returns the tokens taken."""
        for index in sorted(indices):
            self.tokens += self._items[index].tokens + (0 if self.chosen else self._header)
            self.chosen.add(index)
        return self.tokens

    def drop(self, index: int) -> None:
        """Give back a recent turn taken (recent items carry no day line)."""
        self.chosen.discard(index)
        self.tokens -= self._items[index].tokens + (0 if self.chosen else self._header)


def _answer_first(fit: _Fit, units: list[list[Page]], order: list[int], forced: Collection[int]) -> int | None:
    """The stretch of recent turns starts with a question, not an answer whose question was cut off (unless
    the answer is in the floor); returns the answer dropped, if any."""
    stretch = [index for index in order if index in fit.chosen]
    if stretch:
        oldest = stretch[-1]
        if (
            units[oldest][0].role == "assistant"
            and oldest > 0
            and oldest - 1 not in fit.chosen
            and oldest not in forced
        ):
            fit.drop(oldest)
            return oldest
    return None


def _drop_one(built: list[Section], left_out: list[LeftOut]) -> bool:
    """Drop the least needed item (oldest recent turn, then archive, summaries, core) after a recount."""
    for name in ("recent", "archive", "summaries", "core"):
        for position, section in enumerate(built):
            if section.name == name and section.items:
                first, rest = section.items[0], section.items[1:]
                reason = "prompt over budget after the final count"
                left_out.extend(LeftOut(page_id, name, reason) for page_id in first.page_ids)
                built[position] = Section(name, section.budget, section.tokens - first.tokens, rest)
                return True
    return False


def _section_lines(section: Section) -> list[str]:
    """The section's header, then its items, each day's items after a line naming the day."""
    lines = [_HEADERS[section.name]] if section.name in _HEADERS else []
    day = None
    for item in section.items:
        if item.day is not None and item.day != day:
            lines.append(_day_line(item.day))
        day = item.day
        lines.append(item.text)
    return lines


def _section_text(section: Section) -> str:
    return "\n".join(_section_lines(section))


def _render(built: list[Section]) -> tuple[str, list[dict[str, str]], list[str]]:
    """Text, role messages and the text's lines (headers and items, a line break apart), all from the structure."""
    lines: list[str] = []
    system_parts: list[str] = []
    messages: list[dict[str, str]] = []
    for section in built:
        if not section.items:
            continue
        section_lines = _section_lines(section)
        block = "\n".join(section_lines)
        lines.extend(section_lines)
        if section.name in ("system", "core", "summaries", "archive"):
            system_parts.append(block)
        else:
            messages.extend({"role": role, "content": text} for item in section.items for role, text in item.turns)
    if system_parts:
        messages.insert(0, {"role": "system", "content": "\n\n".join(system_parts)})
    return "\n".join(lines), messages, lines
