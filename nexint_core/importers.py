"""Import conversations into a store and a recorded session: LoCoMo JSON, or a chat JSONL.

The whole input is read and validated before anything is written, so a bad file changes nothing.
LoCoMo: each conversation goes to its own namespace (its ``sample_id``, after ``PREFIX/`` when a namespace
is given) and session (``locomo_<sample_id>``); speaker A's turns are ``user`` frames and speaker B's
``assistant`` frames, tagged with their dialogue ids, and each question becomes a probe expecting the pages
of its evidence. Chat JSONL: one ``{"role": ..., "content": ...}`` object per line, into one namespace
(``default`` unless given); ``content`` is a string or a list of content blocks (OpenAI and Anthropic
exports), whose ``text`` blocks are joined and whose other blocks (images, tool calls) are skipped.

Importing is idempotent: each message's pages carry an import key (:func:`message_keys`), a hash of the
message and of every message before it in its conversation. Messages whose key the namespace already holds
are not written again, so importing a file twice adds nothing, and importing it after messages were appended
adds only those (an import cut short resumes where it stopped).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nexint_core.config import PolicyConfig
from nexint_core.errors import InvalidArgument
from nexint_core.manager import MemoryManager
from nexint_core.pages import Frame
from nexint_core.session import SessionRecorder
from nexint_core.stores import StoreBase, is_postgres_uri, open_store

__all__ = ["IMPORT_KEY", "ImportResult", "import_file", "message_keys", "read_chat", "read_locomo"]

IMPORT_KEY = "import"  # the page metadata that holds the import key of the message the page is part of

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
    """One conversation imported: ``messages`` and ``pages`` written now, ``already`` messages found imported
    before (and not written again)."""

    name: str
    namespace: str
    messages: int
    pages: int
    probes: int
    session_path: Path
    already: int = 0


class _ChatLine(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: str = Field(min_length=1)
    content: Any  # a string or a list of content blocks, read by _chat_text


def _chat_text(path: Path, number: int, content: Any) -> str:
    """The text of a chat line's ``content``: the string, or its text blocks joined (other blocks skipped)."""
    where = f"line {number}"
    texts: list[str] = []
    skipped: list[str] = []  # the types of the blocks that are not text
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, list):
        for index, block in enumerate(content):
            if isinstance(block, str):
                texts.append(block)
            elif not isinstance(block, dict) or not isinstance(block.get("type"), str):
                raise _fail(path, where, f"content.{index}: expected a content block with a 'type'")
            elif block["type"] != "text":
                skipped.append(block["type"])
            elif not isinstance(block.get("text"), str):
                raise _fail(path, where, f"content.{index}.text: a text block needs a string 'text'")
            else:
                texts.append(block["text"])
    else:
        raise _fail(path, where, "content: expected a string or a list of content blocks")
    text = "\n".join(part for part in texts if part.strip())
    if not text:
        kinds = f" (only {', '.join(dict.fromkeys(skipped))} blocks)" if skipped else ""
        raise _fail(path, where, f"content has no text{kinds}")
    return text


def _fail(path: Path, where: str, problem: str) -> InvalidArgument:
    return InvalidArgument(f"cannot import {path}: {where}: {problem}")


def read_chat(path: Path, namespace: str = "default") -> list[Conversation]:
    """A chat JSONL file as one conversation, in ``namespace``."""
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
        frames.append(Frame(parsed.role, _chat_text(path, number, parsed.content)))
    if not frames:
        raise _fail(path, "file", "no messages")
    return [Conversation(path.stem, namespace, frames, [])]


def read_locomo(path: Path, prefix: str | None = None) -> list[Conversation]:
    """A LoCoMo-format JSON file: a list of conversations with their questions, each in the namespace of its
    ``sample_id`` (``prefix/sample_id`` with a prefix)."""
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
    conversations = [_locomo_conversation(path, index, sample) for index, sample in enumerate(data)]
    if prefix is None:
        return conversations
    return [Conversation(item.name, f"{prefix}/{item.namespace}", item.frames, item.probes) for item in conversations]


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


