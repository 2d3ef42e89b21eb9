"""Faithful excerpts of texts too large for the room they have: the head and the tail, and a marker saying
how many tokens were left out and where the whole text is."""

from __future__ import annotations

from nexint_core.tokens import Tokenizer

__all__ = ["MIN_EXCERPT", "excerpt", "marker"]

MIN_EXCERPT = 24  # tokens: below this an excerpt says nothing but its marker


def marker(left_out: int, where: str = "") -> str:
    """The line standing in for what an excerpt leaves out."""
    place = f"; {where}" if where else ""
    return f"[... {left_out:,} tokens left out{place} ...]"


def excerpt(text: str, max_tokens: int, tokenizer: Tokenizer, *, where: str = "") -> tuple[str, int]:
    """``text`` if it fits ``max_tokens``, else its head and tail around a :func:`marker`; with the
    excerpt's tokens. The cuts fall on whitespace where there is any near them, so no word is split."""
    tokens = tokenizer.encode(text)
    if len(tokens) <= max_tokens:
        return text, len(tokens)
    note = marker(len(tokens), where)  # a first guess at its size: the count it names only shrinks
    keep = max(0, max_tokens - tokenizer.count(f"\n{note}\n") - 2)
    while True:
        head_n = (keep + 1) // 2
        tail_n = keep - head_n
        head = _cut_head(tokenizer.decode(tokens[:head_n]))
        tail = _cut_tail(tokenizer.decode(tokens[len(tokens) - tail_n :])) if tail_n else ""
        left = len(tokens) - tokenizer.count(head) - tokenizer.count(tail) if keep else len(tokens)
        note = marker(max(left, 0), where)
        result = "\n".join(part for part in (head, note, tail) if part)
        count = tokenizer.count(result)
        if count <= max_tokens:
            return result, count
        if keep == 0:
            if where:  # no room to say where: say only how much
                return excerpt(text, max_tokens, tokenizer)
            plain = _cut_head(tokenizer.decode(tokens[:max_tokens]))  # not even the marker fits: the head
            return plain, tokenizer.count(plain)
        keep = max(0, keep - (count - max_tokens) - 1)


def _cut_head(text: str) -> str:
    """The head without a partial last word (or a broken character)."""
    text = text.replace("\ufffd", "")
    cut = max(text.rfind(" "), text.rfind("\n"))
    return (text[:cut] if cut > len(text) // 2 else text).rstrip()


def _cut_tail(text: str) -> str:
    """The tail without a partial first word (or a broken character)."""
    text = text.replace("\ufffd", "")
    cuts = [i for i in (text.find(" "), text.find("\n")) if i >= 0]
    cut = min(cuts) if cuts else -1
    return (text[cut + 1 :] if 0 <= cut < len(text) // 2 else text).lstrip()
