"""The branching-logic language: a small, safe expression language for "show this only if ...".

User text is tokenised and parsed by hand into a tree of plain data objects, and the tree is
evaluated by walking it. Nothing here ever calls Python's ``eval``, ``exec``, ``compile`` or
``ast`` on user text, so an expression can only ever compare answers.

Syntax
------
- variable names: ``staff_group`` (ASCII letters, digits and underscores, not starting with a digit)
- string literals in single or double quotes: ``'yes'``, ``"live"`` (no escapes; a string cannot
  contain its own quote character)
- numbers: ``12``, ``-3``, ``2.5``
- ``true`` and ``false``
- comparisons: ``=`` (same as ``==``), ``!=`` (same as ``<>``), ``<``, ``>``, ``<=``, ``>=``
- ``and``, ``or``, ``not`` and parentheses; ``not`` binds tightest, then ``and``, then ``or``
- ``selected(var, 'code')``: the multiple-choice answer ``var`` includes ``code`` (for a single
  choice it means "the answer is ``code``")
- ``answered(var)``: ``var`` has an answer

Keywords and function names are case-insensitive (``AND`` works); variable names are not.
A bare variable is not a condition: write ``consent = 'yes'`` or ``answered(consent)``.

Evaluation rules (they never raise)
-----------------------------------
- An unanswered variable (absent, ``None``, empty or blank string, empty list) makes ``=``,
  ``<``, ``>``, ``<=`` and ``>=`` false.
- ``!=`` is always exactly ``not (... = ...)``: it is therefore true when either side is
  unanswered or when the two sides cannot be compared.
- Two numbers compare numerically. A number and a string that spells a number (``"12"``, as a
  form may deliver it) also compare numerically. Two strings compare as strings (ISO dates
  therefore compare chronologically). Booleans only compare for equality with booleans.
  Any other pairing (for example a list with a string) is a type mismatch and compares false.

Hostile input (very long text, deep nesting, control characters, unknown functions) is
rejected with :class:`ExpressionError`; parsing never recurses deeper than
:data:`MAX_DEPTH` levels, so it cannot raise ``RecursionError``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Union

__all__ = [
    "MAX_DEPTH",
    "MAX_LENGTH",
    "And",
    "Answered",
    "BooleanConstant",
    "Comparison",
    "Expression",
    "ExpressionError",
    "Literal",
    "Node",
    "Not",
    "Or",
    "Selected",
    "Variable",
    "compare_values",
    "is_unanswered",
    "iter_nodes",
    "parse",
]

MAX_LENGTH = 2000
"""Longest expression text accepted, in characters."""

MAX_DEPTH = 32
"""Deepest nesting of parentheses and ``not`` accepted."""

COMPARISON_OPERATORS = ("=", "!=", "<", ">", "<=", ">=")
_OPERATOR_SPELLINGS = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", ">": ">", "<=": "<=", ">=": ">="}
_KEYWORDS = {"and", "or", "not", "true", "false"}
_FUNCTIONS = {"selected": 2, "answered": 1}
_NAME_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_NAME_CHARS = _NAME_START | frozenset("0123456789")
_DIGITS = frozenset("0123456789")
_NUMERIC_STRING = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


class ExpressionError(ValueError):
    """An expression could not be parsed. ``position`` is the 0-based character offset."""

    def __init__(self, message: str, position: int | None = None) -> None:
        self.message = message
        self.position = position
        where = f" at position {position + 1}" if position is not None else ""
        super().__init__(f"{message}{where}")


# --------------------------------------------------------------------------- tokens


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # name, string, number, op, lparen, rparen, comma, end
    text: str
    position: int


def _describe(token: _Token) -> str:
    if token.kind == "end":
        return "the end of the expression"
    return f"{token.text!r}"


def _tokenise(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    index = 0
    length = len(text)
    while index < length:
        char = text[index]
        if char in " \t\r\n":
            index += 1
            continue
        start = index
        if char in _NAME_START:
            while index < length and text[index] in _NAME_CHARS:
                index += 1
            tokens.append(_Token("name", text[start:index], start))
        elif char in _DIGITS or (char in "-." and index + 1 < length and text[index + 1] in _DIGITS):
            index = _scan_number(text, index)
            tokens.append(_Token("number", text[start:index], start))
        elif char in "'\"":
            end = text.find(char, index + 1)
            if end < 0:
                raise ExpressionError(f"unterminated string starting with {char}", start)
            tokens.append(_Token("string", text[index + 1 : end], start))
            index = end + 1
        elif char in "=!<>":
            two = text[index : index + 2]
            if two in _OPERATOR_SPELLINGS:
                index += 2
                tokens.append(_Token("op", _OPERATOR_SPELLINGS[two], start))
            elif char in _OPERATOR_SPELLINGS:
                index += 1
                tokens.append(_Token("op", _OPERATOR_SPELLINGS[char], start))
            else:
                raise ExpressionError("expected '!=' ('!' on its own is not an operator; use 'not')", start)
        elif char == "(":
            tokens.append(_Token("lparen", "(", start))
            index += 1
        elif char == ")":
            tokens.append(_Token("rparen", ")", start))
            index += 1
        elif char == ",":
            tokens.append(_Token("comma", ",", start))
            index += 1
        else:
            shown = repr(char) if char.isprintable() else f"U+{ord(char):04X}"
            raise ExpressionError(f"unexpected character {shown}", start)
    tokens.append(_Token("end", "", length))
    return tokens


def _scan_number(text: str, index: int) -> int:
    """Return the end of the number starting at ``index`` (an optional '-' then digits[.digits])."""
    length = len(text)
    if text[index] == "-":
        index += 1
    seen_point = False
    while index < length and (text[index] in _DIGITS or (text[index] == "." and not seen_point)):
        seen_point = seen_point or text[index] == "."
        index += 1
    if index < length and text[index] in _NAME_CHARS:
        raise ExpressionError("a number cannot run into a name", index)
    return index


# --------------------------------------------------------------------------- tree

Scalar = Union[str, int, float, bool]


@dataclass(frozen=True, slots=True)
class Literal:
    """A constant. ``text`` keeps a number's spelling (so ``'01'`` vs ``1`` stays visible)."""

    value: Scalar
    text: str

    def to_text(self) -> str:
        if isinstance(self.value, bool):
            return "true" if self.value else "false"
        if isinstance(self.value, str):
            quote = '"' if "'" in self.value else "'"
            return f"{quote}{self.value}{quote}"
        return self.text


