"""Property tests: random instruments, answers, files and expressions never cause an unexpected exception."""

import string
from datetime import date

from hypothesis import HealthCheck, given, settings, strategies as st

from survey.expressions import Expression, ExpressionError, parse
from survey.flat_responses import FlatRecord, export_flat, import_flat
from survey.imports import InstrumentImportError, ImportResult
from survey.instrument import Instrument, instrument_from_dict
from survey.redcap import COLUMNS, export_data_dictionary, import_data_dictionary
from survey.validation import ValidationResult, answer_rows, validate_submission
from survey.xlsform import import_xlsform

FAST = settings(max_examples=80, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

CODES = ["a", "b", "1", "2", "none"]
TYPES = ["single_choice", "multiple_choice", "dropdown", "yes_no", "integer", "decimal", "short_text", "long_text",
         "date", "rating_5", "rating_9", "slider", "matrix", "descriptive", "calculated"]
CALCULATIONS = ["{a} + {b} * 2", "round({a} div {b}, 1)", "coalesce({a}, 0) - {b} mod 3", "if({a} > 3, 'big', 'small')",
                "sum({a}, {b})", "int(-{a}) + abs({b})", "if(answered({a}), {a}, {b})", "days_between({d}, {e})",
                "{e} - {d} + 1", "({a} + 1) div ({b} - 1)"]


@st.composite
def field_specs(draw, index: int, earlier: list[dict]):
    kind = draw(st.sampled_from(TYPES))
    variable = f"v{index}"
    spec: dict = {"variable": variable, "type": kind, "label": f"Question {index}"}
    if kind != "descriptive":
        spec["required"] = draw(st.booleans())
    if kind in ("single_choice", "multiple_choice", "dropdown", "matrix"):
        codes = draw(st.lists(st.sampled_from(CODES), min_size=1, max_size=5, unique=True))
        spec["choices"] = [{"code": code, "label": code.upper(), "exclusive": kind == "multiple_choice"
                            and code == "none"} for code in codes]
    if kind == "matrix":
        spec["items"] = [{"variable": f"{variable}_r{row}", "label": f"Row {row}"}
                         for row in range(draw(st.integers(1, 3)))]
    if kind in ("integer", "decimal"):
        low = draw(st.integers(-5, 5))
        spec["validation"] = {"min": low, "max": low + draw(st.integers(0, 100))}
    if kind == "slider":
        spec["validation"] = {"min": 0, "max": 100, "step": draw(st.sampled_from([1, 5, 0.5]))}
    if kind in ("short_text", "long_text"):
        spec["validation"] = {"max_length": draw(st.integers(1, 50))}
        if draw(st.booleans()):
            spec["validation"]["pattern"] = "[A-Za-z ]*"
    if kind == "calculated":
        numbers = [f["variable"] for f in earlier if f["type"] in ("integer", "decimal", "slider", "calculated",
                                                                    "rating_5", "rating_9")] or ["1"]
        dates = [f["variable"] for f in earlier if f["type"] == "date"] or ["'2024-01-01'"]
        template = draw(st.sampled_from([t for t in CALCULATIONS if "answered" not in t or numbers != ["1"]]))
        spec["calculation"] = template.format(a=draw(st.sampled_from(numbers)), b=draw(st.sampled_from(numbers)),
                                              d=draw(st.sampled_from(dates)), e=draw(st.sampled_from(dates)))
        spec.pop("required")
    choice_fields = [f for f in earlier if f["type"] in ("single_choice", "dropdown", "multiple_choice", "yes_no")]
    if choice_fields and draw(st.booleans()):
        target = draw(st.sampled_from(choice_fields))
        codes = [c["code"] for c in target.get("choices", [])] or ["yes", "no"]
        code = draw(st.sampled_from(codes))
        if target["type"] == "multiple_choice":
            spec["show_if"] = f"selected({target['variable']}, '{code}')"
        else:
            operator = draw(st.sampled_from(["=", "!="]))
            spec["show_if"] = f"{target['variable']} {operator} '{code}' or not answered({target['variable']})"
    return spec


@st.composite
def instruments(draw) -> Instrument:
    count = draw(st.integers(1, 8))
    shared: list[dict] = []
    for index in range(count):
        shared.append(draw(field_specs(index, shared)))
    sections = [{"id": "main", "title": "Main", "fields": shared}]
    if draw(st.booleans()):
        repeated: list[dict] = []
        for index in range(count, count + draw(st.integers(1, 4))):
            repeated.append(draw(field_specs(index, shared + repeated)))
        sections.append({"id": "tech", "title": "Tech", "repeat_per_technology": True, "fields": repeated})
    return instrument_from_dict({"name": "random", "version": 1, "title": "Random", "sections": sections})


RAW_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-1000, 1000), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(CODES + ["yes", "no", "12", "12.5", "2024-02-29", "2023-02-30", "", "  ", "abc"]),
    st.text(max_size=60), st.lists(st.sampled_from(CODES + ["zzz", 3]), max_size=4), st.dates(),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def random_answers(instrument: Instrument, draw, repeated: bool) -> dict:
    names = [slot.variable for section, slot in instrument.answer_slots()
             if section.repeat_per_technology == repeated]
    answers = {name: draw(RAW_VALUES) for name in names if draw(st.booleans())}
    if draw(st.integers(0, 9)) == 0:
        answers[draw(st.text(max_size=8))] = draw(RAW_VALUES)
    return answers


