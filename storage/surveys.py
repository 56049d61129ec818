"""Survey repository: published instruments, campaigns and their links, drafts, and reading submissions.

Submitting a response lives in :mod:`storage.survey_submit`, the analysis frames in
:mod:`storage.survey_frames` and flat response files in :mod:`storage.survey_io`.

Every function takes an engine and opens one session per action (reads) or one transaction
(writes), so callers never hold a session.

Lead functions are guarded (``survey.manage``, ``survey.responses``) and take ``actor=``; every
write records its audit event in its own transaction. Respondents who hold a link, a resume
code or a receipt code are not checked by role: the code is their credential.

Data protection: the ``surveys`` retention hook (registered at import) purges drafts and raw
free-text answers after the retention period and erases a named respondent's responses by
their pseudonyms under every key version.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field as dataclass_field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.orm import Session

from storage.audit import record_audit
from storage.catalogue import bump_data_version
from storage.change_log import RESPONSES, note_change
from storage.db import read_session, write_session
from storage.models.catalogue import Technology
from storage.models.survey import SurveyAnswer, SurveyCampaign, SurveyDraft, SurveyInstrument, SurveyInvitation, SurveyResponse
from storage.permissions import guarded
from storage.retention import RETENTION_HOOKS, ErasureSubject, RetentionHook
from storage.security import PseudonymKeyRing, pseudonym_candidates
from storage.survey_codes import code_digest, digest, new_code, new_link_token, normalise_code
from survey.app_text import choice_text
from survey.instrument import LANGUAGE_CODE_PATTERN, TEXT_TYPES, FieldType, Instrument, builtin_instruments, instrument_from_dict, instrument_to_dict
from survey.validation import format_value

INSTRUMENT_SOURCES = ("builtin", "redcap", "xlsform")
ACCESS_MODES = ("open", "invitation")
MAX_INVITATIONS_PER_BATCH = 5000
MAX_DRAFT_BYTES = 512 * 1024


class SurveyError(ValueError):
    """A survey action cannot be done; the message is written for the person who asked."""


class InstrumentConflict(SurveyError):
    """A different definition is already published under this name and version."""


class CampaignNotOpen(SurveyError):
    """The campaign is closed or not open yet."""


def as_utc(moment: datetime | None) -> datetime | None:
    """Datetimes read back from SQLite are naive (but were written in UTC); make them aware."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def moment_or_now(now: datetime | None) -> datetime:
    return as_utc(now) if now is not None else datetime.now(UTC)


def _date_text(moment: datetime) -> str:
    return as_utc(moment).strftime("%d %B %Y, %H:%M UTC")


# --------------------------------------------------------------------------- instruments


@dataclass(frozen=True)
class StoredInstrument:
    id: int
    name: str
    version: int
    title: str
    source: str
    warnings: tuple[str, ...]
    instrument: Instrument


@lru_cache(maxsize=256)
def _parsed_definition(definition_json: str) -> Instrument:
    # Published definitions never change, so parsing (pydantic validation) is done once per process.
    return instrument_from_dict(json.loads(definition_json))


def _stored(row: SurveyInstrument) -> StoredInstrument:
    instrument = _parsed_definition(json.dumps(row.definition, sort_keys=True))
    return StoredInstrument(row.id, row.name, row.version, row.title, row.source, tuple(row.import_warnings or ()), instrument)


def publish_instrument(session: Session, instrument: Instrument, source: str, warnings: Iterable[object] = (),
                       *, actor: Any = None) -> SurveyInstrument:
    """Store ``instrument`` (or return the identical one already stored) in the caller's transaction.

    A new publication is audited (``instrument_create`` for a built-in, ``instrument_import`` for
    an imported file) in the same transaction; re-publishing an identical definition is not.
    """
    if source not in INSTRUMENT_SOURCES:
        raise ValueError(f"unknown instrument source {source!r}")
    definition = instrument_to_dict(instrument)
    existing = session.scalar(select(SurveyInstrument).where(SurveyInstrument.name == instrument.name,
                                                             SurveyInstrument.version == instrument.version))
    if existing is not None:
        if existing.definition != definition:
            raise InstrumentConflict(
                f"instrument {instrument.name!r} version {instrument.version} is already published with a different "
                f"definition; import it under a new version number")
        return existing
    row = SurveyInstrument(name=instrument.name, version=instrument.version, title=instrument.title,
                           definition=definition, source=source, import_warnings=[str(w) for w in warnings])
    session.add(row)
    session.flush()
    record_audit(session, actor, None, "instrument_create" if source == "builtin" else "instrument_import", f"instrument:{row.id}",
                 "success", {"source": source, "version": row.version, "questions": sum(1 for _ in instrument.answer_slots()),
                             "warnings": len(row.import_warnings)})
    return row


