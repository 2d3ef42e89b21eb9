"""Subprocess side of tests/core/test_persistence.py: writers and readers of one store directory.

Run as ``python _writer.py MODE ARGS...``. Writers print one line per write, flushed, only after
``put``/``write`` returned: that line is the acknowledgement the parent trusts after a SIGKILL.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path
from typing import Any

from nexint_core import MemoryManager, PageId, StepClock, rebuild_from_events
from nexint_core.pages import Page
from nexint_core.stores import SqliteSwapStore, SwapStore

NAMESPACES = ["default"]


def fact_text(n: int) -> str:
    """Distinct content: the unique word ``zebra<n>`` plus a few words drawn by a generator seeded with ``n``."""
    rng = random.Random(n)
    return f"fact number {n} about zebra{n} " + " ".join(f"w{rng.randrange(5000)}" for _ in range(5))


def pair_text(tag: str, i: int) -> str:
    """Content of page ``i`` written by process ``tag``; ``<tag>word<i>`` appears nowhere else."""
    rng = random.Random(f"{tag}-{i}")
    return f"note {i} from {tag}: {tag}word{i} " + " ".join(f"w{rng.randrange(5000)}" for _ in range(5))


TEXT_QUERIES = ["zebra17", "zebra4242", "w17 w99", "fact number", "tool result zebra600"]
VECTOR_QUERIES = [fact_text(17), fact_text(4242), "w17 w99 zebra3000", "tool result for call 600"]


def table_rows(mmu: MemoryManager) -> dict[str, list[Any]]:
    return {
        page_id: [entry.tier.value, entry.tokens, entry.vaddr, entry.quarantined]
        for page_id, entry in mmu.page_table.snapshot().items()
    }


def search_results(store: SwapStore) -> dict[str, list[list[Any]]]:
    results: dict[str, list[list[Any]]] = {}
    for query in TEXT_QUERIES:
        hits = store.search_text(query, namespaces=NAMESPACES, k=10)
        results[f"text:{query}"] = [[hit.page_id, hit.score] for hit in hits]
    for query in VECTOR_QUERIES:
        hits = store.search_vector(store.embedder.embed([query])[0], namespaces=NAMESPACES, k=10)
        results[f"vector:{query}"] = [[hit.page_id, hit.score] for hit in hits]
    return results


def store_writer(directory: str, first: int, save_every: int) -> None:
    """Put one page per transaction, forever; print ``<id> <n>`` after each put returned."""
    store = SqliteSwapStore(directory, save_every=save_every)
    n = first
    while True:
        page = Page(PageId.make("FACT", n), fact_text(n), 16)
        store.put([page])
        print(page.id, n, flush=True)
        n += 1


def manager_writer(directory: str, first: int) -> None:
    """Write one frame per turn through a manager, forever; print ``<id> <n>`` for each page written."""
    mmu = MemoryManager(300, store=directory, clock=StepClock())
    roles = ("user", "assistant", "system")
    n = first
    while True:
        for page_id in mmu.write(roles[n % 3], fact_text(n)):
            print(page_id, n, flush=True)
        n += 1


def restart_write(directory: str, out: str) -> None:
    """Write 5,000 pages (roles, tool-call groups, pins, quarantine, page-ins), then record state."""
    rng = random.Random(5000)
    mmu = MemoryManager(512, store=directory, clock=StepClock())
    mmu.write("system", "Answer briefly and cite memory ids.", pin=True)
    written: list[str] = []
    n = 0
    while len(mmu) < 5000:
        n += 1
        if n % 25 == 0:
            group = f"call-{n}"
            written += mmu.write("assistant", f"tool call for zebra{n}", group=group)
            written += mmu.write("tool", f"tool result for call {n}: zebra{n} w{n % 97}", group=group)
        elif n % 499 == 0:
            written += mmu.write("user", " ".join(fact_text(100_000 + n * 40 + k) for k in range(40)))
        else:
            role = rng.choice(("user", "assistant", "system"))
            importance = rng.choice((0.2, 0.5, 0.9))
            written += mmu.write(role, fact_text(n), importance=importance, quarantined=n % 97 == 3)
        if n % 301 == 0:
            mmu.touch(written[rng.randrange(len(written))])
        if n % 701 == 0:
            mmu.page_in(f"zebra{rng.randrange(1, n)}")
        if n % 1009 == 0:
            quarantined = [page_id for page_id in written if mmu.get(page_id).quarantined]
            mmu.approve(quarantined[0])
    state = {"table": table_rows(mmu), "search": search_results(mmu.store), "usage": mmu.usage()}
    mmu.close()
    Path(out).write_text(json.dumps(state), encoding="utf-8")


def restart_read(directory: str, out: str) -> None:
    """Reopen the store, record the page table, searches and the table rebuilt from the event log."""
    mmu = MemoryManager(512, store=directory, clock=StepClock())
    assert isinstance(mmu.store, SqliteSwapStore)
    rebuilt = rebuild_from_events(mmu.store.events("default"))
    state = {
        "table": table_rows(mmu),
        "search": search_results(mmu.store),
        "rebuilt": {
            page_id: [entry.tier.value, entry.tokens, entry.vaddr, entry.quarantined]
            for page_id, entry in rebuilt.items()
        },
    }
    mmu.close()
    Path(out).write_text(json.dumps(state), encoding="utf-8")


def pair(directory: str, sync: str, tag: str, other: str, count: int) -> None:
    """Write ``count`` pages next to another process, then find every page it wrote."""
    mmu = MemoryManager(1_000_000, store=directory, clock=StepClock())
    store = mmu.store
    (Path(sync) / f"{tag}.ready").touch()
    deadline = time.monotonic() + 30.0
    while not (Path(sync) / f"{other}.ready").exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"{other} never opened the store")
        time.sleep(0.005)
    ids: list[str] = []
    for i in range(count):
        ids += mmu.write("user", pair_text(tag, i))
        if i % 10 == 9:  # look at the other writer's pages while both are writing
            store.search_vector(store.embedder.embed([pair_text(other, i)])[0], namespaces=NAMESPACES, k=3)
    started = time.monotonic()
    last = pair_text(other, count - 1)
    while not _found(store, f"{other}word{count - 1}", last):
        if time.monotonic() - started > 30.0:
            raise SystemExit(f"{tag} never saw the last page of {other}")
        time.sleep(0.02)
    found_text = found_vector = 0
    for i in range(count):
        text = pair_text(other, i)
        found_text += _content_in(store, store.search_text(f"{other}word{i}", namespaces=NAMESPACES, k=3), text)
        vector = store.embedder.embed([text])[0]
        found_vector += _content_in(store, store.search_vector(vector, namespaces=NAMESPACES, k=5), text)
    mmu.close()
    report = {"ids": ids, "found_text": found_text, "found_vector": found_vector}
    print(json.dumps(report), flush=True)


def _content_in(store: SwapStore, hits: list[Any], text: str) -> bool:
    return any((page := store.get(hit.page_id)) is not None and page.content == text for hit in hits)


def _found(store: SwapStore, word: str, text: str) -> bool:
    by_text = _content_in(store, store.search_text(word, namespaces=NAMESPACES, k=3), text)
    vector = store.embedder.embed([text])[0]
    return by_text and _content_in(store, store.search_vector(vector, namespaces=NAMESPACES, k=5), text)


def open_race(paths: str, start: float, step: float, lag: float) -> None:
    """Open store ``i`` of ``paths`` (comma-separated) at ``start + i * step + (i % 12) * lag``.

    Prints one JSON line per store. A second process started with a small ``lag`` arrives a
    little later each time, sweeping the moments at which it can meet the first one.
    """
    for i, path in enumerate(paths.split(",")):
        go = start + i * step + (i % 12) * lag
        while time.time() < go - 0.002:
            time.sleep(0.001)
        while time.time() < go:
            pass
        try:
            SqliteSwapStore(path).close()
        except Exception as exc:
            print(json.dumps({"path": path, "error": f"{type(exc).__name__}: {exc}"}), flush=True)
        else:
            print(json.dumps({"path": path, "error": None}), flush=True)


def main(argv: list[str]) -> None:
    mode, args = argv[0], argv[1:]
    if mode == "store":
        store_writer(args[0], int(args[1]), int(args[2]))
    elif mode == "manager":
        manager_writer(args[0], int(args[1]))
    elif mode == "restart-write":
        restart_write(args[0], args[1])
    elif mode == "restart-read":
        restart_read(args[0], args[1])
    elif mode == "pair":
        pair(args[0], args[1], args[2], args[3], int(args[4]))
    elif mode == "open-race":
        open_race(args[0], float(args[1]), float(args[2]), float(args[3]))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
