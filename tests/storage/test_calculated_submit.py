"""Submitting a response to an instrument with a calculated field, on both backends: the server
computes and stores the value (document and answer rows); a value sent by the client is ignored."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from storage.db import read_session
from storage.models.survey import SurveyAnswer, SurveyResponse
from storage.survey_submit import submit_response
from storage.surveys import CampaignInput, create_campaign, free_text_variables, save_instrument
from survey.instrument import instrument_from_dict

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
SCORED = instrument_from_dict({"name": "scored", "version": 1, "title": "Scored", "sections": [
    {"id": "main", "title": "Main", "fields": [
        {"variable": "minutes_before", "type": "integer", "label": "Minutes before"},
        {"variable": "minutes_after", "type": "integer", "label": "Minutes after"},
        {"variable": "saving", "type": "calculated", "label": "Share saved",
         "calculation": "round((minutes_before - minutes_after) * 100 div minutes_before, 1)", "unit": "%"},
        {"variable": "why", "type": "short_text", "label": "What made the difference?", "show_if": "saving >= 20"},
    ]}]})


def test_the_server_value_is_stored_and_the_client_value_ignored(engine):
    instrument_id = save_instrument(engine, SCORED, "xlsform")
    campaign = create_campaign(engine, CampaignInput(instrument_id=instrument_id, title="Scored",
                                                     opens_at=NOW - dt.timedelta(days=1)))
    sent = {"minutes_before": "30", "minutes_after": "20", "saving": "95", "why": "The scribe"}
    result = submit_response(engine, campaign.campaign_id, sent, None, "calc-key", now=NOW)
    with read_session(engine) as session:
        document = session.scalar(select(SurveyResponse.document).where(SurveyResponse.id == result.response_id))
        rows = dict(session.execute(select(SurveyAnswer.variable, SurveyAnswer.value)
                                    .where(SurveyAnswer.response_id == result.response_id)).all())
    assert document["answers"] == {"minutes_before": 30, "minutes_after": 20, "saving": 33.3, "why": "The scribe"}
    assert rows == {"minutes_before": "30", "minutes_after": "20", "saving": "33.3", "why": "The scribe"}
    # A division by zero stores no value and hides what depends on it; the response is still accepted.
    empty = submit_response(engine, campaign.campaign_id, {"minutes_before": "0", "minutes_after": "0", "why": "x"},
                            None, "calc-key-2", now=NOW)
    with read_session(engine) as session:
        stored = session.scalar(select(SurveyResponse.document).where(SurveyResponse.id == empty.response_id))
    assert stored["answers"] == {"minutes_before": 0, "minutes_after": 0}


def test_the_retention_purge_treats_a_calculation_over_free_text_as_free_text():
    copying = instrument_from_dict({"name": "copying", "version": 1, "title": "Copying", "sections": [
        {"id": "main", "title": "Main", "fields": [
            {"variable": "comments", "type": "long_text", "label": "Comments"},
            {"variable": "n", "type": "integer", "label": "N"},
            {"variable": "said", "type": "calculated", "label": "Said", "calculation": "coalesce(comments, 'nothing')"},
            {"variable": "double", "type": "calculated", "label": "Double", "calculation": "n * 2"},
        ]}]})
    assert free_text_variables(copying) == {"comments", "said"}
