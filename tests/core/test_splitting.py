from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nexint_core import InvalidArgument, get_tokenizer
from nexint_core.splitting import split_text
from tests.conftest import CountingTokenizer

TOKENIZER = get_tokenizer()


def test_splitting_short_text_is_one_page_counted_once(counting_tokenizer: CountingTokenizer) -> None:
    pieces = split_text("A short turn.", counting_tokenizer, 64)
    assert pieces == [("A short turn.", TOKENIZER.count("A short turn."))]
    assert counting_tokenizer.calls == 1


def test_splitting_prefers_sentence_boundaries() -> None:
    text = " ".join(f"Sentence number {i} talks about topic {i}." for i in range(20))
    pieces = split_text(text, TOKENIZER, 30)
    assert len(pieces) > 1
    for content, count in pieces:
        assert content.endswith(".")
        assert count == TOKENIZER.count(content) <= 30


def test_splitting_a_sentence_longer_than_a_page_is_cut_by_tokens() -> None:
    text = "word " * 500
    pieces = split_text(text, TOKENIZER, 50)
    assert all(count <= 50 for _, count in pieces)
    assert sum(count for _, count in pieces) >= 490


def test_splitting_rejects_zero_page_size() -> None:
    with pytest.raises(InvalidArgument):
        split_text("x", TOKENIZER, 7)


@given(st.text(max_size=400), st.integers(min_value=8, max_value=40))
def test_splitting_every_page_fits_and_counts_are_exact(text: str, page_size: int) -> None:
    pieces = split_text(text, TOKENIZER, page_size)
    for content, count in pieces:
        assert count <= page_size
        assert count == TOKENIZER.count(content)
    joined = "".join(content for content, _ in pieces)
    assert "".join(joined.split()) == "".join(text.split())
