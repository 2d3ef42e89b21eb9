"""The synthetic recall sets: deterministic, LoCoMo-shaped, questions on planted facts, reworded ones that share
no word with their evidence, and a set the newest-turns window cannot answer; the ``--data synthetic:`` source
and ``memos bench generate``."""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import statistics
import string
import subprocess
import sys
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from nexint_bench import recall, synthetic
from nexint_bench._lexicon import AGO, FAMILIES, POOLS, SMALL_TALK
from nexint_core.embedders import STOPWORDS, content_terms
from nexint_core.errors import InvalidArgument
from nexint_core.tokens import get_tokenizer

SMALL = {"conversations": 4, "turns": 120, "seed": 7}
MEMOS = Path(sys.executable).with_name("memos")
TOKENIZER = get_tokenizer(None)


@cache
def small_set(kind: str) -> tuple[dict[str, Any], ...]:
    return tuple(synthetic.generate(kind, **SMALL))


def turns_of(sample: dict[str, Any]) -> list[dict[str, Any]]:
    talk = sample["conversation"]
    numbers = sorted(int(key.split("_")[1]) for key in talk if re.fullmatch(r"session_\d+", key))
    return [turn for number in numbers for turn in talk[f"session_{number}"]]


def _pattern(template: str) -> re.Pattern[str]:
    parts = [re.escape(text) + ("(.+?)" if name else "") for text, name, _, _ in string.Formatter().parse(template)]
    return re.compile("".join(parts))


# every statement template, by the role it plays: what a turn's text was written from
ROLES = [
    (family.name, role, _pattern(template))
    for family in FAMILIES
    for role, templates in (("fact", family.facts), ("update", family.updates), ("near", family.near))
    for template in templates
]


def role_of(text: str) -> tuple[str, str] | None:
    """``(family, "fact" | "update" | "near")`` of a planted turn, ``None`` for small talk."""
    for family, role, pattern in ROLES:
        if pattern.fullmatch(text):
            return family, role
    return None


def raw_words(text: str) -> set[str]:
    return {word for word in re.findall(r"[^\W_]+", text.lower()) if word not in STOPWORDS}


# -- determinism ---------------------------------------------------------------------------------


def test_generate_same_seed_gives_the_same_bytes_and_another_seed_other_bytes() -> None:
    for kind in synthetic.KINDS:
        first = synthetic.to_json(synthetic.generate(kind, **SMALL))
        assert synthetic.to_json(synthetic.generate(kind, **SMALL)) == first
        assert synthetic.to_json(synthetic.generate(kind, **{**SMALL, "seed": 8})) != first


