"""The policy condition language: grammar, types, evaluation, errors, and that nothing is ever eval'd."""

from __future__ import annotations

import builtins
import re
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nexint_core import conditions
from nexint_core.conditions import FIELDS, Condition, parse_condition
from nexint_core.errors import InvalidArgument

Values = Mapping[str, Any]
Model = tuple[str, Callable[[Values], bool]]  # a condition's text and its meaning written out in Python


def holds(text: str, **values: object) -> bool:
    return parse_condition(text).evaluate(values)


def error_of(text: str, name: str = "condition") -> str:
    with pytest.raises(InvalidArgument) as info:
        parse_condition(text, name=name)
    return str(info.value)


# -- the basics --------------------------------------------------------------------------------------------------


def test_conditions_public_names_are_pinned() -> None:
    assert conditions.__all__ == ["FIELDS", "Condition", "parse_condition"]
    assert {"importance", "use_count", "age", "tier", "role", "tags", "tokens", "kind"} == FIELDS


def test_conditions_spec_example() -> None:
    condition = parse_condition("importance > 0.7")
    assert isinstance(condition, Condition)
    assert condition.evaluate({"importance": 0.9}) is True
    assert condition.evaluate({"importance": 0.7}) is False
    assert condition.evaluate({"importance": 0.2}) is False
    assert repr(condition) == "Condition('importance > 0.7')"
    assert condition.source == "importance > 0.7"
    assert condition.fields == frozenset({"importance"})


def test_conditions_source_is_stripped() -> None:
    assert parse_condition("  \n importance > 0.7\t ").source == "importance > 0.7"


def test_conditions_fields_lists_what_is_read() -> None:
    text = "importance > 0.7 and ('pref' in tags or role in ['user']) and not age > use_count"
    assert parse_condition(text).fields == frozenset({"importance", "tags", "role", "age", "use_count"})
    assert parse_condition("'a' in tags").fields == frozenset({"tags"})


def test_conditions_equal_by_source_and_hashable() -> None:
    assert parse_condition("importance > 0.7") == parse_condition(" importance > 0.7 ")
    assert parse_condition("importance > 0.7") != parse_condition("importance > 0.8")
    assert len({parse_condition("tokens < 5"), parse_condition("tokens < 5")}) == 1


def test_conditions_doc_example_with_tier_enum() -> None:
    from nexint_core.pages import Tier

    assert holds("tier == 'active'", tier=Tier.ACTIVE)
    assert holds("tier in ['core', 'active']", tier=Tier.ACTIVE)


# -- operators ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("importance > 0.5", True),
        ("importance > 0.6", False),
        ("importance >= 0.6", True),
        ("importance >= 0.7", False),
        ("importance < 0.7", True),
        ("importance < 0.6", False),
        ("importance <= 0.6", True),
        ("importance <= 0.5", False),
        ("use_count == 3", True),
        ("use_count == 3.0", True),
        ("use_count == 4", False),
        ("use_count != 4", True),
        ("use_count != 3", False),
        ("role == 'user'", True),
        ("role != 'user'", False),
        ("role in ['user', 'assistant']", True),
        ("role not in ['user', 'assistant']", False),
        ("kind in ['PRF', 'FCT']", False),
        ("kind not in ['PRF', 'FCT']", True),
        ("use_count in [1, 2, 3]", True),
        ("use_count in []", False),
        ("use_count not in []", True),
        ("'pref' in tags", True),
        ("'pref' not in tags", False),
        ("'x' in tags", False),
        ('"x" not in tags', True),
        ("role in tags", False),
        ("0.5 < importance", True),
        ("age > tokens", True),
        ("tier == kind", False),
        ("tokens > -1", True),
        ("tokens > 1e3", False),
        ("tokens >= 1E1", True),
        ("importance > .5", True),
        ("importance<=0.6 and(use_count>=3)", True),
    ],
)
def test_conditions_operators(text: str, expected: bool) -> None:
    values = {
        "importance": 0.6,
        "use_count": 3,
        "age": 100.0,
        "tokens": 10,
        "tier": "active",
        "role": "user",
        "kind": "OBS",
        "tags": ["pref", "food"],
    }
    assert parse_condition(text).evaluate(values) is expected


