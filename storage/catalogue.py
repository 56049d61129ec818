"""Catalogue repository: the validated technology record, reads for the browser, and writes.

``TechnologyInput`` is the one boundary model for a technology, used by the edit form, the
importers and the demo generator, so every path checks the same rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator
from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.orm import Session, selectinload

from storage.audit import record_audit
from storage.catalogue_history import record_revisions
from storage.change_log import CATALOGUE, TECHNOLOGIES, bump_data_version, note_change
from storage.db import read_session, write_session
from storage.models import AdoptionRecord, DataVersion, ExternalId, Site, Technology, TechnologyLink
from storage.models.catalogue import technology_identity
from storage.models.base import utcnow
from storage.permissions import guarded

UKCA_CE_CLASSES = ("I", "IIa", "IIb", "III", "A", "B", "C", "D", "none")
UKCA_CE_REGIMES = ("MDD", "MDR", "IVDR")
FDA_PATHWAYS = ("510k", "de_novo", "pma")
FDA_PATHWAY_LABELS = {"510k": "510(k)", "de_novo": "De Novo", "pma": "PMA"}
# Longest text accepted per field, in characters: above what real registers hold (the FDA list's
# device names reach 438 characters, lists of models joined by semicolons). The database has no limit.
TEXT_LIMITS = {
    "name": 2_000,
    "company": 2_000,
    "short_description": 20_000,
    "long_description": 100_000,
    "ai_technique": 2_000,
    "input_data_type": 2_000,
    "catalogue_id": 120,
    "fda_submission_number": 40,
}
LINK_KINDS = ("clinical_area", "workforce_group", "point_of_care")
# Vocabulary each coded field must come from.
CODED_FIELDS = {
    "type_code": "technology_type",
    "subtype_code": "technology_subtype",
    "time_to_deployment": "deployment_horizon",
    "impact_workforce": "impact_level",
    "impact_pathway": "impact_level",
    "impact_system": "impact_level",
    "nice_esf_tier": "nice_esf_tier",
    "evidence_level": "evidence_level",
}
CODED_LIST_FIELDS = {
    "clinical_areas": "clinical_area",
    "workforce_groups": "workforce_group",
    "points_of_care": "point_of_care",
}


class TechnologyInput(BaseModel):
    """A technology as entered or imported. Codes are checked against the vocabularies
    passed in the validation context (``{"codes": {vocabulary: set(codes)}, "subtype_parents": {...}}``)."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    name: str = Field(max_length=TEXT_LIMITS["name"])
    company: str = Field(default="", max_length=TEXT_LIMITS["company"])
    short_description: str = Field(default="", max_length=TEXT_LIMITS["short_description"])
    long_description: str = Field(default="", max_length=TEXT_LIMITS["long_description"])
    type_code: str | None = None
    subtype_code: str | None = None
    ai_technique: str = Field(default="", max_length=TEXT_LIMITS["ai_technique"])
    input_data_type: str = Field(default="", max_length=TEXT_LIMITS["input_data_type"])
    clinical_areas: list[str] = Field(default_factory=list)
    workforce_groups: list[str] = Field(default_factory=list)
    primary_workforce_group: str | None = None
    points_of_care: list[str] = Field(default_factory=list)
    time_to_deployment: str | None = None
    impact_workforce: str | None = None
    impact_pathway: str | None = None
    impact_system: str | None = None
    ukca_ce_class: str | None = None
    ukca_ce_regime: str | None = None
    fda_pathway: str | None = None
    fda_submission_number: str | None = Field(default=None, max_length=TEXT_LIMITS["fda_submission_number"])
    fda_decision_date: date | None = None
    nice_esf_tier: str | None = None
    evidence_level: str | None = None
    source: str = "manual"
    source_detail: str = Field(default="", max_length=300)
    catalogue_id: str | None = Field(default=None, max_length=TEXT_LIMITS["catalogue_id"])
    needs_classification: bool = False
    is_demo: bool = False
    last_reviewed: date | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_none(cls, value, info: ValidationInfo):  # noqa: ANN001
        if isinstance(value, str) and value.strip() == "" and info.field_name not in _TEXT_FIELDS:
            return None
        return value

    @field_validator("name")
    @classmethod
    def _name_required(cls, value: str) -> str:
        if not value:
            raise ValueError("a name is required")
        return value

    @field_validator("clinical_areas", "workforce_groups", "points_of_care")
    @classmethod
    def _unique_list(cls, value: list[str]) -> list[str]:
        seen: list[str] = []
        for item in value:
            item = item.strip()
            if item and item not in seen:
                seen.append(item)
        return seen

    @field_validator("ukca_ce_class", mode="before")
    @classmethod
    def _ce_class(cls, value: object) -> object:
        if not isinstance(value, str) or not value.strip():
            return value
        known = _spelled_as(_CE_CLASS_PREFIX.sub("", value.strip()), UKCA_CE_CLASSES)  # "Class IIa" as well as "IIa"
        if known is None:
            raise ValueError(f"'{value}' is not a UKCA/CE class: use one of {', '.join(UKCA_CE_CLASSES)} (\"Class IIa\" is fine)")
        return known

    @field_validator("ukca_ce_regime", mode="before")
    @classmethod
    def _ce_regime(cls, value: object) -> object:
        if not isinstance(value, str) or not value.strip():
            return value
        known = _spelled_as(value, UKCA_CE_REGIMES)
        if known is None:
            raise ValueError(f"must be one of {', '.join(UKCA_CE_REGIMES)}")
        return known

    @field_validator("fda_pathway", mode="before")
    @classmethod
    def _fda_pathway(cls, value: object) -> object:
        if not isinstance(value, str) or not value.strip():
            return value
        code = fda_pathway_code(value)
        if code is None:
            raise ValueError(f"'{value}' is not an FDA pathway: use 510(k), De Novo or PMA (as registers spell them, "
                             "e.g. \"510(k) cleared\" or \"PMA approved\")")
        return code

    @field_validator("fda_submission_number", mode="before")
    @classmethod
    def _fda_number(cls, value: object) -> object:
        # A register may write the pathway into the cell too: "PMA P150043".
        if isinstance(value, str) and value.strip():
            return fda_submission(value) or value.strip().upper()
        return value

    @model_validator(mode="after")
    def _check_codes(self, info: ValidationInfo) -> TechnologyInput:
        context = info.context or {}
        codes: dict[str, set[str]] = context.get("codes", {})
        if codes:
            for field, vocabulary in CODED_FIELDS.items():
                value = getattr(self, field)
                if value is not None and value not in codes.get(vocabulary, set()):
                    raise ValueError(f"{field}: '{value}' is not a known {vocabulary.replace('_', ' ')}")
            for field, vocabulary in CODED_LIST_FIELDS.items():
                unknown = [v for v in getattr(self, field) if v not in codes.get(vocabulary, set())]
                if unknown:
                    raise ValueError(f"{field}: unknown {vocabulary.replace('_', ' ')} {', '.join(map(repr, unknown))}")
        parents: dict[str, str] = context.get("subtype_parents", {})
        if self.subtype_code is not None:
            if self.type_code is None:
                raise ValueError("subtype_code: a subtype needs a type")
            if parents and parents.get(self.subtype_code) != self.type_code:
                raise ValueError(f"subtype_code: '{self.subtype_code}' is not a subtype of '{self.type_code}'")
        if self.primary_workforce_group is not None and self.primary_workforce_group not in self.workforce_groups:
            raise ValueError("primary_workforce_group: must be one of the technology's workforce groups")
        if self.primary_workforce_group is None and self.workforce_groups:
            # The first listed group is primary unless said otherwise (template convention).
            self.primary_workforce_group = self.workforce_groups[0]
        # Without a taxonomy type the record is shown as "to classify" until a lead sets one.
        self.needs_classification = self.type_code is None
        if self.fda_submission_number is not None:
            by_number = fda_pathway_of_number(self.fda_submission_number)
            if self.fda_pathway is None and by_number is None:
                raise ValueError("fda_pathway: required when the FDA submission number does not show it (K…, DEN… or P…)")
            if self.fda_pathway is not None and by_number is not None and by_number != self.fda_pathway:
                raise ValueError(f"fda_pathway: {FDA_PATHWAY_LABELS[self.fda_pathway]} does not match submission number "
                                 f"{self.fda_submission_number}, which is a {FDA_PATHWAY_LABELS[by_number]} number")
            self.fda_pathway = self.fda_pathway or by_number
        return self


