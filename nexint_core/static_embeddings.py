"""WordLlama's static token embeddings, loaded from its wheel and average-pooled one text at a time.

WordLlama's tokenizer (Llama's BPE over the whole text, spaces turned into ``▁``) costs about 1 µs a token
per call. Its vocabulary never puts ``▁`` after another character inside a token, so no merge crosses the
start of a word and the BPE of a text is the BPE of its words, each with the ``▁`` run before it: the
encoder keeps those pieces' ids (a dictionary look-up for a word seen before) and tokenizes only new ones.
It checks that property of the vocabulary on load, and falls back to the tokenizer itself when it does not
hold, or for a text naming one of the tokenizer's special tokens (matched before normalisation).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from nexint_core.errors import InvalidArgument

__all__ = ["StaticEncoder", "load_wordllama", "splits_by_word", "static_encoder"]

_PIECE = re.compile("▁*[^▁]+|▁+")  # a word with the spaces before it, or trailing spaces
_SPACE = "▁"
_PIECES_KEPT = 1 << 17  # word pieces remembered (about 20 MB when full; cleared, then refilled)
_VECTORS_KEPT = 64  # pooled vectors of the latest texts: a query is written as the next turn's message

_WORDLLAMA: dict[tuple[str, int], Any] = {}
_ENCODERS: dict[tuple[str, int], StaticEncoder] = {}
_LOCK = threading.Lock()


def load_wordllama(config: str, dim: int) -> Any:
    """WordLlama's model from the weights and tokenizer inside its own package (never downloaded), once per process.

    Its loader would look for the tokenizer in a cache folder and then download it, so it is pointed at the
    package's folder with downloads off. Importing it configures the root logger; that is undone.
    """
    with _LOCK:
        model = _WORDLLAMA.get((config, dim))
        if model is not None:
            return model
        root = logging.getLogger()
        handlers, level = list(root.handlers), root.level
        try:
            import wordllama  # type: ignore[import-untyped]
        except ImportError:
            raise InvalidArgument("the wordllama embedder needs the wordllama package: pip install wordllama") from None
        finally:
            root.handlers[:], root.level = handlers, level
        folder = Path(wordllama.__file__).parent
        try:
            model = wordllama.WordLlama.load(config=config, dim=dim, cache_dir=folder, disable_download=True)
        except (FileNotFoundError, ValueError) as exc:
            raise InvalidArgument(
                f"WordLlama {config} ({dim} dimensions) is not in the installed wheel ({exc})"
            ) from None
        _WORDLLAMA[(config, dim)] = model
        return model


def static_encoder(config: str, dim: int) -> StaticEncoder:
    """The process's one :class:`StaticEncoder` of a WordLlama model."""
    model = load_wordllama(config, dim)
    with _LOCK:
        encoder = _ENCODERS.get((config, dim))
        if encoder is None:
            encoder = _ENCODERS[(config, dim)] = StaticEncoder(model)
        return encoder


def splits_by_word(spec: dict[str, Any]) -> bool:
    """Whether a tokenizer (its JSON) is the one this encoder splits: ``▁`` prepended and for every space, no
    pre-tokenizer, BPE, and no token with ``▁`` after another character."""
    normalizer = spec.get("normalizer") or {}
    expected = [
        {"type": "Prepend", "prepend": _SPACE},
        {"type": "Replace", "pattern": {"String": " "}, "content": _SPACE},
    ]
    if normalizer.get("type") != "Sequence" or normalizer.get("normalizers") != expected:
        return False
    model = spec.get("model") or {}
    if spec.get("pre_tokenizer") is not None or model.get("type") != "BPE" or model.get("dropout") is not None:
        return False
    return not any(_SPACE in token.lstrip(_SPACE) for token in model.get("vocab", {}))


class StaticEncoder:
    """Pooled (not normalised) token embeddings of one WordLlama model, the bytes of its own ``embed(norm=False)``."""

    def __init__(self, model: Any) -> None:
        from tokenizers import Tokenizer

        self.table: npt.NDArray[np.float32] = model.embedding
        self._tokenizer = model.tokenizer
        spec = json.loads(model.tokenizer.to_str())
        self._bare: Any = None
        if splits_by_word(spec):
            bare = Tokenizer.from_str(model.tokenizer.to_str())
            bare.normalizer = None
            bare.no_padding()
            bare.no_truncation()
            self._bare = bare
        self._special = tuple(str(token.content) for token in model.tokenizer.get_added_tokens_decoder().values())
        self._pieces: dict[str, list[int]] = {}
        self._vectors: dict[str, npt.NDArray[np.float32]] = {}
        self._vectors_lock = threading.Lock()

    @property
    def by_word(self) -> bool:
        """Whether texts are tokenized from cached word pieces (else by the tokenizer, whole)."""
        return self._bare is not None

    def ids(self, text: str) -> list[int]:
        """The token ids WordLlama's tokenizer gives ``text`` (without special tokens)."""
        bare = self._bare
        if bare is None or any(special in text for special in self._special):
            return list(self._tokenizer.encode(text, add_special_tokens=False).ids)
        pieces = self._pieces
        if len(pieces) > _PIECES_KEPT:
            pieces.clear()
        out: list[int] = []
        if not text:
            return out
        for piece in _PIECE.findall((_SPACE + text).replace(" ", _SPACE)):
            known = pieces.get(piece)
            if known is None:
                known = pieces[piece] = list(bare.encode(piece, add_special_tokens=False).ids)
            out.extend(known)
        return out

    def pooled(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Average-pooled token embeddings of ``texts``, one row each (zeros for a text without tokens)."""
        table, vectors = self.table, self._vectors
        out = np.empty((len(texts), table.shape[1]), dtype=np.float32)
        for row, text in enumerate(texts):
            known = vectors.get(text)
            if known is None:
                ids = np.array(self.ids(text), dtype=np.intp)
                np.clip(ids, 0, table.shape[0] - 1, out=ids)
                # A float32 sum over the tokens in order, over the count: WordLlama's avg_pool, padding aside.
                known = table[ids].sum(axis=0, dtype=np.float32) / np.float32(max(len(ids), 1))
                with self._vectors_lock:
                    if len(vectors) >= _VECTORS_KEPT:
                        del vectors[next(iter(vectors))]
                    vectors[text] = known
            out[row] = known
        return out
