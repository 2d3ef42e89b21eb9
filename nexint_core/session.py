"""Recorded sessions: the inputs of a run (messages, queries, probes, policy, seeds) as JSONL.

The first line is a header; each further line is one record::

    {"type": "header", "format": "nexint-session", "version": 1, "name": "session_01", "nexint": "0.1.0",
     "policy": {...}, "seed": 0, "clock_start": "2026-01-01T10:00:00Z", "clock_step": 1.0}
    {"type": "message", "role": "user", "text": "...", "importance": 0.5, "ids": ["MSG-000001"]}
    {"type": "query", "text": "..."}
    {"type": "probe", "question": "...", "expect": ["MSG-000001"]}

A :class:`SessionRecorder` writes one as a side effect of normal use (``MemoryManager(record=...)``);
:func:`load_session` reads one back, validating every line with pydantic.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from nexint_core.config import PolicyConfig
from nexint_core.errors import InvalidArgument

__all__ = [
    "BUNDLED_SESSIONS",
    "Header",
    "Message",
    "Probe",
    "Query",
    "Session",
    "SessionRecorder",
    "list_sessions",
    "load_session",
    "resolve_session",
]

BUNDLED_SESSIONS = Path(__file__).parent / "_data" / "sessions"
_STRICT = ConfigDict(extra="forbid", frozen=True)


class Header(BaseModel):
    """What a replay needs besides the records: the policy, the seed and the clock."""

    model_config = _STRICT

    type: Literal["header"] = "header"
    format: Literal["nexint-session"] = "nexint-session"
    version: Literal[1] = 1
    name: str = Field(min_length=1)
    nexint: str = "unknown"
    policy: PolicyConfig = Field(default_factory=lambda: PolicyConfig())
    seed: int = 0
    clock_start: str = "2026-01-01T10:00:00Z"
    clock_step: float = Field(default=1.0, gt=0)
    description: str = ""


class Message(BaseModel):
    """A frame written to memory."""

    model_config = _STRICT

    type: Literal["message"] = "message"
    role: str = Field(min_length=1)
    text: str
    importance: float = Field(default=0.5, ge=0, le=1)
    group: str | None = None
    pin: bool = False
    quarantined: bool = False
    tags: list[str] = Field(default_factory=list)
    ids: list[str] = Field(default_factory=list)  # the page ids it got when recorded (informative)


class Query(BaseModel):
    """A turn's query: page-in and prompt assembly."""

    model_config = _STRICT

    type: Literal["query"] = "query"
    text: str


class Probe(BaseModel):
    """A recall check: a question and the memory ids its prompt should carry."""

    model_config = _STRICT

    type: Literal["probe"] = "probe"
    question: str = Field(min_length=1)
    expect: list[str] = Field(min_length=1)


Record = Annotated[Message | Query | Probe, Field(discriminator="type")]
_RECORD: TypeAdapter[Message | Query | Probe] = TypeAdapter(Record)


@dataclass(frozen=True)
class Session:
    """A loaded session: its header and records, and where it came from."""

    header: Header
    records: tuple[Message | Query | Probe, ...]
    path: Path | None = None

    @property
    def name(self) -> str:
        return self.header.name

    def counts(self) -> dict[str, int]:
        """Records per type."""
        out = {"message": 0, "query": 0, "probe": 0}
        for record in self.records:
            out[record.type] += 1
        return out


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "(record)"
    return f"{field}: {first['msg']} (got {first.get('input')!r})"


def load_session(path: str | os.PathLike[str]) -> Session:
    """Read and validate a session file; any problem is an :class:`InvalidArgument` naming the line."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError as exc:
        raise InvalidArgument(f"cannot read session {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InvalidArgument(f"session {path} is not UTF-8 text") from None
    numbered = [(number, line) for number, line in enumerate(lines, start=1) if line.strip()]
    if not numbered:
        raise InvalidArgument(f"session {path} is empty")
    parsed: list[Any] = []
    for number, line in numbered:
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise InvalidArgument(f"session {path} line {number} is not JSON: {exc.msg}") from None
    number, first = numbered[0][0], parsed[0]
    if not isinstance(first, dict) or first.get("type") != "header":
        raise InvalidArgument(f"session {path} line {number}: the first record must be the header")
    try:
        header = Header.model_validate(first)
    except ValidationError as exc:
        raise InvalidArgument(f"session {path} line {number}: {_describe(exc)}") from None
    records = []
    for (number, _), data in zip(numbered[1:], parsed[1:], strict=True):
        try:
            records.append(_RECORD.validate_python(data))
        except ValidationError as exc:
            raise InvalidArgument(f"session {path} line {number}: {_describe(exc)}") from None
    return Session(header, tuple(records), path)


def list_sessions(directories: Sequence[Path] = ()) -> list[Path]:
    """Session files in ``directories`` and the bundled ones, by name."""
    found: dict[str, Path] = {}
    for directory in (*directories, BUNDLED_SESSIONS):
        if directory.is_dir():
            for path in sorted(directory.glob("*.jsonl")):
                found.setdefault(path.stem, path)
    return [found[name] for name in sorted(found)]


def resolve_session(spec: str, directories: Sequence[Path] = ()) -> Path:
    """A session by path, or by name among ``directories`` and the bundled sessions."""
    path = Path(spec)
    if path.suffix == ".jsonl" or os.sep in spec or path.exists():
        return path
    for candidate in list_sessions(directories):
        if candidate.stem == spec:
            return candidate
    known = ", ".join(candidate.stem for candidate in list_sessions(directories)) or "none"
    raise InvalidArgument(f"no session named {spec!r} (known: {known})")


class SessionRecorder:
    """Appends a session's records to a JSONL file as they happen (flushed per record)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        name: str | None = None,
        policy: PolicyConfig | None = None,
        overwrite: bool = False,
        **header: Any,
    ) -> None:
        from nexint_core import __version__

        self.path = Path(path)
        self.header = Header(name=name or self.path.stem, nexint=__version__, policy=policy or PolicyConfig(), **header)
        try:
            self._handle: IO[str] | None = open(self.path, "w" if overwrite else "x", encoding="utf-8")  # noqa: SIM115
        except FileExistsError:
            raise InvalidArgument(f"session {self.path} exists; pass overwrite=True to replace it") from None
        except OSError as exc:
            raise InvalidArgument(f"cannot record a session to {self.path}: {exc.strerror or exc}") from None
        self._emit(self.header.model_dump(mode="json"))

    def _emit(self, data: dict[str, Any]) -> None:
        if self._handle is None:
            raise InvalidArgument(f"session recorder {self.path} is closed")
        self._handle.write(json.dumps(data, ensure_ascii=False, sort_keys=True) + "\n")
        self._handle.flush()

    def message(self, role: str, text: str, ids: Sequence[str], **options: Any) -> None:
        record = Message(role=role, text=text, ids=list(ids), **options)
        self._emit({"type": "message", **record.model_dump(mode="json", exclude_defaults=True)})

    def query(self, text: str) -> None:
        self._emit(Query(text=text).model_dump(mode="json"))

    def probe(self, question: str, expect: Sequence[str]) -> None:
        """Record a recall check: ``question`` should bring back the memory ids in ``expect``."""
        self._emit(Probe(question=question, expect=list(expect)).model_dump(mode="json"))

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> SessionRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
