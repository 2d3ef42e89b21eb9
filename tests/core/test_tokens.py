from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nexint_core import InvalidArgument, TiktokenTokenizer, TokenizerUnavailable, get_tokenizer
from nexint_core import tokens as tokens_module
from nexint_core.tokens import truncate


def test_tokens_default_is_cl100k_and_counts_offline() -> None:
    tokenizer = get_tokenizer()
    assert tokenizer.name == "cl100k_base"
    assert tokenizer.count("Hello world") == 2
    assert tokenizer.decode(tokenizer.encode("Explain quantum physics.")) == "Explain quantum physics."


def test_tokens_special_token_text_is_ordinary_text() -> None:
    assert get_tokenizer().count("<|endoftext|>") > 1


def test_tokens_shipped_copy_loads_with_every_other_source_empty(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import tiktoken.registry

    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(tokens_module, "_BUNDLED", ())
    monkeypatch.setattr(tokens_module.tempfile, "gettempdir", lambda: str(tmp_path))
    assert TiktokenTokenizer("cl100k_base").count("Hello world") == 2


def test_tokens_missing_encoding_raises_typed_error_with_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import tiktoken.registry

    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(tokens_module, "_BUNDLED", ())
    monkeypatch.setattr(tokens_module, "_SHIPPED_DIR", tmp_path / "none")
    monkeypatch.setattr(tokens_module.tempfile, "gettempdir", lambda: str(tmp_path))
    with pytest.raises(TokenizerUnavailable) as info:
        TiktokenTokenizer("o200k_base")
    assert info.value.code == "TOKENIZER_UNAVAILABLE"
    assert "TIKTOKEN_CACHE_DIR" in str(info.value)
    assert "llama-index-core" in str(info.value)


def test_tokens_cache_dir_is_honoured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import tiktoken.registry

    shipped = next((tokens_module._SHIPPED_DIR).iterdir())
    (tmp_path / shipped.name).write_bytes(shipped.read_bytes())
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(tokens_module, "_SHIPPED_DIR", tmp_path / "none")
    monkeypatch.setattr(tokens_module, "_BUNDLED", ())
    assert tokens_module.tiktoken_search_dirs()[0] == tmp_path
    assert TiktokenTokenizer().count("Hello world") == 2


def test_tokens_unknown_encoding_name_is_invalid_argument() -> None:
    with pytest.raises(InvalidArgument, match="unknown tiktoken encoding"):
        TiktokenTokenizer("no_such_encoding")


def test_tokens_get_tokenizer_rejects_non_tokenizers() -> None:
    with pytest.raises(InvalidArgument):
        get_tokenizer(42)  # type: ignore[arg-type]


_FRAGMENTS = [*"ab Zé1 .,!?'\"-:;[]()/#\n\r\t", "'s", "日本", "🙂", "  ", "\n\n", "//"]
_TEXT = st.lists(st.sampled_from(_FRAGMENTS), max_size=12).map("".join)
_START = st.sampled_from([*"A[u(.'1é🙂#/-", "user:", "[MSG-000001]", "##"])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(_START, _TEXT), min_size=1, max_size=6))
def test_tokens_cl100k_counts_lines_that_start_with_a_non_space_additively(parts: list[tuple[str, str]]) -> None:
    """What prompt assembly relies on: a text joined by line breaks counts as the sum of its lines, each
    counted with its line break, when every line after the first starts with a non-space character."""
    tokenizer = get_tokenizer("cl100k_base")
    assert getattr(tokenizer, "line_additive", False)
    lines = [start + rest for start, rest in parts]
    whole = tokenizer.count("\n".join(lines))
    assert whole == sum(tokenizer.count(line + "\n") for line in lines[:-1]) + tokenizer.count(lines[-1])


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["[MSG-000123]", "user:", "assistant:", "[TOL-000004]", "[S-12]"]), _TEXT, _START)
def test_tokens_cl100k_counts_a_labelled_line_as_label_plus_text(label: str, text: str, following: str) -> None:
    """A prompt line is a label (ending in punctuation), a space and the text: its count splits there."""
    tokenizer = get_tokenizer("cl100k_base")
    whole = tokenizer.count(f"{label} {text}\n{following}")
    assert whole == tokenizer.count(label) + tokenizer.count(f" {text}\n") + tokenizer.count(following)


@pytest.mark.parametrize(
    "text", ["Lisboa é linda 🌊🌊🌊 e o café é ótimo. " * 20, "Vielen Dank für die Blumen! 🌷 " * 40]
)
def test_tokens_truncate_cuts_to_the_budget_never_inside_a_character(text: str) -> None:
    tokenizer = get_tokenizer()
    for limit in [*range(1, 40), 100]:
        cut = truncate(text, limit, tokenizer)
        assert tokenizer.count(cut) <= limit
        assert "\ufffd" not in cut
        assert text.startswith(cut)
    assert truncate("short", 10, tokenizer) == "short"
    assert truncate(text, 0, tokenizer) == ""
