"""Storing a response: server-side validation, then one transaction that is safe to repeat.

A form session generates its idempotency key (and receipt code) once; a double click, a
reconnect, a refresh or a second submit with the same key stores nothing new and returns the
first submission. The unique constraint on the key is the final guard when two requests race.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.audit import record_audit
from storage.bulk import insert_rows, reserve_ids
from storage.catalogue import bump_data_version, upsert_adoptions
from storage.change_log import RESPONSES, note_change
from storage.db import read_session, write_session
from storage.models.catalogue import Site, Technology
from storage.models.survey import SurveyAnswer, SurveyCampaign, SurveyDraft, SurveyInvitation, SurveyResponse
from storage.security import PseudonymKeyRing, pseudonymise
from storage.survey_codes import code_digest, digest, new_code
from storage.surveys import CampaignAccess, StoredInstrument, SurveyError, moment_or_now, as_utc, campaign_state, instrument_by_id
from survey.instrument import Instrument
from survey.validation import FieldError, answer_rows, validate_submission

ADOPTION_INSTRUMENT = "organisation_adoption"
PROFILE_COLUMNS = ("region", "site_type", "staff_group")
RESPONSE_SOURCES = ("app", "import", "demo")


class SubmissionRefused(SurveyError):
    """The response was not stored; the message says why in words a respondent understands."""


class SubmissionInvalid(SubmissionRefused):
    """Answers failed validation; ``errors`` name each field."""

    def __init__(self, errors: list[FieldError]):
        self.errors = errors
        first = errors[0]
        where = f"{first.variable}" + (f" (technology {first.technology_id})" if first.technology_id else "")
        more = f" and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''}" if len(errors) > 1 else ""
        super().__init__(f"Some answers need attention: {where}: {first.message}{more}")


@dataclass(frozen=True)
class Submission:
    """A stored response. ``duplicate`` is True when this idempotency key had already been used;
    ``receipt_code`` is then the caller's code if it matches the stored one, else None (only its
    digest is stored)."""

    response_id: int
    receipt_code: str | None
    submitted_at: datetime
    duplicate: bool


def new_idempotency_key() -> str:
    return secrets.token_urlsafe(24)


def _technology_keys(technology_answers: Mapping[Any, Mapping[str, object]] | None) -> dict[str, Mapping[str, object]]:
    return {str(key): value for key, value in (technology_answers or {}).items()}


def validated_document(instrument: Instrument, answers: Mapping[str, object],
                       technology_answers: Mapping[Any, Mapping[str, object]] | None) -> dict[str, Any]:
    """The cleaned document, or :class:`SubmissionInvalid` with every field error."""
    result = validate_submission(instrument, answers, _technology_keys(technology_answers))
    if not result.ok:
        raise SubmissionInvalid(result.errors)
    return result.document


def _unknown_technologies(session: Session, document: Mapping[str, Any]) -> list[FieldError]:
    keys = list(document.get("technologies", {}))
    numeric = [int(k) for k in keys if k.isdigit()]
    known = {str(i) for i in session.scalars(select(Technology.id).where(Technology.id.in_(numeric)))} if numeric else set()
    return [FieldError(None, key, "technology_id", f"{key[:50]!r} is not a technology in the catalogue.")
            for key in keys if key not in known]


def _existing(session: Session, idempotency_key: str, receipt_code: str | None) -> Submission | None:
    found = session.execute(select(SurveyResponse.id, SurveyResponse.receipt_hash, SurveyResponse.submitted_at)
                            .where(SurveyResponse.idempotency_key == idempotency_key)).first()
    if found is None:
        return None
    matches = receipt_code is not None and code_digest(receipt_code) == found.receipt_hash
    return Submission(found.id, receipt_code if matches else None, as_utc(found.submitted_at), duplicate=True)


def response_values(*, instrument_id: int, campaign_id: int | None, document: Mapping[str, Any], idempotency_key: str,
                    receipt_code: str, respondent: str | None, source: str, is_demo: bool, submitted_at: datetime,
                    language: str | None = None) -> dict[str, Any]:
    """The ``survey_response`` row of one validated response (profile codes copied out for filtering)."""
    if source not in RESPONSE_SOURCES:
        raise ValueError(f"unknown response source {source!r}")
    shared = document.get("answers", {})
    profile = {column: shared.get(column) if isinstance(shared.get(column), str) else None for column in PROFILE_COLUMNS}
    return {"instrument_id": instrument_id, "campaign_id": campaign_id, "idempotency_key": idempotency_key,
            "receipt_hash": digest(receipt_code), "respondent": respondent, "submitted_at": submitted_at,
            "document": dict(document), "source": source, "is_demo": is_demo, "language": language, **profile}


def insert_responses(session: Session, responses: list[dict[str, Any]]) -> list[int]:
    """Insert validated responses (rows from :func:`response_values`) and their long-format answer
    rows in the caller's write transaction, in bulk; returns the new response ids in order."""
    connection = session.connection()
    table = SurveyResponse.__table__
    ids = reserve_ids(connection, table, len(responses))
    columns = ["id", *responses[0]]
    insert_rows(connection, table, columns, [(response_id, *response.values())
                                             for response_id, response in zip(ids, responses, strict=True)])
    answers = [(response_id, None if technology is None else int(technology), variable, value)
               for response_id, response in zip(ids, responses, strict=True)
               for technology, variable, value in answer_rows(response["document"])]
    insert_rows(connection, SurveyAnswer.__table__, ("response_id", "technology_id", "variable", "value"), answers)
    note_change(session, RESPONSES, ids)
    return ids


