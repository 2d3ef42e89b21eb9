"""Shared fixtures: deterministic clock, a tokenizer that counts its calls, no network, a PostgreSQL server.

Tests that need PostgreSQL are marked ``postgres``; without its driver (``psycopg``) or a server (``pgserver``,
or one named by ``NEXINT_TEST_POSTGRES``) they are deselected, and the summary says so. Nothing here imports
either package until a test asks for the server, so ``pytest tests/core`` runs with only the core installed.
"""

from __future__ import annotations

import importlib.util
import os
import socket
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings

from nexint_core import StepClock, get_tokenizer

if TYPE_CHECKING:
    from tests.postgres.server import Server

settings.register_profile(
    "default", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)
settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)
settings.load_profile("ci" if os.environ.get("CI") else "default")


class CountingTokenizer:
    """Wraps the real default tokenizer and counts every call that tokenizes text."""

    def __init__(self) -> None:
        self._inner = get_tokenizer()
        self.name = self._inner.name
        self.calls = 0
        self.chars = 0

    def count(self, text: str) -> int:
        self.calls += 1
        self.chars += len(text)
        return self._inner.count(text)

    def encode(self, text: str) -> list[int]:
        self.calls += 1
        self.chars += len(text)
        return self._inner.encode(text)

    def decode(self, tokens: Sequence[int]) -> str:
        return self._inner.decode(tokens)


@pytest.fixture
def counting_tokenizer() -> CountingTokenizer:
    return CountingTokenizer()


@pytest.fixture
def clock() -> StepClock:
    return StepClock("2026-01-01T10:00:00Z", step=1.0)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Any attempt to open a network connection fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return


# -- PostgreSQL --------------------------------------------------------------------------------------------------

POSTGRES_DIR = Path(__file__).parent / "postgres"  # every module there imports psycopg
_SERVER_ENV = "NEXINT_TEST_POSTGRES"  # tests.postgres.server.ENV, not imported here (it imports psycopg)
_deselected = pytest.StashKey[tuple[int, str]]()
_ignored = pytest.StashKey[list[Path]]()


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:  # a parent package that cannot be imported
        return False


def postgres_unavailable() -> str | None:
    """Why the PostgreSQL tests cannot run here, or None when they can."""
    missing = [name for name in ("psycopg", "psycopg_pool") if not _importable(name)]
    if not os.environ.get(_SERVER_ENV) and not _importable("pgserver"):
        missing.append(f"pgserver (and {_SERVER_ENV} is unset)")
    return f"not importable: {', '.join(missing)}" if missing else None


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Without the driver the modules of ``tests/postgres`` cannot even be imported: the folder is not collected
    (and the summary says so when the run asked for it)."""
    if collection_path != POSTGRES_DIR or postgres_unavailable() is None:
        return None
    if any(_overlaps(Path(arg.split("::", 1)[0]), collection_path, config) for arg in config.args):
        config.stash.setdefault(_ignored, []).append(collection_path)
    return True


def _overlaps(arg: Path, path: Path, config: pytest.Config) -> bool:
    """Whether the run asked for ``path``: an argument is ``path``, lies in it, or contains it."""
    arg = (config.invocation_params.dir / arg).resolve()
    return arg == path or path in arg.parents or arg in path.parents


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the ``postgres`` tests when PostgreSQL cannot run here (never skipped, never passed)."""
    postgres = [item for item in items if item.get_closest_marker("postgres") is not None]
    reason = postgres_unavailable() if postgres else None
    if reason is None:
        return
    config.hook.pytest_deselected(items=postgres)
    items[:] = [item for item in items if item.get_closest_marker("postgres") is None]
    config.stash[_deselected] = (len(postgres), reason)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    deselected = config.stash.get(_deselected, None)
    ignored = config.stash.get(_ignored, [])
    if deselected is None and not ignored:
        return
    reason = deselected[1] if deselected is not None else postgres_unavailable()
    terminalreporter.section("PostgreSQL tests not run", sep="=", yellow=True)
    if deselected is not None:
        count = deselected[0]
        terminalreporter.line(f"{count} test{'s' if count != 1 else ''} marked postgres deselected: {reason}")
    for path in ignored:
        terminalreporter.line(f"{path.relative_to(config.rootpath)} not collected: {reason}")
    terminalreporter.line(f"to run them: pip install 'nexint[postgres]' pgserver (or set {_SERVER_ENV})")


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One real PostgreSQL with pgvector for the whole run (see ``tests/postgres/server.py``), stopped at
    the end even if a test restarted it (pgserver's own cleanup stops only the process it started)."""
    from tests.postgres.server import start_server, stop_at_exit

    server = start_server(tmp_path_factory.mktemp("pg"))
    yield server
    stop_at_exit(server)


@pytest.fixture
def postgres_uri(postgres_server: Server) -> Iterator[str]:
    """A fresh database on the test server, dropped afterwards."""
    uri = postgres_server.create_database()
    yield uri
    postgres_server.drop_database(uri)
