"""Policy files: YAML or JSON, validated with pydantic; errors name the field and the bad value.

The spec's example loads as is::

    policy:
      core_budget_tokens: 600
      eviction: LRU
      promote_if: importance > 0.7

Every other setting has a default. A policy carries a name and a version, written into every event.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from nexint_core.assembly import DEFAULT_SECTIONS, check_sections
from nexint_core.conditions import Condition, parse_condition
from nexint_core.embedders import EMBEDDER_NAMES
from nexint_core.errors import InvalidArgument, NexintError, UnknownPolicy
from nexint_core.policies import make_policy
from nexint_core.retrieval import ScoringWeights
from nexint_core.settings import (
    DEFAULT_LIMIT,
    DEFAULT_PAGE_SIZE,
    DEFAULT_RECENT_FLOOR,
    DEFAULT_SUMMARY_SPAN,
    MemorySettings,
    check_budgets,
    default_core_budget,
    default_summary_budget,
)
from nexint_core.splitting import MIN_PAGE_SIZE

__all__ = ["PolicyConfig", "ScoringConfig", "SummaryConfig", "load_policy", "parse_policy", "resolve_policy"]

_STRICT = ConfigDict(extra="forbid", frozen=True, strict=True)  # strict: true is not a number here
_WEIGHTS = ScoringWeights()  # the scoring defaults


class ScoringConfig(BaseModel):
    """Page-in scoring weights (see :class:`~nexint_core.retrieval.ScoringWeights`)."""

    model_config = _STRICT

    relevance: float = Field(default=_WEIGHTS.relevance, ge=0)
    importance: float = Field(default=_WEIGHTS.importance, ge=0)
    recency: float = Field(default=_WEIGHTS.recency, ge=0)
    frequency: float = Field(default=_WEIGHTS.frequency, ge=0)
    recency_half_life_s: float = Field(default=_WEIGHTS.recency_half_life, gt=0)
    candidates: int | None = Field(default=_WEIGHTS.candidates, ge=1)  # None: scaled with the room
    min_similarity: float | None = Field(default=_WEIGHTS.min_similarity, ge=-1, le=1)  # None: the embedder's
    vector: float | None = Field(default=_WEIGHTS.vector, ge=0)  # None: the embedder's

    @classmethod
    def from_weights(cls, weights: ScoringWeights) -> ScoringConfig:
        """The settings of a :class:`ScoringWeights` (the inverse of :meth:`weights`)."""
        return cls(
            relevance=weights.relevance,
            importance=weights.importance,
            recency=weights.recency,
            frequency=weights.frequency,
            recency_half_life_s=weights.recency_half_life,
            candidates=weights.candidates,
            min_similarity=weights.min_similarity,
            vector=weights.vector,
        )

    def weights(self) -> ScoringWeights:
        return ScoringWeights(
            relevance=self.relevance,
            importance=self.importance,
            recency=self.recency,
            frequency=self.frequency,
            recency_half_life=self.recency_half_life_s,
            candidates=self.candidates,
            min_similarity=self.min_similarity,
            vector=self.vector,
        )


class SummaryConfig(BaseModel):
    """The summary tier: off by default; on, evicted spans are summarized extractively."""

    model_config = _STRICT

    enabled: bool = False
    budget_tokens: int | None = Field(default=None, ge=0)
    span: int = Field(default=DEFAULT_SUMMARY_SPAN, ge=1)


class PolicyConfig(BaseModel):
    """One memory policy: budgets, eviction, promotion, prompt sections, scoring and summaries."""

    model_config = _STRICT

    name: str = Field(default="default", min_length=1)
    version: str = "1"
    eviction: str = "LRU"
    memory_budget_tokens: int = Field(default=DEFAULT_LIMIT, gt=0)
    core_budget_tokens: int | None = Field(default=None, ge=0)
    page_size_tokens: int = Field(default=DEFAULT_PAGE_SIZE, ge=MIN_PAGE_SIZE)
    page_in_budget_tokens: int | None = Field(default=None, ge=0)
    promote_if: str | None = None
    recent_floor_messages: int = Field(default=DEFAULT_RECENT_FLOOR, ge=0)
    cite_ids: bool = False
    embedder: str | None = None  # wordllama, hashing or minilm (None: the store's, or the default for a new one)
    sections: dict[str, int | float] = Field(default_factory=lambda: dict(DEFAULT_SECTIONS))
    scoring: ScoringConfig = Field(default_factory=lambda: ScoringConfig())
    summary: SummaryConfig = Field(default_factory=lambda: SummaryConfig())

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: object) -> object:
        return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value

    @field_validator("eviction")
    @classmethod
    def _known_eviction(cls, value: str) -> str:
        try:
            make_policy(value)
        except UnknownPolicy as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("embedder")
    @classmethod
    def _known_embedder(cls, value: str | None) -> str | None:
        if value is not None and value not in EMBEDDER_NAMES:
            raise ValueError(f"unknown embedder {value!r}; use one of {', '.join(EMBEDDER_NAMES)}")
        return value

    @field_validator("promote_if")
    @classmethod
    def _valid_condition(cls, value: str | None) -> str | None:
        if value is not None:
            parse_condition(value, name="promote_if")  # raises with the position of the problem
        return value

    @field_validator("sections")
    @classmethod
    def _valid_sections(cls, value: dict[str, int | float]) -> dict[str, int | float]:
        return {**DEFAULT_SECTIONS, **check_sections(value)}

    @model_validator(mode="after")
    def _budgets_fit(self) -> PolicyConfig:
        limit, core, summary = self.memory_budget_tokens, self.core_budget_tokens, self.summary
        summary_tokens = summary.budget_tokens if summary.enabled else None
        check_budgets(
            limit,
            default_core_budget(limit) if core is None else core,
            default_summary_budget(limit, summary.enabled) if summary_tokens is None else summary_tokens,
            names=("memory_budget_tokens", "core_budget_tokens", "summary.budget_tokens"),
        )
        return self

    @property
    def label(self) -> str:
        """``name@version``, as written into events."""
        return f"{self.name}@{self.version}"

    def condition(self) -> Condition | None:
        """The parsed ``promote_if``, if any."""
        return parse_condition(self.promote_if, name="promote_if") if self.promote_if is not None else None

    def settings(self) -> MemorySettings:
        """The resolved settings this policy gives a manager (defaults filled in)."""
        return MemorySettings.resolve(
            self.memory_budget_tokens,
            core_budget=self.core_budget_tokens,
            page_size=self.page_size_tokens,
            page_in_budget=self.page_in_budget_tokens,
            summaries=self.summary.enabled,
            summary_budget=self.summary.budget_tokens if self.summary.enabled else None,
            summary_span=self.summary.span,
            sections=self.sections,
            weights=self.scoring.weights(),
            promote_if=self.promote_if,
            recent_floor=self.recent_floor_messages,
            cite_ids=self.cite_ids,
        )

    @classmethod
    def from_settings(
        cls,
        settings: MemorySettings,
        *,
        eviction: str,
        label: str,
        summaries: bool,
        embedder: str | None = None,
    ) -> PolicyConfig:
        """The policy that gives ``settings`` (what a session records of a manager)."""
        name, _, version = label.partition("@")
        return cls(
            name=name,
            version=version or "1",
            eviction=eviction,
            memory_budget_tokens=settings.limit_tokens,
            core_budget_tokens=settings.core_budget,
            page_size_tokens=settings.page_size,
            page_in_budget_tokens=settings.page_in_budget,
            promote_if=settings.promote_if,
            recent_floor_messages=settings.recent_floor,
            cite_ids=settings.cite_ids,
            embedder=embedder,
            sections=dict(settings.sections),
            scoring=ScoringConfig.from_weights(settings.weights),
            summary=SummaryConfig(
                enabled=summaries,
                budget_tokens=settings.summary_budget if summaries else None,
                span=settings.summary_span,
            ),
        )

    def manager_options(self) -> dict[str, Any]:
        """Keyword arguments for :class:`~nexint_core.manager.MemoryManager` (unset budgets stay None, so an
        option that overrides the memory budget also moves the defaults derived from it)."""
        return {
            "limit_tokens": self.memory_budget_tokens,
            "policy": self.eviction,
            "core_budget": self.core_budget_tokens,
            "page_size": self.page_size_tokens,
            "page_in_budget": self.page_in_budget_tokens,
            "weights": self.scoring.weights(),
            "summarizer": "extractive" if self.summary.enabled else None,
            "summary_budget": self.summary.budget_tokens if self.summary.enabled else None,
            "summary_span": self.summary.span,
            "sections": self.sections,
            "promote_if": self.promote_if,
            "recent_floor": self.recent_floor_messages,
            "cite_ids": self.cite_ids,
            "policy_label": self.label,
            **({"embedder": self.embedder} if self.embedder is not None else {}),
        }


def parse_policy(data: object, *, source: str = "policy") -> PolicyConfig:
    """Validate a decoded policy document (``{"policy": {...}}`` or the inner mapping)."""
    if isinstance(data, dict) and "policy" in data:
        extra = sorted(set(data) - {"policy"})
        if extra:
            raise InvalidArgument(f"{source}: unknown top-level field(s) {extra}; settings go under 'policy:'")
        data = data["policy"]
        prefix = "policy."
        if data is None:
            raise InvalidArgument(f"{source}: the 'policy' key is empty")
    else:
        prefix = ""
    if not isinstance(data, dict):
        raise InvalidArgument(f"{source}: expected a mapping with a 'policy' key, got {type(data).__name__}")
    try:
        return PolicyConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = prefix + ".".join(str(part) for part in error["loc"]) if error["loc"] else prefix.rstrip(".")
            message = str(error["msg"]).removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown field"
            problems.append(f"{field or '(policy)'}: {message} (got {error.get('input')!r})")
        raise InvalidArgument(f"{source}: invalid policy: " + "; ".join(problems)) from None
    except NexintError as exc:  # promote_if raised its own typed error
        raise InvalidArgument(f"{source}: invalid policy: {prefix}promote_if: {exc}") from None


def load_policy(path: str | Path) -> PolicyConfig:
    """Read a policy file (``.yaml``/``.yml`` or ``.json``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidArgument(f"cannot read policy file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InvalidArgument(f"policy file {path} is not UTF-8 text") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidArgument(f"policy file {path} is not valid JSON: {exc.msg} at line {exc.lineno}") from None
    else:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise InvalidArgument(f"policy file {path} is not valid YAML{where}") from None
    return parse_policy(data, source=f"policy file {path}")


def resolve_policy(spec: str | Path | PolicyConfig) -> PolicyConfig:
    """A policy from a config, a file path (``.yaml``, ``.yml``, ``.json``) or an eviction name."""
    if isinstance(spec, PolicyConfig):
        return spec
    text = str(spec)
    if Path(text).suffix.lower() in (".yaml", ".yml", ".json"):
        return load_policy(text)
    make_policy(text)  # UnknownPolicy names the valid ones
    return PolicyConfig(name=text, eviction=text)
