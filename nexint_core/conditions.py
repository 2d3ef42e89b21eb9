"""A small, safe expression language for policy conditions such as ``promote_if: importance > 0.7``.

Grammar (keywords are case-insensitive, field names are not)::

    expr       := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | "(" expr ")" | comparison
    comparison := operand (">" | ">=" | "<" | "<=" | "==" | "!=" | "in" | "not in") operand
    operand    := field | number | string | "[" [literal ("," literal)*] "]" | "true" | "false"

The text is tokenized and parsed by hand into a tree of frozen dataclasses; nothing is ever handed to
``eval``. Types are checked when parsing, and :meth:`Condition.evaluate` never raises: a comparison that
reads a missing, ``None`` or wrongly typed value is simply false.

>>> parse_condition("importance > 0.7 and 'pref' in tags").evaluate({"importance": 0.9, "tags": ["pref"]})
True
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from numbers import Real
from typing import Any

from nexint_core.errors import InvalidArgument

__all__ = ["FIELDS", "Condition", "parse_condition"]

MAX_LENGTH = 1000  # characters of a condition
MAX_DEPTH = 50  # nested parentheses and "not"s

_NUMBER, _STRING, _TAGS, _BOOL, _LIST = "number", "string", "tags", "boolean", "list"
_FIELD_TYPES: dict[str, str] = {
    "importance": _NUMBER,
    "use_count": _NUMBER,
    "age": _NUMBER,
    "tokens": _NUMBER,
    "tier": _STRING,
    "role": _STRING,
    "kind": _STRING,
    "tags": _TAGS,
}
FIELDS: frozenset[str] = frozenset(_FIELD_TYPES)

_KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false"})
_ORDERING = frozenset({">", ">=", "<", "<="})
_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    "in": lambda a, b: a in b,
    "not in": lambda a, b: a not in b,
}
_IDENT_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_IDENT_CHARS = _IDENT_START | frozenset("0123456789")
_DIGITS = frozenset("0123456789")
_NUMBER_START = _DIGITS | frozenset(".")
_NUMBER_END = _IDENT_CHARS | frozenset(".")  # a number followed by one of these is malformed
_PUNCTUATION = frozenset("()[],")
_MISSING = object()


# -- tokens ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "ident", "keyword", "number", "string", "op", "punct", "bad" (any other character), "end"
    text: str  # the source slice (a keyword is lowercased)
    pos: int
    value: object = None  # the number or the unescaped string


def _tokenize(source: str, fail: Callable[[str], InvalidArgument]) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch.isspace():
            i += 1
        elif ch in _IDENT_START:
            j = i + 1
            while j < n and source[j] in _IDENT_CHARS:
                j += 1
            word = source[i:j]
            if word.lower() in _KEYWORDS:
                tokens.append(_Token("keyword", word.lower(), i))
            else:
                tokens.append(_Token("ident", word, i))
            i = j
        elif (
            ch in _DIGITS
            or (ch == "." and source[i + 1 : i + 2] in _DIGITS)
            or (ch == "-" and source[i + 1 : i + 2] in _NUMBER_START)
        ):
            i = _number(source, i, tokens, fail)
        elif ch in "'\"":
            i = _string(source, i, tokens, fail)
        elif source[i : i + 2] in (">=", "<=", "==", "!="):
            tokens.append(_Token("op", source[i : i + 2], i))
            i += 2
        elif ch in "<>":
            tokens.append(_Token("op", ch, i))
            i += 1
        elif ch in _PUNCTUATION:
            tokens.append(_Token("punct", ch, i))
            i += 1
        else:  # reported by the parser when it gets there, so errors come in reading order
            tokens.append(_Token("bad", ch, i))
            i += 1
    tokens.append(_Token("end", "", n))
    return tokens


def _number(source: str, start: int, tokens: list[_Token], fail: Callable[[str], InvalidArgument]) -> int:
    """Scan ``-?(digits[.digits] | .digits)([eE][+-]?digits)?`` from ``start``; returns the end."""
    n = len(source)
    j = start + 1 if source[start] == "-" else start
    digits_start = j
    while j < n and source[j] in _DIGITS:
        j += 1
    whole = j > digits_start
    is_float = False
    if j < n and source[j] == ".":
        is_float = True
        j += 1
        frac_start = j
        while j < n and source[j] in _DIGITS:
            j += 1
        if not whole and j == frac_start:
            raise fail(f"malformed number {source[start:j]!r} at position {start}")
    if j < n and source[j] in "eE":
        k = j + 1
        if k < n and source[k] in "+-":
            k += 1
        if k < n and source[k] in _DIGITS:
            is_float = True
            j = k
            while j < n and source[j] in _DIGITS:
                j += 1
    if j < n and source[j] in _NUMBER_END:
        raise fail(f"malformed number {source[start : j + 1]!r} at position {start}")
    text = source[start:j]
    value: float | int = float(text) if is_float else int(text)
    if isinstance(value, float) and not math.isfinite(value):
        raise fail(f"number {text!r} is out of range at position {start}")
    tokens.append(_Token("number", text, start, value))
    return j


def _string(source: str, start: int, tokens: list[_Token], fail: Callable[[str], InvalidArgument]) -> int:
    """Scan a quoted string with ``\\'``, ``\\"`` and ``\\\\`` escapes from ``start``; returns the end."""
    quote, n = source[start], len(source)
    chars: list[str] = []
    j = start + 1
    while j < n:
        ch = source[j]
        if ch == quote:
            tokens.append(_Token("string", source[start : j + 1], start, "".join(chars)))
            return j + 1
        if ch == "\\":
            if j + 1 >= n:
                break
            escaped = source[j + 1]
            if escaped not in "'\"\\":
                raise fail(
                    f"invalid escape {source[j : j + 2]!r} at position {j} (only \\', \\\" and \\\\ are allowed)"
                )
            chars.append(escaped)
            j += 2
        else:
            chars.append(ch)
            j += 1
    raise fail(f"unterminated string starting at position {start}")


