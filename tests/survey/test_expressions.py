"""The branching-logic language: syntax, precedence, every operator, and hostile input."""

import pytest

from survey.expressions import MAX_DEPTH, MAX_LENGTH, Expression, ExpressionError, parse


def holds(text: str, **answers) -> bool:
    return parse(text).evaluate(answers)


@pytest.mark.parametrize(
    ("text", "answers", "expected"),
    [
        ("role = 'nurse'", {"role": "nurse"}, True),
        ("role == \"nurse\"", {"role": "nurse"}, True),
        ("role = 'nurse'", {"role": "medic"}, False),
        ("role != 'nurse'", {"role": "medic"}, True),
        ("role <> 'nurse'", {"role": "nurse"}, False),
        ("age < 18", {"age": 17}, True),
        ("age < 18", {"age": 18}, False),
        ("age <= 18", {"age": 18}, True),
        ("age > 18", {"age": 18}, False),
        ("age >= 18", {"age": 18}, True),
        ("age > -1", {"age": 0}, True),
        ("score = 2.5", {"score": 2.5}, True),
        ("18 < age", {"age": 30}, True),
    ],
)
def test_every_comparison_operator(text, answers, expected):
    assert parse(text).evaluate(answers) is expected


def test_not_binds_tighter_than_and_which_binds_tighter_than_or():
    # a or b and c  ==  a or (b and c)
    assert holds("a = 1 or b = 1 and c = 1", a=1, b=0, c=0) is True
    assert holds("(a = 1 or b = 1) and c = 1", a=1, b=0, c=0) is False
    # not a = 1 and b = 1  ==  (not a = 1) and b = 1
    assert holds("not a = 1 and b = 1", a=2, b=1) is True
    assert holds("not (a = 1 and b = 1)", a=1, b=2) is True
    assert holds("not not a = 1", a=1) is True


def test_keywords_are_case_insensitive_and_literals_work():
    assert holds("a = 1 AND b = 2 Or NOT c = 3", a=1, b=2, c=3) is True
    assert holds("true") is True
    assert holds("false or true") is True
    assert holds("flag = TRUE", flag=True) is True


def test_selected_checks_multiple_choice_membership():
    assert holds("selected(tools, 'scribe')", tools=["scribe", "triage"]) is True
    assert holds("selected(tools, 'imaging')", tools=["scribe"]) is False
    assert holds("not selected(tools, 'imaging')", tools=["scribe"]) is True
    assert holds("selected(tools, 2)", tools=["2"]) is True
    # on a single choice it means "the answer is"
    assert holds("selected(role, 'nurse')", role="nurse") is True
    assert holds("selected(tools, 'scribe')") is False


def test_answered():
    assert holds("answered(x)", x="a") is True
    assert holds("answered(x)", x=0) is True
    for empty in (None, "", "   ", []):
        assert holds("answered(x)", x=empty) is False
    assert holds("answered(x)") is False


def test_unanswered_variables_make_comparisons_false_except_not_equal():
    for text in ("x = 'a'", "x < 3", "x > 3", "x <= 3", "x >= 3"):
        assert holds(text) is False
        assert holds(text, x="") is False
    assert holds("x != 'a'") is True
    assert holds("x <> 3", x=None) is True


def test_numbers_compare_numerically_and_strings_as_strings():
    assert holds("n > 9", n=10) is True
    assert holds("n > 9", n="10") is True  # form text that spells a number
    assert holds("s > '9'", s="10") is False  # two strings: text order
    assert holds("d >= '2024-01-31'", d="2024-02-01") is True
    assert holds("n = 3", n=3.0) is True


def test_type_mismatches_are_false_and_never_raise():
    assert holds("n > 3", n="abc") is False
    assert holds("n = 3", n=["3"]) is False
    assert holds("flag = 1", flag=True) is False
    assert holds("flag < true", flag=True) is False
    assert holds("n < 'a'", n=3) is False
    assert holds("n != 'a'", n=3) is True  # != is exactly "not ="
    assert holds("x = 1", x={"a": 1}) is False


