"""Case studies: a lead's write-up of a technology in use at named sites, linked to its evidence.

Writes go through :class:`CaseStudyInput` (pydantic) and one transaction each; every id the
input names is checked to exist, and a bad one is reported by field. Case studies are read back
as :class:`CaseStudyRecord` with the linked names resolved, ready for the page and the report
(which must escape every text field: it is the author's free text).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, selectinload

from storage.audit import record_audit
from storage.db import read_session, write_session
from storage.models.case_study import (
    EVIDENCE_KINDS,
    FINDINGS_MAX_LENGTH,
    METHOD_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    CaseStudy,
    CaseStudyEvidence,
    CaseStudySite,
)
from storage.models.catalogue import AdoptionRecord, Site, Technology
from storage.models.survey import SurveyCampaign
from storage.models.workshop import Workshop
from storage.permissions import guarded

EVIDENCE_KIND_LABELS = {
    "survey_campaign": "Survey campaign",
    "workshop": "Workshop",
    "catalogue_entry": "Catalogue entry",
}
# Input list field -> (evidence kind, model, label attribute, link column) for the evidence links.
_EVIDENCE_FIELDS: dict[str, tuple[str, Any, str, str]] = {
    "campaign_ids": ("survey_campaign", SurveyCampaign, "title", "campaign_id"),
    "workshop_ids": ("workshop", Workshop, "title", "workshop_id"),
    "catalogue_ids": ("catalogue_entry", Technology, "name", "technology_id"),
}
CASE_STUDY_COLUMNS = ["case_study_id", "title", "technology", "sites", "method", "findings", "evidence",
                      "is_demo", "updated_at"]


class CaseStudyError(ValueError):
    """A case study input names something that does not exist, or the case study is missing."""


def _unique_ids(values: Sequence[int]) -> list[int]:
    return list(dict.fromkeys(int(v) for v in values))


class CaseStudyInput(BaseModel):
    """What a lead writes. Text is kept exactly as typed (it is escaped wherever it is shown)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=TITLE_MAX_LENGTH)
    technology_id: int | None = None
    site_ids: list[int] = Field(default_factory=list)
    method: str = Field("", max_length=METHOD_MAX_LENGTH)
    findings: str = Field("", max_length=FINDINGS_MAX_LENGTH)
    campaign_ids: list[int] = Field(default_factory=list, description="Survey campaigns the findings draw on.")
    workshop_ids: list[int] = Field(default_factory=list, description="Workshops the findings draw on.")
    catalogue_ids: list[int] = Field(default_factory=list, description="Catalogue entries cited as evidence.")

    @field_validator("site_ids", "campaign_ids", "workshop_ids", "catalogue_ids")
    @classmethod
    def _no_repeats(cls, values: list[int]) -> list[int]:
        return _unique_ids(values)


@dataclass(frozen=True)
class EvidenceLink:
    kind: str  # survey_campaign | workshop | catalogue_entry
    target_id: int
    label: str  # the campaign or workshop title, or the technology name

    @property
    def description(self) -> str:
        return f"{EVIDENCE_KIND_LABELS[self.kind]} {self.target_id}: {self.label}"


@dataclass(frozen=True)
class CaseStudyRecord:
    case_study_id: int
    title: str
    technology_id: int | None
    technology_name: str | None
    sites: tuple[str, ...]  # "Site name (region code)"
    site_ids: tuple[int, ...]
    method: str
    findings: str
    evidence: tuple[EvidenceLink, ...]
    author_user_id: str
    is_demo: bool
    created_at: dt.datetime
    updated_at: dt.datetime

    def as_input(self) -> CaseStudyInput:
        """The stored case study in input form (for the edit form)."""
        by_kind = {kind: [link.target_id for link in self.evidence if link.kind == kind] for kind in EVIDENCE_KINDS}
        return CaseStudyInput(title=self.title, technology_id=self.technology_id, site_ids=list(self.site_ids),
                              method=self.method, findings=self.findings, campaign_ids=by_kind["survey_campaign"],
                              workshop_ids=by_kind["workshop"], catalogue_ids=by_kind["catalogue_entry"])


@dataclass(frozen=True)
class LinkOptions:
    """What a case study can link to, id -> label, for the form's choosers."""

    technologies: dict[int, str]
    sites: dict[int, str]
    campaigns: dict[int, str]
    workshops: dict[int, str]


def _site_label(site: Site) -> str:
    return f"{site.name} ({site.region})"