def ensure_builtin_instruments(engine: Engine) -> dict[str, int]:
    """Publish the built-in instruments the first time they are needed; returns name -> id."""
    builtins = builtin_instruments()
    with read_session(engine) as session:
        rows = session.execute(select(SurveyInstrument.name, SurveyInstrument.version, SurveyInstrument.id)).all()
    known = {(name, version): row_id for name, version, row_id in rows}
    if all((i.name, i.version) in known for i in builtins.values()):
        return {name: known[(i.name, i.version)] for name, i in builtins.items()}
    with write_session(engine) as session:
        return {name: publish_instrument(session, instrument, "builtin").id for name, instrument in builtins.items()}


@guarded("survey.manage")
def save_instrument(engine: Engine, instrument: Instrument, source: str, warnings: Iterable[object] = (), *, actor: Any = None) -> int:
    """Publish an imported instrument; returns its id (the existing id if identical)."""
    with write_session(engine) as session:
        return publish_instrument(session, instrument, source, warnings, actor=actor).id


def get_instrument(engine: Engine, name: str, version: int | None = None) -> StoredInstrument | None:
    """A published instrument by name (latest version unless ``version`` is given)."""
    if name in builtin_instruments():
        ensure_builtin_instruments(engine)
    query = select(SurveyInstrument).where(SurveyInstrument.name == name)
    query = query.where(SurveyInstrument.version == version) if version is not None else query.order_by(SurveyInstrument.version.desc())
    with read_session(engine) as session:
        row = session.scalars(query.limit(1)).first()
        return _stored(row) if row is not None else None


def instrument_by_id(engine: Engine, instrument_id: int) -> StoredInstrument:
    with read_session(engine) as session:
        row = session.get(SurveyInstrument, instrument_id)
        if row is None:
            raise SurveyError(f"no instrument with id {instrument_id}")
        return _stored(row)


def next_instrument_version(engine: Engine, name: str) -> int:
    with read_session(engine) as session:
        highest = session.scalar(select(func.max(SurveyInstrument.version)).where(SurveyInstrument.name == name))
    return (highest or 0) + 1


@guarded("survey.manage")
def list_instruments(engine: Engine, *, actor: Any = None) -> pd.DataFrame:
    """One row per published instrument version with its question and response counts."""
    ensure_builtin_instruments(engine)
    with read_session(engine) as session:
        rows = session.scalars(select(SurveyInstrument).order_by(SurveyInstrument.name, SurveyInstrument.version)).all()
        counts = dict(session.execute(select(SurveyResponse.instrument_id, func.count()).group_by(SurveyResponse.instrument_id)).all())
    records = []
    for row in rows:
        stored = _stored(row)
        records.append({
            "instrument_id": row.id, "name": row.name, "version": row.version, "title": row.title, "source": row.source,
            "sections": len(stored.instrument.sections),
            "questions": sum(1 for _ in stored.instrument.answer_slots()),
            "languages": ", ".join(language.code for language in stored.instrument.languages),
            "import_warnings": len(row.import_warnings or ()), "responses": counts.get(row.id, 0),
            "published_at": as_utc(row.created_at),
        })
    columns = ["instrument_id", "name", "version", "title", "source", "sections", "questions", "languages", "import_warnings",
               "responses", "published_at"]
    return pd.DataFrame(records, columns=columns)


