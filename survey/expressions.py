"""The expression language: a small, safe language for branching ("show this only if ...") and
for calculated fields ("bmi is weight div (height * height)").

User text is tokenised and parsed by hand into a tree of plain data objects, and the tree is
evaluated by walking it. Nothing here ever calls Python's ``eval``, ``exec``, ``compile`` or
``ast`` on user text, so an expression can only ever compare and compute with answers.
A *condition* (:func:`parse`) gives true or false; a *calculation* (:func:`parse_calculation`)
gives a value (a number, text, or empty).

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

Values (calculations, and either side of a comparison)
-----------------------------------------------------
- arithmetic: ``+``, ``-``, ``*``, ``div`` (``/`` is accepted and written ``div``), ``mod``
  (remainder with the sign of the left side), unary minus and parentheses; ``*``, ``div`` and
  ``mod`` bind tighter than ``+`` and ``-``; all are left-associative
- ``if(condition, a, b)``: ``a`` when the condition holds, else ``b``
- ``round(x)``, ``round(x, n)``: ``x`` rounded to ``n`` (0 to 10) decimal places, halves away
  from zero
- ``int(x)``: ``x`` without its fraction (towards zero); ``abs(x)``
- ``coalesce(a, b, ...)``: the first argument that is not empty
- ``sum(a, b, ...)``: the total of the arguments that are not empty (empty if all are)
- ``days_between(a, b)``: whole days from date ``a`` to date ``b`` (``b`` minus ``a``; negative
  when ``b`` is earlier). Subtracting two dates, ``b - a``, gives the same number.

Arithmetic reads numbers, and text that spells a number (choice codes such as ``'2'``). An
empty input, text that is not a number, division (or ``mod``) by zero, or a result too large to
be finite gives an *empty* value, never an error. A comparison with an empty value is false,
as above.

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
:data:`MAX_DEPTH` levels of parentheses, ``not``, unary minus and function calls, so it cannot
raise ``RecursionError``; chains of ``and``, ``or``, ``+``, ``*`` ... are flat lists, so the tree
is never deeper than a small multiple of :data:`MAX_DEPTH`, and evaluating it visits each node
once (no loops, no recursion into answers), so evaluation time grows with the text's length,
which :data:`MAX_LENGTH` bounds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Union

__all__ = [
    "quoted",
    "CONDITION_FUNCTIONS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "VALUE_FUNCTIONS",
    "And",
    "Answered",
    "Arithmetic",
    "BooleanConstant",
    "Calculation",
    "Comparison",
    "Expression",
    "ExpressionError",
    "Function",
    "If",
    "Literal",
    "Negate",
    "Node",
    "Not",
    "Or",
    "Selected",
    "Value",
    "Variable",
    "children",
    "compare_values",
    "is_condition",
    "is_unanswered",
    "iter_nodes",
    "parse",
    "parse_calculation",
    "transform",
]

MAX_LENGTH = 2000
"""Longest expression text accepted, in characters."""

MAX_DEPTH = 32
"""Deepest nesting of parentheses, ``not``, unary minus and function calls accepted."""

MAX_ROUND_PLACES = 10

COMPARISON_OPERATORS = ("=", "!=", "<", ">", "<=", ">=")
ADDITIVE_OPERATORS = ("+", "-")
MULTIPLICATIVE_OPERATORS = ("*", "div", "mod")
_OPERATOR_SPELLINGS = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", ">": ">", "<=": "<=", ">=": ">="}
_KEYWORDS = {"and", "or", "not", "true", "false"}
CONDITION_FUNCTIONS = {"selected": 2, "answered": 1}
"""Functions that give true or false: name -> number of arguments."""
VALUE_FUNCTIONS = {"if": (3, 3), "round": (1, 2), "int": (1, 1), "abs": (1, 1), "coalesce": (2, 20),
                   "sum": (1, 50), "days_between": (2, 2)}
"""Functions that give a value: name -> (fewest, most) arguments."""
_FUNCTIONS = {**CONDITION_FUNCTIONS, **VALUE_FUNCTIONS}
_NAME_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_NAME_CHARS = _NAME_START | frozenset("0123456789")
_DIGITS = frozenset("0123456789")
_NUMERIC_STRING = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_EXACT_INTEGERS = 2.0**53  # beyond this a float no longer holds every whole number


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
    kind: str  # name, string, number, op, arith, lparen, rparen, comma, end
    text: str
    position: int


_ENDS_A_VALUE = frozenset({"name", "number", "string", "rparen"})


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
        # A '-' right after a value is subtraction ("a -3"); elsewhere before a digit it starts a number.
        after_value = bool(tokens) and tokens[-1].kind in _ENDS_A_VALUE
        if char in _NAME_START:
            while index < length and text[index] in _NAME_CHARS:
                index += 1
            tokens.append(_Token("name", text[start:index], start))
        elif char in _DIGITS or (char in "-." and not (char == "-" and after_value)
                                 and index + 1 < length and text[index + 1] in _DIGITS):
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
        elif char in "+-*/":
            tokens.append(_Token("arith", "div" if char == "/" else char, start))
            index += 1
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


def quoted(text: str) -> str:
    """A string literal as our language, REDCap and XPath all write one: in single quotes unless
    the text holds one (none of them has escapes)."""
    quote = '"' if "'" in text else "'"
    return f"{quote}{text}{quote}"


@dataclass(frozen=True, slots=True)
class Literal:
    """A constant. ``text`` keeps a number's spelling (so ``'01'`` vs ``1`` stays visible)."""

    value: Scalar
    text: str

    def compute(self, answers: Mapping[str, object]) -> object:
        return self.value

    def to_text(self) -> str:
        if isinstance(self.value, bool):
            return "true" if self.value else "false"
        if isinstance(self.value, str):
            return quoted(self.value)
        return self.text


