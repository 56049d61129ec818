"""Instruments in more than one language: the model, XLSForm import of every language spelling,
XLSForm export (checked with pyxform), the translator's workbook and the form's own words."""

from __future__ import annotations

import io
import json
from pathlib import Path

import openpyxl
import pytest
from pyxform.xls2xform import convert

from survey.app_text import LOCALE_DIR_VARIABLE, app_languages, app_text
from survey.instrument import (
    InstrumentError,
    builtin_instruments,
    instrument_from_dict,
    instrument_json,
    instrument_to_dict,
)
from survey.languages import accepted_languages, parse_language, starting_language
from survey.translations import TranslationImportError, apply_translation_workbook, translation_workbook
from survey.xlsform import import_xlsform
from survey.xlsform_export import export_xlsform

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "survey"
BILINGUAL = FIXTURES / "xlsform_bilingual.csv"
LOCALES = Path(__file__).resolve().parents[2] / "survey" / "locales"


def bilingual():
    result = import_xlsform(BILINGUAL.read_bytes(), BILINGUAL.name)
    assert result.warnings == []
    return result.instrument


def pyxform_converts(content: bytes, tmp_path: Path, name: str = "form.xlsx") -> str:
    path = tmp_path / name
    path.write_bytes(content)
    result = convert(xlsform=str(path))  # raises PyXFormError on an invalid form
    assert result.warnings == []
    return result.xform


# --------------------------------------------------------------------------- import


def test_the_bilingual_fixture_keeps_every_text_in_both_languages():
    instrument = bilingual()
    assert [language.label for language in instrument.languages] == ["English (en)", "Cymraeg (cy)"]
    years = instrument.slot("years")[1].field
    assert years.text("label") == "How many years have you worked here, ${name}?"
    assert years.text("label", "cy") == "[cy] Sawl blwyddyn, ${name}?"
    assert years.text("help", "cy") == "[cy] Mewn blynyddoedd cyfan"
    assert years.text("constraint_message", "cy") == "[cy] Rhwng 0 a 60"
    consent = instrument.slot("consent")[1].field
    assert consent.text("required_message", "cy") == "[cy] Atebwch y cwestiwn hwn"
    assert consent.choice_label("no", "cy") == "[cy] Nac ydw" and consent.choice_label("no") == "No"
    about = instrument.section("about")
    assert (about.text("title", "cy"), about.text("description", "cy")) == (
        "[cy] Amdanoch chi", "[cy] Dywedwch wrthym am eich gwaith")


@pytest.mark.parametrize("header", ["label::Cymraeg (cy)", "label::cy", "label:Cymraeg (cy)", "label:cy",
                                    "LABEL::Welsh", "Label:welsh", "label::Cymraeg"])
def test_every_language_header_spelling_is_read(header: str):
    form = (f"survey,type,name,label::English (en),{header},hint::English (en),hint{header[5:]}\n"
            ",integer,age,Age,[cy] Oed,In years,[cy] Mewn blynyddoedd\n")
    instrument = import_xlsform(form.encode(), "form.csv").instrument
    field = instrument.slot("age")[1].field
    assert [language.code for language in instrument.languages] == ["en", "cy"]
    assert (field.text("label", "cy"), field.text("help", "cy")) == ("[cy] Oed", "[cy] Mewn blynyddoedd")


@pytest.mark.parametrize("header", ["label:English (en)", "label:english", "Label::English", "label::en"])
def test_a_form_with_only_a_language_column_keeps_its_labels(header: str):
    form = (f"survey,type,name,{header}\n,integer,age,How old are you?\n,select_one yn,ok,All well?\n"
            f"choices,list_name,name,{header}\n,yn,yes,Yes indeed\n,yn,no,Not really\n")
    result = import_xlsform(form.encode(), "form.csv")
    instrument = result.instrument
    assert instrument.slot("age")[1].field.label == "How old are you?"
    assert instrument.slot("ok")[1].field.choice_label("no") == "Not really"
    assert instrument.default_language.code == "en" and instrument.other_languages == ()
    assert not [warning for warning in result.warnings if "no label" in str(warning)]


