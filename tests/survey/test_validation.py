"""Validation of answers: every field type, branching, pages, visible fields and long-format rows."""

from datetime import date, datetime

import pytest

from survey.instrument import instrument_from_dict
from survey.validation import (
    REQUIRED_MESSAGE,
    answer_rows,
    format_value,
    validate_section,
    validate_submission,
    visible_fields,
)

CHOICES = [{"code": "a", "label": "Apple"}, {"code": "b", "label": "Banana"}, {"code": "1", "label": "One"}]


def make(fields, repeat_fields=None):
    sections = [{"id": "main", "title": "Main", "fields": fields}]
    if repeat_fields:
        sections.append({"id": "tech", "title": "Tech", "repeat_per_technology": True, "fields": repeat_fields})
    return instrument_from_dict({"name": "t", "version": 1, "title": "T", "sections": sections})


def one(field, raw):
    """(cleaned value or None, error message or None) for one answer to one field."""
    instrument = make([{"variable": "q", "label": "Q", **field}])
    result = validate_submission(instrument, {"q": raw})
    message = result.errors[0].message if result.errors else None
    assert len(result.errors) <= 1
    return result.document["answers"].get("q"), message


@pytest.mark.parametrize(
    ("raw", "value", "error"),
    [
        ("12", 12, None),
        (12, 12, None),
        (" 7 ", 7, None),
        (12.0, 12, None),
        ("12.5", None, "whole number"),
        (12.5, None, "whole number"),
        ("twelve", None, "whole number"),
        (True, None, "whole number"),
        ("-1", None, "at least 0"),
        ("51", None, "at most 50"),
        ("", None, None),
        ("9" * 40, None, "whole number"),
    ],
)
def test_integer(raw, value, error):
    got, message = one({"type": "integer", "validation": {"min": 0, "max": 50}}, raw)
    assert got == value
    assert (message is None) if error is None else (error in message)


@pytest.mark.parametrize(
    ("raw", "value", "error"),
    [("2.5", 2.5, None), (3, 3.0, None), (".5", 0.5, None), ("1e3", None, "Enter a number"),
     (float("nan"), None, None), (float("inf"), None, "Enter a number"), ("240.01", None, "at most 240"),
     ("-0.1", None, "at least 0")],
)
def test_decimal(raw, value, error):
    got, message = one({"type": "decimal", "unit": "minutes", "validation": {"min": 0, "max": 240}}, raw)
    assert got == value
    assert (message is None) if error is None else (error in message)


@pytest.mark.parametrize(
    ("field_type", "raw", "value", "error"),
    [
        ("rating_5", "5", 5, None), ("rating_5", 1, 1, None), ("rating_5", "6", None, "at most 5"),
        ("rating_5", "0", None, "at least 1"), ("rating_9", "9", 9, None), ("rating_9", "10", None, "at most 9"),
        ("rating_5", "3.5", None, "whole number"),
    ],
)
def test_ratings(field_type, raw, value, error):
    got, message = one({"type": field_type}, raw)
    assert got == value
    assert (message is None) if error is None else (error in message)


@pytest.mark.parametrize(
    ("raw", "value", "error"),
    [(50, 50, None), ("25", 25, None), ("30", None, "multiple of 25 from 0"), (101, None, "at most 100"),
     ("12.5", None, "multiple of 25")],
)
def test_slider(raw, value, error):
    got, message = one({"type": "slider", "validation": {"min": 0, "max": 100, "step": 25}}, raw)
    assert got == value
    assert (message is None) if error is None else (error in message)


@pytest.mark.parametrize(
    ("field_type", "raw", "value", "error"),
    [
        ("single_choice", "a", "a", None), ("single_choice", 1, "1", None), ("single_choice", "c", None, "not one of"),
        ("dropdown", "b", "b", None), ("dropdown", ["b"], None, "Choose one"),
        ("yes_no", "yes", "yes", None), ("yes_no", True, "yes", None), ("yes_no", "0", "no", None),
        ("yes_no", "No", "no", None), ("yes_no", "maybe", None, "yes or no"),
    ],
)
def test_single_answer_choices(field_type, raw, value, error):
    spec = {"type": field_type}
    if field_type != "yes_no":
        spec["choices"] = CHOICES
    got, message = one(spec, raw)
    assert got == value
    assert (message is None) if error is None else (error in message)


def test_multiple_choice_orders_codes_and_rejects_unknown_and_exclusive_combinations():
    spec = {"type": "multiple_choice",
            "choices": CHOICES + [{"code": "none", "label": "None of these", "exclusive": True}]}
    assert one(spec, ["1", "a"]) == (["a", "1"], None)
    assert one(spec, ("b", "b")) == (["b"], None)
    assert one(spec, ["none"]) == (["none"], None)
    assert one(spec, []) == (None, None)
    assert "'z' is not among the options" in one(spec, ["a", "z"])[1]
    assert "“None of these” cannot be combined" in one(spec, ["a", "none"])[1]
    assert "Choose one or more" in one(spec, "a")[1]