def insert_response(session: Session, **values: Any) -> int:
    """Insert one validated response (the keywords of :func:`response_values`) and its answer rows."""
    [response_id] = insert_responses(session, [response_values(**values)])
    return response_id


def _lock_campaign(session: Session, campaign_id: int) -> SurveyCampaign:
    # On PostgreSQL a campaign with a response limit is locked FOR UPDATE so two submissions
    # cannot both take the last place; without a limit a shared lock is enough to keep the
    # campaign from closing mid-submission while letting submissions run side by side.
    # (SQLite's BEGIN IMMEDIATE already serialises writers.)
    has_limit = session.scalar(select(SurveyCampaign.response_limit.is_not(None)).where(SurveyCampaign.id == campaign_id))
    query = select(SurveyCampaign).where(SurveyCampaign.id == campaign_id)
    campaign = session.scalar(query.with_for_update(read=not has_limit))
    if campaign is None:
        raise SubmissionRefused("This survey no longer exists.")
    return campaign


def _check_campaign(session: Session, campaign: SurveyCampaign, invitation_id: int | None, now: datetime) -> SurveyInvitation | None:
    state, message = campaign_state(campaign, now)
    if state != "open":
        raise SubmissionRefused(message)
    if campaign.access == "invitation" and invitation_id is None:
        raise SubmissionRefused("This survey is by invitation only; open it from your personal invitation link.")
    invitation = None
    if invitation_id is not None:
        invitation = session.scalar(select(SurveyInvitation).where(SurveyInvitation.id == invitation_id).with_for_update())
        if invitation is None or invitation.campaign_id != campaign.id:
            raise SubmissionRefused("This invitation link is not valid for this survey.")
        if invitation.used_at is not None:
            raise SubmissionRefused("This invitation link has already been used to submit a response. Each invitation can be used once.")
    if campaign.response_limit is not None:
        count = session.scalar(select(func.count()).select_from(SurveyResponse).where(SurveyResponse.campaign_id == campaign.id)) or 0
        if count >= campaign.response_limit:
            raise SubmissionRefused("This survey has received all the responses it needs and is no longer accepting new ones. Thank you.")
    return invitation


def _site_for_return(session: Session, answers: Mapping[str, Any], is_demo: bool) -> Site:
    """Pick the organisation by ODS code, else by name within the region; add it if new."""
    name = str(answers["organisation_name"]).strip()
    ods = answers.get("ods_code")
    site = session.scalar(select(Site).where(Site.ods_code == ods)) if ods else None
    if site is None:
        site = session.scalar(select(Site).where(func.lower(Site.name) == name.lower(), Site.region == answers["region"]))
    if site is None:
        site = Site(name=name, ods_code=ods, site_type=answers["site_type"], region=answers["region"], is_demo=is_demo)
        session.add(site)
        session.flush()
        return site
    site.site_type = answers["site_type"]
    if ods and site.ods_code is None:
        site.ods_code = ods
    return site


def apply_adoption_return(session: Session, document: Mapping[str, Any], is_demo: bool) -> None:
    site = _site_for_return(session, document["answers"], is_demo)
    rows = []
    for technology_id, values in document.get("technologies", {}).items():
        status = values.get("adoption_status")
        if status is None:
            continue
        start = values.get("go_live_date")
        end = values.get("discontinued_date")
        rows.append({"technology_id": int(technology_id), "site_id": site.id, "status": status,
                     "start_date": date.fromisoformat(start) if start else None,
                     "end_date": date.fromisoformat(end) if end else None, "source": "survey", "is_demo": is_demo})
    if rows:
        upsert_adoptions(session, rows)


