"""The public names are pinned: changing them is a deliberate act."""

from __future__ import annotations

import importlib
import subprocess
import sys

import nexint_core

EXPECTED = {
    "ARCPolicy", "Action", "Clock", "ContextPage", "CoreBudgetExceeded", "DuplicatePage", "EventLog",
    "EventSink", "EvictionPolicy", "FIFOPolicy", "Frame", "ImportancePolicy", "InMemorySwapStore",
    "InvalidArgument", "JsonlSink", "LFUPolicy", "LRUPolicy", "MemoryManager", "NexintError",
    "POLICY_NAMES", "Page", "PageId", "PageNotFound", "PageTable", "PageTableEntry", "PageTooLarge",
    "PagingEvent", "QuarantineViolation", "StepClock", "SwapStore", "SystemClock", "Tier",
    "TiktokenTokenizer", "Tokenizer", "TokenizerUnavailable", "UnknownPolicy", "__version__",
    "get_tokenizer", "make_policy", "rebuild_from_events",
    "Candidate", "Embedder", "EmbedderMismatch", "ExtractiveSummarizer", "HashingEmbedder", "NamespaceViolation",
    "ScoringWeights", "SearchHit", "SentenceTransformerEmbedder", "SqliteSwapStore", "StoreCorrupted", "StoreError",
    "StoreWarning", "Summarizer",
}  # fmt: skip

MODULES = [
    "clock", "demo", "embedders", "errors", "events", "ids", "manager", "page_table", "pages", "policies",
    "policies.arc", "policies.base", "policies.lfu", "policies.lru", "policies.scored", "splitting",
    "sqlite_store", "summarizer", "swap", "swapper", "tokens", "vector_index",
]  # fmt: skip


def test_public_api_all_is_pinned() -> None:
    assert set(nexint_core.__all__) == EXPECTED
    for name in nexint_core.__all__:
        assert hasattr(nexint_core, name)


def test_public_api_every_module_declares_all() -> None:
    for name in MODULES:
        module = importlib.import_module(f"nexint_core.{name}")
        assert isinstance(module.__all__, list), name
        for exported in module.__all__:
            assert hasattr(module, exported), f"{name}.{exported}"


def test_public_api_errors_have_distinct_stable_codes() -> None:
    errors = [getattr(nexint_core, name) for name in nexint_core.__all__ if name[0].isupper()]
    codes = [cls.code for cls in errors if isinstance(cls, type) and issubclass(cls, nexint_core.NexintError)]
    assert len(codes) == len(set(codes)) == 13


def test_public_api_core_never_imports_a_framework() -> None:
    code = (
        "import sys, nexint_core, nexint_core.demo\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('langchain', 'langchain_core', 'llama_index')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_public_api_ships_py_typed() -> None:
    from pathlib import Path

    assert (Path(nexint_core.__file__).parent / "py.typed").is_file()
