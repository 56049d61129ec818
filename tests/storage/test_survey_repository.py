"""Survey storage on both backends: submission rules, idempotency, drafts, adoption returns, frames."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import func, select

from storage.db import make_engine, read_session
from storage.models.catalogue import AdoptionRecord, Site, Technology
from storage.models.survey import SurveyAnswer, SurveyDraft, SurveyInvitation, SurveyResponse
from storage.security import PseudonymKeyRing
from storage.survey_codes import normalise_code, pseudonymise
from storage.survey_frames import ANSWER_COLUMNS, RESPONSE_COLUMNS, load_survey_frames
from storage.survey_submit import SubmissionInvalid, SubmissionRefused, submit_response
from storage.surveys import (
    CampaignInput,
    CampaignNotOpen,
    close_campaign,
    create_campaign,
    ensure_builtin_instruments,
    list_campaigns,
    open_by_invitation,
    open_by_link,
    resume_draft,
    save_draft,
    submission_by_receipt,
    submissions_for_respondent,
)
from storage.db import write_session

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
KEY = "test-pseudonym-key"
KEYRING = PseudonymKeyRing("v1", {"v1": KEY})


def add_technologies(engine, count: int = 2) -> list[int]:
    with write_session(engine) as session:
        rows = [Technology(name=f"Tool {i}", company="Test Ltd") for i in range(count)]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def campaign(engine, instrument: str = "clinician_experience", **options):
    ids = ensure_builtin_instruments(engine)
    values = {"instrument_id": ids[instrument], "title": "Test campaign", "opens_at": NOW - dt.timedelta(days=1)} | options
    return create_campaign(engine, CampaignInput(**values), created_by="lead-1")


PROFILE = {"consent": "yes", "staff_group": "nurse", "region": "london", "years_in_role": "7", "archetypes": ["user", "driver"]}


def tech_block(frequency: str = "weekly") -> dict:
    return {"tech_use_frequency": frequency, "tech_time_effect": "saved", "tech_minutes_per_case": "4.5"}


def count(engine, model) -> int:
    with read_session(engine) as session:
        return session.scalar(select(func.count()).select_from(model))


def test_submit_stores_document_answer_rows_and_profile(engine):
    [tool] = add_technologies(engine, 1)
    created = campaign(engine)
    result = submit_response(engine, created.campaign_id, PROFILE, {tool: tech_block()}, "key-1", now=NOW)
    assert not result.duplicate and normalise_code(result.receipt_code) == result.receipt_code
    with read_session(engine) as session:
        response = session.get(SurveyResponse, result.response_id)
        rows = session.execute(select(SurveyAnswer.technology_id, SurveyAnswer.variable, SurveyAnswer.value)
                               .where(SurveyAnswer.response_id == result.response_id).order_by(SurveyAnswer.id)).all()
    assert (response.region, response.site_type, response.staff_group, response.source) == ("london", None, "nurse", "app")
    assert response.document["answers"]["years_in_role"] == 7
    # Multiple choice gives one row per code, in the instrument's option order; numbers are canonical text.
    assert [tuple(r) for r in rows] == [
        (None, "consent", "yes"), (None, "staff_group", "nurse"), (None, "region", "london"), (None, "years_in_role", "7"),
        (None, "archetypes", "driver"), (None, "archetypes", "user"),
        (tool, "tech_use_frequency", "weekly"), (tool, "tech_time_effect", "saved"), (tool, "tech_minutes_per_case", "4.5"),
    ]


def test_invalid_answers_and_unknown_technologies_are_refused_with_field_names(engine):
    created = campaign(engine)
    with pytest.raises(SubmissionInvalid) as invalid:
        submit_response(engine, created.campaign_id, {"consent": "yes", "staff_group": "astronaut"}, {}, "key-1", now=NOW)
    assert [(e.variable, e.message) for e in invalid.value.errors] == [("staff_group", "'astronaut' is not one of the options.")]
    with pytest.raises(SubmissionInvalid) as unknown:
        submit_response(engine, created.campaign_id, PROFILE, {987654: tech_block()}, "key-2", now=NOW)
    assert unknown.value.errors[0].technology_id == "987654"
    assert count(engine, SurveyResponse) == 0


def test_closed_and_not_yet_open_campaigns_refuse_responses(engine):
    later = campaign(engine, opens_at=NOW + dt.timedelta(days=2))
    with pytest.raises(SubmissionRefused, match="not open yet"):
        submit_response(engine, later.campaign_id, PROFILE, {}, "key-1", now=NOW)
    ended = campaign(engine, opens_at=NOW - dt.timedelta(days=9), closes_at=NOW - dt.timedelta(days=1))
    with pytest.raises(SubmissionRefused, match="closed on 28 February 2026"):
        submit_response(engine, ended.campaign_id, PROFILE, {}, "key-2", now=NOW)
    running = campaign(engine)
    submit_response(engine, running.campaign_id, PROFILE, {}, "key-3", now=NOW)
    close_campaign(engine, running.campaign_id, now=NOW)
    with pytest.raises(SubmissionRefused, match="no longer accepts responses"):
        submit_response(engine, running.campaign_id, PROFILE, {}, "key-4", now=NOW + dt.timedelta(minutes=1))
    states = list_campaigns(engine, now=NOW).set_index("campaign_id")["state"].to_dict()
    assert states == {later.campaign_id: "scheduled", ended.campaign_id: "closed", running.campaign_id: "closed"}
    assert count(engine, SurveyResponse) == 1


def test_response_limit_is_enforced(engine):
    created = campaign(engine, response_limit=2)
    for key in ("a", "b"):
        submit_response(engine, created.campaign_id, PROFILE, {}, f"key-{key}", now=NOW)
    with pytest.raises(SubmissionRefused, match="no longer accepting new ones"):
        submit_response(engine, created.campaign_id, PROFILE, {}, "key-c", now=NOW)
    assert count(engine, SurveyResponse) == 2


def test_invitation_links_are_single_use_and_required(engine):
    created = campaign(engine, access="invitation", invitations=2)
    assert created.link_token is None and len(created.invitation_tokens) == 2
    first = open_by_invitation(engine, created.invitation_tokens[0], now=NOW)
    assert first.state == "open" and first.invitation_id is not None
    with pytest.raises(SubmissionRefused, match="by invitation only"):
        submit_response(engine, created.campaign_id, PROFILE, {}, "key-0", now=NOW)
    stored = submit_response(engine, first, PROFILE, {}, "key-1", now=NOW)
    with pytest.raises(SubmissionRefused, match="already been used"):
        submit_response(engine, first, PROFILE, {}, "key-2", now=NOW)
    assert open_by_invitation(engine, created.invitation_tokens[0], now=NOW).state == "used"
    assert open_by_invitation(engine, created.invitation_tokens[1], now=NOW).state == "open"
    assert open_by_invitation(engine, "not-a-token", now=NOW) is None
    with read_session(engine) as session:
        invitation = session.get(SurveyInvitation, first.invitation_id)
        # Only digests are stored.
        assert invitation.response_id == stored.response_id and created.invitation_tokens[0] not in invitation.token_hash


def test_same_idempotency_key_stores_once_and_returns_the_first_receipt(engine):
    [tool] = add_technologies(engine, 1)
    created = campaign(engine)
    access = open_by_link(engine, created.link_token, now=NOW)
    first = submit_response(engine, access, PROFILE, {tool: tech_block()}, "double-click", receipt_code="ABCD-EFGH-JKMN-PQRS", now=NOW)
    again = submit_response(engine, access, PROFILE, {tool: tech_block()}, "double-click", receipt_code="ABCD-EFGH-JKMN-PQRS", now=NOW)
    other_tab = submit_response(engine, access, PROFILE, {tool: tech_block()}, "double-click", now=NOW)
    assert (again.response_id, again.receipt_code, again.duplicate) == (first.response_id, "ABCD-EFGH-JKMN-PQRS", True)
    assert other_tab.duplicate and other_tab.receipt_code is None
    assert count(engine, SurveyResponse) == 1
    assert count(engine, SurveyAnswer) == 9


def test_duplicate_of_an_invitation_submission_is_not_refused(engine):
    created = campaign(engine, access="invitation", invitations=1)
    access = open_by_invitation(engine, created.invitation_tokens[0], now=NOW)
    first = submit_response(engine, access, PROFILE, {}, "key-1", now=NOW)
    assert submit_response(engine, access, PROFILE, {}, "key-1", now=NOW).response_id == first.response_id


def test_drafts_resume_by_code_only_and_survive_a_restart(engine, database_url):
    created = campaign(engine)
    access = open_by_link(engine, created.link_token)
    state = {"answers": {"consent": "yes", "comments": "half done"}, "page": 2}
    code = save_draft(engine, access, state)
    assert normalise_code(code) == code
    same = save_draft(engine, access, {**state, "page": 3}, resume_code=code.lower().replace("-", " "))
    assert same == code and count(engine, SurveyDraft) == 1
    restarted = make_engine(database_url)
    try:
        resumed = resume_draft(restarted, code.replace("0", "O").lower())
    finally:
        restarted.dispose()
    assert resumed.state == {"answers": {"consent": "yes", "comments": "half done"}, "page": 3}
    assert resumed.access.campaign_id == created.campaign_id and resumed.resume_code == code
    assert resume_draft(engine, "0000-0000-0000-0000") is None
    assert resume_draft(engine, "not a code") is None
    submit_response(engine, access, PROFILE, {}, "key-1", resume_code=code)
    assert count(engine, SurveyDraft) == 0


def test_drafts_cannot_be_saved_to_a_closed_campaign(engine):
    created = campaign(engine)
    close_campaign(engine, created.campaign_id)
    with pytest.raises(CampaignNotOpen):
        save_draft(engine, open_by_link(engine, created.link_token), {"answers": {}})


def test_receipt_lookup_and_identified_respondents(engine):
    identified = campaign(engine, anonymous=False)
    anonymous = campaign(engine)
    mine = submit_response(engine, identified.campaign_id, PROFILE, {}, "key-1", respondent_id="user-7", keyring=KEYRING, now=NOW)
    submit_response(engine, anonymous.campaign_id, PROFILE, {}, "key-2", respondent_id="user-7", keyring=KEYRING, now=NOW)
    record = submission_by_receipt(engine, mine.receipt_code.lower())
    assert record.response_id == mine.response_id and record.document["answers"]["staff_group"] == "nurse"
    assert record.submitted_at == NOW and record.campaign_title == "Test campaign"
    assert submission_by_receipt(engine, "ZZZZ-ZZZZ-ZZZZ-ZZZZ") is None
    # Only the identified campaign links the response to the (pseudonymised) user.
    found = submissions_for_respondent(engine, "user-7", KEYRING)
    assert [r.response_id for r in found] == [mine.response_id]
    with read_session(engine) as session:
        assert session.scalars(select(SurveyResponse.respondent).order_by(SurveyResponse.id)).all() == [pseudonymise("user-7", KEY), None]


def test_adoption_return_creates_then_updates_site_and_adoption_records(engine):
    first_tool, second_tool = add_technologies(engine, 2)
    created = campaign(engine, "organisation_adoption")
    organisation = {"organisation_name": "Northfield Hospitals", "ods_code": "RX1", "site_type": "acute_trust", "region": "midlands"}
    submit_response(engine, created.campaign_id, organisation, {
        first_tool: {"adoption_status": "piloting"},
        second_tool: {"adoption_status": "live", "go_live_date": "2025-04-01"},
    }, "return-1", now=NOW)
    renamed = organisation | {"organisation_name": "Northfield Hospitals NHS Trust"}
    submit_response(engine, created.campaign_id, renamed, {
        first_tool: {"adoption_status": "discontinued", "discontinued_date": "2026-01-15"},
    }, "return-2", now=NOW)
    with read_session(engine) as session:
        sites = session.scalars(select(Site)).all()
        records = {r.technology_id: (r.status, r.start_date, r.end_date, r.source)
                   for r in session.scalars(select(AdoptionRecord))}
    assert [(s.name, s.ods_code, s.region) for s in sites] == [("Northfield Hospitals", "RX1", "midlands")]
    assert records == {
        first_tool: ("discontinued", None, dt.date(2026, 1, 15), "survey"),
        second_tool: ("live", dt.date(2025, 4, 1), None, "survey"),
    }


def test_load_survey_frames_has_the_documented_columns_and_types(engine):
    [tool] = add_technologies(engine, 1)
    created = campaign(engine)
    submit_response(engine, created.campaign_id, PROFILE, {tool: tech_block()}, "key-1", now=NOW)
    submit_response(engine, created.campaign_id, {"consent": "no"}, {}, "key-2", now=NOW + dt.timedelta(hours=1))
    frames = load_survey_frames(engine)
    responses, answers = frames["responses"], frames["answers"]
    assert tuple(responses.columns) == RESPONSE_COLUMNS and tuple(answers.columns) == ANSWER_COLUMNS
    assert str(responses["response_id"].dtype) == "int64" and str(responses["submitted_at"].dtype) == "datetime64[ns]"  # UTC
    assert responses["is_demo"].dtype == bool and str(answers["technology_id"].dtype) == "Int64"
    assert responses["submitted_at"].tolist() == [pd.Timestamp(NOW).tz_localize(None), pd.Timestamp(NOW + dt.timedelta(hours=1)).tz_localize(None)]
    assert responses["staff_group"].tolist()[0] == "nurse" and pd.isna(responses["staff_group"].tolist()[1])
    assert answers["technology_id"].isna().sum() == 7 and (answers["technology_id"] == tool).sum() == 3
    assert answers.loc[answers["variable"] == "tech_minutes_per_case", "value"].tolist() == ["4.5"]