def test_variables_lists_every_name_read():
    expression = parse("a = 1 and (selected(b, 'x') or not answered(c)) and 2 < d")
    assert expression.variables == {"a", "b", "c", "d"}
    assert parse("true").variables == frozenset()


def test_to_text_round_trips_to_an_equal_tree():
    for text in ("a = 1 and (b = 2 or c = 3)", "not (a = 1 or b = 'x')", "a = \"it's\"",
                 "(a = 1 and b = 1) and c = 1", "selected(t, 'x') or not answered(u)"):
        once = parse(text)
        assert parse(once.to_text()).root == once.root


@pytest.mark.parametrize(
    ("text", "fragment", "position"),
    [
        ("", "empty", 0),
        ("a = ", "expected a variable, a quoted string, a number", 4),
        ("a = 'x", "unterminated string", 4),
        ("(a = 1", "expected ')'", 6),
        ("a = 1)", "expected 'and', 'or' or the end", 5),
        ("a", "expected a comparison operator", 1),
        ("a = 1 = 2", "cannot be chained", 6),
        ("a ! b", "'!' on its own", 2),
        ("a = 1 and", "expected a variable", 9),
        ("selected(a)", "expected ',' and a choice code", 10),
        ("selected(a, b)", "expected a choice code", 12),
        ("foo(a)", "unknown function 'foo'", 0),
        ("a = 1e5", "a number cannot run into a name", 5),
    ],
)
def test_parse_errors_say_where_and_what_was_expected(text, fragment, position):
    with pytest.raises(ExpressionError) as caught:
        parse(text)
    assert fragment in str(caught.value)
    assert caught.value.position == position
    assert f"at position {position + 1}" in str(caught.value)


@pytest.mark.parametrize(
    "hostile",
    [
        "__import__('os').system('x')",
        "open('/etc/passwd').read()",
        "a.__class__ = 1",
        "eval('1')",
        "exec('x=1')",
        "lambda: 1",
        "[x for x in y]",
        "a = 1; import os",
        "a = `id`",
        "a = 1 \x00",
        "ünïcode = 1",
        "a = 2 ** 3",
        "a = b[0]",
        "a = {}",
    ],
)
def test_hostile_input_is_a_parse_error_and_executes_nothing(hostile, monkeypatch):
    import builtins

    def forbidden(*args, **kwargs):
        raise AssertionError("user text reached a Python code path")

    for name in ("eval", "exec", "compile", "__import__"):
        monkeypatch.setattr(builtins, name, forbidden)
    with pytest.raises(ExpressionError):
        parse(hostile)


def test_unicode_inside_strings_is_fine():
    assert holds("name = 'Zoë ✓'", name="Zoë ✓") is True


def test_deep_nesting_is_rejected_not_a_recursion_error():
    nested = "(" * 5000 + "a = 1" + ")" * 5000
    with pytest.raises(ExpressionError, match="nested more than"):
        parse(nested[:MAX_LENGTH])
    with pytest.raises(ExpressionError, match="nested more than"):
        parse("not " * (MAX_DEPTH + 1) + "a = 1")
    allowed = "(" * (MAX_DEPTH - 1) + "a = 1" + ")" * (MAX_DEPTH - 1)
    assert parse(allowed).evaluate({"a": 1}) is True


def test_very_long_input_is_rejected():
    with pytest.raises(ExpressionError, match="longer than"):
        parse("a = 1 or " * 1000 + "a = 1")
    long_but_allowed = " or ".join(["a = 1"] * 200)
    assert parse(long_but_allowed).evaluate({"a": 1}) is True


def test_non_text_is_an_expression_error():
    with pytest.raises(ExpressionError):
        parse(None)  # type: ignore[arg-type]


def test_expression_is_a_plain_value():
    first, second = parse("a = 1"), parse("a = 1")
    assert isinstance(first, Expression)
    assert first == second
