"""PostgreSQL benchmark: the PostgreSQL + pgvector swap store beside the embedded one, and concurrent writers.

Part 1 fills each store, in a fresh process of its own, with the same seeded turns through
``MemoryManager`` as ``benchmarks/swap.py`` does (its ``measure``: batches of 1,000 through
``write_many``, then ``--single`` pages one ``write`` each, then ``--queries`` timed page-ins and
searches) and reports the same figures at each size, plus the store's size on disk.

Part 2 times 1, 2 and 4 writer processes (``--writers``) writing ``--writer-pages`` pages each in
batches of 1,000 through ``write_many`` into the PostgreSQL store, all starting together; each
writer count gets a fresh database. ``--writer-namespaces own`` (the default) gives each writer its
own namespace (agents sharing a server); ``shared`` has them all write one namespace (web workers
serving one user); ``own,shared`` measures both. Total pages/s is all pages over the time from the
common start to the last writer's end.

Durability differs by default: the embedded store commits with SQLite ``synchronous=NORMAL`` in WAL
mode (``durability="process"``, no fsync per commit), PostgreSQL with its ``synchronous_commit`` and
``fsync`` settings (recorded under ``server``; on by default: a WAL flush per commit).

The server is a private one started offline by ``pgserver`` (PostgreSQL with pgvector, no
download) in a temporary directory, or the one ``--dsn`` names (its role must be allowed to create
databases: every part runs in a database of its own, dropped at the end).

    python benchmarks/postgres.py                                  # 10^5 and 10^6 pages; 1, 2, 4 writers
    python benchmarks/postgres.py --quick --sizes 10000            # a smoke run
    python benchmarks/postgres.py --dsn postgresql://user@host/db --json out.json
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import get_context
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from swap import SINGLE, Corpus, emit, measure

from nexint_core import MemoryManager, StepClock

STORES = ("embedded", "postgres")
BATCH = 1_000  # turns per write_many call, as in benchmarks/swap.py
QUICK = {"sizes": "10000", "queries": 100, "single": 500, "writers": "1,2", "writer_pages": 2_000}
FULL = {"sizes": "100000,1000000", "queries": 300, "single": SINGLE, "writers": "1,2,4", "writer_pages": 20_000}
SETTINGS = ("shared_buffers", "synchronous_commit", "fsync", "wal_level", "max_wal_size", "work_mem")
_context = get_context("spawn")  # a fresh interpreter per store and per writer: RSS and caches of its own
_barrier: Any = None  # the writers' common start, set in each writer process


# -- the server ---------------------------------------------------------------------------------------


@contextmanager
def private_server(directory: Path) -> Iterator[str]:
    """A PostgreSQL server with pgvector from the ``pgserver`` package in ``directory``; yields its URI."""
    with warnings.catch_warnings():  # platformdirs warns that XDG_RUNTIME_DIR is unset (pgserver copes)
        warnings.simplefilter("ignore")
        import pgserver

        server = pgserver.get_server(directory, cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()  # stops it (cleanup_mode "stop"); the caller removes the directory


@contextmanager
def given_server(uri: str) -> Iterator[str]:
    """The server ``--dsn`` names, left running."""
    yield uri


def database_uri(uri: str, name: str) -> str:
    return urlunsplit(urlsplit(uri)._replace(path=f"/{name}"))


@contextmanager
def fresh_database(admin_uri: str, label: str) -> Iterator[str]:
    """A new, empty database on the server of ``admin_uri``, dropped afterwards; yields its URI."""
    name = f"nexint_bench_{os.getpid()}_{label}"
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield database_uri(admin_uri, name)
    finally:
        with psycopg.connect(admin_uri, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def server_info(uri: str) -> dict[str, Any]:
    """PostgreSQL and pgvector versions and the settings that weigh on these figures."""
    with psycopg.connect(uri, autocommit=True) as conn:
        version = conn.execute("SELECT version()").fetchone()
        vector = conn.execute("SELECT default_version FROM pg_available_extensions WHERE name = 'vector'").fetchone()
        settings = dict(
            conn.execute("SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s)", (list(SETTINGS),))
        )
    return {
        "version": version[0] if version else None,
        "pgvector": vector[0] if vector else None,
        "settings": {name: settings.get(name) for name in SETTINGS},
    }


def database_mb(uri: str) -> float:
    with psycopg.connect(uri, autocommit=True) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return round(row[0] / 2**20, 1) if row else float("nan")


def directory_mb(path: Path) -> float:
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20, 1)


def machine_info() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    versions = {name: importlib.metadata.version(name) for name in ("nexint", "numpy", "psycopg", "pgserver")}
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "load_average_at_start": [round(load, 2) for load in os.getloadavg()],
        **versions,
    }


# -- part 1: one store, growing ---------------------------------------------------------------------


def run_store(store: str, target: str, sizes: list[int], queries: int, single: int, limit: int) -> list[dict[str, Any]]:
    """Fill one store to each size with the seeded turns and measure it (in a process of its own)."""
    corpus = Corpus()  # the same seed for both stores: the same turns and queries
    mmu = MemoryManager(limit, store=target if store == "postgres" else Path(target), clock=StepClock())
    rows, written = [], 0
    try:
        for size in sizes:
            written, row = measure(mmu, corpus, written, size, queries, single)
            mmu.flush()  # the page-ins' events, before the size on disk is read
            row = {
                "store": store,
                **row,
                "store_mb": database_mb(target) if store == "postgres" else directory_mb(Path(target)),
            }
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    finally:
        mmu.close()
    return rows


def in_own_process(function: Any, *args: Any) -> Any:
    with ProcessPoolExecutor(max_workers=1, mp_context=_context) as pool:
        return pool.submit(function, *args).result()


# -- part 2: concurrent writers ---------------------------------------------------------------------


def _join(barrier: Any) -> None:
    global _barrier
    _barrier = barrier


def writer(uri: str, index: int, namespace: str, pages: int, limit: int) -> dict[str, Any]:
    """Write ``pages`` seeded turns in batches after the common start; returns its start and end."""
    corpus = Corpus(seed=1_000 + index)
    batches = [[("user", corpus.turn()) for _ in range(min(BATCH, pages - done))] for done in range(0, pages, BATCH)]
    mmu = MemoryManager(limit, store=uri, namespace=namespace, clock=StepClock())
    try:
        _barrier.wait(timeout=300)  # everyone has opened the store and made its turns
        start = time.perf_counter()  # CLOCK_MONOTONIC: comparable between processes
        written = sum(len(ids) for batch in batches for ids in mmu.write_many(batch))
        end = time.perf_counter()
    finally:
        mmu.close()
    return {"start": start, "end": end, "pages": written}


def run_writers(uri: str, count: int, pages: int, namespaces: str, limit: int) -> dict[str, Any]:
    barrier = _context.Barrier(count)
    with ProcessPoolExecutor(max_workers=count, mp_context=_context, initializer=_join, initargs=(barrier,)) as pool:
        futures = [
            pool.submit(writer, uri, i, f"writer-{i}" if namespaces == "own" else "default", pages, limit)
            for i in range(count)
        ]
        results = [future.result() for future in futures]
    wall = max(r["end"] for r in results) - min(r["start"] for r in results)
    total = sum(r["pages"] for r in results)
    return {
        "writers": count,
        "namespaces": namespaces,
        "pages_per_writer": pages,
        "total_pages": total,
        "wall_s": round(wall, 2),
        "total_pages_per_s": round(total / wall, 1),
        "writer_pages_per_s": [round(r["pages"] / (r["end"] - r["start"]), 1) for r in results],
        "database_mb": database_mb(uri),
    }


# -- the run ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", help=f"pages in store at which to measure (default {FULL['sizes']})")
    parser.add_argument("--queries", type=int, help=f"page-ins timed at each size (default {FULL['queries']})")
    parser.add_argument("--single", type=int, help=f"pages written one write() each per size (default {SINGLE})")
    parser.add_argument("--stores", default=",".join(STORES), help="which stores part 1 measures")
    parser.add_argument("--writers", help=f"writer process counts, '' for none (default {FULL['writers']})")
    parser.add_argument("--writer-pages", type=int, help=f"pages per writer (default {FULL['writer_pages']})")
    parser.add_argument("--writer-namespaces", default="own", help="own, shared, or both: own,shared")
    parser.add_argument("--limit", type=int, default=4096, help="the manager's token limit")
    parser.add_argument("--dsn", help="a postgresql:// URI (default: a private pgserver in a temporary directory)")
    parser.add_argument("--dir", help="where the temporary directory goes (default: the system's)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: " + json.dumps(QUICK))
    parser.add_argument("--json", dest="json_path")
    args = parser.parse_args(argv)
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    sizes = sorted(int(size) for size in args.sizes.split(","))
    stores = [store for store in args.stores.split(",") if store]
    writers = [int(count) for count in args.writers.split(",") if count]
    if unknown := set(stores) - set(STORES):
        parser.error(f"unknown stores {sorted(unknown)}; valid: {', '.join(STORES)}")
    modes = [mode for mode in args.writer_namespaces.split(",") if mode]
    if unknown := set(modes) - {"own", "shared"}:
        parser.error(f"unknown writer namespaces {sorted(unknown)}; valid: own, shared")

    began = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="nexint-postgres-bench-", dir=args.dir))
    report: dict[str, Any] = {"benchmark": "postgres", **machine_info()}
    try:
        with private_server(workdir / "pgdata") if args.dsn is None else given_server(args.dsn) as admin_uri:
            report["server"] = {"private": args.dsn is None, **server_info(admin_uri)}
            report.update(
                limit_tokens=args.limit,
                queries=args.queries,
                single_writes=args.single,
                batch=BATCH,
                sizes=sizes,
                embedded_durability="process",
                writer_pages=args.writer_pages,
            )
            rows: list[dict[str, Any]] = []
            durations: dict[str, float] = {}
            measured = (sizes, args.queries, args.single, args.limit)
            for store in stores:
                started = time.perf_counter()
                if store == "postgres":
                    with fresh_database(admin_uri, "store") as uri:
                        rows += in_own_process(run_store, store, uri, *measured)
                else:
                    rows += in_own_process(run_store, store, str(workdir / "embedded"), *measured)
                    shutil.rmtree(workdir / "embedded")
                durations[store] = round(time.perf_counter() - started, 1)
            report["rows"] = rows
            report["writer_scaling"] = []
            for mode in modes:
                started = time.perf_counter()
                points = []
                for count in writers:
                    with fresh_database(admin_uri, f"writers_{mode}_{count}") as uri:
                        points.append(run_writers(uri, count, args.writer_pages, mode, args.limit))
                    print(json.dumps(points[-1]), file=sys.stderr, flush=True)
                one = next((point["total_pages_per_s"] for point in points if point["writers"] == 1), None)
                for point in points:
                    point["speedup_vs_one_writer"] = round(point["total_pages_per_s"] / one, 2) if one else None
                report["writer_scaling"] += points
                durations[f"writers_{mode}"] = round(time.perf_counter() - started, 1)
            report["durations_s"] = durations
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report["peak_rss_mb_main"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    report["duration_s"] = round(time.perf_counter() - began, 1)
    emit(report, args.json_path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