def _is_bool(value: object) -> bool:
    # a function, because mypy holds Real and bool disjoint (bool is final), yet isinstance(True, Real) is true
    return isinstance(value, bool)


def _is_tag_collection(value: object) -> bool:
    if type(value) is list or type(value) is tuple:
        return True
    return isinstance(value, Collection) and not isinstance(value, (str, bytes, bytearray, Mapping))


# -- the tree ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    type: str
    pos: int = field(compare=False)

    def describe(self) -> str:
        return f"{self.name!r} (a {self.type} field)" if self.type != _TAGS else "'tags'"

    def resolve(self, values: Mapping[str, object]) -> object:
        value = values.get(self.name)
        if self.type == _NUMBER:
            if type(value) is float or type(value) is int or (isinstance(value, Real) and not _is_bool(value)):
                return value
        elif self.type == _STRING:
            if isinstance(value, str):
                return value
        elif value is None:
            return ()  # no tags
        elif _is_tag_collection(value):
            return value
        return _MISSING


@dataclass(frozen=True, slots=True)
class _Const:
    value: object  # a number, a string, a bool, or a frozenset for a list literal
    type: str
    text: str = field(compare=False)
    pos: int = field(compare=False)
    item_type: str | None = None  # for a list literal: the type of its items (None when empty)

    def describe(self) -> str:
        return f"{self.text} (a {self.type})"

    def resolve(self, values: Mapping[str, object]) -> object:
        return self.value


_Operand = _Field | _Const


@dataclass(frozen=True, slots=True)
class _Compare:
    op: str
    left: _Operand
    right: _Operand
    apply: Callable[[Any, Any], Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "apply", _OPERATORS[self.op])

    def evaluate(self, values: Mapping[str, object]) -> bool:
        left = self.left.resolve(values)
        if left is _MISSING:
            return False
        right = self.right.resolve(values)
        if right is _MISSING:
            return False
        return bool(self.apply(left, right))


@dataclass(frozen=True, slots=True)
class _Not:
    operand: _Node

    def evaluate(self, values: Mapping[str, object]) -> bool:
        return not self.operand.evaluate(values)


@dataclass(frozen=True, slots=True)
class _And:
    operands: tuple[_Node, ...]

    def evaluate(self, values: Mapping[str, object]) -> bool:
        return all(operand.evaluate(values) for operand in self.operands)


