"""Summaries of evicted spans: provenance, the summary budget, custom summarizers, the extractive one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from nexint_core import (
    Action,
    InvalidArgument,
    MemoryManager,
    Page,
    PageId,
    PageTooLarge,
    StepClock,
    Tier,
    Tokenizer,
    get_tokenizer,
    rebuild_from_events,
)
from nexint_core.splitting import MIN_PAGE_SIZE
from nexint_core.summarizer import ExtractiveSummarizer, Summarizer

TOPICS = ["hiking trail", "sourdough bread", "tax return", "guitar lesson", "garden tomatoes", "train timetable"]
REPLIES = ["Thanks!", "Sure.", "Got it.", "Okay.", "Yes.", "No."]


def make(limit: int = 200, **kwargs: Any) -> MemoryManager:
    kwargs.setdefault("clock", StepClock())
    kwargs.setdefault("page_size", 32)
    kwargs.setdefault("summarizer", "extractive")
    kwargs.setdefault("summary_budget", 60)
    kwargs.setdefault("summary_span", 4)
    kwargs.setdefault("recent_floor", 0)  # summary mechanics at a tiny limit (the floor: test_floor.py)
    return MemoryManager(limit, **kwargs)


def turn(i: int) -> str:
    return f"Turn {i} is about the {TOPICS[i % len(TOPICS)]}. It mentions item {i % 13} again."


def assert_budgets(mmu: MemoryManager) -> None:
    usage = mmu.usage()
    assert usage["summary"] <= usage["summary_budget"], usage
    assert usage["core"] <= usage["core_budget"], usage
    assert usage["core"] + usage["summary"] + usage["active"] <= usage["limit"], usage


def summary_pages(mmu: MemoryManager) -> list[Page]:
    return [page for page in mmu.page_table if page.id.startswith("SUM-")]


class Recording:
    """A summarizer that names its sources and remembers how it was called."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], int, Tokenizer]] = []

    def summarize(self, pages: Sequence[Page], max_tokens: int, tokenizer: Tokenizer) -> str:
        self.calls.append(([page.id for page in pages], max_tokens, tokenizer))
        return "recap of " + " ".join(page.id for page in pages)


class Verbose:
    """A summarizer that ignores ``max_tokens``."""

    def summarize(self, pages: Sequence[Page], max_tokens: int, tokenizer: Tokenizer) -> str:
        return "This span covered a great many things in a great many words. " * 40


class Silent:
    """A summarizer with nothing to say."""

    def __init__(self, text: str = "") -> None:
        self.text = text
        self.calls = 0

    def summarize(self, pages: Sequence[Page], max_tokens: int, tokenizer: Tokenizer) -> str:
        self.calls += 1
        return self.text


# -- provenance ---------------------------------------------------------------------------------


def _sentences(page_id: str, mmu: MemoryManager) -> list[str]:
    content = mmu.get(page_id).content
    return [part.strip() + "." for part in content.split(".") if part.strip()]


def test_summaries_evicting_a_span_writes_a_summary_with_provenance() -> None:
    mmu = make(120, summary_budget=40, summary_span=3)
    i = 0
    while len(mmu.events.filter(action="evict")) < 2:
        mmu.write("user" if i % 2 else "assistant", turn(i), importance=(i % 10) / 10)
        i += 1
    assert summary_pages(mmu) == []  # two evictions are not a span yet
    while not mmu.events.filter(action="summarize"):
        mmu.write("user" if i % 2 else "assistant", turn(i), importance=(i % 10) / 10)
        i += 1
    (event,) = mmu.events.filter(action="summarize")
    evicted = [e.memory_id for e in mmu.events.filter(action="evict") if e.seq < event.seq]
    assert len(evicted) == 3
    (page,) = mmu.pages(Tier.SUMMARY)
    assert page.id.startswith("SUM-")
    assert (page.role, page.tier, page.namespace) == ("summary", Tier.SUMMARY, mmu.namespace)
    assert page.metadata == {"sources": evicted, "level": 1}
    assert page.importance == max(mmu.get(source).importance for source in evicted)
    assert (event.memory_id, event.tier_from, event.tier_to, event.tokens) == (
        page.id,
        None,
        Tier.SUMMARY,
        page.tokens,
    )
    assert event.reason == f"summary of 3 evicted pages {evicted[0]}..{evicted[-1]}"
    assert page.tokens == mmu.tokenizer.count(page.content)
    sources = {mmu.get(source).role + ": " + sentence for source in evicted for sentence in _sentences(source, mmu)}
    assert page.content.splitlines()
    assert set(page.content.splitlines()) <= sources
    assert mmu.store.get(page.id) is page
    assert {mmu.get(source).tier for source in evicted} == {Tier.SWAP}


