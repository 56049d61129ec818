"""Languages end to end below the UI: the instrument commands (XLSForm export, REDCap warning, the
translator's workbook out and back in), the language stored with each response, the flat export
and import of it, and the responses frame the analysis reads."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from storage.db import read_session
from storage.models.survey import SurveyInstrument, SurveyResponse
from storage.survey_frames import load_survey_frames
from storage.survey_io import export_responses, import_responses
from storage.survey_submit import submit_response
from storage.surveys import CampaignInput, SurveyError, create_campaign, get_instrument, save_instrument
from streamlit_app.cli import main
from survey.flat_responses import ResponsesImportError
from survey.xlsform import import_xlsform

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "survey"
BILINGUAL = FIXTURES / "xlsform_bilingual.csv"
NOW = dt.datetime.now(dt.UTC)
ANSWERS = {"consent": "yes", "name": "Sam", "years": 4, "tools": ["scribe"], "why": "Saves time", "useful": "3"}


def run_cli(capsys, *argv: str) -> tuple[int, dict]:
    code = main([*argv, "--json"])
    out = capsys.readouterr().out.strip().splitlines()
    return code, json.loads(out[-1])


def publish_bilingual(engine) -> int:
    return save_instrument(engine, import_xlsform(BILINGUAL.read_bytes(), BILINGUAL.name).instrument, "xlsform")


def test_instrument_commands_export_every_language_and_publish_translations(sqlite_url, tmp_path: Path, capsys):
    code, result = run_cli(capsys, "instrument", "import", str(BILINGUAL), "--database-url", sqlite_url)
    assert code == 0 and result["warnings"] == []
    dictionary = tmp_path / "dictionary.csv"
    code, result = run_cli(capsys, "instrument", "export", "staff_bilingual", str(dictionary), "--database-url", sqlite_url)
    assert code == 0 and result["warnings"] == ["a REDCap data dictionary holds one language: English (en) is exported "
                                                "and Cymraeg (cy) is dropped (export as xlsform to keep every language)"]
    assert "[cy]" not in dictionary.read_text(encoding="utf-8")
    form = tmp_path / "form.xlsx"
    code, result = run_cli(capsys, "instrument", "export", "staff_bilingual", str(form), "--format", "xlsform",
                           "--database-url", sqlite_url)
    assert code == 0 and result["languages"] == ["en", "cy"]
    assert import_xlsform(form.read_bytes()).instrument.slot("years")[1].field.text("label", "cy").startswith("[cy]")

    texts = tmp_path / "texts.xlsx"
    code, result = run_cli(capsys, "instrument", "translations", "export", "staff_bilingual", str(texts),
                           "--database-url", sqlite_url)
    assert code == 0 and result["version"] == 1
    workbook = openpyxl.load_workbook(texts)
    sheet = workbook["translations"]
    title_row = next(row[0].row for row in sheet.iter_rows(min_row=2) if row[0].value == "instrument")
    sheet.cell(title_row, 5).value = "[cy] Arolwg staff"
    workbook.save(texts)
    code, result = run_cli(capsys, "instrument", "translations", "import", "staff_bilingual", str(texts),
                           "--database-url", sqlite_url)
    assert code == 0 and (result["version"], result["languages"]) == (2, ["en", "cy"])
    code, result = run_cli(capsys, "instrument", "translations", "import", "staff_bilingual", str(texts),
                           "--database-url", sqlite_url)
    assert code == 1 and "changes no translation" in result["error"]


def test_a_refused_translation_workbook_names_its_rows_and_publishes_nothing(sqlite_url, tmp_path: Path, capsys):
    assert run_cli(capsys, "instrument", "import", str(BILINGUAL), "--database-url", sqlite_url)[0] == 0
    texts = tmp_path / "texts.xlsx"
    run_cli(capsys, "instrument", "translations", "export", "staff_bilingual", str(texts), "--database-url", sqlite_url)
    workbook = openpyxl.load_workbook(texts)
    sheet = workbook["translations"]
    years = next(row[0].row for row in sheet.iter_rows(min_row=2) if (row[0].value, row[1].value) == ("field:years", "label"))
    sheet.cell(years, 5).value = "[cy] Sawl blwyddyn, ${enw}?"
    intro = next(row[0].row for row in sheet.iter_rows(min_row=2) if row[0].value == "field:intro")
    sheet.cell(intro, 5).value = "[cy] Croeso!"
    workbook.save(texts)
    code, result = run_cli(capsys, "instrument", "translations", "import", "staff_bilingual", str(texts),
                           "--database-url", sqlite_url)
    assert code == 1
    assert f"row {years} (question years — label): the Cymraeg (cy) text has the references ${{enw}}" in result["error"]
    assert f"row {intro}" not in result["error"]
    code, result = run_cli(capsys, "instrument", "translations", "export", "staff_bilingual", str(texts),
                           "--database-url", sqlite_url)
    assert result["version"] == 1  # nothing was published


def test_the_response_stores_its_language_and_the_flat_export_and_frames_carry_it(engine):
    instrument_id = publish_bilingual(engine)
    campaign = create_campaign(engine, CampaignInput(instrument_id=instrument_id, title="T", opens_at=NOW,
                                                     default_language="cy")).campaign_id
    submit_response(engine, campaign, ANSWERS, None, "key-cy-1", language="cy")
    submit_response(engine, campaign, ANSWERS, None, "key-en-1", language="en")
    submit_response(engine, campaign, ANSWERS, None, "key-xx-1", language="fr")  # not offered: the default
    with read_session(engine) as session:
        stored = session.scalars(select(SurveyResponse.language).order_by(SurveyResponse.id)).all()
    assert stored == ["cy", "en", "en"]
    frame = export_responses(engine, "staff_bilingual")
    assert frame["response_language"].tolist() == ["cy", "en", "en"]
    responses = load_survey_frames(engine)["responses"]
    assert responses["language"].astype(object).tolist() == ["cy", "en", "en"]

    flat = frame.to_csv(index=False).encode("utf-8")
    summary = import_responses(engine, "staff_bilingual", flat)
    assert summary.imported == 3
    with read_session(engine) as session:
        imported = session.scalars(select(SurveyResponse.language).where(SurveyResponse.source == "import")
                                   .order_by(SurveyResponse.id)).all()
    assert imported == ["cy", "en", "en"]


def test_a_flat_file_with_a_language_the_instrument_lacks_is_refused(engine):
    publish_bilingual(engine)
    flat = "record_id,response_language,consent\r\nr1,fr,no\r\n".encode()
    with pytest.raises(ResponsesImportError) as refused:
        import_responses(engine, "staff_bilingual", flat)
    assert refused.value.errors == [(2, "response_language", "'fr' is not one of the instrument's languages (en, cy)")]


def test_a_campaign_default_language_must_be_one_the_instrument_offers(engine):
    instrument_id = publish_bilingual(engine)
    with pytest.raises(SurveyError, match="'ga' is not one of the instrument's languages"):
        create_campaign(engine, CampaignInput(instrument_id=instrument_id, title="T", opens_at=NOW, default_language="ga"))
    with read_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(SurveyInstrument)) == 1
    assert get_instrument(engine, "staff_bilingual").instrument.other_languages[0].code == "cy"