@dataclass(frozen=True, slots=True)
class _Or:
    operands: tuple[_Node, ...]

    def evaluate(self, values: Mapping[str, object]) -> bool:
        return any(operand.evaluate(values) for operand in self.operands)


_Node = _Compare | _Not | _And | _Or


# -- the parser --------------------------------------------------------------------------------------------------


class _Parser:
    """Recursive descent over the token list; recursion is bounded by :data:`MAX_DEPTH`."""

    def __init__(self, tokens: list[_Token], fail: Callable[[str], InvalidArgument]) -> None:
        self.tokens = tokens
        self.fail = fail
        self.i = 0
        self.depth = 0
        self.fields: set[str] = set()

    @property
    def token(self) -> _Token:
        return self.tokens[self.i]

    def is_keyword(self, word: str, offset: int = 0) -> bool:
        token = self.tokens[min(self.i + offset, len(self.tokens) - 1)]
        return token.kind == "keyword" and token.text == word

    def unexpected(self, token: _Token | None = None, hint: str = "") -> InvalidArgument:
        token = token or self.token
        what = "end of input" if token.kind == "end" else repr(token.text)
        if token.text == "=" and token.kind == "bad":
            hint = " (use '==')"
        return self.fail(f"unexpected {what} at position {token.pos}{hint}")

    def parse(self) -> _Node:
        node = self.parse_or()
        if self.token.kind != "end":
            if self.token.text == ")":
                raise self.unexpected(hint=" (unbalanced parentheses)")
            raise self.unexpected(hint=" after a complete condition")
        return node

    def parse_or(self) -> _Node:
        operands = [self.parse_and()]
        while self.is_keyword("or"):
            self.i += 1
            operands.append(self.parse_and())
        return operands[0] if len(operands) == 1 else _Or(tuple(operands))

    def parse_and(self) -> _Node:
        operands = [self.parse_not()]
        while self.is_keyword("and"):
            self.i += 1
            operands.append(self.parse_not())
        return operands[0] if len(operands) == 1 else _And(tuple(operands))

    def parse_not(self) -> _Node:
        token = self.token
        if self.is_keyword("not") or (token.text == "(" and token.kind == "punct"):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.fail(f"nested deeper than {MAX_DEPTH} levels at position {token.pos}")
            self.i += 1
            if token.kind == "keyword":
                node: _Node = _Not(self.parse_not())
            else:
                node = self.parse_or()
                if self.token.text != ")" or self.token.kind != "punct":
                    if self.token.kind == "end":
                        raise self.fail(f"unbalanced parentheses: '(' at position {token.pos} is never closed")
                    raise self.unexpected(hint=f" (expected ')' to close '(' at position {token.pos})")
                self.i += 1
            self.depth -= 1
            return node
        return self.parse_comparison()

    def parse_comparison(self) -> _Compare:
        left = self.parse_operand()
        token = self.token
        if token.kind == "op":
            op = token.text
            self.i += 1
        elif self.is_keyword("in"):
            op = "in"
            self.i += 1
        elif self.is_keyword("not") and self.is_keyword("in", 1):
            op = "not in"
            self.i += 2
        elif token.kind == "bad":
            raise self.unexpected()
        else:
            what = "end of input" if token.kind == "end" else repr(token.text)
            raise self.fail(
                f"expected a comparison operator (>, >=, <, <=, ==, !=, in, not in) after {left.describe()}, "
                f"got {what} at position {token.pos}"
            )
        right = self.parse_operand()
        return self.check(_Compare(op, left, right), token.pos)

    def parse_operand(self) -> _Operand:
        token = self.token
        if token.kind == "ident":
            if token.text not in _FIELD_TYPES:
                raise self.fail(
                    f"unknown field {token.text!r} at position {token.pos}; known fields: {', '.join(sorted(FIELDS))}"
                )
            self.i += 1
            self.fields.add(token.text)
            return _Field(token.text, _FIELD_TYPES[token.text], token.pos)
        if token.text == "[" and token.kind == "punct":
            return self.parse_list()
        return self.parse_literal()

    def parse_literal(self) -> _Const:
        token = self.token
        if token.kind == "number":
            const = _Const(token.value, _NUMBER, token.text, token.pos)
        elif token.kind == "string":
            const = _Const(token.value, _STRING, token.text, token.pos)
        elif self.is_keyword("true") or self.is_keyword("false"):
            const = _Const(token.text == "true", _BOOL, token.text, token.pos)
        else:
            raise self.unexpected()
        self.i += 1
        return const

    def parse_list(self) -> _Const:
        start = self.token
        self.i += 1
        items: list[_Const] = []
        while not (self.token.text == "]" and self.token.kind == "punct"):
            if self.token.kind == "end":
                raise self.fail(f"unbalanced brackets: '[' at position {start.pos} is never closed")
            if items:
                if self.token.text != "," or self.token.kind != "punct":
                    raise self.unexpected(hint=" (expected ',' or ']')")
                self.i += 1
            item = self.parse_literal()
            if item.type not in (_NUMBER, _STRING):
                raise self.fail(f"a list holds numbers or strings, not {item.describe()} at position {item.pos}")
            if items and item.type != items[0].type:
                raise self.fail(
                    f"a list holds only numbers or only strings, but mixes {items[0].describe()} "
                    f"and {item.describe()} at position {item.pos}"
                )
            items.append(item)
        self.i += 1
        text = "[" + ", ".join(item.text for item in items) + "]"
        item_type = items[0].type if items else None
        return _Const(frozenset(item.value for item in items), _LIST, text, start.pos, item_type)

    def check(self, node: _Compare, op_pos: int) -> _Compare:
        """Type-check one comparison."""
        op, left, right = node.op, node.left, node.right
        at = f"{op!r} at position {op_pos}"
        if isinstance(left, _Const) and isinstance(right, _Const):
            raise self.fail(f"{at} compares two constants; a condition must read a field")
        for side in (left, right) if op not in ("in", "not in") else (left,):
            if side.type in (_LIST, _TAGS):
                what = "'tags'" if side.type == _TAGS else "a list"
                raise self.fail(f"{what} at position {side.pos} can only appear on the right of 'in' / 'not in'")
        if op in ("in", "not in"):
            if right.type == _TAGS:
                if left.type != _STRING:
                    raise self.fail(f"{at} needs a string left of 'tags', got {left.describe()}")
            elif right.type != _LIST:
                raise self.fail(f"{at} needs a list literal or 'tags' on the right, got {right.describe()}")
            elif isinstance(right, _Const) and right.item_type not in (None, left.type):
                raise self.fail(f"{at} looks for {left.describe()} in a list of {right.item_type}s")
        elif op in _ORDERING:
            for side in (left, right):
                if side.type != _NUMBER:
                    raise self.fail(f"{at} needs numbers on both sides, got {side.describe()}")
        elif left.type != right.type:
            raise self.fail(f"{at} cannot compare {left.describe()} with {right.describe()}")
        return node


