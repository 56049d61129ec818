"""Survey evidence: published instruments, campaigns, invitations, drafts, responses and answers.

Secrets (open-link tokens, invitation tokens, resume codes, receipt codes) are never stored:
only their SHA-256 digests, so a copy of the database does not let anyone open a campaign,
resume a draft or read a submission. Respondent identities are stored only as keyed HMAC
pseudonyms (see :mod:`storage.survey_codes`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow

DIGEST_LENGTH = 64  # hex SHA-256


class SurveyInstrument(Base):
    """One version of an instrument, as published: its full definition as JSON."""

    __tablename__ = "survey_instrument"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    # builtin | redcap | xlsform
    source: Mapped[str] = mapped_column(String(20))
    # Import warnings shown when it was imported, kept so a lead can review them later.
    import_warnings: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SurveyCampaign(Base):
    """A collection round of one instrument version: dates, access and limits."""

    __tablename__ = "survey_campaign"

    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("survey_instrument.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    opens_at: Mapped[datetime] = mapped_column(default=utcnow)
    closes_at: Mapped[datetime | None] = mapped_column()
    anonymous: Mapped[bool] = mapped_column(Boolean, default=True)
    # open (one shared link) | invitation (single-use links)
    access: Mapped[str] = mapped_column(String(20), default="open")
    link_token_hash: Mapped[str | None] = mapped_column(String(DIGEST_LENGTH), unique=True)
    response_limit: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column()
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    # ISO 639-1 code the form opens in (None: the browser's language, else the instrument's default).
    default_language: Mapped[str | None] = mapped_column(String(12))
    # The title in the instrument's other languages: {ISO 639-1 code: title}; None or {}: the one title.
    title_translations: Mapped[dict[str, str] | None] = mapped_column(JSON)


class SurveyInvitation(Base):
    """A single-use link of an invitation campaign."""

    __tablename__ = "survey_invitation"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("survey_campaign.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(DIGEST_LENGTH), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column()
    response_id: Mapped[int | None] = mapped_column(ForeignKey("survey_response.id", ondelete="SET NULL"))


class SurveyDraft(Base):
    """Answers saved part-way, reopened by a resume code."""

    __tablename__ = "survey_draft"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("survey_campaign.id", ondelete="CASCADE"), index=True)
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("survey_invitation.id", ondelete="CASCADE"))
    resume_hash: Mapped[str] = mapped_column(String(DIGEST_LENGTH), unique=True)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SurveyResponse(Base):
    """One submitted response: the validated document plus profile codes copied out for filtering."""

    __tablename__ = "survey_response"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("survey_campaign.id", ondelete="SET NULL"), index=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("survey_instrument.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    receipt_hash: Mapped[str] = mapped_column(String(DIGEST_LENGTH), unique=True)
    respondent: Mapped[str | None] = mapped_column(String(80), index=True)
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    region: Mapped[str | None] = mapped_column(String(40))
    site_type: Mapped[str | None] = mapped_column(String(40))
    staff_group: Mapped[str | None] = mapped_column(String(40))
    # app | import | demo
    source: Mapped[str] = mapped_column(String(20), default="app")
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    # ISO 639-1 code of the language the respondent answered in (None before it was recorded).
    language: Mapped[str | None] = mapped_column(String(12))


class SurveyAnswer(Base):
    """One answer in long format; a multiple-choice answer gives one row per selected code."""

    __tablename__ = "survey_answer"
    __table_args__ = (Index("ix_survey_answer_variable_technology", "variable", "technology_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("survey_response.id", ondelete="CASCADE"), index=True)
    technology_id: Mapped[int | None] = mapped_column(ForeignKey("technology.id", ondelete="CASCADE"), index=True)
    variable: Mapped[str] = mapped_column(String(100))
    value: Mapped[str] = mapped_column(Text)
