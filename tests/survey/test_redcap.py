"""REDCap Data Dictionary import (clean and messy files) and export round trips."""

import csv
import io
from pathlib import Path

import pytest

from survey.instrument import EMAIL_PATTERN, FieldType, builtin_instruments
from survey.redcap import COLUMNS, InstrumentImportError, export_data_dictionary, import_data_dictionary

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "survey"


def load(name):
    return import_data_dictionary((FIXTURES / name).read_bytes())


def fields_by_variable(instrument):
    return {field.variable: field for section in instrument.sections for field in section.fields}


def warnings_text(result):
    return [(w.row, w.variable, w.message) for w in result.warnings]


def test_clean_dictionary_maps_every_supported_type():
    result = load("redcap_clean.csv")
    instrument = result.instrument
    assert [(s.id, s.title) for s in instrument.sections] == [("screening", "About the study"), ("work", "Work")]
    fields = fields_by_variable(instrument)
    assert "record_id" not in fields
    expected_types = {"consent": FieldType.YES_NO, "age": FieldType.INTEGER, "height": FieldType.DECIMAL,
                      "visit_date": FieldType.DATE, "email": FieldType.SHORT_TEXT, "role": FieldType.SINGLE_CHOICE,
                      "site": FieldType.DROPDOWN, "tools": FieldType.MULTIPLE_CHOICE,
                      "no_imaging": FieldType.LONG_TEXT, "pain": FieldType.SLIDER, "conf": FieldType.MATRIX,
                      "notes_info": FieldType.DESCRIPTIVE}
    assert {name: fields[name].type for name in expected_types} == expected_types
    assert (fields["age"].required, fields["age"].bounds(), fields["age"].help) == (True, (18, 100), "Whole years")
    assert fields["height"].bounds() == (0.5, 2.5)
    assert str(fields["visit_date"].validation.min) == "2020-01-01"
    assert fields["email"].identifier and fields["email"].validation.pattern == EMAIL_PATTERN
    assert [(c.code, c.label) for c in fields["role"].choices] == [("1", "Doctor"), ("2", "Nurse"), ("3", "Other")]
    assert [c.code for c in fields["tools"].choices if c.exclusive] == ["99"]
    assert fields["no_imaging"].validation.max_length == 500
    assert (fields["pain"].bounds(), fields["pain"].help) == ((0, 10), "Scale: Low – Medium – High")
    matrix = fields["conf"]
    assert (matrix.label, [i.variable for i in matrix.items], [c.code for c in matrix.choices]) == (
        "Confidence", ["conf_a", "conf_b"], ["1", "2", "3"])
    assert warnings_text(result) == [
        (2, "record_id", "the first field is REDCap's record identifier; it is not imported as a question")]


def test_branching_logic_is_translated():
    fields = fields_by_variable(load("redcap_clean.csv").instrument)
    assert fields["age"].show_if == "consent = 'yes'"  # yesno 1 -> 'yes'
    assert fields["site"].show_if == "role != '3'"
    assert fields["scribe_minutes"].show_if == "selected(tools, '1') and role = '1'"
    assert fields["no_imaging"].show_if == "not selected(tools, '3') or age >= 60"


def test_bom_crlf_quoted_headers_html_curly_quotes_and_blank_rows():
    result = load("redcap_bom_crlf.csv")
    instrument = result.instrument
    assert [(s.id, s.title) for s in instrument.sections] == [("baseline_visit", "Welcome")]
    fields = fields_by_variable(instrument)
    assert list(fields) == ["consent", "role", "tools", "triage_minutes"]
    assert fields["consent"].label == "Do you agree to take part?"
    assert fields["role"].label == "Main role"
    assert fields["role"].choices[0].label == "Doctor"
    assert fields["role"].show_if == "consent = 'yes'"
    assert fields["tools"].show_if == "consent = 'yes' and role = '1'"
    assert fields["triage_minutes"].show_if == "selected(tools, '2')"
    assert [w.variable for w in result.warnings] == ["study_id"]


