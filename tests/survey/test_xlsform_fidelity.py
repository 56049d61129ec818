"""XLSForm fidelity: our importer reads each fixture as pyxform (the reference converter) does.

For every question: name, type, label, choices and relevance (a question's own ``relevant``
joined with its groups' ``relevant``) must match what pyxform reads from the same file.
"""

import io
import re
from pathlib import Path

import openpyxl
import pytest

pytest.importorskip("pyxform")
from pyxform.xls2json import parse_file_to_json  # noqa: E402
from pyxform.xls2xform import convert  # noqa: E402

from survey.expressions import And, parse  # noqa: E402
from survey.instrument import PHONE_PATTERN, FieldType, instrument_from_dict  # noqa: E402
from survey.validation import validate_submission  # noqa: E402
from survey.xlsform import import_xlsform  # noqa: E402
from survey.xlsform_export import export_xlsform  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "survey"
FIDELITY_FIXTURES = sorted(FIXTURES.glob("xlsform_fidelity_*.csv"))

# pyxform's type -> ours (before appearance refines text and select one)
PYXFORM_TYPES = {
    "integer": FieldType.INTEGER, "decimal": FieldType.DECIMAL, "text": FieldType.SHORT_TEXT,
    "date": FieldType.DATE, "note": FieldType.DESCRIPTIVE, "select one": FieldType.SINGLE_CHOICE,
    "select all that apply": FieldType.MULTIPLE_CHOICE, "calculate": FieldType.CALCULATED,
    "phone number": FieldType.SHORT_TEXT, "range": FieldType.SLIDER, "acknowledge": FieldType.YES_NO,
}


def only_text(label):
    """The text of a label in the form's only language (pyxform gives {language: text} when the
    column names one)."""
    if isinstance(label, dict):
        assert len(label) == 1, label
        return next(iter(label.values()))
    return label


def conjuncts(node) -> frozenset:
    return frozenset().union(*(conjuncts(part) for part in node.operands)) if isinstance(node, And) else frozenset({node})


def relevance(texts: list[str]) -> frozenset:
    """The conditions of an XPath relevance chain, as our trees (the test's own minimal reading:
    ${x} and ../x are the variable x)."""
    found: frozenset = frozenset()
    for text in texts:
        ours = re.sub(r"\$\{(\w+)\}|\.\./(\w+)", lambda match: match.group(1) or match.group(2), text)
        found |= conjuncts(parse(ours).root)
    return found


def pyxform_questions(children, inherited=()) -> list[dict]:
    questions = []
    for child in children:
        relevant = list(inherited)
        if child.get("bind", {}).get("relevant"):
            relevant.append(child["bind"]["relevant"])
        if child["type"] == "group":
            if child["name"] != "meta":  # pyxform's own instanceID group
                questions.extend(pyxform_questions(child.get("children", []), relevant))
            continue
        kind = PYXFORM_TYPES[child["type"]]
        appearance = child.get("control", {}).get("appearance", "")
        if kind is FieldType.SHORT_TEXT and "multiline" in appearance:
            kind = FieldType.LONG_TEXT
        if kind is FieldType.SINGLE_CHOICE and "minimal" in appearance:
            kind = FieldType.DROPDOWN
        questions.append({"name": child["name"], "type": kind, "label": only_text(child.get("label")),
                          "choices": [(choice["name"], only_text(choice["label"])) for choice in child.get("choices", [])],
                          "relevance": relevance(relevant)})
    return questions


def our_questions(instrument) -> list[dict]:
    questions = []
    for section in instrument.sections:
        for field in section.fields:
            conditions = [text for text in (section.show_if, field.show_if) if text]
            questions.append({"name": field.variable, "type": field.type, "label": field.label,
                              "choices": [(choice.code, choice.label) for choice in field.choices],
                              "relevance": frozenset().union(*(conjuncts(parse(text).root) for text in conditions))})
    return questions


@pytest.mark.parametrize("path", FIDELITY_FIXTURES, ids=lambda path: path.stem)
def test_every_question_matches_pyxform(path):
    data = path.read_bytes()
    convert(xlsform=data, file_type=".csv")  # a valid XLSForm: pyxform converts it without an error
    reference = pyxform_questions(parse_file_to_json(str(path))["children"])
    ours = our_questions(import_xlsform(data, path.name).instrument)
    assert [question["name"] for question in ours] == [question["name"] for question in reference]
    for mine, theirs in zip(ours, reference, strict=True):
        if theirs["label"] is None:  # a calculate row has no label in pyxform; ours names it
            assert mine["type"] is FieldType.CALCULATED
            mine = {**mine, "label": None}
        assert mine == theirs, mine["name"]


def test_the_fixtures_cover_every_header_spelling_groups_choice_filters_and_or_other():
    texts = {path.stem: path.read_text(encoding="utf-8") for path in FIDELITY_FIXTURES}
    headers = {line.split(",")[3] for text in texts.values() for line in text.splitlines() if line.startswith("survey,")}
    assert headers == {"label", "label::English (en)", "label:English", "label::en"}
    everything = "\n".join(texts.values())
    for feature in ("begin_group", "choice_filter", "or_other", "calculate", "phone number"):
        assert feature in everything