def test_summaries_are_off_by_default() -> None:
    mmu = MemoryManager(60, page_size=16, clock=StepClock())
    for i in range(50):
        mmu.write("user", turn(i))
    assert mmu.summarizer is None
    assert mmu.usage()["summary_budget"] == 0
    assert summary_pages(mmu) == []
    assert mmu.events.filter(action="summarize") == []


# -- the summary budget -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "page_size", "summary_budget", "summary_span"),
    [(200, 32, 60, 4), (120, 32, 40, 3), (90, 16, 20, 2), (300, 64, 100, 8)],
)
def test_summaries_stay_within_budget_over_a_long_run(
    limit: int, page_size: int, summary_budget: int, summary_span: int
) -> None:
    mmu = make(
        limit, page_size=page_size, summary_budget=summary_budget, summary_span=summary_span, core_budget=limit // 10
    )
    mmu.write("system", "Answer briefly.", pin=True)
    for i in range(400):
        mmu.write("user" if i % 2 else "assistant", turn(i), importance=(i % 10) / 10)
        assert_budgets(mmu)
        assert all(page.role == "summary" for page in mmu.pages(Tier.SUMMARY))
    summaries = summary_pages(mmu)
    assert len(summaries) > 10
    created = [e for e in mmu.events.filter(action="summarize") if e.tier_from is None]
    assert sorted(e.memory_id for e in created) == sorted(page.id for page in summaries)
    # Every page that left the summary tier did so by a logged merge or retirement.
    left = [e for e in mmu.events if e.tier_from is Tier.SUMMARY]
    assert left
    for event in left:
        assert event.action is Action.SUMMARIZE
        assert event.tier_to is Tier.SWAP
        assert event.reason.startswith("merged into SUM-") or event.reason == "summary budget full: retired to swap"
    for page in summaries:
        if page.metadata["level"] >= 2:
            assert page.metadata["sources"]
            assert all(source.startswith("SUM-") for source in page.metadata["sources"])
            assert {mmu.get(source).tier for source in page.metadata["sources"]} == {Tier.SWAP}
        else:
            assert not any(source.startswith("SUM-") for source in page.metadata["sources"])
    assert rebuild_from_events(mmu.events) == mmu.page_table.snapshot()


def test_summaries_merge_older_summaries_into_higher_levels() -> None:
    mmu = make()
    for i in range(400):
        mmu.write("user" if i % 2 else "assistant", turn(i))
    merged = [page for page in summary_pages(mmu) if page.metadata["level"] >= 2]
    assert merged
    page = merged[0]
    first, second = page.metadata["sources"]
    (event,) = mmu.events.filter(action="summarize", memory_id=page.id)[:1]
    assert event.reason == f"merged {first} and {second}"
    for source in (first, second):
        retired = mmu.events.filter(action="summarize", memory_id=source)[-1]
        assert (retired.tier_from, retired.tier_to, retired.reason) == (
            Tier.SUMMARY,
            Tier.SWAP,
            f"merged into {page.id}",
        )
    assert page.tokens is not None
    assert page.tokens < sum(mmu.get(source).tokens or 0 for source in (first, second))


