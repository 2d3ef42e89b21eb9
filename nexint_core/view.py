"""What a prompt is assembled from: the page table's sections, as the recall state places them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from nexint_core.assembly import LeftOut, PromptView
from nexint_core.ids import PageId
from nexint_core.page_table import PageTable
from nexint_core.pages import Page, Tier
from nexint_core.planner import PageInPlanner

__all__ = ["prompt_view", "recent_gaps"]


def prompt_view(
    table: PageTable,
    planner: PageInPlanner,
    *,
    query: str,
    budget: int,
    system: str,
    sections: Mapping[str, int | float],
    previous: Sequence[str] = (),
    promoted: Sequence[PageId] = (),
    floor: Sequence[Page] = (),
    floor_messages: int = 0,
    cite_ids: bool = False,
) -> PromptView:
    """The view of ``table`` for one query: active units a page-in recalled go to the archive section
    (the latest recall first, best ranked first within it), the others are recent turns; a unit with a
    quarantined page stays out whole, with the reason (a tool call without its result breaks a prompt). The
    ``floor`` (the recent-turns floor's pages, copies with their content for those a write pushed to swap)
    is always among the recent turns."""
    skipped: list[LeftOut] = []
    units: dict[str, list[Page]] = {}
    for page in sorted(table.pages(Tier.ACTIVE), key=lambda page: page.vaddr):
        units.setdefault(page.unit, []).append(page)
    archive: list[tuple[tuple[int, int], list[Page]]] = []
    recent: list[Page] = []
    recalled = planner.recalled
    for unit in units.values():
        quarantined = next((member for member in unit if member.quarantined), None)
        recalls = [recalled[member.id] for member in unit if member.id in recalled]
        if quarantined is not None:
            reason = f"quarantined until approve() ({quarantined.id})"
            section = "archive" if recalls else "recent"
            skipped.extend(LeftOut(member.id, section, reason) for member in unit)
        elif recalls:
            best = max(recalls, key=lambda mark: (mark[0], -mark[1]))
            archive.append(((-best[0], best[1]), unit))
        else:
            recent.extend(unit)
    swapped = [page for page in floor if page.tier is not Tier.ACTIVE]
    if swapped:
        recent = sorted([*recent, *swapped], key=lambda page: page.vaddr)
    archive.sort(key=lambda entry: entry[0])
    return PromptView(
        query=query,
        budget=budget,
        core=table.pages(Tier.CORE),
        summaries=table.pages(Tier.SUMMARY),
        archive=[page for _, unit in archive for page in unit],
        recent=recent,
        matched={page_id: rank for page_id, rank in planner.matched.items() if page_id in table},
        recalled_now={page_id: rank for page_id, (number, rank) in recalled.items() if number == planner.recalls},
        gaps=recent_gaps(table, recent),
        context_of=planner.shown_as_context([unit for _, unit in archive]),
        system=system,
        sections=sections,
        skipped=skipped,
        previous=previous,
        promoted=promoted,
        floor=frozenset(page.id for page in floor),
        floor_messages=floor_messages,
        cite_ids=cite_ids,
    )


def recent_gaps(table: PageTable, recent: Sequence[Page]) -> set[str]:
    """First pages of recent turns right after a turn of the conversation they do not show (in swap, or recalled
    into the archive section), which the recent turns must not step over (an answer evicted while its question
    stayed, say): they stay one unbroken stretch."""
    shown = {page.id for page in recent}
    gaps: set[str] = set()
    for page in recent:
        if page.frame_id not in (None, page.id) and page.group_id is None:
            continue  # a later page of its turn
        before = table.neighbour(page, -1)
        while before is not None and (before.namespace != page.namespace or "excerpted" in before.metadata):
            before = table.neighbour(before, -1)  # another namespace's, or a message archived whole
        if before is not None and before.id not in shown and before.tier in (Tier.SWAP, Tier.ACTIVE):
            gaps.add(page.id)  # in swap, or shown elsewhere (recalled into the archive section)
    return gaps