_CE_CLASS_PREFIX = re.compile(r"^class\s*", re.IGNORECASE)
_FDA_NUMBER = re.compile(r"(?<![A-Z0-9])(DEN[0-9]{6}|K[0-9]{6}|P[0-9]{6}(?:/S[0-9]{3,4})?)(?![A-Z0-9])", re.IGNORECASE)


def _spelled_as(text: str, known: tuple[str, ...]) -> str | None:
    """The entry of ``known`` that ``text`` is, in any case (None when it is none of them)."""
    return next((entry for entry in known if entry.lower() == text.strip().lower()), None)


def fda_submission(text: str) -> str | None:
    """The one FDA submission number in a cell, upper case ("PMA P150043" -> "P150043"); None when
    there is none, or more than one."""
    found = {number.upper() for number in _FDA_NUMBER.findall(text)}
    return found.pop() if len(found) == 1 else None


def fda_pathway_of_number(number: str) -> str | None:
    """K... is a 510(k), DEN... a De Novo, P... (with supplements like P130020/S005) a PMA."""
    if not _FDA_NUMBER.fullmatch(number.strip()):
        return None
    prefix = number.strip().upper()
    return "de_novo" if prefix.startswith("DEN") else "510k" if prefix.startswith("K") else "pma"


def fda_pathway_code(text: str) -> str | None:
    """The pathway a register means: ``510(k)``, ``510(k) cleared``, ``De Novo``, ``De novo 510(k) cleared``,
    ``PMA``, ``PMA approved`` (any case and spacing) or our codes; None when it names none, or both a
    clearance and an approval."""
    lowered = text.strip().lower()
    if lowered in FDA_PATHWAYS:
        return lowered
    squashed = re.sub(r"[^a-z0-9]", "", lowered.replace("(k)", "k"))
    de_novo = "denovo" in squashed
    clearance = "510k" in squashed or "premarketnotification" in squashed
    approval = squashed.startswith("pma") or re.search(r"(?<![a-z])pma(?![a-z])", lowered) is not None \
        or "premarketapproval" in squashed
    if approval:
        return None if de_novo or clearance else "pma"
    if de_novo:
        return "de_novo"  # "De novo 510(k) cleared" is how one register writes a De Novo
    return "510k" if clearance else None


