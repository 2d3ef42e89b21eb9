"""The memory manager (MMU): admits pages under a hard token limit, evicts by policy, logs every move."""

from __future__ import annotations

import os
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from nexint_core.assembly import AssembledPrompt, assemble_prompt, check_sections, minimum_budget
from nexint_core.clock import Clock, SystemClock
from nexint_core.conditions import Condition, parse_condition
from nexint_core.config import PolicyConfig, resolve_policy
from nexint_core.embedders import Embedder
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
from nexint_core.events import Action, EventLog, EventSink
from nexint_core.ids import IdAllocator, PageId, observe_global
from nexint_core.page_table import PageTable
from nexint_core.pages import Frame, Page, Tier, validate_importance
from nexint_core.planner import PageInPlan, PageInPlanner, resident_unit, unit_of
from nexint_core.policies import POLICY_NAMES, EvictionPolicy, explain, make_policy, policy_name
from nexint_core.retrieval import Router, ScoringWeights
from nexint_core.session import SessionRecorder
from nexint_core.settings import DEFAULT_PAGE_SIZE, DEFAULT_SUMMARY_SPAN, MemorySettings, positive_int
from nexint_core.splitting import MIN_PAGE_SIZE, split_text
from nexint_core.stores import PersistentStore, SwapStore, resolve_store
from nexint_core.summarizer import ExtractiveSummarizer, Summarizer
from nexint_core.tokens import Tokenizer, get_tokenizer
from nexint_core.view import prompt_view

__all__ = ["DEFAULT_PAGE_SIZE", "MemoryManager", "open_manager"]