def instrument_fields_frame(instrument: Instrument) -> pd.DataFrame:
    """A preview of every question: section, variable, type, label, required, identifier, condition, choices,
    matrix items and (for a calculated field) its calculation."""
    records = []
    for section in instrument.sections:
        for field in section.fields:
            choices = "; ".join(f"{c.code} = {c.label}" for c in field.effective_choices())
            records.append({
                "section": section.id + (" (per technology)" if section.repeat_per_technology else ""),
                "variable": field.variable, "type": field.type.value, "label": field.label,
                "required": field.required, "identifier": field.identifier,
                "shown_if": " and ".join(f"({c})" for c in (section.show_if, field.show_if) if c),
                "choices": choices,
                "items": "; ".join(item.variable for item in field.items),
                "calculation": field.calculation or "",
            })
    return pd.DataFrame(records, columns=["section", "variable", "type", "label", "required", "identifier", "shown_if", "choices",
                                          "items", "calculation"])


# --------------------------------------------------------------------------- campaigns


class CampaignInput(BaseModel):
    """A new campaign as the lead enters it."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    instrument_id: int
    title: str = Field(min_length=1, max_length=300)
    opens_at: datetime
    closes_at: datetime | None = None
    anonymous: bool = True
    access: str = "open"
    invitations: int = Field(default=0, ge=0, le=MAX_INVITATIONS_PER_BATCH)
    response_limit: int | None = Field(default=None, ge=1)
    is_demo: bool = False
    # The language the form opens in (one of the instrument's); None: the respondent's browser language.
    default_language: str | None = Field(default=None, pattern=LANGUAGE_CODE_PATTERN)
    # The title in the instrument's other languages, by language code (the title itself is in its default).
    title_translations: dict[Annotated[str, Field(pattern=LANGUAGE_CODE_PATTERN)],
                             Annotated[str, Field(min_length=1, max_length=300)]] = {}

    @field_validator("opens_at", "closes_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return as_utc(value)

    @field_validator("access")
    @classmethod
    def _access(cls, value: str) -> str:
        if value not in ACCESS_MODES:
            raise ValueError(f"must be one of {', '.join(ACCESS_MODES)}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> CampaignInput:
        if self.closes_at is not None and self.closes_at <= self.opens_at:
            raise ValueError("closes_at: the closing date must be after the opening date")
        if self.access == "invitation" and self.invitations < 1:
            raise ValueError("invitations: an invitation campaign needs at least one invitation link")
        if self.access == "open" and self.invitations:
            raise ValueError("invitations: an open-link campaign has no invitation links")
        return self


@dataclass(frozen=True)
class CreatedCampaign:
    """A new campaign and its secrets, shown once: only their digests are stored."""

    campaign_id: int
    link_token: str | None
    invitation_tokens: list[str]


def _new_invitations(session: Session, campaign_id: int, count: int) -> list[str]:
    tokens = [new_link_token() for _ in range(count)]
    session.add_all(SurveyInvitation(campaign_id=campaign_id, token_hash=digest(token)) for token in tokens)
    return tokens


@guarded("survey.manage")
def create_campaign(engine: Engine, data: CampaignInput, created_by: str | None = None, *, actor: Any = None) -> CreatedCampaign:
    """Create a campaign and its links; ``created_by`` defaults to the acting user's id."""
    if created_by is None and actor is not None:
        created_by = actor.user_id
    with write_session(engine) as session:
        instrument_row = session.get(SurveyInstrument, data.instrument_id)
        if instrument_row is None:
            raise SurveyError(f"no instrument with id {data.instrument_id}")
        offered = [language.code for language in _stored(instrument_row).instrument.languages]
        if data.default_language is not None and data.default_language not in offered:
            raise SurveyError(f"default_language: {data.default_language!r} is not one of the instrument's languages "
                              f"({', '.join(offered)})")
        untranslatable = sorted(set(data.title_translations) - set(offered[1:]))
        if untranslatable:
            raise SurveyError(f"title_translations: {', '.join(map(repr, untranslatable))} "
                              f"{'is not one of' if len(untranslatable) == 1 else 'are not among'} the instrument's other "
                              f"languages ({', '.join(offered[1:]) or 'it has none'})")
        link_token = new_link_token() if data.access == "open" else None
        campaign = SurveyCampaign(instrument_id=data.instrument_id, title=data.title, opens_at=data.opens_at,
                                  closes_at=data.closes_at, anonymous=data.anonymous, access=data.access,
                                  link_token_hash=digest(link_token) if link_token else None,
                                  response_limit=data.response_limit, created_by=created_by, is_demo=data.is_demo,
                                  default_language=data.default_language,
                                  title_translations=dict(data.title_translations) or None)
        session.add(campaign)
        session.flush()
        tokens = _new_invitations(session, campaign.id, data.invitations)
        record_audit(session, actor, None, "campaign_create", f"campaign:{campaign.id}", "success",
                     {"instrument_id": data.instrument_id, "access": data.access, "anonymous": data.anonymous,
                      "invitations": data.invitations, "is_demo": data.is_demo})
        return CreatedCampaign(campaign.id, link_token, tokens)