def test_generate_does_not_depend_on_the_process_or_the_set_size() -> None:
    code = (
        "import hashlib, sys; from nexint_bench import synthetic\n"
        "data = synthetic.to_json(synthetic.generate('reworded', conversations=4, turns=120, seed=7))\n"
        "sys.stdout.write(hashlib.sha256(data).hexdigest())\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    digest = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert digest == hashlib.sha256(synthetic.to_json(small_set("reworded"))).hexdigest()
    fewer = synthetic.generate("reworded", **{**SMALL, "conversations": 2})
    assert fewer == list(small_set("reworded")[:2])  # conversation i is the same in a larger set


def test_generate_both_kinds_share_the_conversations_and_differ_in_questions() -> None:
    facts, reworded = small_set("facts"), small_set("reworded")
    assert [sample["conversation"] for sample in facts] == [sample["conversation"] for sample in reworded]
    assert [sample["qa"] for sample in facts] != [sample["qa"] for sample in reworded]
    assert [sample["sample_id"] for sample in facts] == [f"facts-7-{index}" for index in range(4)]


# -- shape ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", synthetic.KINDS)
def test_generate_reads_through_read_samples_without_repairs_or_drops(kind: str) -> None:
    samples, _ = recall.parse_samples(synthetic.to_json(small_set(kind)), "synthetic")
    assert len(samples) == SMALL["conversations"]
    for sample in samples:
        assert (sample.ids_repaired, sample.ids_dropped, sample.categories_excluded) == (0, 0, {})
        assert len(sample.turns) == SMALL["turns"]
        assert len({turn.time for turn in sample.turns}) == 4  # 120 turns: four sessions, each with its own date
        assert [turn.time for turn in sample.turns] == sorted(turn.time for turn in sample.turns)
        assert {turn.speaker for turn in sample.turns} == {sample.turns[0].speaker, sample.turns[1].speaker}
        assert len(sample.questions) >= 8
    for raw in small_set(kind):
        assert set(raw) == {"sample_id", "conversation", "qa"}
        for entry in raw["qa"]:
            assert set(entry) == {"question", "answer", "evidence", "category"}
            assert entry["category"] in (1, 2, 4)
            assert entry["evidence"]
            assert all(re.fullmatch(r"D\d+:\d+", dia_id) for dia_id in entry["evidence"])
        talk = raw["conversation"]
        assert {talk["speaker_a"], talk["speaker_b"]} == {turn["speaker"] for turn in turns_of(raw)}
        assert all(
            re.fullmatch(r"\d{1,2}:\d\d [ap]m on \d{1,2} \w+, \d{4}", talk[key]) for key in talk if "date" in key
        )


def test_generate_rejects_bad_parameters() -> None:
    for kind, options, message in [
        ("adversarial", {}, "unknown synthetic set 'adversarial'"),
        ("facts", {"turns": 10}, f"turns must be an integer >= {synthetic.MIN_TURNS}"),
        ("facts", {"conversations": 0}, "conversations must be an integer >= 1"),
        ("facts", {"seed": -1}, "seed must be an integer >= 0"),
    ]:
        with pytest.raises(InvalidArgument, match=re.escape(message)):
            synthetic.generate(kind, **options)


# -- what the questions ask ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", synthetic.KINDS)
def test_evidence_points_at_the_asked_speakers_fact_and_update_turns(kind: str) -> None:
    roles: Counter[tuple[int, tuple[str, ...]]] = Counter()
    for sample in small_set(kind):
        by_id = {turn["dia_id"]: turn for turn in turns_of(sample)}
        for entry in sample["qa"]:
            turns = [by_id[dia_id] for dia_id in entry["evidence"]]
            found = [role_of(turn["text"]) for turn in turns]
            assert all(role is not None and role[1] in ("fact", "update") for role in found), entry
            assert len({role[0] for role in found if role}) == 1  # one family
            assert all(turn["speaker"] in entry["question"] for turn in turns)  # the speaker it asks about
            assert [turn["dia_id"] for turn in turns] == sorted(
                entry["evidence"], key=lambda dia_id: list(by_id).index(dia_id)
            )  # in conversation order
            roles[entry["category"], tuple(role[1] for role in found if role)] += 1
    assert roles[4, ("update",)] > 0  # the current value: the update alone
    assert roles[1, ("fact", "update")] > 0  # the value before the update: both turns
    assert roles[1, ("fact", "fact")] > 0  # two trips (or two of another event)
    assert roles[2, ("fact",)] > 0  # when, or what date
    assert set(roles) <= {(4, ("fact",)), (4, ("update",)), (1, ("fact", "update")), (1, ("fact", "fact")),
                          (2, ("fact",))}  # fmt: skip


def test_conversations_hold_near_misses_updates_and_unique_small_talk() -> None:
    near = facts = 0
    for sample in small_set("facts"):
        texts = [turn["text"] for turn in turns_of(sample)]
        assert len(set(texts)) == len(texts)  # no text twice, filler included
        found = [role_of(text) for text in texts]
        facts += sum(role is not None and role[1] == "fact" for role in found)
        near_families = {role[0] for role in found if role and role[1] == "near"}
        near += len(near_families)
        fact_families = {role[0] for role in found if role and role[1] == "fact"}
        assert near_families <= fact_families  # a near miss mirrors a fact of the conversation
        small_talk = [text for text, role in zip(texts, found, strict=True) if role is None]
        assert len(small_talk) >= 0.75 * len(texts)
    assert near >= 0.4 * facts > 0


def test_fact_turns_are_as_long_as_small_talk() -> None:
    for kind in synthetic.KINDS:
        planted, talk = [], []
        for sample in synthetic.generate(kind, conversations=2, turns=600, seed=0):
            for turn in turns_of(sample):
                (planted if role_of(turn["text"]) else talk).append(len(turn["text"]))
        assert abs(statistics.median(planted) / statistics.median(talk) - 1) < 0.3
        low, high = statistics.quantiles(planted, n=4)[0], statistics.quantiles(planted, n=4)[2]
        assert low <= statistics.median(talk) <= high  # the distributions overlap, not just their medians


def test_reworded_questions_share_no_word_with_their_evidence() -> None:
    asked = 0
    for sample in synthetic.generate("reworded", conversations=6, turns=600, seed=0):
        by_id = {turn["dia_id"]: turn["text"] for turn in turns_of(sample)}
        for entry in sample["qa"]:
            question = entry["question"]
            for dia_id in entry["evidence"]:
                text = by_id[dia_id]
                assert not set(content_terms(question)) & set(content_terms(text)), (question, text)
                assert not raw_words(question) & raw_words(text), (question, text)
            asked += 1
    assert asked >= 300


def test_facts_sets_ask_some_questions_in_the_facts_own_words() -> None:
    shared = total = 0
    for sample in small_set("facts"):
        by_id = {turn["dia_id"]: turn["text"] for turn in turns_of(sample)}
        for entry in sample["qa"]:
            total += 1
            shared += any(synthetic.shared_words(entry["question"], by_id[i]) for i in entry["evidence"])
    assert 0.5 * total < shared < total  # 70% are asked in the fact's own words


# -- the lexicon ---------------------------------------------------------------------------------


def test_lexicon_has_forty_families_whose_reworded_questions_avoid_the_statements_words() -> None:
    assert len(FAMILIES) >= 40
    assert len({family.name for family in FAMILIES}) == len(FAMILIES)
    slot = re.compile(r"\{[^}]*\}")
    dated_words = " ".join(phrase for phrase, _ in AGO)
    for family in FAMILIES:
        facts = " ".join(slot.sub(" ", text) for text in family.facts)
        updates = " ".join(slot.sub(" ", text) for text in family.updates)
        if family.when is not None:
            assert all("{ago}" in text.lower() for text in family.facts), family.name  # the date comes from it
            facts += " " + dated_words
        assert (family.now is not None) == bool(family.updates), family.name
        for asks, evidence in [
            (family.value, facts),
            (family.when, facts),
            (family.both, facts),
            (family.now, updates),
            (family.before, facts + " " + updates),
        ]:
            if asks is None:
                continue
            assert asks.literal
            assert len(asks.reworded) >= 2, family.name
            for question in asks.reworded:
                assert not synthetic.shared_words(slot.sub(" ", question), evidence), (family.name, question)


class FirstDraw:
    """Always the first option, the lowest number: one fixed filling of every template."""

    def between(self, low: int, high: int) -> int:
        return low

    def choice(self, options: tuple[str, ...]) -> str:
        return options[0]


def fill(template: str, values: dict[str, str]) -> str:
    names = [name for _, name, _, _ in string.Formatter().parse(template) if name]
    filled = {name: values[name] if name in values else values[name.lower()].capitalize() for name in names}
    return template.format_map(filled)


def test_lexicon_literal_questions_share_a_word_with_every_statement_they_ask_about() -> None:
    values = {name: pool[0] if isinstance(pool, tuple) else pool(FirstDraw()) for name, pool in POOLS.items()}
    values |= {"ago": AGO[0][0], "p": "Gwen", "their": "her"}
    for family in FAMILIES:
        for asks, statements in [
            (family.value, family.facts),
            (family.when, family.facts),
            (family.both, family.facts),
            (family.now, family.updates),
            (family.before, family.facts),
        ]:
            for question in asks.literal if asks is not None else ():
                for statement in statements:
                    shared = synthetic.shared_words(fill(question, values), fill(statement, values))
                    assert shared, (family.name, question, statement)


def test_lexicon_small_talk_never_reads_as_a_fact() -> None:
    for template in SMALL_TALK:
        assert role_of(template) is None, template
    assert all(name in POOLS for family in FAMILIES for name in re.findall(r"\{([a-z]\w*)\}", family.answer)
               if name not in ("their", "ago"))  # fmt: skip


# -- the benchmark on a small set ----------------------------------------------------------------


def test_recall_on_a_small_set_stays_in_budget_and_the_window_misses_early_facts() -> None:
    samples, _ = recall.parse_samples(synthetic.to_json(small_set("facts")), "synthetic")
    dump = io.StringIO()
    methods = ["nexint-LRU", "window", "bm25", "vector"]
    report = recall.evaluate(samples, budgets=[512, 1024], methods=methods, dump=dump)
    rows = [json.loads(line) for line in dump.getvalue().splitlines()]
    questions = sum(len(sample.questions) for sample in samples)
    assert len(rows) == questions * len(methods) * 2
    for row in rows:
        assert TOKENIZER.count(row["context"]) <= row["budget"], (row["method"], row["budget"])
    for method in methods:
        for budget in ("512", "1024"):
            result = report["results"][method][budget]
            assert 0.0 <= result["recall"] <= 1.0
            assert all(0.0 <= entry["recall"] <= 1.0 for entry in result["per_category"].values())
    half = SMALL["turns"] // 2
    early = {
        (sample.sample_id, question.number)
        for sample in samples
        for question in sample.questions
        if question.turns[-1] < half
    }
    assert len(early) >= 10
    lines = {(sample.sample_id, turn.dia_id): turn.line for sample in samples for turn in sample.turns}
    for row in rows:
        if row["method"] == "window" and (row["sample_id"], row["qa"]) in early:
            # 60 turns of about 20 tokens each are more than 1024 tokens: the window cannot reach back there
            assert not any(lines[row["sample_id"], dia_id] in row["context"] for dia_id in row["evidence"])


# -- --data synthetic:... and memos bench generate ----------------------------------------------


def bench(*argv: str) -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    recall.add_arguments(parser)
    args = parser.parse_args([*argv, "--json"])
    out = io.StringIO()
    assert args.handler(args, out) == 0
    report: dict[str, Any] = json.loads(out.getvalue())
    return report


def test_parse_source_reads_synthetic_names_and_leaves_paths_alone() -> None:
    assert synthetic.parse_source("data/locomo10.json") is None
    assert synthetic.parse_source("synthetic:facts") == synthetic.SyntheticSet("facts")
    chosen = synthetic.parse_source("synthetic:reworded?turns=120&seed=3")
    assert chosen == synthetic.SyntheticSet("reworded", seed=3, turns=120)
    assert chosen.spec == "synthetic:reworded?seed=3&conversations=10&turns=120"
    assert synthetic.parse_source(chosen.spec) == chosen
    for text, message in [
        ("synthetic:nope", "unknown synthetic set 'nope'"),
        ("synthetic:facts?seed=x", "seed must be a whole number, got 'x'"),
        ("synthetic:facts?turns=10", f"turns must be an integer >= {synthetic.MIN_TURNS}"),
        ("synthetic:facts?colour=3", "expected synthetic:KIND?seed=N&conversations=N&turns=N, got 'colour=3'"),
        ("synthetic:facts?seed", "got 'seed'"),
    ]:
        with pytest.raises(InvalidArgument, match=re.escape(message)):
            synthetic.parse_source(text)


def test_recall_records_the_sets_kind_seed_and_sha256_and_a_written_file_gives_the_same_figures(
    tmp_path: Path,
) -> None:
    spec = "synthetic:reworded?seed=3&conversations=2&turns=80"
    report = bench("--data", spec, "--budgets", "512", "--methods", "window,bm25")
    expected = synthetic.to_json(synthetic.generate("reworded", conversations=2, turns=80, seed=3))
    config = report["config"]
    assert config["data"] == spec
    assert config["data_sha256"] == hashlib.sha256(expected).hexdigest()
    assert config["synthetic"] == {
        "kind": "reworded", "seed": 3, "conversations": 2, "turns": 80, "generator": synthetic.GENERATOR
    }  # fmt: skip
    assert config["sample_ids"] == ["reworded-3-0", "reworded-3-1"]

    out = tmp_path / "set.json"
    result = subprocess.run(
        [str(MEMOS), "bench", "generate", "reworded", "--seed", "3", "--conversations", "2", "--turns", "80",
         "--out", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == expected
    assert result.stdout.startswith(f"wrote {out}: {spec}, ")
    assert result.stdout.rstrip().endswith(f"sha256 {config['data_sha256']}")
    from_file = bench("--data", str(out), "--budgets", "512", "--methods", "window,bm25")
    assert from_file["results"] == report["results"]
    assert from_file["config"]["data_sha256"] == config["data_sha256"]
    assert "synthetic" not in from_file["config"]  # a file is recorded as before: its path and sha256


def test_cli_bad_synthetic_data_prints_one_error_line() -> None:
    result = subprocess.run(
        [str(MEMOS), "bench", "recall", "--data", "synthetic:facts?turns=5"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"[ERROR] --data synthetic:facts?turns=5: turns must be an integer >= {synthetic.MIN_TURNS}, got 5"
    ]
