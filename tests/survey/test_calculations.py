"""Calculations: every operator and function, empty results instead of errors, precedence,
printing, errors that say where, and property tests (no input runs code; work is bounded by
the text's size, checked by the tree's shape and by counting answer reads)."""

import builtins
import string
from collections.abc import Mapping
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from survey.expressions import (
    MAX_DEPTH,
    MAX_LENGTH,
    Answered,
    Calculation,
    ExpressionError,
    Selected,
    Variable,
    children,
    parse,
    parse_calculation,
)

FAST = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def compute(text: str, **answers):
    return parse_calculation(text).compute(answers)


@pytest.mark.parametrize(
    ("text", "answers", "expected"),
    [
        ("a + b", {"a": 2, "b": 3}, 5),
        ("a - b", {"a": 2, "b": 3}, -1),
        ("a * b", {"a": 2, "b": 3.5}, 7),
        ("a div b", {"a": 7, "b": 2}, 3.5),
        ("a / b", {"a": 9, "b": 3}, 3),
        ("a mod b", {"a": 7, "b": 3}, 1),
        ("a mod b", {"a": -7, "b": 3}, -1),  # the sign of the left side, as XPath's mod
        ("a mod b", {"a": 7.5, "b": 2}, 1.5),
        ("-a", {"a": 4}, -4),
        ("- -a", {"a": 4}, 4),
        ("a + b", {"a": "2", "b": "0.5"}, 2.5),  # choice codes and form text that spell numbers
        ("1 + 2 * 3", {}, 7),
        ("(1 + 2) * 3", {}, 9),
        ("10 - 4 - 3", {}, 3),  # left-associative
        ("10 - (4 - 3)", {}, 9),
        ("2 * 3 mod 4", {}, 2),
        ("100 div 10 div 5", {}, 2),
        (".5 + 1", {}, 1.5),
        ("a -1", {"a": 3}, 2),  # a minus after a value is subtraction
    ],
)
def test_arithmetic(text, answers, expected):
    assert compute(text, **answers) == expected


@pytest.mark.parametrize(
    ("text", "answers", "expected"),
    [
        ("if(a > 3, 'big', 'small')", {"a": 4}, "big"),
        ("if(a > 3, 'big', 'small')", {"a": 3}, "small"),
        ("if(a > 3, 'big', 'small')", {}, "small"),  # a comparison with an empty value is false
        ("if(selected(t, 'x') and not answered(u), 1, 0)", {"t": ["x", "y"]}, 1),
        ("if(true, 1, 0)", {}, 1),
        ("round(a, 1)", {"a": 2.25}, 2.3),  # halves away from zero, not to even
        ("round(a, 1)", {"a": -2.25}, -2.3),
        ("round(a)", {"a": 2.5}, 3),
        ("round(a, 2)", {"a": 1.005}, 1.01),  # decimal, not binary, rounding
        ("round(a, 0)", {"a": 1e300}, 1e300),
        ("int(a)", {"a": -7.9}, -7),
        ("int(a)", {"a": 7.9}, 7),
        ("abs(a)", {"a": -2.5}, 2.5),
        ("coalesce(a, b, 0)", {"b": 4}, 4),
        ("coalesce(a, b, 0)", {"a": "", "b": None}, 0),
        ("coalesce(a, 'none')", {"a": "text"}, "text"),
        ("sum(a, b, c)", {"a": 1, "c": "2.5"}, 3.5),  # empty inputs are skipped
        ("days_between(s, e)", {"s": "2024-02-01", "e": "2024-03-01"}, 29),
        ("days_between(s, e)", {"s": "2024-03-01", "e": "2024-02-01"}, -29),
        ("e - s", {"s": "2024-12-31", "e": "2025-01-01"}, 1),
        ("e - s + 1", {"s": "2024-01-01", "e": "2024-01-01"}, 1),
        ("a", {"a": True}, "true"),
        ("'fixed'", {}, "fixed"),
    ],
)
def test_functions(text, answers, expected):
    assert compute(text, **answers) == expected