@dataclass(frozen=True, slots=True)
class Variable:
    name: str

    def to_text(self) -> str:
        return self.name


Operand = Union[Literal, Variable]


@dataclass(frozen=True, slots=True)
class Comparison:
    left: Operand
    operator: str  # one of COMPARISON_OPERATORS
    right: Operand

    def evaluate(self, answers: Mapping[str, object]) -> bool:
        return compare_values(_resolve(self.left, answers), self.operator, _resolve(self.right, answers))

    def to_text(self) -> str:
        return f"{self.left.to_text()} {self.operator} {self.right.to_text()}"


@dataclass(frozen=True, slots=True)
class Selected:
    variable: str
    code: str

    def evaluate(self, answers: Mapping[str, object]) -> bool:
        value = answers.get(self.variable)
        if is_unanswered(value):
            return False
        if isinstance(value, (list, tuple, set, frozenset)):
            return any(_code_text(item) == self.code for item in value)
        return _code_text(value) == self.code

    def to_text(self) -> str:
        return f"selected({self.variable}, {Literal(self.code, self.code).to_text()})"


@dataclass(frozen=True, slots=True)
class Answered:
    variable: str

    def evaluate(self, answers: Mapping[str, object]) -> bool:
        return not is_unanswered(answers.get(self.variable))

    def to_text(self) -> str:
        return f"answered({self.variable})"


@dataclass(frozen=True, slots=True)
class BooleanConstant:
    value: bool

    def evaluate(self, answers: Mapping[str, object]) -> bool:
        return self.value

    def to_text(self) -> str:
        return "true" if self.value else "false"


