"""The paging kernel: admits pages under the hard token limit, evicts by policy, moves pages between
tiers, pins, quarantines, forgets and summarizes, and logs every move with its reason.

It keeps the invariants the state-machine tests check: core + summaries + active never exceed the limit,
core never exceeds its budget, a tool-call group moves as one unit, a quarantined page never reaches core,
and every page the table holds is in the store (or in the batch about to be stored).
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import replace
from typing import Protocol

from nexint_core.clock import Clock
from nexint_core.conditions import Condition
from nexint_core.errors import (
    CoreBudgetExceeded,
    DuplicatePage,
    InvalidArgument,
    NamespaceViolation,
    NexintError,
    PageTooLarge,
    QuarantineViolation,
    StoreError,
)
from nexint_core.events import Action, EventLog
from nexint_core.floor import FloorUnit, RecentFloor
from nexint_core.ids import IdAllocator, observe_global
from nexint_core.page_table import PageTable
from nexint_core.pages import Page, Tier
from nexint_core.planner import resident_unit, unit_of
from nexint_core.policies import EvictionPolicy, explain, policy_name
from nexint_core.settings import MemorySettings
from nexint_core.stores import PersistentStore
from nexint_core.summarizer import Summarizer
from nexint_core.summary_tier import SummaryTier
from nexint_core.tokens import Tokenizer

__all__ = ["PageWatcher", "PagingKernel"]

_LAZY_EVENTS = 1_000  # page-in events a persistent store may buffer until the next write


class PageWatcher(Protocol):
    """Told of every move and every page that leaves the table (the page-in planner's recall state)."""

    def moved(self, page: Page, tier: Tier, action: Action) -> None: ...

    def forget(self, page_id: str) -> None: ...


class _Unwatched:
    def moved(self, page: Page, tier: Tier, action: Action) -> None:
        pass

    def forget(self, page_id: str) -> None:
        pass


class PagingKernel:
    """The page table of one manager and every move on it, written through to the store and logged."""

    def __init__(
        self,
        settings: MemorySettings,
        policy: EvictionPolicy,
        *,
        label: str,
        store: PersistentStore,
        events: EventLog,
        clock: Clock,
        tokenizer: Tokenizer,
        namespace: str,
        shared: Sequence[str],
        summarizer: Summarizer | None,
        promote_if: Condition | None,
    ) -> None:
        self.settings, self.policy, self.policy_name = settings, policy, label
        self.eviction_name = policy_name(policy)
        self.store, self.events, self.clock, self.tokenizer = store, events, clock, tokenizer
        self.namespace, self.shared = namespace, tuple(shared)
        self.summarizer, self.promote_if = summarizer, promote_if
        self.page_table = PageTable()
        self.floor = RecentFloor(policy, messages=settings.recent_floor, tokens=settings.floor_tokens)
        self.ids = IdAllocator(reserve=store.reserve_ids)
        self.groups: dict[str, list[Page]] = {}
        self.watcher: PageWatcher = _Unwatched()
        self._spill = store.keeps_copies  # swapped pages release their content: the store keeps a copy
        self.summaries = SummaryTier(self, summarizer) if summarizer is not None else None
        self._batch: list[Page] | None = None  # pages a batch admitted, stored in one put at its end
        self._unstored: dict[str, Page] = {}  # placed but not yet in the store: their content must stay
        bind = getattr(policy, "bind", None)
        if bind is not None:
            bind(self.unit_importance)

    @property
    def namespaces(self) -> tuple[str, ...]:
        """The namespaces read: the manager's own, then the shared ones it mounts."""
        return (self.namespace, *self.shared)

    # -- batches ---------------------------------------------------------------------------------

    def begin_batch(self) -> None:
        """Collect the pages admitted from now on, to store them in one put at :meth:`end_batch`."""
        if self._batch is not None:
            raise InvalidArgument("write_many() cannot be nested")
        self._batch = []

    def end_batch(self) -> None:
        """Store the batch's pages (one transaction), then persist the log."""
        pending, self._batch = self._batch, None
        try:
            if pending:
                self.store_put(pending, self.clock.now())
        finally:
            self.sync_log()

    def abort_batch(self, reason: str) -> None:
        """Take back every page the batch admitted (none was stored), then persist the log."""
        pending, self._batch = self._batch, None
        try:
            if pending:
                self.discard(pending, reason, self.clock.now())
        finally:
            self.sync_log()

    @property
    def batching(self) -> bool:
        return self._batch is not None

    def load(self) -> None:
        """Rebuild the page table from what the store already holds for these namespaces."""
        table = self.page_table
        for page in self.store.scan([self.namespace]):  # streamed: swapped content is released as it loads
            if page.vaddr < table.virtual_size:
                page.vaddr = -1  # unknown, or two writers shared this namespace: continue after ours
            table.add(page, page.tier if page.tier is not None else Tier.SWAP)
            self.register(page)
        if self.shared:
            for page in self.store.scan(self.shared):  # another writer's view: archived here
                page.vaddr, page.tier = -1, Tier.SWAP
                table.add(page, Tier.SWAP)
                self.register(page)
        if not len(table):
            return
        active_units = {page.unit: page for page in table.pages(Tier.ACTIVE)}
        for key, _ in sorted(active_units.items(), key=lambda item: (item[1].last_used or 0.0, item[1].vaddr)):
            self.policy.on_insert(key)
        for key, page in sorted(active_units.items(), key=lambda item: item[1].vaddr):  # the newest: the floor
            if page.namespace == self.namespace:
                self.floor.remove(key)
                self.floor.written(key, self.floor_unit(self.unit(page)))
        now = self.clock.now()
        while table.tokens(Tier.CORE) > self.settings.core_budget:
            newest = table.pages(Tier.CORE)[-1]
            for member in self.unit(newest):
                self.move(member, Tier.ACTIVE, Action.UNPIN, "core budget is smaller than on the last run", now)
            self.floor.resident(newest.unit)
        while table.tokens(Tier.SUMMARY) > self.settings.summary_budget:
            self.move(table.pages(Tier.SUMMARY)[0], Tier.SWAP, Action.SUMMARIZE, "summary budget shrank", now)
        self.make_room(0, now, yielding=True)

    @staticmethod
    def floor_unit(unit: list[Page]) -> FloorUnit:
        """What the floor knows of a unit: its tokens, its messages, and whether it opens a turn."""
        first = unit[0]
        return FloorUnit(
            sum(page.tokens or 0 for page in unit),
            sum(1 for page in unit if page.part == 0),
            first.part == 0 and first.role == "user",
        )

    def register(self, page: Page) -> None:
        """Index a page that just entered the table by id and group (a swapped one keeps no content)."""
        self.ids.observe(page.id)
        observe_global(page.id)
        if page.group_id is not None:
            self.groups.setdefault(page.unit, []).append(page)
        if self._spill and page.tier is Tier.SWAP:
            page.spill(self.read_content)

    def reserved(self) -> int:
        """Tokens a new active page must leave free: core, plus the whole summary budget when summaries are
        on (the summary tier may fill it at any eviction), so admission never depends on summary timing."""
        return self.page_table.tokens(Tier.CORE) + self.settings.summary_budget

    def check_namespace(self, namespace: str) -> str:
        if namespace not in self.namespaces:
            raise NamespaceViolation(
                f"namespace {namespace!r} is not mounted by this manager (it reads {list(self.namespaces)})"
            )
        return namespace

    def admit(self, pages: list[Page], pin: bool, *, fresh_ids: bool) -> None:
        table = self.page_table
        seen: set[str] = set()
        for page in pages:
            if page.namespace is None:
                page.namespace = self.namespace
            self.check_namespace(page.namespace)
            if page.id in table or page.id in seen or (not fresh_ids and page.id in self.store):
                raise DuplicatePage(f"page {page.id} is already allocated")
            seen.add(page.id)
            if page.tokens is None:
                page.tokens = self.tokenizer.count(page.content)
        group_id = pages[0].group_id
        if any(page.group_id != group_id for page in pages):
            raise InvalidArgument("pages admitted together must share one group")
        key = pages[0].unit if group_id is not None else None
        members = self.groups.get(key, []) if key is not None else []
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
            self.check_core(pages[0].unit, new_tokens + (member_tokens if group_tier is not Tier.CORE else 0))
        else:
            room = self.settings.limit_tokens - self.reserved() + (member_tokens if group_tier is Tier.CORE else 0)
            largest = new_tokens + member_tokens if key is not None else max(page.tokens or 0 for page in pages)
            if largest > room:
                what = f"group {group_id!r}" if key is not None else f"page {pages[0].id}"
                raise PageTooLarge(
                    f"{what} needs {largest} tokens but at most {room} can ever be active "
                    f"(limit {self.settings.limit_tokens}, core {core})"
                )
        now = self.clock.now()
        for page in pages:
            page.created = page.created if page.created is not None else now
            page.last_used = page.last_used if page.last_used is not None else now
        floor = self.floor
        self._unstored.update((page.id, page) for page in pages)
        if key is None:
            for page in pages:
                self.make_room(page.tokens or 0, now, yielding=True)
                table.add(page, target)
                if target is Tier.ACTIVE:
                    floor.written(page.id, self.floor_unit([page]))
                self.admitted(page, now)
        else:
            if group_tier is Tier.ACTIVE:
                floor.remove(key)  # protect the group while room is made for its new members
            swapped_in = member_tokens if group_tier is Tier.SWAP or group_tier is Tier.SUMMARY else 0
            self.make_room(new_tokens + swapped_in, now, yielding=True)
            if group_tier is not None and group_tier is not target:
                if target is Tier.CORE:
                    action, reason = Action.PIN, f"group {group_id!r} pinned on write"
                elif group_tier is Tier.CORE:
                    action, reason = Action.UNPIN, f"quarantined page joined group {group_id!r}"
                else:
                    action, reason = Action.PAGE_IN, f"group {group_id!r} gained a page"
                for page in members:
                    self.move(page, target, action, reason, now)
            for page in pages:
                table.add(page, target)
                self.admitted(page, now)
            if target is Tier.ACTIVE:
                floor.written(key, self.floor_unit(self.groups[key]))
        self.store_put(pages, now)  # after placement, so the virtual addresses written are final

    def archive(self, pages: list[Page], excerpt: Page) -> None:
        """Place the pages of a frame too large for the working set straight in swap (an ``excerpt`` page
        stands in for them), and store them."""
        now = self.clock.now()
        self._unstored.update((page.id, page) for page in pages)  # their content stays until stored
        for page in pages:
            page.created = page.last_used = now
            self.page_table.add(page, Tier.SWAP)
            self.ids.observe(page.id)
            observe_global(page.id)
            reason = f"written, {page.tokens} tokens; archived whole, too large for the working set ({excerpt.id})"
            self.record(page, Action.ALLOCATE, reason, None, Tier.SWAP, now)
            if page.quarantined:
                self.record(page, Action.QUARANTINE, "quarantined on write", Tier.SWAP, Tier.SWAP, now)
        self.store_put(pages, now)

    def store_put(self, pages: list[Page], now: float) -> None:
        """Write pages through to the store (or add them to write_many's batch); a failure takes them back."""
        if self._batch is not None:
            self._batch.extend(pages)
            self._unstored.update((page.id, page) for page in pages)
            return
        try:
            self.store.put(pages)
        except NexintError as exc:
            self.discard(pages, f"write failed, not stored: {exc.code}", now)
            raise
        except Exception as exc:
            self.discard(pages, f"write failed, not stored: {type(exc).__name__}", now)
            raise StoreError(f"the swap store could not store {pages[0].id}: {exc}") from exc
        for page in pages:  # pages evicted before they were stored release their content now
            if self._unstored.pop(page.id, None) is not None and self._spill and page.tier is Tier.SWAP:
                page.spill(self.read_content)

    def discard(self, pages: list[Page], reason: str, now: float) -> None:
        """Take back pages whose write-through failed; the log shows them dropped."""
        for page in pages:
            self._unstored.pop(page.id, None)
            self.watcher.forget(page.id)
            if page.id not in self.page_table:
                continue
            unit = page.unit
            if page.tier is Tier.ACTIVE or unit in self.floor:
                self.floor.remove(unit)
            self.page_table.remove(page.id)
            self.record(page, Action.DROP, reason, page.tier, None, now)
            if page.group_id is not None:
                members = [member for member in self.groups.get(unit, []) if member is not page]
                if members:
                    self.groups[unit] = members
                    if members[0].tier is Tier.ACTIVE:
                        self.floor.resident(unit)
                else:
                    self.groups.pop(unit, None)

    def admitted(self, page: Page, now: float) -> None:
        self.register(page)
        tier = page.tier
        reason = "pinned on write" if tier is Tier.CORE else f"written, {page.tokens} tokens"
        self.record(page, Action.ALLOCATE, reason, None, tier, now)
        if page.quarantined:
            self.record(page, Action.QUARANTINE, "quarantined on write", tier, tier, now)

    def make_room(self, need: int, now: float, keep: Collection[str] = (), *, yielding: bool = False) -> None:
        """Evict policy victims until core + summary + active + ``need`` fits the limit.

        Units of the recent-turns floor are not the policy's: only a write (``yielding``) that finds no other
        victim makes the oldest of them graduate, to be evicted in turn.

        Units in ``keep`` (what a page-in is about to show) are set aside when the policy names them, and
        handed back to it as new afterwards; only if nothing else is left are they evicted after all. A
        policy that ignores accesses (FIFO) would otherwise evict the match a page-in just found.
        """
        table, limit = self.page_table, self.settings.limit_tokens
        kept: list[Hashable] = []
        try:
            while (
                deficit := table.tokens(Tier.CORE)
                + table.tokens(Tier.SUMMARY)
                + table.tokens(Tier.ACTIVE)
                + need
                - limit
            ) > 0:
                key = self.policy.victim()
                if key is not None and key in keep:
                    self.policy.on_remove(key)
                    kept.append(key)
                    continue
                if key is None and kept:
                    key = kept.pop(0)
                    self.policy.on_insert(key)
                if key is None and yielding:
                    key = self.floor.yield_oldest()
                    if key is not None:  # still listed in the floor: the prompt shows it from the store
                        self.evict(key, deficit, now, reason="the recent-turns floor yields to a new write")
                        continue
                self.evict(key, deficit, now)
        finally:
            for key in kept:
                self.policy.on_insert(key)

    def evict(self, key: Hashable | None, deficit: int, now: float, *, reason: str = "") -> None:
        """Move the policy's victim ``key`` (or, with a ``reason``, a floor unit) to swap, with the reason."""
        pages = self.resident_unit(key)
        if not pages:
            raise NexintError(f"policy {self.eviction_name} named victim {key!r}, which is not resident")
        if reason:
            reason = f"{reason}, {deficit} tokens needed"
        else:
            reason = f"{self.eviction_name} victim: {explain(self.policy, key)}, {deficit} tokens needed"
            self.floor.remove(key)
        for page in pages:
            self.move(page, Tier.SWAP, Action.EVICT, reason, now)
        if self.summaries is not None:
            self.summaries.evicted(pages, now)

    def floor_pages(self) -> tuple[list[Page], list[Page]]:
        """The floor's pages: those in the working set, and copies (with their content, read from the store in
        one query) of those a write pushed to swap."""
        resident = [page for key in self.floor.resident_keys() for page in self.resident_unit(key)]
        archived: list[Page] = []
        for key in self.floor.archived_keys():
            pages = self.groups.get(key, []) if isinstance(key, str) and key.startswith("@") else []
            if not pages and isinstance(key, str) and (page := self.page_table.find(key)) is not None:
                pages = [page]
            archived.extend(pages)
        spilled = [page.id for page in archived if page.spilled]
        found = self.store.contents(spilled) if spilled else {}
        copies = [
            replace(page, content=found[page.id], spilled=False, loader=None) if page.id in found else page
            for page in archived
        ]
        return resident, copies

    def resident_unit(self, key: Hashable | None) -> list[Page]:
        return resident_unit(key, self.page_table, self.groups)

    def unit(self, page: Page) -> list[Page]:
        return unit_of(page, self.groups)

    def unit_importance(self, key: Hashable) -> float:
        if isinstance(key, str) and key.startswith("@"):
            return max((page.importance for page in self.groups.get(key, [])), default=0.5)
        page = self.page_table.find(key) if isinstance(key, str) else None
        return page.importance if page is not None else 0.5

    def move(self, page: Page, tier: Tier, action: Action, reason: str, now: float) -> None:
        old = self.page_table.move(page, tier)
        self.watcher.moved(page, tier, action)
        if self._spill and old is not tier:
            if tier is Tier.SWAP and page.id in self._unstored:
                pass  # not stored yet: released once it is
            elif tier is Tier.SWAP:
                page.spill(self.read_content)
            elif page.spilled:
                page.restore(self.read_content(page.id))
        self.record(page, action, reason, old, tier, now)

    def read_content(self, page_id: str) -> str:
        """A swapped page's content, read from the store (what a spilled page's :attr:`Page.content` does)."""
        stored = self.store.get(page_id)
        if stored is None:
            raise StoreError(f"page {page_id} is in the page table but missing from the store")
        return stored.content

    def fetch_contents(self, pages: list[Page]) -> None:
        """Read the content of spilled pages about to come back, in one store query where it can."""
        spilled = [page for page in pages if page.spilled]
        if not spilled:
            return
        found: Mapping[str, str] = self.store.contents([page.id for page in spilled])
        for page in spilled:
            if page.id in found:
                page.restore(found[page.id])

    def with_content(self, page: Page) -> Page:
        """The page itself, or a copy carrying the content a durable store holds for it."""
        return replace(page, content=self.read_content(page.id), spilled=False, loader=None) if page.spilled else page

    def record(
        self, page: Page, action: Action, reason: str, tier_from: Tier | None, tier_to: Tier | None, now: float
    ) -> None:
        self.events.record(now, page.id, action, reason, tier_from, tier_to, page.tokens or 0, self.policy_name)

    def check_core(self, what: str, tokens: int) -> None:
        """Raise :class:`CoreBudgetExceeded` unless ``tokens`` more fit in core."""
        core = self.page_table.tokens(Tier.CORE)
        budget = self.settings.core_budget
        if core + tokens > budget:
            raise CoreBudgetExceeded(
                f"{what} needs {tokens} core tokens but {core} of the core budget of {budget} are in use"
            )

    def bring_in(self, unit: list[Page], target: Tier, action: Action, reason: str, now: float) -> None:
        """Move a non-resident unit into ``target``, evicting by policy first."""
        tokens = sum(page.tokens or 0 for page in unit)
        if target is Tier.CORE:
            self.check_core(unit[0].unit, tokens)
        room = self.settings.limit_tokens - self.reserved()
        if tokens > room:
            raise PageTooLarge(f"{unit[0].unit} needs {tokens} tokens but at most {room} can be active")
        self.make_room(tokens, now, yielding=True)  # asked for by name: the floor yields, as to a write
        for page in unit:
            self.move(page, target, action, reason, now)
        if target is Tier.ACTIVE:
            self.floor.resident(unit[0].unit)

    def touch(self, page_id: str) -> Page:
        """Record a use; a page in swap is paged back in (with its group)."""
        page = self.page_table.get(page_id)
        now = self.clock.now()
        if page.tier is Tier.SWAP:
            self.bring_in(self.unit(page), Tier.ACTIVE, Action.PAGE_IN, "touched", now)
        elif page.tier is Tier.ACTIVE:
            self.floor.accessed(page.unit)
        page.use_count += 1
        page.last_used = now
        self.maybe_promote(page)
        self.sync_log()
        return page

    def pin(self, page_id: str) -> None:
        """Move a page (with its group) into core, where it is never evicted."""
        self.to_core(page_id, Action.PIN, "pinned")
        self.sync_log()

    def promote(self, page_id: str, reason: str = "promoted") -> None:
        """Move a page into core because a rule says it matters."""
        self.to_core(page_id, Action.PROMOTE, reason)
        self.sync_log()

    def to_core(self, page_id: str, action: Action, reason: str) -> None:
        page = self.page_table.get(page_id)
        unit = self.unit(page)
        if any(member.quarantined for member in unit):
            raise QuarantineViolation(f"page {page_id} is quarantined; approve() it before it can enter core")
        if page.tier is Tier.CORE:
            return
        now = self.clock.now()
        if page.tier is Tier.ACTIVE:
            self.check_core(page.unit, sum(member.tokens or 0 for member in unit))
            self.floor.remove(page.unit)
            for member in unit:
                self.move(member, Tier.CORE, action, reason, now)
        else:
            self.bring_in(unit, Tier.CORE, action, reason, now)

    def maybe_promote(self, page: Page) -> None:
        """Promote a page (with its unit) to core if the policy's ``promote_if`` holds for it."""
        condition = self.promote_if
        if condition is None or page.tier is not Tier.ACTIVE or any(m.quarantined for m in self.unit(page)):
            return
        now = self.clock.now()
        values = {
            "importance": page.importance,
            "use_count": page.use_count,
            "age": now - (page.created if page.created is not None else now),
            "tier": page.tier.value,
            "role": page.role,
            "tags": page.metadata.get("tags", []),
            "tokens": page.tokens,
            "kind": page.id.partition("-")[0],
        }
        if not condition.evaluate(values):
            return
        try:
            self.to_core(page.id, Action.PROMOTE, f"promote_if {condition.source}")
        except (CoreBudgetExceeded, PageTooLarge) as exc:
            self.record(page, Action.SKIP, f"promote_if {condition.source} holds, but {exc}", page.tier, page.tier, now)

    def unpin(self, page_id: str) -> None:
        """Move a pinned page (with its group) back to active; it becomes evictable."""
        page = self.page_table.get(page_id)
        if page.tier is not Tier.CORE:
            return
        now = self.clock.now()
        for member in self.unit(page):
            self.move(member, Tier.ACTIVE, Action.UNPIN, "unpinned", now)
        self.floor.resident(page.unit)
        self.sync_log()

    def page_out(self, page_id: str, reason: str = "paged out on request") -> None:
        """Move an active page (with its group) to swap now."""
        page = self.page_table.get(page_id)
        if page.tier is Tier.CORE:
            raise InvalidArgument(f"page {page_id} is pinned; unpin() it before paging it out")
        if page.tier is not Tier.ACTIVE:
            return
        now = self.clock.now()
        self.floor.remove(page.unit)
        for member in self.unit(page):
            self.move(member, Tier.SWAP, Action.PAGE_OUT, reason, now)
        self.sync_log()

    def quarantine(self, page_id: str, reason: str = "quarantined") -> None:
        """Keep a page out of prompts and core until :meth:`approve`; a pinned one leaves core."""
        page = self.page_table.get(page_id)
        if page.quarantined:
            return
        now = self.clock.now()
        page.quarantined = True
        if page.tier is Tier.CORE:
            for member in self.unit(page):
                if member is not page:
                    self.move(member, Tier.ACTIVE, Action.UNPIN, f"group member {page_id} quarantined", now)
            self.move(page, Tier.ACTIVE, Action.QUARANTINE, reason, now)
            self.floor.resident(page.unit)
        else:
            self.record(page, Action.QUARANTINE, reason, page.tier, page.tier, now)
        self.sync_log()

    def approve(self, page_id: str, reason: str = "approved") -> None:
        """Lift a quarantine."""
        page = self.page_table.get(page_id)
        if not page.quarantined:
            return
        page.quarantined = False
        self.record(page, Action.APPROVE, reason, page.tier, page.tier, self.clock.now())
        self.sync_log()

    def forget(self, page_id: str, reason: str = "dropped on request") -> None:
        """Delete a page (with its group) from every tier and from the store."""
        page = self.page_table.get(page_id)
        unit = list(self.unit(page))
        now = self.clock.now()
        if page.tier is Tier.ACTIVE or page.unit in self.floor:
            self.floor.remove(page.unit)
        self.store.delete([member.id for member in unit])
        for member in unit:
            self.page_table.remove(member.id)
            self.watcher.forget(member.id)
            self.record(member, Action.DROP, reason, member.tier, None, now)
        self.groups.pop(page.unit, None)
        self.sync_log()

    def adopt(self, page_id: str, now: float) -> Page | None:
        """Take into the table a page another manager or process wrote to a namespace we read."""
        stored = self.store.get(page_id)
        if stored is None or stored.namespace not in self.namespaces:
            return None
        page = replace(stored, vaddr=-1)
        self.page_table.add(page, Tier.SWAP)
        self.register(page)
        self.record(
            page, Action.ALLOCATE, f"found in namespace {page.namespace!r}, written elsewhere", None, Tier.SWAP, now
        )
        return page

    def skip(self, page: Page, reason: str, now: float) -> None:
        """Log a page-in candidate left out."""
        self.record(page, Action.SKIP, reason, page.tier, page.tier, now)

    def sync_log(self, *, lazy: bool = False) -> None:
        """Persist this operation's events before returning (a no-op for the in-memory store).

        ``lazy`` (page-in) leaves them buffered, up to :data:`_LAZY_EVENTS`, for the next write's
        transaction: a crash then loses only which pages the last queries brought in, never a page.
        """
        if not (lazy and self.store.pending_events < _LAZY_EVENTS):
            self.store.flush()

    def usage(self) -> dict[str, int]:
        """Tokens per tier, the limits, and what is free."""
        table = self.page_table
        core, active, summary = table.tokens(Tier.CORE), table.tokens(Tier.ACTIVE), table.tokens(Tier.SUMMARY)
        return {
            "core": core,
            "active": active,
            "swap": table.tokens(Tier.SWAP),
            "summary": summary,
            "limit": self.settings.limit_tokens,
            "core_budget": self.settings.core_budget,
            "summary_budget": self.settings.summary_budget,
            "free": self.settings.limit_tokens - core - active - summary,
        }