def link_options(engine: Engine) -> LinkOptions:
    with read_session(engine) as session:
        return LinkOptions(
            technologies=dict(session.execute(select(Technology.id, Technology.name).order_by(Technology.name)).all()),
            sites={site.id: _site_label(site) for site in session.scalars(select(Site).order_by(Site.name))},
            campaigns=dict(session.execute(select(SurveyCampaign.id, SurveyCampaign.title).order_by(SurveyCampaign.id.desc())).all()),
            workshops=dict(session.execute(select(Workshop.id, Workshop.title).order_by(Workshop.id.desc())).all()),
        )


def _check_exists(session: Session, model: Any, ids: Iterable[int], field: str) -> None:
    wanted = set(ids)
    if not wanted:
        return
    found = set(session.scalars(select(model.id).where(model.id.in_(wanted))))
    missing = sorted(wanted - found)
    if missing:
        raise CaseStudyError(f"field {field!r}: no {model.__tablename__.replace('_', ' ')} with id {', '.join(map(str, missing))}")


def _check_links(session: Session, data: CaseStudyInput) -> None:
    if data.technology_id is not None:
        _check_exists(session, Technology, [data.technology_id], "technology_id")
    _check_exists(session, Site, data.site_ids, "site_ids")
    for field, (_kind, model, _label, _column) in _EVIDENCE_FIELDS.items():
        _check_exists(session, model, getattr(data, field), field)


def _apply(case_study: CaseStudy, data: CaseStudyInput) -> None:
    case_study.title = data.title
    case_study.technology_id = data.technology_id
    case_study.method = data.method
    case_study.findings = data.findings
    case_study.sites = [CaseStudySite(site_id=site_id) for site_id in data.site_ids]
    case_study.evidence = [
        CaseStudyEvidence(kind=kind, **{column: target_id})
        for field, (kind, _model, _label, column) in _EVIDENCE_FIELDS.items()
        for target_id in getattr(data, field)
    ]


def _author(actor: Any) -> str:
    return str(getattr(actor, "user_id", None) or "system")


@guarded("case_study.manage")
def create_case_study(engine: Engine, data: CaseStudyInput, *, actor: Any = None, is_demo: bool = False) -> int:
    """Store a new case study in one transaction; returns its id. Raises CaseStudyError naming the
    field of an id that does not exist."""
    with write_session(engine) as session:
        _check_links(session, data)
        case_study = CaseStudy(author_user_id=_author(actor), is_demo=is_demo)
        _apply(case_study, data)
        session.add(case_study)
        session.flush()
        record_audit(session, actor, None, "case_study_create", f"case_study:{case_study.id}", "success", _audit_details(data))
        return case_study.id


def _stored(session: Session, case_study_id: int) -> CaseStudy:
    case_study = session.get(CaseStudy, case_study_id)
    if case_study is None:
        raise CaseStudyError(f"no case study with id {case_study_id}")
    return case_study


@guarded("case_study.manage")
def update_case_study(engine: Engine, case_study_id: int, data: CaseStudyInput, *, actor: Any = None) -> None:
    """Replace a case study's text and links in one transaction."""
    with write_session(engine) as session:
        case_study = _stored(session, case_study_id)
        _check_links(session, data)
        # Old links go first so a site kept in the new list does not clash with its old row.
        case_study.sites.clear()
        case_study.evidence.clear()
        session.flush()
        _apply(case_study, data)
        record_audit(session, actor, None, "case_study_update", f"case_study:{case_study_id}", "success", _audit_details(data))


@guarded("case_study.manage")
def delete_case_study(engine: Engine, case_study_id: int, *, actor: Any = None) -> None:
    with write_session(engine) as session:
        session.delete(_stored(session, case_study_id))
        record_audit(session, actor, None, "case_study_delete", f"case_study:{case_study_id}", "success")


def _audit_details(data: CaseStudyInput) -> dict:
    """What the case study links to, by id only (its title and text are free text, never audited)."""
    return {"technology_id": data.technology_id, "sites": len(data.site_ids),
            "evidence_links": len(data.campaign_ids) + len(data.workshop_ids) + len(data.catalogue_ids)}


@guarded("analysis.read")
def list_case_studies(engine: Engine, *, actor: Any = None) -> list[CaseStudyRecord]:
    """Every case study, newest first, with technology, site and evidence names resolved."""
    with read_session(engine) as session:
        stored = session.scalars(
            select(CaseStudy).options(selectinload(CaseStudy.sites), selectinload(CaseStudy.evidence))
            .order_by(CaseStudy.created_at.desc(), CaseStudy.id.desc())
        ).all()
        labels = _link_labels(session, stored)
        return [
            CaseStudyRecord(
                case_study_id=case.id,
                title=case.title,
                technology_id=case.technology_id,
                technology_name=labels["technology"].get(case.technology_id) if case.technology_id else None,
                sites=tuple(labels["site"][link.site_id] for link in case.sites),
                site_ids=tuple(link.site_id for link in case.sites),
                method=case.method,
                findings=case.findings,
                evidence=tuple(EvidenceLink(link.kind, _target(link), labels[link.kind][_target(link)])
                               for link in case.evidence),
                author_user_id=case.author_user_id,
                is_demo=bool(case.is_demo),
                created_at=case.created_at,
                updated_at=case.updated_at,
            )
            for case in stored
        ]


