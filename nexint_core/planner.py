"""The page-in planner: ranks a query's archive candidates, picks the turns around the best, keeps the
recall state, and returns a plan that the manager carries out with its own moves.

A plan names the units to bring in (with the reason logged for each), the matches already resident,
and every unit the query recalls in rank order. The recall state remembers, per active page, which
page-in recalled it and at what rank (the prompt's archive section), which pages were shown as the
context of a match, and the resident matches of the last page-in.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Hashable, Mapping, Sequence
from dataclasses import dataclass, field

from nexint_core.events import Action
from nexint_core.page_table import PageTable
from nexint_core.pages import SUMMARY_ROLE, Page, Tier
from nexint_core.retrieval import Candidate, ScoringWeights, fused_hits, scored
from nexint_core.stores import PersistentStore

__all__ = ["CONTEXT_SHARES", "PageInPlan", "PageInPlanner", "resident_unit", "unit_of"]

NEIGHBOUR_REACH = 16  # pages of one turn walked when pulling in a match's neighbours
# The share of a match's score the turns around it get: the rest of its turn, the turn before (what it answers),
# the first and the second turn after (the replies). Context is read with its match, so it is worth less than
# the match itself, and the context of a strong match is worth more than a weak match.
CONTEXT_SHARES = {  # (same turn, turn before, first turn after, second turn after)
    "question": (0.9, 0.25, 0.8, 0.35),  # a question is answered by the turns after it
    "statement": (0.9, 0.25, 0.25, 0.15),  # a statement says what it says: its context is worth little
}
_RELATIONS = ("same turn", "turn before", "turn after", "turn after")
_SHARES = {True: CONTEXT_SHARES["question"], False: CONTEXT_SHARES["statement"]}  # by whether a match asks
MIN_CANDIDATES = 40
AROUND_KEPT = 65_536  # pages whose surrounding turns are remembered (cleared when full: bounded memory)
SKIPS_LOGGED = 3  # candidates that lost for room, logged per page-in (the best of them)
_UNRANKED = 1 << 30  # the rank of a page brought in by something other than a page-in's plan

Adopt = Callable[[str, float], "Page | None"]
# A unit worth showing: (minus its score, page id, page, the match's candidate or the context's kind, the match
# it is context of), so entries sort best first; the reason logged is written only for the units chosen or
# skipped (:func:`_reason`).
_Entry = tuple[float, str, Page, "Candidate | int", "str | None"]
Skip = Callable[[Page, str, float], None]


def _reason(entry: _Entry) -> str:
    """The reason logged for a unit chosen (or skipped): its score breakdown, or whose context it is."""
    negated, _, _, why, anchor = entry
    if isinstance(why, Candidate):
        return why.reason()
    return f"context of {anchor} ({_RELATIONS[why]}), score {-negated:.3f}"


def unit_of(page: Page, groups: Mapping[str, list[Page]]) -> list[Page]:
    """The pages that move with ``page``: its tool-call group, or the page alone."""
    return groups[page.unit] if page.group_id is not None else [page]


def resident_unit(key: Hashable | None, table: PageTable, groups: Mapping[str, list[Page]]) -> list[Page]:
    """The unit named ``key`` (a page id, or ``@group``) if it is active, else nothing."""
    if not isinstance(key, str):
        return []
    if key.startswith("@"):
        members = groups.get(key, [])
        return members if members and members[0].tier is Tier.ACTIVE else []
    page = table.find(key)
    return [page] if page is not None and page.tier is Tier.ACTIVE else []


@dataclass(slots=True)
class PageInPlan:
    """What one page-in decided: units to bring in (with their reasons), resident matches, and ranks."""

    chosen: dict[str, tuple[list[Page], str]] = field(default_factory=dict)
    hits: dict[str, list[Page]] = field(default_factory=dict)  # matches already active: used, recalled in the prompt
    ranks: dict[str, int] = field(default_factory=dict)  # every unit recalled, best first, a match's context after it
    used: int = 0  # tokens the chosen units take
    accessed: list[tuple[str, list[Page]]] = field(default_factory=list)  # resident units this query used, in order


class PageInPlanner:
    """Plans page-ins over a manager's page table and store, and keeps what they recalled.

    ``adopt`` takes into the table a page another writer stored in a namespace the manager reads;
    ``skip`` logs a candidate left out, with the reason.
    """

    def __init__(
        self,
        table: PageTable,
        groups: Mapping[str, list[Page]],
        store: PersistentStore,
        namespaces: Sequence[str],
        weights: ScoringWeights,
        *,
        adopt: Adopt,
        skip: Skip,
        floor: Container[Hashable] = (),
    ) -> None:
        self._table, self._groups, self._store = table, groups, store
        self._namespaces, self.weights = tuple(namespaces), weights
        self._adopt, self._skip = adopt, skip
        self._floor = floor  # units the recent turns show anyway, even from swap: never paged in for a query
        # Active pages recalled for a query (the prompt's archive section): id -> (page-in number, rank in it).
        self.recalled: dict[str, tuple[int, int]] = {}
        self.recalls = 0
        self.context_of: dict[str, str] = {}  # a page shown as context of a match -> the match's id
        self.matched: dict[str, int] = {}  # resident pages the last page-in matched, by rank
        self._around_cache: dict[str, list[tuple[Page, int, str]]] = {}
        self._around_removals = table.removals

    # -- planning ------------------------------------------------------------------------------

    def plan(self, query: str, room: int, now: float) -> PageInPlan:
        """Rank the archive for ``query`` and choose what fits ``room`` tokens, best first.

        The turns around a match are read with it: the rest of its turn, the turn before it (what it
        answers) and the two after it (the replies) are ranked at a share of the match's score
        (:data:`CONTEXT_SHARES`), beside the other matches, so the context of a strong match comes before
        a weak match, and a weak match brings no context worth its room.
        """
        plan = PageInPlan()
        entries = self._entries(query, room, now)
        losers = kept = 0
        for entry in sorted(entries.values()):  # best first, ties by page id (the score is kept negated)
            page, anchor = entry[2], entry[4]
            key = page.unit
            if key in plan.ranks:
                continue
            if (
                losers >= SKIPS_LOGGED
                and page.group_id is None
                and page.tier is Tier.SWAP
                and (page.tokens or 0) > room - kept - plan.used
            ):
                continue  # does not fit, and the near misses are logged already: nothing more to learn
            unit = unit_of(page, self._groups)
            if anchor is not None:  # context: brought in from swap, or re-shown if the archive shows it already
                if page.tier is not Tier.SWAP and page.id not in self.recalled:
                    continue
                if any(member.quarantined for member in unit):
                    continue
            tokens = sum(member.tokens or 0 for member in unit)
            if page.tier is Tier.ACTIVE:  # shown as it is; the room it holds is not the new pages'
                if kept + plan.used + tokens > room:
                    continue
                kept += tokens
                if anchor is None:
                    plan.hits[key] = unit
            elif page.tier is Tier.SWAP:
                if kept + plan.used + tokens > room:
                    losers += 1
                    if losers <= SKIPS_LOGGED and anchor is None:  # the near misses (logging all costs more)
                        left = f"needs {tokens} tokens, {room - kept - plan.used} of {room} left"
                        self._skip(page, f"lost to higher-scored pages: {left}; {_reason(entry)}", now)
                    continue
                plan.chosen[key] = (unit, _reason(entry))
                plan.used += tokens
            plan.ranks[key] = len(plan.ranks)
            for member in unit:  # a match in its own right now, or the context of this query's match
                if anchor is None:
                    self.context_of.pop(member.id, None)
                else:
                    self.context_of[member.id] = anchor
        context = [key for key in plan.ranks if key not in plan.chosen and key not in plan.hits]  # resident, re-shown
        for unit in plan.hits.values():  # a match's answer is used with it, so the pair ages together
            for neighbour, _ in self.neighbours(unit[-1], 0, 1):
                if neighbour.tier is Tier.ACTIVE and neighbour.unit not in plan.ranks and neighbour.unit not in context:
                    context.append(neighbour.unit)
        resident = [(key, resident_unit(key, self._table, self._groups)) for key in context]
        plan.accessed = [*resident, *reversed(plan.hits.items())]  # matches last, worst first
        self.recalls += 1
        return plan

    def _entries(self, query: str, room: int, now: float) -> dict[str, _Entry]:
        """Every unit worth showing for ``query``: ``unit -> (-score, page id, page, why, match it is context of)``
        (``why`` is the match's candidate, or the kind of turn a context page is to it), the matches and the
        turns around them, each unit at its best score."""
        ranked = self._ranked(query, self._depth(room), now)
        entries: dict[str, _Entry] = {}
        for candidate, page in ranked:
            unit = page.unit
            if unit not in entries:
                entries[unit] = (-candidate.score, page.id, page, candidate, None)
        floor, held_entry = self._floor, entries.get
        for candidate, page in ranked:
            shares, best, anchor = _SHARES[page.asks], candidate.score, page.id
            for neighbour, kind, unit in self._around(page):
                score = best * shares[kind]
                held = held_entry(unit)
                if held is not None and -held[0] >= score:
                    continue
                tier = neighbour.tier
                if tier is Tier.CORE or tier is Tier.SUMMARY or (tier is Tier.SWAP and unit in floor):
                    continue
                entries[unit] = (-score, neighbour.id, neighbour, kind, anchor)
        return entries

    def _depth(self, room: int) -> int:
        """Hits to take from each search: the weights' ``candidates``, else twice what ``room`` holds of pages
        of the average size (at least :data:`MIN_CANDIDATES`)."""
        if self.weights.candidates is not None:
            return self.weights.candidates
        table = self._table
        pages = len(table)
        tokens = table.tokens(Tier.ACTIVE) + table.tokens(Tier.SWAP) + table.tokens(Tier.CORE)
        average = max(8, tokens // pages) if pages else 64
        return max(MIN_CANDIDATES, 2 * room // average)

    def _around(self, page: Page) -> list[tuple[Page, int, str]]:
        """The pages around ``page`` that :meth:`_entries` reads with it, each with its kind (an index into a
        :data:`CONTEXT_SHARES` row) and its unit; remembered until a page is dropped from the table, unless the walk
        reached the newest page (a turn written later may still join it)."""
        table = self._table
        if table.removals != self._around_removals:
            self._around_cache.clear()
            self._around_removals = table.removals
        known = self._around_cache.get(page.id)
        if known is not None:
            return known
        own = page.frame_id or page.id
        out: list[tuple[Page, int, str]] = []
        complete = True
        for step, turns in ((-1, 1), (1, 2)):
            frames: list[str] = []
            walked = 0
            ended = True
            for current in table.walk(page, step):
                walked += 1
                if walked > NEIGHBOUR_REACH * (turns + 1) or current.namespace != page.namespace:
                    ended = False
                    break
                if current.role == SUMMARY_ROLE:  # a summary written when pages were evicted: no turn
                    continue
                frame = current.frame_id or current.id
                if frame == own:
                    out.append((current, 0, current.unit))
                    continue
                if frame not in frames:
                    if len(frames) >= turns:
                        ended = False
                        break
                    frames.append(frame)
                out.append((current, 1 if step < 0 else 1 + len(frames), current.unit))
            if step > 0 and ended:
                complete = False  # the walk reached the newest page
        if complete:
            if len(self._around_cache) >= AROUND_KEPT:
                self._around_cache.clear()
            self._around_cache[page.id] = out
        return out

    def _ranked(self, query: str, k: int, now: float) -> list[tuple[Candidate, Page]]:
        """Fused candidates that may be paged in, scored, best first; quarantined ones are logged and left out."""
        weights = self.weights
        ranked: list[tuple[Candidate, Page]] = []
        for hit in fused_hits(self._store, query, self._namespaces, k, weights.min_similarity, weights.vector):
            page = self._table.find(hit[0]) or self._adopt(hit[0], now)
            if page is None or page.tier is Tier.CORE or page.tier is Tier.SUMMARY or self._summed_up(page):
                continue
            if page.tier is Tier.SWAP and page.unit in self._floor:
                continue
            if page.group_id is None:
                quarantined = [page] if page.quarantined else []
            else:
                quarantined = [member for member in self._groups[page.unit] if member.quarantined]
            if quarantined:
                self._skip(page, f"quarantined: {quarantined[0].id} is not paged in until approve()", now)
                continue
            ranked.append((scored(hit, page, weights, now), page))
        ranked.sort(key=lambda item: (-item[0].score, item[1].id))
        return ranked

    def _summed_up(self, page: Page) -> bool:
        """Whether ``page`` is a summary retired to swap whose turns are all still there: it says less than
        they do, so they answer the query; a summary whose turns were forgotten is all that is left of them."""
        if page.role != SUMMARY_ROLE:
            return False
        sources = page.metadata.get("sources") or []
        return all(self._table.find(source) is not None for source in sources)

    def neighbours(self, page: Page, before: int, after: int) -> list[tuple[Page, str]]:
        """The rest of the page's turn, then ``before`` turns before it and ``after`` after it, nearest first."""
        own = page.frame_id or page.id
        out: list[tuple[Page, str]] = []
        for step, relation, turns in ((-1, "turn before", before), (1, "turn after", after)):
            current: Page | None = page
            frames = {own}
            for _ in range(NEIGHBOUR_REACH * (turns + 1)):
                current = self._table.neighbour(current, step) if current is not None else None
                if current is None or current.namespace != page.namespace:
                    break
                frame = current.frame_id or current.id
                if frame not in frames:
                    if len(frames) > turns:
                        break
                    frames.add(frame)
                out.append((current, "same turn" if frame == own else relation))
        return sorted(out, key=lambda item: abs(item[0].vaddr - page.vaddr))

    # -- the recall state ----------------------------------------------------------------------

    def settle(self, plan: PageInPlan) -> None:
        """Rank this query's recalls from swap (the archive section), once the plan is carried out; remember
        its resident matches, which stay in the recent turns but are kept first when that section is short
        of room."""
        self.matched = {}
        for key, rank in plan.ranks.items():
            for member in self._groups.get(key, []) if key.startswith("@") else [self._table.find(key)]:
                if member is None or member.tier is not Tier.ACTIVE:
                    continue
                if key in plan.hits and member.id not in self.recalled:
                    self.matched[member.id] = rank
                else:
                    self.recalled[member.id] = (self.recalls, rank)

    def moved(self, page: Page, tier: Tier, action: Action) -> None:
        """Follow a page's move: one paged in by other means is recalled below this page-in's own ranks; one
        that leaves active is no longer recalled."""
        if tier is Tier.ACTIVE and action is Action.PAGE_IN:
            self.recalled.setdefault(page.id, (self.recalls, _UNRANKED))
        elif tier is not Tier.ACTIVE:
            self.forget(page.id)

    def forget(self, page_id: str) -> None:
        """Drop what the recall state knows of a page (it left active, or the table)."""
        self.recalled.pop(page_id, None)
        self.context_of.pop(page_id, None)

    def shown_as_context(self, archive: Sequence[Sequence[Page]]) -> dict[str, str]:
        """Archive pages recalled as the context of a match in the same page-in: page id -> the match's."""
        shown: dict[str, str] = {}
        for unit in archive:
            for page in unit:
                anchor = self.context_of.get(page.id)
                if anchor is not None and self.recalled.get(anchor, (-1,))[0] == self.recalled.get(page.id, (-2,))[0]:
                    shown[page.id] = anchor
        return shown