@guarded("survey.manage")
def add_invitations(engine: Engine, campaign_id: int, count: int, *, actor: Any = None) -> list[str]:
    """More single-use links for an invitation campaign (returns the new tokens)."""
    if not 1 <= count <= MAX_INVITATIONS_PER_BATCH:
        raise SurveyError(f"ask for 1 to {MAX_INVITATIONS_PER_BATCH} invitations at a time")
    with write_session(engine) as session:
        campaign = session.get(SurveyCampaign, campaign_id)
        if campaign is None or campaign.access != "invitation":
            raise SurveyError("invitation links can only be added to an invitation campaign")
        tokens = _new_invitations(session, campaign_id, count)
        record_audit(session, actor, None, "campaign_update", f"campaign:{campaign_id}", "success", {"invitations_added": count})
        return tokens


@guarded("survey.manage")
def close_campaign(engine: Engine, campaign_id: int, now: datetime | None = None, *, actor: Any = None) -> None:
    """Close a campaign now (closing a closed campaign changes and records nothing)."""
    with write_session(engine) as session:
        campaign = session.get(SurveyCampaign, campaign_id)
        if campaign is None:
            raise SurveyError(f"no campaign with id {campaign_id}")
        if campaign.closed_at is None:
            campaign.closed_at = moment_or_now(now)
            record_audit(session, actor, None, "campaign_close", f"campaign:{campaign_id}", "success")


def campaign_state(campaign: SurveyCampaign, now: datetime | None = None) -> tuple[str, str]:
    """('open' | 'scheduled' | 'closed', message for a respondent)."""
    moment = moment_or_now(now)
    closes_at = as_utc(campaign.closes_at)
    if campaign.closed_at is not None:
        return "closed", f"This survey closed on {_date_text(campaign.closed_at)} and no longer accepts responses."
    if closes_at is not None and moment >= closes_at:
        return "closed", f"This survey closed on {_date_text(closes_at)} and no longer accepts responses."
    if moment < as_utc(campaign.opens_at):
        return "scheduled", f"This survey is not open yet. It opens on {_date_text(campaign.opens_at)}."
    return "open", ""


@guarded("survey.manage")
def list_campaigns(engine: Engine, now: datetime | None = None, *, actor: Any = None) -> pd.DataFrame:
    """Every campaign with its instrument, state and counts of responses, invitations and drafts."""
    with read_session(engine) as session:
        rows = session.execute(
            select(SurveyCampaign, SurveyInstrument.name, SurveyInstrument.version).join(
                SurveyInstrument, SurveyInstrument.id == SurveyCampaign.instrument_id).order_by(SurveyCampaign.id.desc())).all()
        responses = dict(session.execute(select(SurveyResponse.campaign_id, func.count()).group_by(SurveyResponse.campaign_id)).all())
        invited = dict(session.execute(select(SurveyInvitation.campaign_id, func.count()).group_by(SurveyInvitation.campaign_id)).all())
        used = dict(session.execute(select(SurveyInvitation.campaign_id, func.count()).where(SurveyInvitation.used_at.is_not(None))
                                    .group_by(SurveyInvitation.campaign_id)).all())
        drafts = dict(session.execute(select(SurveyDraft.campaign_id, func.count()).group_by(SurveyDraft.campaign_id)).all())
    records = []
    for campaign, name, version in rows:
        state, _ = campaign_state(campaign, now)
        records.append({
            "campaign_id": campaign.id, "title": campaign.title, "instrument": name, "version": version, "state": state,
            "access": campaign.access, "anonymous": campaign.anonymous, "opens_at": as_utc(campaign.opens_at),
            "closes_at": as_utc(campaign.closes_at), "response_limit": campaign.response_limit,
            "responses": responses.get(campaign.id, 0), "invitations": invited.get(campaign.id, 0),
            "invitations_used": used.get(campaign.id, 0), "drafts": drafts.get(campaign.id, 0), "is_demo": campaign.is_demo,
        })
    columns = ["campaign_id", "title", "instrument", "version", "state", "access", "anonymous", "opens_at", "closes_at",
               "response_limit", "responses", "invitations", "invitations_used", "drafts", "is_demo"]
    return pd.DataFrame(records, columns=columns)