def message_keys(frames: Sequence[Frame]) -> list[str]:
    """Each message's import key: a hash of the message (role, text, metadata) and of all before it."""
    chain = hashlib.sha256()
    keys = []
    for frame in frames:
        record = [frame.role, frame.text, frame.group_id, frame.metadata]
        chain.update(json.dumps(record, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8") + b"\n")
        keys.append(chain.copy().hexdigest()[:32])
    return keys


def _imported(swap: StoreBase, namespace: str) -> dict[str, list[str]]:
    """The page ids of each import key the namespace holds, in the order the message's write returned them."""
    found: dict[str, list[tuple[bool, int, str]]] = {}
    for page in swap.scan([namespace]):
        key = page.metadata.get(IMPORT_KEY)
        if isinstance(key, str):  # an excerpt page comes first, then the pages it stands in for, in order
            found.setdefault(key, []).append(("excerpted" in page.metadata, page.part, page.id))
    return {key: [page_id for *_, page_id in sorted(pages)] for key, pages in found.items()}


def import_file(
    path: Path,
    *,
    store: Path | str,
    sessions_dir: Path,
    policy: PolicyConfig,
    format: str = "auto",
    limit: int | None = None,
    namespace: str | None = None,
    progress: Progress | None = None,
) -> list[ImportResult]:
    """Import ``path`` into ``store`` (a directory, created if missing, or a ``postgresql://`` URI) and write
    one session per conversation.

    ``namespace`` is where a chat JSONL goes (default ``default``), or the prefix of each LoCoMo
    conversation's namespace (``namespace/sample_id``). Messages imported before are not written again; a
    conversation with nothing new keeps its session file as it is (one is written if it is missing).
    """
    if format == "auto":
        format = "locomo" if path.suffix.lower() == ".json" else "chat"
    if format not in ("locomo", "chat"):
        raise InvalidArgument(f"unknown import format {format!r}: use locomo or chat")
    if limit is not None and limit < 1:
        raise InvalidArgument(f"--limit must be >= 1, got {limit}")
    if namespace is not None and not namespace.strip():
        raise InvalidArgument("--namespace must name a namespace, got an empty string")
    if format == "locomo":
        conversations = read_locomo(path, namespace)
    else:
        conversations = read_chat(path, namespace if namespace is not None else "default")
    conversations = conversations[:limit] if limit is not None else conversations
    if not is_postgres_uri(store):
        store = Path(store)
        if store.exists() and not store.is_dir():
            raise InvalidArgument(f"store path {store} is a file, not a directory")
    total = sum(len(conversation.frames) for conversation in conversations)
    done = 0
    results = []
    if sessions_dir.exists() and not sessions_dir.is_dir():
        raise InvalidArgument(f"sessions directory {sessions_dir} is a file, not a directory")
    # a damaged or read-only store is refused before anything is created
    with open_store(store, embedder=policy.embedder) as swap:
        sessions_dir.mkdir(parents=True, exist_ok=True)
        for conversation in conversations:
            frames, keys = conversation.frames, message_keys(conversation.frames)
            known = _imported(swap, conversation.namespace)
            already = next((index for index, key in enumerate(keys) if key not in known), len(keys))
            ids: list[list[str]] = [known[key] for key in keys[:already]]
            session_path = sessions_dir / f"{conversation.name}.jsonl"
            done += already
            if already == len(frames) and session_path.exists():
                if progress is not None:
                    progress(done, total)
                results.append(
                    ImportResult(
                        conversation.name, conversation.namespace, 0, 0, len(conversation.probes), session_path, already
                    )
                )
                continue
            recorder = SessionRecorder(session_path, name=conversation.name, policy=policy, overwrite=True)
            for frame, frame_ids in zip(frames[:already], ids, strict=True):  # as write_many records them
                tags = list(frame.metadata.get("tags", []))
                options = {"importance": 0.5, "group": frame.group_id, "pin": False, "quarantined": False}
                recorder.message(frame.role, frame.text, frame_ids, **options, tags=tags)
            if already < len(frames):
                mmu = MemoryManager.from_policy(policy, store=swap, namespace=conversation.namespace, record=recorder)
                fresh = [
                    Frame(frame.role, frame.text, frame.group_id, {**frame.metadata, IMPORT_KEY: key})
                    for frame, key in zip(frames[already:], keys[already:], strict=True)
                ]
                for start in range(0, len(fresh), 500):
                    batch = fresh[start : start + 500]
                    ids.extend([str(page_id) for page_id in frame_ids] for frame_ids in mmu.write_many(batch))
                    done += len(batch)
                    if progress is not None:
                        progress(done, total)
                mmu.flush()
            for question, evidence in conversation.probes:
                recorder.probe(question, [ids[index][0] for index in evidence])
            recorder.close()
            pages = sum(len(frame_ids) for frame_ids in ids[already:])
            results.append(
                ImportResult(
                    conversation.name,
                    conversation.namespace,
                    len(frames) - already,
                    pages,
                    len(conversation.probes),
                    session_path,
                    already,
                )
            )
    return results