def test_summaries_retire_to_swap_when_they_cannot_be_merged() -> None:
    class NoMerge:
        """Summarizes turns, but has nothing to say about summaries: merging is impossible."""

        def summarize(self, pages: Sequence[Page], max_tokens: int, tokenizer: Tokenizer) -> str:
            if any(page.role == "summary" for page in pages):
                return ""
            return pages[0].content

    mmu = make(120, summary_budget=40, summary_span=3, summarizer=NoMerge())
    for i in range(40):
        mmu.write("assistant", f"Turn {i}: the hiking trail number {i} climbs past the old mill.")
        assert_budgets(mmu)
    retired = [e for e in mmu.events.filter(action="summarize") if e.reason == "summary budget full: retired to swap"]
    assert retired
    for event in retired:
        assert mmu.get(event.memory_id).tier is Tier.SWAP
        assert event.tier_from is Tier.SUMMARY


class Preamble:
    """A chatty summarizer: its summary is longer than a short span, though within ``max_tokens``."""

    def summarize(self, pages: Sequence[Page], max_tokens: int, tokenizer: Tokenizer) -> str:
        return "In this part of the chat: " + " ".join(page.content for page in pages)


@pytest.mark.parametrize("summarizer", ["extractive", Preamble()], ids=["extractive", "preamble"])
def test_summaries_tier_stays_within_budget_when_sources_are_tiny(summarizer: Any) -> None:
    for summary_budget in range(MIN_PAGE_SIZE, 40):
        mmu = make(60, page_size=16, summarizer=summarizer, summary_budget=summary_budget, summary_span=1)
        for i in range(60):
            mmu.write("user" if i % 2 else "assistant", REPLIES[i % len(REPLIES)])
            assert_budgets(mmu)


def test_summaries_never_make_a_write_that_fits_fail() -> None:
    mmu = make(60, core_budget=0, page_size=64, summary_budget=16, summary_span=1)
    for i in range(8):
        mmu.write("user" if i % 2 else "assistant", REPLIES[i % len(REPLIES)])
    text = " ".join(["word"] * 44)
    assert mmu.tokenizer.count(text) == mmu.limit_tokens - mmu.summary_budget
    page_id = mmu.write("user", text)[0]
    assert mmu.get(page_id).tier is Tier.ACTIVE
    assert_budgets(mmu)


@pytest.mark.parametrize("summary_budget", [0, 1, MIN_PAGE_SIZE - 1])
def test_summaries_with_a_budget_too_small_for_any_summary_never_crash(summary_budget: int) -> None:
    mmu = make(100, page_size=16, summary_budget=summary_budget, summary_span=2)
    for i in range(60):
        mmu.write("user", turn(i))
        assert_budgets(mmu)
    assert mmu.events.filter(action="evict")


def test_summaries_reserve_their_budget_from_page_in_room() -> None:
    mmu = make(100, page_size=16, summary_budget=30, core_budget=10, page_in_budget=1000)
    for i in range(20):
        mmu.write("user", f"Falcon report {i}: the launch crew checked system {i}.")
    for i in range(20):  # the falcon reports are archived or summarized: the query's matches are in swap
        mmu.write("user", f"Heron note {i}: the garden team watered bed {i}.")
    ids = mmu.page_in("falcon launch crew")
    promoted = sum(mmu.get(page_id).tokens or 0 for page_id in ids)
    assert 0 < promoted <= 100 - 30 - mmu.usage()["core"]
    assert_budgets(mmu)


# -- summaries are searchable -------------------------------------------------------------------


