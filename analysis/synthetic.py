"""Synthetic evidence drawn from known true distributions (tests, calibration and benchmarks).

Every technology gets, for each ordinal quantity, a true distribution ``p*`` over the quantity's
categories: a discretised bell around a random centre with a random spread. The evidence sources
then report draws from ``p*``:

* catalogue desk assessment: one draw (present for ``desk_share`` of technologies);
* survey users: draws from ``p*``; aware-only respondents (``not_used``) answer from ``p*`` half
  of the time and uniformly at random otherwise; a few answer dont_know;
* workshops (``workshop_share`` of technologies): consensus in on the median category of ``p*``,
  sometimes preceded by a round without consensus;
* adoption records: each site's current status is a draw from ``p*`` of the adoption stage
  (a few sites discontinued), some with an earlier superseded record.

The *true value* of an ordinal quantity is the realised category — one more draw from ``p*`` — the
thing the 90% predictive interval is meant to contain. For minutes per case the true value is the
median of the population the survey values come from (true median + Laplace noise).

Truth and evidence come from separate random streams, so the same ``seed`` gives the same truth
whatever the amount of evidence (used to show that estimates approach the truth as evidence grows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis import schemas as s

TYPE_CODES = ("diagnostics", "automation", "p4_medicine", "remote_monitoring", "therapeutic", "other")
TYPE_SHARES = (0.34, 0.2, 0.12, 0.14, 0.1, 0.1)
DIAGNOSTIC_SUBTYPES = ("imaging", "pathology", "endoscopy")
CLINICAL_AREAS = ("general_practice", "radiology", "pathology", "cardiology", "oncology", "ophthalmology",
                  "dermatology", "mental_health", "emergency_medicine", "respiratory", "maternity", "administration")
WORKFORCE_GROUPS = ("medic:general_practice", "medic:radiology", "medic:pathology", "medic:cardiology",
                    "medic:oncology", "nurse:district_nursing", "nurse:general_practice", "midwife:maternity",
                    "ahp:radiology", "healthcare_scientist:pathology", "pharmacy:pharmacy",
                    "non_clinical:administration")
POINTS_OF_CARE = ("primary", "secondary", "community", "self_care")
STAFF_GROUPS = ("medic", "nurse", "midwife", "ahp", "healthcare_scientist", "pharmacy", "paramedic", "non_clinical")
TRAINING_CODES = ("foundational", "archetype", "product", "none")
BASE_DATE = np.datetime64("2025-01-01T00:00:00", "ns")
DAY = np.timedelta64(1, "D")


@dataclass(frozen=True)
class SyntheticData:
    """All input frames of the analysis layer plus the known truth.

    ``truth`` columns: technology_id, quantity, true_value (realised category code or true median
    minutes), true_index (its category position, or the minutes), true_position (true_index plus a
    uniform jitter within the category, for ordinal quantities), true_median_index (median
    category of p*, or the true median minutes) and p_<code> (the true distribution p*).
    """

    technologies: pd.DataFrame
    technology_links: pd.DataFrame
    adoption: pd.DataFrame
    responses: pd.DataFrame
    answers: pd.DataFrame
    workshop_results: pd.DataFrame
    truth: pd.DataFrame


def generate(n_technologies: int = 200, n_responses: int = 2000, seed: int = 0, *,
             aware_share: float = 0.3, desk_share: float = 0.85, workshop_share: float = 0.2,
             dont_know_share: float = 0.05, mean_sites: float = 3.0, n_sites: int = 400,
             minutes_share: float = 0.7) -> SyntheticData:
    """Generate a seeded synthetic data set (vectorised; 1M responses take a few seconds).

    Each response is about one technology (uniformly chosen), answers every per-technology
    question, and gives profile answers (staff group, region, one or two archetypes).
    """
    truth_rng = np.random.default_rng([seed, 1])
    evidence_rng = np.random.default_rng([seed, 2])
    technology_ids = np.arange(1, n_technologies + 1, dtype=np.int64)

    true_p = {q: _true_distributions(truth_rng, n_technologies, len(s.QUANTITY_CATEGORIES[q]))
              for q in s.ORDINAL_QUANTITIES}
    true_minutes = np.round(truth_rng.normal(4.0, 8.0, n_technologies), 1)
    minutes_spread = truth_rng.uniform(2.0, 6.0, n_technologies)

    technologies = _technologies(evidence_rng, technology_ids, true_p, desk_share)
    links = _links(evidence_rng, technology_ids)
    sites = _sites(evidence_rng, n_sites)
    adoption = _adoption(evidence_rng, technology_ids, true_p["adoption_stage"], sites, mean_sites)
    workshops = _workshops(evidence_rng, technology_ids, true_p, workshop_share)
    responses, answers = _survey(evidence_rng, technology_ids, true_p, true_minutes, minutes_spread,
                                 n_responses, aware_share, dont_know_share, minutes_share)
    truth = _truth(truth_rng, technology_ids, true_p, true_minutes)
    return SyntheticData(technologies, links, adoption, responses, answers, workshops, truth)


def _true_distributions(rng: np.random.Generator, n: int, n_categories: int) -> np.ndarray:
    """Discretised bells: centre uniform over the scale, spread between 0.5 and 1.5 categories."""
    centre = rng.uniform(-0.3, n_categories - 0.7, n)
    spread = rng.uniform(0.5, 1.5, n)
    positions = np.arange(n_categories)[None, :]
    weights = np.exp(-0.5 * ((positions - centre[:, None]) / spread[:, None]) ** 2)
    return weights / weights.sum(axis=1, keepdims=True)


def _draw(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """One category draw per row of ``probabilities`` (vectorised inverse-CDF sampling)."""
    cumulative = np.cumsum(probabilities, axis=1)
    cumulative[:, -1] = 1.0
    return (rng.random(len(probabilities))[:, None] > cumulative).sum(axis=1)


def _median_category(probabilities: np.ndarray) -> np.ndarray:
    return (np.cumsum(probabilities, axis=1) < 0.5).sum(axis=1)


def _technologies(rng, technology_ids, true_p, desk_share) -> pd.DataFrame:
    n = len(technology_ids)
    type_code = rng.choice(np.array(TYPE_CODES, dtype=object), n, p=TYPE_SHARES)
    subtype = np.where(type_code == "diagnostics",
                       rng.choice(np.array(DIAGNOSTIC_SUBTYPES, dtype=object), n), None)
    frame = pd.DataFrame({
        "technology_id": technology_ids,
        "name": [f"Synthetic technology {i}" for i in technology_ids],
        "type_code": type_code,
        "subtype_code": subtype,
    })
    for quantity in s.CATALOGUE_COLUMN:
        codes = np.array(s.QUANTITY_CATEGORIES[quantity], dtype=object)
        desk = codes[_draw(rng, true_p[quantity])]
        frame[quantity] = np.where(rng.random(n) < desk_share, desk, None)
    reviewed_days = rng.integers(0, 900, n)
    frame["last_reviewed"] = np.where(rng.random(n) < 0.9, BASE_DATE - reviewed_days * DAY, np.datetime64("NaT"))
    frame["updated_at"] = BASE_DATE - rng.integers(0, 60, n) * DAY
    frame["is_demo"] = False
    return frame


def _links(rng, technology_ids) -> pd.DataFrame:
    parts = []
    for kind, codes, max_links in (("clinical_area", CLINICAL_AREAS, 2), ("workforce_group", WORKFORCE_GROUPS, 3),
                                   ("point_of_care", POINTS_OF_CARE, 2)):
        counts = rng.integers(1, max_links + 1, len(technology_ids))
        tech = np.repeat(technology_ids, counts)
        # Distinct codes per technology: a random rotation of the code list, first `count` items.
        start = np.repeat(rng.integers(0, len(codes), len(technology_ids)), counts)
        step = np.arange(len(tech)) - np.repeat(np.cumsum(counts) - counts, counts)
        code = np.array(codes, dtype=object)[(start + step) % len(codes)]
        parts.append(pd.DataFrame({"technology_id": tech, "kind": kind, "code": code,
                                   "is_primary": (kind == "workforce_group") & (step == 0)}))
    return pd.concat(parts, ignore_index=True)


def _sites(rng, n_sites) -> pd.DataFrame:
    return pd.DataFrame({
        "site_id": np.arange(1, n_sites + 1, dtype=np.int64),
        "region": rng.choice(np.array(s.REGIONS, dtype=object), n_sites),
        "site_type": rng.choice(np.array(s.SITE_TYPES, dtype=object), n_sites,
                                p=(0.35, 0.1, 0.1, 0.05, 0.3, 0.05, 0.05)),
    })


def _adoption(rng, technology_ids, stage_p, sites, mean_sites) -> pd.DataFrame:
    counts = rng.poisson(mean_sites, len(technology_ids))
    tech_index = np.repeat(np.arange(len(technology_ids)), counts)
    # Distinct sites per technology: consecutive ids from a random start.
    step = np.arange(len(tech_index)) - np.repeat(np.cumsum(counts) - counts, counts)
    site_index = (np.repeat(rng.integers(0, len(sites), len(technology_ids)), counts) + step) % len(sites)
    stage = _draw(rng, stage_p[tech_index])
    status = np.array(s.ADOPTION_STAGES, dtype=object)[stage]
    status = np.where(rng.random(len(stage)) < 0.05, "discontinued", status)
    start = BASE_DATE - rng.integers(30, 700, len(stage)) * DAY
    current = pd.DataFrame({
        "technology_id": technology_ids[tech_index],
        "site_id": sites["site_id"].to_numpy()[site_index],
        "region": sites["region"].to_numpy()[site_index],
        "site_type": sites["site_type"].to_numpy()[site_index],
        "status": status,
        "start_date": start,
        "end_date": np.datetime64("NaT", "ns"),
        "updated_at": start + 10 * DAY,
    })
    # A quarter of the sites were exploring before: an ended, superseded record.
    earlier = current[rng.random(len(current)) < 0.25].assign(
        status="exploring",
        start_date=lambda f: f["start_date"] - 200 * DAY,
        end_date=lambda f: f["start_date"],
        updated_at=lambda f: f["start_date"],
    )
    return pd.concat([current, earlier], ignore_index=True)


def _workshops(rng, technology_ids, true_p, workshop_share) -> pd.DataFrame:
    rows = []
    for quantity in s.WORKSHOP_QUANTITIES:
        chosen = np.flatnonzero(rng.random(len(technology_ids)) < workshop_share)
        band = np.array(s.QUANTITY_CATEGORIES[quantity], dtype=object)[_median_category(true_p[quantity][chosen])]
        two_rounds = rng.random(len(chosen)) < 0.5
        closed = BASE_DATE - rng.integers(0, 300, len(chosen)) * DAY
        final = pd.DataFrame({"workshop_id": 1 + chosen % 5, "round": np.where(two_rounds, 2, 1),
                              "technology_id": technology_ids[chosen], "quantity": quantity, "category": band,
                              "consensus": "in", "closed_at": closed})
        first = final[two_rounds].assign(round=1, consensus="none", closed_at=lambda f: f["closed_at"] - 14 * DAY)
        rows += [final, first]
    frame = pd.concat(rows, ignore_index=True)
    frame["n_participants"] = 12
    frame["rule"] = ">=70% in band"
    return frame[["workshop_id", "round", "technology_id", "quantity", "category", "consensus",
                  "n_participants", "rule", "closed_at"]]


def _survey(rng, technology_ids, true_p, true_minutes, minutes_spread, n_responses, aware_share,
            dont_know_share, minutes_share) -> tuple[pd.DataFrame, pd.DataFrame]:
    response_id = np.arange(1, n_responses + 1, dtype=np.int64)
    tech_index = rng.integers(0, len(technology_ids), n_responses)
    tech = technology_ids[tech_index]
    aware = rng.random(n_responses) < aware_share
    region = rng.choice(np.array(s.REGIONS, dtype=object), n_responses)
    staff = rng.choice(np.array(STAFF_GROUPS, dtype=object), n_responses)
    responses = pd.DataFrame({
        "response_id": response_id,
        "instrument": "clinician",
        "submitted_at": BASE_DATE - rng.integers(0, 365 * 24, n_responses) * np.timedelta64(1, "h"),
        "region": region,
        "site_type": rng.choice(np.array(s.SITE_TYPES, dtype=object), n_responses),
        "staff_group": staff,
        "is_demo": False,
        "language": "en",
    })
    parts: list[tuple[np.ndarray, np.ndarray | None, str, np.ndarray]] = [
        (response_id, None, "staff_group", staff),
        (response_id, None, "region", region),
        (response_id, None, s.VAR_ARCHETYPES, rng.choice(np.array(s.ARCHETYPES, dtype=object), n_responses)),
    ]
    frequency = np.where(aware, "not_used",
                         rng.choice(np.array(s.USER_FREQUENCIES, dtype=object), n_responses))
    parts.append((response_id, tech, s.VAR_USE_FREQUENCY, frequency))
    for quantity in s.ORDINAL_QUANTITIES:
        categories = s.QUANTITY_CATEGORIES[quantity]
        drawn = _draw(rng, true_p[quantity][tech_index])
        guessing = aware & (rng.random(n_responses) < 0.5)
        drawn = np.where(guessing, rng.integers(0, len(categories), n_responses), drawn)
        value = np.array(categories, dtype=object)[drawn]
        value = np.where(rng.random(n_responses) < dont_know_share, s.DONT_KNOW, value)
        parts.append((response_id, tech, s.SURVEY_VARIABLE[quantity], value))
    minutes = true_minutes[tech_index] + rng.laplace(0.0, minutes_spread[tech_index])
    minutes = np.round(minutes, 1)
    answered = rng.random(n_responses) < minutes_share
    effect = np.where(minutes > 0, "saved", np.where(minutes < 0, "added", "no_change"))
    effect = np.where(answered, effect, s.DONT_KNOW)
    parts.append((response_id, tech, s.VAR_TIME_EFFECT, effect))
    with_minutes = answered & (minutes != 0)
    parts.append((response_id[with_minutes], tech[with_minutes], s.VAR_MINUTES,
                  np.abs(minutes[with_minutes]).astype(str).astype(object)))
    parts.append((response_id, tech, s.VAR_TRAINING_NEEDED,
                  rng.choice(np.array(TRAINING_CODES, dtype=object), n_responses)))
    received = rng.random(n_responses) < 0.5
    parts.append((response_id[received], tech[received], s.VAR_TRAINING_RECEIVED,
                  rng.choice(np.array(TRAINING_CODES[:3], dtype=object), int(received.sum()))))
    answers = pd.DataFrame({
        "response_id": np.concatenate([p[0] for p in parts]),
        "technology_id": pd.array(np.concatenate([
            np.full(len(p[0]), -1, dtype=np.int64) if p[1] is None else p[1] for p in parts]), dtype="Int64"),
        "variable": np.concatenate([np.full(len(p[0]), p[2], dtype=object) for p in parts]),
        "value": np.concatenate([p[3] for p in parts]),
    })
    answers.loc[answers["technology_id"] == -1, "technology_id"] = pd.NA
    answers = answers.sort_values("response_id", kind="stable", ignore_index=True)
    answers["variable"] = answers["variable"].astype(str)
    answers["value"] = answers["value"].astype(str)
    return responses, answers


def _truth(rng, technology_ids, true_p, true_minutes) -> pd.DataFrame:
    parts = []
    for quantity in s.ORDINAL_QUANTITIES:
        categories = s.QUANTITY_CATEGORIES[quantity]
        outcome = _draw(rng, true_p[quantity])
        frame = pd.DataFrame({
            "technology_id": technology_ids,
            "quantity": quantity,
            "true_value": np.array(categories, dtype=object)[outcome],
            "true_index": outcome.astype(float),
            # Randomised position of the realised category on the latent scale (category k spans
            # [k, k+1)): the standard way to check calibration of a discrete forecast.
            "true_position": outcome + rng.random(len(outcome)),
            "true_median_index": _median_category(true_p[quantity]).astype(float),
        })
        for k, code in enumerate(categories):
            frame[f"p_{code}"] = true_p[quantity][:, k]
        parts.append(frame)
    parts.append(pd.DataFrame({
        "technology_id": technology_ids,
        "quantity": "minutes_per_case",
        "true_value": true_minutes.astype(object),
        "true_index": true_minutes,
        "true_position": true_minutes,
        "true_median_index": true_minutes,
    }))
    return pd.concat(parts, ignore_index=True)


# --- tiny hand-made frames (tests, notebooks) ---------------------------------------------------

_DEFAULTS: dict[str, dict[str, object]] = {
    "technologies": {"subtype_code": None, "type_code": "other", "time_to_deployment": None,
                     "impact_workforce": None, "impact_pathway": None, "impact_system": None,
                     "last_reviewed": None, "updated_at": "2025-01-01", "is_demo": False},
    "technology_links": {"is_primary": False},
    "adoption": {"region": "london", "site_type": "acute_trust", "start_date": "2024-01-01", "end_date": None,
                 "updated_at": "2024-06-01"},
    "responses": {"instrument": "clinician", "submitted_at": "2025-01-01", "region": None, "site_type": None,
                  "staff_group": None, "is_demo": False, "language": None},
    "answers": {"technology_id": None},
    "workshop_results": {"round": 1, "consensus": "in", "n_participants": 10, "rule": ">=70% in band",
                         "closed_at": "2024-12-01"},
}


def build_frames(technologies: list[dict], technology_links: list[dict] | None = None,
                 adoption: list[dict] | None = None, responses: list[dict] | None = None,
                 answers: list[dict] | None = None, workshop_results: list[dict] | None = None) -> dict[str, pd.DataFrame]:
    """Validated input frames from a few hand-written rows, filling documented defaults.

    Only the identifying fields need to be given (e.g. ``{"technology_id": 1}``); technologies
    get the name "Technology <id>" unless one is given. Returns a dict keyed by frame name.
    """
    given = {"technologies": technologies, "technology_links": technology_links or [], "adoption": adoption or [],
             "responses": responses or [], "answers": answers or [], "workshop_results": workshop_results or []}
    frames = {}
    for name, rows in given.items():
        columns = [spec.name for spec in s.FRAME_SCHEMAS[name]]
        filled = [{**_DEFAULTS[name], **row} for row in rows]
        if name == "technologies":
            filled = [{"name": f"Technology {row['technology_id']}", **row} for row in filled]
        frame = pd.DataFrame(filled, columns=columns) if filled else pd.DataFrame({c: [] for c in columns})
        frames[name] = s.validate_frame(frame, name)
    return frames


# --- a large workshop (tests and benchmarks of the consensus summaries) --------------------------

WORKSHOP_GROUPS: tuple[str, ...] = ("clinicians", "managers", "patients")


def workshop_ratings(participants: int = 60, items: int = 200, rounds: int = 3, seed: int = 20240601) -> pd.DataFrame:
    """Long-format 1-9 ratings (participant, group, item, round, rating) of a full workshop, every
    participant rating every item in every round, about 5% of ratings left blank."""
    generator = np.random.default_rng(seed)
    person, item, round_number = (
        axis.ravel() for axis in np.meshgrid(np.arange(participants), np.arange(items), np.arange(1, rounds + 1), indexing="ij")
    )
    ratings = generator.integers(1, 10, person.size).astype(float)
    ratings[generator.random(person.size) < 0.05] = np.nan
    return pd.DataFrame({
        "participant": [f"p{number}" for number in person],
        "group": [WORKSHOP_GROUPS[number % len(WORKSHOP_GROUPS)] for number in person],
        "item": [f"item-{number:03d}" for number in item],
        "round": round_number,
        "rating": ratings,
    })
