"""``memos import``: idempotent, into a chosen namespace, and chat exports whose content is a list of blocks.

Every test drives the real CLI in a subprocess against real store directories and session files.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from nexint_core import MemoryManager, StepClock
from nexint_core.importers import IMPORT_KEY, message_keys
from nexint_core.pages import Frame
from nexint_core.stores import SqliteSwapStore
from tests.core.test_cli import error_line, locomo_sample, memos, snapshot

CHAT = [
    {"role": "user", "content": "I drink green tea every morning."},
    {"role": "assistant", "content": "Noted: green tea in the morning."},
    {"role": "user", "content": "My sister Ines lives in Porto."},
]


def write_jsonl(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def stored(store: Path, namespace: str = "default") -> list[tuple[str, str]]:
    """(role, content) of the namespace's pages, in write order."""
    with SqliteSwapStore(store, read_only=True) as swap:
        return [(page.role, page.content) for page in swap.scan([namespace])]


def session_messages(path: Path) -> list[tuple[str, str, list[str]]]:
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [(record["role"], record["text"], record["ids"]) for record in records if record["type"] == "message"]


def test_import_chat_twice_adds_nothing_and_says_so(tmp_path: Path) -> None:
    chat = write_jsonl(tmp_path / "chat.jsonl", CHAT)
    store, home = tmp_path / "store", tmp_path / "home"
    first = memos("import", chat, "--store", store, home=home, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    session = home / "sessions" / "chat.jsonl"
    assert first.stdout == (
        f"[IMPORT] chat: 3 messages, 3 pages, 0 probes into {store} (namespace default); session {session}\n"
    )
    before = snapshot(tmp_path)
    second = memos("import", chat, "--store", store, home=home, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert second.stderr == ""
    assert second.stdout == (
        f"[IMPORT] chat: already imported (3 messages), nothing added to {store} (namespace default); "
        f"session {session}\n"
    )
    assert snapshot(tmp_path) == before  # the store, its event log and the session file, byte for byte
    assert stored(store) == [(line["role"], line["content"]) for line in CHAT]


def test_import_chat_again_under_another_name_is_recognised_by_content(tmp_path: Path) -> None:
    store, home = tmp_path / "store", tmp_path / "home"
    memos("import", write_jsonl(tmp_path / "chat.jsonl", CHAT), "--store", store, home=home, cwd=tmp_path)
    copy = write_jsonl(tmp_path / "export-2026.jsonl", CHAT)
    result = memos("import", copy, "--store", store, home=home, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "export-2026: already imported (3 messages), nothing added" in result.stdout
    assert len(stored(store)) == 3
    sessions = home / "sessions"  # the new name's session is written, with the ids the store holds
    assert session_messages(sessions / "export-2026.jsonl") == session_messages(sessions / "chat.jsonl")


def test_import_chat_with_appended_messages_adds_only_those(tmp_path: Path) -> None:
    chat, store, home = tmp_path / "chat.jsonl", tmp_path / "store", tmp_path / "home"
    write_jsonl(chat, CHAT)
    memos("import", chat, "--store", store, home=home, cwd=tmp_path)
    session = home / "sessions" / "chat.jsonl"
    first_ids = [ids for _, _, ids in session_messages(session)]
    more = [*CHAT, {"role": "assistant", "content": "Porto is lovely."}, {"role": "user", "content": "It is."}]
    write_jsonl(chat, more)
    result = memos("import", chat, "--store", store, home=home, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        f"[IMPORT] chat: 2 messages, 2 pages, 0 probes into {store} (namespace default), after 3 imported before; "
        f"session {session}\n"
    )
    assert stored(store) == [(line["role"], line["content"]) for line in more]
    messages = session_messages(session)  # the whole conversation, the earlier messages with their stored ids
    assert [(role, text) for role, text, _ in messages] == [(line["role"], line["content"]) for line in more]
    assert [ids for _, _, ids in messages][:3] == first_ids
    again = memos("import", chat, "--store", store, home=home, cwd=tmp_path)
    assert "already imported (5 messages), nothing added" in again.stdout
    replayed = memos("replay", "--session", session, "--policy", "LRU", home=home, cwd=tmp_path)
    assert replayed.returncode == 0, replayed.stderr


def test_import_locomo_twice_adds_nothing(tmp_path: Path) -> None:
    source = tmp_path / "tiny_locomo.json"
    source.write_text(json.dumps(locomo_sample()), encoding="utf-8")
    store, sessions = tmp_path / "store", tmp_path / "sessions"
    args = ("import", source, "--store", store, "--session-dir", sessions)
    first = memos(*args, home=tmp_path / "home", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    before = snapshot(tmp_path)
    second = memos(*args, home=tmp_path / "home", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert second.stdout == (
        f"[IMPORT] locomo_s1: already imported (5 messages), nothing added to {store} (namespace s1); "
        f"session {sessions / 'locomo_s1.jsonl'}\n"
    )
    assert snapshot(tmp_path) == before


def test_import_rewrites_a_missing_session_without_adding_pages(tmp_path: Path) -> None:
    source = tmp_path / "tiny_locomo.json"
    source.write_text(json.dumps(locomo_sample()), encoding="utf-8")
    store = tmp_path / "store"
    memos("import", source, "--store", store, "--session-dir", tmp_path / "a", home=tmp_path, cwd=tmp_path)
    result = memos("import", source, "--store", store, "--session-dir", tmp_path / "b", home=tmp_path, cwd=tmp_path)
    assert "already imported (5 messages), nothing added" in result.stdout
    first, second = (tmp_path / name / "locomo_s1.jsonl" for name in ("a", "b"))
    assert first.read_text(encoding="utf-8") == second.read_text(encoding="utf-8")  # the same ids, the same probes
    replayed = memos("replay", "--session", second, "--policy", "LRU", home=tmp_path, cwd=tmp_path)
    assert replayed.stdout.splitlines()[-1].startswith("probes 2/2 hit (100.0%)")


def test_import_keys_chain_each_message_to_those_before_it(tmp_path: Path) -> None:
    frames = [Frame(line["role"], line["content"]) for line in CHAT]
    keys = message_keys(frames)
    assert len(set(keys)) == 3
    assert message_keys(frames[:2]) == keys[:2]  # appending keeps the earlier keys
    assert message_keys([frames[0], frames[2], frames[1]])[0] == keys[0]
    assert message_keys([frames[0], frames[2], frames[1]])[1:] != keys[1:]  # a message's place is part of it
    store = tmp_path / "store"
    memos("import", write_jsonl(tmp_path / "chat.jsonl", CHAT), "--store", store, home=tmp_path, cwd=tmp_path)
    with SqliteSwapStore(store, read_only=True) as swap:
        assert [page.metadata[IMPORT_KEY] for page in swap.scan(["default"])] == keys


def test_import_splits_long_messages_and_still_recognises_them(tmp_path: Path) -> None:
    long = " ".join(f"Sentence {n} of a long pasted report about the harbour." for n in range(400))
    chat = write_jsonl(tmp_path / "chat.jsonl", [{"role": "user", "content": long}, *CHAT])
    store = tmp_path / "store"
    first = memos("import", chat, "--store", store, home=tmp_path, cwd=tmp_path)
    match = re.search(r"4 messages, (\d+) pages", first.stdout)
    assert match is not None, first.stdout
    assert int(match[1]) > 4
    before = snapshot(store)
    second = memos("import", chat, "--store", store, home=tmp_path, cwd=tmp_path)
    assert "already imported (4 messages), nothing added" in second.stdout
    assert snapshot(store) == before


# -- --namespace -------------------------------------------------------------------------------------


def test_import_chat_into_a_namespace(tmp_path: Path) -> None:
    chat, store = write_jsonl(tmp_path / "chat.jsonl", CHAT), tmp_path / "store"
    result = memos("import", chat, "--store", store, "--namespace", "alice", home=tmp_path, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "3 messages, 3 pages, 0 probes into" in result.stdout
    assert f"{store} (namespace alice)" in result.stdout
    assert len(stored(store, "alice")) == 3
    assert stored(store, "default") == []
    inspected = memos("inspect", "--store", store, "--namespace", "alice", "--json", home=tmp_path, cwd=tmp_path)
    assert len(json.loads(inspected.stdout)) == 3
    other = memos("import", chat, "--store", store, "--namespace", "bob", home=tmp_path, cwd=tmp_path)
    assert "3 messages, 3 pages" in other.stdout  # another namespace has not seen it
    with MemoryManager(2000, store=store, namespace="alice", clock=StepClock(), read_only=True) as mmu:
        assert len(mmu) == 3


def test_import_locomo_namespace_is_a_prefix(tmp_path: Path) -> None:
    samples = [*locomo_sample(), {**locomo_sample()[0], "sample_id": "s2"}]
    source = tmp_path / "two.json"
    source.write_text(json.dumps(samples), encoding="utf-8")
    store = tmp_path / "store"
    args = ("import", source, "--store", store, "--namespace", "bench", "--session-dir", tmp_path / "sessions")
    result = memos(*args, home=tmp_path, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert re.findall(r"\(namespace ([^)]+)\)", result.stdout) == ["bench/s1", "bench/s2"]
    assert len(stored(store, "bench/s1")) == len(stored(store, "bench/s2")) == 5
    assert stored(store, "s1") == []


def test_import_empty_namespace_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    chat = write_jsonl(tmp_path / "chat.jsonl", CHAT)
    before = snapshot(tmp_path)
    result = memos("import", chat, "--store", tmp_path / "store", "--namespace", "", home=tmp_path / "h", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (1, "")
    assert "--namespace" in error_line(result)
    assert snapshot(tmp_path) == before


# -- content blocks ----------------------------------------------------------------------------------


def test_import_chat_with_content_blocks_keeps_their_text(tmp_path: Path) -> None:
    lines = [
        {  # OpenAI: text and an image
            "role": "user",
            "content": [
                {"type": "text", "text": "Here is the hotel booking."},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                {"type": "text", "text": "We stay at the Hotel Kanra in Kyoto."},
            ],
        },
        {  # Anthropic: text and a tool call
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Noted the Kyoto hotel."},
                {"type": "tool_use", "id": "toolu_1", "name": "calendar", "input": {"date": "April 3"}},
            ],
        },
        {"role": "user", "content": "Thanks!"},
    ]
    store = tmp_path / "store"
    result = memos("import", write_jsonl(tmp_path / "chat.jsonl", lines), "--store", store, home=tmp_path, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "3 messages, 3 pages" in result.stdout
    assert stored(store) == [
        ("user", "Here is the hotel booking.\nWe stay at the Hotel Kanra in Kyoto."),
        ("assistant", "Noted the Kyoto hotel."),
        ("user", "Thanks!"),
    ]
    ran = memos("run", "--store", store, "--query", "Which hotel in Kyoto?", "--show-prompt", home=tmp_path)
    assert "Hotel Kanra" in ran.stdout
    assert "base64" not in ran.stdout


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        pytest.param([{"type": "image_url", "image_url": {"url": "x"}}], "content has no text (only image_url blocks)"),
        pytest.param([], "content has no text"),
        pytest.param("   ", "content has no text"),
        pytest.param([{"type": "text", "text": ""}], "content has no text"),
        pytest.param([{"type": "text"}], "content.0.text: a text block needs a string 'text'"),
        pytest.param([{"text": "no type"}], "content.0: expected a content block with a 'type'"),
        pytest.param(None, "content: expected a string or a list of content blocks"),
    ],
)
def test_import_chat_line_without_text_is_an_error_naming_the_line(
    tmp_path: Path, content: object, problem: str
) -> None:
    chat = write_jsonl(tmp_path / "chat.jsonl", [*CHAT, {"role": "user", "content": content}, *CHAT])
    before = snapshot(tmp_path)
    result = memos("import", chat, "--store", tmp_path / "store", home=tmp_path / "home", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (1, "")
    assert error_line(result) == f"[ERROR] cannot import {chat}: line 4: {problem}"
    assert snapshot(tmp_path) == before  # no store, no session