A, B, C = "importance > 0.5", "use_count > 1", "tokens > 10"


def abc(a: bool, b: bool, c: bool) -> dict[str, object]:
    return {"importance": 0.9 if a else 0.1, "use_count": 5 if b else 0, "tokens": 50 if c else 5}


BOOLS = [(a, b, c) for a in (False, True) for b in (False, True) for c in (False, True)]


@pytest.mark.parametrize(("a", "b", "c"), BOOLS)
def test_conditions_precedence_not_then_and_then_or(a: bool, b: bool, c: bool) -> None:
    values = abc(a, b, c)
    assert parse_condition(f"not {A} or {B} and {C}").evaluate(values) is ((not a) or (b and c))
    assert parse_condition(f"{A} or {B} and not {C}").evaluate(values) is (a or (b and not c))
    assert parse_condition(f"{A} and {B} or {C}").evaluate(values) is ((a and b) or c)


@pytest.mark.parametrize(("a", "b", "c"), BOOLS)
def test_conditions_parentheses_group(a: bool, b: bool, c: bool) -> None:
    values = abc(a, b, c)
    assert parse_condition(f"not ({A} or {B}) and {C}").evaluate(values) is (not (a or b) and c)
    assert parse_condition(f"({A} or {B}) and {C}").evaluate(values) is ((a or b) and c)
    assert parse_condition(f"(({A}))").evaluate(values) is a
    assert parse_condition(f"not not {A}").evaluate(values) is a


def test_conditions_keywords_are_case_insensitive() -> None:
    text = "importance > 0.5 AND NOT role == 'x' Or use_count NoT In [1]"
    assert holds(text, importance=0.9, role="user", use_count=1)
    assert holds(text, importance=0.1, role="user", use_count=2)
    assert not holds(text, importance=0.1, role="user", use_count=1)
    assert "true (a boolean)" in error_of("importance == TRUE")


def test_conditions_field_names_are_case_sensitive() -> None:
    assert "unknown field 'Importance'" in error_of("Importance > 0.5")


def test_conditions_booleans_parse_but_no_field_takes_them() -> None:
    assert "cannot compare 'role' (a string field) with false (a boolean)" in error_of("role == False")
    assert "needs numbers on both sides, got true (a boolean)" in error_of("importance > true")
    assert "a list holds numbers or strings, not true (a boolean)" in error_of("role in [true]")


# -- strings -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "role"),
    [
        ("role == 'user'", "user"),
        ('role == "user"', "user"),
        ("role == 'it\\'s'", "it's"),
        ('role == "say \\"hi\\""', 'say "hi"'),
        ("role == 'say \"hi\"'", 'say "hi"'),
        ('role == "it\'s"', "it's"),
        ("role == 'back\\\\slash'", "back\\slash"),
        ("role == 'a\\\"b'", 'a"b'),
        ("role == ''", ""),
        ("role == 'and or not in ( ) [ ] , > 1'", "and or not in ( ) [ ] , > 1"),
        ("role == 'ünïcode ✓'", "ünïcode ✓"),
    ],
)
def test_conditions_string_literals(text: str, role: str) -> None:
    assert holds(text, role=role)
    assert not holds(text, role=role + "x")


# -- missing and mistyped values ---------------------------------------------------------------------------------


def test_conditions_missing_or_none_field_makes_the_comparison_false() -> None:
    empty: list[Values] = [{}, {"importance": None}]
    for values in empty:
        assert not parse_condition("importance > 0.5").evaluate(values)
        assert not parse_condition("importance <= 0.5").evaluate(values)
        assert not parse_condition("importance != 0.5").evaluate(values)
        assert not parse_condition("importance in [0.5]").evaluate(values)
        assert not parse_condition("importance not in [0.5]").evaluate(values)
    assert not holds("role == kind", role="user")
    assert holds("not importance > 0.5")  # the comparison is false, so its negation holds
    assert holds("importance > 0.5 or use_count == 0", use_count=0)