@pytest.mark.parametrize(
    ("text", "answers"),
    [
        ("a div b", {"a": 1, "b": 0}),  # division by zero
        ("a mod b", {"a": 1, "b": 0}),
        ("a + 1", {}),  # a missing input
        ("a + 1", {"a": ""}),
        ("a + 1", {"a": "  "}),
        ("a * 2", {"a": "abc"}),  # text that is not a number
        ("a * 2", {"a": ["1"]}),  # a multiple-choice answer
        ("a * 2", {"a": True}),
        ("-a", {}),
        ("a * a", {"a": 1e200}),  # overflow to infinity
        ("sum(a, a)", {"a": 8.98846567431158e307}),  # a total beyond a float (found by Hypothesis)
        ("a + 1", {"a": 10**400}),  # an integer too large for a float
        ("round(a, b)", {"a": 2.5, "b": 11}),  # too many places
        ("round(a, b)", {"a": 2.5, "b": 1.5}),
        ("round(a, 1)", {}),
        ("int(a)", {"a": "x"}),
        ("abs(a)", {}),
        ("coalesce(a, b)", {}),
        ("sum(a, b)", {}),
        ("sum(a, b)", {"a": 1, "b": "x"}),
        ("days_between(s, e)", {"s": "2024-02-01"}),
        ("days_between(s, e)", {"s": "2024-02-30", "e": "2024-03-01"}),  # not a real date
        ("days_between(s, e)", {"s": 3, "e": 4}),
        ("if(a > 1, b, c)", {"a": 2}),
        ("a", {"a": ["x"]}),  # a list is not one value
        ("(a div b) + 1", {"a": 1, "b": 0}),  # empty propagates
    ],
)
def test_empty_instead_of_an_error(text, answers):
    assert compute(text, **answers) is None


def test_whole_results_are_ints_and_others_floats():
    assert isinstance(compute("a div b", a=6, b=3), int)
    assert isinstance(compute("a div b", a=7, b=2), float)
    assert compute("0.1 + 0.2") == pytest.approx(0.3)


def test_arithmetic_inside_conditions():
    assert parse("a + b > 10").evaluate({"a": 6, "b": 5}) is True
    assert parse("(a + b) * 2 = 22 and not c div 0 = 1").evaluate({"a": 6, "b": 5, "c": 1}) is True
    assert parse("a div b > 1").evaluate({"a": 1, "b": 0}) is False  # empty: false
    assert parse("a div b != 1").evaluate({"a": 1, "b": 0}) is True
    assert parse("days_between(s, e) >= 28").evaluate({"s": "2024-02-01", "e": "2024-03-01"}) is True
    assert parse("(a = 1) or b = 2").evaluate({"b": 2}) is True


def test_variables_include_every_read():
    calculation = parse_calculation("if(selected(t, 'x') or answered(u), a + b, coalesce(c, round(d, 1)))")
    assert calculation.variables == {"t", "u", "a", "b", "c", "d"}
    assert parse("a + b > c").variables == {"a", "b", "c"}


@pytest.mark.parametrize(
    "text",
    ["a + b * c", "(a + b) * c", "a - (b - c)", "a - b - c", "-(a + b)", "- -3", "a * -3", "a div (b div c)",
     "a mod 2 + 1", "if(a > 1 and (b = 2 or c = 3), 'x', \"it's\")", "round(a div b, 2)", "coalesce(a, b, 0)",
     "sum(a, b) - days_between(d, e)", "int(abs(-a))", "(a * b) * c", "((a + b)) + c"],
)
def test_printing_then_parsing_gives_the_same_tree(text):
    once = parse_calculation(text)
    assert parse_calculation(once.to_text()).root == once.root