@dataclass(frozen=True, slots=True)
class Variable:
    name: str

    def compute(self, answers: Mapping[str, object]) -> object:
        return answers.get(self.name)

    def to_text(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class Negate:
    """Unary minus of a value that is not a number literal (``-3`` is a :class:`Literal`)."""

    operand: "Value"

    def compute(self, answers: Mapping[str, object]) -> object:
        number = _as_number(self.operand.compute(answers))
        return None if number is None else _tidy(-number)

    def to_text(self) -> str:
        inner = self.operand.to_text()
        return f"-({inner})" if isinstance(self.operand, Arithmetic) else f"-{inner}"


@dataclass(frozen=True, slots=True)
class Arithmetic:
    """``operands[0] op[0] operands[1] op[1] ...`` evaluated left to right; all operators share
    one precedence level (``+ -`` or ``* div mod``), so a long chain is a flat list, not a deep tree."""

    operands: tuple["Value", ...]
    operators: tuple[str, ...]

    def compute(self, answers: Mapping[str, object]) -> object:
        result = self.operands[0].compute(answers)
        for operator, operand in zip(self.operators, self.operands[1:]):
            result = _apply(operator, result, operand.compute(answers))
            if result is None:
                return None
        return result

    def to_text(self) -> str:
        additive = self.operators[0] in ADDITIVE_OPERATORS
        parts = [self._shown(self.operands[0], additive)]
        parts += [f"{operator} {self._shown(operand, additive)}" for operator, operand in zip(self.operators, self.operands[1:])]
        return " ".join(parts)

    @staticmethod
    def _shown(operand: "Value", additive: bool) -> str:
        # Only a * chain inside a + chain goes without brackets: the parser makes every other
        # nesting flat, so printing then parsing gives the same tree.
        if isinstance(operand, Arithmetic) and not (additive and operand.operators[0] not in ADDITIVE_OPERATORS):
            return f"({operand.to_text()})"
        return operand.to_text()


@dataclass(frozen=True, slots=True)
class If:
    condition: "Node"
    then: "Value"
    otherwise: "Value"

    def compute(self, answers: Mapping[str, object]) -> object:
        return (self.then if self.condition.evaluate(answers) else self.otherwise).compute(answers)

    def to_text(self) -> str:
        return f"if({self.condition.to_text()}, {self.then.to_text()}, {self.otherwise.to_text()})"


@dataclass(frozen=True, slots=True)
class Function:
    """A value function other than ``if``: round, int, abs, coalesce, sum, days_between."""

    name: str
    arguments: tuple["Value", ...]

    def compute(self, answers: Mapping[str, object]) -> object:
        return _FUNCTION_RULES[self.name]([argument.compute(answers) for argument in self.arguments])

    def to_text(self) -> str:
        return f"{self.name}({', '.join(argument.to_text() for argument in self.arguments)})"


Value = Union[Literal, Variable, Negate, Arithmetic, If, Function]


@dataclass(frozen=True, slots=True)
class Comparison:
    left: Value
    operator: str  # one of COMPARISON_OPERATORS
    right: Value

    def evaluate(self, answers: Mapping[str, object]) -> bool:
        return compare_values(self.left.compute(answers), self.operator, self.right.compute(answers))

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
_CONDITION_TYPES = (Comparison, Selected, Answered, BooleanConstant, Not, And, Or)


def is_condition(node: object) -> bool:
    """True for a node that gives true/false (a :data:`Node`), False for a value."""
    return isinstance(node, _CONDITION_TYPES)


def _grouped(node: Node) -> str:
    # Parenthesise nested and/or so that printing then parsing rebuilds the same tree.
    text = node.to_text()
    return f"({text})" if isinstance(node, (And, Or)) else text


def children(node: object) -> tuple:
    """The direct sub-expressions of a node (none for a variable, literal, selected(), answered())."""
    if isinstance(node, (Not, Negate)):
        return (node.operand,)
    if isinstance(node, (And, Or, Arithmetic)):
        return node.operands
    if isinstance(node, Comparison):
        return (node.left, node.right)
    if isinstance(node, If):
        return (node.condition, node.then, node.otherwise)
    if isinstance(node, Function):
        return node.arguments
    return ()


def iter_nodes(node: object) -> Iterator:
    """Every node of the tree (conditions and values), parents before children (iterative)."""
    stack: list = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))