def field_errors(error: ValidationError) -> list[tuple[str, str]]:
    """(field name, message) pairs from a TechnologyInput validation error; model-level checks
    name their field before a colon, and an empty field name means the record as a whole."""
    pairs = []
    for detail in error.errors():
        location = detail.get("loc") or ()
        field_name = str(location[0]) if location else ""
        message = detail["msg"].removeprefix("Value error, ")
        if not field_name and ":" in message:
            field_name, message = (part.strip() for part in message.split(":", 1))
        pairs.append((field_name, message))
    return pairs


_TEXT_FIELDS = {"name", "company", "short_description", "long_description", "ai_technique", "input_data_type", "source_detail", "source"}
SCALAR_FIELDS = [
    "name", "company", "short_description", "long_description", "type_code", "subtype_code", "ai_technique",
    "input_data_type", "time_to_deployment", "impact_workforce", "impact_pathway", "impact_system", "ukca_ce_class",
    "ukca_ce_regime", "fda_pathway", "fda_submission_number", "fda_decision_date", "nice_esf_tier", "evidence_level",
    "source", "source_detail", "needs_classification", "is_demo", "last_reviewed",
]


def data_version(engine: Engine) -> int:
    with read_session(engine) as session:
        return session.scalar(select(DataVersion.version).where(DataVersion.id == 1)) or 0


def technology_as_input(technology: Technology) -> TechnologyInput:
    """The stored record in input form (for edit forms, export and change detection)."""
    values = {field: getattr(technology, field) for field in SCALAR_FIELDS}
    for list_field, kind in (("clinical_areas", "clinical_area"), ("workforce_groups", "workforce_group"), ("points_of_care", "point_of_care")):
        values[list_field] = [link.code for link in technology.links if link.kind == kind]
    primary = [link.code for link in technology.links if link.kind == "workforce_group" and link.is_primary]
    values["primary_workforce_group"] = primary[0] if primary else None
    catalogue_ids = [e.value for e in technology.external_ids if e.scheme == "catalogue"]
    values["catalogue_id"] = catalogue_ids[0] if catalogue_ids else None
    return TechnologyInput.model_construct(**values)