def is_adoption_return(stored: StoredInstrument) -> bool:
    variables = {slot.variable for _, slot in stored.instrument.answer_slots()}
    return stored.name == ADOPTION_INSTRUMENT and {"organisation_name", "site_type", "region", "adoption_status"} <= variables


def submit_response(engine: Engine, target: int | CampaignAccess, answers: Mapping[str, object],
                    technology_answers: Mapping[Any, Mapping[str, object]] | None, idempotency_key: str, *,
                    receipt_code: str | None = None, respondent_id: str | None = None, keyring: PseudonymKeyRing | None = None,
                    resume_code: str | None = None, source: str = "app", is_demo: bool = False,
                    now: datetime | None = None, language: str | None = None) -> Submission:
    """Validate and store one response to a campaign (by id, or the access an invitation/link opened).

    Refuses (``SubmissionRefused``) closed or not-yet-open campaigns, full response limits and
    used invitations; invalid answers raise ``SubmissionInvalid``. An identified campaign stores
    the signed-in respondent as a keyed pseudonym under the current key of ``keyring``. The
    link or invitation is the credential, so no role is checked; the submission is audited
    (``response_submit``) as "anonymous" or the respondent's pseudonym, never a name. Database
    outages propagate as SQLAlchemy ``OperationalError`` with nothing stored. ``language`` is the
    code of the language the form was shown in; one the instrument does not offer is stored as its
    default language.
    """
    if not idempotency_key or len(idempotency_key) > 100:
        raise ValueError("an idempotency key of 1 to 100 characters is required")
    access = target if isinstance(target, CampaignAccess) else None
    campaign_id = access.campaign_id if access else int(target)
    invitation_id = access.invitation_id if access else None
    moment = moment_or_now(now)
    receipt = receipt_code or new_code()
    with read_session(engine) as session:
        instrument_id = session.scalar(select(SurveyCampaign.instrument_id).where(SurveyCampaign.id == campaign_id))
    if instrument_id is None:
        raise SubmissionRefused("This survey no longer exists.")
    # Validation is pure and done before the transaction, so the write lock is held only to write.
    stored = instrument_by_id(engine, instrument_id)
    document = validated_document(stored.instrument, answers, technology_answers)
    try:
        with write_session(engine) as session:
            duplicate = _existing(session, idempotency_key, receipt)
            if duplicate is not None:
                return duplicate
            campaign = _lock_campaign(session, campaign_id)
            unknown = _unknown_technologies(session, document)
            if unknown:
                raise SubmissionInvalid(unknown)
            invitation = _check_campaign(session, campaign, invitation_id, moment)
            # Without a configured key an identified campaign cannot link responses, so it stores no respondent.
            respondent = pseudonymise(respondent_id, keyring) if respondent_id and keyring and not campaign.anonymous else None
            response_id = insert_response(session, instrument_id=instrument_id, campaign_id=campaign.id, document=document,
                                          idempotency_key=idempotency_key, receipt_code=receipt, respondent=respondent,
                                          source=source, is_demo=is_demo, submitted_at=moment,
                                          language=stored.instrument.language(language).code)
            if invitation is not None:
                invitation.used_at = moment
                invitation.response_id = response_id
            if resume_code:
                hashed = code_digest(resume_code)
                if hashed:
                    session.execute(delete(SurveyDraft).where(SurveyDraft.resume_hash == hashed, SurveyDraft.campaign_id == campaign.id))
            if is_adoption_return(stored):
                apply_adoption_return(session, document, is_demo)
            record_audit(session, respondent or "anonymous", "respondent" if respondent else None, "response_submit",
                         f"response:{response_id}", "success",
                         {"campaign_id": campaign.id, "instrument_id": instrument_id, "source": source,
                          "technologies": len(document.get("technologies", {})), "invitation": invitation is not None})
            bump_data_version(session)
            return Submission(response_id, receipt, moment, duplicate=False)
    except IntegrityError:
        # Another request with the same key committed first: report that submission.
        with write_session(engine) as session:
            duplicate = _existing(session, idempotency_key, receipt)
        if duplicate is None:
            raise
        return duplicate


def submitted_at_for_key(engine: Engine, idempotency_key: str) -> datetime | None:
    """When a response with this idempotency key was stored (None if it was not)."""
    with read_session(engine) as session:
        moment = session.scalar(select(SurveyResponse.submitted_at).where(SurveyResponse.idempotency_key == idempotency_key))
    return as_utc(moment)
