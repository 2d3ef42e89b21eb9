"""``LLMSummarizer``: any LlamaIndex LLM as a nexint :class:`~nexint_core.Summarizer`."""

from __future__ import annotations

from collections.abc import Sequence

from llama_index.core.llms.llm import LLM

from nexint_core import InvalidArgument, Page, Tokenizer
from nexint_core.tokens import truncate

__all__ = ["DEFAULT_PROMPT", "LLMSummarizer"]

DEFAULT_PROMPT = (
    "Summarize this excerpt of a conversation in at most {max_words} words. Keep names, numbers, dates, "
    "decisions and stated facts; leave out small talk. Write plain sentences.\n\n{transcript}\n\nSummary:"
)


class LLMSummarizer:
    """Summarizes evicted spans with a LlamaIndex LLM (``llm.complete``); the answer is cut with the
    manager's tokenizer, so a summary never exceeds its token budget whatever the model writes.

    ``prompt`` is formatted with ``transcript`` (one ``role: text`` line per page), ``max_tokens`` and
    ``max_words``.

    >>> from llama_index.core.llms import MockLLM
    >>> from nexint_core import MemoryManager
    >>> from llama_index_nexint import LLMSummarizer
    >>> mmu = MemoryManager(300, summarizer=LLMSummarizer(MockLLM(max_tokens=500)), summary_span=4)
    >>> for i in range(60):
    ...     _ = mmu.write("user", f"Message {i} about the garden and the weather.")
    >>> summaries = mmu.pages("summary")
    >>> bool(summaries) and all(page.tokens <= mmu.summary_budget // 2 for page in summaries)
    True
    """

    def __init__(self, llm: LLM, *, prompt: str = DEFAULT_PROMPT) -> None:
        if "{transcript}" not in prompt:
            raise InvalidArgument("the summary prompt must contain {transcript}")
        self.llm = llm
        self.prompt = prompt

    def summarize(self, pages: Sequence[Page], max_tokens: int, tokenizer: Tokenizer) -> str:
        transcript = "\n".join(f"{page.role}: {page.content}" for page in pages)
        request = self.prompt.format(
            transcript=transcript, max_tokens=max_tokens, max_words=max(1, max_tokens * 3 // 4)
        )
        return truncate(self.llm.complete(request).text.strip(), max_tokens, tokenizer)
