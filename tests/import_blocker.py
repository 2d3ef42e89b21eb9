"""As if only the core were installed: after :func:`install`, importing any of :data:`BLOCKED` (or a submodule)
raises ``ModuleNotFoundError``. As a pytest plugin (``pytest -p tests.import_blocker``) it installs itself
before any conftest is imported; importing this module alone changes nothing."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

import pytest

__all__ = ["BLOCKED", "CoreOnlyFinder", "install", "pytest_load_initial_conftests"]

BLOCKED = frozenset(
    {
        "langchain",
        "langchain_core",
        "langgraph",
        "llama_index",
        "nexint_bench",
        "matplotlib",
        "psycopg",
        "psycopg_pool",
        "pgserver",
        "langchain_nexint",
        "llama_index_nexint",
    }
)


class CoreOnlyFinder:
    """A ``sys.meta_path`` finder, first in line, that refuses the blocked packages."""

    def find_spec(
        self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"{name} is blocked: only the core is installed", name=name)
        return None  # the other finders decide


def install() -> None:
    """Put the blocker first in ``sys.meta_path``; fails if a blocked package is already imported."""
    loaded = sorted(name for name in sys.modules if name.partition(".")[0] in BLOCKED)
    if loaded:  # too late to pretend they are missing
        raise RuntimeError(f"already imported before the blocker: {loaded}")
    sys.meta_path.insert(0, CoreOnlyFinder())


def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    install()
