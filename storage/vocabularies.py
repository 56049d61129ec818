"""Editable vocabularies: seeding from ``seed/vocabularies.yaml`` and reading/editing terms."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from storage.db import write_session
from storage.models import DataVersion, FdaPanelCrosswalk, VocabularyTerm

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