@FAST
@given(st.data())
def test_random_instruments_and_answers_give_a_result_never_an_exception(data):
    instrument = data.draw(instruments())
    answers = random_answers(instrument, data.draw, repeated=False)
    technologies = {}
    if instrument.has_technology_sections:
        for technology_id in data.draw(st.lists(st.sampled_from(["t1", "t2", "t3"]), max_size=3, unique=True)):
            technologies[technology_id] = random_answers(instrument, data.draw, repeated=True)
    result = validate_submission(instrument, answers, technologies)
    assert isinstance(result, ValidationResult)
    for error in result.errors:
        assert error.message and error.variable is not None
    answer_rows(result.document)
    if result.ok:
        # a cleaned document is valid and unchanged when validated again
        again = validate_submission(instrument, result.document["answers"], result.document["technologies"])
        assert again.ok and again.document == result.document
        # and survives the flat CSV round trip
        text = export_flat(instrument, [FlatRecord("r1", result.document)]).to_csv(index=False)
        [record] = import_flat(instrument, text)
        assert record.document == result.document


@FAST
@given(instruments())
def test_random_instruments_round_trip_through_redcap_structure(instrument):
    text = export_data_dictionary(instrument)
    result = import_data_dictionary(text, name=instrument.name, title=instrument.title)
    assert [slot.variable for _, slot in result.instrument.answer_slots()] == [
        slot.variable for _, slot in instrument.answer_slots()]
    # calculations come back exactly (REDCap's syntax, or our own text where REDCap's only approximates)
    assert [slot.field.calculation for _, slot in result.instrument.answer_slots()] == [
        slot.field.calculation for _, slot in instrument.answer_slots()]


def acceptable_import(call, data) -> None:
    try:
        result = call(data)
    except InstrumentImportError as error:
        assert str(error)
    else:
        assert isinstance(result, ImportResult)


@FAST
@given(st.binary(max_size=400))
def test_random_bytes_never_crash_the_importers(data):
    acceptable_import(import_data_dictionary, data)
    acceptable_import(import_xlsform, data)
    acceptable_import(lambda raw: import_xlsform(b"PK\x03\x04" + raw, "x.xlsx"), data)


REDCAP_CELLS = st.sampled_from([
    "", "f", "form two", "text", "notes", "radio", "checkbox", "dropdown", "yesno", "truefalse", "slider", "calc",
    "file", "descriptive", "sql", "integer", "number", "date_ymd", "email", "phone", "1, A | 2, B", "x, y | z",
    "0", "10", "2020-01-01", "y", "[q1] = '1'", "[q2(1)] = '0'", "[q1] > 3 and ([q2] <> '' or [q3] = \"1\")",
    "datediff([a],'today')", "@HIDDEN", "@CHARLIMIT=5", "@NONEOFTHEABOVE='2'", '@ROADMAP-TYPE="rating_5"',
    "grp", "<b>bold</b> label", "“curly”", "q1", "q2", "q3", "Q4", "bad name!",
])


@FAST
@given(st.lists(st.lists(REDCAP_CELLS, min_size=0, max_size=18), max_size=12))
def test_random_redcap_rows_give_warnings_or_a_clear_error(rows):
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    acceptable_import(import_data_dictionary, buffer.getvalue())


XLSFORM_CELLS = st.sampled_from([
    "", "text", "integer", "decimal", "select_one l", "select one l", "select_multiple l", "select all that apply l",
    "begin group", "end group", "begin_repeat", "end repeat", "note", "range", "calculate", "geopoint", "date",
    "q1", "q2", "g1", "Label", "yes", "TRUE()", "${q1} = 'a'", "selected(${q2}, 'b')", "not(${q1} = '')",
    ". >= 1 and . <= 9", "regex(., '[a-z]+')", "start=1 end=5", "minimal", "multiline",
])


@FAST
@given(st.lists(st.lists(XLSFORM_CELLS, min_size=0, max_size=8), max_size=12))
def test_random_xlsform_csv_gives_warnings_or_a_clear_error(rows):
    lines = ["survey,type,name,label,required,relevant,constraint,appearance"]
    lines += ["," + ",".join(row) for row in rows]
    lines += ["choices,list_name,name,label", ",l,a,A", ",l,b,B"]
    acceptable_import(lambda text: import_xlsform(text.encode("utf-8")), "\n".join(lines))


EXPRESSION_PIECES = st.sampled_from([
    "a", "b", "x_1", "=", "!=", "<>", "<", ">=", "and", "or", "not", "(", ")", ",", "'s'", '"t"', "1", "-2.5",
    "true", "false", "selected(", "answered(", " ", "__import__", ".", "\x00", "é", "[", "]", "+", "'",
])
ANSWERS = st.dictionaries(st.sampled_from(["a", "b", "x_1"]), RAW_VALUES, max_size=3)


@FAST
@given(st.one_of(st.text(max_size=120), st.lists(EXPRESSION_PIECES, max_size=40).map("".join),
                 st.lists(EXPRESSION_PIECES, max_size=40).map(" ".join)), ANSWERS)
def test_random_expressions_parse_or_fail_cleanly_and_evaluate_without_raising(text, answers):
    try:
        expression = parse(text)
    except ExpressionError as error:
        assert error.message
        return
    assert isinstance(expression, Expression)
    assert isinstance(expression.evaluate(answers), bool)
    assert parse(expression.to_text()).root == expression.root


@FAST
@given(st.text(alphabet=string.printable, max_size=30), st.dates(min_value=date(1900, 1, 1)))
def test_comparisons_with_any_values_never_raise(text, day):
    for source in ("a = b", "a < b", "a >= 'x'", "a != 3", "selected(a, 'x')", "answered(b)"):
        parse(source).evaluate({"a": text, "b": day})
        parse(source).evaluate({"a": [text], "b": text})