@pytest.mark.parametrize(
    ("text", "fragment", "position"),
    [
        ("", "empty", 0),
        ("a +", "expected a variable", 3),
        ("a + b c", "expected an operator (+, -, *, div, mod) or the end", 6),
        ("a > 1", "as the result of a calculation", 0),
        ("1 + (a = 1)", "expected a value after '+'", 4),
        ("(a = 1) * 2", "expected a value before '*'", 0),
        ("if(a, 1, 0)", "the first argument of if() must be a condition", 3),
        ("if(a > 1, 1)", "if() takes 3 arguments, not 2", 0),
        ("round()", "round() takes 1 to 2 arguments, not 0", 0),
        ("round(a > 1, 1)", "expected a value as an argument of round()", 6),
        ("sqrt(a)", "unknown function 'sqrt'", 0),
        ("a ^ 2", "unexpected character '^'", 2),
        ("today()", "unknown function 'today'", 0),
        ("coalesce(a b)", "expected ',' or ')' in coalesce()", 11),
    ],
)
def test_calculation_errors_say_where_and_what(text, fragment, position):
    with pytest.raises(ExpressionError) as caught:
        parse_calculation(text)
    assert fragment in str(caught.value)
    assert caught.value.position == position


def test_a_bare_value_is_still_not_a_condition():
    with pytest.raises(ExpressionError, match="expected a comparison operator"):
        parse("a + 1")
    with pytest.raises(ExpressionError, match="expected a comparison operator"):
        parse("round(a, 1) and b = 1")


