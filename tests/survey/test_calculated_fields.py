"""Calculated fields: checked at load, computed on the server (never taken from the input),
read by later branching, exported and re-imported (REDCap, XLSForm, flat files)."""

import pandas as pd
import pytest

from survey.flat_responses import FlatRecord, export_flat, import_flat
from survey.instrument import FieldType, InstrumentError, instrument_from_dict
from survey.redcap import COLUMNS, export_data_dictionary, import_data_dictionary
from survey.validation import answer_rows, validate_submission, visible_fields
from survey.xlsform import import_xlsform


def instrument(fields: list[dict], repeated: list[dict] | None = None):
    sections = [{"id": "main", "title": "Main", "fields": fields}]
    if repeated:
        sections.append({"id": "tech", "title": "Per tool", "repeat_per_technology": True, "fields": repeated})
    return instrument_from_dict({"name": "calc", "version": 1, "title": "Calc", "sections": sections})


BMI = instrument([
    {"variable": "weight", "type": "decimal", "label": "Weight (kg)"},
    {"variable": "height", "type": "decimal", "label": "Height (m)"},
    {"variable": "bmi", "type": "calculated", "label": "Body mass index", "unit": "kg/m²",
     "calculation": "round(weight div (height * height), 1)"},
    {"variable": "diet_advice", "type": "yes_no", "label": "Would you like advice on diet?", "show_if": "bmi >= 30"},
])


def test_the_server_computes_the_value_and_ignores_one_sent_by_the_client():
    result = validate_submission(BMI, {"weight": "95", "height": "1.7", "bmi": "18.5", "diet_advice": "yes"})
    assert result.ok
    assert result.document["answers"] == {"weight": 95.0, "height": 1.7, "bmi": 32.9, "diet_advice": "yes"}
    assert (None, "bmi", "32.9") in answer_rows(result.document)


def test_branching_reads_the_calculated_value():
    low = validate_submission(BMI, {"weight": "60", "height": "1.8", "bmi": "40", "diet_advice": "yes"})
    assert low.document["answers"] == {"weight": 60.0, "height": 1.8, "bmi": 18.5}  # advice hidden, not stored
    shown = [field.variable for field in visible_fields(BMI, {"weight": 120, "height": 1.8}, "main")]
    assert shown == ["weight", "height", "bmi", "diet_advice"]
    assert "diet_advice" not in [field.variable for field in visible_fields(BMI, {"weight": 50, "height": 1.8}, "main")]


def test_division_by_zero_or_a_missing_input_stores_nothing_and_is_no_error():
    for answers in ({"weight": "95", "height": "0"}, {"weight": "95"}, {}):
        result = validate_submission(BMI, answers)
        assert result.ok and "bmi" not in result.document["answers"]


def test_a_calculation_per_technology_reads_that_technology_and_the_shared_answers():
    per_tool = instrument(
        [{"variable": "cases_per_week", "type": "integer", "label": "Cases a week"}],
        [{"variable": "minutes_per_case", "type": "decimal", "label": "Minutes saved a case"},
         {"variable": "hours_per_week", "type": "calculated", "label": "Hours saved a week",
          "calculation": "round(minutes_per_case * cases_per_week div 60, 1)"}])
    result = validate_submission(per_tool, {"cases_per_week": "30"},
                                 {"7": {"minutes_per_case": "4"}, "8": {"minutes_per_case": "2.5", "hours_per_week": 99}})
    assert result.ok
    assert result.document["technologies"] == {"7": {"minutes_per_case": 4.0, "hours_per_week": 2},
                                               "8": {"minutes_per_case": 2.5, "hours_per_week": 1.3}}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ([{"variable": "c", "type": "calculated", "label": "C"}], "a calculated field needs a calculation"),
        ([{"variable": "c", "type": "integer", "label": "C", "calculation": "1 + 1"}],
         "a integer field cannot have a calculation"),
        ([{"variable": "c", "type": "calculated", "label": "C", "calculation": "1 +"}], "is not a valid calculation"),
        ([{"variable": "c", "type": "calculated", "label": "C", "calculation": "1", "required": True}],
         "a calculated field cannot be required"),
        ([{"variable": "c", "type": "calculated", "label": "C", "calculation": "later * 2"},
          {"variable": "later", "type": "integer", "label": "L"}],
         "calculation reads 'later', which is not a question answered before this point"),
        ([{"variable": "c", "type": "calculated", "label": "C", "calculation": "c + 1"}],
         "calculation reads 'c', which is not a question answered before this point"),
        ([{"variable": "smoker", "type": "yes_no", "label": "S"},
          {"variable": "c", "type": "calculated", "label": "C", "calculation": "smoker * 2"}],
         "does arithmetic on the yes_no answer 'smoker'"),
        ([{"variable": "role", "type": "single_choice", "label": "R", "choices": [{"code": "a", "label": "A"}]},
          {"variable": "c", "type": "calculated", "label": "C", "calculation": "if(role = 'b', 1, 0)"}],
         "uses code 'b' in the comparison with 'role'"),
    ],
)
def test_load_time_checks_name_the_field(fields, message):
    with pytest.raises(InstrumentError) as caught:
        instrument(fields)
    assert message in str(caught.value)