DURABLE_EVENT_WINDOW = 10_000  # events kept in memory when a durable store holds the full log
_KIND_BY_ROLE = {"tool": "TOL"}
_LAZY_EVENTS = 1_000  # page-in events a persistent store may buffer until the next write


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
        store: SwapStore | str | os.PathLike[str] | None = None,
        embedder: Embedder | None = None,
        namespace: str = "default",
        shared: Sequence[str] = (),
        weights: ScoringWeights | None = None,
        page_in_budget: int | None = None,
        summarizer: Summarizer | str | None = None,
        summary_budget: int | None = None,
        summary_span: int = DEFAULT_SUMMARY_SPAN,
        sinks: Sequence[EventSink] = (),
        max_events: int | None = None,
        system_prompt: str = "",
        sections: Mapping[str, int | float] | None = None,
        promote_if: str | None = None,
        policy_label: str | None = None,
        record: SessionRecorder | str | os.PathLike[str] | None = None,
    ) -> None:
        for name in (namespace, *shared):
            if not isinstance(name, str) or not name:
                raise InvalidArgument(f"namespace must be a non-empty string, got {name!r}")
        self.namespace = namespace
        self.shared: tuple[str, ...] = tuple(dict.fromkeys(ns for ns in shared if ns != namespace))
        self.summarizer: Summarizer | None = _resolve_summarizer(summarizer)
        self.settings = MemorySettings.resolve(
            limit_tokens,
            core_budget=core_budget,
            page_size=page_size,
            page_in_budget=page_in_budget,
            summaries=self.summarizer is not None,
            summary_budget=summary_budget,
            summary_span=summary_span,
            sections=sections,
            weights=weights,
            promote_if=promote_if,
        )
        if not isinstance(system_prompt, str):
            raise InvalidArgument(f"system_prompt must be a string, got {type(system_prompt).__name__}")
        self.system_prompt = system_prompt
        self.policy = make_policy(policy)
        self.eviction_name = policy_name(self.policy)
        self.policy_name = self.eviction_name if policy_label is None else policy_label  # written into events
        self.promote_if: Condition | None = (
            parse_condition(promote_if, name="promote_if") if promote_if is not None else None
        )
        bind = getattr(self.policy, "bind", None)
        if bind is not None:
            bind(self._unit_importance)
        self.tokenizer = get_tokenizer(tokenizer)
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.store: PersistentStore = resolve_store(store, embedder=embedder)
        self.page_table = PageTable()
        self._spill = self.store.keeps_copies
        if max_events is None and self._spill:
            max_events = DURABLE_EVENT_WINDOW  # the full log is in the store: keep a recent window in memory
        self.events = EventLog(sinks, maxlen=max_events)
        self.router = Router()
        self._ids = IdAllocator(reserve=self.store.reserve_ids)
        self._groups: dict[str, list[Page]] = {}
        self._span: list[Page] = []
        self._batch: list[Page] | None = None  # pages write_many admitted, stored in one batch at its end
        self._unstored: dict[str, Page] = {}  # placed but not yet in the store: their content must stay
        self.planner = PageInPlanner(
            self.page_table,
            self._groups,
            self.store,
            self.namespaces,
            self.settings.weights,
            adopt=self._adopt,
            skip=self._skip,
        )
        self._last_lines: tuple[str, ...] = ()
        self._label_tokens: dict[str, int] = {}
        self.recorder: SessionRecorder | None = None
        self._shared_archive = self.store.persistent or bool(self.shared)
        self.events.continue_from(self.store.last_event_seq(namespace))  # numbers go on from the last run's
        try:
            self._load()
        except BaseException:
            if store is not self.store:  # we opened it from a path: do not leak it
                self.close()
            raise
        sink = self.store.event_sink(namespace)
        if sink is not None:
            for event in self.events:  # what loading did (say, unpins for a smaller core budget)
                sink.emit(event)
            self.events.sinks.append(sink)
        if record is not None:
            self.recorder = (
                record if isinstance(record, SessionRecorder) else SessionRecorder(record, policy=self.policy_config())
            )
        self.store.preload(self.namespaces)  # read large vector indexes in the background, before the first query

    @classmethod
    def from_policy(cls, policy: str | os.PathLike[str] | PolicyConfig, **options: Any) -> MemoryManager:
        """A manager configured by a policy (a file, a :class:`PolicyConfig` or an eviction name);
        ``options`` (store, clock, namespace, ...) are passed on and override the policy's settings."""
        config = resolve_policy(policy if isinstance(policy, PolicyConfig) else os.fspath(policy))
        return cls(**{**config.manager_options(), **options})

    def policy_config(self) -> PolicyConfig:
        """This manager's settings as a policy (what a session recorded from it replays under)."""
        if self.eviction_name not in POLICY_NAMES:
            raise InvalidArgument(f"eviction policy {self.eviction_name!r} has no name a policy file can give")
        return PolicyConfig.from_settings(
            self.settings, eviction=self.eviction_name, label=self.policy_name, summaries=self.summarizer is not None
        )

    @property
    def limit_tokens(self) -> int:
        """The hard limit: core + summaries + active never exceed it."""
        return self.settings.limit_tokens

    @property
    def core_budget(self) -> int:
        """Tokens pinned pages may take."""
        return self.settings.core_budget

    @property
    def page_size(self) -> int:
        """The most tokens a page holds."""
        return self.settings.page_size

    @property
    def page_in_budget(self) -> int:
        """The most tokens one query pages in."""
        return self.settings.page_in_budget

    @property
    def summary_budget(self) -> int:
        """Tokens the summary tier may take (0 without a summarizer)."""
        return self.settings.summary_budget

    @property
    def summary_span(self) -> int:
        """Evicted pages summarized together."""
        return self.settings.summary_span

    @property
    def weights(self) -> ScoringWeights:
        """How page-in ranks archive candidates."""
        return self.settings.weights

    @property
    def sections(self) -> Mapping[str, int | float]:
        """The prompt's section budgets."""
        return self.settings.sections

    @property
    def namespaces(self) -> tuple[str, ...]:
        """The namespaces this manager reads: its own, then the shared ones it mounts."""
        return (self.namespace, *self.shared)

    def _load(self) -> None:
        """Rebuild the page table from what the store already holds for these namespaces."""
        table = self.page_table
        for page in self.store.scan([self.namespace]):  # streamed: swapped content is released as it loads
            if page.vaddr < table.virtual_size:
                page.vaddr = -1  # unknown, or two writers shared this namespace: continue after ours
            table.add(page, page.tier if page.tier is not None else Tier.SWAP)
            self._register(page)
        if self.shared:
            for page in self.store.scan(self.shared):  # another writer's view: archived here
                page.vaddr, page.tier = -1, Tier.SWAP
                table.add(page, Tier.SWAP)
                self._register(page)
        if not len(table):
            return
        active_units = {page.unit: page for page in table.pages(Tier.ACTIVE)}
        for key, _ in sorted(active_units.items(), key=lambda item: (item[1].last_used or 0.0, item[1].vaddr)):
            self.policy.on_insert(key)
        now = self.clock.now()
        while table.tokens(Tier.CORE) > self.core_budget:
            newest = table.pages(Tier.CORE)[-1]
            for member in self._unit(newest):
                self._move(member, Tier.ACTIVE, Action.UNPIN, "core budget is smaller than on the last run", now)
            self.policy.on_insert(newest.unit)
        while table.tokens(Tier.SUMMARY) > self.summary_budget:
            self._move(table.pages(Tier.SUMMARY)[0], Tier.SWAP, Action.SUMMARIZE, "summary budget shrank", now)
        self._make_room(0, now)

    def _register(self, page: Page) -> None:
        """Index a page that just entered the table by id and group (a swapped one keeps no content)."""
        self._ids.observe(page.id)
        observe_global(page.id)
        if page.group_id is not None:
            self._groups.setdefault(page.unit, []).append(page)
        if self._spill and page.tier is Tier.SWAP:
            page.content, page.spilled = "", True

    # -- reads ---------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.page_table)

    def __contains__(self, page_id: object) -> bool:
        return page_id in self.page_table

    def get(self, page_id: str) -> Page:
        """The page with this id; raises :class:`PageNotFound`. A swapped page's content is read from the store."""
        return self._with_content(self.page_table.get(page_id))

    def active_pages(self) -> list[Page]:
        """The working set in write order, without quarantined pages."""
        return [page for page in self.page_table.pages(Tier.ACTIVE) if not page.quarantined]

    def core_pages(self) -> list[Page]:
        """Pinned pages in write order."""
        return self.page_table.pages(Tier.CORE)

    def pages(self, tier: Tier | str) -> list[Page]:
        """All pages of a tier in write order."""
        return self.page_table.pages(Tier(tier))

    def stored_pages(self) -> list[Page]:
        """Every page of the manager's own namespace in write order, each with its content (a swapped page's
        is read from the store, in one query, into a copy)."""
        own = sorted((page for page in self.page_table if page.namespace == self.namespace), key=lambda p: p.vaddr)
        spilled = [page.id for page in own if page.spilled]
        found: Mapping[str, str] = self.store.contents(spilled) if spilled else {}
        return [replace(page, content=found[page.id], spilled=False) if page.id in found else page for page in own]

    def usage(self) -> dict[str, int]:
        """Tokens per tier, the limits, and what is free."""
        table = self.page_table
        core, active, summary = table.tokens(Tier.CORE), table.tokens(Tier.ACTIVE), table.tokens(Tier.SUMMARY)
        return {
            "core": core,
            "active": active,
            "swap": table.tokens(Tier.SWAP),
            "summary": summary,
            "limit": self.limit_tokens,
            "core_budget": self.core_budget,
            "summary_budget": self.summary_budget,
            "free": self.limit_tokens - core - active - summary,
        }

    def _reserved(self) -> int:
        """Tokens a new active page must leave free: core, plus the whole summary budget when summaries are
        on (the summary tier may fill it at any eviction), so admission never depends on summary timing."""
        return self.page_table.tokens(Tier.CORE) + self.summary_budget

    # -- admitting pages -----------------------------------------------------------------------

    def allocate(self, page: Page, *, pin: bool = False) -> PageId:
        """Admit one page into active (or core, if ``pin``), evicting by policy until it fits."""
        if not isinstance(page, Page):
            raise InvalidArgument(f"allocate() takes a ContextPage, got {type(page).__name__}")
        self._admit([page], pin, fresh_ids=False)
        self._sync_log()
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
        namespace: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> list[PageId]:
        """Split one frame (a turn, tool result or thought) into pages and admit them.

        Frames sharing ``group`` (an assistant tool call and its results) are evicted and paged in
        together. ``namespace`` may name a mounted shared namespace. Returns the new page ids.
        """
        if not isinstance(role, str) or not role:
            raise InvalidArgument(f"role must be a non-empty string, got {role!r}")
        if not isinstance(text, str):
            raise InvalidArgument(f"content must be a string, got {type(text).__name__}")
        if group is not None and (not isinstance(group, str) or not group):
            raise InvalidArgument(f"group must be a non-empty string, got {group!r}")
        importance = validate_importance(importance)
        namespace = self._check_namespace(self.namespace if namespace is None else namespace)
        kind = kind or _KIND_BY_ROLE.get(role, "MSG")
        pieces = split_text(text, self.tokenizer, self.page_size)
        before = self._ids.state()
        ids = [self._ids.next(kind) for _ in pieces]
        pages = [
            Page(
                page_id,
                content,
                tokens,
                role=role,
                importance=importance,
                namespace=namespace,
                frame_id=ids[0],  # a frame is named after its first page
                group_id=group,
                part=part,
                quarantined=quarantined,
                metadata=dict(metadata) if metadata else {},
            )
            for part, (page_id, (content, tokens)) in enumerate(zip(ids, pieces, strict=True))
        ]
        try:
            self._admit(pages, pin, fresh_ids=True)
        except NexintError:
            self._ids.restore(before)
            raise
        for page in pages:  # each page of a long turn is its own unit (a group is promoted whole at once)
            self._maybe_promote(page)
        if self.recorder is not None:
            tags = list(metadata.get("tags", [])) if metadata else []
            options = {"importance": importance, "group": group, "pin": pin, "quarantined": quarantined, "tags": tags}
            self.recorder.message(role, text, ids, **options)
        if self._batch is None:
            self._sync_log()
        return ids

    def write_frame(self, frame: Frame, **options: Any) -> list[PageId]:
        """Write a :class:`Frame` (what adapters build from framework messages); options as for :meth:`write`."""
        if not isinstance(frame, Frame):
            raise InvalidArgument(f"write_frame() takes a Frame, got {type(frame).__name__}")
        return self.write(frame.role, frame.text, group=frame.group_id, metadata=frame.metadata, **options)

    def write_many(
        self, frames: Iterable[Frame | tuple[str, str]], *, importance: float = 0.5, namespace: str | None = None
    ) -> list[list[PageId]]:
        """Write many frames (or ``(role, text)`` pairs) in order, storing them in one batch.

        The result is what :meth:`write` would return for each frame, and the manager ends in the same
        state, but the store gets one transaction and one embedding batch: the way to import a history.
        The batch is acknowledged as a whole when this returns. If a frame is rejected (say, it can never
        fit), the frames before it are still written and stored, and the error says how many were.
        """
        if self._batch is not None:
            raise InvalidArgument("write_many() cannot be nested")
        written: list[list[PageId]] = []
        self._batch = []
        try:
            for index, item in enumerate(frames):
                if isinstance(item, Frame):
                    role, text, group, metadata = item.role, item.text, item.group_id, item.metadata
                elif isinstance(item, tuple) and len(item) == 2:
                    (role, text), group, metadata = item, None, None
                else:
                    raise InvalidArgument(f"write_many() takes Frames or (role, text) pairs; item {index} is {item!r}")
                written.append(
                    self.write(role, text, importance=importance, group=group, namespace=namespace, metadata=metadata)
                )
        except NexintError as exc:
            exc.message += f" (write_many wrote and stored the {len(written)} frames before it)"
            raise
        finally:
            pending, self._batch = self._batch, None
            try:
                if pending:
                    self._store_put(pending, self.clock.now())
            finally:
                self._sync_log()
        return written

    def _check_namespace(self, namespace: str) -> str:
        if namespace not in self.namespaces:
            raise NamespaceViolation(
                f"namespace {namespace!r} is not mounted by this manager (it reads {list(self.namespaces)})"
            )
        return namespace

    def _admit(self, pages: list[Page], pin: bool, *, fresh_ids: bool) -> None:
        table = self.page_table
        seen: set[str] = set()
        for page in pages:
            if page.namespace is None:
                page.namespace = self.namespace
            self._check_namespace(page.namespace)
            if page.id in table or page.id in seen or (not fresh_ids and page.id in self.store):
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
            self._check_core(pages[0].unit, new_tokens + (member_tokens if group_tier is not Tier.CORE else 0))
        else:
            room = self.limit_tokens - self._reserved() + (member_tokens if group_tier is Tier.CORE else 0)
            largest = new_tokens + member_tokens if key is not None else max(page.tokens or 0 for page in pages)
            if largest > room:
                what = f"group {group_id!r}" if key is not None else f"page {pages[0].id}"
                raise PageTooLarge(
                    f"{what} needs {largest} tokens but at most {room} can ever be active "
                    f"(limit {self.limit_tokens}, core {core})"
                )
        now = self.clock.now()
        for page in pages:
            page.created = page.created if page.created is not None else now
            page.last_used = page.last_used if page.last_used is not None else now
        policy = self.policy
        self._unstored.update((page.id, page) for page in pages)
        if key is None:
            for page in pages:
                self._make_room(page.tokens or 0, now)
                table.add(page, target)
                if target is Tier.ACTIVE:
                    policy.on_insert(page.id)
                self._admitted(page, now)
        else:
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
            if target is Tier.ACTIVE:
                policy.on_insert(key)
        self._store_put(pages, now)  # after placement, so the virtual addresses written are final

    def _store_put(self, pages: list[Page], now: float) -> None:
        """Write pages through to the store (or add them to write_many's batch); a failure takes them back."""
        if self._batch is not None:
            self._batch.extend(pages)
            self._unstored.update((page.id, page) for page in pages)
            return
        try:
            self.store.put(pages)
        except NexintError as exc:
            self._discard(pages, f"write failed, not stored: {exc.code}", now)
            raise
        except Exception as exc:
            self._discard(pages, f"write failed, not stored: {type(exc).__name__}", now)
            raise StoreError(f"the swap store could not store {pages[0].id}: {exc}") from exc
        for page in pages:  # pages evicted before they were stored release their content now
            if self._unstored.pop(page.id, None) is not None and self._spill and page.tier is Tier.SWAP:
                page.content, page.spilled = "", True

    def _discard(self, pages: list[Page], reason: str, now: float) -> None:
        """Take back pages whose write-through failed; the log shows them dropped."""
        for page in pages:
            self._unstored.pop(page.id, None)
            self.planner.forget(page.id)
            if page.id not in self.page_table:
                continue
            unit = page.unit
            if page.tier is Tier.ACTIVE:
                self.policy.on_remove(unit)
            self.page_table.remove(page.id)
            self._record(page, Action.DROP, reason, page.tier, None, now)
            if page.group_id is not None:
                members = [member for member in self._groups.get(unit, []) if member is not page]
                if members:
                    self._groups[unit] = members
                    if members[0].tier is Tier.ACTIVE:
                        self.policy.on_insert(unit)
                else:
                    self._groups.pop(unit, None)

    def _admitted(self, page: Page, now: float) -> None:
        self._register(page)
        tier = page.tier
        reason = "pinned on write" if tier is Tier.CORE else f"written, {page.tokens} tokens"
        self._record(page, Action.ALLOCATE, reason, None, tier, now)
        if page.quarantined:
            self._record(page, Action.QUARANTINE, "quarantined on write", tier, tier, now)

    # -- eviction ------------------------------------------------------------------------------

    def _make_room(self, need: int, now: float, keep: Collection[str] = ()) -> None:
        """Evict policy victims until core + summary + active + ``need`` fits the limit.

        Units in ``keep`` (what a page-in is about to show) are set aside when the policy names them, and
        handed back to it as new afterwards; only if nothing else is left are they evicted after all. A
        policy that ignores accesses (FIFO) would otherwise evict the match a page-in just found.
        """
        table, limit = self.page_table, self.limit_tokens
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
                self._evict(key, deficit, now)
        finally:
            for key in kept:
                self.policy.on_insert(key)

    def _evict(self, key: Hashable | None, deficit: int, now: float) -> None:
        """Move the policy's victim ``key`` to swap, with the reason."""
        pages = self._resident_unit(key)
        if not pages:
            raise NexintError(f"policy {self.eviction_name} named victim {key!r}, which is not resident")
        reason = f"{self.eviction_name} victim: {explain(self.policy, key)}, {deficit} tokens needed"
        self.policy.on_remove(key)
        for page in pages:
            self._move(page, Tier.SWAP, Action.EVICT, reason, now)
        if self.summarizer is not None:
            self._span.extend(page for page in pages if page.role != "summary")
            if len(self._span) >= self.summary_span:
                self._summarize_span(now)

    # -- summaries -----------------------------------------------------------------------------

    def _summary_max(self) -> int:
        return max(MIN_PAGE_SIZE, self.summary_budget // 2)

    def _new_summary(self, sources: list[Page], max_tokens: int, now: float) -> Page | None:
        assert self.summarizer is not None
        readable = [self._with_content(page) for page in sources]
        text = self.summarizer.summarize(readable, max_tokens, self.tokenizer).strip()
        if not text:
            return None
        content, tokens = split_text(text, self.tokenizer, max(MIN_PAGE_SIZE, max_tokens))[0]
        if tokens > max_tokens:
            return None
        level = 1 + max((int(page.metadata.get("level", 0)) for page in sources), default=0)
        page = Page(
            self._ids.next("SUM"),
            content,
            tokens,
            role="summary",
            importance=max(page.importance for page in sources),
            namespace=self.namespace,
            frame_id=None,
            created=now,
            last_used=now,
            vaddr=self.page_table.virtual_size,
            metadata={"sources": [page.id for page in sources], "level": level},
        )
        self._store_put([page], now)
        self.page_table.add(page, Tier.SUMMARY)
        self._register(page)
        return page

    def _summarize_span(self, now: float) -> None:
        """Write a summary of the pages evicted since the last one, keeping the tier within budget."""
        sources, self._span = self._span, []
        table = self.page_table
        expected = min(self._summary_max(), self.summary_budget)
        while table.tokens(Tier.SUMMARY) + expected > self.summary_budget:
            oldest = table.pages(Tier.SUMMARY)
            if not oldest:
                break
            merged = None
            if len(oldest) >= 2:
                pair_tokens = (oldest[0].tokens or 0) + (oldest[1].tokens or 0)
                merged = self._new_summary(oldest[:2], min(self._summary_max(), pair_tokens - 1), now)
            if merged is not None:
                self._record(
                    merged, Action.SUMMARIZE, f"merged {oldest[0].id} and {oldest[1].id}", None, Tier.SUMMARY, now
                )
                for old in oldest[:2]:
                    self._move(old, Tier.SWAP, Action.SUMMARIZE, f"merged into {merged.id}", now)
            else:
                self._move(oldest[0], Tier.SWAP, Action.SUMMARIZE, "summary budget full: retired to swap", now)
        room = min(self._summary_max(), self.summary_budget - table.tokens(Tier.SUMMARY))
        page = self._new_summary(sources, room, now) if room >= MIN_PAGE_SIZE else None
        if page is not None:
            reason = f"summary of {len(sources)} evicted pages {sources[0].id}..{sources[-1].id}"
            self._record(page, Action.SUMMARIZE, reason, None, Tier.SUMMARY, now)

    def _resident_unit(self, key: Hashable | None) -> list[Page]:
        return resident_unit(key, self.page_table, self._groups)

    def _unit(self, page: Page) -> list[Page]:
        return unit_of(page, self._groups)

    def _unit_importance(self, key: Hashable) -> float:
        if isinstance(key, str) and key.startswith("@"):
            return max((page.importance for page in self._groups.get(key, [])), default=0.5)
        page = self.page_table.find(key) if isinstance(key, str) else None
        return page.importance if page is not None else 0.5

    # -- moves ---------------------------------------------------------------------------------

    def _move(self, page: Page, tier: Tier, action: Action, reason: str, now: float) -> None:
        old = self.page_table.move(page, tier)
        self.planner.moved(page, tier, action)
        if self._spill and old is not tier:
            if tier is Tier.SWAP and page.id in self._unstored:
                pass  # not stored yet: released once it is
            elif tier is Tier.SWAP:
                page.content, page.spilled = "", True
            elif page.spilled:
                page.content, page.spilled = self._stored_content(page), False
        self._record(page, action, reason, old, tier, now)

    def _stored_content(self, page: Page) -> str:
        stored = self.store.get(page.id)
        if stored is None:
            raise StoreError(f"page {page.id} is in the page table but missing from the store")
        return stored.content

    def _fetch_contents(self, pages: list[Page]) -> None:
        """Read the content of spilled pages about to come back, in one store query where it can."""
        spilled = [page for page in pages if page.spilled]
        if not spilled:
            return
        found: Mapping[str, str] = self.store.contents([page.id for page in spilled])
        for page in spilled:
            if page.id in found:
                page.content, page.spilled = found[page.id], False

    def _with_content(self, page: Page) -> Page:
        """The page itself, or a copy carrying the content a durable store holds for it."""
        return replace(page, content=self._stored_content(page), spilled=False) if page.spilled else page

    def _record(
        self, page: Page, action: Action, reason: str, tier_from: Tier | None, tier_to: Tier | None, now: float
    ) -> None:
        self.events.record(now, page.id, action, reason, tier_from, tier_to, page.tokens or 0, self.policy_name)

    def _check_core(self, what: str, tokens: int) -> None:
        """Raise :class:`CoreBudgetExceeded` unless ``tokens`` more fit in core."""
        core = self.page_table.tokens(Tier.CORE)
        if core + tokens > self.core_budget:
            raise CoreBudgetExceeded(
                f"{what} needs {tokens} core tokens but {core} of the core budget of {self.core_budget} are in use"
            )

    def _bring_in(self, unit: list[Page], target: Tier, action: Action, reason: str, now: float) -> None:
        """Move a non-resident unit into ``target``, evicting by policy first."""
        tokens = sum(page.tokens or 0 for page in unit)
        if target is Tier.CORE:
            self._check_core(unit[0].unit, tokens)
        if tokens > self.limit_tokens - self._reserved():
            raise PageTooLarge(
                f"{unit[0].unit} needs {tokens} tokens but at most {self.limit_tokens - self._reserved()} can be active"
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
        if page.tier is Tier.SWAP:
            self._bring_in(self._unit(page), Tier.ACTIVE, Action.PAGE_IN, "touched", now)
        elif page.tier is Tier.ACTIVE:
            self.policy.on_access(page.unit)
        page.use_count += 1
        page.last_used = now
        self._maybe_promote(page)
        self._sync_log()
        return page

    def pin(self, page_id: str) -> None:
        """Move a page (with its group) into core, where it is never evicted."""
        self._to_core(page_id, Action.PIN, "pinned")
        self._sync_log()

    def promote(self, page_id: str, reason: str = "promoted") -> None:
        """Move a page into core because a rule says it matters."""
        self._to_core(page_id, Action.PROMOTE, reason)
        self._sync_log()

    def _to_core(self, page_id: str, action: Action, reason: str) -> None:
        page = self.page_table.get(page_id)
        unit = self._unit(page)
        if any(member.quarantined for member in unit):
            raise QuarantineViolation(f"page {page_id} is quarantined; approve() it before it can enter core")
        if page.tier is Tier.CORE:
            return
        now = self.clock.now()
        if page.tier is Tier.ACTIVE:
            self._check_core(page.unit, sum(member.tokens or 0 for member in unit))
            self.policy.on_remove(page.unit)
            for member in unit:
                self._move(member, Tier.CORE, action, reason, now)
        else:
            self._bring_in(unit, Tier.CORE, action, reason, now)

    def _maybe_promote(self, page: Page) -> None:
        """Promote a page (with its unit) to core if the policy's ``promote_if`` holds for it."""
        condition = self.promote_if
        if condition is None or page.tier is not Tier.ACTIVE or any(m.quarantined for m in self._unit(page)):
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
            self._to_core(page.id, Action.PROMOTE, f"promote_if {condition.source}")
        except (CoreBudgetExceeded, PageTooLarge) as exc:
            self._record(
                page, Action.SKIP, f"promote_if {condition.source} holds, but {exc}", page.tier, page.tier, now
            )

    def unpin(self, page_id: str) -> None:
        """Move a pinned page (with its group) back to active; it becomes evictable."""
        page = self.page_table.get(page_id)
        if page.tier is not Tier.CORE:
            return
        now = self.clock.now()
        for member in self._unit(page):
            self._move(member, Tier.ACTIVE, Action.UNPIN, "unpinned", now)
        self.policy.on_insert(page.unit)
        self._sync_log()

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
        self._sync_log()

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
        self._sync_log()

    def approve(self, page_id: str, reason: str = "approved") -> None:
        """Lift a quarantine."""
        page = self.page_table.get(page_id)
        if not page.quarantined:
            return
        page.quarantined = False
        self._record(page, Action.APPROVE, reason, page.tier, page.tier, self.clock.now())
        self._sync_log()

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
            self.planner.forget(member.id)
            self._record(member, Action.DROP, reason, member.tier, None, now)
        self._groups.pop(page.unit, None)
        self._sync_log()

    # -- page-in on query -----------------------------------------------------------------------

    def page_in(self, query: str, *, budget: int | None = None) -> list[PageId]:
        """Bring the archived pages that best match ``query`` into active; returns what was promoted.

        Candidates come from lexical (BM25) and vector search fused by score, scored with relevance,
        importance, recency and frequency (:attr:`weights`). Winners are taken in score order while
        they fit ``budget`` (default :attr:`page_in_budget`); then their neighbours (other pages of
        the same frame, the turns before and after) while room is left. Each promotion is a
        ``page_in`` event whose reason shows the score; a candidate that lost for room is a ``skip``.
        Matches already in active are not moved: they count as used (an access for the policy) and
        join the prompt's archive section. A persistent store receives these events (and the tier
        changes they carry) with the next write or :meth:`flush`.
        """
        if not isinstance(query, str):
            raise InvalidArgument(f"query must be a string, got {type(query).__name__}")
        if budget is not None:
            positive_int("budget", budget, allow_zero=True)
        table = self.page_table
        room = min(self.page_in_budget if budget is None else budget, self.limit_tokens - self._reserved())
        searchable = table.count(Tier.SWAP) + table.count(Tier.ACTIVE) or int(self._shared_archive)
        if self.router.route(query, searchable_pages=searchable, room=room) != "retrieve":
            return []
        try:
            now = self.clock.now()
            return self._apply(self.planner.plan(query, room, now), now)
        finally:
            self._sync_log(lazy=True)

    def _apply(self, plan: PageInPlan, now: float) -> list[PageId]:
        """Carry out a page-in plan: the resident units it used are accessed, its choices come in (after
        room is made, keeping what the query shows), and what it recalled is remembered."""
        for key, unit in plan.accessed:  # used by this query, so making room for its recalls keeps them
            self.policy.on_access(key)  # matches last, worst first: the best match ends most recently used
            for member in unit:
                member.use_count += 1
                member.last_used = now
        promoted: list[PageId] = []
        if plan.chosen:
            self._fetch_contents([member for unit, _ in plan.chosen.values() for member in unit])
            self._make_room(plan.used, now, keep=plan.ranks.keys() - plan.chosen.keys())  # what this query shows stays
            for key, (unit, reason) in plan.chosen.items():
                for member in unit:
                    self._move(member, Tier.ACTIVE, Action.PAGE_IN, reason, now)
                    member.use_count += 1
                    member.last_used = now
                    promoted.append(member.id)
                self.policy.on_insert(key)
        self.planner.settle(plan)
        for unit in plan.hits.values():
            self._maybe_promote(unit[0])
        for unit, _ in plan.chosen.values():
            self._maybe_promote(unit[0])
        return promoted

    def _skip(self, page: Page, reason: str, now: float) -> None:
        """Log a page-in candidate left out."""
        self._record(page, Action.SKIP, reason, page.tier, page.tier, now)

    def _adopt(self, page_id: str, now: float) -> Page | None:
        """Take into the table a page another manager or process wrote to a namespace we read."""
        stored = self.store.get(page_id)
        if stored is None or stored.namespace not in self.namespaces:
            return None
        page = replace(stored, vaddr=-1)
        self.page_table.add(page, Tier.SWAP)
        self._register(page)
        self._record(
            page, Action.ALLOCATE, f"found in namespace {page.namespace!r}, written elsewhere", None, Tier.SWAP, now
        )
        return page

    # -- prompt assembly -------------------------------------------------------------------------

    def assemble(
        self,
        query: str,
        budget: int | None = None,
        *,
        page_in: bool = True,
        system: str | None = None,
        sections: Mapping[str, int | float] | None = None,
    ) -> AssembledPrompt:
        """Build the prompt for ``query``: page in what it needs (unless ``page_in=False``), then lay out
        the system anchor, core, summaries, recalled archive pages, recent turns and the query within
        ``budget`` tokens (default: the manager's limit). Quarantined pages are left out, with the reason.
        """
        if not isinstance(query, str):
            raise InvalidArgument(f"query must be a string, got {type(query).__name__}")
        budget = self.limit_tokens if budget is None else positive_int("budget", budget)
        system = self.system_prompt if system is None else system
        sections = self.sections if sections is None else {**self.sections, **check_sections(sections)}
        needed = minimum_budget(query, system, self.tokenizer, self._label_tokens)
        if budget < needed:  # before anything is paged in
            raise PageTooLarge(
                f"a budget of {budget} tokens cannot hold the system anchor and the query ({needed} tokens)"
            )
        if self.recorder is not None:
            self.recorder.query(query)
        promoted = self.page_in(query) if page_in and query.strip() else []
        view = prompt_view(
            self.page_table,
            self.planner,
            query=query,
            budget=budget,
            system=system,
            sections=sections,
            previous=self._last_lines,
            promoted=promoted,
        )
        prompt = assemble_prompt(view, tokenizer=self.tokenizer, label_cache=self._label_tokens)
        self._last_lines = prompt.lines
        return prompt

    def route_counts(self) -> dict[str, int]:
        """How often each page-in route was taken (retrieve, or why it was skipped)."""
        return dict(self.router.counts)

    # -- lifecycle -----------------------------------------------------------------------------

    def _sync_log(self, *, lazy: bool = False) -> None:
        """Persist this operation's events before returning (a no-op for the in-memory store).

        ``lazy`` (page-in) leaves them buffered, up to :data:`_LAZY_EVENTS`, for the next write's
        transaction: a crash then loses only which pages the last queries brought in, never a page.
        """
        if not (lazy and self.store.pending_events < _LAZY_EVENTS):
            self.store.flush()

    def flush(self) -> None:
        """Persist buffered events and tier changes (a persistent store writes them with each page too)."""
        self.store.flush()

    def close(self) -> None:
        """Flush and close the store (and the session recorder, if any)."""
        if self.recorder is not None:
            self.recorder.close()
        self.store.close()

    def __enter__(self) -> MemoryManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        usage = self.usage()
        return (
            f"MemoryManager(limit_tokens={self.limit_tokens}, policy={self.policy_name!r}, "
            f"core={usage['core']}, active={usage['active']}, swap={usage['swap']}, pages={len(self)})"
        )


def open_manager(
    manager: MemoryManager | None,
    *,
    default_limit: int,
    token_limit: int | None = None,
    store: SwapStore | str | os.PathLike[str] | None = None,
    policy: str | EvictionPolicy | None = None,
    namespace: str | None = None,
    options: Mapping[str, Any] | None = None,
) -> tuple[MemoryManager, bool]:
    """What an adapter works on: the given manager, or one built from the usual settings.

    Returns ``(manager, owned)``; an owned manager was built here and is the adapter's to close.
    Settings next to a ready manager are an error (they would be silently ignored).
    """
    settings: dict[str, Any] = {"store": store, "policy": policy, "namespace": namespace}
    settings = {name: value for name, value in settings.items() if value is not None} | dict(options or {})
    if manager is not None:
        given = sorted(settings) + (["token_limit"] if token_limit is not None else [])
        if given:
            raise InvalidArgument(f"pass either manager= or the manager's settings, not both (got {given})")
        if not isinstance(manager, MemoryManager):
            raise InvalidArgument(f"manager must be a MemoryManager, got {type(manager).__name__}")
        return manager, False
    return MemoryManager(default_limit if token_limit is None else token_limit, **settings), True


def _resolve_summarizer(summarizer: Summarizer | str | None) -> Summarizer | None:
    if summarizer is None or not isinstance(summarizer, str):
        return summarizer
    if summarizer.lower() == "extractive":
        return ExtractiveSummarizer()
    raise InvalidArgument(f"unknown summarizer {summarizer!r}; use 'extractive' or pass a Summarizer")
