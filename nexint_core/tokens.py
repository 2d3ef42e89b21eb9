"""Tokenizers: a protocol, and tiktoken encodings loaded without the network.

tiktoken fetches its BPE files on first use. nexint never lets it: the file is looked up, by
tiktoken's own cache key, in ``TIKTOKEN_CACHE_DIR``, ``DATA_GYM_CACHE_DIR``, tiktoken's default
cache, the copy of ``cl100k_base`` shipped in ``nexint_core/_data``, and copies bundled by installed
packages (llama-index-core ships ``cl100k_base`` and ``o200k_base``). If none has it,
:class:`~nexint_core.errors.TokenizerUnavailable` says how to fix it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, runtime_checkable

from nexint_core.errors import InvalidArgument, TokenizerUnavailable

__all__ = ["DEFAULT_ENCODING", "TiktokenTokenizer", "Tokenizer", "get_tokenizer", "tiktoken_search_dirs", "truncate"]

DEFAULT_ENCODING = "cl100k_base"
_SHIPPED_DIR = Path(__file__).parent / "_data" / "tiktoken_cache"
# Installed packages known to bundle tiktoken caches: (module, relative directory).
_BUNDLED = (("llama_index.core", "_static/tiktoken_cache"),)


@runtime_checkable
class Tokenizer(Protocol):
    """Counts, encodes and decodes text; must be deterministic."""

    name: str

    def count(self, text: str) -> int: ...

    def encode(self, text: str) -> list[int]: ...

    def decode(self, tokens: Sequence[int]) -> str: ...


def tiktoken_search_dirs() -> list[Path]:
    """Directories searched for BPE files, in order."""
    dirs: list[Path] = []
    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        value = os.environ.get(var)
        if value:
            dirs.append(Path(value))
    dirs.append(Path(tempfile.gettempdir()) / "data-gym-cache")
    dirs.append(_SHIPPED_DIR)
    for module, relative in _BUNDLED:
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.submodule_search_locations:
            for location in spec.submodule_search_locations:
                dirs.append(Path(location) / relative)
    return dirs


def _offline_reader(encoding: str) -> Callable[[str, str | None], bytes]:
    def read(blobpath: str, expected_hash: str | None = None) -> bytes:
        if "://" not in blobpath:
            return Path(blobpath).read_bytes()
        key = hashlib.sha1(blobpath.encode()).hexdigest()
        searched = tiktoken_search_dirs()
        for directory in searched:
            candidate = directory / key
            if candidate.is_file():
                data = candidate.read_bytes()
                if expected_hash is None or hashlib.sha256(data).hexdigest() == expected_hash:
                    return data
        places = "\n  ".join(str(d) for d in searched)
        raise TokenizerUnavailable(
            f"tiktoken encoding {encoding!r} is not available offline: no file {key} "
            f"(the cache copy of {blobpath}) in any of:\n  {places}\n"
            "Fix: download that URL once and save it under that name in a directory named by "
            "TIKTOKEN_CACHE_DIR, or `pip install llama-index-core` (it bundles cl100k_base and "
            "o200k_base), or pass allow_download=True."
        )

    return read


_load_lock = threading.Lock()


@contextmanager
def _no_network(encoding: str) -> Iterator[None]:
    import tiktoken.load

    original = tiktoken.load.read_file_cached
    setattr(tiktoken.load, "read_file_cached", _offline_reader(encoding))  # noqa: B010 (patched on purpose)
    try:
        yield
    finally:
        setattr(tiktoken.load, "read_file_cached", original)  # noqa: B010


_LINE_ADDITIVE = frozenset({"cl100k_base"})  # not o200k: its punctuation pre-token takes "\n/" across a line


class TiktokenTokenizer:
    """A tiktoken encoding (``cl100k_base`` by default) that never downloads unless allowed."""

    __slots__ = ("_encoding", "line_additive", "name")

    def __init__(self, encoding: str = DEFAULT_ENCODING, *, allow_download: bool = False) -> None:
        if not isinstance(encoding, str) or not encoding:
            raise InvalidArgument(f"encoding must be a non-empty string, got {encoding!r}")
        import tiktoken

        with _load_lock:
            try:
                if allow_download:
                    self._encoding = tiktoken.get_encoding(encoding)
                else:
                    with _no_network(encoding):
                        self._encoding = tiktoken.get_encoding(encoding)
            except ValueError as exc:  # tiktoken: unknown encoding name
                raise InvalidArgument(f"unknown tiktoken encoding {encoding!r}: {exc}") from None
        self.name = encoding
        # This encoding's pre-tokenizer never merges a line break with a following non-space character,
        # so text joined by line breaks counts as the sum of its lines (prompt assembly relies on it).
        self.line_additive = encoding in _LINE_ADDITIVE

    def count(self, text: str) -> int:
        return len(self._encoding.encode_ordinary(text))

    def encode(self, text: str) -> list[int]:
        return self._encoding.encode_ordinary(text)

    def decode(self, tokens: Sequence[int]) -> str:
        return self._encoding.decode(list(tokens))

    def __repr__(self) -> str:
        return f"TiktokenTokenizer({self.name!r})"


_cache: dict[str, TiktokenTokenizer] = {}


def get_tokenizer(name: str | Tokenizer | None = None) -> Tokenizer:
    """Resolve a tokenizer: an object passes through, a name is a tiktoken encoding (cached)."""
    if name is None:
        name = DEFAULT_ENCODING
    if not isinstance(name, str):
        if isinstance(name, Tokenizer):
            return name
        raise InvalidArgument(f"tokenizer must be an encoding name or a Tokenizer, got {name!r}")
    tokenizer = _cache.get(name)
    if tokenizer is None:
        tokenizer = _cache[name] = TiktokenTokenizer(name)
    return tokenizer


def truncate(text: str, max_tokens: int, tokenizer: Tokenizer) -> str:
    """``text`` cut to at most ``max_tokens`` tokens, never inside a character (the cut is recounted: a cut
    string can tokenize differently)."""
    if tokenizer.count(text) <= max_tokens:
        return text
    ids = tokenizer.encode(text)
    for keep in range(min(max_tokens, len(ids)), 0, -1):
        cut = tokenizer.decode(ids[:keep]).rstrip("\ufffd").rstrip()
        if tokenizer.count(cut) <= max_tokens:
            return cut
    return ""
