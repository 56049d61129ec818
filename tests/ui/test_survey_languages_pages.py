"""AppTest: a respondent answers a bilingual survey, switching language part-way; every answer is
kept, the form's texts follow the language, and the response is stored with the language used."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select

from storage.db import make_engine, read_session
from storage.demo import load_demo_catalogue
from storage.models.survey import SurveyCampaign, SurveyResponse
from storage.surveys import CampaignInput, create_campaign, get_instrument, instrument_by_id, save_instrument
from survey.translations import translation_workbook
from survey.xlsform import import_xlsform
from tests.ui.helpers import open_app, prepare_environment, texts
from tests.ui.test_survey_pages import answer, next_page, widget

BILINGUAL = Path(__file__).resolve().parents[1] / "fixtures" / "survey" / "xlsform_bilingual.csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def bilingual_db(sqlite_url: str, monkeypatch: pytest.MonkeyPatch):
    engine = make_engine(sqlite_url)
    load_demo_catalogue(engine, count=5)
    instrument_id = save_instrument(engine, import_xlsform(BILINGUAL.read_bytes(), BILINGUAL.name).instrument, "xlsform")
    prepare_environment(monkeypatch, sqlite_url)
    monkeypatch.setenv("ROADMAP_PSEUDONYM_KEY", "ui-test-key")
    yield engine, instrument_id
    engine.dispose()


def campaign_link(engine, instrument_id: int, language: str | None) -> str:
    return create_campaign(engine, CampaignInput(instrument_id=instrument_id, title="Arolwg / Survey", default_language=language,
                                                 opens_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=1))).link_token


def shown(at) -> str:
    return texts(at).replace("\\", "")  # without markdown escapes


def page_title(at) -> str:
    return at.header[0].value.replace("\\", "") if at.header else ""


def switch_language(at, code: str) -> None:
    at.radio(key="sv_language").set_value(code).run()
    assert not at.exception, [e.message for e in at.exception]


def test_switching_language_keeps_every_answer_and_the_response_stores_the_language(bilingual_db):
    engine, instrument_id = bilingual_db
    at = open_app(None, "survey_take.py", query={"c": campaign_link(engine, instrument_id, "cy")})
    assert at.radio(key="sv_language").value == "cy"  # the campaign's default language
    assert "[cy] Croeso i arolwg y staff" in shown(at)
    next_page(at)  # consent is required: its own message, in Welsh
    assert "[cy] Atebwch y cwestiwn hwn" in shown(at)
    switch_language(at, "en")
    assert "Please answer this question" in shown(at) and "[cy]" not in shown(at)
    switch_language(at, "cy")
    answer(at, {"consent": "yes"})
    assert [option.replace("\\", "") for option in widget(at, "consent").options] == ["[cy] Ydw", "[cy] Nac ydw"]
    next_page(at)
    assert page_title(at) == "[cy] Amdanoch chi"
    answer(at, {"name": "Sam", "years": 4, "tools": ["scribe"]})

    switch_language(at, "en")  # back to English mid-way: the same page, every answer kept
    assert page_title(at) == "About you"
    assert (widget(at, "name").value, widget(at, "years").value, widget(at, "tools").value) == ("Sam", 4, ["scribe"])
    assert at.button(key="sv_next").label == "Next"
    answer(at, {"why": "Saves time"})
    next_page(at)
    assert page_title(at) == "Your views"
    switch_language(at, "cy")
    assert page_title(at) == "[cy] Eich barn"
    answer(at, {"useful": "3"})
    next_page(at)
    review = shown(at)
    assert "[cy] Sawl blwyddyn, ${name}?" in review and "[cy] Ysgrifennydd amgylchynol" in review
    at.button(key="sv_submit").click().run()
    assert "your response was received" in shown(at)
    receipt = at.code[0].value
    with read_session(engine) as session:
        language, document = session.execute(select(SurveyResponse.language, SurveyResponse.document)).one()
    assert language == "cy"
    assert document["answers"] == {"consent": "yes", "name": "Sam", "years": 4, "tools": ["scribe"], "why": "Saves time",
                                   "useful": "3"}

    lookup = open_app(None, "survey_my_submissions.py")  # the receipt shows the answers in the language used
    lookup.text_input[0].set_value(receipt)
    lookup.button[0].click().run()
    assert "[cy] Cytuno" in lookup.dataframe[0].value["answer"].tolist()


def test_a_draft_resumes_in_the_language_it_was_saved_in(bilingual_db):
    engine, instrument_id = bilingual_db
    at = open_app(None, "survey_take.py", query={"c": campaign_link(engine, instrument_id, None)})
    assert at.radio(key="sv_language").value == "en"  # no campaign default, no browser preference: the instrument's
    switch_language(at, "cy")
    answer(at, {"consent": "yes"})
    at.button(key="sv_save").click().run()
    code = at.code[0].value
    fresh = open_app(None, "survey_take.py")
    fresh.text_input[0].set_value(code)
    fresh.button[0].click().run()
    assert fresh.radio(key="sv_language").value == "cy" and widget(fresh, "consent").value == "yes"
    assert "[cy] Croeso i arolwg y staff" in shown(fresh)


def test_a_single_language_instrument_offers_no_language_choice(bilingual_db, monkeypatch):
    engine, _ = bilingual_db
    from storage.surveys import ensure_builtin_instruments

    ids = ensure_builtin_instruments(engine)
    at = open_app(None, "survey_take.py", query={"c": campaign_link(engine, ids["clinician_experience"], None)})
    assert not [radio for radio in at.radio if radio.key == "sv_language"]
    assert at.button(key="sv_next").label == "Next"


def translator_workbook(instrument, row_edits: dict[tuple[str, str], str]) -> bytes:
    """The translator's workbook with Welsh cells changed as ``{(key, text): new Welsh text}``."""
    workbook = openpyxl.load_workbook(io.BytesIO(translation_workbook(instrument)))
    sheet = workbook["translations"]
    for row in sheet.iter_rows(min_row=2):
        if (row[0].value, row[1].value) in row_edits:
            row[4].value = row_edits[(row[0].value, row[1].value)]
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_the_instruments_page_publishes_translations_or_names_every_rejected_row(bilingual_db):
    engine, instrument_id = bilingual_db
    instrument = get_instrument(engine, "staff_bilingual").instrument
    at = open_app("lead", "survey_instruments.py")
    at.selectbox(key="sv_instrument_pick").set_value(instrument_id).run()
    assert "**Languages:** English (en), Cymraeg (cy) (the first is the default)" in shown(at)
    assert "Cymraeg (cy) is dropped (export as xlsform to keep every language)" in shown(at)
    upload = next(uploader for uploader in at.file_uploader if uploader.key.startswith("sv_translations_file_"))

    bad = translator_workbook(instrument, {("field:years", "label"): "[cy] Sawl blwyddyn?"})
    upload.set_value(("texts.xlsx", bad, XLSX)).run()
    next(button for button in at.button if button.key.startswith("sv_translations_publish_")).click().run()
    assert "Nothing was published: 1 problem(s)." in shown(at)
    problems = next(frame.value for frame in at.dataframe if list(frame.value.columns) == ["problem"])["problem"].tolist()
    assert problems[0].startswith("row ") and "(question years — label)" in problems[0] and "${name}" in problems[0]
    assert get_instrument(engine, "staff_bilingual").version == 1

    good = translator_workbook(instrument, {("instrument", "title"): "[cy] Arolwg staff"})
    upload = next(uploader for uploader in at.file_uploader if uploader.key.startswith("sv_translations_file_"))
    upload.set_value(("texts.xlsx", good, XLSX)).run()
    next(button for button in at.button if button.key.startswith("sv_translations_publish_")).click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert "Published staff_bilingual version 2 in English (en), Cymraeg (cy)." in shown(at)
    assert get_instrument(engine, "staff_bilingual").instrument.text("title", "cy") == "[cy] Arolwg staff"