def _target(link: CaseStudyEvidence) -> int:
    column = next(column for _f, (kind, _m, _l, column) in _EVIDENCE_FIELDS.items() if kind == link.kind)
    return int(getattr(link, column))


def _link_labels(session: Session, stored: Sequence[CaseStudy]) -> dict[str, dict[int, str]]:
    """Names of every linked object, fetched with one query per kind."""
    technology_ids = {case.technology_id for case in stored if case.technology_id} | {
        link.technology_id for case in stored for link in case.evidence if link.technology_id}
    site_ids = {link.site_id for case in stored for link in case.sites}
    labels: dict[str, dict[int, str]] = {
        "technology": dict(session.execute(select(Technology.id, Technology.name).where(Technology.id.in_(technology_ids))).all()),
        "site": {site.id: _site_label(site) for site in session.scalars(select(Site).where(Site.id.in_(site_ids)))},
    }
    for kind, model, label, column in _EVIDENCE_FIELDS.values():
        ids = {getattr(link, column) for case in stored for link in case.evidence if link.kind == kind}
        labels[kind] = dict(session.execute(select(model.id, getattr(model, label)).where(model.id.in_(ids))).all())
    return labels


def case_studies_frame(records: Sequence[CaseStudyRecord]) -> pd.DataFrame:
    """One row per case study for export (columns CASE_STUDY_COLUMNS; lists joined with "; ")."""
    return pd.DataFrame(
        [{
            "case_study_id": record.case_study_id,
            "title": record.title,
            "technology": record.technology_name or "",
            "sites": "; ".join(record.sites),
            "method": record.method,
            "findings": record.findings,
            "evidence": "; ".join(link.description for link in record.evidence),
            "is_demo": record.is_demo,
            "updated_at": record.updated_at,
        } for record in records],
        columns=CASE_STUDY_COLUMNS,
    )


# --- demonstration data ------------------------------------------------------------------------


def load_demo_case_studies(engine: Engine, catalogue_skipped: bool = False) -> dict[str, int]:
    """One demonstration case study about the demo technology live at the most sites, linked to
    the demo survey campaigns and workshops (registered in DEMO_EVIDENCE_LOADERS). Idempotent:
    does nothing when a demo case study exists or there is no demo catalogue."""
    with read_session(engine) as session:
        if session.scalar(select(CaseStudy.id).where(CaseStudy.is_demo.is_(True)).limit(1)) is not None:
            return {"case_studies": 0}
        live = session.execute(
            select(AdoptionRecord.technology_id, AdoptionRecord.site_id)
            .join(Technology, Technology.id == AdoptionRecord.technology_id)
            .where(Technology.is_demo.is_(True), AdoptionRecord.status.in_(("live", "scaled")),
                   AdoptionRecord.end_date.is_(None))
            .order_by(AdoptionRecord.technology_id, AdoptionRecord.site_id)
        ).all()
        if not live:
            return {"case_studies": 0}
        sites_by_technology: dict[int, list[int]] = {}
        for technology_id, site_id in live:
            sites_by_technology.setdefault(technology_id, []).append(site_id)
        # Most live sites first; the smallest id breaks ties, so the choice is reproducible.
        technology_id = min(sites_by_technology, key=lambda t: (-len(sites_by_technology[t]), t))
        name = session.scalar(select(Technology.name).where(Technology.id == technology_id))
        campaigns = list(session.scalars(select(SurveyCampaign.id).where(SurveyCampaign.is_demo.is_(True)).order_by(SurveyCampaign.id)))
        workshops = list(session.scalars(select(Workshop.id).where(Workshop.is_demo.is_(True)).order_by(Workshop.id)))
    site_ids = sites_by_technology[technology_id][:3]
    data = CaseStudyInput(
        title=f"Demo: early results from {name.removeprefix('Demo: ')}",
        technology_id=technology_id,
        site_ids=site_ids,
        method="Demonstration case study (synthetic). Each site compared four weeks before go-live with four weeks "
               "after: staff time per case from job plans, and a short staff survey on confidence and training.",
        findings="Staff reported time saved on routine cases and asked for product-specific training before "
                 "go-live. One site paused use during a system upgrade and resumed after retraining.",
        campaign_ids=campaigns,
        workshop_ids=workshops,
        catalogue_ids=[technology_id],
    )
    create_case_study(engine, data, actor=None, is_demo=True)
    return {"case_studies": 1}
