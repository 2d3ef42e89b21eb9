"""nexint_core: virtual memory for LLM context windows (framework-agnostic kernel)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nexint_core._version import __version__
from nexint_core.assembly import AssembledPrompt, LeftOut, PromptItem, Section
from nexint_core.clock import Clock, StepClock, SystemClock
from nexint_core.conditions import Condition, parse_condition
from nexint_core.config import PolicyConfig, load_policy
from nexint_core.embedders import Embedder, HashingEmbedder, SentenceTransformerEmbedder
from nexint_core.errors import (
    CoreBudgetExceeded,
    DuplicatePage,
    EmbedderMismatch,
    InvalidArgument,
    NamespaceViolation,
    NexintError,
    PageNotFound,
    PageTooLarge,
    QuarantineViolation,
    StoreCorrupted,
    StoreError,
    StoreReadOnly,
    StoreUnavailable,
    TokenizerUnavailable,
    UnknownPolicy,
)
from nexint_core.events import Action, EventLog, EventSink, JsonlSink, PagingEvent, rebuild_from_events
from nexint_core.ids import PageId
from nexint_core.manager import MemoryManager
from nexint_core.page_table import PageTable, PageTableEntry
from nexint_core.pages import ContextPage, Frame, Page, Tier
from nexint_core.policies import (
    POLICY_NAMES,
    ARCPolicy,
    EvictionPolicy,
    FIFOPolicy,
    ImportancePolicy,
    LFUPolicy,
    LRUPolicy,
    make_policy,
)
from nexint_core.replay import ReplayRun, replay
from nexint_core.retrieval import Candidate, ScoringWeights
from nexint_core.session import Session, SessionRecorder, load_session
from nexint_core.stores import InMemorySwapStore, SearchHit, SqliteSwapStore, StoreWarning, SwapStore
from nexint_core.summarizer import ExtractiveSummarizer, Summarizer
from nexint_core.tokens import TiktokenTokenizer, Tokenizer, get_tokenizer

if TYPE_CHECKING:
    from nexint_core.stores.postgres import PostgresSwapStore

__all__ = [
    "POLICY_NAMES",
    "ARCPolicy",
    "Action",
    "AssembledPrompt",
    "Candidate",
    "Clock",
    "Condition",
    "ContextPage",
    "CoreBudgetExceeded",
    "DuplicatePage",
    "Embedder",
    "EmbedderMismatch",
    "EventLog",
    "EventSink",
    "EvictionPolicy",
    "ExtractiveSummarizer",
    "FIFOPolicy",
    "Frame",
    "HashingEmbedder",
    "ImportancePolicy",
    "InMemorySwapStore",
    "InvalidArgument",
    "JsonlSink",
    "LFUPolicy",
    "LRUPolicy",
    "LeftOut",
    "MemoryManager",
    "NamespaceViolation",
    "NexintError",
    "Page",
    "PageId",
    "PageNotFound",
    "PageTable",
    "PageTableEntry",
    "PageTooLarge",
    "PagingEvent",
    "PolicyConfig",
    "PostgresSwapStore",
    "PromptItem",
    "QuarantineViolation",
    "ReplayRun",
    "ScoringWeights",
    "SearchHit",
    "Section",
    "SentenceTransformerEmbedder",
    "Session",
    "SessionRecorder",
    "SqliteSwapStore",
    "StepClock",
    "StoreCorrupted",
    "StoreError",
    "StoreReadOnly",
    "StoreUnavailable",
    "StoreWarning",
    "Summarizer",
    "SwapStore",
    "SystemClock",
    "Tier",
    "TiktokenTokenizer",
    "Tokenizer",
    "TokenizerUnavailable",
    "UnknownPolicy",
    "__version__",
    "get_tokenizer",
    "load_policy",
    "load_session",
    "make_policy",
    "parse_condition",
    "rebuild_from_events",
    "replay",
]


def __getattr__(name: str) -> Any:
    if name == "PostgresSwapStore":  # imported on use: the core needs no PostgreSQL driver
        from nexint_core.stores.postgres import PostgresSwapStore

        return PostgresSwapStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
