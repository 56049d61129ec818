"""A closed, two-round demonstration workshop, so the analysis has workshop evidence to blend.

Synthetic and reproducible (fixed seed): 20 participants in 4 stakeholder groups rate 12 demo
technologies on their impact on the primary workforce group (1-9) and their time to
deployment at scale (horizon scale). Round 2 moves towards the round-1 medians, as Delphi
feedback does; two participants drop out after round 1, and one item that reached consensus
in round 1 is dropped from round 2. It is built through the same repository functions the
pages use, so every rule of a real workshop applies to it.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, func, select

from analysis.consensus_rules import COMET_RULE
from storage.db import read_session
from storage.models.catalogue import Technology
from storage.models.workshop import Workshop
from storage.workshops import (
    Actor,
    analyse_workshop,
    close_round,
    close_workshop,
    create_workshop,
    delete_workshop,
    drop_item,
    get_workshop,
    join_workshop,
    open_round,
    save_ratings,
)
from survey.workshop_rules import (
    HORIZON_SCALE,
    IMPACT_SCALE,
    GroupInput,
    ItemInput,
    RatingInput,
    WorkshopInput,
    WorkshopScales,
)

DEMO_WORKSHOP_SEED = 4040
DEMO_FACILITATOR = Actor(user_id="demo-facilitator", role="facilitator")
DEMO_WORKSHOP_DATE = date(2026, 3, 10)
DEMO_TECHNOLOGY_COUNT = 12
# (group name, invited, joined)
DEMO_GROUPS = (("Clinicians", 8, 6), ("Managers", 6, 5), ("Patients and public", 6, 4), ("Industry", 5, 5))
DEMO_DROPOUTS = 2
HORIZON_VALUE = {"at_scale": 1, "within_1y": 2, "1_3y": 3, "over_3y": 4}


def _clip(value: float, low: int, high: int) -> int:
    return int(min(high, max(low, round(value))))


def _demo_loaded(engine: Engine) -> bool:
    with read_session(engine) as session:
        return bool(session.scalar(select(func.count()).select_from(Workshop).where(Workshop.is_demo.is_(True))))


def _demo_technologies(engine: Engine) -> list[tuple[int, str | None]]:
    with read_session(engine) as session:
        return list(session.execute(
            select(Technology.id, Technology.time_to_deployment)
            .where(Technology.is_demo.is_(True)).order_by(Technology.id).limit(DEMO_TECHNOLOGY_COUNT)
        ).all())  # fmt: skip


def _round_ratings(rng: random.Random, centres: dict[int, float], spread: float, scale_max: int,
                   group_offset: float, previous_median: dict[int, float] | None) -> list[RatingInput]:
    ratings = []
    for item_id, centre in centres.items():
        target = centre + group_offset
        if previous_median is not None:  # Delphi feedback pulls opinions towards the group
            target = 0.4 * target + 0.6 * previous_median[item_id]
        value = _clip(rng.gauss(target, spread), 1, scale_max)
        reason = rng.choice(["", "", "", "Evidence from pilots is promising.", "Needs integration work first.",
                             "Staff training is the bottleneck."])
        ratings.append(RatingInput(item_id=item_id, value=value, reason=reason))
    return ratings


def load_demo_workshop(engine: Engine, catalogue_skipped: bool = False) -> dict[str, int]:
    """Load the demo workshop once (idempotent); returns counts for `roadmap demo`.

    Needs the demo catalogue; does nothing when it is absent or the workshop already exists.
    """
    empty = {"workshops": 0, "workshop_participants": 0, "workshop_ratings": 0}
    if _demo_loaded(engine):
        return empty
    technologies = _demo_technologies(engine)
    if len(technologies) < DEMO_TECHNOLOGY_COUNT:
        return empty
    start = datetime.combine(DEMO_WORKSHOP_DATE, datetime.min.time(), tzinfo=UTC) + timedelta(hours=10)
    data = WorkshopInput(
        title="Demo: regional AI adoption consensus workshop",
        purpose="Demonstration workshop with synthetic participants: how much will these technologies change the "
                "work of their primary staff group, and how soon will they be deployed at scale?",
        workshop_date=DEMO_WORKSHOP_DATE,
        scales=WorkshopScales(default=IMPACT_SCALE, by_question={"time_to_deployment": HORIZON_SCALE}),
        rule=COMET_RULE, n_rounds=2,
        expires_at=start + timedelta(hours=10),
        items=[ItemInput(technology_id=technology_id, question=question)
               for technology_id, _horizon in technologies for question in ("impact_workforce", "time_to_deployment")],
        groups=[GroupInput(name=name, invited=invited) for name, invited, _joined in DEMO_GROUPS],
    )  # fmt: skip
    workshop_id = create_workshop(engine, data, is_demo=True, now=start - timedelta(days=14), actor=DEMO_FACILITATOR)
    try:
        return _run_demo(engine, workshop_id, technologies, start)
    except BaseException:
        delete_workshop(engine, workshop_id, actor=DEMO_FACILITATOR)
        raise


def _run_demo(engine: Engine, workshop_id: int, technologies: list[tuple[int, str | None]], start: datetime) -> dict[str, int]:
    rng = random.Random(DEMO_WORKSHOP_SEED)
    view = get_workshop(engine, workshop_id, actor=DEMO_FACILITATOR)
    horizon_of = dict(technologies)
    impact_centre = {i.id: rng.uniform(2.5, 8.8) for i in view.items if i.question == "impact_workforce"}
    horizon_centre = {
        i.id: HORIZON_VALUE.get(horizon_of[i.technology_id] or "", 3) + rng.uniform(-0.4, 0.4)
        for i in view.items if i.question == "time_to_deployment"
    }  # fmt: skip
    group_ids = {group.name: group.id for group in view.groups}
    open_round(engine, workshop_id, now=start, actor=DEMO_FACILITATOR)
    seats: list[tuple[str, float]] = []  # (token, this participant's personal offset)
    for name, _invited, joined in DEMO_GROUPS:
        group_offset = rng.uniform(-0.8, 0.8)
        for _ in range(joined):
            token, _alias = join_workshop(engine, view.join_code, group_ids[name], now=start + timedelta(minutes=2))
            seats.append((token, group_offset))

    def rate(round_number: int, voters: list[tuple[str, float]], previous: dict[int, float] | None,
             active: set[int], when: datetime) -> int:
        count = 0
        for token, offset in voters:
            impact = {k: v for k, v in impact_centre.items() if k in active}
            horizon = {k: v for k, v in horizon_centre.items() if k in active}
            ratings = _round_ratings(rng, impact, 1.7 if previous is None else 0.9, 9, offset, previous)
            ratings += _round_ratings(rng, horizon, 0.8 if previous is None else 0.4, 4, offset / 3, previous)
            count += save_ratings(engine, token, round_number, ratings, now=when)
        return count

    all_items = {item.id for item in view.items}
    total = rate(1, seats, None, all_items, start + timedelta(minutes=20))
    close_round(engine, workshop_id, now=start + timedelta(minutes=40), actor=DEMO_FACILITATOR)

    first = analyse_workshop(engine, workshop_id, actor=DEMO_FACILITATOR)
    medians = dict(zip(first.summary["item_id"], first.summary["median"], strict=True))
    reached = first.summary.loc[first.summary["consensus"] == "in", "item_id"].tolist()
    active = set(all_items)
    if reached:
        drop_item(engine, workshop_id, int(reached[0]), "Consensus in after round 1", actor=DEMO_FACILITATOR)
        active.discard(int(reached[0]))
    open_round(engine, workshop_id, now=start + timedelta(hours=1), actor=DEMO_FACILITATOR)
    total += rate(2, seats[:-DEMO_DROPOUTS], medians, active, start + timedelta(hours=1, minutes=20))
    close_workshop(engine, workshop_id, now=start + timedelta(hours=1, minutes=40), actor=DEMO_FACILITATOR)
    return {"workshops": 1, "workshop_participants": len(seats), "workshop_ratings": total}