def stored_inputs(session: Session) -> dict[int, TechnologyInput]:
    """Every stored technology in input form, read with three plain queries (no ORM objects),
    for bulk work such as import planning and export over tens of thousands of records."""
    columns = [getattr(Technology, field) for field in SCALAR_FIELDS]
    inputs: dict[int, dict] = {}
    for row in session.execute(select(Technology.id, *columns).order_by(Technology.id)):
        values = dict(zip(SCALAR_FIELDS, row[1:], strict=True))
        values.update(clinical_areas=[], workforce_groups=[], points_of_care=[], primary_workforce_group=None, catalogue_id=None)
        inputs[row[0]] = values
    list_field = {"clinical_area": "clinical_areas", "workforce_group": "workforce_groups", "point_of_care": "points_of_care"}
    links = select(TechnologyLink.technology_id, TechnologyLink.kind, TechnologyLink.code, TechnologyLink.is_primary).order_by(TechnologyLink.id)
    for technology_id, kind, code, is_primary in session.execute(links):
        values = inputs[technology_id]
        values[list_field[kind]].append(code)
        if kind == "workforce_group" and is_primary:
            values["primary_workforce_group"] = code
    for technology_id, value in session.execute(select(ExternalId.technology_id, ExternalId.value).where(ExternalId.scheme == "catalogue")):
        inputs[technology_id]["catalogue_id"] = value
    return {technology_id: TechnologyInput.model_construct(**values) for technology_id, values in inputs.items()}


def _link_rows(technology_id: int, data: TechnologyInput) -> list[dict]:
    rows = [{"technology_id": technology_id, "kind": "clinical_area", "code": code, "is_primary": False} for code in data.clinical_areas]
    rows += [{"technology_id": technology_id, "kind": "workforce_group", "code": code, "is_primary": code == data.primary_workforce_group} for code in data.workforce_groups]
    rows += [{"technology_id": technology_id, "kind": "point_of_care", "code": code, "is_primary": False} for code in data.points_of_care]
    return rows


def _external_id_rows(technology_id: int, data: TechnologyInput) -> list[dict]:
    rows = []
    if data.catalogue_id:
        rows.append({"technology_id": technology_id, "scheme": "catalogue", "value": data.catalogue_id})
    if data.fda_submission_number:
        rows.append({"technology_id": technology_id, "scheme": "fda", "value": data.fda_submission_number})
    return rows


def _scalar_row(data: TechnologyInput) -> dict[str, Any]:
    """The technology table's values for one record (bulk statements bypass the ORM's identity-key event)."""
    return {field: getattr(data, field) for field in SCALAR_FIELDS} | {"identity_key": technology_identity(data.name, data.company)}


def bulk_write(session: Session, creates: list[TechnologyInput], updates: list[tuple[int, TechnologyInput]]) -> list[int]:
    """Insert and update many technologies with set-based statements (what an import needs);
    returns the new ids. Same effect per record as :func:`apply_input`."""
    now = utcnow()
    new_ids: list[int] = []
    if creates:
        rows = [_scalar_row(data) | {"created_at": now, "updated_at": now} for data in creates]
        result = session.execute(insert(Technology).returning(Technology.id, sort_by_parameter_order=True), rows)
        new_ids = list(result.scalars())
    if updates:
        session.execute(update(Technology), [{"id": tid, "updated_at": now, **_scalar_row(data)} for tid, data in updates])
        ids = [tid for tid, _ in updates]
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            session.execute(delete(TechnologyLink).where(TechnologyLink.technology_id.in_(chunk)))
            session.execute(delete(ExternalId).where(ExternalId.technology_id.in_(chunk), ExternalId.scheme.in_(("catalogue", "fda"))))
    pairs = list(zip(new_ids, creates, strict=True)) + updates
    record_revisions(session, pairs[:len(new_ids)], "create", at=now)
    record_revisions(session, updates, "update", at=now)
    links = [row for tid, data in pairs for row in _link_rows(tid, data)]
    externals = [row for tid, data in pairs for row in _external_id_rows(tid, data)]
    if links:
        session.execute(insert(TechnologyLink), links)
    if externals:
        session.execute(insert(ExternalId), externals)
    return new_ids