def transform(node, rule: Callable):
    """A copy of the tree with ``rule`` applied to every node, children first (``rule`` returns
    the node to use in its place). The tree is at most a few times :data:`MAX_DEPTH` deep."""
    if isinstance(node, (Not, Negate)):
        node = type(node)(transform(node.operand, rule))
    elif isinstance(node, (And, Or)):
        node = type(node)(tuple(transform(operand, rule) for operand in node.operands))
    elif isinstance(node, Arithmetic):
        node = Arithmetic(tuple(transform(operand, rule) for operand in node.operands), node.operators)
    elif isinstance(node, Comparison):
        node = Comparison(transform(node.left, rule), node.operator, transform(node.right, rule))
    elif isinstance(node, If):
        node = If(transform(node.condition, rule), transform(node.then, rule), transform(node.otherwise, rule))
    elif isinstance(node, Function):
        node = Function(node.name, tuple(transform(argument, rule) for argument in node.arguments))
    return rule(node)


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


def _code_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _as_number(value: object) -> float | None:
    if type(value) is float:  # the usual case first: answers and results are mostly floats
        return value if math.isfinite(value) else None
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:  # an int too large for a float
            return None
        return number if math.isfinite(number) else None
    if isinstance(value, str) and len(value) <= 50 and _NUMERIC_STRING.fullmatch(value.strip()):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


def _as_date(value: object) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _tidy(number: float | None) -> int | float | None:
    """A finite result as an int when it is whole (and exactly representable), else a float; else empty."""
    if number is None or not math.isfinite(number):
        return None
    if number.is_integer() and abs(number) < _EXACT_INTEGERS:
        return int(number)
    return number


def _apply(operator: str, left: object, right: object) -> int | float | None:
    if operator == "-" and type(left) is not float and type(left) is not int:  # a number is not a date
        left_date, right_date = _as_date(left), _as_date(right)
        if left_date is not None and right_date is not None:
            return (left_date - right_date).days
    a, b = _as_number(left), _as_number(right)
    if a is None or b is None:
        return None
    if operator == "+":
        return _tidy(a + b)
    if operator == "-":
        return _tidy(a - b)
    if operator == "*":
        return _tidy(a * b)
    if b == 0:  # div and mod by zero: empty, never an error
        return None
    return _tidy(a / b if operator == "div" else math.fmod(a, b))


