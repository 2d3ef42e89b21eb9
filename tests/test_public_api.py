"""The public names are pinned: changing them is a deliberate act."""

from __future__ import annotations

import importlib
import pkgutil
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
    "AssembledPrompt", "LeftOut", "PromptItem", "Section", "Condition", "parse_condition", "PolicyConfig",
    "load_policy", "ReplayRun", "replay", "Session", "SessionRecorder", "load_session",
    "PostgresSwapStore", "StoreUnavailable", "StoreReadOnly",
}  # fmt: skip

MODULES = sorted(
    info.name.removeprefix("nexint_core.")
    for info in pkgutil.walk_packages(nexint_core.__path__, "nexint_core.")
    if not info.name.rsplit(".", 1)[-1].startswith("_")
)


def test_public_api_all_is_pinned() -> None:
    assert set(nexint_core.__all__) == EXPECTED
    for name in nexint_core.__all__:
        assert hasattr(nexint_core, name)


def test_public_api_every_module_declares_all() -> None:
    assert {"assembly", "cli", "config", "manager", "replay", "session"} <= set(MODULES)
    for name in MODULES:
        module = importlib.import_module(f"nexint_core.{name}")
        assert isinstance(module.__all__, list), name
        for exported in module.__all__:
            assert hasattr(module, exported), f"{name}.{exported}"


def test_public_api_errors_have_distinct_stable_codes() -> None:
    errors = [getattr(nexint_core, name) for name in nexint_core.__all__ if name[0].isupper()]
    codes = [cls.code for cls in errors if isinstance(cls, type) and issubclass(cls, nexint_core.NexintError)]
    assert len(codes) == len(set(codes)) == 15


def test_public_api_core_never_imports_a_framework() -> None:
    code = (
        "import sys, nexint_core, nexint_core.demo, nexint_core.cli, nexint_core.importers\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('langchain', 'langchain_core', 'llama_index')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_public_api_core_imports_no_postgresql_driver_until_the_store_is_used() -> None:
    code = (
        "import sys, nexint_core, nexint_core.stores, nexint_core.cli, nexint_core.importers\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in ('psycopg', 'psycopg_pool')]\n"
        "assert nexint_core.PostgresSwapStore is nexint_core.stores.PostgresSwapStore\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_public_api_ships_py_typed() -> None:
    from pathlib import Path

    assert (Path(nexint_core.__file__).parent / "py.typed").is_file()