def apply_input(session: Session, technology: Technology, data: TechnologyInput) -> None:
    """Copy a validated input onto an ORM row (new or existing), replacing links and ids."""
    for field in SCALAR_FIELDS:
        setattr(technology, field, getattr(data, field))
    wanted_links = [("clinical_area", code, False) for code in data.clinical_areas]
    wanted_links += [("workforce_group", code, code == data.primary_workforce_group) for code in data.workforce_groups]
    wanted_links += [("point_of_care", code, False) for code in data.points_of_care]
    current = {(link.kind, link.code): link for link in technology.links}
    keep = set()
    for kind, code, primary in wanted_links:
        link = current.get((kind, code))
        if link is None:
            technology.links.append(TechnologyLink(kind=kind, code=code, is_primary=primary))
        else:
            link.is_primary = primary
        keep.add((kind, code))
    for key, link in current.items():
        if key not in keep:
            technology.links.remove(link)
    wanted_ids = {}
    if data.catalogue_id:
        wanted_ids["catalogue"] = data.catalogue_id
    if data.fda_submission_number:
        wanted_ids["fda"] = data.fda_submission_number
    for external in list(technology.external_ids):
        if external.scheme in ("catalogue", "fda") and wanted_ids.get(external.scheme) != external.value:
            technology.external_ids.remove(external)
    present = {(e.scheme, e.value) for e in technology.external_ids}
    for scheme, value in wanted_ids.items():
        if (scheme, value) not in present:
            technology.external_ids.append(ExternalId(scheme=scheme, value=value))
    session.add(technology)


def changed_fields(before: TechnologyInput, after: TechnologyInput) -> list[str]:
    """Names of the fields that differ (for audit details: field names, never values)."""
    names = [*SCALAR_FIELDS, "clinical_areas", "workforce_groups", "primary_workforce_group", "points_of_care", "catalogue_id"]
    return [name for name in names if getattr(before, name, None) != getattr(after, name, None)]


@guarded("catalogue.edit")
def create_technology(engine: Engine, data: TechnologyInput, *, actor: Any = None) -> int:
    with write_session(engine) as session:
        technology = Technology()
        apply_input(session, technology, data)
        note_change(session, CATALOGUE)
        bump_data_version(session)
        session.flush()
        record_revisions(session, [(technology.id, data)], "create", at=technology.created_at)
        record_audit(session, actor, None, "catalogue_create", f"technology:{technology.id}", "success", {"source": _code(data.source)})
        return technology.id


@guarded("catalogue.edit")
def update_technology(engine: Engine, technology_id: int, data: TechnologyInput, *, actor: Any = None) -> None:
    with write_session(engine) as session:
        technology = session.get(Technology, technology_id, options=[selectinload(Technology.links), selectinload(Technology.external_ids)])
        if technology is None:
            raise LookupError(f"technology {technology_id} does not exist")
        changed = changed_fields(technology_as_input(technology), data)
        apply_input(session, technology, data)
        technology.updated_at = utcnow()
        note_change(session, CATALOGUE)
        bump_data_version(session)
        if changed:
            record_revisions(session, [(technology_id, data)], "update", at=technology.updated_at)
        record_audit(session, actor, None, "catalogue_update", f"technology:{technology_id}", "success", {"fields": changed})


@guarded("catalogue.edit")
def delete_technology(engine: Engine, technology_id: int, *, actor: Any = None) -> None:
    with write_session(engine) as session:
        technology = session.get(Technology, technology_id)
        if technology is None:
            raise LookupError(f"technology {technology_id} does not exist")
        session.delete(technology)
        record_revisions(session, [(technology_id, None)], "delete")
        # Its survey answers go with it (ON DELETE CASCADE), outside any response.
        note_change(session, CATALOGUE)
        note_change(session, TECHNOLOGIES, [technology_id])
        bump_data_version(session)
        record_audit(session, actor, None, "catalogue_delete", f"technology:{technology_id}", "success", {"is_demo": bool(technology.is_demo)})