@dataclass(frozen=True, slots=True)
class Not:
    operand: "Node"

    def evaluate(self, answers: Mapping[str, object]) -> bool:
        return not self.operand.evaluate(answers)

    def to_text(self) -> str:
        inner = self.operand.to_text()
        if isinstance(self.operand, (And, Or, Comparison)):
            inner = f"({inner})"
        return f"not {inner}"


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple["Node", ...]

    def evaluate(self, answers: Mapping[str, object]) -> bool:
        return all(operand.evaluate(answers) for operand in self.operands)

    def to_text(self) -> str:
        return " and ".join(_grouped(operand) for operand in self.operands)


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple["Node", ...]

    def evaluate(self, answers: Mapping[str, object]) -> bool:
        return any(operand.evaluate(answers) for operand in self.operands)

    def to_text(self) -> str:
        return " or ".join(_grouped(operand) for operand in self.operands)


Node = Union[Comparison, Selected, Answered, BooleanConstant, Not, And, Or]


def _grouped(node: Node) -> str:
    # Parenthesise nested and/or so that printing then parsing rebuilds the same tree.
    text = node.to_text()
    return f"({text})" if isinstance(node, (And, Or)) else text


def iter_nodes(node: Node) -> Iterator[Node]:
    """Every node of the tree, parents before children (iterative: no recursion limit)."""
    stack: list[Node] = [node]
    while stack:
        current = stack.pop()
        yield current
        if isinstance(current, Not):
            stack.append(current.operand)
        elif isinstance(current, (And, Or)):
            stack.extend(reversed(current.operands))


# --------------------------------------------------------------------------- values


