"""One chat's turn cycle over a manager: what every framework adapter calls, so none holds paging logic.

A turn: the context for the new user message is assembled first (paging in what it needs, so the
message never recalls itself), then the message is written; the reply and any tool calls and results
follow in one batch. Later model calls of the same turn (an agent's, after its tool calls) are assembled
again without a new page-in, so they keep what the turn's page-in brought back.

What the model receives is a :class:`TurnContext`: one system message (the anchor, core memory,
summaries and the archive pages recalled) and the recent turns, each as the frame it was written as.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from nexint_core.assembly import AssembledPrompt
from nexint_core.ids import PageId
from nexint_core.manager import MemoryManager
from nexint_core.pages import SUMMARY_ROLE, Frame, Page, frames_of

__all__ = ["SYSTEM_SECTIONS", "Conversation", "RecentFrame", "TurnContext"]

SYSTEM_SECTIONS = ("system", "core", "summaries", "archive")  # what the system message holds, in this order


@dataclass(frozen=True, slots=True)
class RecentFrame:
    """A recent turn as it is sent: its pages (their metadata rebuilds the message) and its text, which is an
    excerpt when the whole would not fit."""

    pages: tuple[Page, ...]
    text: str

    @property
    def excerpted(self) -> bool:
        return self.text != " ".join(page.content for page in self.pages)


@dataclass(frozen=True, slots=True)
class TurnContext:
    """What to send for a turn: the system message (None when it would be empty), the recent turns, and the
    query's text as the prompt holds it (an excerpt of a message too long for the budget)."""

    prompt: AssembledPrompt
    system: str | None
    recent: tuple[RecentFrame, ...]

    @property
    def query(self) -> str:
        return self.prompt.query_text

    @classmethod
    def of(cls, prompt: AssembledPrompt, manager: MemoryManager) -> TurnContext:
        """The context an assembled prompt gives."""
        system = None
        if any(section.items for section in prompt.sections if section.name in SYSTEM_SECTIONS):
            system = prompt.messages[0]["content"]
        frames: list[RecentFrame] = []
        for item in prompt.section("recent").items:
            pages = [manager.get(page_id) for page_id in item.page_ids]
            for frame, (_, text) in zip(frames_of(pages), item.turns, strict=True):
                frames.append(RecentFrame(tuple(frame), text))
        return cls(prompt, system, tuple(frames))


class Conversation:
    """The turn cycle of one chat, kept by ``manager`` in its own namespace.

    ``marker`` is the metadata key an adapter stores its frames' structure under: pages carrying it
    are the conversation's own, which :meth:`clear` forgets.
    """

    def __init__(self, manager: MemoryManager, *, marker: str) -> None:
        self.manager = manager
        self.marker = marker

    def write(self, frames: Sequence[Frame]) -> list[list[PageId]]:
        """Write frames in order, stored in one batch (a tool call and its results share a group)."""
        if not frames:
            return []
        if len(frames) == 1:
            return [self.manager.write_frame(frames[0])]
        return self.manager.write_many(frames)

    def begin(
        self, message: Frame, *, budget: int | None = None, system: str | None = None
    ) -> tuple[TurnContext, list[PageId]]:
        """A new user message: page in and assemble for it, then write it. Returns the context (whose
        recent turns end before the message) and the message's page ids."""
        context = self.context(message.text, budget=budget, system=system, page_in=True)
        return context, self.manager.write_frame(message)

    def context(
        self, query: str, *, budget: int | None = None, system: str | None = None, page_in: bool = False
    ) -> TurnContext:
        """The context for ``query`` as memory stands (no page-in unless asked: the turn's own page-in
        already ran)."""
        prompt = self.manager.assemble(query, budget, page_in=page_in, system=system)
        return TurnContext.of(prompt, self.manager)

    def history(self) -> list[tuple[Page, ...]]:
        """Every frame stored in the conversation's namespace, in the order written (summaries left out)."""
        pages = [
            page
            for page in self.manager.stored_pages()
            if page.role != SUMMARY_ROLE and "excerpt_of" not in page.metadata
        ]  # a message archived whole is listed whole, not as the excerpt that stood in for it
        return [tuple(frame) for frame in frames_of(pages)]

    def clear(self) -> int:
        """Forget the conversation: every page of its namespace written through an adapter (``marker``), and
        the summaries made of them. Pages written to the manager directly (pinned rules, notes) stay, and
        shared namespaces are never touched. Returns the number of pages forgotten."""
        manager = self.manager
        doomed = [
            page.id
            for page in _own(manager.page_table, manager.namespace)
            if self.marker in page.metadata or page.role == SUMMARY_ROLE
        ]
        forgotten = 0
        for page_id in doomed:
            if page_id in manager:  # a group goes at once, with its first member
                before = len(manager)
                manager.forget(page_id, f"cleared by the {self.marker} adapter")
                forgotten += before - len(manager)
        return forgotten


def _own(pages: Iterable[Page], namespace: str) -> list[Page]:
    return [page for page in pages if page.namespace == namespace]
