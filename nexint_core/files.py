"""Index files saved atomically with a SHA-256 trailer, so a crash never leaves a half-written one in place
and damage is detected on load."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from nexint_core.errors import StoreCorrupted

__all__ = ["save_checked", "verify_checked"]


def save_checked(path: Path, write: Callable[[Path], None], magic: bytes) -> None:
    """``write(tmp)`` fills a temporary file; its SHA-256 and ``magic`` are appended, it is fsynced and
    renamed over ``path``, and the directory is fsynced so the rename is durable."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        digest = _sha256(tmp, tmp.stat().st_size)
        with open(tmp, "ab") as handle:
            handle.write(digest + magic)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def verify_checked(path: Path, magic: bytes, what: str) -> int:
    """The length of the body of a file :func:`save_checked` wrote; :class:`StoreCorrupted` if it is damaged."""
    try:
        size = path.stat().st_size - len(magic) - 32
        with open(path, "rb") as handle:
            handle.seek(max(size, 0))
            trailer = handle.read()
        intact = size > 0 and trailer[32:] == magic and _sha256(path, size) == trailer[:32]
    except OSError as exc:
        raise StoreCorrupted(f"{what} {path} is unreadable: {exc}") from None
    if not intact:
        raise StoreCorrupted(f"{what} {path} is damaged (checksum mismatch)")
    return size


def _sha256(path: Path, size: int) -> bytes:
    """SHA-256 of the first ``size`` bytes of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        remaining = size
        while remaining > 0:
            block = handle.read(min(remaining, 1 << 20))
            if not block:
                break
            digest.update(block)
            remaining -= len(block)
    return digest.digest()