def zeppelin_session(turns: int, **kwargs: Any) -> MemoryManager:
    """Three turns about a zeppelin (the first summarized span), then unrelated ones."""
    mmu = make(120, summary_budget=40, summary_span=3, **kwargs)
    mmu.write("user", "The zeppelin tour starts at dawn.")
    mmu.write("assistant", "The zeppelin tour is booked.")
    mmu.write("user", "Bring a coat for the zeppelin tour.")
    for i in range(turns):
        mmu.write("assistant", f"Turn {i}: the trail number {i} climbs past the old mill.")
        if mmu.events.filter(action="summarize"):
            assert_budgets(mmu)
    return mmu


def test_summaries_a_retired_summary_gives_way_to_its_turns_while_they_are_archived() -> None:
    mmu = zeppelin_session(40, page_in_budget=60)
    first = mmu.get("SUM-000001")
    assert first.tier is Tier.SWAP
    ids = mmu.page_in("zeppelin tour")
    assert set(first.metadata["sources"]) <= set(ids)  # the turns say more than their summary
    assert first.id not in ids
    assert not [event for event in mmu.events.filter(memory_id=first.id) if event.action is Action.SKIP]


def test_summaries_retired_summary_can_be_paged_back_in_when_its_turns_are_gone() -> None:
    mmu = zeppelin_session(40, page_in_budget=60)
    first = mmu.get("SUM-000001")
    assert "zeppelin" in first.content
    assert first.tier is Tier.SWAP
    for source in first.metadata["sources"]:
        mmu.forget(source)
    ids = mmu.page_in("zeppelin tour")
    assert first.id in ids
    assert mmu.get(first.id).tier is Tier.ACTIVE
    assert first.id in [page.id for page in mmu.active_pages()]
    event = mmu.events.filter(action="page_in", memory_id=first.id)[-1]
    assert event.reason.startswith("query match: relevance ")
    assert_budgets(mmu)
    assert rebuild_from_events(mmu.events) == mmu.page_table.snapshot()


def test_summaries_in_the_summary_tier_are_indexed_in_the_store() -> None:
    mmu = zeppelin_session(8)
    (summary,) = mmu.pages(Tier.SUMMARY)
    assert summary.metadata["sources"] == ["MSG-000001", "MSG-000002", "MSG-000003"]
    assert "zeppelin" in summary.content
    hits = [hit.page_id for hit in mmu.store.search_text("zeppelin", namespaces=mmu.namespaces)]
    assert summary.id in hits


# -- custom summarizers -------------------------------------------------------------------------


def test_summaries_use_a_custom_summarizer_object() -> None:
    recording = Recording()
    assert isinstance(recording, Summarizer)
    mmu = make(120, summarizer=recording, summary_budget=40, summary_span=3)
    for i in range(30):
        mmu.write("user", turn(i))
        assert_budgets(mmu)
    assert mmu.summarizer is recording
    assert recording.calls
    sources, max_tokens, tokenizer = recording.calls[0]
    assert (max_tokens, tokenizer) == (20, mmu.tokenizer)
    page = mmu.get("SUM-000001")
    assert page.metadata["sources"] == sources
    assert page.content == "recap of " + " ".join(sources)


@pytest.mark.parametrize(("summary_span", "text"), [(4, "turns"), (1, "turns"), (1, "replies")])
def test_summaries_verbose_summarizer_never_breaks_the_budget(summary_span: int, text: str) -> None:
    mmu = make(120, summarizer=Verbose(), summary_budget=40, summary_span=summary_span, page_size=16)
    for i in range(200):
        mmu.write("user", turn(i) if text == "turns" else REPLIES[i % len(REPLIES)])
        assert_budgets(mmu)
    summaries = summary_pages(mmu)
    assert summaries
    assert all((page.tokens or 0) <= 20 for page in summaries)


