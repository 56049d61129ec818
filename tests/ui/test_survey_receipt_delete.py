"""AppTest: on My submissions a respondent looks up their response by its receipt code, sees what
would be deleted, and deletes it only after ticking the confirmation; the deletion is audited."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from storage.db import make_engine, read_session
from storage.models.accounts import AuditEvent
from storage.models.survey import SurveyResponse
from storage.survey_submit import submit_response
from storage.surveys import CampaignInput, create_campaign, ensure_builtin_instruments
from tests.ui.helpers import open_app, prepare_environment, texts

DELETE_BUTTON = "FormSubmitter:sv_delete_response-Delete my response"
PROFILE = {"consent": "yes", "staff_group": "nurse", "region": "london", "comments": "<script>alert('x')</script>"}


@pytest.fixture
def receipts(sqlite_url: str, monkeypatch: pytest.MonkeyPatch):
    engine = make_engine(sqlite_url)
    ids = ensure_builtin_instruments(engine)
    opens = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    campaign = create_campaign(engine, CampaignInput(instrument_id=ids["clinician_experience"], title="Ward survey", opens_at=opens))
    mine = submit_response(engine, campaign.campaign_id, PROFILE, {}, "ui-key-1")
    other = submit_response(engine, campaign.campaign_id, PROFILE, {}, "ui-key-2")
    prepare_environment(monkeypatch, sqlite_url)
    yield engine, mine, other
    engine.dispose()


def stored_ids(engine) -> list[int]:
    with read_session(engine) as session:
        return list(session.scalars(select(SurveyResponse.id).order_by(SurveyResponse.id)))


def deletions(engine) -> list[tuple[str, str]]:
    with read_session(engine) as session:
        return [(e.actor, e.target) for e in session.scalars(select(AuditEvent).where(AuditEvent.action == "response_delete"))]


def look_up(code: str):
    at = open_app(None, "survey_my_submissions.py")
    at.text_input[0].set_value(code)
    at.button[0].click().run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_deleting_needs_the_confirmation_then_removes_only_that_response(receipts) -> None:
    engine, mine, other = receipts
    at = look_up(mine.receipt_code.lower())
    # What will be deleted is shown first: the submission, its answers (as text, never HTML) and the warning.
    assert "Submitted on" in texts(at) and "Ward survey" in texts(at)
    assert "<script>alert('x')</script>" in at.dataframe[0].value["answer"].tolist()
    assert "permanently" in texts(at) and "4 answer(s)" in texts(at)

    at.button(key=DELETE_BUTTON).click().run()
    assert "Nothing was deleted" in texts(at)
    assert stored_ids(engine) == [mine.response_id, other.response_id] and deletions(engine) == []

    at.checkbox[0].check()  # a form sends the tick with the submit
    at.button(key=DELETE_BUTTON).click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert f"Your response (reference {mine.response_id}) and its 4 answer(s) were deleted." in [s.value for s in at.success]
    assert "Submitted on" not in texts(at)  # the deleted response is no longer shown
    assert stored_ids(engine) == [other.response_id]
    assert deletions(engine) == [("anonymous", f"response:{mine.response_id}")]

    again = look_up(mine.receipt_code)
    assert "No submission has that receipt code" in texts(again)


def test_an_unknown_code_offers_nothing_to_delete(receipts) -> None:
    engine, _, _ = receipts
    at = look_up("ZZZZ-ZZZZ-ZZZZ-ZZZZ")
    assert "No submission has that receipt code" in texts(at)
    assert not at.checkbox and len(at.button) == 1
    with read_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(SurveyResponse)) == 2