# --------------------------------------------------------------------------- opening a campaign


@dataclass(frozen=True)
class CampaignAccess:
    """What a respondent's link or code opens: one campaign (and one invitation, if any)."""

    campaign_id: int
    invitation_id: int | None
    instrument_id: int
    title: str
    anonymous: bool
    state: str  # open | scheduled | closed | used
    message: str
    default_language: str | None = None  # the campaign's; None: the respondent's browser language
    title_translations: dict[str, str] = dataclass_field(default_factory=dict)  # {language code: title}

    def title_in(self, language: str | None) -> str:
        """The title in ``language`` when the campaign has it, else the title as entered."""
        return self.title_translations.get(language or "", self.title)

    @property
    def is_open(self) -> bool:
        return self.state == "open"


_INVITATION_USED_MESSAGE = "This invitation link has already been used to submit a response. Each invitation can be used once."


def _access(session: Session, campaign: SurveyCampaign, invitation: SurveyInvitation | None, now: datetime | None) -> CampaignAccess:
    state, message = campaign_state(campaign, now)
    if state == "open" and invitation is not None and invitation.used_at is not None:
        state, message = "used", _INVITATION_USED_MESSAGE
    return CampaignAccess(campaign.id, invitation.id if invitation else None, campaign.instrument_id, campaign.title,
                          campaign.anonymous, state, message, campaign.default_language, dict(campaign.title_translations or {}))


def open_by_link(engine: Engine, token: str, now: datetime | None = None) -> CampaignAccess | None:
    """The campaign an open link token opens (None for an unknown token)."""
    if not token or len(token) > 200:
        return None
    with read_session(engine) as session:
        campaign = session.scalar(select(SurveyCampaign).where(SurveyCampaign.link_token_hash == digest(token)))
        return _access(session, campaign, None, now) if campaign is not None else None


def open_by_invitation(engine: Engine, token: str, now: datetime | None = None) -> CampaignAccess | None:
    """The campaign and invitation a single-use token opens (None for an unknown token)."""
    if not token or len(token) > 200:
        return None
    with read_session(engine) as session:
        invitation = session.scalar(select(SurveyInvitation).where(SurveyInvitation.token_hash == digest(token)))
        if invitation is None:
            return None
        return _access(session, session.get(SurveyCampaign, invitation.campaign_id), invitation, now)


def campaign_access(engine: Engine, campaign_id: int, invitation_id: int | None = None, now: datetime | None = None) -> CampaignAccess:
    """The current state of a campaign already opened (for example before saving or submitting)."""
    with read_session(engine) as session:
        campaign = session.get(SurveyCampaign, campaign_id)
        if campaign is None:
            raise SurveyError("This survey no longer exists.")
        invitation = session.get(SurveyInvitation, invitation_id) if invitation_id is not None else None
        return _access(session, campaign, invitation, now)


# --------------------------------------------------------------------------- drafts


def _check_draft_size(state: Mapping[str, Any]) -> dict[str, Any]:
    try:
        text = json.dumps(state, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError) as error:
        raise SurveyError(f"the draft cannot be saved: {error}") from None
    if len(text.encode("utf-8")) > MAX_DRAFT_BYTES:
        raise SurveyError("the draft is too large to save; shorten the longest text answers")
    return json.loads(text)


