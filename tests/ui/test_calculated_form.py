"""AppTest: a survey with a calculated field. It is never an input; the question that depends on
it appears as soon as the answers make it true; the review shows the value the server computed;
that value is what is stored."""

from __future__ import annotations

from sqlalchemy import select

from storage.db import read_session
from storage.models.survey import SurveyResponse
from storage.surveys import save_instrument
from survey.instrument import instrument_from_dict
from tests.ui.helpers import open_app, texts
from tests.ui.test_survey_pages import answer, next_page, open_link, page_title, responses, survey_db, widget  # noqa: F401

SCORED = instrument_from_dict({"name": "scored", "version": 1, "title": "Scored", "sections": [
    {"id": "main", "title": "Time taken", "fields": [
        {"variable": "minutes_before", "type": "integer", "label": "Minutes a case before the tool"},
        {"variable": "minutes_after", "type": "integer", "label": "Minutes a case with the tool"},
        {"variable": "saving", "type": "calculated", "label": "Share of time saved", "unit": "%",
         "calculation": "round((minutes_before - minutes_after) * 100 div minutes_before, 1)"},
        {"variable": "why", "type": "short_text", "label": "What made the difference?", "show_if": "saving >= 20"},
    ]}]})


def no_widget(at, variable: str) -> bool:
    try:
        widget(at, variable)
    except AssertionError:
        return True
    return False


def test_a_calculated_field_is_computed_not_asked_and_drives_branching(survey_db):
    engine, _ = survey_db
    instrument_id = save_instrument(engine, SCORED, "xlsform")
    at = open_app(None, "survey_take.py", query={"c": open_link(engine, instrument_id)})
    assert page_title(at) == "Time taken"
    assert no_widget(at, "saving") and no_widget(at, "why")
    answer(at, {"minutes_before": 30, "minutes_after": 27})  # 10% saved: the follow-up stays hidden
    assert no_widget(at, "saving") and no_widget(at, "why")
    answer(at, {"minutes_after": 20})  # 33.3% saved
    assert no_widget(at, "saving")
    answer(at, {"why": "The scribe writes the letter"})
    next_page(at)
    assert page_title(at) == "Check your answers"
    review = texts(at).replace("\\", "")
    assert "Share of time saved" in review and "33.3 %" in review
    at.button(key="sv_submit").click().run()
    assert "your response was received" in texts(at) and responses(engine) == 1
    with read_session(engine) as session:
        document = session.scalar(select(SurveyResponse.document))
    assert document["answers"] == {"minutes_before": 30, "minutes_after": 20, "saving": 33.3,
                                   "why": "The scribe writes the letter"}
