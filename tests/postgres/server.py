"""A real PostgreSQL with pgvector for the tests: the one ``NEXINT_TEST_POSTGRES`` names, or a private
server started offline from the ``pgserver`` package (PostgreSQL 16 with pgvector, no download)."""

from __future__ import annotations

import contextlib
import itertools
import os
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import psycopg

ENV = "NEXINT_TEST_POSTGRES"
_numbers = itertools.count(1)


@dataclass
class Server:
    """A running server: its admin URI, and (for a private one) how to stop and start it."""

    uri: str
    pgdata: Path | None = None
    system_user: str | None = None
    log: Path | None = None
    handle: Any = None  # pgserver's own object, whose exit hook would stop the server a second time

    def database_uri(self, name: str) -> str:
        parts = urlsplit(self.uri)
        return urlunsplit(parts._replace(path=f"/{name}"))

    def role_uri(self, database: str, role: str) -> str:
        parts = urlsplit(self.database_uri(database))
        host = parts.netloc.split("@", 1)[-1]
        return urlunsplit(parts._replace(netloc=f"{role}@{host}"))

    def create_database(self) -> str:
        """A fresh, empty database; returns its URI."""
        name = f"nexint_test_{os.getpid()}_{next(_numbers)}"
        with psycopg.connect(self.uri, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.database_uri(name)

    def drop_database(self, uri: str) -> None:
        name = urlsplit(uri).path.lstrip("/")
        with psycopg.connect(self.uri, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    @property
    def controllable(self) -> bool:
        return self.pgdata is not None

    def _pg_ctl(self, *args: str) -> None:
        from pgserver._commands import POSTGRES_BIN_PATH

        assert self.pgdata is not None
        command = [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.pgdata), *args]
        subprocess.run(command, check=True, capture_output=True, user=self.system_user, timeout=120)

    def stop(self, mode: str = "immediate") -> None:
        """Stop the server now (``immediate``: no checkpoint, clients cut off, as in a crash)."""
        self._pg_ctl("-m", mode, "-w", "stop")

    def start(self) -> None:
        socket_dir = parse_qs(urlsplit(self.uri).query)["host"][0]
        self._pg_ctl("-w", "-o", '-h ""', "-o", f"-k {socket_dir}", "-l", str(self.log), "start")


def start_server(directory: Path) -> Server:
    """The server named by ``NEXINT_TEST_POSTGRES``, else a private one in ``directory``."""
    given = os.environ.get(ENV)
    if given:
        return Server(given)
    with warnings.catch_warnings():  # platformdirs warns that XDG_RUNTIME_DIR is unset (pgserver copes)
        warnings.simplefilter("ignore")
        import pgserver

        server = pgserver.get_server(directory, cleanup_mode="stop")
    return Server(server.get_uri(), Path(server.pgdata), server.system_user, Path(server.log), server)


def stop_at_exit(server: Server) -> None:
    """Stop a private server at the end of the run (whichever process a restart left running)."""
    if not server.controllable:
        return
    with contextlib.suppress(subprocess.CalledProcessError):
        server.stop("fast")
    if server.handle is not None:
        server.handle.cleanup_mode = None  # already stopped: pgserver's exit hook has nothing left to do
