"""Case studies written by leads (issue 5, view 8): a technology's use at named sites, with the
method, the findings and links to the evidence behind them (survey campaigns, workshops and
catalogue entries). Case studies are text for people; they are not evidence for the estimates.
"""

from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base, TimestampMixin

TITLE_MAX_LENGTH = 200
METHOD_MAX_LENGTH = 5_000
FINDINGS_MAX_LENGTH = 10_000
EVIDENCE_KINDS = ("survey_campaign", "workshop", "catalogue_entry")


class CaseStudy(TimestampMixin, Base):
    __tablename__ = "case_study"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(TITLE_MAX_LENGTH))
    # The technology the case study is about; kept (as NULL) if the technology is deleted.
    technology_id: Mapped[int | None] = mapped_column(ForeignKey("technology.id", ondelete="SET NULL"), index=True)
    method: Mapped[str] = mapped_column(Text, default="")
    findings: Mapped[str] = mapped_column(Text, default="")
    # Identity.user_id of the lead who wrote it (an identifier, never a name).
    author_user_id: Mapped[str] = mapped_column(String(120))
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)

    sites: Mapped[list[CaseStudySite]] = relationship(
        back_populates="case_study", cascade="all, delete-orphan", order_by="CaseStudySite.site_id"
    )
    evidence: Mapped[list[CaseStudyEvidence]] = relationship(
        back_populates="case_study", cascade="all, delete-orphan", order_by="CaseStudyEvidence.id"
    )


class CaseStudySite(Base):
    """A site where the case study took place."""

    __tablename__ = "case_study_site"
    __table_args__ = (UniqueConstraint("case_study_id", "site_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_study_id: Mapped[int] = mapped_column(ForeignKey("case_study.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"), index=True)

    case_study: Mapped[CaseStudy] = relationship(back_populates="sites")


class CaseStudyEvidence(Base):
    """A link from a case study to one piece of evidence: exactly one of the three targets is
    set, matching ``kind``. A deleted target deletes the link (the case study stays)."""

    __tablename__ = "case_study_evidence"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'survey_campaign' AND campaign_id IS NOT NULL AND workshop_id IS NULL AND technology_id IS NULL)"
            " OR (kind = 'workshop' AND workshop_id IS NOT NULL AND campaign_id IS NULL AND technology_id IS NULL)"
            " OR (kind = 'catalogue_entry' AND technology_id IS NOT NULL AND campaign_id IS NULL AND workshop_id IS NULL)",
            name="one_target",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_study_id: Mapped[int] = mapped_column(ForeignKey("case_study.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("survey_campaign.id", ondelete="CASCADE"), index=True)
    workshop_id: Mapped[int | None] = mapped_column(ForeignKey("workshop.id", ondelete="CASCADE"), index=True)
    technology_id: Mapped[int | None] = mapped_column(ForeignKey("technology.id", ondelete="CASCADE"), index=True)

    case_study: Mapped[CaseStudy] = relationship(back_populates="evidence")