def save_draft(engine: Engine, access: CampaignAccess, state: Mapping[str, Any], resume_code: str | None = None,
               now: datetime | None = None) -> str:
    """Save the form state (JSON-able) and return its resume code.

    Saving again with the same resume code updates that draft; otherwise a new code is made.
    """
    saved = _check_draft_size(state)
    with write_session(engine) as session:
        campaign = session.get(SurveyCampaign, access.campaign_id)
        if campaign is None:
            raise SurveyError("This survey no longer exists.")
        current, message = campaign_state(campaign, now)
        if current != "open":
            raise CampaignNotOpen(message)
        draft = None
        if resume_code:
            hashed = code_digest(resume_code)
            draft = session.scalar(select(SurveyDraft).where(SurveyDraft.resume_hash == hashed)) if hashed else None
            if draft is not None and draft.campaign_id != access.campaign_id:
                draft = None
        if draft is not None:
            draft.answers = saved
            draft.updated_at = moment_or_now(now)
            return _grouped(resume_code)
        code = new_code()
        session.add(SurveyDraft(campaign_id=access.campaign_id, invitation_id=access.invitation_id,
                                resume_hash=digest(code), answers=saved))
        return code


def _grouped(code: str) -> str:
    return normalise_code(code) or code


@dataclass(frozen=True)
class ResumedDraft:
    access: CampaignAccess
    state: dict[str, Any]
    resume_code: str
    updated_at: datetime


def resume_draft(engine: Engine, code: str, now: datetime | None = None) -> ResumedDraft | None:
    """The draft a resume code opens, or None (an unknown or malformed code opens nothing)."""
    hashed = code_digest(code)
    if hashed is None:
        return None
    with read_session(engine) as session:
        draft = session.scalar(select(SurveyDraft).where(SurveyDraft.resume_hash == hashed))
        if draft is None:
            return None
        campaign = session.get(SurveyCampaign, draft.campaign_id)
        invitation = session.get(SurveyInvitation, draft.invitation_id) if draft.invitation_id else None
        access = _access(session, campaign, invitation, now)
        return ResumedDraft(access, dict(draft.answers), _grouped(code), as_utc(draft.updated_at))


# --------------------------------------------------------------------------- reading submissions


@dataclass(frozen=True)
class SubmittedRecord:
    response_id: int
    submitted_at: datetime
    instrument: StoredInstrument
    campaign_title: str | None
    document: dict[str, Any]
    language: str | None = None  # the language it was answered in (None if not recorded)


def _records(session: Session, responses: Sequence[SurveyResponse]) -> list[SubmittedRecord]:
    records = []
    for response in responses:
        campaign = session.get(SurveyCampaign, response.campaign_id) if response.campaign_id else None
        records.append(SubmittedRecord(response.id, as_utc(response.submitted_at), _stored(session.get(SurveyInstrument, response.instrument_id)),
                                       campaign.title if campaign else None, dict(response.document), response.language))
    return records


def submission_by_receipt(engine: Engine, receipt_code: str) -> SubmittedRecord | None:
    """The response a receipt code belongs to (None for an unknown or malformed code)."""
    hashed = code_digest(receipt_code)
    if hashed is None:
        return None
    with read_session(engine) as session:
        response = session.scalar(select(SurveyResponse).where(SurveyResponse.receipt_hash == hashed))
        return _records(session, [response])[0] if response is not None else None


@guarded("survey.own_submissions")
def submissions_for_respondent(engine: Engine, respondent_id: str, keyring: PseudonymKeyRing, *, actor: Any = None) -> list[SubmittedRecord]:
    """Responses stored under ``respondent_id``'s pseudonym with any key in ``keyring`` (so
    responses from before a key rotation are found too), newest first."""
    pseudonyms = pseudonym_candidates(respondent_id, keyring)
    with read_session(engine) as session:
        responses = session.scalars(select(SurveyResponse).where(SurveyResponse.respondent.in_(pseudonyms))
                                    .order_by(SurveyResponse.submitted_at.desc(), SurveyResponse.id.desc())).all()
        return _records(session, responses)


