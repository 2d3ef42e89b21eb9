from __future__ import annotations

from pathlib import Path

import pytest

from nexint_core import InvalidArgument, TiktokenTokenizer, TokenizerUnavailable, get_tokenizer
from nexint_core import tokens as tokens_module


def test_tokens_default_is_cl100k_and_counts_offline() -> None:
    tokenizer = get_tokenizer()
    assert tokenizer.name == "cl100k_base"
    assert tokenizer.count("Hello world") == 2
    assert tokenizer.decode(tokenizer.encode("Explain quantum physics.")) == "Explain quantum physics."


def test_tokens_special_token_text_is_ordinary_text() -> None:
    assert get_tokenizer().count("<|endoftext|>") > 1


def test_tokens_o200k_resolves_from_an_installed_bundle() -> None:
    tokenizer = TiktokenTokenizer("o200k_base")
    assert tokenizer.count("Hello world") == 2


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