# --------------------------------------------------------------------------- flat files


def test_flat_export_includes_the_value_and_import_recomputes_it():
    document = validate_submission(BMI, {"weight": "95", "height": "1.7", "diet_advice": "no"}).document
    frame = export_flat(BMI, [FlatRecord("R1", document)])
    assert frame.loc[0, "bmi"] == "32.9"
    # A file that says otherwise (edited by hand, or from a tool that computed it differently)
    # does not set the value: the server computes it again from the other answers.
    frame.loc[0, "bmi"] = "99"
    [record] = import_flat(BMI, frame.to_csv(index=False))
    assert record.document["answers"]["bmi"] == 32.9
    frame.loc[0, "bmi"] = "not a number"
    [record] = import_flat(BMI, frame.to_csv(index=False))
    assert record.document == document
    without_column = frame.drop(columns=["bmi"])
    assert import_flat(BMI, without_column.to_csv(index=False))[0].document == document


# --------------------------------------------------------------------------- REDCap


def dictionary(rows: list[list[str]]) -> str:
    frame = pd.DataFrame([row + [""] * (len(COLUMNS) - len(row)) for row in rows], columns=list(COLUMNS))
    return frame.to_csv(index=False)


REDCAP = dictionary([
    ["participant_id", "baseline", "", "text", "Participant ID"],
    ["weight", "baseline", "", "text", "Weight", "", "", "number"],
    ["height", "baseline", "", "text", "Height", "", "", "number"],
    ["smoker", "baseline", "", "yesno", "Do you smoke?"],
    ["tools", "baseline", "", "checkbox", "Tools", "1, Scribe | 2, Triage"],
    ["enrolled", "baseline", "", "text", "Enrolled", "", "", "date_ymd"],
    ["visit", "baseline", "", "text", "Visit", "", "", "date_ymd"],
    ["bmi", "baseline", "", "calc", "BMI", "round([weight]/([height]*[height]),1)"],
    ["risk", "baseline", "", "calc", "Risk", "[smoker]*2 + if([bmi] > 30, 1, 0) + [tools(1)]"],
    ["days", "baseline", "", "calc", "Days", 'datediff([enrolled],[visit],"d",true)'],
    ["gap", "baseline", "", "calc", "Gap", 'datediff([enrolled],[visit],"M")'],
    ["root", "baseline", "", "calc", "Root", "sqrt([weight])"],
    ["power", "baseline", "", "calc", "Power", "([weight])^(2)"],
    ["age", "baseline", "", "calc", "Age", 'datediff([enrolled],"today","y")'],
    ["hours", "baseline", "", "calc", "Hours", 'datediff([enrolled],[visit],"h")'],
    ["rounded", "baseline", "", "calc", "Rounded", "round([weight])"],
    ["later", "baseline", "", "calc", "Later", "[final] + 1"],
    ["event", "baseline", "", "calc", "Event", "[baseline_arm_1][weight] * 2"],
    ["advice", "baseline", "", "yesno", "Advice?", "", "", "", "", "", "", "[risk] >= 3"],
    ["recall", "baseline", "", "yesno", "Recall?", "", "", "", "", "", "", 'datediff([enrolled],[visit],"d",true) > 30'],
    ["final", "baseline", "", "text", "Final", "", "", "integer"],
])