@pytest.mark.parametrize("text", ["", "   \n  "])
def test_summaries_empty_summary_produces_no_summary_page(text: str) -> None:
    silent = Silent(text)
    mmu = make(120, summarizer=silent, summary_budget=40, summary_span=2)
    for i in range(60):
        mmu.write("user", turn(i))
        assert_budgets(mmu)
    assert silent.calls > 0
    assert summary_pages(mmu) == []
    assert mmu.events.filter(action="summarize") == []
    assert mmu.usage()["summary"] == 0
    assert rebuild_from_events(mmu.events) == mmu.page_table.snapshot()


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: make(summarizer="nope"), "unknown summarizer 'nope'"),
        (lambda: make(100, core_budget=60, summary_budget=41), "cannot exceed limit_tokens"),
        (lambda: make(100, core_budget=100, summary_budget=1), "cannot exceed limit_tokens"),
        (lambda: make(summary_budget=-1), "summary_budget"),
        (lambda: make(summary_span=0), "summary_span"),
    ],
)
def test_summaries_invalid_configuration_raises_invalid_argument(build: Any, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message) as info:
        build()
    assert info.value.code == "INVALID_ARGUMENT"


def test_summaries_summarizer_name_is_case_insensitive() -> None:
    assert isinstance(make(summarizer="Extractive").summarizer, ExtractiveSummarizer)


# -- the extractive summarizer ------------------------------------------------------------------

SPAN = [
    Page(
        PageId("MSG-000001"),
        "We hiked the ridge trail on Saturday. The trail was muddy after the rain. Lunch was at the hut.",
        role="user",
    ),
    Page(
        PageId("MSG-000002"),
        "The ridge trail is closed in winter! Check the trail report first.\nBring boots.",
        role="assistant",
    ),
    Page(PageId("TOL-000001"), "trail report: ridge trail open, mud warning.", role="tool"),
]
SENTENCES = [
    "user: We hiked the ridge trail on Saturday.",
    "user: The trail was muddy after the rain.",
    "user: Lunch was at the hut.",
    "assistant: The ridge trail is closed in winter!",
    "assistant: Check the trail report first.",
    "assistant: Bring boots.",
    "tool: trail report: ridge trail open, mud warning.",
]


# Determinism and the max_tokens bound: tests/contracts/test_summarizer_contract.py, for every summarizer.


@pytest.mark.parametrize("max_tokens", [12, 24, 36, 48, 1000])
def test_extractive_summarizer_keeps_sentences_in_order_with_role_prefixes(max_tokens: int) -> None:
    summary = ExtractiveSummarizer().summarize(SPAN, max_tokens, get_tokenizer())
    lines = summary.split("\n")
    assert lines
    positions = [SENTENCES.index(line) for line in lines]  # every line is a whole source sentence
    assert positions == sorted(positions)
    assert len(set(positions)) == len(positions)
    for line in lines:
        assert line.split(": ", 1)[0] in {"user", "assistant", "tool"}


def test_extractive_summarizer_keeps_everything_when_it_fits() -> None:
    assert ExtractiveSummarizer().summarize(SPAN, 1000, get_tokenizer()).split("\n") == SENTENCES


def test_extractive_summarizer_prefers_recurring_content_words() -> None:
    summary = ExtractiveSummarizer().summarize(SPAN, 14, get_tokenizer())
    assert "trail" in summary
    assert "Lunch" not in summary


def test_extractive_summarizer_of_nothing_is_empty() -> None:
    tokenizer = get_tokenizer()
    assert ExtractiveSummarizer().summarize([], 100, tokenizer) == ""
    assert ExtractiveSummarizer().summarize([Page(PageId("MSG-000009"), "  \n ")], 100, tokenizer) == ""
    assert ExtractiveSummarizer().summarize(SPAN, 0, tokenizer) == ""


# -- random operations --------------------------------------------------------------------------

LIMIT, CORE_BUDGET, SUMMARY_BUDGET, PAGE_SIZE, SUMMARY_SPAN = 120, 20, 30, 16, 3
WORDS = st.lists(
    st.sampled_from(["alpha", "beta", "gamma", "falcon", "launch", "code", "paris", "trail", "42", ".", "!"]),
    min_size=1,
    max_size=30,
)


