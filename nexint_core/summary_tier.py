"""The summary tier: evicted pages, a span at a time, summarized into pages that stay within their budget."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from nexint_core.events import Action
from nexint_core.pages import SUMMARY_ROLE, Page, Tier
from nexint_core.splitting import MIN_PAGE_SIZE, split_text
from nexint_core.summarizer import Summarizer

if TYPE_CHECKING:
    from nexint_core.kernel import PagingKernel

__all__ = ["SummaryTier"]


class SummaryTier:
    """Summarizes every ``summary_span`` evicted pages into a summary page; when the tier is full, the two
    oldest summaries are merged (or the oldest retired to swap) first."""

    def __init__(self, kernel: PagingKernel, summarizer: Summarizer) -> None:
        self._kernel, self._summarizer = kernel, summarizer
        self._span: list[Page] = []  # pages evicted since the last summary

    def evicted(self, pages: Sequence[Page], now: float) -> None:
        """Take note of evicted pages; a full span is summarized."""
        self._span.extend(page for page in pages if page.role != SUMMARY_ROLE)
        if len(self._span) >= self._kernel.settings.summary_span:
            self.summarize_span(now)

    def summary_max(self) -> int:
        return max(MIN_PAGE_SIZE, self._kernel.settings.summary_budget // 2)

    def new_summary(self, sources: list[Page], max_tokens: int, now: float) -> Page | None:
        readable = [self._kernel.with_content(page) for page in sources]
        text = self._summarizer.summarize(readable, max_tokens, self._kernel.tokenizer).strip()
        if not text:
            return None
        content, tokens = split_text(text, self._kernel.tokenizer, max(MIN_PAGE_SIZE, max_tokens))[0]
        if tokens > max_tokens:
            return None
        level = 1 + max((int(page.metadata.get("level", 0)) for page in sources), default=0)
        page = Page(
            self._kernel.ids.next("SUM"),
            content,
            tokens,
            role=SUMMARY_ROLE,
            importance=max(page.importance for page in sources),
            namespace=self._kernel.namespace,
            frame_id=None,
            created=now,
            last_used=now,
            vaddr=self._kernel.page_table.virtual_size,
            metadata={"sources": [page.id for page in sources], "level": level},
        )
        self._kernel.store_put([page], now)
        self._kernel.page_table.add(page, Tier.SUMMARY)
        self._kernel.register(page)
        return page

    def summarize_span(self, now: float) -> None:
        """Write a summary of the pages evicted since the last one, keeping the tier within budget."""
        sources, self._span = self._span, []
        table = self._kernel.page_table
        expected = min(self.summary_max(), self._kernel.settings.summary_budget)
        while table.tokens(Tier.SUMMARY) + expected > self._kernel.settings.summary_budget:
            oldest = table.pages(Tier.SUMMARY)
            if not oldest:
                break
            merged = None
            if len(oldest) >= 2:
                pair_tokens = (oldest[0].tokens or 0) + (oldest[1].tokens or 0)
                merged = self.new_summary(oldest[:2], min(self.summary_max(), pair_tokens - 1), now)
            if merged is not None:
                self._kernel.record(
                    merged, Action.SUMMARIZE, f"merged {oldest[0].id} and {oldest[1].id}", None, Tier.SUMMARY, now
                )
                for old in oldest[:2]:
                    self._kernel.move(old, Tier.SWAP, Action.SUMMARIZE, f"merged into {merged.id}", now)
            else:
                self._kernel.move(oldest[0], Tier.SWAP, Action.SUMMARIZE, "summary budget full: retired to swap", now)
        room = min(self.summary_max(), self._kernel.settings.summary_budget - table.tokens(Tier.SUMMARY))
        page = self.new_summary(sources, room, now) if room >= MIN_PAGE_SIZE else None
        if page is not None:
            reason = f"summary of {len(sources)} evicted pages {sources[0].id}..{sources[-1].id}"
            self._kernel.record(page, Action.SUMMARIZE, reason, None, Tier.SUMMARY, now)
