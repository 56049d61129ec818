"""XLSForm import from .xlsx (built here with openpyxl) and from the CSV form."""

import io
from pathlib import Path

import openpyxl
import pytest

from survey.instrument import FieldType
from survey.xlsform import InstrumentImportError, import_xlsform

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "survey"


def workbook_bytes(sheets: dict[str, list[list]]) -> bytes:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


SURVEY = [
    ["TYPE", "Name", "Label::English (en)", "label::Deutsch (de)", "hint", "Required", "relevant", "constraint",
     "appearance", "parameters"],
    ["begin group", "profile", "About you", "Über Sie", "", "", "", "", "", ""],
    ["select_one role", "role", "Your role", "Ihre Rolle", "Pick one", True, "", "", "", ""],
    ["integer", "years", "Years in role", "", "", "yes", "${role} = 'nurse'", ". >= 0 and . <= 50", "", ""],
    [None, None, None, None, None, None, None, None, None, None],
    ["end group", "", "", "", "", "", "", "", "", ""],
    ["begin_group", "tools_page", "Tools", "", "", "", "${role} != ''", "", "", ""],
    ["select_multiple tools", "tools", "Tools used", "", "", "", "", "", "", ""],
    ["range", "workload", "Workload", "", "", "", "selected(${tools}, 'scribe')", "", "", "start=0 end=10 step=2"],
    ["text", "comments", "Comments", "", "", "FALSE", "", "string-length(.) <= 500", "multiline", ""],
    ["select_one role", "site_role", "Role at site", "", "", "", "", "", "minimal", ""],
    ["end_group", "", "", "", "", "", "", "", "", ""],
    ["calculate", "total", "", "", "", "", "", "", "", ""],
    ["image", "photo", "Photo", "", "", "", "", "", "", ""],
]
CHOICES = [
    ["list_name", "name", "label::English (en)"],
    ["role", "nurse", "Nurse"],
    ["role", "medic", "Doctor"],
    ["tools", "scribe", "Scribe"],
    ["tools", 2, "Triage"],
]
SETTINGS = [["form_title", "form_id", "version"], ["Workforce tools", "workforce_tools", 3]]


def test_xlsx_import_maps_types_groups_conditions_and_settings():
    result = import_xlsform(workbook_bytes({"Survey": SURVEY, "CHOICES": CHOICES, "settings": SETTINGS}), "form.xlsx")
    instrument = result.instrument
    assert (instrument.name, instrument.title, instrument.version) == ("workforce_tools", "Workforce tools", 3)
    assert [(s.id, s.title, s.show_if) for s in instrument.sections] == [
        ("profile", "About you", None), ("tools_page", "Tools", "answered(role)")]
    fields = {f.variable: f for s in instrument.sections for f in s.fields}
    assert (fields["role"].type, fields["role"].label, fields["role"].help, fields["role"].required) == (
        FieldType.SINGLE_CHOICE, "Your role", "Pick one", True)
    assert [(c.code, c.label) for c in fields["role"].choices] == [("nurse", "Nurse"), ("medic", "Doctor")]
    assert (fields["years"].required, fields["years"].bounds(), fields["years"].show_if) == (
        True, (0, 50), "role = 'nurse'")
    assert [c.code for c in fields["tools"].choices] == ["scribe", "2"]
    slider = fields["workload"]
    assert (slider.type, slider.bounds(), slider.validation.step, slider.show_if) == (
        FieldType.SLIDER, (0, 10), 2.0, "selected(tools, 'scribe')")
    assert (fields["comments"].type, fields["comments"].required, fields["comments"].max_length()) == (
        FieldType.LONG_TEXT, False, 500)
    assert fields["site_role"].type is FieldType.DROPDOWN
    found = {(w.row, w.variable): w.message for w in result.warnings}
    assert found == {(13, "total"): "row skipped: a calculate row needs a calculation",
                     (14, "photo"): "row skipped: media uploads are not supported (type 'image')"}