def test_conditions_missing_tags_are_empty() -> None:
    no_tags: list[Values] = [{}, {"tags": None}, {"tags": []}]
    for values in no_tags:
        assert not parse_condition("'pref' in tags").evaluate(values)
        assert parse_condition("'pref' not in tags").evaluate(values)
    assert not holds("role in tags", tags=["user"])  # role missing


def test_conditions_tags_accept_any_collection_of_strings() -> None:
    for tags in (["pref"], ("pref",), {"pref"}, frozenset({"pref"}), ["x", "pref", 3]):
        assert holds("'pref' in tags", tags=tags)
    assert holds("role in tags", role="pref", tags=["pref"])


@pytest.mark.parametrize(
    "values",
    [
        {"importance": "0.9"},
        {"importance": True},
        {"importance": [0.9]},
        {"role": 1},
        {"role": b"user"},
        {"tags": "preference"},  # a string is not a list of tags: no substring match
        {"tags": b"pref"},
        {"tags": {"pref": 1}},
        {"tags": 7},
        {"use_count": object()},
    ],
)
def test_conditions_mismatched_runtime_types_are_false(values: Values) -> None:
    for text in (
        "importance > 0.5",
        "importance == 0.9",
        "importance != 0.9",
        "role == 'user'",
        "role != 'user'",
        "role in ['user']",
        "role not in ['user']",
        "'pref' in tags",
        "use_count >= 0",
    ):
        assert parse_condition(text).evaluate(values) is False, (text, values)


def test_conditions_other_real_numbers_compare() -> None:
    assert holds("importance > 0.5", importance=Fraction(3, 4))
    assert holds("use_count in [2]", use_count=Fraction(4, 2))
    assert holds("tokens > 1", tokens=10**30)


# -- errors ------------------------------------------------------------------------------------------------------


def test_conditions_error_names_the_setting_and_points_at_the_position() -> None:
    text = "importance >> 0.7"
    message = error_of(text, name="promote_if")
    assert message == "invalid promote_if 'importance >> 0.7': unexpected '>' at position 12"
    assert text[12] == ">"
    assert error_of(text).startswith("invalid condition 'importance >> 0.7':")


