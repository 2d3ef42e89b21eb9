"""nexint_core: virtual memory for LLM context windows (framework-agnostic kernel)."""

from __future__ import annotations

from nexint_core.clock import Clock, StepClock, SystemClock
from nexint_core.errors import (
    CoreBudgetExceeded,
    DuplicatePage,
    InvalidArgument,
    NexintError,
    PageNotFound,
    PageTooLarge,
    QuarantineViolation,
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
from nexint_core.swap import InMemorySwapStore, SwapStore
from nexint_core.tokens import TiktokenTokenizer, Tokenizer, get_tokenizer

__version__ = "0.1.0"

__all__ = [
    "POLICY_NAMES",
    "ARCPolicy",
    "Action",
    "Clock",
    "ContextPage",
    "CoreBudgetExceeded",
    "DuplicatePage",
    "EventLog",
    "EventSink",
    "EvictionPolicy",
    "FIFOPolicy",
    "Frame",
    "ImportancePolicy",
    "InMemorySwapStore",
    "InvalidArgument",
    "JsonlSink",
    "LFUPolicy",
    "LRUPolicy",
    "MemoryManager",
    "NexintError",
    "Page",
    "PageId",
    "PageNotFound",
    "PageTable",
    "PageTableEntry",
    "PageTooLarge",
    "PagingEvent",
    "QuarantineViolation",
    "StepClock",
    "SwapStore",
    "SystemClock",
    "Tier",
    "TiktokenTokenizer",
    "Tokenizer",
    "TokenizerUnavailable",
    "UnknownPolicy",
    "__version__",
    "get_tokenizer",
    "make_policy",
    "rebuild_from_events",
]
