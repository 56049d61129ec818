"""Reproducible demonstration data, clearly labelled as such.

Every demo record has ``is_demo`` set and a name that starts with "Demo:", so it can never
be mistaken for a real technology in a view, an export or a report. The generator uses a
fixed seed, so every machine gets the same demo catalogue.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from sqlalchemy import Engine, func, select

from storage.catalogue import TechnologyInput, apply_input, bump_data_version, technology_as_input
from storage.catalogue_history import record_revisions
from storage.db import write_session
from storage.models import AdoptionRecord, Site, Technology
from storage.vocabularies import all_codes, seed_data, subtype_parents

DEMO_SEED = 2022
# When the demo catalogue is said to have been written: before its survey and workshop evidence.
DEMO_CATALOGUE_DATE = dt.datetime(2025, 9, 1, 9, 0, tzinfo=dt.UTC)
DEMO_PREFIX = "Demo: "
DEMO_COMPANIES = ["Demo Health Ltd", "Example Imaging AI", "Sample Clinical Systems", "Illustrative Analytics", "Specimen Digital Care"]

# type -> (subtype or None, task phrases, typical clinical areas, typical workforce groups, points of care)
_BLUEPRINTS: dict[str, list[tuple[str | None, list[str], list[str], list[str], list[str]]]] = {
    "diagnostics": [
        ("imaging", ["chest X-ray triage", "CT stroke detection", "mammography second reader", "fracture detection", "lung nodule follow-up"],
         ["radiology", "emergency_medicine", "oncology", "respiratory"], ["medic:radiology", "ahp:radiology", "medic:emergency_medicine"], ["secondary"]),
        ("pathology", ["digital slide grading", "cervical cytology screening", "blood film analysis", "prostate biopsy review"],
         ["pathology", "oncology", "urology"], ["medic:pathology", "healthcare_scientist:pathology"], ["secondary"]),
        ("endoscopy", ["polyp detection", "capsule endoscopy reading", "Barrett's surveillance support"],
         ["gastroenterology", "oncology"], ["medic:gastroenterology", "nurse:oncology"], ["secondary"]),
        (None, ["diabetic retinopathy grading", "skin lesion assessment", "ECG rhythm analysis", "echocardiogram measurement"],
         ["ophthalmology", "dermatology", "cardiology", "endocrinology"], ["medic:ophthalmology", "medic:dermatology", "healthcare_scientist:cardiology", "medic:cardiology"], ["primary", "secondary", "community"]),
    ],
    "automation": [
        (None, ["clinic letter drafting", "referral triage", "theatre scheduling", "coding from discharge summaries", "appointment no-show prediction", "GP inbox sorting"],
         ["administration", "general_practice", "surgery"], ["non_clinical:administration", "non_clinical:general_practice", "medic:general_practice"], ["primary", "secondary"]),
    ],
    "p4_medicine": [
        (None, ["sepsis early warning", "readmission risk prediction", "frailty identification", "cardiovascular risk stratification", "cancer risk prediction"],
         ["emergency_medicine", "general_practice", "cardiology", "oncology"], ["medic:emergency_medicine", "nurse:emergency_medicine", "medic:general_practice", "nurse:general_practice"], ["primary", "secondary"]),
    ],
    "remote_monitoring": [
        (None, ["virtual ward monitoring", "home spirometry review", "heart failure telemonitoring", "glucose pattern alerts", "falls detection"],
         ["respiratory", "cardiology", "endocrinology", "district_nursing"], ["nurse:district_nursing", "ahp:respiratory", "medic:cardiology"], ["community", "self_care"]),
    ],
    "therapeutic": [
        (None, ["digital CBT coach", "radiotherapy contouring", "insulin dose advice", "physiotherapy exercise coach", "medicines optimisation"],
         ["mental_health", "oncology", "endocrinology", "respiratory", "pharmacy"], ["nurse:mental_health", "medic:mental_health", "medic:oncology", "pharmacy:pharmacy", "ahp:respiratory"], ["secondary", "community", "self_care"]),
    ],
    "other": [
        (None, ["ambulance demand forecasting", "staff rostering optimiser", "maternity risk dashboard", "clinical coding assistant"],
         ["ambulance", "administration", "maternity"], ["paramedic:ambulance", "non_clinical:administration", "midwife:maternity"], ["secondary", "community"]),
    ],
}
_TYPE_WEIGHTS = {"diagnostics": 34, "automation": 18, "p4_medicine": 16, "remote_monitoring": 14, "therapeutic": 12, "other": 6}
_QUALIFIERS = ["Assist", "Insight", "Flow", "Sense", "Guide", "Lens", "Pilot", "Scout", "Clarity", "Pulse"]
_TECHNIQUES = ["Deep learning (CNN)", "Gradient-boosted trees", "Natural language processing", "Large language model", "Rules plus machine learning", "Time-series anomaly detection"]
_INPUTS = {"diagnostics": "Images", "automation": "Free text and structured records", "p4_medicine": "Structured EHR data", "remote_monitoring": "Device and sensor data", "therapeutic": "Patient-reported data", "other": "Operational data"}
_HORIZON_WEIGHTS = {"at_scale": 12, "within_1y": 30, "1_3y": 38, "over_3y": 20}
_STATUS_BY_HORIZON = {
    "at_scale": ["scaled", "scaled", "live", "live", "piloting"],
    "within_1y": ["live", "piloting", "piloting", "exploring", "scaled"],
    "1_3y": ["piloting", "exploring", "exploring", "live", "discontinued"],
    "over_3y": ["exploring", "exploring", "piloting", "discontinued"],
}


@dataclass
class DemoSummary:
    technologies: int
    sites: int
    adoption_records: int
    skipped: bool = False


def _choose_weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def demo_technologies(count: int = 160, seed: int = DEMO_SEED) -> list[TechnologyInput]:
    """The demo catalogue as validated inputs, identical on every run with the same seed."""
    rng = random.Random(seed)
    items: list[TechnologyInput] = []
    names: set[str] = set()
    type_codes = list(_TYPE_WEIGHTS)
    for index in range(count):
        # Cover every type first, then follow the original database's rough mix.
        type_code = type_codes[index] if index < len(type_codes) else _choose_weighted(rng, _TYPE_WEIGHTS)
        subtype, tasks, areas, groups, care_points = rng.choice(_BLUEPRINTS[type_code])
        task = rng.choice(tasks)
        name = f"{DEMO_PREFIX}{rng.choice(_QUALIFIERS)} {task}"
        while name in names:
            name = f"{DEMO_PREFIX}{rng.choice(_QUALIFIERS)} {task} {rng.randint(2, 99)}"
        names.add(name)
        chosen_groups = rng.sample(groups, k=rng.randint(1, min(3, len(groups))))
        horizon = _choose_weighted(rng, _HORIZON_WEIGHTS)
        level = ["low", "medium", "high"]
        regulated = type_code in ("diagnostics", "therapeutic", "p4_medicine")
        items.append(
            TechnologyInput(
                name=name,
                company=rng.choice(DEMO_COMPANIES),
                short_description=f"Demonstration record: AI support for {task}.",
                long_description=f"This is synthetic demonstration data, not a real product. It illustrates a tool for {task}.",
                type_code=type_code,
                subtype_code=subtype,
                ai_technique=rng.choice(_TECHNIQUES),
                input_data_type=_INPUTS[type_code],
                clinical_areas=rng.sample(areas, k=rng.randint(1, min(2, len(areas)))),
                workforce_groups=chosen_groups,
                points_of_care=rng.sample(care_points, k=rng.randint(1, len(care_points))),
                time_to_deployment=horizon,
                impact_workforce=rng.choice(level),
                impact_pathway=rng.choice(level),
                impact_system=rng.choice(level),
                ukca_ce_class=rng.choice(["I", "IIa", "IIb"]) if regulated else rng.choice(["none", None]),
                ukca_ce_regime="MDR" if regulated else None,
                nice_esf_tier="C" if regulated else rng.choice(["A", "B"]),
                evidence_level=str(rng.randint(1, 5)),
                catalogue_id=f"DEMO-{index + 1:04d}",
                source="demo",
                source_detail="Synthetic demonstration catalogue (fixed seed)",
                is_demo=True,
                last_reviewed=dt.date(2026, 1, 1) - dt.timedelta(days=rng.randint(0, 900)),
            )
        )
    return items


def demo_sites(seed: int = DEMO_SEED) -> list[dict]:
    rng = random.Random(seed + 1)
    data = seed_data()
    sites = []
    for region in data["regions"]:
        for site_type in data["site_types"]:
            if site_type["code"] == "other" or rng.random() < 0.25:
                continue
            sites.append({
                "name": f"Demo {region['label']} {site_type['label'].split(' / ')[0]}",
                "site_type": site_type["code"],
                "region": region["code"],
                "is_demo": True,
            })
    return sites


def load_demo_catalogue(engine: Engine, *, only_if_empty: bool = True, count: int = 160) -> DemoSummary:
    """Load the demo catalogue, sites and adoption records in one transaction."""
    with write_session(engine) as session:
        existing = session.scalar(select(func.count()).select_from(Technology)) or 0
        if only_if_empty and existing:
            return DemoSummary(0, 0, 0, skipped=True)
        if session.scalar(select(func.count()).select_from(Technology).where(Technology.is_demo.is_(True))):
            return DemoSummary(0, 0, 0, skipped=True)
        context = {"codes": all_codes(session), "subtype_parents": subtype_parents(session)}
        technologies = []
        for item in demo_technologies(count):
            validated = TechnologyInput.model_validate(item.model_dump(), context=context)
            technology = Technology(created_at=DEMO_CATALOGUE_DATE, updated_at=DEMO_CATALOGUE_DATE)
            apply_input(session, technology, validated)
            technologies.append((technology, validated.time_to_deployment))
        sites = [Site(**values) for values in demo_sites()]
        session.add_all(sites)
        session.flush()
        # The demo catalogue is dated before its evidence, so the roadmap can be seen as of past dates.
        record_revisions(session, [(technology.id, technology_as_input(technology)) for technology, _ in technologies], "create",
                         at=DEMO_CATALOGUE_DATE, created_at=DEMO_CATALOGUE_DATE)
        rng = random.Random(DEMO_SEED + 2)
        adoption_count = 0
        for technology, horizon in technologies:
            for site in rng.sample(sites, k=rng.randint(0, min(12, len(sites)))):
                status = rng.choice(_STATUS_BY_HORIZON[horizon or "1_3y"])
                start = dt.date(2026, 6, 1) - dt.timedelta(days=rng.randint(30, 1500))
                end = start + dt.timedelta(days=rng.randint(60, 400)) if status == "discontinued" else None
                # Dated when its status was last reported, so past views take it as it stood then.
                reported = dt.datetime.combine(end or start, dt.time(9), tzinfo=dt.UTC)
                session.add(AdoptionRecord(technology_id=technology.id, site_id=site.id, status=status, start_date=start,
                                           end_date=end, source="demo", is_demo=True, updated_at=reported))
                adoption_count += 1
        bump_data_version(session)
        return DemoSummary(len(technologies), len(sites), adoption_count)
