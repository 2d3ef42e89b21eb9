"""Pages and frames: the unit of memory and the turn it came from."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from itertools import groupby
from typing import Any

from nexint_core.clock import format_time
from nexint_core.errors import InvalidArgument
from nexint_core.ids import PageId

__all__ = [
    "DEFAULT_NAMESPACE",
    "ROLES",
    "SUMMARY_ROLE",
    "ContextPage",
    "Frame",
    "Page",
    "Tier",
    "frames_of",
    "namespace_of",
    "validate_importance",
]

DEFAULT_NAMESPACE = "default"
ROLES = ("user", "assistant", "system", "tool")  # the roles a written message may have
SUMMARY_ROLE = "summary"  # the role of a page the summary tier wrote


class Tier(str, Enum):
    """Where a page lives."""

    CORE = "core"
    ACTIVE = "active"
    SWAP = "swap"
    SUMMARY = "summary"

    def __str__(self) -> str:
        return self.value


def validate_importance(value: object) -> float:
    """Return ``value`` as a float in [0, 1] or raise :class:`InvalidArgument`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidArgument(f"importance must be a number in [0, 1], got {value!r}")
    number = float(value)
    if math.isnan(number) or not 0.0 <= number <= 1.0:
        raise InvalidArgument(f"importance must be a number in [0, 1], got {value!r}")
    return number


@dataclass(slots=True, eq=False)
class Page:
    """A span of at most ``page_size`` tokens of one frame, with its paging state."""

    id: PageId
    content: str
    tokens: int | None = None
    role: str = "user"
    importance: float = 0.5
    namespace: str | None = None
    frame_id: str | None = None
    group_id: str | None = None
    part: int = 0
    created: float | None = None
    last_used: float | None = None
    use_count: int = 0
    tier: Tier | None = None
    quarantined: bool = False
    vaddr: int = -1
    metadata: dict[str, Any] = field(default_factory=dict)
    spilled: bool = False  # in swap of a store that keeps a copy: content released from memory, read on access
    # Tokens of the content as a prompt line shows it (" " + content + a line break): counted once, when a
    # one-page turn is written, else by assembly the first time the page shows.
    line_tokens: int | None = field(default=None, repr=False)
    loader: Callable[[str], str] | None = field(default=None, repr=False)  # reads a spilled page's content
    _asks: bool | None = field(default=None, init=False, repr=False)  # whether the content asks a question

    def __post_init__(self) -> None:
        self.id = PageId(self.id)
        if not isinstance(self.content, str):
            raise InvalidArgument(f"page content must be a string, got {type(self.content).__name__}")
        if self.tokens is not None and (
            isinstance(self.tokens, bool) or not isinstance(self.tokens, int) or self.tokens < 0
        ):
            raise InvalidArgument(f"page tokens must be a non-negative integer, got {self.tokens!r}")
        self.importance = validate_importance(self.importance)

    def spill(self, loader: Callable[[str], str]) -> None:
        """Release the content from memory: :attr:`content` reads it back through ``loader`` on each access."""
        if self._asks is None and not self.spilled:
            self._asks = _CONTENT.__get__(self, Page).rstrip().endswith("?")
        object.__setattr__(self, "loader", loader)
        _CONTENT.__set__(self, "")
        self.spilled = True

    def restore(self, content: str) -> None:
        """Hold ``content`` in memory again (the page is coming back from swap)."""
        _CONTENT.__set__(self, content)
        self.spilled, self.loader = False, None

    @property
    def asks(self) -> bool:
        """Whether the page's text asks a question (ends with ``?``): kept when the content is spilled, so
        page-in can tell without reading the store."""
        if self._asks is None:
            self._asks = self.content.rstrip().endswith("?")
        return self._asks

    @property
    def pinned(self) -> bool:
        """Pinned pages live in core and are never eviction victims."""
        return self.tier is Tier.CORE

    @property
    def unit(self) -> str:
        """The eviction unit: the tool-call group if any, else the page itself."""
        return self.id if self.group_id is None else "@" + self.group_id

    def to_record(self) -> dict[str, Any]:
        """The memory-record view: ``{"memory_id", "tier", "last_used", "importance", ...}``."""
        return {
            "memory_id": str(self.id),
            "tier": self.tier.value if self.tier is not None else None,
            "last_used": format_time(self.last_used) if self.last_used is not None else None,
            "importance": self.importance,
            "tokens": self.tokens,
            "role": self.role,
            "namespace": self.namespace,
            "use_count": self.use_count,
            "quarantined": self.quarantined,
            "content": self.content,
        }


_CONTENT: Any = Page.__dict__["content"]  # the slot: the property below reads and writes it


def _content(page: Page) -> str:
    """The page's text; a spilled page's is read from its store (never a silent empty string)."""
    if page.spilled and page.loader is not None:
        return page.loader(page.id)
    text: str = _CONTENT.__get__(page, Page)
    return text


_READ_ON_ACCESS = property(_content, _CONTENT.__set__, doc="The page's text (read from the store when spilled).")
setattr(Page, "content", _READ_ON_ACCESS)  # noqa: B010  (the dataclass field becomes a property over its slot)

ContextPage = Page


def namespace_of(page: Page) -> str:
    """The page's namespace (a page not yet given one belongs to the default namespace)."""
    return page.namespace if page.namespace is not None else DEFAULT_NAMESPACE


@dataclass(frozen=True, slots=True)
class Frame:
    """One dialogue turn, tool result or agent thought, before it is split into pages.

    Frames sharing a ``group_id`` (an assistant tool call and its results) travel together. Once
    written, a frame is named after its first page (``Page.frame_id``).
    """

    role: str
    text: str
    group_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def frames_of(pages: Iterable[Page]) -> list[list[Page]]:
    """Consecutive pages of one frame, together (a page written without a frame stands alone)."""
    return [list(frame) for _, frame in groupby(pages, key=lambda page: page.frame_id or page.id)]
