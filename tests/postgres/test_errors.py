"""PostgreSQL errors are told apart by SQLSTATE, never by message: only real damage is StoreCorrupted."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest

from nexint_core import StoreCorrupted, StoreError, StoreUnavailable
from nexint_core.errors import NamespaceViolation, NexintError
from nexint_core.stores import PostgresSwapStore
from nexint_core.stores.postgres import _translate
from tests.postgres.server import Server

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (psycopg.errors.DataCorrupted("x"), StoreCorrupted),  # XX001
        (psycopg.errors.IndexCorrupted("x"), StoreCorrupted),  # XX002
        (psycopg.errors.InsufficientPrivilege("x"), NamespaceViolation),  # 42501
        (psycopg.errors.InvalidCatalogName("x"), StoreError),  # 3D000
        (psycopg.errors.InvalidPassword("x"), StoreError),  # 28P01
        (psycopg.errors.InvalidAuthorizationSpecification("x"), StoreError),  # 28000
        (psycopg.errors.SyntaxError("x"), StoreError),  # a bug: not damage, not retried
        (psycopg.errors.AdminShutdown("x"), None),  # 57P01: retried, then StoreUnavailable
        (psycopg.errors.CannotConnectNow("x"), None),  # 57P03
        (psycopg.errors.ConnectionFailure("x"), None),  # 08006
        (psycopg.OperationalError("server closed the connection unexpectedly"), None),  # lost: no SQLSTATE
        (psycopg.errors.UniqueViolation("x"), None),  # two writers raced on one id: retried
    ],
    ids=lambda value: value.__name__ if isinstance(value, type) else type(value).__name__,
)
def test_postgres_errors_map_by_sqlstate(error: psycopg.Error, expected: type[NexintError] | None) -> None:
    translated = _translate(error, "postgresql://user:secret@host/db")
    if expected is None:
        assert translated is None
    else:
        assert type(translated) is expected
        assert "secret" not in str(translated)


@pytest.mark.postgres
def test_postgres_missing_database_is_a_store_error_at_once(postgres_server: Server) -> None:
    uri = postgres_server.database_uri("nexint_no_such_database")
    started = time.monotonic()
    with pytest.raises(StoreError, match="nexint_no_such_database") as caught:
        PostgresSwapStore(uri, retry_for=10.0)
    assert type(caught.value) is StoreError  # refused for good: not retried as if the server were down
    assert time.monotonic() - started < 5.0


def test_postgres_server_that_does_not_answer_is_unavailable(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match="unavailable"):
        PostgresSwapStore(f"postgresql://postgres@/postgres?host={tmp_path}", retry_for=0.5)
    assert time.monotonic() - started >= 0.5