def test_deep_nesting_of_values_is_rejected_not_a_recursion_error():
    with pytest.raises(ExpressionError, match="nested more than"):
        parse_calculation("-" * (MAX_DEPTH + 1) + "a")
    with pytest.raises(ExpressionError, match="nested more than"):
        parse_calculation("abs(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1))
    long_chain = " + ".join(["a"] * (MAX_LENGTH // 4 - 1))  # a flat chain, however long, is fine
    assert compute(long_chain, a=1) == MAX_LENGTH // 4 - 1


# --------------------------------------------------------------------------- properties


@contextmanager
def no_code_runs():
    """Make every way of running text as Python fail while the block runs."""
    saved = {name: getattr(builtins, name) for name in ("eval", "exec", "compile", "__import__")}

    def forbidden(*args, **kwargs):
        raise AssertionError("user text reached a Python code path")

    for name in saved:
        setattr(builtins, name, forbidden)
    try:
        yield
    finally:
        for name, function in saved.items():
            setattr(builtins, name, function)


class CountingAnswers(Mapping):
    """Answers that count how often they are read."""

    def __init__(self, values: dict) -> None:
        self.values = values
        self.reads = 0

    def __getitem__(self, key):
        self.reads += 1
        return self.values[key]

    def get(self, key, default=None):
        self.reads += 1
        return self.values.get(key, default)

    def __iter__(self):
        return iter(self.values)

    def __len__(self):
        return len(self.values)


def tree_depth(root) -> int:
    deepest, stack = 0, [(root, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children(node))
    return deepest


TOKENS = ["a", "b", "c", "t", "1", "2.5", "-3", "0", "'x'", "'2024-01-01'", "+", "-", "*", "div", "mod", "/", "(", ")",
          ",", "=", "!=", "<", ">=", "and", "or", "not", "true", "if(", "round(", "coalesce(", "sum(", "abs(", "int(",
          "days_between(", "selected(", "answered(", "__import__", "eval(", ".", "[", "]", "{", "}", ";", "^", "`",
          "lambda", "os.system(", "\\", "\x00", "é"]
TOKEN_SOUP = st.lists(st.sampled_from(TOKENS), max_size=60).map(" ".join)
ANY_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=200) | st.text(
    alphabet=string.printable, max_size=200) | TOKEN_SOUP
ANSWER_VALUES = st.one_of(st.none(), st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True),
                          st.sampled_from(["", "x", "2", "-1.5", "2024-02-29", "2023-02-30", "abc", "1e309"]),
                          st.lists(st.sampled_from(["x", "y", "2"]), max_size=3), st.booleans(), st.dates())
ANSWERS = st.fixed_dictionaries({}, optional={name: ANSWER_VALUES for name in ("a", "b", "c", "t")})


def parsed(text: str):
    """Parse as a calculation and as a condition: each either works or raises ExpressionError."""
    trees = []
    for parser in (parse_calculation, parse):
        try:
            trees.append(parser(text))
        except ExpressionError:
            pass
    return trees


@FAST
@given(ANY_TEXT, ANSWERS)
def test_no_text_runs_code_and_every_outcome_is_a_value_or_an_expression_error(text, answers):
    with no_code_runs():
        trees = parsed(text)
        for tree in trees:
            result = tree.compute(answers) if isinstance(tree, Calculation) else tree.evaluate(answers)
            assert result is None or isinstance(result, (bool, int, float, str))


@FAST
@given(ANY_TEXT, ANSWERS)
def test_work_is_bounded_by_the_text(text, answers):
    for tree in parsed(text):
        nodes = list(tree.nodes())
        # Every node takes at least one character of the text, and chains are flat lists, so the
        # tree is never deeper than a few levels per allowed nesting level.
        assert len(nodes) <= len(text)
        assert tree_depth(tree.root) <= 6 * (MAX_DEPTH + 1)
        # Evaluating reads each variable reference at most once: no loops, no repeated work.
        counting = CountingAnswers(answers)
        tree.compute(counting) if isinstance(tree, Calculation) else tree.evaluate(counting)
        references = sum(isinstance(node, (Variable, Selected, Answered)) for node in nodes)
        assert counting.reads <= references


@st.composite
def calculations(draw, level: int = 0) -> str:
    leaf = st.sampled_from(["a", "b", "c", "1", "2.5", "-3", "0", "'x'"])
    if level >= 4 or draw(st.booleans()):
        return draw(leaf)
    kind = draw(st.sampled_from(["arith", "negate", "paren", "if", "round", "coalesce", "sum", "days", "abs"]))
    inner = calculations(level + 1)
    if kind == "arith":
        return f"{draw(inner)} {draw(st.sampled_from(['+', '-', '*', 'div', 'mod']))} {draw(inner)}"
    if kind == "negate":
        return f"-{draw(inner)}"
    if kind == "paren":
        return f"({draw(inner)})"
    if kind == "if":
        return f"if({draw(inner)} {draw(st.sampled_from(['=', '<', '>=', '!=']))} {draw(inner)}, {draw(inner)}, {draw(inner)})"
    if kind == "round":
        return f"round({draw(inner)}, {draw(st.integers(0, 3))})"
    if kind in ("coalesce", "sum"):
        return f"{kind}({draw(inner)}, {draw(inner)})"
    if kind == "days":
        return f"days_between({draw(inner)}, {draw(inner)})"
    return f"abs({draw(inner)})"


@FAST
@given(calculations(), ANSWERS)
def test_generated_calculations_parse_print_back_and_never_raise(text, answers):
    calculation = parse_calculation(text)
    again = parse_calculation(calculation.to_text())
    assert again.root == calculation.root
    result = calculation.compute(answers)
    assert result == again.compute(answers)
    assert result is None or isinstance(result, (int, float, str))
    if isinstance(result, float):
        assert result == result and abs(result) != float("inf")


@FAST
@given(st.floats(min_value=-1e15, max_value=1e15, allow_nan=False) | st.decimals(
    min_value=-10**6, max_value=10**6, places=4, allow_nan=False).map(float), st.integers(0, 10))
def test_round_is_half_away_from_zero_on_the_number_as_written(number, places):
    from decimal import ROUND_HALF_UP, Decimal

    expected = float(Decimal(repr(number)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))
    assert compute(f"round(a, {places})", a=number) == expected
