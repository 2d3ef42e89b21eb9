"""Summaries of evicted spans: a protocol and the default deterministic extractive summarizer."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from nexint_core.embedders import content_words
from nexint_core.pages import SUMMARY_ROLE, Page
from nexint_core.tokens import Tokenizer

__all__ = ["ExtractiveSummarizer", "Summarizer"]

_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


@runtime_checkable
class Summarizer(Protocol):
    """Writes a summary of ``pages`` in at most ``max_tokens`` tokens."""

    def summarize(self, pages: Sequence[Page], max_tokens: int, tokenizer: Tokenizer) -> str: ...


class ExtractiveSummarizer:
    """Keeps the sentences whose content words recur most in the span, in their original order.

    Deterministic and model-free; every sentence is prefixed with its page's role so the summary
    reads as a transcript excerpt.
    """

    def summarize(self, pages: Sequence[Page], max_tokens: int, tokenizer: Tokenizer) -> str:
        sentences: list[tuple[int, str]] = []
        for page in pages:
            for part in _SENTENCE.split(page.content):
                part = part.strip()
                if part:  # a summary's lines already carry their roles
                    sentences.append((len(sentences), part if page.role == SUMMARY_ROLE else f"{page.role}: {part}"))
        weights = Counter(word for _, text in sentences for word in set(content_words(text)))
        ranked = sorted(
            sentences,
            key=lambda item: (-sum(weights[w] for w in set(content_words(item[1]))) / (1 + len(item[1]) / 80), item[0]),
        )
        chosen: list[tuple[int, str]] = []
        used = 0
        for position, text in ranked:
            cost = tokenizer.count(text) + 1
            if used + cost > max_tokens:
                continue
            chosen.append((position, text))
            used += cost
        return "\n".join(text for _, text in sorted(chosen))