def technology_names(engine: Engine, technology_ids: Iterable[object]) -> dict[str, str]:
    """Names of catalogue technologies by id as text (the survey engine's technology keys)."""
    ids = sorted({int(t) for t in technology_ids if str(t).isdigit()})
    if not ids:
        return {}
    with read_session(engine) as session:
        return {str(i): name for i, name in session.execute(select(Technology.id, Technology.name).where(Technology.id.in_(ids))).all()}


def answer_text(instrument: Instrument, variable: str, value: object, language: str | None = None) -> str:
    """An answer as a person reads it (in ``language``; default: the instrument's): choice labels, units, yes/no."""
    _, slot = instrument.slot(variable)
    field = slot.field
    values = value if isinstance(value, list) else [value]
    if field.type in (FieldType.SINGLE_CHOICE, FieldType.DROPDOWN, FieldType.MULTIPLE_CHOICE, FieldType.MATRIX, FieldType.YES_NO,
                      FieldType.RATING_5, FieldType.RATING_9) and (field.effective_choices() or field.type is FieldType.YES_NO):
        return "; ".join(choice_text(field, format_value(v), language) for v in values)
    text = "; ".join(format_value(v) for v in values)
    return f"{text} {field.unit}" if field.unit else text


def document_rows(instrument: Instrument, document: Mapping[str, Any], names: Mapping[str, str] | None = None,
                  language: str | None = None) -> pd.DataFrame:
    """A submitted (or about to be submitted) document as rows: section, technology, question, answer
    (texts in ``language``, the instrument's default language when None)."""
    names = names or {}
    records = []
    shared = document.get("answers", {})
    per_technology = document.get("technologies", {})
    for section in instrument.sections:
        blocks = ([(str(t), values) for t, values in per_technology.items()] if section.repeat_per_technology else [("", shared)])
        for technology_id, values in blocks:
            for slot in section.answer_slots():
                if slot.variable in values:
                    label = slot.text(language)
                    if slot.field.type is FieldType.MATRIX:
                        label = f"{slot.field.text('label', language)} — {label}"
                    records.append({"section": section.text("title", language),
                                    "technology": names.get(technology_id, technology_id), "question": label,
                                    "answer": answer_text(instrument, slot.variable, values[slot.variable], language)})
    return pd.DataFrame(records, columns=["section", "technology", "question", "answer"])


# --------------------------------------------------------------------------- deleting responses


def _delete_responses(session: Session, response_ids: Sequence[int]) -> tuple[int, int]:
    """Delete responses with their answers and the drafts of the invitations they used, in the
    caller's transaction; returns (responses, drafts) deleted. The invitations stay used."""
    if not response_ids:
        return 0, 0
    invitation_ids = list(session.scalars(select(SurveyInvitation.id).where(SurveyInvitation.response_id.in_(response_ids))))
    drafts = 0
    if invitation_ids:
        drafts = session.execute(delete(SurveyDraft).where(SurveyDraft.invitation_id.in_(invitation_ids))).rowcount or 0
        session.execute(update(SurveyInvitation).where(SurveyInvitation.id.in_(invitation_ids)).values(response_id=None))
    session.execute(delete(SurveyAnswer).where(SurveyAnswer.response_id.in_(response_ids)))
    note_change(session, RESPONSES, response_ids)
    responses = session.execute(delete(SurveyResponse).where(SurveyResponse.id.in_(response_ids))).rowcount or 0
    return responses, drafts


@dataclass(frozen=True)
class DeletedResponse:
    response_id: int
    instrument_title: str
    answers: int


