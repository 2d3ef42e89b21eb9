"""One SQLite connection shared by a store's threads, whose errors surface as typed nexint errors.

Errors are told apart by class and SQLite result code, never by message: a damaged file
(``SQLITE_CORRUPT``, ``SQLITE_NOTADB``) is :class:`StoreCorrupted`; a write SQLite refuses because the file or
its directory cannot be written (``SQLITE_READONLY``) is :class:`StoreReadOnly`; anything else, a busy
database or a bug's ``IntegrityError`` included, is a plain :class:`StoreError`.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nexint_core.errors import StoreCorrupted, StoreError, StoreReadOnly

__all__ = ["Database", "Rows", "is_busy", "translate"]

# SQLite's primary result codes (an extended code keeps its primary code in the low byte).
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_READONLY = 8
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26
_DAMAGED = (_SQLITE_CORRUPT, _SQLITE_NOTADB)
_VALUES_PER_STATEMENT = 500  # rows of one multi-row statement: far below SQLite's 32,766 parameters


def _result_code(exc: BaseException) -> int | None:
    """The primary result code SQLite reported, or None (Python below 3.11 does not keep it, and errors the
    sqlite3 module raises itself, such as using a closed connection, have none)."""
    code = getattr(exc, "sqlite_errorcode", None)  # set only on errors SQLite itself reported
    return code & 0xFF if isinstance(code, int) else None


def is_busy(exc: BaseException | None) -> bool:
    """Whether a SQLite error (or a :class:`StoreError` raised from one) means another connection holds a lock."""
    if isinstance(exc, StoreError):
        exc = exc.__cause__
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = _result_code(exc)
    return code in (_SQLITE_BUSY, _SQLITE_LOCKED) if code is not None else True  # no code: it may be


def translate(exc: sqlite3.Error, db: Path) -> StoreError:
    """A SQLite error as nexint's typed error: only a damaged file is :class:`StoreCorrupted`."""
    code = _result_code(exc)
    if code == _SQLITE_READONLY:
        return StoreReadOnly(f"store {db} cannot be written ({exc}); open it read-only to read it")
    # Without a code, the class tells: Python raises a bare DatabaseError for SQLITE_CORRUPT and SQLITE_NOTADB.
    damaged = code in _DAMAGED if code is not None else type(exc) is sqlite3.DatabaseError
    if damaged:
        return StoreCorrupted(f"{db} is damaged ({exc}); nothing was changed")
    return StoreError(f"store {db}: {exc}")


class Rows:
    """A cursor whose fetches surface errors as typed nexint errors."""

    __slots__ = ("_cursor", "_db")

    def __init__(self, cursor: sqlite3.Cursor, db: Path) -> None:
        self._cursor, self._db = cursor, db

    def fetchone(self) -> Any:
        try:
            return self._cursor.fetchone()
        except sqlite3.Error as exc:
            raise translate(exc, self._db) from exc

    def fetchall(self) -> list[Any]:
        try:
            return self._cursor.fetchall()
        except sqlite3.Error as exc:
            raise translate(exc, self._db) from exc

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class Database:
    """A sqlite3 connection used under one lock, whose errors surface as typed nexint errors."""

    __slots__ = ("_conn", "lock", "path")

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn, self.path = conn, path
        self.lock = threading.RLock()

    def execute(self, sql: str, args: Sequence[Any] | dict[str, Any] = (), *, named: bool = False) -> Rows:
        """Run one statement; with ``named``, its rows are read by column name (``sqlite3.Row``)."""
        try:
            cursor = self._conn.cursor()
            if named:
                cursor.row_factory = sqlite3.Row
            return Rows(cursor.execute(sql, args), self.path)
        except sqlite3.Error as exc:
            raise translate(exc, self.path) from exc

    def executemany(self, sql: str, rows: Iterable[Sequence[Any] | dict[str, Any]]) -> int:
        """Run ``sql`` for each row; returns the rows changed."""
        try:
            return self._conn.executemany(sql, rows).rowcount
        except sqlite3.Error as exc:
            raise translate(exc, self.path) from exc

    def execute_values(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run ``sql`` with its ``{values}`` standing for one ``(?, ...)`` per row: one statement per
        :data:`_VALUES_PER_STATEMENT` rows instead of one per row."""
        for start in range(0, len(rows), _VALUES_PER_STATEMENT):
            chunk = rows[start : start + _VALUES_PER_STATEMENT]
            values = ", ".join(["(" + ", ".join("?" * len(chunk[0])) + ")"] * len(chunk))
            self.execute(sql.format(values=values), [value for row in chunk for value in row])

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """One write transaction, under the lock: committed if the block succeeds, else rolled back."""
        with self.lock:
            self.execute("BEGIN IMMEDIATE")
            try:
                yield self
            except BaseException:
                self.execute("ROLLBACK")
                raise
            else:
                self.execute("COMMIT")

    def close(self) -> None:
        self._conn.close()