class SummaryMachine(RuleBasedStateMachine):
    @initialize()
    def start(self) -> None:
        self.mmu = MemoryManager(
            LIMIT,
            core_budget=CORE_BUDGET,
            page_size=PAGE_SIZE,
            clock=StepClock(),
            summarizer="extractive",
            summary_budget=SUMMARY_BUDGET,
            summary_span=SUMMARY_SPAN,
        )
        self.mmu.write("system", "Answer briefly.", pin=True)
        self.open_groups: list[str] = []

    @rule(
        words=WORDS,
        role=st.sampled_from(["user", "assistant", "tool"]),
        importance=st.floats(0, 1),
        grouped=st.integers(0, 4),
    )
    def write(self, words: list[str], role: str, importance: float, grouped: int) -> None:
        group = None
        if grouped == 1:
            group = f"call-{len(self.open_groups)}"
            self.open_groups.append(group)
        elif grouped == 2 and self.open_groups:
            group = self.open_groups[-1]
        before = (self.mmu.page_table.snapshot(), self.mmu.events.last_seq)
        try:
            self.mmu.write(role, " ".join(words), importance=importance, group=group)
        except PageTooLarge:
            assert (self.mmu.page_table.snapshot(), self.mmu.events.last_seq) == before

    @precondition(lambda self: len(self.mmu) > 1)
    @rule(data=st.data())
    def touch(self, data: st.DataObject) -> None:
        page_id = data.draw(st.sampled_from(sorted(page.id for page in self.mmu.page_table)))
        self.mmu.touch(page_id)

    @rule(words=WORDS, budget=st.none() | st.integers(0, LIMIT))
    def page_in(self, words: list[str], budget: int | None) -> None:
        core = self.mmu.usage()["core"]
        ids = self.mmu.page_in(" ".join(words), budget=budget)
        room = min(self.mmu.page_in_budget if budget is None else budget, LIMIT - core - SUMMARY_BUDGET)
        assert sum(self.mmu.get(page_id).tokens or 0 for page_id in ids) <= room

    @invariant()
    def budgets_hold(self) -> None:
        assert_budgets(self.mmu)

    @invariant()
    def every_page_in_exactly_one_tier(self) -> None:
        table = self.mmu.page_table
        per_tier = {tier: {page.id for page in table.pages(tier)} for tier in Tier}
        assert sum(len(ids) for ids in per_tier.values()) == len(table)
        for page in table:
            assert page.id in per_tier[page.tier]  # type: ignore[index]
        for tier in Tier:
            assert table.tokens(tier) == sum(page.tokens or 0 for page in table.pages(tier))
        assert all(page.id.startswith("SUM-") for page in table.pages(Tier.SUMMARY))

    @invariant()
    def summaries_name_their_sources(self) -> None:
        for page in summary_pages(self.mmu):
            assert page.role == "summary"
            assert page.metadata["sources"]
            assert all(source in self.mmu for source in page.metadata["sources"])

    @invariant()
    def groups_never_split(self) -> None:
        tiers: dict[str, set[Tier | None]] = {}
        for page in self.mmu.page_table:
            if page.group_id is not None:
                tiers.setdefault(page.group_id, set()).add(page.tier)
        assert all(len(found) == 1 for found in tiers.values())

    @invariant()
    def event_log_rebuilds_the_table(self) -> None:
        assert rebuild_from_events(self.mmu.events) == self.mmu.page_table.snapshot()


def test_summaries_invariants_hold_under_random_operations() -> None:
    # No shrink phase: shrinking a failing run of this machine can take Hypothesis's full five
    # minutes; the unshrunk steps are printed instead.
    phases = (Phase.explicit, Phase.reuse, Phase.generate)
    run_state_machine_as_test(
        SummaryMachine, settings=settings(settings(), max_examples=100, stateful_step_count=50, phases=phases)
    )
