"""The memory manager (MMU): admits pages under a hard token limit, evicts by policy, logs every move."""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from nexint_core.assembly import AssembledPrompt, assemble_prompt, check_sections, minimum_budget
from nexint_core.clock import Clock, SystemClock
from nexint_core.conditions import Condition, parse_condition
from nexint_core.config import PolicyConfig, resolve_policy
from nexint_core.embedders import EmbedderSpec, embedder_name
from nexint_core.errors import (
    InvalidArgument,
    NexintError,
    PageTooLarge,
    StoreReadOnly,
)
from nexint_core.events import Action, EventLog, EventSink
from nexint_core.excerpts import MIN_EXCERPT, excerpt
from nexint_core.ids import PageId
from nexint_core.kernel import PagingKernel
from nexint_core.pages import ROLES, Frame, Page, Tier, validate_importance
from nexint_core.planner import PageInPlan, PageInPlanner
from nexint_core.policies import POLICY_NAMES, EvictionPolicy, make_policy, policy_name
from nexint_core.retrieval import Router, ScoringWeights
from nexint_core.session import SessionRecorder
from nexint_core.settings import DEFAULT_PAGE_SIZE, DEFAULT_SUMMARY_SPAN, MemorySettings, positive_int
from nexint_core.splitting import split_text
from nexint_core.stores import PersistentStore, SwapStore, resolve_store
from nexint_core.summarizer import ExtractiveSummarizer, Summarizer
from nexint_core.tokens import Tokenizer, get_tokenizer
from nexint_core.view import prompt_view