def is_unanswered(value: object) -> bool:
    """True for an absent answer: ``None``, an empty or blank string, or an empty collection."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        return len(value) == 0
    if isinstance(value, float):
        return math.isnan(value)
    return False


def _resolve(operand: Operand, answers: Mapping[str, object]) -> object:
    if isinstance(operand, Variable):
        return answers.get(operand.name)
    return operand.value


def _code_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _as_number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, str) and len(value) <= 50 and _NUMERIC_STRING.fullmatch(value.strip()):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


def compare_values(left: object, operator: str, right: object) -> bool:
    """Compare two answer values under the rules in the module docstring; never raises."""
    if operator == "!=":
        return not compare_values(left, "=", right)
    if is_unanswered(left) or is_unanswered(right):
        return False
    if isinstance(left, date):
        left = left.isoformat()
    if isinstance(right, date):
        right = right.isoformat()
    if isinstance(left, bool) or isinstance(right, bool):
        return operator == "=" and isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, (int, float)) or isinstance(right, (int, float)):
        left_number, right_number = _as_number(left), _as_number(right)
        if left_number is None or right_number is None:
            return False
        return _ordered(left_number, operator, right_number)
    if isinstance(left, str) and isinstance(right, str):
        return _ordered(left.strip(), operator, right.strip())
    return False


def _ordered(left, operator: str, right) -> bool:
    if operator == "=":
        return left == right
    if operator == "<":
        return left < right
    if operator == ">":
        return left > right
    if operator == "<=":
        return left <= right
    return left >= right


# --------------------------------------------------------------------------- parser


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenise(text)
        self.index = 0
        self.depth = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def is_keyword(self, word: str) -> bool:
        token = self.current
        return token.kind == "name" and token.text.lower() == word

    def expect(self, kind: str, what: str) -> _Token:
        token = self.current
        if token.kind != kind:
            raise ExpressionError(f"expected {what} but found {_describe(token)}", token.position)
        return self.advance()

    def parse(self) -> Node:
        if self.current.kind == "end":
            raise ExpressionError("expected a condition but the expression is empty", 0)
        node = self.parse_or()
        if self.current.kind != "end":
            raise ExpressionError(
                f"expected 'and', 'or' or the end of the expression but found {_describe(self.current)}",
                self.current.position,
            )
        return node

    def parse_or(self) -> Node:
        operands = [self.parse_and()]
        while self.is_keyword("or"):
            self.advance()
            operands.append(self.parse_and())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def parse_and(self) -> Node:
        operands = [self.parse_unary()]
        while self.is_keyword("and"):
            self.advance()
            operands.append(self.parse_unary())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def enter(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError(f"expression is nested more than {MAX_DEPTH} levels deep", token.position)

    def parse_unary(self) -> Node:
        token = self.current
        if self.is_keyword("not"):
            self.advance()
            self.enter(token)
            node = Not(self.parse_unary())
            self.depth -= 1
            return node
        if token.kind == "lparen":
            self.advance()
            self.enter(token)
            node = self.parse_or()
            self.expect("rparen", "')'")
            self.depth -= 1
            return node
        if token.kind == "name" and self.tokens[self.index + 1].kind == "lparen":
            return self.parse_function()
        return self.parse_comparison()

    def parse_function(self) -> Node:
        name_token = self.advance()
        name = name_token.text.lower()
        if name not in _FUNCTIONS:
            raise ExpressionError(
                f"unknown function {name_token.text!r} (expected selected(...) or answered(...))",
                name_token.position,
            )
        self.expect("lparen", "'('")
        variable = self.expect("name", f"a variable name as the first argument of {name}()")
        if variable.text.lower() in _KEYWORDS or variable.text.lower() in _FUNCTIONS:
            raise ExpressionError(f"expected a variable name but found {variable.text!r}", variable.position)
        if name == "answered":
            self.expect("rparen", "')' after the variable of answered()")
            return Answered(variable.text)
        self.expect("comma", "',' and a choice code after the variable of selected()")
        code_token = self.current
        if code_token.kind not in ("string", "number"):
            raise ExpressionError(
                f"expected a choice code (a quoted string or a number) but found {_describe(code_token)}",
                code_token.position,
            )
        self.advance()
        self.expect("rparen", "')' after the choice code of selected()")
        return Selected(variable.text, code_token.text)

    def parse_operand(self) -> Operand:
        token = self.current
        if token.kind == "string":
            self.advance()
            return Literal(token.text, token.text)
        if token.kind == "number":
            self.advance()
            return Literal(_number_value(token), token.text)
        if token.kind == "name":
            lowered = token.text.lower()
            if lowered in ("true", "false"):
                self.advance()
                return Literal(lowered == "true", lowered)
            if lowered in _KEYWORDS:
                raise ExpressionError(f"expected a value but found the keyword {token.text!r}", token.position)
            self.advance()
            return Variable(token.text)
        raise ExpressionError(
            f"expected a variable, a quoted string, a number, 'not' or '(' but found {_describe(token)}",
            token.position,
        )

    def parse_comparison(self) -> Node:
        left = self.parse_operand()
        if self.current.kind != "op":
            if isinstance(left, Literal) and isinstance(left.value, bool):
                return BooleanConstant(left.value)
            raise ExpressionError(
                f"expected a comparison operator (=, !=, <, >, <=, >=) after {left.to_text()!r} "
                f"but found {_describe(self.current)}",
                self.current.position,
            )
        operator = self.advance().text
        right = self.parse_operand()
        if self.current.kind == "op":
            raise ExpressionError("comparisons cannot be chained; join them with 'and'", self.current.position)
        return Comparison(left, operator, right)


def _number_value(token: _Token) -> int | float:
    text = token.text
    if len(text) > 40:
        raise ExpressionError("number is too long", token.position)
    if text.endswith("."):
        raise ExpressionError("expected a digit after the decimal point", token.position + len(text))
    return float(text) if "." in text else int(text)


# --------------------------------------------------------------------------- public API


@dataclass(frozen=True)
class Expression:
    """A parsed expression. Build it with :func:`parse`."""

    text: str
    root: Node

    @property
    def variables(self) -> frozenset[str]:
        """Names of every variable the expression reads."""
        names: set[str] = set()
        for node in iter_nodes(self.root):
            if isinstance(node, Comparison):
                names.update(side.name for side in (node.left, node.right) if isinstance(side, Variable))
            elif isinstance(node, (Selected, Answered)):
                names.add(node.variable)
        return frozenset(names)

    def evaluate(self, answers: Mapping[str, object]) -> bool:
        """True when the condition holds for ``answers`` (variable -> value). Never raises."""
        return self.root.evaluate(answers)

    def to_text(self) -> str:
        """Canonical spelling: parsing it again gives an equal tree."""
        return self.root.to_text()

    def nodes(self) -> Iterator[Node]:
        return iter_nodes(self.root)


def parse(text: str) -> Expression:
    """Parse ``text`` into an :class:`Expression`; raise :class:`ExpressionError` if it is invalid."""
    if not isinstance(text, str):
        raise ExpressionError(f"expected expression text, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression is longer than {MAX_LENGTH} characters", MAX_LENGTH)
    return Expression(text, _Parser(text).parse())