def _round(arguments: list[object]) -> int | float | None:
    number = _as_number(arguments[0])
    places = _as_number(arguments[1]) if len(arguments) > 1 else 0.0
    if number is None or places is None or not places.is_integer() or not 0 <= places <= MAX_ROUND_PLACES:
        return None
    if abs(number) >= _EXACT_INTEGERS:
        return _tidy(number)  # no fraction left to round
    # Round the number as written (its shortest decimal spelling), halves away from zero. Only a
    # written tie (2.25 to 1 place) can round differently from the binary value, which the
    # built-in round() handles exactly and much faster: ties alone go through Decimal.
    text = repr(number)
    fraction = text.partition(".")[2]
    if "e" in text or (len(fraction) == int(places) + 1 and fraction.endswith("5")):
        try:
            rounded = Decimal(text).quantize(Decimal(1).scaleb(-int(places)), rounding=ROUND_HALF_UP)
        except InvalidOperation:
            return None
        return _tidy(float(rounded))
    return _tidy(round(number, int(places)))


def _int(arguments: list[object]) -> int | None:
    number = _as_number(arguments[0])
    return None if number is None else _tidy(float(math.trunc(number)))


def _abs(arguments: list[object]) -> int | float | None:
    number = _as_number(arguments[0])
    return None if number is None else _tidy(abs(number))


def _coalesce(arguments: list[object]) -> object:
    return next((argument for argument in arguments if not is_unanswered(argument)), None)


def _sum(arguments: list[object]) -> int | float | None:
    given = [argument for argument in arguments if not is_unanswered(argument)]
    numbers = [_as_number(argument) for argument in given]
    if not numbers or any(number is None for number in numbers):
        return None
    try:
        return _tidy(math.fsum(numbers))
    except OverflowError:  # a total beyond a float is no value, like any other overflow
        return None


def _days_between(arguments: list[object]) -> int | None:
    start, end = _as_date(arguments[0]), _as_date(arguments[1])
    return None if start is None or end is None else (end - start).days


