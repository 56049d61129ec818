"""AppTest: taking both built-in surveys, validation messages, drafts, double submission, closed
campaigns, an unavailable database, receipts, and the lead's Instruments and Campaigns pages."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from storage.db import make_engine, read_session
from storage.demo import load_demo_catalogue
from storage.models.catalogue import AdoptionRecord, Site, Technology
from storage.models.survey import SurveyCampaign, SurveyInstrument, SurveyResponse
from storage.surveys import CampaignInput, close_campaign, create_campaign, ensure_builtin_instruments
from streamlit_app.survey_form import FORM_STATE
from tests.ui.helpers import open_app, prepare_environment, texts

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "survey"
WIDGET_KINDS = ("radio", "selectbox", "multiselect", "number_input", "text_input", "text_area", "date_input")


@pytest.fixture
def survey_db(sqlite_url: str, monkeypatch: pytest.MonkeyPatch):
    engine = make_engine(sqlite_url)
    load_demo_catalogue(engine, count=20)
    ids = ensure_builtin_instruments(engine)
    prepare_environment(monkeypatch, sqlite_url)
    monkeypatch.setenv("ROADMAP_PSEUDONYM_KEY", "ui-test-key")
    yield engine, ids
    engine.dispose()


def open_link(engine, instrument_id: int, **options) -> str:
    values = {"instrument_id": instrument_id, "title": "Survey under test", "opens_at": dt.datetime.now(dt.UTC) - dt.timedelta(days=1)}
    return create_campaign(engine, CampaignInput(**values | options)).link_token


def demo_technology_ids(engine, count: int) -> list[str]:
    with read_session(engine) as session:
        return [str(i) for i in session.scalars(select(Technology.id).order_by(Technology.id).limit(count))]


def responses(engine) -> int:
    with read_session(engine) as session:
        return session.scalar(select(func.count()).select_from(SurveyResponse))


def form_state(at) -> dict:
    return at.session_state[FORM_STATE]


def widget(at, variable: str, technology_id: str | None = None):
    key = f"svf_{form_state(at)['idempotency_key'][:10]}_{technology_id or 'shared'}_{variable}"
    for kind in WIDGET_KINDS:
        for element in getattr(at, kind):
            if element.key == key:
                return element
    raise AssertionError(f"no widget for {variable!r} (technology {technology_id}) on this page")


def answer(at, values: dict, technology_id: str | None = None) -> None:
    """Answer questions one at a time, as a person would (branching reacts to each answer)."""
    for variable, value in values.items():
        widget(at, variable, technology_id).set_value(value)
        at.run()
        assert not at.exception, [e.message for e in at.exception]


def next_page(at) -> None:
    at.button(key="sv_next").click().run()
    assert not at.exception, [e.message for e in at.exception]


def page_title(at) -> str:
    return at.header[0].value if at.header else ""


def fill_clinician_survey(at, technologies: list[str]) -> None:
    answer(at, {"consent": "yes"})
    next_page(at)
    answer(at, {"staff_group": "nurse", "region": "london", "years_in_role": 6, "archetypes": ["user"]})
    next_page(at)
    assert page_title(at) == "Which AI tools?"
    at.multiselect[0].set_value(technologies).run()
    next_page(at)
    for technology_id in technologies:
        answer(at, {"tech_use_frequency": "daily", "tech_time_effect": "saved", "tech_minutes_per_case": 3.5,
                    "tech_accuracy": "4", "conf_gov_regulation": "4", "tech_role_change": ["new_tasks"]}, technology_id)
    next_page(at)
    assert page_title(at) == "Anything else"
    answer(at, {"comments": "Useful, mostly.", "follow_up": "no"})
    next_page(at)
    assert page_title(at) == "Check your answers"


def test_clinician_survey_end_to_end_with_receipt(survey_db):
    engine, ids = survey_db
    technologies = demo_technology_ids(engine, 2)
    at = open_app(None, "survey_take.py", query={"c": open_link(engine, ids["clinician_experience"])})
    assert at.title[0].value == "Survey under test"
    fill_clinician_survey(at, technologies)
    review = texts(at).replace("\\", "")  # markdown escapes
    assert "Nursing" in review and "3.5 minutes" in review and "Useful, mostly." in review
    at.button(key="sv_submit").click().run()
    assert "your response was received" in texts(at)
    receipt = at.code[0].value
    assert len(receipt) == 19 and responses(engine) == 1
    with read_session(engine) as session:
        document = session.scalar(select(SurveyResponse.document))
    assert set(document["technologies"]) == set(technologies)
    assert document["technologies"][technologies[0]]["tech_minutes_per_case"] == 3.5

    lookup = open_app(None, "survey_my_submissions.py")
    lookup.text_input[0].set_value(receipt.lower())
    lookup.button[0].click().run()
    assert "Submitted on" in texts(lookup)
    shown = lookup.dataframe[0].value
    assert "Nursing" in shown["answer"].tolist()


def test_organisation_return_picks_a_site_and_updates_adoption(survey_db):
    engine, ids = survey_db
    [technology] = demo_technology_ids(engine, 1)
    with read_session(engine) as session:
        site = session.scalars(select(Site).order_by(Site.id)).first()
    at = open_app(None, "survey_take.py", query={"c": open_link(engine, ids["organisation_adoption"])})
    picker = next(s for s in at.selectbox if s.key.endswith("_site_pick"))
    picker.set_value(site.id).run()
    assert widget(at, "organisation_name").value == site.name
    assert widget(at, "region").value == site.region
    next_page(at)
    at.multiselect[0].set_value([technology]).run()
    next_page(at)
    answer(at, {"adoption_status": "live", "go_live_date": dt.date(2025, 9, 1), "scale_users": 40}, technology)
    next_page(at)
    at.button(key="sv_submit").click().run()
    assert "your response was received" in texts(at)
    with read_session(engine) as session:
        record = session.scalar(select(AdoptionRecord).where(AdoptionRecord.technology_id == int(technology),
                                                             AdoptionRecord.site_id == site.id))
    assert (record.status, record.start_date, record.source) == ("live", dt.date(2025, 9, 1), "survey")


def test_each_validation_error_is_shown_under_its_field(survey_db):
    engine, ids = survey_db
    [technology] = demo_technology_ids(engine, 1)
    at = open_app(None, "survey_take.py", query={"c": open_link(engine, ids["clinician_experience"])})
    next_page(at)  # consent not given
    assert "This question needs an answer\\." in [e.value for e in at.error]
    assert page_title(at) == "About this survey"
    answer(at, {"consent": "yes"})
    next_page(at)
    answer(at, {"years_in_role": 60})
    next_page(at)
    errors = [e.value for e in at.error]
    assert "Must be at most 50\\." in errors and "This question needs an answer\\." in errors  # range, required staff group
    answer(at, {"staff_group": "medic", "years_in_role": 12})
    next_page(at)
    at.multiselect[0].set_value([technology]).run()
    next_page(at)
    answer(at, {"tech_use_frequency": "weekly", "tech_time_effect": "added", "tech_minutes_per_case": 500,
                "tech_role_change": ["no_change", "new_tasks"], "tech_tasks_share": 140}, technology)
    next_page(at)
    errors = [e.value for e in at.error]
    assert "Must be at most 240\\." in errors and "Must be at most 100\\." in errors
    assert any("cannot be combined with other answers" in e for e in errors)
    answer(at, {"tech_minutes_per_case": 5, "tech_role_change": ["no_change"], "tech_tasks_share": 20}, technology)
    next_page(at)
    answer(at, {"follow_up": "yes"})
    answer(at, {"contact_email": "not-an-email", "comments": "x" * 2001})
    next_page(at)
    errors = [e.value for e in at.error]
    assert "Enter an e\\-mail address, for example name@nhs\\.net\\." in errors
    assert "Use at most 2000 characters \\(this answer has 2001\\)\\." in errors
    assert page_title(at) == "Anything else" and responses(engine) == 0


def test_save_and_resume_a_draft_in_another_session(survey_db):
    engine, ids = survey_db
    at = open_app(None, "survey_take.py", query={"c": open_link(engine, ids["clinician_experience"])})
    answer(at, {"consent": "yes"})
    next_page(at)
    answer(at, {"staff_group": "pharmacy", "years_in_role": 3})
    at.button(key="sv_save").click().run()
    code = at.code[0].value
    assert "Your answers are saved" in texts(at)

    fresh = open_app(None, "survey_take.py")
    fresh.text_input[0].set_value(code.replace("-", " ").lower())
    fresh.button[0].click().run()
    assert page_title(fresh) == "About you and your role"
    assert widget(fresh, "staff_group").value == "pharmacy" and widget(fresh, "years_in_role").value == 3
    wrong = open_app(None, "survey_take.py")
    wrong.text_input[0].set_value("0000-0000-0000-0000")
    wrong.button[0].click().run()
    assert "does not open any saved answers" in texts(wrong)


def test_double_submit_and_reopened_form_store_one_response(survey_db):
    engine, ids = survey_db
    link = open_link(engine, ids["clinician_experience"])
    at = open_app(None, "survey_take.py", query={"c": link})
    answer(at, {"consent": "no"})
    next_page(at)
    assert page_title(at) == "Check your answers"
    key = form_state(at)["idempotency_key"]
    at.button(key="sv_submit").click().run()
    receipt = at.code[0].value
    # The same form submitted again (a second click that arrives late): nothing new is stored.
    form_state(at)["submitted"] = None
    at.run()
    at.button(key="sv_submit").click().run()
    assert at.code[0].value == receipt
    # A refresh or second tab carries the same key in the address: it shows the confirmation only.
    again = open_app(None, "survey_take.py", query={"c": link, "k": key})
    assert "your response was received" in texts(again) and again.code[0].value == receipt
    assert responses(engine) == 1


def test_closed_and_invalid_links_show_clear_messages(survey_db):
    engine, ids = survey_db
    link = open_link(engine, ids["clinician_experience"])
    with read_session(engine) as session:
        campaign_id = session.scalar(select(func.max(SurveyCampaign.id)))
    close_campaign(engine, campaign_id)
    at = open_app(None, "survey_take.py", query={"c": link})
    assert "no longer accepts responses" in texts(at)
    assert not [b for b in at.button if b.key == "sv_next"]
    bad = open_app(None, "survey_take.py", query={"c": "nonsense"})
    assert "This survey link is not valid" in texts(bad)


def test_database_outage_keeps_answers_and_says_so(survey_db, monkeypatch):
    engine, ids = survey_db
    at = open_app(None, "survey_take.py", query={"c": open_link(engine, ids["clinician_experience"])})
    answer(at, {"consent": "no"})
    next_page(at)

    def unavailable(*args, **kwargs):
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr("streamlit_app.survey_form.submit_response", unavailable)
    at.button(key="sv_submit").click().run()
    assert "We could not save just now — your answers are still here; try again in a moment." in texts(at)
    assert form_state(at)["answers"] == {"consent": "no"} and form_state(at)["submitted"] is None
    monkeypatch.undo()
    prepare_environment(monkeypatch, str(engine.url))
    at.button(key="sv_submit").click().run()
    assert "your response was received" in texts(at) and responses(engine) == 1


def test_signed_in_respondent_sees_identified_submissions(survey_db):
    engine, ids = survey_db
    link = open_link(engine, ids["clinician_experience"], anonymous=False)
    at = open_app("respondent", "survey_take.py", query={"c": link})
    answer(at, {"consent": "no"})
    next_page(at)
    at.button(key="sv_submit").click().run()
    mine = open_app("respondent", "survey_my_submissions.py")
    assert "Submitted while signed in" in texts(mine) and len(mine.dataframe) == 1


def test_lead_imports_an_instrument_after_seeing_its_warnings(survey_db):
    engine, _ = survey_db
    at = open_app("lead", "survey_instruments.py")
    assert "clinician_experience" in at.dataframe[0].value["name"].tolist()
    content = (FIXTURES / "redcap_unsupported.csv").read_bytes()
    at.file_uploader(key="sv_import_file").set_value(("unsupported.csv", content, "text/csv")).run()
    assert not at.exception
    warnings = next(frame.value for frame in at.dataframe if list(frame.value.columns) == ["row", "field", "warning"])
    assert any("the function sqrt() is not supported" in w for w in warnings["warning"].tolist())
    save = next(b for b in at.button if b.key.startswith("sv_save_instrument_"))
    save.click().run()
    assert "Saved unsupported version 1" in texts(at).replace("\\", "")
    with read_session(engine) as session:
        stored = session.scalar(select(SurveyInstrument).where(SurveyInstrument.name == "unsupported"))
    assert stored.source == "redcap" and any("sqrt()" in w for w in stored.import_warnings)


def test_lead_creates_an_invitation_campaign_and_gets_links(survey_db):
    engine, ids = survey_db
    at = open_app("lead", "survey_campaigns.py")
    form_title = next(t for t in at.text_input if "Title" in t.label)
    form_title.set_value("Spring staff survey")
    next(r for r in at.radio if r.label == "Access").set_value("invitation")
    next(n for n in at.number_input if "invitation links" in n.label).set_value(3)
    next(n for n in at.number_input if "Response limit" in n.label).set_value(50)
    next(b for b in at.button if b.label == "Create campaign").click().run()
    assert not at.exception, [e.message for e in at.exception]
    links = next(frame.value for frame in at.dataframe if "link" in frame.value.columns)
    assert len(links) == 3 and all("/take-survey?i=" in link for link in links["link"])
    with read_session(engine) as session:
        campaign = session.scalar(select(SurveyCampaign).where(SurveyCampaign.title == "Spring staff survey"))
    assert (campaign.access, campaign.response_limit, campaign.anonymous) == ("invitation", 50, True)
    token = links["link"].tolist()[0].split("?i=", 1)[1]
    respondent = open_app(None, "survey_take.py", query={"i": token})
    assert respondent.title[0].value == "Spring staff survey"
    at.button(key="sv_created_done").click().run()
    assert not any("link" in frame.value.columns for frame in at.dataframe), "the links are gone once copied"

    # Later: more links for the same campaign, from the Campaigns tab.
    at.selectbox(key="sv_campaign_pick").set_value(campaign.id).run()
    assert "3 links made so far, 0 used." in texts(at)
    at.number_input(key=f"sv_more_count_{campaign.id}").set_value(2)
    at.button(key=f"FormSubmitter:sv_more_invitations_{campaign.id}-Make the links").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert "Added 2 invitation links to “Spring staff survey”." in texts(at)
    added = next(frame.value for frame in at.dataframe if "link" in frame.value.columns)
    assert len(added) == 2 and not set(added["link"]) & set(links["link"])
    assert "5 links made so far, 0 used." in texts(at)
    token = added["link"].tolist()[1].split("?i=", 1)[1]
    assert open_app(None, "survey_take.py", query={"i": token}).title[0].value == "Spring staff survey"
    close_campaign(engine, campaign.id)
    at.run()
    assert "More invitation links" not in texts(at), "a closed campaign gets no new links"
