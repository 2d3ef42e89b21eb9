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
from nexint_core.pages import Page, Tier
from nexint_core.retrieval import Candidate, ScoringWeights, fuse, score
from nexint_core.stores import SwapStore

__all__ = ["CONTEXT_MATCHES", "CONTEXT_TURNS", "PageInPlan", "PageInPlanner", "resident_unit", "unit_of"]

NEIGHBOUR_REACH = 16  # pages of one turn walked when pulling in a match's neighbours
CONTEXT_MATCHES = 5  # the best matches of a query bring the turns around them
CONTEXT_TURNS = (1, 2)  # turns before (what a match answers) and after (the replies to it)
SKIPS_LOGGED = 3  # candidates that lost for room, logged per page-in (the best of them)
_UNRANKED = 1 << 30  # the rank of a page brought in by something other than a page-in's plan

Adopt = Callable[[str, float], "Page | None"]
Skip = Callable[[Page, str, float], None]


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
        store: SwapStore,
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

    # -- planning ------------------------------------------------------------------------------

    def plan(self, query: str, room: int, now: float) -> PageInPlan:
        """Rank the archive for ``query`` and choose what fits ``room`` tokens: the best matches, then the
        turns around the best of them."""
        plan = PageInPlan()
        losers = matches = 0
        for candidate, page in self._ranked(query, now):
            if page.unit in plan.ranks:
                continue
            unit = unit_of(page, self._groups)
            if page.tier is Tier.ACTIVE:
                plan.hits[page.unit] = unit
            else:
                tokens = sum(member.tokens or 0 for member in unit)
                if plan.used + tokens > room:
                    losers += 1
                    if losers <= SKIPS_LOGGED:  # the near misses; logging every loser costs more than the query
                        left = f"needs {tokens} tokens, {room - plan.used} of {room} left"
                        self._skip(page, f"lost to higher-scored pages: {left}; {candidate.reason()}", now)
                    continue
                plan.chosen[page.unit] = (unit, candidate.reason())
                plan.used += tokens
            plan.ranks[page.unit] = len(plan.ranks)
            for member in unit:  # a match in its own right now, not the context of an older one
                self.context_of.pop(member.id, None)
            matches += 1
            if matches <= CONTEXT_MATCHES and candidate.distinct:  # the best are read with the turns around them
                self._add_context(page, plan, room)
        context = [key for key in plan.ranks if key not in plan.chosen and key not in plan.hits]  # resident, re-shown
        for unit in plan.hits.values():  # a match's answer is used with it, so the pair ages together
            for neighbour, _ in self.neighbours(unit[-1], 0, 1):
                if neighbour.tier is Tier.ACTIVE and neighbour.unit not in plan.ranks and neighbour.unit not in context:
                    context.append(neighbour.unit)
        resident = [(key, resident_unit(key, self._table, self._groups)) for key in context]
        plan.accessed = [*resident, *reversed(plan.hits.items())]  # matches last, worst first
        self.recalls += 1
        return plan

    def _ranked(self, query: str, now: float) -> list[tuple[Candidate, Page]]:
        """Fused candidates that may be paged in, scored, best first; quarantined ones are logged and left out."""
        weights = self.weights
        ranked: list[tuple[Candidate, Page]] = []
        for candidate in fuse(
            self._store, query, self._namespaces, weights.candidates, weights.min_similarity, weights.vector
        ):
            page = self._table.find(candidate.page_id) or self._adopt(candidate.page_id, now)
            if page is None or page.tier is Tier.CORE or page.tier is Tier.SUMMARY:
                continue
            if page.tier is Tier.SWAP and page.unit in self._floor:
                continue
            quarantined = [member for member in unit_of(page, self._groups) if member.quarantined]
            if quarantined:
                self._skip(page, f"quarantined: {quarantined[0].id} is not paged in until approve()", now)
                continue
            ranked.append((score(candidate, page, weights, now), page))
        ranked.sort(key=lambda item: (-item[0].score, item[1].id))
        return ranked

    def _add_context(self, page: Page, plan: PageInPlan, room: int) -> None:
        """Rank the turns around a match right after it, bringing those in swap while room is left.

        A resident turn keeps its place in the prompt, unless the archive section already shows it.
        """
        for neighbour, relation in self.neighbours(page, *CONTEXT_TURNS):
            key = neighbour.unit
            swapped = neighbour.tier is Tier.SWAP
            if key in plan.ranks or (not swapped and neighbour.id not in self.recalled):
                continue
            unit = unit_of(neighbour, self._groups)
            tokens = sum(member.tokens or 0 for member in unit) if swapped else 0
            if plan.used + tokens > room or any(member.quarantined for member in unit):
                continue
            if swapped:
                plan.chosen[key] = (unit, f"context of {page.id} ({relation})")
                plan.used += tokens
            plan.ranks[key] = len(plan.ranks)
            for member in unit:
                self.context_of[member.id] = page.id

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