_FUNCTION_RULES: dict[str, Callable[[list[object]], object]] = {
    "round": _round, "int": _int, "abs": _abs, "coalesce": _coalesce, "sum": _sum, "days_between": _days_between,
}


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
    """Recursive descent over: or > and > not > comparison > + - > * div mod > unary minus > primary.

    Every level accepts both conditions and values and checks the kind where it matters
    (``and`` needs conditions, ``+`` needs values, ...), so ``(a + b) > 3`` and ``(a = 1) and
    b = 2`` both parse without backtracking.
    """

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

    def enter(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError(f"expression is nested more than {MAX_DEPTH} levels deep", token.position)

    def leave(self) -> None:
        self.depth -= 1

    # ---- kinds

    def condition(self, node, context: str = "") -> Node:
        """``node`` if it is a condition; else the error a bare value deserves, at the current token."""
        if is_condition(node):
            return node
        if isinstance(node, Literal) and isinstance(node.value, bool):
            return BooleanConstant(node.value)
        raise ExpressionError(
            f"expected a comparison operator (=, !=, <, >, <=, >=) after {node.to_text()!r}{context} "
            f"but found {_describe(self.current)}", self.current.position)

    @staticmethod
    def value(node, token: _Token, role: str) -> Value:
        if is_condition(node):
            raise ExpressionError(f"expected a value {role} but found the condition {node.to_text()!r}",
                                  token.position)
        return node

    # ---- entry points

    def parse_condition(self) -> Node:
        if self.current.kind == "end":
            raise ExpressionError("expected a condition but the expression is empty", 0)
        node = self.condition(self.parse_or())
        if self.current.kind != "end":
            raise ExpressionError(
                f"expected 'and', 'or' or the end of the expression but found {_describe(self.current)}",
                self.current.position,
            )
        return node

    def parse_value(self) -> Value:
        if self.current.kind == "end":
            raise ExpressionError("expected a calculation but the expression is empty", 0)
        start = self.current
        node = self.parse_or()
        if self.current.kind != "end":
            raise ExpressionError(
                f"expected an operator (+, -, *, div, mod) or the end of the expression but found "
                f"{_describe(self.current)}", self.current.position)
        if isinstance(node, BooleanConstant):
            return Literal(node.value, "true" if node.value else "false")
        return self.value(node, start, "as the result of a calculation (wrap a condition in if(condition, 1, 0))")

    # ---- levels

    def parse_or(self):
        operands = [self.parse_and()]
        while self.is_keyword("or"):
            operands[0] = self.condition(operands[0])
            self.advance()
            operands.append(self.condition(self.parse_and()))
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def parse_and(self):
        operands = [self.parse_not()]
        while self.is_keyword("and"):
            operands[0] = self.condition(operands[0])
            self.advance()
            operands.append(self.condition(self.parse_not()))
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def parse_not(self):
        token = self.current
        if self.is_keyword("not"):
            self.advance()
            self.enter(token)
            node = Not(self.condition(self.parse_not()))
            self.leave()
            return node
        return self.parse_comparison()

    def parse_comparison(self):
        start = self.current
        left = self.parse_additive()
        if self.current.kind != "op":
            return left
        operator_token = self.advance()
        left = self.value(left, start, f"before {operator_token.text!r}")
        right_start = self.current
        right = self.value(self.parse_additive(), right_start, f"after {operator_token.text!r}")
        if self.current.kind == "op":
            raise ExpressionError("comparisons cannot be chained; join them with 'and'", self.current.position)
        return Comparison(left, operator_token.text, right)

    def _chain(self, operators: tuple[str, ...], operand: Callable[[], object]):
        start = self.current
        operands = [operand()]
        spelled: list[str] = []
        while True:
            token = self.current
            word = token.text.lower() if token.kind in ("arith", "name") else None
            if word not in operators or (token.kind == "name" and word not in ("div", "mod")):
                break
            if not spelled:
                operands[0] = self.value(operands[0], start, f"before {token.text!r}")
            self.advance()
            right_start = self.current
            operands.append(self.value(operand(), right_start, f"after {token.text!r}"))
            spelled.append(word)
        return operands[0] if not spelled else Arithmetic(tuple(operands), tuple(spelled))

    def parse_additive(self):
        return self._chain(ADDITIVE_OPERATORS, self.parse_multiplicative)

    def parse_multiplicative(self):
        return self._chain(MULTIPLICATIVE_OPERATORS, self.parse_unary)

    def parse_unary(self):
        token = self.current
        if token.kind == "arith" and token.text == "-":
            self.advance()
            self.enter(token)
            operand = self.value(self.parse_unary(), self.current, "after '-'")
            self.leave()
            if isinstance(operand, Literal) and isinstance(operand.value, (int, float)) \
                    and not isinstance(operand.value, bool) and not operand.text.startswith("-"):
                return Literal(-operand.value, "-" + operand.text)
            return Negate(operand)
        return self.parse_primary()

    def parse_primary(self):
        token = self.current
        if token.kind == "lparen":
            self.advance()
            self.enter(token)
            node = self.parse_or()
            self.expect("rparen", "')'")
            self.leave()
            return node
        if token.kind == "name" and self.tokens[self.index + 1].kind == "lparen":
            return self.parse_function()
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

    def parse_function(self):
        name_token = self.advance()
        name = name_token.text.lower()
        if name not in _FUNCTIONS:
            known = ", ".join(f"{known}()" for known in _FUNCTIONS)
            raise ExpressionError(f"unknown function {name_token.text!r} (the functions are {known})",
                                  name_token.position)
        self.enter(name_token)
        self.expect("lparen", "'('")
        node = self.condition_function(name) if name in CONDITION_FUNCTIONS else self.value_function(name, name_token)
        self.leave()
        return node

    def condition_function(self, name: str) -> Node:
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

    def value_function(self, name: str, name_token: _Token):
        arguments: list = []
        starts: list[_Token] = []
        if self.current.kind != "rparen":
            while True:
                starts.append(self.current)
                arguments.append(self.parse_or())
                if self.current.kind != "comma":
                    break
                self.advance()
        self.expect("rparen", f"',' or ')' in {name}()")
        fewest, most = VALUE_FUNCTIONS[name]
        if not fewest <= len(arguments) <= most:
            wanted = str(fewest) if fewest == most else f"{fewest} to {most}"
            raise ExpressionError(f"{name}() takes {wanted} argument{'s' if most > 1 else ''}, not {len(arguments)}",
                                  name_token.position)
        if name == "if":
            condition = arguments[0]
            if not is_condition(condition):
                if isinstance(condition, Literal) and isinstance(condition.value, bool):
                    condition = BooleanConstant(condition.value)
                else:
                    raise ExpressionError(f"the first argument of if() must be a condition, not {condition.to_text()!r}",
                                          starts[0].position)
            then = self.value(arguments[1], starts[1], "as the second argument of if()")
            otherwise = self.value(arguments[2], starts[2], "as the third argument of if()")
            return If(condition, then, otherwise)
        checked = tuple(self.value(argument, start, f"as an argument of {name}()")
                        for argument, start in zip(arguments, starts))
        return Function(name, checked)


def _number_value(token: _Token) -> int | float:
    text = token.text
    if len(text) > 40:
        raise ExpressionError("number is too long", token.position)
    if text.endswith("."):
        raise ExpressionError("expected a digit after the decimal point", token.position + len(text))
    return float(text) if "." in text else int(text)


# --------------------------------------------------------------------------- public API


def _variables(root: object) -> frozenset[str]:
    names: set[str] = set()
    for node in iter_nodes(root):
        if isinstance(node, Variable):
            names.add(node.name)
        elif isinstance(node, (Selected, Answered)):
            names.add(node.variable)
    return frozenset(names)


@dataclass(frozen=True)
class Expression:
    """A parsed condition. Build it with :func:`parse`."""

    text: str
    root: Node

    @property
    def variables(self) -> frozenset[str]:
        """Names of every variable the expression reads."""
        return _variables(self.root)

    def evaluate(self, answers: Mapping[str, object]) -> bool:
        """True when the condition holds for ``answers`` (variable -> value). Never raises."""
        return self.root.evaluate(answers)

    def to_text(self) -> str:
        """Canonical spelling: parsing it again gives an equal tree."""
        return self.root.to_text()

    def nodes(self) -> Iterator:
        return iter_nodes(self.root)


@dataclass(frozen=True)
class Calculation:
    """A parsed calculation. Build it with :func:`parse_calculation`."""

    text: str
    root: Value

    @property
    def variables(self) -> frozenset[str]:
        return _variables(self.root)

    def compute(self, answers: Mapping[str, object]) -> int | float | str | None:
        """The value for ``answers``: a number, text (an ISO date for a date), or None when empty.

        Never raises: a missing input, a division by zero or a non-number gives None.
        """
        return _result(self.root.compute(answers))

    def to_text(self) -> str:
        return self.root.to_text()

    def nodes(self) -> Iterator:
        return iter_nodes(self.root)


def _result(value: object) -> int | float | str | None:
    if type(value) is int or type(value) is float:
        return _tidy(_as_number(value))
    if is_unanswered(value):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _tidy(_as_number(value))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return value.strip()
    return None  # a list (multiple choice) or other structure is not a single value


def _checked_text(text: object) -> str:
    if not isinstance(text, str):
        raise ExpressionError(f"expected expression text, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression is longer than {MAX_LENGTH} characters", MAX_LENGTH)
    return text


def parse(text: str) -> Expression:
    """Parse condition ``text`` into an :class:`Expression`; raise :class:`ExpressionError` if it is invalid."""
    return Expression(text, _Parser(_checked_text(text)).parse_condition())


def parse_calculation(text: str) -> Calculation:
    """Parse calculation ``text`` into a :class:`Calculation`; raise :class:`ExpressionError` if it is invalid."""
    return Calculation(text, _Parser(_checked_text(text)).parse_value())
