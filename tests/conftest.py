"""Shared fixtures: deterministic clock, a tokenizer that counts its calls, no network."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator, Sequence

import pytest
from hypothesis import HealthCheck, settings

from nexint_core import StepClock, get_tokenizer
from tests.postgres.server import Server, start_server, stop_at_exit

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


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One real PostgreSQL with pgvector for the whole run (see ``tests/postgres/server.py``), stopped at
    the end even if a test restarted it (pgserver's own cleanup stops only the process it started)."""
    server = start_server(tmp_path_factory.mktemp("pg"))
    yield server
    stop_at_exit(server)


@pytest.fixture
def postgres_uri(postgres_server: Server) -> Iterator[str]:
    """A fresh database on the test server, dropped afterwards."""
    uri = postgres_server.create_database()
    yield uri
    postgres_server.drop_database(uri)
