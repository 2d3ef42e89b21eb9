"""Deterministic replay of a recorded session under a policy, and side-by-side comparison.

A replay builds a fresh in-memory manager (a stepping clock from the session header, the default
tokenizer and embedder), feeds it the session's records, and assembles a prompt for every query and
probe. The same session under the same policy gives byte-identical output and event log.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from nexint_core.assembly import LeftOut
from nexint_core.clock import StepClock
from nexint_core.config import PolicyConfig, resolve_policy
from nexint_core.errors import InvalidArgument
from nexint_core.events import Action, PagingEvent
from nexint_core.manager import MemoryManager
from nexint_core.session import Message, Probe, Session

__all__ = ["ReplayRun", "TurnResult", "compare_runs", "policy_for", "render_run", "replay"]

_TIERS = ("core", "summary", "active", "swap")


@dataclass(frozen=True, slots=True)
class TurnResult:
    """One query or probe of a replay: what paging did and what the prompt carried."""

    turn: int
    kind: str  # "query" or "probe"
    text: str
    promoted: tuple[str, ...]
    evicted: int  # pages evicted since the previous turn
    memory_tokens: int
    tokens: int
    stable_prefix_tokens: int
    page_ids: tuple[str, ...]
    expected: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    usage: tuple[tuple[str, int], ...] = ()  # tokens per tier after the prompt was assembled
    # The seq range [first, last] of the events logged since the previous turn (first > last: none).
    events: tuple[int, int] = (1, 0)
    left_out: tuple[LeftOut, ...] = ()  # pages the prompt could not hold, each with its section and reason

    @property
    def hit(self) -> bool | None:
        """For a probe: whether the prompt carried every expected id."""
        return None if self.kind != "probe" else not self.missing


@dataclass(frozen=True)
class ReplayRun:
    """A whole replay: per-turn results and the event log."""

    session: str
    policy: str
    turns: tuple[TurnResult, ...]
    events: tuple[PagingEvent, ...]

    def summary(self) -> dict[str, Any]:
        probes = [turn for turn in self.turns if turn.kind == "probe"]
        hits = sum(1 for turn in probes if turn.hit)
        tokens = sum(turn.tokens for turn in self.turns)
        return {
            "policy": self.policy,
            "probes": len(probes),
            "probe_hits": hits,
            "probe_hit_rate": round(hits / len(probes), 4) if probes else None,
            "evictions": sum(1 for event in self.events if event.action is Action.EVICT),
            "page_ins": sum(1 for event in self.events if event.action is Action.PAGE_IN),
            "mean_memory_tokens": round(sum(t.memory_tokens for t in self.turns) / len(self.turns), 1)
            if self.turns
            else 0.0,
            "prefix_stability": round(sum(t.stable_prefix_tokens for t in self.turns) / tokens, 4) if tokens else 0.0,
        }


class _EvictionCounter:
    """An event sink counting evictions (so a turn's count costs O(1), not a scan of the log)."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0

    def emit(self, event: PagingEvent) -> None:
        if event.action is Action.EVICT:
            self.count += 1


def policy_for(
    session: Session, policy: str | os.PathLike[str] | PolicyConfig | None, *, budget: int | None = None
) -> PolicyConfig:
    """The session's own policy, another eviction algorithm under its budgets, or a policy file.

    ``budget`` replaces the memory budget and scales the budgets set in tokens (core, page-in, summary,
    prompt sections) with it, so the policy keeps its proportions at another size.
    """
    config = _resolved(session, policy)
    if budget is None:
        return config
    if budget <= 0:
        raise InvalidArgument(f"budget must be a positive number of tokens, got {budget}")
    scale = budget / config.memory_budget_tokens

    def scaled(tokens: int | None) -> int | None:
        return None if tokens is None else round(tokens * scale)

    data = config.model_dump()
    data["summary"]["budget_tokens"] = scaled(config.summary.budget_tokens)
    data["sections"] = {name: scaled(part) if isinstance(part, int) else part for name, part in config.sections.items()}
    data.update(
        memory_budget_tokens=budget,
        core_budget_tokens=scaled(config.core_budget_tokens),
        page_in_budget_tokens=scaled(config.page_in_budget_tokens),
    )
    return PolicyConfig.model_validate(data)  # validated: a budget too small for the policy fails here, clearly


def _resolved(session: Session, policy: str | os.PathLike[str] | PolicyConfig | None) -> PolicyConfig:
    recorded = session.header.policy
    if policy is None:
        return recorded
    if isinstance(policy, PolicyConfig):
        return policy
    resolved = resolve_policy(os.fspath(policy))
    if resolved.name == str(policy):  # an eviction name: keep the recorded budgets and weights
        return recorded.model_copy(update={"name": resolved.eviction, "eviction": resolved.eviction})
    return resolved


def replay(
    session: Session,
    policy: str | os.PathLike[str] | PolicyConfig | None = None,
    *,
    budget: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ReplayRun:
    """Re-run ``session`` under ``policy`` (default: the recorded one), at ``budget`` tokens if given."""
    config = policy_for(session, policy, budget=budget)
    header = session.header
    evictions = _EvictionCounter()
    clock = StepClock(header.clock_start, header.clock_step)
    mmu = MemoryManager.from_policy(config, clock=clock, sinks=[evictions])
    turns: list[TurnResult] = []
    evicted_before = seq_before = 0
    total = len(session.records)
    for index, record in enumerate(session.records, start=1):
        if isinstance(record, Message):
            metadata = {"tags": list(record.tags)} if record.tags else None
            mmu.write(
                record.role,
                record.text,
                importance=record.importance,
                group=record.group,
                pin=record.pin,
                quarantined=record.quarantined,
                metadata=metadata,
            )
        else:
            text = record.question if isinstance(record, Probe) else record.text
            prompt = mmu.assemble(text)
            evicted = evictions.count
            usage = mmu.usage()
            last_seq = mmu.events.last_seq
            present = set(prompt.page_ids)
            expected = tuple(record.expect) if isinstance(record, Probe) else ()
            turns.append(
                TurnResult(
                    turn=len(turns) + 1,
                    kind=record.type,
                    text=text,
                    promoted=tuple(prompt.promoted),
                    evicted=evicted - evicted_before,
                    memory_tokens=prompt.memory_tokens,
                    tokens=prompt.tokens,
                    stable_prefix_tokens=prompt.stable_prefix_tokens,
                    page_ids=tuple(prompt.page_ids),
                    expected=expected,
                    missing=tuple(page_id for page_id in expected if page_id not in present),
                    usage=tuple((tier, usage[tier]) for tier in _TIERS),
                    events=(seq_before + 1, last_seq),
                    left_out=tuple(prompt.left_out),
                )
            )
            evicted_before, seq_before = evicted, last_seq
        if progress is not None:
            progress(index, total)
    events = tuple(mmu.events)
    mmu.close()
    label = config.label if config.name == config.eviction else f"{config.label} ({config.eviction})"
    return ReplayRun(session.name, label, tuple(turns), events)


def render_run(run: ReplayRun) -> list[str]:
    """Per-turn paging lines and the probe summary."""
    lines = [f"session {run.session} under policy {run.policy}"]
    for turn in run.turns:
        promoted = f"promoted {len(turn.promoted)}"
        if turn.promoted:
            promoted += f" ({' '.join(turn.promoted)})"
        line = (
            f"turn {turn.turn:3d} {turn.kind:<5} {promoted}  evicted {turn.evicted}  "
            f"memory_tokens {turn.memory_tokens}  stable_prefix {turn.stable_prefix_tokens}"
        )
        if turn.kind == "probe":
            line += "  HIT" if turn.hit else f"  MISS (missing {' '.join(turn.missing)})"
        lines.append(line)
    summary = run.summary()
    rate = f"{summary['probe_hit_rate']:.1%}" if summary["probe_hit_rate"] is not None else "n/a"
    lines.append(
        f"probes {summary['probe_hits']}/{summary['probes']} hit ({rate})  evictions {summary['evictions']}  "
        f"page-ins {summary['page_ins']}  mean memory_tokens {summary['mean_memory_tokens']}  "
        f"prefix stability {summary['prefix_stability']:.1%}"
    )
    return lines


def compare_runs(runs: Sequence[ReplayRun]) -> list[str]:
    """The runs side by side, then where each prompt sequence first diverges from the first run's."""
    header = f"{'policy':<24} {'probe hits':>14} {'evictions':>10} {'page-ins':>9} {'memory tokens':>14} {'prefix':>8}"
    lines = [f"session {runs[0].session}" if runs else "no runs", header]
    for run in runs:
        s = run.summary()
        rate = f"{s['probe_hit_rate']:.0%}" if s["probe_hit_rate"] is not None else "n/a"
        hits = f"{s['probe_hits']}/{s['probes']} ({rate})"
        lines.append(
            f"{run.policy:<24} {hits:>14} {s['evictions']:>10} {s['page_ins']:>9} "
            f"{s['mean_memory_tokens']:>14} {s['prefix_stability']:>8.1%}"
        )
    base = runs[0] if runs else None
    for run in runs[1:]:
        assert base is not None
        diverged = next(
            (
                (mine, theirs)
                for mine, theirs in zip(base.turns, run.turns, strict=True)
                if mine.page_ids != theirs.page_ids
            ),
            None,
        )
        if diverged is None:
            lines.append(f"{run.policy} never diverges from {base.policy}")
            continue
        mine, theirs = diverged
        only_base = [page_id for page_id in mine.page_ids if page_id not in theirs.page_ids]
        only_run = [page_id for page_id in theirs.page_ids if page_id not in mine.page_ids]
        sides = [
            f"only {policy.split(' ')[0]} has {' '.join(only)}"
            for policy, only in ((base.policy, only_base), (run.policy, only_run))
            if only
        ]
        lines.append(
            f"{run.policy} first diverges from {base.policy} at turn {mine.turn} ({mine.kind} {mine.text!r}): "
            + (", ".join(sides) or "the same pages in another order")
        )
    return lines
