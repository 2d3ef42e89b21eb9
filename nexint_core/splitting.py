"""Split a frame's text into pages of at most ``page_size`` tokens, at sentence boundaries."""

from __future__ import annotations

import re

from nexint_core.errors import InvalidArgument
from nexint_core.tokens import Tokenizer

__all__ = ["MIN_PAGE_SIZE", "split_text"]

MIN_PAGE_SIZE = 8  # room for any character (at most 4 byte tokens) on both sides of a cut

# A sentence ends at terminal punctuation (plus closing quotes/brackets) followed by space, or at a newline.
_BOUNDARY = re.compile(r"[.!?\u3002\uff01\uff1f]+[\"')\]\u201d\u2019]*\s+|\n\s*")


def _sentences(text: str) -> list[str]:
    pieces: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        pieces.append(text[start : match.end()])
        start = match.end()
    if start < len(text):
        pieces.append(text[start:])
    return pieces


def _hard_split(text: str, tokenizer: Tokenizer, page_size: int) -> list[tuple[str, int]]:
    """Cut by tokens where no sentence boundary helps; every piece is recounted once."""
    ids = tokenizer.encode(text)
    out: list[tuple[str, int]] = []
    start = 0
    while start < len(ids):
        step = _clean_cut(ids, start, min(page_size, len(ids) - start), tokenizer)
        while True:
            chunk = tokenizer.decode(ids[start : start + step]).strip()
            count = tokenizer.count(chunk)
            if count <= page_size or step == 1:
                break
            step = _clean_cut(ids, start, max(1, step - (count - page_size)), tokenizer)
        if chunk:
            out.append((chunk, count))
        start += step
    return out


def _clean_cut(ids: list[int], start: int, step: int, tokenizer: Tokenizer) -> int:
    """Shorten ``step`` so the cut does not fall inside a multi-byte character.

    A character is at most 4 bytes, so at most 3 tokens end inside one: backing off 4 always finds
    a clean cut when ``step`` is at least ``MIN_PAGE_SIZE``.
    """
    if start + step >= len(ids):
        return step
    for candidate in range(step, max(0, step - 4), -1):
        cut = start + candidate
        left = tokenizer.decode(ids[max(start, cut - 4) : cut])
        right = tokenizer.decode(ids[cut : cut + 4])
        if not left.endswith("\ufffd") and not right.startswith("\ufffd"):
            return candidate
    return step


def split_text(text: str, tokenizer: Tokenizer, page_size: int) -> list[tuple[str, int]]:
    """Return ``(content, tokens)`` pieces; a text that fits is counted exactly once."""
    if page_size < MIN_PAGE_SIZE:
        raise InvalidArgument(f"page_size must be at least {MIN_PAGE_SIZE} tokens, got {page_size}")
    total = tokenizer.count(text)
    if total <= page_size:
        return [(text, total)]
    out: list[tuple[str, int]] = []
    buffer: list[str] = []
    buffered = 0

    def flush() -> None:
        nonlocal buffered
        if buffer:
            content = "".join(buffer).strip()
            buffer.clear()
            buffered = 0
            if content:
                count = tokenizer.count(content)
                if count <= page_size:
                    out.append((content, count))
                else:
                    out.extend(_hard_split(content, tokenizer, page_size))

    for sentence in _sentences(text):
        count = tokenizer.count(sentence)
        if count > page_size:
            flush()
            out.extend(_hard_split(sentence, tokenizer, page_size))
            continue
        if buffered + count > page_size:
            flush()
        buffer.append(sentence)
        buffered += count
    flush()
    return out
