"""The o200k encoding, which nexint reads offline from the cache LlamaIndex bundles (the core ships cl100k only)."""

from __future__ import annotations

from nexint_core import TiktokenTokenizer, get_tokenizer


def test_tokens_o200k_resolves_from_an_installed_bundle() -> None:
    tokenizer = TiktokenTokenizer("o200k_base")
    assert tokenizer.count("Hello world") == 2


def test_tokens_o200k_is_not_line_additive() -> None:
    """o200k's punctuation pre-token takes line breaks and slashes after it, across a line."""
    tokenizer = get_tokenizer("o200k_base")
    assert not getattr(tokenizer, "line_additive", True)
    lines = ['[1?-"', "//."]
    assert tokenizer.count("\n".join(lines)) != tokenizer.count(lines[0] + "\n") + tokenizer.count(lines[1])