def test_csv_form_with_legacy_spellings():
    result = import_xlsform((FIXTURES / "xlsform_legacy.csv").read_bytes(), "legacy.csv")
    instrument = result.instrument
    assert (instrument.name, instrument.title, instrument.version) == ("staff_tools", "Staff tools survey", 2024051501)
    assert [s.id for s in instrument.sections] == ["survey", "about", "kids", "survey_2"]
    fields = {f.variable: f for s in instrument.sections for f in s.fields}
    assert fields["intro"].type is FieldType.DESCRIPTIVE and fields["intro"].label == "Welcome to the survey"
    assert fields["consent"].required is True  # TRUE()
    assert instrument.section("about").show_if == "consent = 'yes'"
    assert fields["age"].bounds() == (18, 99) and fields["age"].help == "In years"
    assert fields["tools"].type is FieldType.MULTIPLE_CHOICE  # "select all that apply"
    assert fields["minutes"].show_if == "selected(tools, 'scribe')"  # curly quotes, odd spacing
    assert fields["minutes"].bounds() == (0, 240)
    assert fields["why_not"].show_if == "not selected(tools, 'scribe') and answered(age)"
    assert (fields["why_not"].type, fields["why_not"].max_length()) == (FieldType.LONG_TEXT, 300)
    assert [c.code for c in fields["happy"].choices] == ["yes", "no", "other"]
    # or_other also adds pyxform's text question for the details, shown when 'other' is chosen
    assert (fields["happy_other"].type, fields["happy_other"].label, fields["happy_other"].show_if) == (
        FieldType.SHORT_TEXT, "Specify other.", "selected(happy, 'other')")
    assert fields["older_note"].show_if == "age > 30"  # nested group condition carried onto its question
    assert fields["older_note"].validation.pattern == "^[A-Z].*"
    messages = [(w.row, w.variable, w.message) for w in result.warnings]
    assert (None, "tools", "choices sheet row 26: choice 'bad code!' skipped (codes are letters, digits, _ . -)") in messages
    assert (7, "minutes", "constraint '. > 0' is imported as '>=' (strict limits are not supported)") in messages
    assert not any(variable in ("happy", "happy_other") for _, variable, _ in messages)
    assert (14, "score", "row skipped: a calculate row needs a calculation") in messages
    assert (11, "Older-Note", "variable renamed to 'older_note' (names must be lower-case letters, digits and "
                              "underscores)") in messages
    assert (16, "kids", "repeat 'kids' is not supported; its questions are imported once") in messages
    assert (19, "visit", "constraint '. <= today()' is not supported and was ignored") in messages
    assert any(row == 19 and "visit_ref" in message for row, _, message in messages)
    assert (20, "start", "metadata 'start' is not collected; row skipped") in messages


def test_integer_strict_limits_become_inclusive_ones():
    data = workbook_bytes({"survey": [["type", "name", "label", "constraint"],
                                      ["integer", "n", "N", ". > 0 and . < 10"]]})
    result = import_xlsform(data)
    assert result.instrument.sections[0].fields[0].bounds() == (1, 9)
    assert result.warnings == []
    assert result.instrument.name == "xlsform"


def test_unsupported_conditions_and_required_expressions_warn():
    data = workbook_bytes({"survey": [
        ["type", "name", "label", "relevant", "required"],
        ["integer", "a", "A", "", ""],
        ["integer", "b", "B", "count-selected(${a}) > 1", "${a} > 3"],
    ]})
    result = import_xlsform(data, "x.xlsx")
    field = result.instrument.sections[0].fields[1]
    assert field.show_if is None and field.required is False
    messages = [w.message for w in result.warnings if w.variable == "b"]
    assert any("could not be translated" in message for message in messages)
    assert any("conditional 'required'" in message for message in messages)


@pytest.mark.parametrize(
    ("data", "hint", "reason"),
    [
        (b"", None, "empty"),
        (b"PK\x03\x04garbage", "x.xlsx", "not a readable .xlsx workbook"),
        (b"not a zip", "form.xlsx", "not an Excel workbook"),
        (b"choices,list_name,name,label\n,a,b,c\n", None, "no 'survey' sheet"),
        (b",text,q,Q\n", None, "comes before any 'survey' sheet row"),
        (b"survey,name,label\n,q,Q\n", None, "lacks the column(s) type"),
        (b"survey,type,name,label\n,calculate,c,\n", None, "no questions could be imported"),
    ],
)
def test_structural_errors(data, hint, reason):
    with pytest.raises(InstrumentImportError) as caught:
        import_xlsform(data, hint)
    assert reason in str(caught.value)


def test_missing_choice_list_skips_the_question_with_a_warning():
    data = b"survey,type,name,label\n,select_one nope,q,Q\n,text,t,T\n"
    result = import_xlsform(data)
    assert [f.variable for f in result.instrument.sections[0].fields] == ["t"]
    assert [(w.row, w.variable, w.message) for w in result.warnings] == [
        (2, "q", "row skipped: choice list 'nope' is not on the choices sheet")]