def test_a_lead_sets_the_language_a_campaign_opens_in(bilingual_db):
    engine, instrument_id = bilingual_db
    at = open_app("lead", "survey_campaigns.py")
    next(t for t in at.text_input if "Title" in t.label).set_value("Arolwg")
    next(s for s in at.selectbox if s.label == "Instrument and version").set_value(instrument_id)
    language = next(s for s in at.selectbox if s.label.startswith("Language the form opens in"))
    language.set_value("cy")
    next(b for b in at.button if b.label == "Create campaign").click().run()
    assert not at.exception, [e.message for e in at.exception]
    with read_session(engine) as session:
        assert session.scalar(select(SurveyCampaign.default_language).where(SurveyCampaign.title == "Arolwg")) == "cy"


def problems(at) -> str:
    """The problems table show_problems draws."""
    return "\n".join(str(value) for frame in at.dataframe for value in frame.value["problem"])


def test_a_campaign_title_is_shown_in_the_language_the_respondent_reads(bilingual_db):
    engine, instrument_id = bilingual_db
    at = open_app("lead", "survey_campaigns.py")
    next(t for t in at.text_input if "Title" in t.label).set_value("Staff survey 2027")
    next(s for s in at.selectbox if s.label == "Instrument and version").set_value(instrument_id)
    def create_with(titles: str) -> None:
        next(a for a in at.text_area if a.label.startswith("Title in the instrument's other languages")).set_value(titles)
        next(b for b in at.button if b.label == "Create campaign").click().run()

    create_with("Welsh Arolwg staff 2027")  # no colon: refused, naming the line
    assert "line 1: write the language, a colon, then the title" in problems(at)
    create_with("fr: Enquête")  # not one of the instrument's languages: refused, saying which it has
    assert "'fr' is not one of the instrument's other languages (cy)" in problems(at)
    create_with("Cymraeg: Arolwg staff 2027")
    assert not at.exception, [e.message for e in at.exception]
    with read_session(engine) as session:
        campaign = session.scalars(select(SurveyCampaign).where(SurveyCampaign.title == "Staff survey 2027")).one()
        assert campaign.title_translations == {"cy": "Arolwg staff 2027"}

    respondent = open_app(None, "survey_take.py", query={"c": campaign_link(engine, instrument_id, None)})
    assert respondent.title[0].value == "Arolwg / Survey"  # a campaign without translations: its one title
    from storage.surveys import CampaignInput as Input

    link = create_campaign(engine, Input(instrument_id=instrument_id, title="Staff survey 2027", default_language="cy",
                                         title_translations={"cy": "Arolwg staff 2027"},
                                         opens_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=1))).link_token
    respondent = open_app(None, "survey_take.py", query={"c": link})
    assert respondent.title[0].value == "Arolwg staff 2027"
    switch_language(respondent, "en")
    assert respondent.title[0].value == "Staff survey 2027"