def test_conditions_error_is_invalid_argument_with_code() -> None:
    with pytest.raises(InvalidArgument) as info:
        parse_condition("importance")
    assert isinstance(info.value, ValueError)
    assert info.value.code == "INVALID_ARGUMENT"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "invalid condition '': empty condition"),
        ("  \n\t ", "invalid condition '': empty condition"),
        ("importance", "expected a comparison operator (>, >=, <, <=, ==, !=, in, not in) after 'importance'"),
        ("importance and use_count > 1", "expected a comparison operator"),
        ("importance not 1", "after 'importance' (a number field), got 'not' at position 11"),
        ("(importance) > 1", "expected a comparison operator"),
        ("importance > 0.7 0.5", "unexpected '0.5' at position 17 after a complete condition"),
        ("importance > 0.7 role", "unexpected 'role' at position 17 after a complete condition"),
        ("importance > 0.7)", "unexpected ')' at position 16 (unbalanced parentheses)"),
        ("(importance > 0.7", "unbalanced parentheses: '(' at position 0 is never closed"),
        ("((importance > 0.7)", "unbalanced parentheses: '(' at position 0 is never closed"),
        ("(importance > 0.7 role", "unexpected 'role' at position 18 (expected ')' to close '(' at position 0)"),
        ("()", "unexpected ')' at position 1"),
        ("role == 'user", "unterminated string starting at position 8"),
        ('role == "user\\"', "unterminated string starting at position 8"),
        ("role == 'user\\", "unterminated string starting at position 8"),
        ("role == 'a\\nb'", "invalid escape '\\\\n' at position 10"),
        ("importance > ", "unexpected end of input at position 12"),
        ("importance > 0.7 and", "unexpected end of input at position 20"),
        ("and importance > 0.7", "unexpected 'and' at position 0"),
        ("importance > 0.7 or or use_count > 1", "unexpected 'or' at position 20"),
        ("importance = 0.7", "unexpected '=' at position 11 (use '==')"),
        ("importance ! 0.7", "unexpected '!' at position 11"),
        ("importance <> 0.7", "unexpected '>' at position 12"),
        ("importance > 0.7 && use_count > 1", "unexpected '&' at position 17"),
        ("importance > - 1", "unexpected '-' at position 13"),
        ("importance > 1.2.3", "malformed number '1.2.' at position 13"),
        ("importance > 1e", "malformed number '1e' at position 13"),
        ("importance > 12abc", "malformed number '12a' at position 13"),
        ("importance > -.", "malformed number '-.' at position 13"),
        ("importance > 0.6and tokens > 1", "malformed number '0.6a' at position 13"),
        ("importance > 1e999", "number '1e999' is out of range at position 13"),
        ("bogus > 1", "unknown field 'bogus' at position 0; known fields: age, importance, kind, role, tags, tier, "),
        ("importance > 0.7 and Role == 'x'", "unknown field 'Role' at position 21"),
        ("role > 'a'", "'>' at position 5 needs numbers on both sides, got 'role' (a string field)"),
        ("1 <= kind", "'<=' at position 2 needs numbers on both sides, got 'kind' (a string field)"),
        ("tier == 1", "'==' at position 5 cannot compare 'tier' (a string field) with 1 (a number)"),
        ("kind != 2.5", "'!=' at position 5 cannot compare 'kind' (a string field) with 2.5 (a number)"),
        ("role == importance", "cannot compare 'role' (a string field) with 'importance' (a number field)"),
        ("importance == 'high'", "cannot compare 'importance' (a number field) with 'high' (a string)"),
        ("'a' in role", "'in' at position 4 needs a list literal or 'tags' on the right, got 'role' (a string field)"),
        ("role in 'abc'", "needs a list literal or 'tags' on the right, got 'abc' (a string)"),
        ("use_count in ['1']", "'in' at position 10 looks for 'use_count' (a number field) in a list of strings"),
        ("role not in [1, 2]", "'not in' at position 5 looks for 'role' (a string field) in a list of numbers"),
        ("importance in tags", "'in' at position 11 needs a string left of 'tags', got 'importance' (a number field)"),
        ("tags == ['a']", "'tags' at position 0 can only appear on the right of 'in' / 'not in'"),
        ("role == tags", "'tags' at position 8 can only appear on the right of 'in' / 'not in'"),
        ("['a'] in tags", "a list at position 0 can only appear on the right of 'in' / 'not in'"),
        ("role == ['a']", "a list at position 8 can only appear on the right of 'in' / 'not in'"),
        ("role in [1, 'a']", "a list holds only numbers or only strings, but mixes 1 (a number) and 'a' (a string)"),
        ("role in [['a']]", "unexpected '[' at position 9"),
        ("role in ['a' 'b']", "unexpected \"'b'\" at position 13 (expected ',' or ']')"),
        ("role in ['a',]", "unexpected ']' at position 13"),
        ("role in ['a'", "unbalanced brackets: '[' at position 8 is never closed"),
        ("1 > 0", "'>' at position 2 compares two constants; a condition must read a field"),
        ("'a' in ['a']", "compares two constants"),
        ("true", "expected a comparison operator"),
    ],
)
def test_conditions_errors(text: str, message: str) -> None:
    assert message in error_of(text)


def test_conditions_too_long_is_rejected_and_the_quote_is_cut() -> None:
    text = "importance > 0.7 or " * 49 + "importance > 0.7"
    assert len(text) == 996
    assert parse_condition(text + " " * 5000).evaluate({"importance": 0.8})  # surrounding blanks do not count
    too_long = text + " or age>1"
    message = error_of(too_long)
    assert "condition is 1005 characters long; the limit is 1000" in message
    assert "...: condition is" in message
    assert len(message) < 250