def test_default_language_comes_from_the_settings_sheet():
    form = ("survey,type,name,label::English (en),label::Cymraeg (cy)\n,integer,age,Age,Oed\n"
            "settings,form_id,default_language\n,ages,Cymraeg (cy)\n")
    instrument = import_xlsform(form.encode(), "form.csv").instrument
    assert [language.code for language in instrument.languages] == ["cy", "en"]
    field = instrument.slot("age")[1].field
    assert (field.label, field.text("label", "en")) == ("Oed", "Age")


def test_a_translation_that_pipes_in_other_answers_is_reported():
    form = ("survey,type,name,label::English (en),label::Cymraeg (cy)\n,text,name,Name,Enw\n"
            ",integer,age,\"Age of ${name}\",\"[cy] Oed ${enw}\"\n")
    result = import_xlsform(form.encode(), "form.csv")
    assert [str(warning) for warning in result.warnings] == [
        "row 3, field 'age': the cy label refers to ${enw} but the default text to ${name}"]


def test_a_column_naming_no_known_language_is_reported_not_guessed():
    form = "survey,type,name,label::English (en),label::Klingon\n,integer,age,Age,Tlhegh\n"
    result = import_xlsform(form.encode(), "form.csv")
    assert result.instrument.other_languages == ()
    assert any("label::Klingon names no ISO 639-1 language" in str(warning) for warning in result.warnings)


# --------------------------------------------------------------------------- model


def test_stored_instruments_without_languages_load_as_before():
    instrument = builtin_instruments()["clinician_experience"]
    stored = json.loads(instrument_json(instrument))
    assert "translations" not in json.dumps(stored) and "default_language" not in stored
    again = instrument_from_dict(stored)
    assert again == instrument and again.default_language.code == "en"
    field = again.sections[0].fields[0]
    assert field.text("label", "cy") == field.label  # no translation: the default text


def test_translations_must_be_into_a_listed_language_and_of_a_translatable_text():
    data = instrument_to_dict(bilingual())
    data["sections"][0]["fields"][0]["translations"] = {"fr": {"label": "Bienvenue"}}
    with pytest.raises(InstrumentError, match="translations into fr, which is not one of the instrument's other languages"):
        instrument_from_dict(data)
    data["sections"][0]["fields"][0]["translations"] = {"cy": {"variable": "croeso"}}
    with pytest.raises(InstrumentError, match="variable cannot be translated here"):
        instrument_from_dict(data)


# --------------------------------------------------------------------------- XLSForm export


def test_the_bilingual_fixture_survives_export_and_re_import_unchanged(tmp_path: Path):
    instrument = bilingual()
    exported = export_xlsform(instrument)
    assert exported.warnings == []
    again = import_xlsform(exported.content, "export.xlsx")
    assert again.warnings == []
    assert instrument_json(again.instrument) == instrument_json(instrument)
    xform = pyxform_converts(exported.content, tmp_path)
    assert "[cy] Sawl blwyddyn" in xform and 'lang="Cymraeg (cy)"' in xform


@pytest.mark.parametrize("name", sorted(builtin_instruments()))
def test_pyxform_converts_the_export_of_each_built_in_instrument(name: str, tmp_path: Path):
    exported = export_xlsform(builtin_instruments()[name])
    pyxform_converts(exported.content, tmp_path)
    assert import_xlsform(exported.content, "export.xlsx").warnings == []


def test_built_in_instruments_ship_in_english_with_a_workbook_ready_for_a_translator():
    for instrument in builtin_instruments().values():
        assert instrument.languages == (instrument.default_language,) and instrument.default_language.code == "en"
        _, worksheet = sheet(translation_workbook(instrument))
        assert [cell.value for cell in worksheet[1]] == ["key", "text", "where", "English (en)"]
        assert worksheet.max_row > 50


def test_xlsform_export_says_what_it_cannot_hold():
    warnings = export_xlsform(builtin_instruments()["organisation_adoption"]).warnings
    assert any("asked once per chosen technology" in warning for warning in warnings)
    assert any("the unit 'staff' has no XLSForm column" in warning for warning in warnings)
    titled = instrument_from_dict({**instrument_to_dict(bilingual()), "translations": {"cy": {"title": "[cy] Arolwg"}}})
    assert export_xlsform(titled).warnings == ["the translations of the instrument's own title and description have no "
                                               "XLSForm column and are not exported"]


