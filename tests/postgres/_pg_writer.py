"""Subprocess side of tests/postgres/test_concurrency.py and test_faults.py: writers and readers of one
PostgreSQL store.

Run as ``python _pg_writer.py MODE ARGS...``. Writers print one JSON line per ``write``/``write_many``
call, flushed, only after the call returned: that line is the acknowledgement the parent trusts after a
SIGKILL or a server restart. A call that raised prints a ``failed`` line and acknowledges nothing.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

from nexint_core import MemoryManager, StepClock, Tier
from nexint_core.errors import StoreError
from nexint_core.pages import Frame
from nexint_core.stores import PostgresSwapStore, SwapStore

LIMIT = 400  # tokens: a small working set, so writers evict and their events update tiers in the store
MAX_BATCH = 40


def code_word(tag: str, n: int) -> str:
    """The word only page ``n`` of writer ``tag`` holds."""
    return f"{tag}code{n}"


def page_text(tag: str, n: int) -> str:
    """Content of page ``n`` written by writer ``tag``: its code word and a few words seeded by both."""
    rng = random.Random(f"{tag}-{n}")
    return f"note {n} from {tag}: {code_word(tag, n)} " + " ".join(f"w{rng.randrange(5000)}" for _ in range(6))


def _meta(tag: str, call: int, size: int, n: int) -> dict[str, Any]:
    return {"writer": tag, "call": call, "size": size, "n": n}


def write(uri: str, namespace: str, tag: str, count: int, seed: int, retry_for: float, sync: str) -> None:
    """Write ``count`` pages (forever if 0), as single writes and ``write_many`` batches mixed.

    Prints ``{"call", "pages": [[id, n], ...], "seconds"}`` after each call returned, ``{"failed": call, "error"}``
    after a call raised :class:`StoreError`. With ``sync`` (a directory), waits until every writer
    named by a ``*.wait`` file there has opened its manager, so all of them write at once.
    """
    rng = random.Random(seed)
    store = PostgresSwapStore(uri, retry_for=retry_for)
    mmu = MemoryManager(LIMIT, store=store, namespace=namespace, clock=StepClock())
    if sync:
        _meet(Path(sync), tag)
    print(json.dumps({"ready": tag}), flush=True)
    n = call = 0
    roles = ("user", "assistant")
    while count == 0 or n < count:
        call += 1
        size = 1 if rng.random() < 0.5 else rng.randint(2, MAX_BATCH)
        if count:
            size = min(size, count - n)
        numbers = list(range(n + 1, n + size + 1))
        started = time.monotonic()
        try:
            if size == 1:
                ids = [mmu.write(roles[call % 2], page_text(tag, numbers[0]), metadata=_meta(tag, call, 1, numbers[0]))]
            else:
                frames = [Frame(roles[i % 2], page_text(tag, i), metadata=_meta(tag, call, size, i)) for i in numbers]
                ids = mmu.write_many(frames)
        except StoreError as exc:
            print(json.dumps({"failed": call, "error": f"{type(exc).__name__}: {exc}"}), flush=True)
            continue  # the same numbers again, in the next call
        assert all(len(frame_ids) == 1 for frame_ids in ids), ids
        pages = [[frame_ids[0], i] for frame_ids, i in zip(ids, numbers, strict=True)]
        print(json.dumps({"call": call, "pages": pages, "seconds": time.monotonic() - started}), flush=True)
        n += size
    mmu.close()
    print(json.dumps({"done": tag}), flush=True)


def _meet(sync: Path, tag: str) -> None:
    (sync / f"{tag}.ready").touch()
    waiting = [path.stem for path in sync.glob("*.wait")]
    deadline = time.monotonic() + 60.0
    while not all((sync / f"{other}.ready").exists() for other in waiting):
        if time.monotonic() > deadline:
            raise SystemExit(f"{tag}: the other writers never opened the store")
        time.sleep(0.01)


def read(uri: str, namespace: str, sample: str) -> None:
    """Open a manager on ``namespace`` and look for each sampled page (``[id, tag, n]``) by its code word:
    lexical and vector search in the store, then page-in through the manager. Prints one JSON report."""
    pages = json.loads(Path(sample).read_text(encoding="utf-8"))
    mmu = MemoryManager(LIMIT, store=uri, namespace=namespace, clock=StepClock())
    store = mmu.store
    report: dict[str, Any] = {"loaded": len(mmu), "text": [], "vector": [], "paged_in": [], "swapped": 0}
    for page_id, tag, n in pages:
        text = page_text(tag, n)
        hits = store.search_text(code_word(tag, n), namespaces=[namespace], k=3)
        report["text"].append([hit.page_id for hit in hits] == [page_id])
        hits = store.search_vector(store.embedder.embed([text])[0], namespaces=[namespace], k=5)
        report["vector"].append(page_id in [hit.page_id for hit in hits])
        swapped = mmu.page_table.get(page_id).tier is Tier.SWAP
        report["swapped"] += swapped
        promoted = mmu.page_in(code_word(tag, n))
        page = mmu.get(page_id)
        found = page.tier is Tier.ACTIVE and page.content == text and (page_id in promoted or not swapped)
        report["paged_in"].append(found)
    mmu.close()
    print(json.dumps(report), flush=True)


# -- the parent's side: what the writers acknowledged, what the store holds ---------------------------


def acknowledged(lines: list[str]) -> dict[str, tuple[int, int]]:
    """Page id -> (page number, call) for every complete acknowledgement line a writer printed."""
    acked: dict[str, tuple[int, int]] = {}
    for line in lines:
        if not line.endswith("\n"):
            continue  # cut off by the kill: not an acknowledgement
        record = json.loads(line)
        for page_id, n in record.get("pages", []):
            assert page_id not in acked, f"{page_id} acknowledged twice"
            acked[page_id] = (n, record["call"])
    return acked


def stored(uri: str) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """Every row of nexint_pages, read as the owner: id -> (namespace, content, metadata)."""
    with psycopg.connect(uri) as conn:
        rows = conn.execute("SELECT id, namespace, content, metadata FROM nexint_pages").fetchall()
    assert len(rows) == len({row[0] for row in rows}), "a page id is stored twice"
    return {page_id: (namespace, content, metadata) for page_id, namespace, content, metadata in rows}


def partial_calls(uri: str) -> list[tuple[str, int, int, int]]:
    """Writer calls of which some pages are stored but not all: ``(writer, call, size, stored)``."""
    with psycopg.connect(uri) as conn:
        return conn.execute(
            "SELECT metadata->>'writer', (metadata->>'call')::int, max((metadata->>'size')::int), count(*)"
            " FROM nexint_pages WHERE metadata->>'writer' IS NOT NULL GROUP BY 1, 2"
            " HAVING count(*) <> max((metadata->>'size')::int)"
        ).fetchall()


def stats_drift(uri: str) -> list[tuple[str, int, int, int, int]]:
    """Namespaces whose BM25 statistics differ from their pages: ``(namespace, docs, length, pages, length)``."""
    with psycopg.connect(uri) as conn:
        return conn.execute(
            "WITH s AS (SELECT namespace, sum(docs)::int AS docs, sum(total_length)::int AS length"
            " FROM nexint_stats GROUP BY 1),"
            " p AS (SELECT namespace, count(*)::int AS docs, sum(doc_len)::int AS length FROM nexint_pages GROUP BY 1)"
            " SELECT namespace, s.docs, s.length, p.docs, p.length FROM s FULL JOIN p USING (namespace)"
            " WHERE s.docs IS DISTINCT FROM p.docs AND coalesce(s.docs, 0) + coalesce(p.docs, 0) > 0"
            " OR s.length IS DISTINCT FROM p.length AND coalesce(s.length, 0) + coalesce(p.length, 0) > 0"
        ).fetchall()


def missed(store: SwapStore, pages: dict[str, tuple[str, str, int]], *, exact: bool = True) -> list[str]:
    """Pages (id -> (namespace, writer, n)) that ``get``, ``search_text`` on the code word or
    ``search_vector`` on the text miss; ``exact``: the code word finds that page and no other."""
    texts = [page_text(tag, n) for _, tag, n in pages.values()]
    vectors = list(store.embedder.embed(texts)) if texts else []
    out = []
    for (page_id, (namespace, tag, n)), text, vector in zip(pages.items(), texts, vectors, strict=True):
        page = store.get(page_id)
        by_text = [hit.page_id for hit in store.search_text(code_word(tag, n), namespaces=[namespace], k=3)]
        by_vector = [hit.page_id for hit in store.search_vector(vector, namespaces=[namespace], k=5)]
        found_text = by_text == [page_id] if exact else page_id in by_text
        found = page is not None and page.content == text and page.namespace == namespace
        if not (found and found_text and page_id in by_vector):
            out.append(page_id)
    return out


def main(argv: list[str]) -> None:
    mode, args = argv[0], argv[1:]
    if mode == "write":
        uri, namespace, tag, count, seed, retry_for = args[:6]
        write(uri, namespace, tag, int(count), int(seed), float(retry_for), args[6] if len(args) > 6 else "")
    elif mode == "read":
        read(args[0], args[1], args[2])
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