def delete_response_by_receipt(engine: Engine, receipt_code: str) -> DeletedResponse | None:
    """A respondent withdraws their own response: delete it (and its answers) by its receipt code.

    The receipt code is the credential, so no role is checked. Returns what was deleted, or None
    for an unknown or malformed code. Audited as ``response_delete`` by the respondent (their
    pseudonym for an identified response, else "anonymous"); the analysis data version is bumped.
    Organisations and adoption records an adoption return created are kept: they describe
    organisations, not the respondent, and other returns may confirm them.
    """
    hashed = code_digest(receipt_code)
    if hashed is None:
        return None
    with write_session(engine) as session:
        response = session.scalar(select(SurveyResponse).where(SurveyResponse.receipt_hash == hashed))
        if response is None:
            return None
        title = session.scalar(select(SurveyInstrument.title).where(SurveyInstrument.id == response.instrument_id)) or ""
        answers = session.scalar(select(func.count()).select_from(SurveyAnswer).where(SurveyAnswer.response_id == response.id)) or 0
        deleted = DeletedResponse(response.id, title, int(answers))
        actor, role = (response.respondent, "respondent") if response.respondent else ("anonymous", None)
        campaign_id = response.campaign_id
        session.expunge(response)
        _delete_responses(session, [deleted.response_id])
        record_audit(session, actor, role, "response_delete", f"response:{deleted.response_id}", "success",
                     {"campaign_id": campaign_id, "answers": deleted.answers, "by": "receipt_code"})
        bump_data_version(session)
        return deleted


# --------------------------------------------------------------------------- retention and erasure


def free_text_variables(instrument: Instrument) -> frozenset[str]:
    """Variables whose answers are typed free text (short and long text questions), and the
    calculated fields that read them (a calculation may copy the text)."""
    typed = frozenset(slot.variable for _, slot in instrument.answer_slots() if slot.field.type in TEXT_TYPES)
    return typed | instrument.calculated_from(typed)


def _without_free_text(document: Mapping[str, Any], variables: frozenset[str]) -> dict[str, Any] | None:
    """``document`` with the free-text answers removed, or None when it holds none."""
    answers = {k: v for k, v in document.get("answers", {}).items() if k not in variables}
    technologies = {t: {k: v for k, v in values.items() if k not in variables} for t, values in document.get("technologies", {}).items()}
    changed = len(answers) != len(document.get("answers", {})) or any(
        len(values) != len(document["technologies"][t]) for t, values in technologies.items())
    if not changed:
        return None
    return {**document, "answers": answers, "technologies": technologies}


def purge_survey_data(session: Session, cutoff: datetime) -> int:
    """Retention: delete drafts last saved before ``cutoff`` and remove the raw free-text answers
    (short and long text questions) of responses submitted before it, from both the stored
    document and the long-format answer rows. Returns drafts deleted + responses blanked."""
    drafts = session.execute(delete(SurveyDraft).where(SurveyDraft.updated_at < cutoff)).rowcount or 0
    blanked = 0
    for row in session.scalars(select(SurveyInstrument)):
        variables = free_text_variables(_stored(row).instrument)
        if not variables:
            continue
        old = session.execute(select(SurveyResponse.id, SurveyResponse.document).where(
            SurveyResponse.instrument_id == row.id, SurveyResponse.submitted_at < cutoff)).all()
        for response_id, document in old:
            cleaned = _without_free_text(document, variables)
            if cleaned is None:
                continue
            session.execute(update(SurveyResponse).where(SurveyResponse.id == response_id).values(document=cleaned))
            session.execute(delete(SurveyAnswer).where(SurveyAnswer.response_id == response_id, SurveyAnswer.variable.in_(variables)))
            note_change(session, RESPONSES, [response_id])
            blanked += 1
    if blanked:
        bump_data_version(session)
    return drafts + blanked


def erase_survey_respondent(session: Session, subject: ErasureSubject) -> int:
    """Erasure: delete every response stored under one of the subject's pseudonyms (any key
    version), with its answers and the drafts of the invitation it used. Returns rows deleted
    (responses + drafts). Anonymous responses hold no pseudonym and cannot be found this way:
    their respondents delete them with their receipt codes."""
    if not subject.pseudonyms:
        return 0
    ids = list(session.scalars(select(SurveyResponse.id).where(SurveyResponse.respondent.in_(subject.pseudonyms))))
    responses, drafts = _delete_responses(session, ids)
    if responses:
        bump_data_version(session)
    return responses + drafts


RETENTION_HOOKS.append(RetentionHook("surveys", purge_survey_data, erase_survey_respondent))