def test_text_that_looks_like_a_formula_is_exported_as_text():
    data = instrument_to_dict(bilingual())
    data["sections"][0]["fields"][0]["label"] = "=HYPERLINK(\"http://example.com\")"
    workbook = openpyxl.load_workbook(io.BytesIO(export_xlsform(instrument_from_dict(data)).content))
    cell = next(row[2] for row in workbook["survey"].iter_rows() if row[1].value == "intro")
    assert cell.value.startswith("=HYPERLINK") and cell.data_type == "s"
    texts = translation_workbook(instrument_from_dict(data))
    cell = next(row[3] for row in sheet(texts)[1].iter_rows(min_row=2) if row[0].value == "field:intro")
    assert cell.value.startswith("=HYPERLINK") and cell.data_type == "s"
    assert apply_translation_workbook(instrument_from_dict(data), texts) == instrument_from_dict(data)


# --------------------------------------------------------------------------- translator's workbook


def sheet(content: bytes):
    workbook = openpyxl.load_workbook(io.BytesIO(content))
    return workbook, workbook["translations"]


def saved(workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def row_of(worksheet, key: str, text: str) -> int:
    return next(row[0].row for row in worksheet.iter_rows(min_row=2) if (row[0].value, row[1].value) == (key, text))


def test_the_workbook_has_a_row_per_text_and_a_column_per_language_empty_where_missing():
    _, worksheet = sheet(translation_workbook(bilingual()))
    header = [cell.value for cell in worksheet[1]]
    assert header == ["key", "text", "where", "English (en)", "Cymraeg (cy)"]
    rows = {(row[0], row[1]): row[3:] for row in worksheet.iter_rows(min_row=2, values_only=True)}
    assert rows[("field:years", "help")] == ("In whole years", "[cy] Mewn blynyddoedd cyfan")
    assert rows[("instrument", "title")] == ("Staff survey", None)  # not translated: an empty cell
    assert rows[("choice:tools:none", "label")] == ("None of these", "[cy] Dim un o'r rhain")


def test_translations_round_trip_and_a_new_language_column_is_added():
    instrument = bilingual()
    workbook, worksheet = sheet(translation_workbook(instrument))
    assert apply_translation_workbook(instrument, saved(workbook)) == instrument
    worksheet.cell(1, 6, "Gaeilge (ga)")
    worksheet.cell(row_of(worksheet, "field:years", "label"), 6, "[ga] Cé mhéad bliain, ${name}?")
    worksheet.cell(row_of(worksheet, "instrument", "title"), 5, "[cy] Arolwg staff")
    translated = apply_translation_workbook(instrument, saved(workbook))
    assert [language.code for language in translated.languages] == ["en", "cy", "ga"]
    assert translated.slot("years")[1].field.text("label", "ga") == "[ga] Cé mhéad bliain, ${name}?"
    assert translated.text("title", "cy") == "[cy] Arolwg staff"
    assert translated.slot("years")[1].field.text("label", "cy") == "[cy] Sawl blwyddyn, ${name}?"


def test_an_emptied_cell_removes_that_translation():
    instrument = bilingual()
    workbook, worksheet = sheet(translation_workbook(instrument))
    worksheet.cell(row_of(worksheet, "field:years", "help"), 5).value = None
    translated = apply_translation_workbook(instrument, saved(workbook))
    assert translated.slot("years")[1].field.text("help", "cy") == "In whole years"


def test_every_rejected_row_is_named_and_nothing_is_applied():
    instrument = bilingual()
    workbook, worksheet = sheet(translation_workbook(instrument))
    label_row = row_of(worksheet, "field:years", "label")
    worksheet.cell(label_row, 5, "[cy] Sawl blwyddyn?")  # the ${name} reference is missing
    help_row = row_of(worksheet, "field:years", "help")
    worksheet.cell(help_row, 4, "In years")  # the English text is the instrument's own
    worksheet.append(["field:nonsense", "label", "", "", "[cy] Dim"])
    worksheet.cell(row_of(worksheet, "field:intro", "label"), 5, "[cy] Croeso newydd")  # a good row
    with pytest.raises(TranslationImportError) as refused:
        apply_translation_workbook(instrument, saved(workbook))
    problems = refused.value.problems
    assert len(problems) == 3
    assert problems[0].startswith(f"row {label_row} (question years — label): the Cymraeg (cy) text has the references "
                                  f"none but the English text has ${{name}}")
    assert problems[1].startswith(f"row {help_row} (question years — help): the English text differs")
    assert problems[2] == f"row {worksheet.max_row}: 'field:nonsense' 'label' is not a text of staff_bilingual version 1"


def test_bracketed_references_to_questions_must_match_but_other_brackets_are_text():
    data = instrument_to_dict(bilingual())
    data["sections"][1]["fields"][3]["label"] = "Why do you use [tools]?"
    instrument = instrument_from_dict(data)
    workbook, worksheet = sheet(translation_workbook(instrument))
    worksheet.cell(row_of(worksheet, "field:why", "label"), 5, "[cy] Pam?")
    with pytest.raises(TranslationImportError, match=r"has the references none but the English text has \[tools\]"):
        apply_translation_workbook(instrument, saved(workbook))
    worksheet.cell(row_of(worksheet, "field:why", "label"), 5, "[cy] Pam [tools]?")
    assert apply_translation_workbook(instrument, saved(workbook)).slot("why")[1].field.text("label", "cy") == "[cy] Pam [tools]?"


def test_a_bad_language_column_is_refused():
    workbook, worksheet = sheet(translation_workbook(bilingual()))
    worksheet.cell(1, 6, "Elvish")
    with pytest.raises(TranslationImportError, match="column 'Elvish' names no language"):
        apply_translation_workbook(bilingual(), saved(workbook))


# --------------------------------------------------------------------------- languages and the form's words


def test_language_headers_and_accept_language():
    assert parse_language("Cymraeg (cy)").name == "Cymraeg"
    assert parse_language("welsh").code == "cy" and parse_language("CY").code == "cy"
    assert parse_language("Klingon") is None
    assert accepted_languages("cy-GB,cy;q=0.9,en;q=0.8") == ["cy", "en"]
    assert accepted_languages("en;q=0.2, fr-CA, *;q=0.1, x;y") == ["fr", "en"]
    assert starting_language(["en", "cy"], None, "cy-GB,en;q=0.5") == "cy"
    assert starting_language(["en", "cy"], "en", "cy") == "en"  # the campaign's default wins
    assert starting_language(["en", "cy"], None, "fr") == "en"  # nothing offered: the instrument's default


def test_adding_a_language_of_the_forms_words_is_dropping_in_a_file(tmp_path: Path, monkeypatch):
    english = json.loads((LOCALES / "en.json").read_text(encoding="utf-8"))
    assert app_languages() == frozenset({"en"}) and app_text("cy", "next") == "Next"
    welsh = {"next": "Nesaf", "page_of": "Tudalen {page} o {pages}", "back": "Yn ôl {broken}"}
    (tmp_path / "cy.json").write_text(json.dumps(welsh), encoding="utf-8")
    monkeypatch.setenv(LOCALE_DIR_VARIABLE, str(tmp_path))
    assert app_languages() == frozenset({"en", "cy"})
    assert app_text("cy", "next") == "Nesaf"
    assert app_text("cy", "page_of", page=2, pages=5) == "Tudalen 2 o 5"
    assert app_text("cy", "submit") == english["submit"]  # not translated yet: English
    assert app_text("cy", "back") == english["back"]  # a mistyped placeholder: English, not an error


def test_campaign_titles_per_language_are_read_from_lines_naming_each_bad_line():
    from survey.languages import parse_titles

    assert parse_titles("") == {}
    assert parse_titles("cy: Arolwg y staff\n\n  Gaeilge :  Suirbhé foirne  \n") == {"cy": "Arolwg y staff", "ga": "Suirbhé foirne"}
    assert parse_titles("Welsh: Arolwg: 2027") == {"cy": "Arolwg: 2027"}  # only the first colon separates
    with pytest.raises(ValueError) as refused:
        parse_titles("cy: Arolwg\nArolwg heb iaith\ncy: Eto\nen:   ")
    assert str(refused.value) == ("line 2: write the language, a colon, then the title (for example cy: Arolwg y staff); "
                                  "line 3: a second title in Welsh; line 4: the title in English is empty")
