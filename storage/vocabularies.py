"""Editable vocabularies: seeding from ``seed/vocabularies.yaml`` and reading/editing terms."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from storage.audit import record_audit
from storage.db import write_session
from storage.models import DataVersion, FdaPanelCrosswalk, VocabularyTerm
from storage.permissions import guarded

SEED_FILE = Path(__file__).resolve().parent / "seed" / "vocabularies.yaml"

# Vocabulary name in the database -> key in the seed file.
SEEDED_VOCABULARIES = {
    "technology_type": "technology_types",
    "point_of_care": "points_of_care",
    "deployment_horizon": "deployment_horizons",
    "impact_level": "impact_levels",
    "region": "regions",
    "site_type": "site_types",
    "adoption_status": "adoption_statuses",
    "staff_group": "staff_groups",
    "clinical_area": "clinical_areas",
    "workforce_group": "workforce_groups",
    "archetype": "archetypes",
    "training_type": "training_types",
    "nice_esf_tier": "nice_esf_tiers",
    "evidence_level": "evidence_levels",
}
SUBTYPE_VOCABULARY = "technology_subtype"
# Vocabularies whose codes the app's logic relies on: leads may relabel and reorder them,
# but not add or retire codes (the analysis and the survey instruments refer to them).
FIXED_CODE_VOCABULARIES = {"deployment_horizon", "impact_level", "adoption_status", "region"}
EDITABLE_VOCABULARIES = {
    "technology_type": "Technology types",
    SUBTYPE_VOCABULARY: "Technology subtypes",
    "clinical_area": "Clinical areas",
    "workforce_group": "Workforce groups",
    "region": "NHS regions",
    "site_type": "Site types",
    "point_of_care": "Points of care",
    "deployment_horizon": "Time to deployment buckets",
    "staff_group": "Staff groups",
}


@cache
def seed_data() -> dict:
    return yaml.safe_load(SEED_FILE.read_text(encoding="utf-8"))


def _seed_terms() -> dict[str, list[dict]]:
    data = seed_data()
    terms: dict[str, list[dict]] = {}
    for vocabulary, key in SEEDED_VOCABULARIES.items():
        terms[vocabulary] = [
            {"code": str(item["code"]), "label": item["label"], "parent_code": None} for item in data[key]
        ]
    terms[SUBTYPE_VOCABULARY] = [
        {"code": sub["code"], "label": sub["label"], "parent_code": item["code"]}
        for item in data["technology_types"]
        for sub in item.get("subtypes", [])
    ]
    return terms


def seed_vocabularies(engine: Engine) -> int:
    """Insert the seed terms of every vocabulary that has none yet; returns terms added.

    A vocabulary a lead has edited is never touched again, so edits survive upgrades.
    """
    added = 0
    with write_session(engine) as session:
        present = set(session.scalars(select(VocabularyTerm.vocabulary).distinct()))
        for vocabulary, terms in _seed_terms().items():
            if vocabulary in present:
                continue
            for order, term in enumerate(terms):
                session.add(VocabularyTerm(vocabulary=vocabulary, sort_order=order, **term))
                added += 1
        if not session.scalar(select(func.count()).select_from(FdaPanelCrosswalk)):
            for row in seed_data()["fda_panel_crosswalk"]:
                session.add(FdaPanelCrosswalk(panel=row["panel"], clinical_area=row["clinical_area"]))
        if session.get(DataVersion, 1) is None:
            session.add(DataVersion(id=1, version=0))
    return added


@dataclass(frozen=True)
class Term:
    code: str
    label: str
    parent_code: str | None
    active: bool


def terms(session: Session, vocabulary: str, *, include_inactive: bool = False) -> list[Term]:
    query = select(VocabularyTerm).where(VocabularyTerm.vocabulary == vocabulary)
    if not include_inactive:
        query = query.where(VocabularyTerm.active.is_(True))
    rows = session.scalars(query.order_by(VocabularyTerm.sort_order, VocabularyTerm.id))
    return [Term(r.code, r.label, r.parent_code, r.active) for r in rows]


def labels(session: Session, vocabulary: str) -> dict[str, str]:
    """Code -> label, including retired terms so old records still display."""
    return {t.code: t.label for t in terms(session, vocabulary, include_inactive=True)}


def all_codes(session: Session) -> dict[str, set[str]]:
    """Every active code of every vocabulary, for validating catalogue rows in bulk."""
    result: dict[str, set[str]] = {}
    rows = session.execute(
        select(VocabularyTerm.vocabulary, VocabularyTerm.code).where(VocabularyTerm.active.is_(True))
    )
    for vocabulary, code in rows:
        result.setdefault(vocabulary, set()).add(code)
    return result


def subtype_parents(session: Session) -> dict[str, str]:
    return {t.code: t.parent_code or "" for t in terms(session, SUBTYPE_VOCABULARY)}


def fda_crosswalk(session: Session) -> dict[str, str]:
    """FDA panel (lower case) -> clinical area code."""
    return {row.panel.strip().lower(): row.clinical_area for row in session.scalars(select(FdaPanelCrosswalk))}


class VocabularyError(ValueError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


_CODE_PATTERN = r"^[a-z0-9][a-z0-9_:\-]{0,79}$"


def codes_in_use(session: Session, vocabulary: str) -> set[str]:
    """Codes that catalogue records refer to (they may be retired, not deleted)."""
    from storage.models import Site, Technology, TechnologyLink

    columns = {
        "technology_type": [Technology.type_code],
        SUBTYPE_VOCABULARY: [Technology.subtype_code],
        "deployment_horizon": [Technology.time_to_deployment],
        "region": [Site.region],
        "site_type": [Site.site_type],
    }
    used: set[str] = set()
    for column in columns.get(vocabulary, []):
        used |= {v for v in session.scalars(select(column).distinct()) if v}
    link_kind = {"clinical_area": "clinical_area", "workforce_group": "workforce_group", "point_of_care": "point_of_care"}.get(vocabulary)
    if link_kind:
        used |= set(session.scalars(select(TechnologyLink.code).where(TechnologyLink.kind == link_kind).distinct()))
    if vocabulary == "technology_type":
        used |= {t.parent_code for t in terms(session, SUBTYPE_VOCABULARY, include_inactive=True) if t.parent_code}
    return used


@guarded("catalogue.edit")
def save_vocabulary(engine: Engine, vocabulary: str, rows: list[dict], *, actor: Any = None) -> None:
    """Replace a vocabulary's terms with ``rows`` (code, label, active, parent_code), in order,
    audited as ``vocabulary_update`` in the same transaction.

    Refused as a whole, with every problem listed, when a code is malformed or repeated, a
    label is empty, a code still in use is removed (retire it instead), a subtype names an
    unknown type, or a code is added to/removed from a vocabulary the app's logic relies on.
    """
    import re

    from storage.catalogue import bump_data_version

    if vocabulary not in EDITABLE_VOCABULARIES:
        raise VocabularyError([f"'{vocabulary}' is not an editable vocabulary"])
    with write_session(engine) as session:
        existing = {r.code: r for r in session.scalars(select(VocabularyTerm).where(VocabularyTerm.vocabulary == vocabulary))}
        problems = []
        seen: set[str] = set()
        type_codes = {t.code for t in terms(session, "technology_type", include_inactive=True)}
        for number, row in enumerate(rows, start=1):
            code = str(row.get("code") or "").strip()
            label = str(row.get("label") or "").strip()
            if not re.fullmatch(_CODE_PATTERN, code):
                problems.append(f"row {number}: code '{code}' must be lower-case letters, digits, '_', ':' or '-' (max 80)")
            if code in seen:
                problems.append(f"row {number}: code '{code}' appears twice")
            seen.add(code)
            if not label:
                problems.append(f"row {number}: label is empty")
            elif len(label) > 200:
                problems.append(f"row {number}: label is longer than 200 characters")
            if vocabulary == SUBTYPE_VOCABULARY and (row.get("parent_code") or "") not in type_codes:
                problems.append(f"row {number}: parent type '{row.get('parent_code') or ''}' is not a technology type code")
        removed = set(existing) - seen
        added = seen - set(existing)
        if vocabulary in FIXED_CODE_VOCABULARIES and (removed or added):
            problems.append("the codes of this vocabulary are fixed (the analysis relies on them): you can change labels, order and active flags only")
        in_use = removed & codes_in_use(session, vocabulary)
        if in_use:
            problems.append(f"cannot delete code(s) still in use: {', '.join(sorted(in_use))} — untick 'active' to retire them instead")
        if problems:
            raise VocabularyError(problems)
        for code in removed:
            session.delete(existing[code])
        for order, row in enumerate(rows):
            code = str(row["code"]).strip()
            term = existing.get(code) or VocabularyTerm(vocabulary=vocabulary, code=code)
            term.label = str(row["label"]).strip()
            term.active = bool(row.get("active", True))
            term.sort_order = order
            term.parent_code = (row.get("parent_code") or None) if vocabulary == SUBTYPE_VOCABULARY else None
            session.add(term)
        record_audit(session, actor, None, "vocabulary_update", f"vocabulary:{vocabulary}", "success",
                     {"terms": len(rows), "added": len(added), "removed": len(removed)})
        bump_data_version(session)


def crosswalk_rows(engine: Engine) -> list[dict]:
    from storage.db import read_session

    with read_session(engine) as session:
        return [{"panel": r.panel, "clinical_area": r.clinical_area} for r in session.scalars(select(FdaPanelCrosswalk).order_by(FdaPanelCrosswalk.panel))]


@guarded("catalogue.edit")
def save_crosswalk(engine: Engine, rows: list[dict], *, actor: Any = None) -> None:
    """Replace the FDA panel -> clinical area crosswalk (panels unique, areas must exist), audited
    as ``vocabulary_update`` in the same transaction."""
    with write_session(engine) as session:
        areas = {t.code for t in terms(session, "clinical_area")}
        problems = []
        seen = set()
        for number, row in enumerate(rows, start=1):
            panel = str(row.get("panel") or "").strip()
            area = str(row.get("clinical_area") or "").strip()
            if not panel:
                problems.append(f"row {number}: panel is empty")
            elif panel.lower() in seen:
                problems.append(f"row {number}: panel '{panel}' appears twice")
            seen.add(panel.lower())
            if area not in areas:
                problems.append(f"row {number}: '{area}' is not an active clinical area code")
        if problems:
            raise VocabularyError(problems)
        for existing in session.scalars(select(FdaPanelCrosswalk)):
            session.delete(existing)
        session.flush()
        for row in rows:
            session.add(FdaPanelCrosswalk(panel=str(row["panel"]).strip(), clinical_area=str(row["clinical_area"]).strip()))
        record_audit(session, actor, None, "vocabulary_update", "vocabulary:fda_panel_crosswalk", "success", {"terms": len(rows)})