def test_fixture_specifics_survive_import():
    result = import_xlsform((FIXTURES / "xlsform_fidelity_plain.csv").read_bytes(), "plain.csv")
    fields = {field.variable: field for section in result.instrument.sections for field in section.fields}
    assert fields["phone"].validation.pattern == PHONE_PATTERN
    assert fields["bmi"].calculation == "round(weight div (height * height), 1)"
    assert fields["days_in_post"].calculation == "end_date - start_date"
    assert result.warnings == []
    document = validate_submission(result.instrument, {"age": 40, "weight": "95", "height": "1.7", "diet": "Less",
                                                       "start_date": "2024-01-01", "end_date": "2024-03-01",
                                                       "phone": "+44 20 7946 0018"}).document["answers"]
    assert (document["bmi"], document["days_in_post"], document["diet"]) == (32.9, 60, "Less")
    filtered = import_xlsform((FIXTURES / "xlsform_fidelity_english_en.csv").read_bytes(), "en.csv")
    assert [(w.row, w.variable, w.message) for w in filtered.warnings] == [
        (4, "trust", "choice filter 'region = ${region}' is not supported; every choice of 'trust' is offered")]


CALCULATED = instrument_from_dict({"name": "calc", "version": 1, "title": "Calc", "sections": [
    {"id": "main", "title": "Main", "fields": [
        {"variable": "a", "type": "decimal", "label": "A"},
        {"variable": "b", "type": "integer", "label": "B"},
        {"variable": "start", "type": "date", "label": "Start"},
        {"variable": "stop", "type": "date", "label": "Stop"},
        {"variable": "pick", "type": "multiple_choice", "label": "Pick",
         "choices": [{"code": "x", "label": "X"}, {"code": "y", "label": "Y"}]},
        {"variable": "ratio", "type": "calculated", "label": "Ratio", "calculation": "round(a div b, 2)"},
        {"variable": "rest", "type": "calculated", "label": "Rest", "calculation": "-(b mod 3) + int(a) * abs(b)"},
        {"variable": "first", "type": "calculated", "label": "First", "calculation": "coalesce(a, b, 0)"},
        {"variable": "total", "type": "calculated", "label": "Total", "calculation": "sum(a, b)"},
        {"variable": "gap", "type": "calculated", "label": "Gap", "calculation": "days_between(start, stop)"},
        {"variable": "span", "type": "calculated", "label": "Span", "calculation": "stop - start + 1"},
        {"variable": "flag", "type": "calculated", "label": "Flag",
         "calculation": "if(selected(pick, 'x') and not answered(b) or a > 2, 'high', 'low')"},
        {"variable": "note", "type": "short_text", "label": "Note", "show_if": "ratio >= 0.5 or not answered(a)"},
    ]}]})
SAMPLE_ANSWERS = [
    {}, {"a": 7.5, "b": 2, "start": "2024-02-01", "stop": "2024-03-01", "pick": ["x"], "note": "n"},
    {"a": 1, "b": 0, "pick": ["y"], "note": "n"}, {"b": -7, "start": "2024-01-31", "stop": "2023-12-31"},
    {"a": "0.1", "pick": ["x", "y"], "note": "n"},
]


def test_the_xlsform_export_of_calculations_is_accepted_by_pyxform_and_reads_back_to_the_same_results(tmp_path):
    exported = export_xlsform(CALCULATED)
    path = tmp_path / "calculated.xlsx"
    path.write_bytes(exported.content)
    convert(xlsform=str(path))  # raises on anything pyxform does not accept
    survey = openpyxl.load_workbook(io.BytesIO(exported.content))["survey"]
    rows = [dict(zip([cell.value for cell in survey[1]], [cell.value for cell in row])) for row in survey.iter_rows(min_row=2)]
    calculate = {row["name"]: row["calculation"] for row in rows if row["type"] == "calculate"}
    assert calculate["gap"] == "(decimal-date-time(${stop}) - decimal-date-time(${start}))"
    result = import_xlsform(exported.content, "calculated.xlsx")
    assert [warning for warning in result.warnings if "calculat" in str(warning)] == []
    for answers in SAMPLE_ANSWERS:
        expected = validate_submission(CALCULATED, answers).document["answers"]
        assert validate_submission(result.instrument, answers).document["answers"] == expected, answers


def test_sample_answers_exercise_every_calculation():
    # The round trip above means something only if the calculations give values, and empties.
    computed = [validate_submission(CALCULATED, answers).document["answers"] for answers in SAMPLE_ANSWERS]
    assert computed[1]["ratio"] == 3.75 and computed[1]["gap"] == 29 and computed[1]["flag"] == "high"
    assert computed[3]["gap"] == -31 and computed[3]["span"] == -30
    assert "ratio" not in computed[2]  # division by zero: empty