__all__ = ["DEFAULT_PAGE_SIZE", "MemoryManager", "check_options", "open_manager", "session_namespace"]

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
        embedder: EmbedderSpec | None = None,
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
        recent_floor: int | None = None,
        cite_ids: bool = False,
        policy_label: str | None = None,
        record: SessionRecorder | str | os.PathLike[str] | None = None,
        read_only: bool = False,
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
            recent_floor=recent_floor,
            cite_ids=cite_ids,
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
        self.tokenizer = get_tokenizer(tokenizer)
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.store: PersistentStore = resolve_store(store, embedder=embedder, read_only=read_only)
        self.read_only = read_only or self.store.read_only  # writes nothing: no pages, events, ids or summaries
        if max_events is None and self.store.keeps_copies:
            max_events = DURABLE_EVENT_WINDOW  # the full log is in the store: keep a recent window in memory
        self.events = EventLog(sinks, maxlen=max_events)
        self.kernel = PagingKernel(
            self.settings,
            self.policy,
            label=self.policy_name,
            store=self.store,
            events=self.events,
            clock=self.clock,
            tokenizer=self.tokenizer,
            namespace=namespace,
            shared=self.shared,
            summarizer=None if self.read_only else self.summarizer,
            promote_if=self.promote_if,
        )
        self.page_table = self.kernel.page_table
        self.router = Router()
        self.planner = PageInPlanner(
            self.page_table,
            self.kernel.groups,
            self.store,
            self.namespaces,
            self.settings.weights,
            adopt=self.kernel.adopt,
            skip=self.kernel.skip,
            floor=self.kernel.floor,
        )
        self.kernel.watcher = self.planner
        self._last_lines: tuple[str, ...] = ()
        self._label_tokens: dict[str, int] = {}
        self.recorder: SessionRecorder | None = None
        self._shared_archive = self.store.persistent or bool(self.shared)
        self.events.continue_from(self.store.last_event_seq(namespace))  # numbers go on from the last run's
        try:
            self.kernel.load()
        except BaseException:
            if store is not self.store:  # we opened it from a path: do not leak it
                self.close()
            raise
        sink = None if self.read_only else self.store.event_sink(namespace)
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
            self.settings,
            eviction=self.eviction_name,
            label=self.policy_name,
            summaries=self.summarizer is not None,
            embedder=embedder_name(self.store.embedder),
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

    # -- reads ---------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.page_table)

    def __contains__(self, page_id: object) -> bool:
        return page_id in self.page_table

    def get(self, page_id: str) -> Page:
        """The page with this id; raises :class:`PageNotFound`. A swapped page's content is read from the store."""
        return self.kernel.with_content(self.page_table.get(page_id))

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
        return [
            replace(page, content=found[page.id], spilled=False, loader=None) if page.id in found else page
            for page in own
        ]

    def usage(self) -> dict[str, int]:
        """Tokens per tier, the limits, and what is free."""
        return self.kernel.usage()

    # -- moves on request ------------------------------------------------------------------------

    def _check_writable(self, what: str) -> None:
        """Raise :class:`StoreReadOnly` on a read-only manager (reads, page-in and assembly still work)."""
        if self.read_only:
            raise StoreReadOnly(f"cannot {what}: the store is open read-only ({self.store!r})")

    def touch(self, page_id: str) -> Page:
        """Record a use; a page in swap is paged back in (with its group)."""
        return self.kernel.touch(page_id)

    def pin(self, page_id: str) -> None:
        """Move a page (with its group) into core, where it is never evicted."""
        self._check_writable("pin a page")
        self.kernel.pin(page_id)

    def promote(self, page_id: str, reason: str = "promoted") -> None:
        """Move a page into core because a rule says it matters."""
        self._check_writable("promote a page")
        self.kernel.promote(page_id, reason)

    def unpin(self, page_id: str) -> None:
        """Move a pinned page (with its group) back to active; it becomes evictable."""
        self._check_writable("unpin a page")
        self.kernel.unpin(page_id)

    def page_out(self, page_id: str, reason: str = "paged out on request") -> None:
        """Move an active page (with its group) to swap now."""
        self._check_writable("page out a page")
        self.kernel.page_out(page_id, reason)

    def quarantine(self, page_id: str, reason: str = "quarantined") -> None:
        """Keep a page out of prompts and core until :meth:`approve`; a pinned one leaves core."""
        self._check_writable("quarantine a page")
        self.kernel.quarantine(page_id, reason)

    def approve(self, page_id: str, reason: str = "approved") -> None:
        """Lift a quarantine."""
        self._check_writable("approve a page")
        self.kernel.approve(page_id, reason)

    def forget(self, page_id: str, reason: str = "dropped on request") -> None:
        """Delete a page (with its group) from every tier and from the store."""
        self._check_writable("forget a page")
        self.kernel.forget(page_id, reason)

    # -- admitting pages -----------------------------------------------------------------------

    def allocate(self, page: Page, *, pin: bool = False) -> PageId:
        """Admit one page into active (or core, if ``pin``), evicting by policy until it fits."""
        self._check_writable("write a page")
        if not isinstance(page, Page):
            raise InvalidArgument(f"allocate() takes a ContextPage, got {type(page).__name__}")
        self.kernel.admit([page], pin, fresh_ids=False)
        self.kernel.sync_log()
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
        self._check_writable("write a message")
        _check_frame(role, text, group)
        importance = validate_importance(importance)
        namespace = self.kernel.check_namespace(self.namespace if namespace is None else namespace)
        kind = kind or _KIND_BY_ROLE.get(role, "MSG")
        pieces = split_text(text, self.tokenizer, self.page_size)
        before = self.kernel.ids.state()
        ids = [self.kernel.ids.next(kind) for _ in pieces]
        fields: dict[str, Any] = {"role": role, "importance": importance, "namespace": namespace}
        fields["quarantined"] = quarantined
        pages = [
            Page(
                page_id,
                content,
                tokens,
                frame_id=ids[0],  # a frame is named after its first page
                group_id=group,
                part=part,
                metadata=dict(metadata) if metadata else {},
                **fields,
            )
            for part, (page_id, (content, tokens)) in enumerate(zip(ids, pieces, strict=True))
        ]
        if len(pages) == 1:  # a one-page turn's line in a prompt, counted once here rather than when first shown
            pages[0].line_tokens = self.tokenizer.count(f" {pages[0].content}\n")
        whole: list[Page] = []
        if not pin and self._oversize(pages, group):  # archived whole; an excerpt stands in for it
            whole, pages = pages, [self._excerpt_page(pages, text, kind, group, fields)]
        batch = bool(whole) and not self.kernel.batching  # the excerpt and the whole are stored together
        if batch:
            self.kernel.begin_batch()
        try:
            try:
                self.kernel.admit(pages, pin, fresh_ids=True)
                if whole:
                    self.kernel.archive(whole, pages[0])
            finally:
                if batch:
                    self.kernel.end_batch()
        except NexintError:
            self.kernel.ids.restore(before)
            raise
        ids = [page.id for page in (*pages, *whole)]
        for page in pages:  # each page of a long turn is its own unit (a group is promoted whole at once)
            self.kernel.maybe_promote(page)
        if self.recorder is not None:
            tags = list(metadata.get("tags", [])) if metadata else []
            options = {"importance": importance, "group": group, "pin": pin, "quarantined": quarantined, "tags": tags}
            self.recorder.message(role, text, ids, **options)
        if not self.kernel.batching:
            self.kernel.sync_log()
        return ids

    def _oversize(self, pages: list[Page], group: str | None) -> bool:
        """Whether a frame (with its tool-call group) is larger than one message may be in the working set."""
        members = self.kernel.groups.get(pages[0].unit, []) if group is not None else []
        tokens = sum(page.tokens or 0 for page in (*pages, *members))
        return tokens > self.settings.largest_message

    def _excerpt_page(self, pages: list[Page], text: str, kind: str, group: str | None, fields: dict[str, Any]) -> Page:
        """The page standing in for a frame archived whole: its head and tail, and where the rest is."""
        members = self.kernel.groups.get(pages[0].unit, []) if group is not None else []
        room = self.settings.largest_message - sum(page.tokens or 0 for page in members)
        where = f"{pages[0].id}..{pages[-1].id} in the archive" if len(pages) > 1 else f"{pages[0].id} in the archive"
        content, tokens = excerpt(text, max(MIN_EXCERPT, room // 2), self.tokenizer, where=where)
        page_id = self.kernel.ids.next(kind)
        metadata = {**pages[0].metadata, "excerpt_of": [page.id for page in pages]}
        for page in pages:
            page.group_id = None  # each page of the whole is its own unit: recalled one by one
            page.metadata["excerpted"] = page_id
        return Page(page_id, content, tokens, frame_id=page_id, group_id=group, metadata=metadata, **fields)

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
        state, but the store gets one transaction and one embedding batch: the way to write a turn (a tool
        call and its results) or import a history. The batch is atomic: if a frame is rejected, or the store
        fails, nothing of it is stored (pages its writes evicted stay in swap, where nothing is lost).
        """
        self._check_writable("write messages")
        batch: list[tuple[str, str, str | None, dict[str, Any] | None]] = []
        for index, item in enumerate(frames):
            if isinstance(item, Frame):
                batch.append((item.role, item.text, item.group_id, item.metadata))
            elif isinstance(item, tuple) and len(item) == 2:
                batch.append((item[0], item[1], None, None))
            else:
                raise InvalidArgument(f"write_many() takes Frames or (role, text) pairs; item {index} is {item!r}")
        for index, (role, text, group, _) in enumerate(batch):  # every frame is checked before any is written
            try:
                _check_frame(role, text, group)
            except InvalidArgument as exc:
                exc.message = f"write_many() item {index}: {exc.message}; nothing was written"
                raise
        self.kernel.begin_batch()
        before = self.kernel.ids.state()
        recorder, self.recorder, recorded = self.recorder, None, []  # a batch is recorded once it is stored
        written: list[list[PageId]] = []
        try:
            for role, text, group, metadata in batch:
                ids = self.write(role, text, importance=importance, group=group, namespace=namespace, metadata=metadata)
                written.append(ids)
                recorded.append((role, text, ids, group, metadata))
        except BaseException:
            self.kernel.abort_batch("write_many failed: nothing of the batch is stored")
            self.kernel.ids.restore(before)
            raise
        finally:
            self.recorder = recorder
        self.kernel.end_batch()
        if recorder is not None:
            for role, text, ids, group, metadata in recorded:
                tags = list(metadata.get("tags", [])) if metadata else []
                options = {"importance": importance, "group": group, "pin": False, "quarantined": False, "tags": tags}
                recorder.message(role, text, ids, **options)
        return written

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
        free = self.limit_tokens - self.kernel.reserved() - self.kernel.floor.tokens  # the floor is never evicted
        room = min(self.page_in_budget if budget is None else budget, free)
        searchable = table.count(Tier.SWAP) + table.count(Tier.ACTIVE) or int(self._shared_archive)
        if self.router.route(query, searchable_pages=searchable, room=room) != "retrieve":
            return []
        try:
            now = self.clock.now()
            return self._apply(self.planner.plan(query, room, now), now)
        finally:
            self.kernel.sync_log(lazy=True)

    def _apply(self, plan: PageInPlan, now: float) -> list[PageId]:
        """Carry out a page-in plan: the resident units it used are accessed, its choices come in (after
        room is made, keeping what the query shows), and what it recalled is remembered."""
        for key, unit in plan.accessed:  # used by this query, so making room for its recalls keeps them
            self.kernel.floor.accessed(key)  # matches last, worst first: the best match ends most recently used
            for member in unit:
                member.use_count += 1
                member.last_used = now
        promoted: list[PageId] = []
        if plan.chosen:
            self.kernel.fetch_contents([member for unit, _ in plan.chosen.values() for member in unit])
            self.kernel.make_room(
                plan.used, now, keep=plan.ranks.keys() - plan.chosen.keys()
            )  # what this query shows stays
            for key, (unit, reason) in plan.chosen.items():
                for member in unit:
                    self.kernel.move(member, Tier.ACTIVE, Action.PAGE_IN, reason, now)
                    member.use_count += 1
                    member.last_used = now
                    promoted.append(member.id)
                self.kernel.floor.resident(key)
        self.planner.settle(plan)
        for unit in plan.hits.values():
            self.kernel.maybe_promote(unit[0])
        for unit, _ in plan.chosen.values():
            self.kernel.maybe_promote(unit[0])
        return promoted

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
        resident, archived = self.kernel.floor_pages()
        floor = [*resident, *archived]
        view = prompt_view(
            self.page_table,
            self.planner,
            query=query,
            budget=budget,
            system=system,
            sections=sections,
            previous=self._last_lines,
            promoted=promoted,
            floor=floor,
            floor_messages=self.settings.recent_floor,
            cite_ids=self.settings.cite_ids,
        )
        prompt = assemble_prompt(view, tokenizer=self.tokenizer, label_cache=self._label_tokens)
        self._last_lines = prompt.lines
        return prompt

    def route_counts(self) -> dict[str, int]:
        """How often each page-in route was taken (retrieve, or why it was skipped)."""
        return dict(self.router.counts)

    # -- lifecycle -----------------------------------------------------------------------------

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
    adapter: str = "the adapter",
) -> tuple[MemoryManager, bool]:
    """What an adapter works on: the given manager, or one built from the usual settings.

    Returns ``(manager, owned)``; an owned manager was built here and is the adapter's to close.
    Settings next to a ready manager are an error (they would be silently ignored), and so is a keyword
    no manager takes (the error names ``adapter``).
    """
    check_options(adapter, options or {})
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


def check_options(adapter: str, options: Mapping[str, Any]) -> None:
    """Reject keywords no manager takes, naming the adapter they were given to."""
    unknown = sorted(set(options) - _MANAGER_OPTIONS)
    if unknown:
        raise InvalidArgument(
            f"{adapter} got unexpected keyword argument(s) {', '.join(unknown)}; "
            f"it takes token_limit, store, policy, namespace and the MemoryManager options "
            f"({', '.join(sorted(_MANAGER_OPTIONS - {'store', 'policy', 'namespace'}))})"
        )


def _check_frame(role: object, text: object, group: object) -> None:
    """Raise :class:`InvalidArgument` for a message nexint cannot write."""
    if role not in ROLES:
        raise InvalidArgument(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if not isinstance(text, str):
        raise InvalidArgument(f"content must be a string, got {type(text).__name__}")
    if not text.strip() and role in ("user", "system"):  # an assistant's call, a tool's result may be empty
        raise InvalidArgument(f"an empty {role} message says nothing to remember")
    if group is not None and (not isinstance(group, str) or not group):
        raise InvalidArgument(f"group must be a non-empty string, got {group!r}")


def session_namespace(session_id: str | None, namespace: str | None, adapter: str) -> str | None:
    """The namespace of a session's memory: ``namespace`` if given, else one named after the session."""
    if session_id is not None and (not isinstance(session_id, str) or not session_id):
        raise InvalidArgument(f"{adapter}: session_id must be a non-empty string, got {session_id!r}")
    if session_id is not None and namespace is not None and session_id != namespace:
        raise InvalidArgument(f"{adapter}: give session_id or namespace, not two different ones")
    return namespace if namespace is not None else session_id


def _resolve_summarizer(summarizer: Summarizer | str | None) -> Summarizer | None:
    if summarizer is None or not isinstance(summarizer, str):
        return summarizer
    if summarizer.lower() == "extractive":
        return ExtractiveSummarizer()
    raise InvalidArgument(f"unknown summarizer {summarizer!r}; use 'extractive' or pass a Summarizer")


_MANAGER_OPTIONS = frozenset(inspect.signature(MemoryManager.__init__).parameters) - {"self", "limit_tokens"}
