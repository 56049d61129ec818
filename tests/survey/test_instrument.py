"""The instrument model: load-time checks with clear messages, YAML and JSON round trips."""

import json
from pathlib import Path

import pytest

from survey.instrument import (
    FieldType,
    InstrumentError,
    builtin_instruments,
    instrument_from_dict,
    instrument_to_dict,
    load_instrument_yaml,
)

MINIMAL = """
name: mini
version: 2
title: Mini survey
sections:
  - id: first
    title: First
    fields:
      - {variable: role, type: single_choice, label: Role, choices: [{code: a, label: A}, {code: b, label: B}]}
      - {variable: tools, type: multiple_choice, label: Tools, choices: [{code: x, label: X}, {code: "1", label: One}]}
      - {variable: age, type: integer, label: Age, validation: {min: 0, max: 120}, show_if: "role = 'a'"}
  - id: per_tech
    title: Per technology
    repeat_per_technology: true
    fields:
      - {variable: use, type: yes_no, label: "Use it?", show_if: "selected(tools, 'x')"}
      - {variable: minutes, type: decimal, label: Minutes, show_if: "use = 'yes' and age > 18"}
"""


def data():
    import yaml

    return yaml.safe_load(MINIMAL)


def field(d, section, variable):
    section_data = next(s for s in d["sections"] if s["id"] == section)
    return next(f for f in section_data["fields"] if f["variable"] == variable)


def expect_error(d, *fragments):
    with pytest.raises(InstrumentError) as caught:
        instrument_from_dict(d)
    for fragment in fragments:
        assert fragment in str(caught.value)
    return str(caught.value)


def test_minimal_instrument_loads_from_text_and_path(tmp_path: Path):
    instrument = load_instrument_yaml(MINIMAL)
    assert instrument.name == "mini" and instrument.version == 2
    assert [s.id for s in instrument.sections] == ["first", "per_tech"]
    path = tmp_path / "mini.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    assert load_instrument_yaml(path) == instrument
    assert load_instrument_yaml(str(path)) == instrument


def test_json_round_trip_gives_an_equal_instrument():
    instrument = load_instrument_yaml(MINIMAL)
    stored = json.loads(json.dumps(instrument_to_dict(instrument)))
    assert instrument_from_dict(stored) == instrument


def test_duplicate_variables_are_named_with_both_places():
    d = data()
    field(d, "per_tech", "minutes")["variable"] = "age"
    expect_error(d, "section 'per_tech', field 'age'", "variable 'age' is already used (section 'first', field 'age')")


def test_matrix_item_variables_count_as_variables():
    d = data()
    d["sections"][0]["fields"].append({"variable": "grid", "type": "matrix", "label": "Grid",
                                       "choices": [{"code": "1", "label": "Low"}],
                                       "items": [{"variable": "role", "label": "Again"}]})
    expect_error(d, "variable 'role' is already used")


def test_choice_types_need_choices():
    d = data()
    field(d, "first", "role")["choices"] = []
    expect_error(d, "section 'first' > field 'role'", "a single_choice field needs choices")


def test_conditions_must_parse_and_name_the_field():
    d = data()
    field(d, "first", "age")["show_if"] = "role = "
    expect_error(d, "field 'age'", "show_if", "not a valid expression")


def test_conditions_may_only_read_earlier_questions():
    d = data()
    field(d, "first", "role")["show_if"] = "age > 3"
    expect_error(d, "section 'first', field 'role': show_if reads 'age', which is not a question answered before")


def test_shared_sections_cannot_read_repeated_answers():
    d = data()
    d["sections"].append({"id": "after", "title": "After", "fields": [
        {"variable": "later", "type": "short_text", "label": "Later", "show_if": "use = 'yes'"}]})
    expect_error(d, "section 'after', field 'later': show_if reads 'use'")


def test_choice_codes_in_conditions_must_exist():
    d = data()
    field(d, "first", "age")["show_if"] = "role = 'c'"
    expect_error(d, "uses code 'c'", "'role' has only the codes a, b")
    d = data()
    field(d, "per_tech", "use")["show_if"] = "selected(tools, 'y')"
    expect_error(d, "uses code 'y' in selected()")
    d = data()
    field(d, "per_tech", "use")["show_if"] = "age = 'nope' and selected(age, 'a')"
    expect_error(d, "which is a integer question, not a choice")


def test_multiple_choice_must_use_selected():
    d = data()
    field(d, "first", "age")["show_if"] = "tools = 'x'"
    expect_error(d, "use selected(tools, 'code')")


def test_empty_string_comparison_suggests_answered():
    d = data()
    field(d, "first", "age")["show_if"] = "role != ''"
    expect_error(d, "use answered(role)")


@pytest.mark.parametrize(
    ("variable", "changes", "fragment"),
    [
        ("age", {"type": "short_text"}, "min and max apply only to"),
        ("age", {"validation": {"min": 5, "max": 1}}, "min (5) is greater than max (1)"),
        ("age", {"validation": {"pattern": "[a-"}}, "not a valid regular expression"),
        ("age", {"variable": "Age"}, "String should match pattern"),
        ("role", {"choices": [{"code": "a", "label": "A"}, {"code": "a", "label": "B"}]}, "duplicate choice codes: a"),
        ("role", {"choices": [{"code": "bad code", "label": "A"}]}, "String should match pattern"),
        ("role", {"required": True, "type": "descriptive", "choices": []}, "cannot be required"),
        ("age", {"type": "slider"}, None),
        ("age", {"unit": "kg", "type": "date", "validation": {}}, "unit applies only"),
        ("age", {"type": "rating_5", "validation": {}, "choices": [{"code": "7", "label": "x"}]}, "codes 1..5"),
        ("role", {"choices": [{"code": "a", "label": "A", "exclusive": True}]}, "only multiple-choice options"),
        ("age", {"extra_key": 1}, "Extra inputs are not permitted"),
    ],
)
def test_field_type_consistency(variable, changes, fragment):
    d = data()
    field(d, "first", variable).update(changes)
    if fragment is None:
        instrument_from_dict(d)  # a slider with min and max is fine
    else:
        expect_error(d, fragment)


def test_date_bounds_must_be_dates():
    d = data()
    field(d, "first", "age").update({"type": "date", "validation": {"min": 3}})
    expect_error(d, "must be dates")
    field(d, "first", "age").update({"validation": {"min": "2020-01-01", "max": "2020-12-31"}})
    instrument = instrument_from_dict(d)
    assert str(instrument.slot("age")[1].field.validation.max) == "2020-12-31"


def test_instrument_identity_rules():
    d = data()
    d["version"] = 0
    expect_error(d, "version")
    d = data()
    d["name"] = "Has Spaces"
    expect_error(d, "name")
    d = data()
    d["sections"][1]["id"] = "first"
    expect_error(d, "section 'first' is defined twice")
    with pytest.raises(InstrumentError, match="not valid YAML"):
        load_instrument_yaml("name: [unclosed")
    with pytest.raises(InstrumentError, match="must be a mapping"):
        instrument_from_dict(["not", "a", "mapping"])  # type: ignore[arg-type]


def test_answer_slots_and_lookup():
    instrument = builtin_instruments()["clinician_experience"]
    section, slot = instrument.slot("conf_clin_bias")
    assert section.id == "technology" and slot.type is FieldType.MATRIX
    assert slot.field.variable == "tech_confidence"
    with pytest.raises(KeyError):
        instrument.slot("nope")
    with pytest.raises(KeyError):
        instrument.section("nope")
