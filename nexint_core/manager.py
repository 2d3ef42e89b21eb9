"""The memory manager (MMU): admits pages under a hard token limit, evicts by policy, logs every move."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import Any

from nexint_core.clock import Clock, SystemClock
from nexint_core.errors import (
    CoreBudgetExceeded,
    DuplicatePage,
    InvalidArgument,
    NexintError,
    PageTooLarge,
    QuarantineViolation,
)
from nexint_core.events import Action, EventLog, EventSink
from nexint_core.ids import IdAllocator, PageId, observe_global
from nexint_core.page_table import PageTable
from nexint_core.pages import Page, Tier, validate_importance
from nexint_core.policies import EvictionPolicy, explain, make_policy, policy_name
from nexint_core.splitting import MIN_PAGE_SIZE, split_text
from nexint_core.swap import InMemorySwapStore, SwapStore
from nexint_core.tokens import Tokenizer, get_tokenizer

__all__ = ["DEFAULT_PAGE_SIZE", "MemoryManager"]

DEFAULT_PAGE_SIZE = 256
_KIND_BY_ROLE = {"tool": "TOL"}


def _positive_int(name: str, value: object, *, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if allow_zero else 1):
        bound = "non-negative" if allow_zero else "positive"
        raise InvalidArgument(f"{name} must be a {bound} integer, got {value!r}")
    return value


class MemoryManager:
    """Keeps core + active tokens within ``limit_tokens``; everything else waits in swap.

    >>> mmu = MemoryManager(4096)
    >>> ids = mmu.write("user", "My favourite colour is teal.")
    >>> [page.content for page in mmu.active_pages()]
    ['My favourite colour is teal.']
    """

    def __init__(
        self,
        limit_tokens: int,
        *,
        policy: str | EvictionPolicy = "LRU",
        core_budget: int | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        tokenizer: str | Tokenizer | None = None,
        clock: Clock | None = None,
        store: SwapStore | None = None,
        namespace: str = "default",
        sinks: Sequence[EventSink] = (),
        max_events: int | None = None,
    ) -> None:
        self.limit_tokens = _positive_int("limit_tokens", limit_tokens)
        if core_budget is None:
            core_budget = limit_tokens // 4
        self.core_budget = _positive_int("core_budget", core_budget, allow_zero=True)
        if core_budget > limit_tokens:
            raise InvalidArgument(f"core_budget ({core_budget}) cannot exceed limit_tokens ({limit_tokens})")
        self.page_size = _positive_int("page_size", page_size)
        if page_size < MIN_PAGE_SIZE:
            raise InvalidArgument(f"page_size must be at least {MIN_PAGE_SIZE} tokens, got {page_size}")
        if not isinstance(namespace, str) or not namespace:
            raise InvalidArgument(f"namespace must be a non-empty string, got {namespace!r}")
        self.namespace = namespace
        self.policy = make_policy(policy)
        self.policy_name = policy_name(self.policy)
        bind = getattr(self.policy, "bind", None)
        if bind is not None:
            bind(self._unit_importance)
        self.tokenizer = get_tokenizer(tokenizer)
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.store: SwapStore = store if store is not None else InMemorySwapStore()
        self.page_table = PageTable()
        self.events = EventLog(sinks, maxlen=max_events)
        self._ids = IdAllocator()
        self._frames = 0
        self._groups: dict[str, list[Page]] = {}

    # -- reads ---------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.page_table)

    def __contains__(self, page_id: object) -> bool:
        return page_id in self.page_table

    def get(self, page_id: str) -> Page:
        """The page with this id; raises :class:`PageNotFound`."""
        return self.page_table.get(page_id)

    def active_pages(self) -> list[Page]:
        """The working set in write order, without quarantined pages."""
        return [page for page in self.page_table.pages(Tier.ACTIVE) if not page.quarantined]

    def core_pages(self) -> list[Page]:
        """Pinned pages in write order."""
        return self.page_table.pages(Tier.CORE)

    def pages(self, tier: Tier | str) -> list[Page]:
        """All pages of a tier in write order."""
        return self.page_table.pages(Tier(tier))

    def usage(self) -> dict[str, int]:
        """Tokens per tier, the limits, and what is free."""
        table = self.page_table
        core, active = table.tokens(Tier.CORE), table.tokens(Tier.ACTIVE)
        return {
            "core": core,
            "active": active,
            "swap": table.tokens(Tier.SWAP),
            "summary": table.tokens(Tier.SUMMARY),
            "limit": self.limit_tokens,
            "core_budget": self.core_budget,
            "free": self.limit_tokens - core - active,
        }

    # -- admitting pages -----------------------------------------------------------------------

    def allocate(self, page: Page, *, pin: bool = False) -> PageId:
        """Admit one page into active (or core, if ``pin``), evicting by policy until it fits."""
        if not isinstance(page, Page):
            raise InvalidArgument(f"allocate() takes a ContextPage, got {type(page).__name__}")
        self._admit([page], pin)
        return page.id

    def write(
        self,
        role: str,
        text: str,
        *,
        importance: float = 0.5,
        group: str | None = None,
        kind: str | None = None,
        pin: bool = False,
        quarantined: bool = False,
        metadata: dict[str, Any] | None = None,
    ) -> list[PageId]:
        """Split one frame (a turn, tool result or thought) into pages and admit them.

        Frames sharing ``group`` (an assistant tool call and its results) are evicted and paged in
        together. Returns the new page ids in order.
        """
        if not isinstance(role, str) or not role:
            raise InvalidArgument(f"role must be a non-empty string, got {role!r}")
        if not isinstance(text, str):
            raise InvalidArgument(f"content must be a string, got {type(text).__name__}")
        if group is not None and (not isinstance(group, str) or not group):
            raise InvalidArgument(f"group must be a non-empty string, got {group!r}")
        importance = validate_importance(importance)
        kind = kind or _KIND_BY_ROLE.get(role, "MSG")
        pieces = split_text(text, self.tokenizer, self.page_size)
        before = self._ids.state()
        frame_id = f"FRM-{self._frames + 1:06d}"
        pages = [
            Page(
                self._ids.next(kind),
                content,
                tokens,
                role=role,
                importance=importance,
                namespace=self.namespace,
                frame_id=frame_id,
                group_id=group,
                part=part,
                quarantined=quarantined,
                metadata=dict(metadata) if metadata else {},
            )
            for part, (content, tokens) in enumerate(pieces)
        ]
        try:
            self._admit(pages, pin)
        except NexintError:
            self._ids.restore(before)
            raise
        self._frames += 1
        return [page.id for page in pages]

    def _admit(self, pages: list[Page], pin: bool) -> None:
        table = self.page_table
        seen: set[str] = set()
        for page in pages:
            if page.id in table or page.id in seen:
                raise DuplicatePage(f"page {page.id} is already allocated")
            seen.add(page.id)
            if page.tokens is None:
                page.tokens = self.tokenizer.count(page.content)
        group_id = pages[0].group_id
        if any(page.group_id != group_id for page in pages):
            raise InvalidArgument("pages admitted together must share one group")
        key = pages[0].unit if group_id is not None else None
        members = self._groups.get(key, []) if key is not None else []
        group_tier = members[0].tier if members else None
        quarantined = any(page.quarantined for page in pages) or any(page.quarantined for page in members)
        if pin and quarantined:
            raise QuarantineViolation("a quarantined page cannot be pinned before approve()")
        # A pinned group stays in core, unless a quarantined page joins it: then it leaves core.
        target = Tier.CORE if pin or (group_tier is Tier.CORE and not quarantined) else Tier.ACTIVE
        new_tokens = sum(page.tokens or 0 for page in pages)
        member_tokens = sum(page.tokens or 0 for page in members)
        core = table.tokens(Tier.CORE)
        if target is Tier.CORE:
            joining = new_tokens + (member_tokens if group_tier is not Tier.CORE else 0)
            if core + joining > self.core_budget:
                raise CoreBudgetExceeded(
                    f"pinning {joining} tokens would exceed the core budget: {core} of {self.core_budget} in use"
                )
        else:
            room = self.limit_tokens - core + (member_tokens if group_tier is Tier.CORE else 0)
            largest = new_tokens + member_tokens if key is not None else max(page.tokens or 0 for page in pages)
            if largest > room:
                what = f"group {group_id!r}" if key is not None else f"page {pages[0].id}"
                raise PageTooLarge(
                    f"{what} needs {largest} tokens but at most {room} can ever be active "
                    f"(limit {self.limit_tokens}, core {core})"
                )
        self.store.put(pages)
        now = self.clock.now()
        for page in pages:
            page.created = page.created if page.created is not None else now
            page.last_used = page.last_used if page.last_used is not None else now
        policy = self.policy
        if key is None:
            for page in pages:
                self._make_room(page.tokens or 0, now)
                table.add(page, target)
                if target is Tier.ACTIVE:
                    policy.on_insert(page.id)
                self._admitted(page, now)
            return
        if group_tier is Tier.ACTIVE:
            policy.on_remove(key)  # protect the group while room is made for its new members
        swapped_in = member_tokens if group_tier is Tier.SWAP or group_tier is Tier.SUMMARY else 0
        self._make_room(new_tokens + swapped_in, now)
        if group_tier is not None and group_tier is not target:
            if target is Tier.CORE:
                action, reason = Action.PIN, f"group {group_id!r} pinned on write"
            elif group_tier is Tier.CORE:
                action, reason = Action.UNPIN, f"quarantined page joined group {group_id!r}"
            else:
                action, reason = Action.PAGE_IN, f"group {group_id!r} gained a page"
            for page in members:
                self._move(page, target, action, reason, now)
        for page in pages:
            table.add(page, target)
            self._admitted(page, now)
        self._groups.setdefault(key, []).extend(pages)
        if target is Tier.ACTIVE:
            policy.on_insert(key)

    def _admitted(self, page: Page, now: float) -> None:
        self._ids.observe(page.id)
        observe_global(page.id)
        tier = page.tier
        reason = "pinned on write" if tier is Tier.CORE else f"written, {page.tokens} tokens"
        self._record(page, Action.ALLOCATE, reason, None, tier, now)
        if page.quarantined:
            self._record(page, Action.QUARANTINE, "quarantined on write", tier, tier, now)

    # -- eviction ------------------------------------------------------------------------------

    def _make_room(self, need: int, now: float) -> None:
        table, limit = self.page_table, self.limit_tokens
        while (deficit := table.tokens(Tier.CORE) + table.tokens(Tier.ACTIVE) + need - limit) > 0:
            key = self.policy.victim()
            pages = self._resident_unit(key)
            if not pages:
                raise NexintError(f"policy {self.policy_name} named victim {key!r}, which is not resident")
            reason = f"{self.policy_name} victim: {explain(self.policy, key)}, {deficit} tokens needed"
            self.policy.on_remove(key)
            for page in pages:
                self._move(page, Tier.SWAP, Action.EVICT, reason, now)

    def _resident_unit(self, key: Hashable | None) -> list[Page]:
        if not isinstance(key, str):
            return []
        if key.startswith("@"):
            members = self._groups.get(key, [])
            return members if members and members[0].tier is Tier.ACTIVE else []
        page = self.page_table.find(key)
        return [page] if page is not None and page.tier is Tier.ACTIVE else []

    def _unit(self, page: Page) -> list[Page]:
        return self._groups[page.unit] if page.group_id is not None else [page]

    def _unit_importance(self, key: Hashable) -> float:
        if isinstance(key, str) and key.startswith("@"):
            return max((page.importance for page in self._groups.get(key, [])), default=0.5)
        page = self.page_table.find(key) if isinstance(key, str) else None
        return page.importance if page is not None else 0.5

    # -- moves ---------------------------------------------------------------------------------

    def _move(self, page: Page, tier: Tier, action: Action, reason: str, now: float) -> None:
        old = self.page_table.move(page, tier)
        self._record(page, action, reason, old, tier, now)

    def _record(
        self, page: Page, action: Action, reason: str, tier_from: Tier | None, tier_to: Tier | None, now: float
    ) -> None:
        self.events.record(now, page.id, action, reason, tier_from, tier_to, page.tokens or 0, self.policy_name)

    def _bring_in(self, unit: list[Page], target: Tier, action: Action, reason: str, now: float) -> None:
        """Move a non-resident unit into ``target``, evicting by policy first."""
        tokens = sum(page.tokens or 0 for page in unit)
        core = self.page_table.tokens(Tier.CORE)
        if target is Tier.CORE and core + tokens > self.core_budget:
            raise CoreBudgetExceeded(
                f"{unit[0].id} needs {tokens} core tokens but {core} of {self.core_budget} are in use"
            )
        if tokens > self.limit_tokens - core:
            raise PageTooLarge(
                f"{unit[0].unit} needs {tokens} tokens but at most {self.limit_tokens - core} can be active"
            )
        self._make_room(tokens, now)
        for page in unit:
            self._move(page, target, action, reason, now)
        if target is Tier.ACTIVE:
            self.policy.on_insert(unit[0].unit)

    def touch(self, page_id: str) -> Page:
        """Record a use; a page in swap is paged back in (with its group)."""
        page = self.page_table.get(page_id)
        now = self.clock.now()
        if page.tier is Tier.SWAP or page.tier is Tier.SUMMARY:
            self._bring_in(self._unit(page), Tier.ACTIVE, Action.PAGE_IN, "touched", now)
        elif page.tier is Tier.ACTIVE:
            self.policy.on_access(page.unit)
        page.use_count += 1
        page.last_used = now
        return page

    def pin(self, page_id: str) -> None:
        """Move a page (with its group) into core, where it is never evicted."""
        self._to_core(page_id, Action.PIN, "pinned")

    def promote(self, page_id: str, reason: str = "promoted") -> None:
        """Move a page into core because a rule says it matters."""
        self._to_core(page_id, Action.PROMOTE, reason)

    def _to_core(self, page_id: str, action: Action, reason: str) -> None:
        page = self.page_table.get(page_id)
        unit = self._unit(page)
        if any(member.quarantined for member in unit):
            raise QuarantineViolation(f"page {page_id} is quarantined; approve() it before it can enter core")
        if page.tier is Tier.CORE:
            return
        now = self.clock.now()
        if page.tier is Tier.ACTIVE:
            tokens = sum(member.tokens or 0 for member in unit)
            core = self.page_table.tokens(Tier.CORE)
            if core + tokens > self.core_budget:
                raise CoreBudgetExceeded(
                    f"{page.unit} needs {tokens} core tokens but {core} of {self.core_budget} are in use"
                )
            self.policy.on_remove(page.unit)
            for member in unit:
                self._move(member, Tier.CORE, action, reason, now)
        else:
            self._bring_in(unit, Tier.CORE, action, reason, now)

    def unpin(self, page_id: str) -> None:
        """Move a pinned page (with its group) back to active; it becomes evictable."""
        page = self.page_table.get(page_id)
        if page.tier is not Tier.CORE:
            return
        now = self.clock.now()
        for member in self._unit(page):
            self._move(member, Tier.ACTIVE, Action.UNPIN, "unpinned", now)
        self.policy.on_insert(page.unit)

    def page_out(self, page_id: str, reason: str = "paged out on request") -> None:
        """Move an active page (with its group) to swap now."""
        page = self.page_table.get(page_id)
        if page.tier is Tier.CORE:
            raise InvalidArgument(f"page {page_id} is pinned; unpin() it before paging it out")
        if page.tier is not Tier.ACTIVE:
            return
        now = self.clock.now()
        self.policy.on_remove(page.unit)
        for member in self._unit(page):
            self._move(member, Tier.SWAP, Action.PAGE_OUT, reason, now)

    def quarantine(self, page_id: str, reason: str = "quarantined") -> None:
        """Keep a page out of prompts and core until :meth:`approve`; a pinned one leaves core."""
        page = self.page_table.get(page_id)
        if page.quarantined:
            return
        now = self.clock.now()
        page.quarantined = True
        if page.tier is Tier.CORE:
            for member in self._unit(page):
                if member is not page:
                    self._move(member, Tier.ACTIVE, Action.UNPIN, f"group member {page_id} quarantined", now)
            self._move(page, Tier.ACTIVE, Action.QUARANTINE, reason, now)
            self.policy.on_insert(page.unit)
        else:
            self._record(page, Action.QUARANTINE, reason, page.tier, page.tier, now)

    def approve(self, page_id: str, reason: str = "approved") -> None:
        """Lift a quarantine."""
        page = self.page_table.get(page_id)
        if not page.quarantined:
            return
        page.quarantined = False
        self._record(page, Action.APPROVE, reason, page.tier, page.tier, self.clock.now())

    def forget(self, page_id: str, reason: str = "dropped on request") -> None:
        """Delete a page (with its group) from every tier and from the store."""
        page = self.page_table.get(page_id)
        unit = list(self._unit(page))
        now = self.clock.now()
        if page.tier is Tier.ACTIVE:
            self.policy.on_remove(page.unit)
        self.store.delete([member.id for member in unit])
        for member in unit:
            self.page_table.remove(member.id)
            self._record(member, Action.DROP, reason, member.tier, None, now)
        self._groups.pop(page.unit, None)

    def pages_of(self, page_ids: Iterable[str]) -> list[Page]:
        """Look up several pages at once."""
        return [self.page_table.get(page_id) for page_id in page_ids]

    def __repr__(self) -> str:
        usage = self.usage()
        return (
            f"MemoryManager(limit_tokens={self.limit_tokens}, policy={self.policy_name!r}, "
            f"core={usage['core']}, active={usage['active']}, swap={usage['swap']}, pages={len(self)})"
        )