def test_windows_1252_bytes_and_api_style_headers():
    raw = (FIXTURES / "redcap_cp1252.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    result = import_data_dictionary(raw)
    fields = fields_by_variable(result.instrument)
    assert fields["cafe_visits"].label == "Café visits – per week"
    assert fields["mood"].label == "How’s your mood?"
    assert fields["mood"].show_if == "cafe_visits > 2"
    assert (3, "café_visits", "variable renamed to 'cafe_visits' (names must be lower-case letters, digits and "
                              "underscores)") in warnings_text(result)


def test_unsupported_rows_become_warnings_naming_row_and_variable():
    result = load("redcap_unsupported.csv")
    fields = fields_by_variable(result.instrument)
    assert "scan" not in fields and "lookup" not in fields and "root" not in fields
    assert fields["bmi"].calculation == "weight div (height * height)"
    found = {(w.row, w.variable): w.message for w in result.warnings}
    assert (5, "bmi") not in found
    assert found[(18, "root")] == ("field skipped: calculation 'sqrt([weight])' could not be translated "
                                   "(the function sqrt() is not supported at position 1)")
    assert found[(6, "scan")] == "field skipped: file upload fields are not supported"
    assert found[(7, "lookup")] == "field skipped: SQL fields are not supported"
    assert "@HIDDEN" in found[(8, "phone")] or any("@HIDDEN" in w.message for w in result.warnings if w.row == 8)
    assert any("@CALCTEXT is not supported" in w.message for w in result.warnings if w.row == 9)
    assert "datediff" in found[(10, "follow")] and fields["follow"].show_if is None
    assert "events or instances" in found[(11, "event_q")]
    assert "not a question answered before this point" in found[(12, "later")]
    assert "only single-answer (radio) rows form a matrix" in found[(13, "cb_a")]
    assert fields["cb_a"].type is FieldType.MULTIPLE_CHOICE
    assert found[(15, "rk")] == "matrix ranking is not supported and was ignored"
    assert found[(17, "final_q")] == "field annotation text ignored: 'just a note'"
    assert [w.row for w in result.warnings] == sorted(w.row for w in result.warnings)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "the file is empty"),
        (b"   \r\n\r\n", "the file is empty"),
        (b"name,age\nx,3\n", "lacks the column(s) 'Variable / Field Name', 'Form Name', 'Field Type', 'Field Label'"),
        ("Variable / Field Name,Form Name,Field Type,Field Label\n", "header row but no fields"),
        (b"\x00\x01\x02binary", "binary"),
        (b"PK\x03\x04\x00\x00", "binary"),
    ],
)
def test_structural_errors_have_a_one_line_reason(data, reason):
    with pytest.raises(InstrumentImportError) as caught:
        import_data_dictionary(data)
    assert reason in str(caught.value)
    assert "\n" not in str(caught.value)


def test_header_spelling_variants_are_recognised():
    text = ("\ufeff variable / field name ,FORM NAME,field type,Field   Label,Choices  Calculations OR Slider Labels\n"
            "record_id,f,text,ID,\n"
            "q,f,radio,Question,\"1, A | 2, B\"\n")
    fields = fields_by_variable(import_data_dictionary(text).instrument)
    assert [c.label for c in fields["q"].choices] == ["A", "B"]


def test_export_has_the_18_columns_in_order_and_crlf():
    text = export_data_dictionary(load("redcap_clean.csv").instrument)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert tuple(rows[0]) == COLUMNS and len(COLUMNS) == 18
    assert all(len(row) == 18 for row in rows)
    assert rows[1][:4] == ["record_id", "screening", "", "text"]
    assert "\r\n" in text


@pytest.mark.parametrize("fixture", ["redcap_clean.csv", "redcap_bom_crlf.csv", "redcap_cp1252.csv",
                                     "redcap_unsupported.csv"])
def test_import_export_import_gives_an_equal_instrument(fixture):
    first = load(fixture).instrument
    second = import_data_dictionary(export_data_dictionary(first)).instrument
    assert second == first