@pytest.mark.parametrize(
    ("raw", "value", "error"),
    [("2024-02-29", "2024-02-29", None), (date(2024, 3, 1), "2024-03-01", None), ("2023-02-29", None, "not a real date"),
     ("01/02/2024", None, "YYYY-MM-DD"), ("2019-12-31", None, "on or after 2020-01-01"),
     ("2031-01-01", None, "on or before 2030-12-31"), (datetime(2024, 1, 1, 9), None, "without a time")],
)
def test_date(raw, value, error):
    got, message = one({"type": "date", "validation": {"min": "2020-01-01", "max": "2030-12-31"}}, raw)
    assert got == value
    assert (message is None) if error is None else (error in message)


def test_text_length_pattern_and_cleaning():
    spec = {"type": "short_text", "validation": {"pattern": "[A-Z0-9]{3,6}", "max_length": 6}}
    assert one(spec, " RR8 ") == ("RR8", None)
    assert "expected format" in one(spec, "rr8")[1]
    assert "at most 6 characters (this answer has 7)" in one(spec, "ABCDEFG")[1]
    assert "Enter text" in one(spec, 123)[1]
    assert "control characters" in one({"type": "long_text"}, "a\x00b")[1]
    assert one({"type": "long_text"}, "line 1\r\nline 2") == ("line 1\nline 2", None)
    assert "at most 255" in one({"type": "short_text"}, "x" * 256)[1]
    assert "e-mail address" in one({"type": "short_text", "validation": {"pattern": r"[^@\s]+@[^@\s]+\.[^@\s]+"}},
                                   "not-an-email")[1]


def test_required_fields_and_matrix_items():
    instrument = make([
        {"variable": "name", "type": "short_text", "label": "Name", "required": True},
        {"variable": "grid", "type": "matrix", "label": "Grid", "required": True,
         "choices": [{"code": "1", "label": "Low"}, {"code": "2", "label": "High"}],
         "items": [{"variable": "grid_a", "label": "A"}, {"variable": "grid_b", "label": "B"}]},
        {"variable": "intro", "type": "descriptive", "label": "Hello"},
    ])
    result = validate_submission(instrument, {"name": "  ", "grid_a": "2", "intro": "ignored", "grid": "ignored"})
    assert [(e.variable, e.message) for e in result.errors] == [("name", REQUIRED_MESSAGE), ("grid_b", REQUIRED_MESSAGE)]
    assert result.document == {"answers": {"grid_a": "2"}, "technologies": {}}
    bad = validate_submission(instrument, {"name": "x", "grid_a": "3", "grid_b": "1"})
    assert [(e.variable, e.message) for e in bad.errors] == [("grid_a", "'3' is not one of the options.")]


BRANCHING = [
    {"variable": "consent", "type": "yes_no", "label": "Consent", "required": True},
    {"variable": "role", "type": "single_choice", "label": "Role", "choices": CHOICES, "required": True,
     "show_if": "consent = 'yes'"},
    {"variable": "age", "type": "integer", "label": "Age", "required": True, "show_if": "role = 'a'"},
]
PER_TECH = [
    {"variable": "use", "type": "yes_no", "label": "Use", "required": True},
    {"variable": "minutes", "type": "decimal", "label": "Minutes", "required": True,
     "show_if": "use = 'yes' and role = 'a'"},
]


def test_hidden_fields_are_dropped_and_not_validated():
    instrument = make(BRANCHING)
    result = validate_submission(instrument, {"consent": "no", "role": "zzz", "age": "old"})
    assert result.ok
    assert result.document["answers"] == {"consent": "no"}


def test_branching_uses_cleaned_earlier_answers_in_a_chain():
    instrument = make(BRANCHING)
    # role is invalid, so it is not an answer, so age (shown only if role = 'a') stays hidden
    result = validate_submission(instrument, {"consent": "yes", "role": "zzz", "age": "40"})
    assert [e.variable for e in result.errors] == ["role"]
    assert result.document["answers"] == {"consent": "yes"}
    result = validate_submission(instrument, {"consent": True, "role": "a"})
    assert [(e.section_id, e.variable, e.message) for e in result.errors] == [("main", "age", REQUIRED_MESSAGE)]


def test_repeated_sections_validate_each_technology_with_its_own_scope():
    instrument = make(BRANCHING, PER_TECH)
    result = validate_submission(
        instrument, {"consent": "yes", "role": "a", "age": 30},
        {"tech-1": {"use": "yes", "minutes": "4"}, "tech-2": {"use": "yes"}, "tech-3": {"use": "no", "minutes": "9"}})
    assert [(e.technology_id, e.variable) for e in result.errors] == [("tech-2", "minutes")]
    assert result.document["technologies"] == {"tech-1": {"use": "yes", "minutes": 4.0}, "tech-2": {"use": "yes"},
                                               "tech-3": {"use": "no"}}


