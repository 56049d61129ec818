"""The technology catalogue, its editable vocabularies, sites and adoption records (DESIGN.md section 3)."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base, TimestampMixin, utcnow


class VocabularyTerm(Base):
    """One entry of an editable vocabulary (technology types, clinical areas, regions...).

    Codes are stable identifiers referenced by catalogue rows and survey answers; labels,
    order and the active flag are what leads edit. Subtypes point at their type via ``parent_code``.
    """

    __tablename__ = "vocabulary_term"
    __table_args__ = (UniqueConstraint("vocabulary", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vocabulary: Mapped[str] = mapped_column(String(40), index=True)
    code: Mapped[str] = mapped_column(String(80))
    label: Mapped[str] = mapped_column(String(200))
    parent_code: Mapped[str | None] = mapped_column(String(80))
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class FdaPanelCrosswalk(Base):
    """Maps an FDA review panel (a regulatory panel, not a specialty) to a clinical area code."""

    __tablename__ = "fda_panel_crosswalk"

    id: Mapped[int] = mapped_column(primary_key=True)
    panel: Mapped[str] = mapped_column(String(120), unique=True)
    clinical_area: Mapped[str] = mapped_column(String(80))


def technology_identity(name: str, company: str | None) -> str:
    """The digest that keeps a technology's (name, company) unique. The pair itself cannot be
    indexed: real registers have names and companies of thousands of characters, and a PostgreSQL
    index entry holds at most about 2,700 bytes."""
    return hashlib.sha256(json.dumps([name, company or ""], ensure_ascii=False).encode("utf-8")).hexdigest()


class Technology(TimestampMixin, Base):
    __tablename__ = "technology"
    __table_args__ = (UniqueConstraint("identity_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Free text has no length limit here; TechnologyInput (storage.catalogue) sets generous ones.
    name: Mapped[str] = mapped_column(Text)
    company: Mapped[str] = mapped_column(Text, default="")
    # technology_identity(name, company): set on every ORM write by the events below, and by bulk writers.
    identity_key: Mapped[str] = mapped_column(String(64))
    short_description: Mapped[str] = mapped_column(Text, default="")
    long_description: Mapped[str] = mapped_column(Text, default="")
    type_code: Mapped[str | None] = mapped_column(String(80))
    subtype_code: Mapped[str | None] = mapped_column(String(80))
    ai_technique: Mapped[str] = mapped_column(Text, default="")
    input_data_type: Mapped[str] = mapped_column(Text, default="")
    time_to_deployment: Mapped[str | None] = mapped_column(String(40))
    impact_workforce: Mapped[str | None] = mapped_column(String(40))
    impact_pathway: Mapped[str | None] = mapped_column(String(40))
    impact_system: Mapped[str | None] = mapped_column(String(40))
    ukca_ce_class: Mapped[str | None] = mapped_column(String(20))
    ukca_ce_regime: Mapped[str | None] = mapped_column(String(20))
    fda_pathway: Mapped[str | None] = mapped_column(String(20))
    fda_submission_number: Mapped[str | None] = mapped_column(String(40))
    fda_decision_date: Mapped[date | None] = mapped_column(Date)
    nice_esf_tier: Mapped[str | None] = mapped_column(String(4))
    evidence_level: Mapped[str | None] = mapped_column(String(4))
    # Where the record came from: manual, template import, fda import, demo.
    source: Mapped[str] = mapped_column(String(40), default="manual")
    source_detail: Mapped[str] = mapped_column(String(300), default="")
    needs_classification: Mapped[bool] = mapped_column(Boolean, default=False)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    last_reviewed: Mapped[date | None] = mapped_column(Date)

    links: Mapped[list[TechnologyLink]] = relationship(
        back_populates="technology", cascade="all, delete-orphan", order_by="TechnologyLink.id"
    )
    external_ids: Mapped[list[ExternalId]] = relationship(
        back_populates="technology", cascade="all, delete-orphan", order_by="ExternalId.id"
    )
    adoptions: Mapped[list[AdoptionRecord]] = relationship(back_populates="technology", cascade="all, delete-orphan")


@event.listens_for(Technology, "before_insert")
@event.listens_for(Technology, "before_update")
def _set_identity_key(_mapper, _connection, technology: Technology) -> None:  # noqa: ANN001
    technology.identity_key = technology_identity(technology.name, technology.company)


class TechnologyLink(Base):
    """A multi-valued classification of a technology: clinical area, workforce group or point of care."""

    __tablename__ = "technology_link"
    __table_args__ = (UniqueConstraint("technology_id", "kind", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    technology_id: Mapped[int] = mapped_column(ForeignKey("technology.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    code: Mapped[str] = mapped_column(String(80))
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)

    technology: Mapped[Technology] = relationship(back_populates="links")


class ExternalId(Base):
    """An identifier in another register (FDA submission number, a catalogue's own id...)."""

    __tablename__ = "external_id"
    __table_args__ = (UniqueConstraint("scheme", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    technology_id: Mapped[int] = mapped_column(ForeignKey("technology.id", ondelete="CASCADE"), index=True)
    scheme: Mapped[str] = mapped_column(String(40))
    value: Mapped[str] = mapped_column(String(120))

    technology: Mapped[Technology] = relationship(back_populates="external_ids")


class Site(TimestampMixin, Base):
    """An organisation or site that adopts technologies."""

    __tablename__ = "site"
    __table_args__ = (UniqueConstraint("name", "region"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    ods_code: Mapped[str | None] = mapped_column(String(12), unique=True)
    site_type: Mapped[str] = mapped_column(String(40))
    region: Mapped[str] = mapped_column(String(40))
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)

    adoptions: Mapped[list[AdoptionRecord]] = relationship(back_populates="site")


class AdoptionRecord(Base):
    """The current adoption status of one technology at one site, with its dates."""

    __tablename__ = "adoption_record"
    __table_args__ = (UniqueConstraint("technology_id", "site_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    technology_id: Mapped[int] = mapped_column(ForeignKey("technology.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(40), default="manual")
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    technology: Mapped[Technology] = relationship(back_populates="adoptions")
    site: Mapped[Site] = relationship(back_populates="adoptions")


class DataVersion(Base):
    """A counter bumped in the same transaction as every change to evidence or catalogue.

    Cached analysis is keyed on it, so a new response shows on the next render.
    """

    __tablename__ = "data_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A random number drawn at every bump: (version, token) names one state of the data, even
    # when a restored backup or a reset database reaches the same version number again.
    token: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class DataChange(Base):
    """What one data version changed (storage/change_log.py): a kind (``responses``,
    ``technologies``, ``catalogue``, ``workshops``, ``all`` or ``none``) and, for the first two and
    workshops, a range of ids. Caches of other processes read it to refresh only what changed."""

    __tablename__ = "data_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, index=True)
    token: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(20))
    first_id: Mapped[int | None] = mapped_column(Integer)
    last_id: Mapped[int | None] = mapped_column(Integer)


class CatalogueRevision(Base):
    """The catalogue's history, part of the audit trail: what a technology's classification and
    desk assessment were from ``recorded_at`` on. One row is appended in the same transaction as
    every create, update, import and delete (never changed or deleted: the migration installs
    triggers refusing both). ``kind`` "baseline" rows hold the state found when the history began,
    for records older than it. Links are JSON: {"clinical_area": [...], "workforce_group": [...],
    "primary_workforce_group": code or null, "point_of_care": [...]}.
    """

    __tablename__ = "catalogue_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    technology_id: Mapped[int] = mapped_column(Integer, index=True)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(10))  # baseline | create | update | delete
    created_at: Mapped[datetime | None] = mapped_column()  # the technology's own creation time
    name: Mapped[str | None] = mapped_column(Text)
    type_code: Mapped[str | None] = mapped_column(String(80))
    subtype_code: Mapped[str | None] = mapped_column(String(80))
    time_to_deployment: Mapped[str | None] = mapped_column(String(40))
    impact_workforce: Mapped[str | None] = mapped_column(String(40))
    impact_pathway: Mapped[str | None] = mapped_column(String(40))
    impact_system: Mapped[str | None] = mapped_column(String(40))
    last_reviewed: Mapped[date | None] = mapped_column(Date)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    links: Mapped[str] = mapped_column(Text, default="{}")