def test_the_forms_own_validation_messages_follow_the_language_and_the_review_names_the_question(
        bilingual_db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A message the app words itself (not the instrument) is in the respondent's language when a
    locale file has it, in English otherwise; the review page names the question, not its variable."""
    import json

    from survey.app_text import LOCALE_DIR_VARIABLE
    from survey.instrument import EMAIL_PATTERN, Instrument

    engine, instrument_id = bilingual_db
    data = instrument_by_id(engine, instrument_id).instrument.model_dump(mode="json")
    about = next(section for section in data["sections"] if section["id"] == "about")
    about["fields"].append({"variable": "email", "type": "short_text", "label": "Your e-mail address",
                            "translations": {"cy": {"label": "[cy] Eich cyfeiriad e-bost"}},
                            "validation": {"pattern": EMAIL_PATTERN}})
    data["version"] += 1
    with_email = save_instrument(engine, Instrument.model_validate(data), "xlsform")
    (tmp_path / "cy.json").write_text(json.dumps({"v_email": "[cy] Rhowch gyfeiriad e-bost, er enghraifft enw@nhs.net."}),
                                      encoding="utf-8")
    monkeypatch.setenv(LOCALE_DIR_VARIABLE, str(tmp_path))

    at = open_app(None, "survey_take.py", query={"c": campaign_link(engine, with_email, "cy")})
    answer(at, {"consent": "yes"})
    next_page(at)
    answer(at, {"name": "Sam", "years": 4, "email": "not an address"})
    next_page(at)
    assert "[cy] Rhowch gyfeiriad e-bost, er enghraifft enw@nhs.net." in shown(at)
    assert "Enter an e-mail address" not in shown(at)
    switch_language(at, "en")
    assert "Enter an e-mail address, for example name@nhs.net." in shown(at) and "[cy] Rhowch" not in shown(at)

    # The review page lists what blocks submission by question (and tool), in the form's language.
    from streamlit_app.survey_form import problem_line
    from survey.validation import FieldError, Worded

    instrument = instrument_by_id(engine, with_email).instrument
    problem = FieldError("about", None, "email", Worded("v_email"))
    assert problem_line(instrument, problem, {}, "cy") == (
        "• [cy] Eich cyfeiriad e-bost: [cy] Rhowch gyfeiriad e-bost, er enghraifft enw@nhs.net.")
    assert problem_line(instrument, FieldError("about", "17", "email", Worded("v_email")), {"17": "Ambient scribe"}, "en") == (
        "• Your e-mail address (Ambient scribe): Enter an e-mail address, for example name@nhs.net.")
