"""Demonstration survey evidence: clinician responses and organisational adoption returns.

Reproducible (fixed seed), flagged ``is_demo`` and made only against the demo catalogue. Every
response goes through the survey engine's validation like a real one. Answers lean towards each
technology's desk assessment (with realistic disagreement and "don't know"s), so blended
estimates computed from them look like real evidence pulling on the catalogue's values.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, func, select

from storage.catalogue import bump_data_version
from storage.db import read_session, write_session
from storage.models.catalogue import AdoptionRecord, Site, Technology, TechnologyLink
from storage.models.survey import SurveyCampaign, SurveyResponse
from storage.survey_codes import new_code
from storage.survey_submit import apply_adoption_return, insert_response, validated_document
from storage.surveys import ensure_builtin_instruments, instrument_by_id

DEMO_EVIDENCE_SEED = 3033
CLINICIAN_RESPONSES = 300
ADOPTION_RETURNS = 60
_END = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
_SPAN_DAYS = 180

_HORIZONS = ["at_scale", "within_1y", "1_3y", "over_3y"]
_LEVELS = ["low", "medium", "high"]
_STAGES = ["exploring", "piloting", "live", "scaled"]
_STAGE_FOR_HORIZON = {"at_scale": 3, "within_1y": 2, "1_3y": 1, "over_3y": 0}
_SPECIALTIES = {"general_practice", "radiology", "pathology", "cardiology", "oncology", "ophthalmology", "dermatology",
                "gastroenterology", "neurology", "respiratory", "emergency_medicine", "mental_health", "maternity",
                "district_nursing", "pharmacy", "administration", "surgery", "urology", "endocrinology", "ambulance"}
_SITE_TYPE_FOR_GROUP = {"paramedic": "ambulance_trust", "medic": "acute_trust", "nurse": "acute_trust"}
_REGIONS = ["east_of_england", "london", "midlands", "north_east_yorkshire", "north_west", "south_east", "south_west"]
_SITE_TYPES = ["acute_trust", "acute_trust", "acute_trust", "mental_health_trust", "community_provider", "primary_care", "icb"]
_BARRIERS = ["evidence", "cost", "infrastructure", "information_governance", "staff_time", "skills", "trust", "patient_acceptance", "leadership"]
_CONFIDENCE_ITEMS = ["conf_gov_regulation", "conf_gov_evaluation", "conf_gov_guidelines", "conf_gov_liability", "conf_impl_strategy",
                     "conf_impl_technical", "conf_impl_systems", "conf_clin_attitudes", "conf_clin_design", "conf_clin_bias", "conf_clin_context"]


@dataclass(frozen=True)
class _DemoTechnology:
    id: int
    horizon: str | None
    impacts: tuple[str | None, str | None, str | None]
    workforce_groups: tuple[str, ...]


def _nudged(rng: random.Random, scale: Sequence[str], desk: str | None, *, agree: float = 0.6, dont_know: float = 0.08) -> str:
    """Mostly the desk value, otherwise a neighbouring category; sometimes "don't know"."""
    if rng.random() < dont_know or desk not in scale:
        return "dont_know" if rng.random() < 0.7 or desk not in scale else rng.choice(scale)
    index = scale.index(desk)
    if rng.random() < agree:
        return desk
    return scale[max(0, min(len(scale) - 1, index + rng.choice((-1, 1))))]


def _rating(rng: random.Random, centre: float) -> int:
    return max(1, min(5, round(rng.gauss(centre, 0.8))))


def _profile(rng: random.Random, technology: _DemoTechnology) -> dict[str, object]:
    group_code = rng.choice(technology.workforce_groups) if technology.workforce_groups else "medic:general_practice"
    staff_group, _, area = group_code.partition(":")
    answers: dict[str, object] = {
        "consent": "yes",
        "staff_group": staff_group,
        "region": rng.choice(_REGIONS),
        "site_type": _SITE_TYPE_FOR_GROUP.get(staff_group, rng.choice(_SITE_TYPES)) if rng.random() < 0.7 else rng.choice(_SITE_TYPES),
        "years_in_role": rng.randint(0, 35),
        "archetypes": ["user"] + (["embedder"] if rng.random() < 0.15 else []) + (["driver"] if rng.random() < 0.08 else []),
        "ai_familiarity": rng.randint(1, 5),
        "follow_up": rng.choice(["yes", "no", "no", "no"]),
    }
    if area in _SPECIALTIES and rng.random() < 0.9:
        answers["specialty"] = area
    if answers["follow_up"] == "yes":
        answers["contact_email"] = f"demo.respondent{rng.randint(1000, 9999)}@example.nhs.uk"
    return answers


def _technology_answers(rng: random.Random, technology: _DemoTechnology) -> dict[str, object]:
    horizon = technology.horizon or "1_3y"
    maturity = _STAGE_FOR_HORIZON.get(horizon, 1)
    frequency = rng.choices(["daily", "weekly", "monthly", "rarely", "not_used"],
                            weights=[2 + 3 * maturity, 3 + maturity, 3, 2, 4 - maturity])[0]
    impact_high = sum(level == "high" for level in technology.impacts)
    effect = rng.choices(["saved", "added", "no_change", "dont_know"], weights=[4 + 2 * impact_high, 2, 2, 1])[0]
    answers: dict[str, object] = {
        "tech_use_frequency": frequency,
        "tech_stage": _STAGES[max(0, min(3, maturity + rng.choice((-1, 0, 0, 0, 1))))] if rng.random() > 0.1 else "dont_know",
        "tech_time_effect": effect,
        "tech_tasks_share": min(100, max(0, round(rng.gauss(15 + 10 * impact_high, 10)))),
        "tech_impact_workforce": _nudged(rng, _LEVELS, technology.impacts[0]),
        "tech_impact_pathway": _nudged(rng, _LEVELS, technology.impacts[1]),
        "tech_impact_system": _nudged(rng, _LEVELS, technology.impacts[2]),
        "tech_time_to_scale": _nudged(rng, _HORIZONS, horizon, agree=0.55, dont_know=0.12),
        "tech_accuracy": _rating(rng, 3.2 + 0.3 * maturity),
        "tech_safety": _rating(rng, 3.4 + 0.2 * maturity),
        "tech_patient_benefit": _rating(rng, 2.6 + 0.5 * impact_high),
        "tech_role_change": rng.sample(["fewer_routine_tasks", "new_tasks", "more_oversight", "changed_skill_mix"], k=rng.randint(1, 2))
        if rng.random() < 0.75 else ["no_change"],
        "tech_training_received": rng.sample(["foundational", "archetype", "product"], k=rng.randint(1, 2)) if rng.random() < 0.6 else ["none"],
        "tech_training_needed": rng.sample(["foundational", "archetype", "product"], k=rng.randint(1, 3)),
        "tech_barriers": rng.sample(_BARRIERS, k=rng.randint(1, 3)) if rng.random() < 0.9 else ["none"],
    }
    if effect in ("saved", "added"):
        answers["tech_minutes_per_case"] = round(abs(rng.gauss(4 + 3 * impact_high if effect == "saved" else 3, 2.5)), 1)
    for item in rng.sample(_CONFIDENCE_ITEMS, k=rng.randint(4, len(_CONFIDENCE_ITEMS))):
        answers[item] = "dont_know" if rng.random() < 0.1 else str(_rating(rng, 2.8 + 0.3 * maturity))
    return answers


def _return_answers(rng: random.Random, technology: _DemoTechnology, current: str | None, day: dt.date) -> dict[str, object]:
    if current in _STAGES and rng.random() < 0.6:
        status = _STAGES[min(3, _STAGES.index(current) + 1)] if rng.random() < 0.4 else current
    else:
        status = _STAGES[max(0, min(3, _STAGE_FOR_HORIZON.get(technology.horizon or "1_3y", 1) + rng.choice((-1, 0, 0, 1))))]
    if rng.random() < 0.05:
        status = "discontinued"
    answers: dict[str, object] = {"adoption_status": status, "evaluation_done": rng.choice(["yes_formal", "yes_informal", "planned", "no"]),
                                  "nice_esf_tier": rng.choice(["A", "B", "C", "dont_know"]),
                                  "evidence_held": rng.sample(["dtac", "dcb0129_0160", "clinical_study", "real_world_evaluation"], k=rng.randint(1, 3))}
    if status in ("live", "scaled"):
        answers["go_live_date"] = (day - dt.timedelta(days=rng.randint(30, 900))).isoformat()
        answers["scale_users"] = rng.randint(5, 400)
        answers["scale_sites"] = rng.randint(1, 6)
        answers["scale_monthly_volume"] = rng.randint(50, 20000)
    elif status == "discontinued":
        answers["discontinued_date"] = (day - dt.timedelta(days=rng.randint(10, 300))).isoformat()
    elif status == "piloting":
        answers["scale_users"] = rng.randint(2, 40)
        answers["scale_sites"] = 1
    return answers


def _demo_catalogue(engine: Engine) -> tuple[list[_DemoTechnology], list[Site], dict[tuple[int, int], str]]:
    with read_session(engine) as session:
        rows = session.execute(select(Technology.id, Technology.time_to_deployment, Technology.impact_workforce, Technology.impact_pathway,
                                      Technology.impact_system).where(Technology.is_demo.is_(True)).order_by(Technology.id)).all()
        groups: dict[int, list[str]] = {}
        for technology_id, code in session.execute(select(TechnologyLink.technology_id, TechnologyLink.code)
                                                   .where(TechnologyLink.kind == "workforce_group").order_by(TechnologyLink.id)):
            groups.setdefault(technology_id, []).append(code)
        sites = list(session.scalars(select(Site).where(Site.is_demo.is_(True)).order_by(Site.id)))
        statuses = {(t, s): status for t, s, status in session.execute(
            select(AdoptionRecord.technology_id, AdoptionRecord.site_id, AdoptionRecord.status))}
    technologies = [_DemoTechnology(r.id, r.time_to_deployment, (r.impact_workforce, r.impact_pathway, r.impact_system),
                                    tuple(groups.get(r.id, ()))) for r in rows]
    return technologies, sites, statuses


def _moment(rng: random.Random) -> dt.datetime:
    return _END - dt.timedelta(days=rng.uniform(0, _SPAN_DAYS))


def load_demo_evidence(engine: Engine, catalogue_skipped: bool = False) -> dict[str, int]:
    """Load demo campaigns, clinician responses and adoption returns once (registered in DEMO_EVIDENCE_LOADERS).

    Does nothing when demo survey evidence already exists or the database has no demo catalogue.
    """
    empty = {"survey_responses": 0, "adoption_returns": 0}
    with read_session(engine) as session:
        if session.scalar(select(func.count()).select_from(SurveyResponse).where(SurveyResponse.is_demo.is_(True))):
            return empty
    technologies, sites, statuses = _demo_catalogue(engine)
    if not technologies or not sites:
        return empty
    instrument_ids = ensure_builtin_instruments(engine)
    clinician = instrument_by_id(engine, instrument_ids["clinician_experience"])
    adoption = instrument_by_id(engine, instrument_ids["organisation_adoption"])
    rng = random.Random(DEMO_EVIDENCE_SEED)
    with write_session(engine) as session:
        campaigns = {}
        for name, title in (("clinician_experience", "Demo: staff experience of AI tools 2026"),
                            ("organisation_adoption", "Demo: organisational adoption return 2026")):
            campaign = SurveyCampaign(instrument_id=instrument_ids[name], title=title, opens_at=_END - dt.timedelta(days=_SPAN_DAYS + 1),
                                      closes_at=_END, anonymous=True, access="open", is_demo=True, created_by="demo")
            session.add(campaign)
            session.flush()
            campaigns[name] = campaign.id
        for index in range(CLINICIAN_RESPONSES):
            chosen = rng.sample(technologies, k=rng.choices([1, 2, 3, 4], weights=[4, 3, 2, 1])[0])
            document = validated_document(clinician.instrument, _profile(rng, chosen[0]),
                                          {str(t.id): _technology_answers(rng, t) for t in chosen})
            insert_response(session, instrument_id=clinician.id, campaign_id=campaigns["clinician_experience"], document=document,
                            idempotency_key=f"demo:clinician_experience:{index + 1}", receipt_code=new_code(), respondent=None,
                            source="demo", is_demo=True, submitted_at=_moment(rng), language="en")
        returns = [sites[i % len(sites)] for i in range(ADOPTION_RETURNS)]
        for index, site in enumerate(returns):
            moment = _moment(rng)
            chosen = rng.sample(technologies, k=rng.randint(2, 5))
            organisation = {"organisation_name": site.name, "site_type": site.site_type, "region": site.region}
            if site.ods_code:
                organisation["ods_code"] = site.ods_code
            per_technology = {str(t.id): _return_answers(rng, t, statuses.get((t.id, site.id)), moment.date()) for t in chosen}
            document = validated_document(adoption.instrument, organisation, per_technology)
            insert_response(session, instrument_id=adoption.id, campaign_id=campaigns["organisation_adoption"], document=document,
                            idempotency_key=f"demo:organisation_adoption:{index + 1}", receipt_code=new_code(), respondent=None,
                            source="demo", is_demo=True, submitted_at=moment, language="en")
            apply_adoption_return(session, document, is_demo=True)
        bump_data_version(session)
    return {"survey_responses": CLINICIAN_RESPONSES, "adoption_returns": ADOPTION_RETURNS}