def test_redcap_calc_fields_are_translated_or_skipped_with_a_warning_naming_row_and_function():
    result = import_data_dictionary(REDCAP, name="study")
    fields = {field.variable: field for field in result.instrument.sections[0].fields}
    assert fields["bmi"].type is FieldType.CALCULATED
    assert fields["bmi"].calculation == "round(weight div (height * height), 1)"
    # REDCap counts a yes/no as 1/0 and a checkbox option as 1 when ticked.
    assert fields["risk"].calculation == ("if(answered(smoker), if(smoker = 'yes', 1, 0), '') * 2 + if(bmi > 30, 1, 0) "
                                          "+ if(selected(tools, '1'), 1, 0)")
    assert fields["days"].calculation == "days_between(enrolled, visit)"
    assert fields["gap"].calculation == "abs(days_between(enrolled, visit) div 30.44)"
    assert fields["advice"].show_if == "risk >= 3"
    assert fields["recall"].show_if == "days_between(enrolled, visit) > 30"  # datediff works in branching too
    warnings = {(w.row, w.variable): w.message for w in result.warnings}
    prefix = "field skipped: calculation "
    assert warnings[(13, "root")] == prefix + "'sqrt([weight])' could not be translated (the function sqrt() is not supported at position 1)"
    assert warnings[(14, "power")].startswith(prefix) and "unexpected character '^'" in warnings[(14, "power")]
    assert "datediff() with '\"today\"' is not supported" in warnings[(15, "age")]
    assert "datediff() in units 'h' is not supported" in warnings[(16, "hours")]
    assert "round() needs its number of decimal places" in warnings[(17, "rounded")]
    assert warnings[(18, "later")] == ("field skipped: section 'baseline', field 'later': calculation reads 'final', "
                                       "which is not a question answered before this point")
    assert "[event][field] references to events or instances are not supported" in warnings[(19, "event")]
    assert not {"root", "power", "age", "hours", "rounded", "later", "event"} & set(fields)
    answers = {"weight": "100", "height": "2", "smoker": "1", "tools": ["1"], "enrolled": "2024-01-01",
               "visit": "2024-03-01", "advice": "1"}
    document = validate_submission(result.instrument, answers).document["answers"]
    assert (document["bmi"], document["risk"], document["days"], document["advice"]) == (25, 3, 60, "yes")
    assert "recall" not in document  # asked only when more than 30 days apart, and not answered here


def test_redcap_export_keeps_the_record_id_name_and_writes_calculations_back():
    imported = import_data_dictionary(REDCAP, name="study").instrument
    assert imported.record_id == "participant_id"
    text = export_data_dictionary(imported)
    rows = list(pd.read_csv(pd.io.common.StringIO(text), dtype=str, keep_default_na=False).itertuples(index=False))
    assert rows[0][0] == "participant_id"
    by_name = {row[0]: row for row in rows}
    assert by_name["bmi"][3] == "calc" and by_name["bmi"][5] == "round([weight] / ([height] * [height]), 1)"
    assert by_name["days"][5] == 'datediff([enrolled], [visit], "d", true)'
    again = import_data_dictionary(text, name="study")
    assert again.instrument == imported


def test_redcap_export_of_our_own_calculations_round_trips():
    ours = instrument([
        {"variable": "start", "type": "date", "label": "Start"},
        {"variable": "stop", "type": "date", "label": "Stop"},
        {"variable": "n", "type": "integer", "label": "N"},
        {"variable": "span", "type": "calculated", "label": "Span", "calculation": "stop - start + 1"},
        {"variable": "odd", "type": "calculated", "label": "Odd", "calculation": "int(n div 2) mod 2"},
        {"variable": "first", "type": "calculated", "label": "First", "calculation": "coalesce(n, 0) * 2"},
        {"variable": "note", "type": "short_text", "label": "Note", "show_if": "span - 1 > n"},
    ])
    text = export_data_dictionary(ours)
    assert text.splitlines()[1].startswith("record_id,")
    # REDCap has no mod, int() or coalesce(): the calc column approximates them with rounddown()
    # and if(); the exact text travels in an annotation REDCap ignores, so nothing is lost.
    assert '@ROADMAP-CALC=""int(n div 2) mod 2""' in text and "rounddown(" in text
    assert import_data_dictionary(text, name="calc", title="Calc").instrument == ours