# -- the public face ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, repr=False)
class Condition:
    """A parsed condition: build it with :func:`parse_condition`, then :meth:`evaluate` it as often as needed."""

    source: str
    fields: frozenset[str]
    _root: _Node = field(compare=False)

    def evaluate(self, values: Mapping[str, object]) -> bool:
        """Whether the condition holds for ``values`` (field -> value); never raises."""
        return self._root.evaluate(values)

    def __repr__(self) -> str:
        return f"Condition({self.source!r})"


def parse_condition(text: str, *, name: str = "condition") -> Condition:
    """Parse ``text``; ``name`` (e.g. ``"promote_if"``) opens every error message.

    Raises :class:`~nexint_core.errors.InvalidArgument` on any malformed input.
    """
    if not isinstance(text, str):
        raise InvalidArgument(f"invalid {name}: a condition must be a string, got {type(text).__name__}")
    source = text.strip()
    quoted = repr(source) if len(source) <= 100 else repr(source[:100]) + "..."

    def fail(detail: str) -> InvalidArgument:
        return InvalidArgument(f"invalid {name} {quoted}: {detail}")

    if not source:
        raise fail("empty condition")
    if len(source) > MAX_LENGTH:
        raise fail(f"condition is {len(source)} characters long; the limit is {MAX_LENGTH}")
    parser = _Parser(_tokenize(source, fail), fail)
    root = parser.parse()
    return Condition(source, frozenset(parser.fields), root)
