"""Every setting of a memory in one frozen object: the defaults, and the rules the budgets obey.

A policy file (:class:`~nexint_core.config.PolicyConfig`) and the manager's keyword arguments both
resolve to :class:`MemorySettings`; a budget left unset takes its default here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from nexint_core.assembly import DEFAULT_SECTIONS, check_sections
from nexint_core.errors import InvalidArgument
from nexint_core.retrieval import ScoringWeights
from nexint_core.splitting import MIN_PAGE_SIZE

__all__ = [
    "DEFAULT_LIMIT",
    "DEFAULT_PAGE_SIZE",
    "DEFAULT_RECENT_FLOOR",
    "DEFAULT_SUMMARY_SPAN",
    "MemorySettings",
    "check_budgets",
    "default_core_budget",
    "default_page_in_budget",
    "default_summary_budget",
    "positive_int",
]

DEFAULT_LIMIT = 4096
DEFAULT_PAGE_SIZE = 256
DEFAULT_SUMMARY_SPAN = 8
DEFAULT_RECENT_FLOOR = 6  # messages that always reach the model: three exchanges


def default_core_budget(limit: int) -> int:
    """Core (pinned pages) gets a quarter of the memory unless a budget is set."""
    return limit // 4


def default_page_in_budget(limit: int) -> int:
    """A query may page in as much as the memory leaves it (what core, summaries and the recent-turns floor
    leave) unless a budget is set."""
    return limit


def default_summary_budget(limit: int, summaries: bool) -> int:
    """The summary tier gets an eighth of the memory when summaries are on, else nothing."""
    return limit // 8 if summaries else 0


def positive_int(name: str, value: object, *, allow_zero: bool = False) -> int:
    """``value`` if it is a positive (or, with ``allow_zero``, non-negative) integer; else InvalidArgument."""
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if allow_zero else 1):
        bound = "non-negative" if allow_zero else "positive"
        raise InvalidArgument(f"{name} must be a {bound} integer, got {value!r}")
    return value


def check_budgets(
    limit: int,
    core: int,
    summary: int,
    *,
    names: tuple[str, str, str] = ("limit_tokens", "core_budget", "summary_budget"),
) -> None:
    """Core and the summary tier are reserved out of the memory: together they must fit in it."""
    if core + summary > limit:
        limit_name, core_name, summary_name = names
        raise InvalidArgument(
            f"{core_name} ({core}) plus {summary_name} ({summary}) cannot exceed {limit_name} ({limit})"
        )


@dataclass(frozen=True, slots=True)
class MemorySettings:
    """A memory's resolved settings: budgets in tokens, prompt section shares, page-in scoring, promotion."""

    limit_tokens: int = DEFAULT_LIMIT
    core_budget: int = DEFAULT_LIMIT // 4
    page_size: int = DEFAULT_PAGE_SIZE
    page_in_budget: int = DEFAULT_LIMIT
    summary_budget: int = 0
    summary_span: int = DEFAULT_SUMMARY_SPAN
    sections: Mapping[str, int | float] = field(default_factory=lambda: MappingProxyType(dict(DEFAULT_SECTIONS)))
    weights: ScoringWeights = field(default_factory=ScoringWeights)
    promote_if: str | None = None
    recent_floor: int = DEFAULT_RECENT_FLOOR
    cite_ids: bool = False  # label recalled lines with their page ids (about six tokens a line)

    @property
    def floor_tokens(self) -> int:
        """Beyond its minimum in messages, the recent-turns floor holds the newest messages within the recent
        section's share of the memory."""
        share = self.sections["recent"]
        return share if isinstance(share, int) else int(share * self.limit_tokens)

    @property
    def largest_message(self) -> int:
        """The most tokens one message (with its tool-call group) may take in the working set: half of what
        core and the summary budget leave. A larger one is archived whole and shown as an excerpt."""
        return max(MIN_PAGE_SIZE, (self.limit_tokens - self.core_budget - self.summary_budget) // 2)

    @classmethod
    def resolve(
        cls,
        limit_tokens: int = DEFAULT_LIMIT,
        *,
        core_budget: int | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        page_in_budget: int | None = None,
        summaries: bool = False,
        summary_budget: int | None = None,
        summary_span: int = DEFAULT_SUMMARY_SPAN,
        sections: Mapping[str, int | float] | None = None,
        weights: ScoringWeights | None = None,
        promote_if: str | None = None,
        recent_floor: int | None = None,
        cite_ids: bool = False,
    ) -> MemorySettings:
        """Validate the given settings and fill in the defaults of those left unset (None)."""
        limit = positive_int("limit_tokens", limit_tokens)
        core = positive_int(
            "core_budget", default_core_budget(limit) if core_budget is None else core_budget, allow_zero=True
        )
        positive_int("page_size", page_size)
        if page_size < MIN_PAGE_SIZE:
            raise InvalidArgument(f"page_size must be at least {MIN_PAGE_SIZE} tokens, got {page_size}")
        summary = default_summary_budget(limit, summaries) if summary_budget is None else summary_budget
        summary = positive_int("summary_budget", summary, allow_zero=True)
        check_budgets(limit, core, summary)
        return cls(
            limit_tokens=limit,
            core_budget=core,
            page_size=page_size,
            page_in_budget=positive_int(
                "page_in_budget",
                default_page_in_budget(limit) if page_in_budget is None else page_in_budget,
                allow_zero=True,
            ),
            summary_budget=summary,
            summary_span=positive_int("summary_span", summary_span),
            sections=MappingProxyType({**DEFAULT_SECTIONS, **check_sections(sections or {})}),
            weights=weights if weights is not None else ScoringWeights(),
            promote_if=promote_if,
            recent_floor=positive_int(
                "recent_floor", DEFAULT_RECENT_FLOOR if recent_floor is None else recent_floor, allow_zero=True
            ),
            cite_ids=bool(cite_ids),
        )