def test_conditions_exactly_1000_characters_parse() -> None:
    text = "importance > 0.7" + " or importance > 0.7" * 48 + " or tokens > 10000000000"
    assert len(text) == 1000
    assert parse_condition(text).evaluate({"tokens": 10**11})


def test_conditions_nesting_is_limited_to_50() -> None:
    ok = "(" * 50 + "importance > 0.7" + ")" * 50
    assert parse_condition(ok).evaluate({"importance": 0.8})
    assert "nested deeper than 50 levels at position 50" in error_of("(" * 51 + "importance > 0.7" + ")" * 51)
    nots = "not " * 50 + "importance > 0.7"
    assert parse_condition(nots).evaluate({"importance": 0.8})
    assert "nested deeper than 50 levels at position 200" in error_of("not " * 51 + "importance > 0.7")
    mixed = "not (" * 25 + "importance > 0.7" + ")" * 25
    assert parse_condition(mixed).evaluate({"importance": 0.8}) is False  # 25 nots: negated
    assert "nested deeper than 50" in error_of("(" * 400 + "importance > 0.7")  # never a RecursionError
    assert "nested deeper than 50" in error_of("not " * 240)


def test_conditions_non_string_is_rejected() -> None:
    with pytest.raises(InvalidArgument, match="must be a string, got float"):
        parse_condition(0.7)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('x')",
        "importance > 0.7 or __import__('os').system('x')",
        "importance > 0.7 and exec('import os')",
        "eval('1')",
        "importance.__class__ == 'x'",
        "importance > (lambda: 1)()",
        "role in [x for x in ()]",
        "importance > 0.7; import os",
        "open('/etc/passwd')",
        "role == 'a' + 'b'",
        "importance > 0.7 if True else False",
        "{'a': 1}",
        "importance > 0x10",
        "importance > 1_000",
        "role == f'{importance}'",
        "tags[0] == 'a'",
    ],
)
def test_conditions_code_injection_is_rejected(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> object:
        raise AssertionError("the condition reached eval/exec/compile")

    for name in ("eval", "exec", "compile"):
        monkeypatch.setattr(builtins, name, forbidden)
    with pytest.raises(InvalidArgument):
        parse_condition(text)


def test_conditions_never_call_eval_on_valid_input(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> object:
        raise AssertionError("the condition reached eval/exec/compile")

    for name in ("eval", "exec", "compile"):
        monkeypatch.setattr(builtins, name, forbidden)
    condition = parse_condition("importance > 0.7 and ('pref' in tags or role in ['user']) and not kind == 'PRF'")
    assert condition.evaluate({"importance": 0.8, "tags": ["pref"], "kind": "OBS"})


# -- properties --------------------------------------------------------------------------------------------------

SOUP = [
    *sorted(FIELDS),
    "bogus",
    "Importance",
    "and",
    "OR",
    "not",
    "in",
    "True",
    "false",
    ">",
    ">=",
    "<",
    "<=",
    "==",
    "!=",
    "=",
    "!",
    "(",
    ")",
    "[",
    "]",
    ",",
    "0.7",
    "-1",
    "1e3",
    "1e999",
    ".5",
    "-",
    ".",
    "'pref'",
    '"user"',
    "'it\\'s'",
    "'open",
    '"',
    "\\",
    "__import__",
    "@",
    ";",
    "\x00",
    # what arbitrary text adds to the grammar's own tokens: other whitespace, letters, digits and escapes
    "\t",
    "\r\n",
    "\u00a0",
    "\u3000",
    "é",
    "İn",
    "ǅ",
    "٣",
    "²",
    "🌷",
    "1e",
    "1e+",
    "0x1F",
    "1_000",
    "'\\u00e9'",
    "#",
]

ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.fractions(),
    st.text(max_size=5),
    st.binary(max_size=3),
    st.lists(st.one_of(st.text(max_size=3), st.integers()), max_size=3),
    st.frozensets(st.sampled_from(["pref", "user", "x"])),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)
VALUES = st.dictionaries(st.sampled_from(sorted(FIELDS | {"other"})), ANY_VALUE)


@given(st.lists(st.tuples(st.sampled_from(SOUP), st.sampled_from(["", " ", "  "])), max_size=25), VALUES)
def test_conditions_token_soup_parses_or_raises_invalid_argument(
    pieces: list[tuple[str, str]], values: dict[str, object]
) -> None:
    text = "".join(token + sep for token, sep in pieces)
    message = ""
    try:
        condition: Condition | None = parse_condition(text)
    except InvalidArgument as error:
        condition, message = None, str(error)
    if condition is None:
        assert message.startswith("invalid condition ")
    else:
        assert isinstance(condition.evaluate(values), bool)
        assert condition.fields <= FIELDS


def _num(value: object) -> bool:
    return isinstance(value, (int, float, Fraction)) and not isinstance(value, bool)


def _tags(values: Values) -> object:
    tags = values.get("tags")
    if tags is None:
        return ()
    if isinstance(tags, (str, bytes, dict)) or not isinstance(tags, (list, tuple, set, frozenset)):
        return None
    return tags


# Comparisons with their meaning written out plainly, for the model below.
ATOMS: list[Model] = [
    ("importance > 0.5", lambda v: _num(v.get("importance")) and v["importance"] > 0.5),
    ("use_count <= 2", lambda v: _num(v.get("use_count")) and v["use_count"] <= 2),
    ("age >= tokens", lambda v: _num(v.get("age")) and _num(v.get("tokens")) and v["age"] >= v["tokens"]),
    ("tokens != 0", lambda v: _num(v.get("tokens")) and v["tokens"] != 0),
    ("role == 'user'", lambda v: isinstance(v.get("role"), str) and v["role"] == "user"),
    ("kind in ['PRF', 'x']", lambda v: isinstance(v.get("kind"), str) and v["kind"] in ("PRF", "x")),
    ("tier not in ['core']", lambda v: isinstance(v.get("tier"), str) and v["tier"] != "core"),
    ("'pref' in tags", lambda v: _tags(v) is not None and "pref" in _tags(v)),  # type: ignore[operator]
    ("'x' NOT IN tags", lambda v: _tags(v) is not None and "x" not in _tags(v)),  # type: ignore[operator]
]


def _combine(children: st.SearchStrategy[Model]) -> st.SearchStrategy[Model]:
    def negate(x: Model) -> Model:
        return f"not ({x[0]})", lambda v: not x[1](v)

    def both(pair: tuple[Model, Model]) -> Model:
        (xs, xf), (ys, yf) = pair
        return f"({xs}) and ({ys})", lambda v: xf(v) and yf(v)

    def either(pair: tuple[Model, Model]) -> Model:
        (xs, xf), (ys, yf) = pair
        return f"{xs} or {ys}" if " or " not in xs + ys else f"({xs}) or ({ys})", lambda v: xf(v) or yf(v)

    return st.one_of(
        children.map(negate),
        st.tuples(children, children).map(both),
        st.tuples(children, children).map(either),
    )


MODELS = st.recursive(st.sampled_from(ATOMS), _combine, max_leaves=8)


@given(MODELS, VALUES)
def test_conditions_evaluate_matches_a_plain_model_and_never_raises(model: Model, values: dict[str, object]) -> None:
    text, meaning = model
    condition = parse_condition(text)
    assert condition.evaluate(values) is bool(meaning(values)), text


@given(st.sampled_from(ATOMS), st.sampled_from(ATOMS), VALUES)
def test_conditions_unparenthesised_precedence_matches_python(x: Model, y: Model, values: dict[str, object]) -> None:
    (xs, xf), (ys, yf) = x, y
    condition = parse_condition(f"not {xs} or {ys} and {xs}")
    assert condition.evaluate(values) is bool((not xf(values)) or (yf(values) and xf(values)))


def test_conditions_message_quotes_with_repr() -> None:
    assert re.search(r"^invalid condition \"'a' in\": ", error_of("'a' in"))