def test_builtin_instruments_export_and_reimport():
    for instrument in builtin_instruments().values():
        result = import_data_dictionary(export_data_dictionary(instrument), name=instrument.name, title=instrument.title)
        again = result.instrument
        assert [w.variable for w in result.warnings] == ["record_id"]
        assert [s.id for s in again.sections] == [s.id for s in instrument.sections]
        assert [s.repeat_per_technology for s in again.sections] == [s.repeat_per_technology for s in instrument.sections]
        original = {slot.variable: slot.field for _, slot in instrument.answer_slots()}
        imported = {slot.variable: slot.field for _, slot in again.answer_slots()}
        assert list(imported) == list(original)
        for variable, field in original.items():
            # everything survives except section conditions, which REDCap can only hold per field
            assert imported[variable].model_copy(update={"show_if": None}) == field.model_copy(update={"show_if": None})
        # and a second round trip is exact
        assert import_data_dictionary(export_data_dictionary(again), name=instrument.name,
                                      title=instrument.title).instrument == again


def test_exported_logic_is_redcap_syntax():
    clinician = builtin_instruments()["clinician_experience"]
    rows = {row[0]: row for row in csv.reader(io.StringIO(export_data_dictionary(clinician), newline=""))}
    assert rows["staff_group"][11] == "[consent] = '1'"
    assert rows["tech_minutes_per_case"][11] == (
        "[consent] = '1' and ([tech_time_effect] = 'saved' or [tech_time_effect] = 'added')")
    assert rows["tech_role_change"][17] == "@NONEOFTHEABOVE='no_change'"
    assert rows["tech_accuracy"][17] == '@ROADMAP-TYPE="rating_5"'
    assert rows["tech_use_frequency"][17] == "@ROADMAP-REPEAT"
    assert rows["contact_email"][7] == "email" and rows["contact_email"][10] == "y"
    assert rows["conf_gov_regulation"][15] == "tech_confidence"


def test_negations_are_pushed_inwards_for_redcap():
    from survey.instrument import instrument_from_dict

    instrument = instrument_from_dict({"name": "n", "version": 1, "title": "N", "sections": [{
        "id": "s", "title": "S", "fields": [
            {"variable": "a", "type": "integer", "label": "A"},
            {"variable": "b", "type": "multiple_choice", "label": "B", "choices": [{"code": "x", "label": "X"}]},
            {"variable": "c", "type": "short_text", "label": "C",
             "show_if": "not (a < 3 or selected(b, 'x')) and not answered(a) and answered(b)"},
            {"variable": "d", "type": "single_choice", "label": "D", "choices": [{"code": "y", "label": "Y"}],
             "show_if": "not (selected(b, 'x') and a = 1)"},
            {"variable": "e", "type": "short_text", "label": "E", "show_if": "not selected(d, 'y') and c != 'q'"}]}]})
    rows = {row[0]: row for row in csv.reader(io.StringIO(export_data_dictionary(instrument), newline=""))}
    assert rows["c"][11] == "([a] >= 3 and [b(x)] = '0') and [a] = '' and [b] <> ''"
    assert rows["d"][11] == "[b(x)] = '0' or [a] <> 1"
    assert rows["e"][11] == "[d] <> 'y' and [c] <> 'q'"
    again = import_data_dictionary(export_data_dictionary(instrument)).instrument
    c = fields_by_variable(again)["c"]
    assert c.show_if == "(a >= 3 and not selected(b, 'x')) and not answered(a) and answered(b)"


def test_utf8_bom_on_a_windows_1252_body_still_finds_the_header():
    header = ",".join(f'"{name}"' for name in COLUMNS).encode("ascii")
    body = "record_id,f,,text,ID\r\nq,f,,radio,Caf\u00e9?,\"1, Oui | 2, Non\"\r\n".encode("cp1252")
    result = import_data_dictionary(b"\xef\xbb\xbf" + header + b"\r\n" + body)
    field = result.instrument.sections[0].fields[0]
    assert (field.variable, field.label, [c.label for c in field.choices]) == ("q", "Café?", ["Oui", "Non"])