def test_unknown_and_misplaced_variables_are_errors():
    instrument = make(BRANCHING, PER_TECH)
    result = validate_submission(instrument, {"consent": "no", "mystery": 1, "use": "yes"},
                                 {"t": {"consent": "yes", "other": 2}, "": {}})
    messages = {(e.technology_id, e.variable): e.message for e in result.errors}
    assert "not a question of this instrument" in messages[(None, "mystery")]
    assert "asked per technology" in messages[(None, "use")]
    assert "not asked per technology" in messages[("t", "consent")]
    assert "not a question" in messages[("t", "other")]
    assert "technology id must be text" in messages[("", "technology_id")]
    no_tech = make(BRANCHING)
    result = validate_submission(no_tech, {"consent": "no"}, {"t": {}})
    assert result.errors[0].message == "This instrument has no questions asked per technology."


def test_validate_section_reports_only_that_page():
    instrument = make(BRANCHING, PER_TECH)
    answers = {"consent": "yes", "role": "a"}
    assert [e.variable for e in validate_section(instrument, "main", answers)] == ["age"]
    technologies = {"t1": {"use": "yes"}, "t2": {}}
    assert [(e.technology_id, e.variable) for e in validate_section(instrument, "tech", answers, technologies)] == [
        ("t1", "minutes"), ("t2", "use")]
    assert [e.variable for e in validate_section(instrument, "tech", answers, technologies, "t2")] == ["use"]
    with pytest.raises(KeyError):
        validate_section(instrument, "nope", answers)


def test_visible_fields_follow_the_answers():
    instrument = make(BRANCHING, PER_TECH)
    names = lambda fields: [f.variable for f in fields]  # noqa: E731
    assert names(visible_fields(instrument, {}, "main")) == ["consent"]
    assert names(visible_fields(instrument, {"consent": "yes"}, "main")) == ["consent", "role"]
    assert names(visible_fields(instrument, {"consent": "yes", "role": "a"}, instrument.section("main"))) == [
        "consent", "role", "age"]
    assert names(visible_fields(instrument, {"consent": "yes", "role": "a"}, "tech", {"use": "yes"})) == ["use", "minutes"]
    assert names(visible_fields(instrument, {"consent": "yes", "role": "b"}, "tech", {"use": "yes"})) == ["use"]


def test_hidden_section_shows_nothing():
    instrument = instrument_from_dict({"name": "t", "version": 1, "title": "T", "sections": [
        {"id": "a", "title": "A", "fields": [{"variable": "go", "type": "yes_no", "label": "Go"}]},
        {"id": "b", "title": "B", "show_if": "go = 'yes'",
         "fields": [{"variable": "why", "type": "short_text", "label": "Why", "required": True}]}]})
    assert visible_fields(instrument, {"go": "no"}, "b") == []
    assert validate_submission(instrument, {"go": "no", "why": "x"}).document["answers"] == {"go": "no"}
    assert [e.variable for e in validate_submission(instrument, {"go": "yes"}).errors] == ["why"]


def test_answer_rows_long_format():
    document = {"answers": {"consent": "yes", "tools": ["a", "1"], "age": 30, "score": 2.50, "whole": 12.0},
                "technologies": {"t1": {"minutes": 4.0, "note": "ok"}, "t2": {}}}
    assert answer_rows(document) == [
        (None, "consent", "yes"), (None, "tools", "a"), (None, "tools", "1"), (None, "age", "30"),
        (None, "score", "2.5"), (None, "whole", "12"), ("t1", "minutes", "4"), ("t1", "note", "ok")]
    assert format_value(True) == "true" and format_value(date(2024, 1, 2)) == "2024-01-02"


def test_the_apps_own_messages_are_english_text_that_carries_its_wording_for_other_languages():
    import copy
    import json
    import pickle
    from pathlib import Path

    from survey.validation import Worded

    english = json.loads((Path(__file__).resolve().parents[2] / "survey" / "locales" / "en.json").read_text(encoding="utf-8"))
    _value, message = one({"type": "integer", "validation": {"min": 0, "max": 50}}, "51")
    assert message == "Must be at most 50." and isinstance(message, Worded)
    assert (message.key, message.values) == ("v_at_most", {"value": "50"})
    assert english[message.key].format(**message.values) == message
    _value, message = one({"type": "short_text", "validation": {"max_length": 3}}, "abcdef")
    assert message == "Use at most 3 characters (this answer has 6)." and message.values == {"limit": "3", "length": "6"}
    for copied in (pickle.loads(pickle.dumps(message)), copy.deepcopy(message)):
        assert copied == message and (copied.key, copied.values) == (message.key, message.values)
    assert json.loads(json.dumps([message])) == [str(message)]  # a saved draft keeps the plain text
    assert {key for key in english if key.startswith("v_")} >= {"v_at_least", "v_email", "v_phone", "v_exclusive"}
