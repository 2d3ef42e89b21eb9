"""SummarizerContract: every summarizer, the core's and the adapters' (driven by the frameworks' own fake
models), writes a deterministic summary within ``max_tokens`` of the tokenizer it is given."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel, ParrotFakeChatModel
from llama_index.core.llms import MockLLM

from langchain_nexint import ChatModelSummarizer
from llama_index_nexint import LLMSummarizer
from nexint_core import ExtractiveSummarizer, Page, PageId, Summarizer, Tokenizer, get_tokenizer
from tests.contracts import public_classes

LONG_REPLY = "The user hiked the ridge trail, which was muddy, and checked the trail report. " * 30

FACTORIES: dict[str, Callable[[], Summarizer]] = {
    "extractive": ExtractiveSummarizer,
    "llama-index MockLLM, echo": lambda: LLMSummarizer(MockLLM()),  # answers with its prompt
    "llama-index MockLLM, 600 tokens": lambda: LLMSummarizer(MockLLM(max_tokens=600)),
    "langchain FakeListChatModel": lambda: ChatModelSummarizer(FakeListChatModel(responses=[LONG_REPLY])),
    "langchain ParrotFakeChatModel": lambda: ChatModelSummarizer(ParrotFakeChatModel()),  # answers the transcript
}
SPAN = [
    Page(
        PageId("MSG-000001"),
        "We hiked the ridge trail on Saturday. The trail was muddy after the rain. Lunch was at the hut.",
        role="user",
    ),
    Page(
        PageId("MSG-000002"),
        "The ridge trail is closed in winter! Check the trail report first.\nBring boots. 🥾",
        role="assistant",
    ),
    Page(PageId("TOL-000001"), "trail report: ridge trail open, mud warning.", role="tool"),
]
NOTHING: list[Sequence[Page]] = [[], [Page(PageId("MSG-000009"), "  \n ")]]


class Characters:
    """A tokenizer with one token per character: budgets are not cl100k's."""

    name = "characters"

    def count(self, text: str) -> int:
        return len(text)

    def encode(self, text: str) -> list[int]:
        return [ord(char) for char in text]

    def decode(self, tokens: Sequence[int]) -> str:
        return "".join(chr(token) for token in tokens)


TOKENIZERS: dict[str, tuple[Tokenizer, range]] = {  # a tokenizer and the budgets tried with it
    "cl100k": (get_tokenizer(), range(0, 90, 3)),
    "characters": (Characters(), range(0, 400, 13)),
}


@pytest.fixture(params=sorted(FACTORIES))
def make(request: pytest.FixtureRequest) -> Callable[[], Summarizer]:
    return FACTORIES[request.param]


@pytest.fixture
def summarizer(make: Callable[[], Summarizer]) -> Summarizer:
    return make()


class TestSummarizerContract:
    def test_summarizer_implements_the_protocol(self, summarizer: Summarizer) -> None:
        assert isinstance(summarizer, Summarizer)

    @pytest.mark.parametrize("tokenizer_name", sorted(TOKENIZERS))
    def test_summarizer_fits_max_tokens_of_the_given_tokenizer(
        self, summarizer: Summarizer, tokenizer_name: str
    ) -> None:
        tokenizer, budgets = TOKENIZERS[tokenizer_name]
        for max_tokens in budgets:
            summary = summarizer.summarize(SPAN, max_tokens, tokenizer)
            assert isinstance(summary, str)
            assert tokenizer.count(summary) <= max_tokens, (max_tokens, summary)

    def test_summarizer_of_a_span_with_room_says_something(self, summarizer: Summarizer) -> None:
        assert summarizer.summarize(SPAN, 200, get_tokenizer()).strip()

    def test_summarizer_is_deterministic_across_calls_and_instances(
        self, make: Callable[[], Summarizer], summarizer: Summarizer
    ) -> None:
        tokenizer = get_tokenizer()
        first = summarizer.summarize(SPAN, 30, tokenizer)
        assert summarizer.summarize(SPAN, 30, tokenizer) == first
        assert make().summarize(SPAN, 30, tokenizer) == first

    @pytest.mark.parametrize("pages", NOTHING, ids=["no pages", "blank page"])
    @pytest.mark.parametrize("max_tokens", [0, 40])
    def test_summarizer_of_nothing_is_a_string_within_the_budget(
        self, summarizer: Summarizer, pages: Sequence[Page], max_tokens: int
    ) -> None:
        tokenizer = get_tokenizer()
        summary = summarizer.summarize(pages, max_tokens, tokenizer)
        assert isinstance(summary, str)
        assert tokenizer.count(summary) <= max_tokens


def test_summarizer_contract_covers_every_summarizer() -> None:
    assert {type(make()) for make in FACTORIES.values()} == public_classes(Summarizer)
    assert len(public_classes(Summarizer)) == 3