def _code(text: str) -> str:
    """A free-text provenance label ("template import") as an audit-safe code ("template_import")."""
    return re.sub(r"[^A-Za-z0-9_.:/+-]+", "_", text.strip())[:60]


def get_technology(engine: Engine, technology_id: int) -> Technology | None:
    with read_session(engine) as session:
        return session.get(
            Technology,
            technology_id,
            options=[
                selectinload(Technology.links),
                selectinload(Technology.external_ids),
                selectinload(Technology.adoptions).selectinload(AdoptionRecord.site),
            ],
        )


def count_technologies(engine: Engine) -> int:
    with read_session(engine) as session:
        return session.scalar(select(func.count()).select_from(Technology)) or 0


def load_frames(engine: Engine) -> dict[str, pd.DataFrame]:
    """The catalogue as the documented analysis input frames (see analysis/schemas.py):
    ``technologies``, ``technology_links`` and ``adoption``."""
    with engine.connect() as connection:
        return catalogue_frames(connection)


def catalogue_frames(connection: Connection) -> dict[str, pd.DataFrame]:
    """:func:`load_frames` on the caller's connection (and so in its snapshot)."""
    technologies = pd.read_sql(
        select(
            Technology.id.label("technology_id"), Technology.name, Technology.company, Technology.short_description,
            Technology.type_code, Technology.subtype_code, Technology.time_to_deployment, Technology.impact_workforce,
            Technology.impact_pathway, Technology.impact_system, Technology.nice_esf_tier, Technology.evidence_level,
            Technology.fda_pathway, Technology.ukca_ce_class, Technology.source, Technology.needs_classification,
            Technology.last_reviewed, Technology.updated_at, Technology.is_demo,
        ).order_by(Technology.id),
        connection,
    )
    links = pd.read_sql(
        select(TechnologyLink.technology_id, TechnologyLink.kind, TechnologyLink.code, TechnologyLink.is_primary).order_by(TechnologyLink.id),
        connection,
    )
    adoption = pd.read_sql(
        select(
            AdoptionRecord.technology_id, AdoptionRecord.site_id, Site.name.label("site_name"), Site.region, Site.site_type,
            AdoptionRecord.status, AdoptionRecord.start_date, AdoptionRecord.end_date, AdoptionRecord.updated_at,
        ).join(Site, Site.id == AdoptionRecord.site_id).order_by(AdoptionRecord.id),
        connection,
    )
    for frame, columns in ((technologies, ["last_reviewed", "updated_at"]), (adoption, ["start_date", "end_date", "updated_at"])):
        for column in columns:
            frame[column] = pd.to_datetime(frame[column], utc=True, errors="coerce")
    technologies["is_demo"] = technologies["is_demo"].astype(bool)
    technologies["needs_classification"] = technologies["needs_classification"].astype(bool)
    links["is_primary"] = links["is_primary"].astype(bool)
    return {"technologies": technologies, "technology_links": links, "adoption": adoption}


def list_sites(engine: Engine) -> pd.DataFrame:
    with engine.connect() as connection:
        return pd.read_sql(select(Site.id, Site.name, Site.ods_code, Site.site_type, Site.region, Site.is_demo).order_by(Site.name), connection)


def upsert_adoptions(session: Session, rows: Iterable[dict]) -> int:
    """Create or update adoption records (technology_id, site_id, status, start_date, end_date, source)."""
    count = 0
    for row in rows:
        record = session.scalar(
            select(AdoptionRecord).where(AdoptionRecord.technology_id == row["technology_id"], AdoptionRecord.site_id == row["site_id"])
        )
        if record is None:
            record = AdoptionRecord(technology_id=row["technology_id"], site_id=row["site_id"])
            session.add(record)
        record.status = row["status"]
        record.start_date = row.get("start_date")
        record.end_date = row.get("end_date")
        record.source = row.get("source", "manual")
        record.is_demo = row.get("is_demo", False)
        count += 1
    note_change(session, CATALOGUE)
    bump_data_version(session)
    return count