# --------------------------------------------------------------------------- XLSForm


def test_xlsform_calculations_are_translated_or_skipped_with_a_warning_naming_row_and_function():
    form = (b"survey,type,name,label,calculation,relevant\n"
            b",integer,a,A,,\n"
            b",date,born,Born,,\n"
            b",date,seen,Seen,,\n"
            b",calculate,double,,${a} * 2 div 1 mod 7,\n"
            b",calculate,age_days,,decimal-date-time(${seen}) - decimal-date-time(${born}),\n"
            b",calculate,label,,\"if(${a} > 3, 'big', coalesce(${a}, 'none'))\",\n"
            b",calculate,years,,int((decimal-date-time(today()) - decimal-date-time(${born})) div 365.25),\n"
            b",calculate,joined,,\"concat(${a}, 'x')\",\n"
            b",calculate,check,,${a} > 3,\n"
            b",integer,b,B,,${double} > 4\n"
            b",calculate,empty,,,\n")
    result = import_xlsform(form, "calc.csv")
    fields = {field.variable: field for field in result.instrument.sections[0].fields}
    assert fields["double"].calculation == "a * 2 div 1 mod 7"
    assert fields["age_days"].calculation == "seen - born"
    assert fields["label"].calculation == "if(a > 3, 'big', coalesce(a, 'none'))"
    assert fields["b"].show_if == "double > 4"
    warnings = {(w.row, w.variable): w.message for w in result.warnings}
    assert warnings == {
        (8, "years"): "field skipped: calculation 'int((decimal-date-time(today()) - decimal-date-time(${born})) "
                      "div 365.25)' could not be translated (the function today() is not supported at position 24)",
        (9, "joined"): "field skipped: calculation \"concat(${a}, 'x')\" could not be translated "
                       "(the function concat() is not supported at position 1)",
        (10, "check"): "field skipped: calculation '${a} > 3' could not be translated (expected a value as the result "
                       "of a calculation (wrap a condition in if(condition, 1, 0)) but found the condition 'a > 3' at "
                       "position 1)",
        (12, "empty"): "row skipped: a calculate row needs a calculation",
    }
    document = validate_submission(result.instrument, {"a": 5, "born": "2024-01-01", "seen": "2024-01-31", "b": 1})
    assert document.document["answers"] == {"a": 5, "born": "2024-01-01", "seen": "2024-01-31", "double": 3,
                                            "age_days": 30, "label": "big"}  # b hidden: double is 3


def test_a_calculation_reading_free_text_or_an_identifier_goes_where_they_go():
    leaky = instrument([
        {"variable": "email", "type": "short_text", "label": "E-mail", "identifier": True},
        {"variable": "comments", "type": "long_text", "label": "Comments"},
        {"variable": "n", "type": "integer", "label": "N"},
        {"variable": "contact", "type": "calculated", "label": "Contact", "calculation": "coalesce(email, 'none')"},
        {"variable": "said", "type": "calculated", "label": "Said", "calculation": "coalesce(comments, '')"},
        {"variable": "echo", "type": "calculated", "label": "Echo", "calculation": "if(n > 1, said, 'x')"},
        {"variable": "double", "type": "calculated", "label": "Double", "calculation": "n * 2"},
    ])
    assert leaky.calculated_from({"email", "comments"}) == {"contact", "said", "echo"}
    document = validate_submission(leaky, {"email": "a@b.nhs.net", "comments": "Private", "n": 3}).document
    assert document["answers"]["echo"] == "Private"
    frame = export_flat(leaky, [FlatRecord("R1", document)], deidentify=True, pseudonymise=lambda text: "P")
    assert [column for column in frame.columns if column in ("email", "comments", "contact", "said", "echo", "double")] == [
        "double"]
