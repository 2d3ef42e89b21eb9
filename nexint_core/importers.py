"""Import conversations into a store and a recorded session: LoCoMo JSON, or a chat JSONL.

The whole input is read and validated before anything is written, so a bad file changes nothing.
LoCoMo: each conversation goes to its own namespace (its ``sample_id``) and session
(``locomo_<sample_id>``); speaker A's turns are ``user`` frames and speaker B's ``assistant`` frames,
tagged with their dialogue ids, and each question becomes a probe expecting the pages of its evidence.
Chat JSONL: one ``{"role": ..., "content": ...}`` object per line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nexint_core.config import PolicyConfig
from nexint_core.errors import InvalidArgument
from nexint_core.manager import MemoryManager
from nexint_core.pages import Frame
from nexint_core.session import SessionRecorder
from nexint_core.stores import is_postgres_uri, open_store

__all__ = ["ImportResult", "import_file", "read_chat", "read_locomo"]

Progress = Callable[[int, int], None]
_SESSION_KEY = re.compile(r"session_(\d+)")  # not session_N_date_time


@dataclass(frozen=True, slots=True)
class Conversation:
    """One conversation to import: frames, and probes as (question, indexes of evidence frames)."""

    name: str
    namespace: str
    frames: list[Frame]
    probes: list[tuple[str, list[int]]]


@dataclass(frozen=True, slots=True)
class ImportResult:
    name: str
    namespace: str
    messages: int
    pages: int
    probes: int
    session_path: Path


class _ChatLine(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: str = Field(min_length=1)
    content: str


def _fail(path: Path, where: str, problem: str) -> InvalidArgument:
    return InvalidArgument(f"cannot import {path}: {where}: {problem}")


def read_chat(path: Path) -> list[Conversation]:
    """A chat JSONL file as one conversation."""
    frames = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"cannot read {path}: {exc}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if isinstance(data, dict) and "content" not in data and "text" in data:
                data = {**data, "content": data["text"]}
            parsed = _ChatLine.model_validate(data)
        except json.JSONDecodeError as exc:
            raise _fail(path, f"line {number}", f"not JSON ({exc.msg})") from None
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(part) for part in first["loc"]) or "(line)"
            raise _fail(path, f"line {number}", f"{field}: {first['msg']}") from None
        frames.append(Frame(parsed.role, parsed.content))
    if not frames:
        raise _fail(path, "file", "no messages")
    return [Conversation(path.stem, "default", frames, [])]


def read_locomo(path: Path) -> list[Conversation]:
    """A LoCoMo-format JSON file: a list of conversations with their questions."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"cannot read {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise _fail(path, f"line {exc.lineno}", f"not JSON ({exc.msg})") from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not data:
        raise _fail(path, "file", "expected a list of LoCoMo conversations")
    return [_locomo_conversation(path, index, sample) for index, sample in enumerate(data)]


def _locomo_conversation(path: Path, index: int, sample: Any) -> Conversation:
    where = f"conversation {index}"
    if not isinstance(sample, dict) or not isinstance(sample.get("conversation"), dict):
        raise _fail(path, where, "missing 'conversation' mapping")
    talk = sample["conversation"]
    sample_id = str(sample.get("sample_id", f"conv-{index}"))
    speaker_a = talk.get("speaker_a")
    numbers = sorted(int(match[1]) for key in talk if (match := _SESSION_KEY.fullmatch(key)))
    frames: list[Frame] = []
    by_dialogue: dict[str, int] = {}
    for number in numbers:
        turns = talk[f"session_{number}"]
        if not isinstance(turns, list):
            raise _fail(path, f"{where} session_{number}", "expected a list of turns")
        for position, turn in enumerate(turns):
            if not isinstance(turn, dict) or not isinstance(turn.get("text"), str) or "speaker" not in turn:
                raise _fail(path, f"{where} session_{number} turn {position}", "needs 'speaker' and 'text'")
            text = f"{turn['speaker']}: {turn['text']}"
            if isinstance(turn.get("blip_caption"), str):
                text += f" [shares a photo: {turn['blip_caption']}]"
            dialogue = str(turn.get("dia_id", f"D{number}:{position + 1}"))
            by_dialogue[dialogue] = len(frames)
            role = "user" if turn["speaker"] == speaker_a else "assistant"
            frames.append(Frame(role, text, metadata={"tags": [dialogue]}))
    if not frames:
        raise _fail(path, where, "no turns")
    probes = []
    for number, qa in enumerate(sample.get("qa", [])):
        if not isinstance(qa, dict) or not isinstance(qa.get("question"), str):
            raise _fail(path, f"{where} qa {number}", "needs a 'question'")
        evidence = [by_dialogue[d] for d in qa.get("evidence", []) if isinstance(d, str) and d in by_dialogue]
        if evidence:
            probes.append((qa["question"], evidence))
    return Conversation(f"locomo_{sample_id}", sample_id, frames, probes)


def import_file(
    path: Path,
    *,
    store: Path | str,
    sessions_dir: Path,
    policy: PolicyConfig,
    format: str = "auto",
    limit: int | None = None,
    progress: Progress | None = None,
) -> list[ImportResult]:
    """Import ``path`` into ``store`` (a directory, created if missing, or a ``postgresql://`` URI) and write
    one session per conversation."""
    if format == "auto":
        format = "locomo" if path.suffix.lower() == ".json" else "chat"
    if format not in ("locomo", "chat"):
        raise InvalidArgument(f"unknown import format {format!r}: use locomo or chat")
    if limit is not None and limit < 1:
        raise InvalidArgument(f"--limit must be >= 1, got {limit}")
    conversations = read_locomo(path) if format == "locomo" else read_chat(path)
    conversations = conversations[:limit] if limit is not None else conversations
    if not is_postgres_uri(store):
        store = Path(store)
        if store.exists() and not store.is_dir():
            raise InvalidArgument(f"store path {store} is a file, not a directory")
    total = sum(len(conversation.frames) for conversation in conversations)
    done = 0
    results = []
    sessions_dir.mkdir(parents=True, exist_ok=True)
    with open_store(store) as swap:
        for conversation in conversations:
            session_path = sessions_dir / f"{conversation.name}.jsonl"
            recorder = SessionRecorder(session_path, name=conversation.name, policy=policy, overwrite=True)
            mmu = MemoryManager.from_policy(policy, store=swap, namespace=conversation.namespace, record=recorder)
            ids: list[list[str]] = []
            for start in range(0, len(conversation.frames), 500):
                batch = conversation.frames[start : start + 500]
                ids.extend([str(page_id) for page_id in frame_ids] for frame_ids in mmu.write_many(batch))
                done += len(batch)
                if progress is not None:
                    progress(done, total)
            for question, evidence in conversation.probes:
                recorder.probe(question, [ids[index][0] for index in evidence])
            mmu.flush()
            recorder.close()
            pages = sum(len(frame_ids) for frame_ids in ids)
            results.append(
                ImportResult(
                    conversation.name,
                    conversation.namespace,
                    len(conversation.frames),
                    pages,
                    len(conversation.probes),
                    session_path,
                )
            )
    return results
