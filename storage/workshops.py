"""Workshop repository: set-up, rounds, anonymous participants, ratings and their analysis, read
from and written to the database. The rules (scales, set-up input, join codes, who may join, which
ratings a save may hold, progress and the consensus analysis) are in ``survey.workshop_rules``.

Every function that acts for a facilitator is guarded (``workshop.run``; listing every
workshop needs ``workshop.all``), takes a keyword-only ``actor`` and checks ownership here, in
the repository (a facilitator reaches only their own workshops; a lead, or a trusted caller
such as the command line, reaches all), so a page that forgot a check still cannot leak
another facilitator's workshop. Creating, changing and deleting a workshop and opening and
closing rounds are audited in the same transaction. Participants are identified only by a
random token whose SHA-256 hash is stored; their join code is their credential, so
participant functions check no role.

Each public write is one ``write_session`` transaction. Ratings are upserted on the unique
(round, item, participant) key, so a double click or a second tab stores one rating; on
PostgreSQL a saver holds a share lock on the round row, so closing a round waits for saves in
flight and no rating lands after the close.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import pandas as pd
from sqlalchemy import ColumnElement, Connection, Engine, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from analysis.consensus_rules import ConsensusRule
from storage.audit import Actor, record_audit  # Actor is also imported from here by workshop callers
from storage.catalogue import bump_data_version
from storage.change_log import WORKSHOPS, note_change
from storage.db import read_session, write_session
from storage.exports import ExportFormat, table_bytes
from storage.models.catalogue import Technology
from storage.models.workshop import Participant, Rating, StakeholderGroup, Workshop, WorkshopItem, WorkshopRound
from storage.permissions import guarded, is_allowed
from storage.retention import RETENTION_HOOKS, ErasureSubject, RetentionHook
from survey.workshop_rules import (
    RATING_FRAME_COLUMNS,
    RESULT_COLUMNS,
    GroupView,
    ItemInput,
    ItemView,
    JoinError,
    LiveProgress,
    ParticipantView,
    RatedItem,
    RatingError,
    RatingInput,
    RoundView,
    WorkshopAnalysis,
    WorkshopError,
    WorkshopInput,
    WorkshopNotFound,
    WorkshopScales,
    WorkshopView,
    analyse_ratings,
    attrition_table,
    check_ratings,
    empty_results,
    join_code_problem,
    join_refusal,
    new_join_code,
    normalise_join_code,
    now_utc,
    parse_ratings,
    participant_alias,
    progress_of,
    utc,
    with_item_keys,
    workshop_evidence,
)

def sees_every_workshop(actor: Actor | None) -> bool:
    """Whether ``actor`` reaches every workshop: a role with ``workshop.all``, or a trusted caller
    (None for internal loaders, the command line's trusted actor)."""
    return actor is None or getattr(actor, "trusted", False) or is_allowed(actor.role, "workshop.all")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _view(session: Session, workshop: Workshop) -> WorkshopView:
    technology_ids = {item.technology_id for item in workshop.items if item.technology_id is not None}
    names = dict(session.execute(select(Technology.id, Technology.name).where(Technology.id.in_(technology_ids))).all())
    return _view_of(workshop, workshop.items, workshop.groups, workshop.rounds, names)


def _view_of(workshop: Any, items: Iterable[Any], groups: Iterable[Any], rounds: Iterable[Any],
             names: Mapping[int, str]) -> WorkshopView:
    """A snapshot from ORM objects or plain rows with the same attribute names (``names``:
    technology id -> name)."""
    return WorkshopView(
        id=workshop.id, title=workshop.title, purpose=workshop.purpose, workshop_date=workshop.workshop_date,
        owner_user_id=workshop.owner_user_id, scales=WorkshopScales.model_validate(workshop.scales),
        rule=ConsensusRule.model_validate(workshop.rule), hide_results_until_close=workshop.hide_results_until_close,
        n_rounds=workshop.n_rounds, join_code=workshop.join_code, expires_at=utc(workshop.expires_at),
        status=workshop.status, is_demo=workshop.is_demo,
        items=tuple(
            ItemView(id=i.id, position=i.position, technology_id=i.technology_id,
                     technology_name=names.get(i.technology_id), question=i.question,
                     custom_question=i.custom_question, dropped_after_round=i.dropped_after_round,
                     drop_reason=i.drop_reason)
            for i in items
        ),
        groups=tuple(GroupView(id=g.id, name=g.name, invited=g.invited) for g in groups),
        rounds=tuple(RoundView(number=r.number, opened_at=utc(r.opened_at),
                               closed_at=utc(r.closed_at) if r.closed_at else None) for r in rounds),
    )  # fmt: skip


def _read_view(session: Session, which: ColumnElement[bool]) -> WorkshopView | None:
    """The snapshot of the workshop ``which`` selects (e.g. ``Workshop.id == 7``), read as plain
    columns in four queries, without ORM objects: the participants' pages ask for it on every
    run, and a whole room joins at once."""
    workshop = session.execute(select(Workshop.__table__).where(which)).first()
    if workshop is None:
        return None
    items = session.execute(
        select(WorkshopItem.__table__, Technology.name.label("technology_name"))
        .outerjoin(Technology, Technology.id == WorkshopItem.technology_id)
        .where(WorkshopItem.workshop_id == workshop.id).order_by(WorkshopItem.position)
    ).all()
    groups = session.execute(select(StakeholderGroup.__table__).where(StakeholderGroup.workshop_id == workshop.id)
                             .order_by(StakeholderGroup.position)).all()
    rounds = session.execute(select(WorkshopRound.__table__).where(WorkshopRound.workshop_id == workshop.id)
                             .order_by(WorkshopRound.number)).all()
    names = {item.technology_id: item.technology_name for item in items if item.technology_id is not None}
    return _view_of(workshop, items, groups, rounds, names)


def _load(session: Session, workshop_id: int, *, lock: bool = False) -> Workshop | None:
    query = select(Workshop).where(Workshop.id == workshop_id).options(
        selectinload(Workshop.items), selectinload(Workshop.groups), selectinload(Workshop.rounds)
    )
    if lock:
        query = query.with_for_update()
    return session.scalars(query).first()


def _owned(session: Session, actor: Actor | None, workshop_id: int, *, lock: bool = False) -> Workshop:
    """The workshop if ``actor`` may reach it (None = a trusted caller such as the CLI)."""
    workshop = _load(session, workshop_id, lock=lock)
    if workshop is None or (not sees_every_workshop(actor) and workshop.owner_user_id != actor.user_id):
        raise WorkshopNotFound(workshop_id)
    return workshop


# ---------------------------------------------------------------------------------------------
# Facilitator actions
# ---------------------------------------------------------------------------------------------


def _check_technologies(session: Session, items: Iterable[ItemInput]) -> None:
    wanted = {item.technology_id for item in items if item.technology_id is not None}
    found = set(session.scalars(select(Technology.id).where(Technology.id.in_(wanted))))
    missing = sorted(wanted - found)
    if missing:
        raise WorkshopError(f"technology id(s) {', '.join(map(str, missing))} are not in the catalogue")


def _replace_structure(session: Session, workshop: Workshop, data: WorkshopInput) -> None:
    workshop.items.clear()
    workshop.groups.clear()
    session.flush()  # delete the old rows before their positions and names are reused
    workshop.items.extend(
        WorkshopItem(technology_id=item.technology_id, question=item.question, custom_question=item.custom_question,
                     position=position)
        for position, item in enumerate(data.items, start=1)
    )
    workshop.groups.extend(
        StakeholderGroup(name=group.name, invited=group.invited, position=position)
        for position, group in enumerate(data.groups, start=1)
    )


def _apply_details(workshop: Workshop, data: WorkshopInput) -> None:
    workshop.title = data.title
    workshop.purpose = data.purpose
    workshop.workshop_date = data.workshop_date
    workshop.hide_results_until_close = data.hide_results_until_close
    workshop.n_rounds = data.n_rounds
    workshop.expires_at = data.expires_at


@guarded("workshop.run")
def create_workshop(engine: Engine, data: WorkshopInput, *, actor: Actor, is_demo: bool = False,
                    now: datetime | None = None) -> int:
    """Create a draft workshop owned by ``actor`` with a fresh join code; returns its id."""
    if actor is None:
        raise WorkshopError("A workshop needs a facilitator: pass the acting user as actor.")
    if data.expires_at <= now_utc(now):
        raise WorkshopError("The join code would already have expired: choose an expiry date in the future.")
    for _attempt in range(5):
        code = new_join_code()
        try:
            with write_session(engine) as session:
                _check_technologies(session, data.items)
                workshop = Workshop(
                    owner_user_id=actor.user_id, scales=data.scales.model_dump(mode="json"),
                    rule=data.rule.model_dump(mode="json"), join_code=code, join_code_hash=_hash(code),
                    status="draft", is_demo=is_demo,
                )
                _apply_details(workshop, data)
                session.add(workshop)
                _replace_structure(session, workshop, data)
                session.flush()
                record_audit(session, actor, None, "workshop_create", f"workshop:{workshop.id}", "success",
                             {"items": len(data.items), "groups": len(data.groups), "rounds": data.n_rounds,
                              "rule": data.rule.kind, "every_group": data.rule.require_every_group, "is_demo": is_demo})
                return workshop.id
        except IntegrityError:
            continue  # a join code collision (about 1 in 900 million): draw another
    raise WorkshopError("Could not draw a unique join code; try again.")


@guarded("workshop.run")
def update_workshop(engine: Engine, workshop_id: int, data: WorkshopInput, *, actor: Actor | None = None) -> None:
    """Change the set-up. Once round 1 has opened the rule, scales, items and groups are frozen
    (the rule was pre-registered); only the title, purpose, date, rounds, visibility and expiry change."""
    with write_session(engine) as session:
        workshop = _owned(session, actor, workshop_id, lock=True)
        _audit_update(session, actor, workshop_id, "setup", frozen=bool(workshop.rounds))
        if workshop.status == "closed":
            raise WorkshopError("This workshop is closed; its set-up can no longer change.")
        if workshop.rounds:
            view = _view(session, workshop)
            if data.rule != view.rule:
                raise WorkshopError(
                    "The consensus rule is frozen: it was pre-registered when round 1 opened and cannot change now. "
                    f"The rule in force is: {view.rule.describe(view.scales.default.bands)}"
                )
            if data.scales != view.scales:
                raise WorkshopError("The rating scale is frozen since round 1 opened; ratings were given on it.")
            current = view.as_input_values()
            current_groups = [group.name for group in view.groups]
            if data.items != current["items"] or [group.name for group in data.groups] != current_groups:
                raise WorkshopError(
                    "Items and stakeholder groups are frozen since round 1 opened; drop items between rounds "
                    "on the Run workshop page and enter invited numbers there."
                )
            if data.n_rounds < len(workshop.rounds):
                raise WorkshopError(f"{len(workshop.rounds)} rounds have already been opened; the number of rounds "
                                    "cannot be lower than that.")
            _apply_details(workshop, data)
            for group, new in zip(workshop.groups, data.groups, strict=True):
                group.invited = new.invited
            return
        _check_technologies(session, data.items)
        _apply_details(workshop, data)
        workshop.rule = data.rule.model_dump(mode="json")
        workshop.scales = data.scales.model_dump(mode="json")
        _replace_structure(session, workshop, data)


def _audit_update(session: Session, actor: Actor | None, workshop_id: int, change: str, **details: Any) -> None:
    """Record a ``workshop_update`` in the caller's transaction (a refused change rolls it back too)."""
    record_audit(session, actor, None, "workshop_update", f"workshop:{workshop_id}", "success", {"change": change, **details})


@guarded("workshop.run")
def delete_workshop(engine: Engine, workshop_id: int, *, actor: Actor | None = None) -> None:
    """Delete a workshop with its participants and ratings."""
    with write_session(engine) as session:
        workshop = _owned(session, actor, workshop_id, lock=True)
        had_evidence = workshop.status == "closed"
        details = {"status": workshop.status, "rounds": len(workshop.rounds), "is_demo": workshop.is_demo}
        session.delete(workshop)
        record_audit(session, actor, None, "workshop_delete", f"workshop:{workshop_id}", "success", details)
        if had_evidence:
            note_change(session, WORKSHOPS, [workshop_id])
            bump_data_version(session)


@guarded("workshop.run")
def get_workshop(engine: Engine, workshop_id: int, *, actor: Actor | None = None) -> WorkshopView:
    """A snapshot of one workshop; raises WorkshopNotFound if ``actor`` may not see it."""
    with read_session(engine) as session:
        return _view(session, _owned(session, actor, workshop_id))


@guarded("workshop.run")
def list_workshops(engine: Engine, *, actor: Actor | None = None) -> pd.DataFrame:
    """Workshops ``actor`` may reach, newest first: a facilitator's own, every workshop for a lead
    (see :func:`list_all_workshops`). Columns as :func:`list_all_workshops`."""
    return _workshops_frame(engine, None if sees_every_workshop(actor) else actor.user_id)


@guarded("workshop.all")
def list_all_workshops(engine: Engine, *, actor: Actor | None = None) -> pd.DataFrame:
    """Every workshop of every facilitator, newest first.

    Columns: workshop_id, title, workshop_date, status, owner_user_id, items, groups,
    participants, rounds_opened, round_open (a round is open for ratings now), n_rounds, is_demo.
    """
    return _workshops_frame(engine, None)


def _workshops_frame(engine: Engine, owner_user_id: str | None) -> pd.DataFrame:
    """Workshops of one owner (None = everyone's) with their counts."""
    with read_session(engine) as session:
        counts = {
            name: dict(session.execute(select(model.workshop_id, func.count()).group_by(model.workshop_id)).all())
            for name, model in (("items", WorkshopItem), ("groups", StakeholderGroup),
                                ("participants", Participant), ("rounds_opened", WorkshopRound))
        }  # fmt: skip
        open_now = set(session.scalars(select(WorkshopRound.workshop_id).where(WorkshopRound.closed_at.is_(None))))
        query = select(Workshop).order_by(Workshop.id.desc())
        if owner_user_id is not None:
            query = query.where(Workshop.owner_user_id == owner_user_id)
        rows = [
            {
                "workshop_id": w.id, "title": w.title, "workshop_date": w.workshop_date, "status": w.status,
                "owner_user_id": w.owner_user_id,
                **{name: counts[name].get(w.id, 0) for name in counts},
                "round_open": w.id in open_now, "n_rounds": w.n_rounds, "is_demo": w.is_demo,
            }  # fmt: skip
            for w in session.scalars(query)
        ]
    columns = ["workshop_id", "title", "workshop_date", "status", "owner_user_id", "items", "groups", "participants",
               "rounds_opened", "round_open", "n_rounds", "is_demo"]
    return pd.DataFrame(rows, columns=columns)


@guarded("workshop.run")
def open_round(engine: Engine, workshop_id: int, *, actor: Actor | None = None, now: datetime | None = None) -> int:
    """Open the next round (freezing the rule when it is round 1); returns its number."""
    moment = now_utc(now)
    with write_session(engine) as session:
        workshop = _owned(session, actor, workshop_id, lock=True)
        if workshop.status == "closed":
            raise WorkshopError("This workshop is closed.")
        if moment >= utc(workshop.expires_at):
            raise WorkshopError("The join code has expired; extend the expiry date in the set-up before opening a round.")
        if any(r.closed_at is None for r in workshop.rounds):
            raise WorkshopError("A round is already open; close it before opening the next.")
        number = len(workshop.rounds) + 1
        if number > workshop.n_rounds:
            raise WorkshopError(f"All {workshop.n_rounds} planned rounds have run; close the workshop, or raise the "
                                "number of rounds in the set-up.")
        if not any(item.dropped_after_round is None for item in workshop.items):
            raise WorkshopError("Every item has been dropped; there is nothing left to rate.")
        workshop.rounds.append(WorkshopRound(number=number, opened_at=moment))
        workshop.status = "running"
        record_audit(session, actor, None, "round_open", f"workshop:{workshop_id}", "success",
                     {"round": number, "rule_frozen": number == 1})
        return number


@guarded("workshop.run")
def close_round(engine: Engine, workshop_id: int, *, actor: Actor | None = None, now: datetime | None = None) -> int:
    """Close the open round; returns its number. Ratings are refused from now on."""
    with write_session(engine) as session:
        workshop = _owned(session, actor, workshop_id)
        # FOR UPDATE waits until savers holding FOR SHARE on this round have committed.
        current = session.scalars(
            select(WorkshopRound)
            .where(WorkshopRound.workshop_id == workshop.id, WorkshopRound.closed_at.is_(None))
            .with_for_update()
        ).first()
        if current is None:
            raise WorkshopError("No round is open.")
        current.closed_at = now_utc(now)
        _audit_round_close(session, actor, workshop.id, current.number)
        return current.number


def _audit_round_close(session: Session, actor: Actor | None, workshop_id: int, number: int) -> None:
    ratings = session.scalar(select(func.count()).select_from(Rating).join(WorkshopRound, WorkshopRound.id == Rating.round_id)
                             .where(WorkshopRound.workshop_id == workshop_id, WorkshopRound.number == number)) or 0
    record_audit(session, actor, None, "round_close", f"workshop:{workshop_id}", "success", {"round": number, "ratings": ratings})


@guarded("workshop.run")
def close_workshop(engine: Engine, workshop_id: int, *, actor: Actor | None = None, now: datetime | None = None) -> None:
    """Close the workshop (and its open round): its results become evidence for the analysis."""
    moment = now_utc(now)
    with write_session(engine) as session:
        workshop = _owned(session, actor, workshop_id, lock=True)
        if workshop.status == "closed":
            raise WorkshopError("This workshop is already closed.")
        for round_ in workshop.rounds:
            if round_.closed_at is None:
                round_.closed_at = moment
                _audit_round_close(session, actor, workshop.id, round_.number)
        workshop.status = "closed"
        _audit_update(session, actor, workshop.id, "close", rounds=len(workshop.rounds))
        # Ratings become evidence only when their workshop closes, so this is the write that
        # changes what the analysis sees (saving a rating in an open round does not).
        note_change(session, WORKSHOPS, [workshop.id])
        bump_data_version(session)


@guarded("workshop.run")
def drop_item(engine: Engine, workshop_id: int, item_id: int, reason: str, *, actor: Actor | None = None) -> int:
    """Drop an item from the rounds after the last closed one (recorded with the reason)."""
    reason = reason.strip()
    if not reason:
        raise WorkshopError("Give a reason for dropping the item (e.g. 'consensus in after round 1').")
    with write_session(engine) as session:
        workshop = _owned(session, actor, workshop_id, lock=True)
        if workshop.status == "closed":
            raise WorkshopError("This workshop is closed.")
        if any(r.closed_at is None for r in workshop.rounds):
            raise WorkshopError("Items can be dropped only between rounds: close the open round first.")
        if not workshop.rounds:
            raise WorkshopError("Items can be dropped only after a round has been rated.")
        item = next((i for i in workshop.items if i.id == item_id), None)
        if item is None:
            raise WorkshopError(f"Item {item_id} is not part of this workshop.")
        if item.dropped_after_round is not None:
            raise WorkshopError("This item has already been dropped.")
        item.dropped_after_round = len(workshop.rounds)
        item.drop_reason = reason[:300]
        _audit_update(session, actor, workshop.id, "drop_item", item_id=item.id, after_round=item.dropped_after_round)
        return item.dropped_after_round


@guarded("workshop.run")
def set_invited(engine: Engine, workshop_id: int, invited: Mapping[int, int], *, actor: Actor | None = None) -> None:
    """Record how many people of each stakeholder group were invited (group id -> number)."""
    with write_session(engine) as session:
        workshop = _owned(session, actor, workshop_id, lock=True)
        groups = {group.id: group for group in workshop.groups}
        for group_id, number in invited.items():
            if group_id not in groups:
                raise WorkshopError(f"Stakeholder group {group_id} is not part of this workshop.")
            if not isinstance(number, int) or number < 0:
                raise WorkshopError(f"Invited number for {groups[group_id].name!r} must be a whole number of 0 or more.")
            groups[group_id].invited = number
        _audit_update(session, actor, workshop.id, "invited", groups=len(invited))


# ---------------------------------------------------------------------------------------------
# Participants
# ---------------------------------------------------------------------------------------------


_Joinable = TypeVar("_Joinable")  # anything with the workshop's status and expires_at


def _joinable(workshop: _Joinable | None, moment: datetime) -> _Joinable:
    """The workshop (an ORM row or a snapshot), if a participant may join it; else JoinError."""
    refusal = join_refusal(workshop.status if workshop else None, workshop.expires_at if workshop else None, moment)
    if refusal is not None:
        raise JoinError(refusal)
    return workshop


def find_workshop_by_code(engine: Engine, code: str, *, now: datetime | None = None) -> WorkshopView:
    """The workshop a participant may join with ``code``; raises JoinError with the reason."""
    normalised = normalise_join_code(code)
    if (problem := join_code_problem(normalised)) is not None:
        raise JoinError(problem)
    with read_session(engine) as session:
        view = _read_view(session, Workshop.join_code_hash == _hash(normalised))
    return _joinable(view, now_utc(now))


def join_workshop(engine: Engine, code: str, group_id: int, *, now: datetime | None = None) -> tuple[str, str]:
    """Give the participant a seat in the chosen group; returns (token, alias). See ``take_seat``."""
    token, seat = take_seat(engine, find_workshop_by_code(engine, code, now=now), group_id, now=now)
    return token, seat.alias


def take_seat(engine: Engine, workshop: WorkshopView, group_id: int, *,
              now: datetime | None = None) -> tuple[str, ParticipantView]:
    """Give the participant a seat in the chosen group of ``workshop`` (as ``find_workshop_by_code``
    read it for the join page); returns (token, the participant's view).

    The token is returned once and only its hash is stored: it is the participant's credential.
    A whole room joins at once, so the workshop row is locked only to number the seat, and the
    join page's snapshot is not read again: whether the workshop still takes participants, and
    the group, are checked under the lock; a round opened or closed meanwhile reaches the page
    at its next poll.
    """
    moment = now_utc(now)
    token = secrets.token_urlsafe(24)
    with write_session(engine) as session:
        # Locking the workshop row serialises joins, so aliases are numbered without gaps or clashes.
        locked = session.execute(select(Workshop.status, Workshop.expires_at).where(Workshop.id == workshop.id)
                                 .with_for_update()).first()
        _joinable(locked, moment)
        # Counted after the lock is held: a statement's snapshot starts when it runs, so every
        # seat committed by the joiners before us is seen.
        seats, group_name = session.execute(select(
            select(func.count()).where(Participant.workshop_id == workshop.id).scalar_subquery(),
            select(StakeholderGroup.name).where(StakeholderGroup.id == group_id,
                                                StakeholderGroup.workshop_id == workshop.id).scalar_subquery(),
        )).one()
        if group_name is None:
            raise JoinError("Choose one of this workshop's stakeholder groups.")
        alias = participant_alias(seats)
        participant_id = session.execute(
            insert(Participant.__table__).values(workshop_id=workshop.id, group_id=group_id, token_hash=_hash(token),
                                                 alias=alias, joined_at=moment).returning(Participant.__table__.c.id)
        ).scalar_one()
    return token, ParticipantView(participant_id, alias, group_id, group_name,
                                  dataclasses.replace(workshop, status=locked.status))


def participant_session(engine: Engine, token: str) -> ParticipantView | None:
    """The participant holding ``token`` and their workshop, or None for an unknown token."""
    if not token:
        return None
    with read_session(engine) as session:
        seat = session.execute(
            select(Participant.id, Participant.alias, Participant.group_id, StakeholderGroup.name, Participant.workshop_id)
            .join(StakeholderGroup, StakeholderGroup.id == Participant.group_id).where(Participant.token_hash == _hash(token))
        ).first()
        if seat is None:
            return None
        view = _read_view(session, Workshop.id == seat.workshop_id)
    assert view is not None  # participants are deleted with their workshop
    return ParticipantView(seat.id, seat.alias, seat.group_id, seat.name, view)


def participant_round_state(engine: Engine, token: str) -> tuple | None:
    """What a waiting participant's page polls for: the workshop's status and its rounds
    (number, still open), in two small indexed queries — cheap enough for a room of 60 polling
    every few seconds. None for an unknown token."""
    if not token:
        return None
    with read_session(engine) as session:
        row = session.execute(
            select(Workshop.id, Workshop.status).join(Participant, Participant.workshop_id == Workshop.id)
            .where(Participant.token_hash == _hash(token))
        ).first()
        if row is None:
            return None
        rounds = session.execute(
            select(WorkshopRound.number, WorkshopRound.closed_at.is_(None)).where(WorkshopRound.workshop_id == row.id)
            .order_by(WorkshopRound.number)
        ).all()
    return row.status, tuple((number, bool(is_open)) for number, is_open in rounds)


def _upsert_statement(dialect: str) -> Any:
    statement = (sqlite_insert if dialect == "sqlite" else postgresql_insert)(Rating.__table__)
    return statement.on_conflict_do_update(
        index_elements=["round_id", "item_id", "participant_id"],
        set_={"value": statement.excluded.value, "reason": statement.excluded.reason,
              "updated_at": statement.excluded.updated_at},
    )


# One statement per dialect, compiled once: the rows go as parameters, which SQLAlchemy sends
# as one multi-row INSERT (a whole room saves at once).
_UPSERTS = {dialect: _upsert_statement(dialect) for dialect in ("sqlite", "postgresql")}


def _upsert(session: Session, rows: list[dict]) -> None:
    session.connection().execute(_UPSERTS[session.get_bind().dialect.name], rows)


def save_ratings(engine: Engine, token: str, round_number: int, ratings: Sequence[RatingInput | Mapping],
                 *, now: datetime | None = None) -> int:
    """Store (or replace) the participant's ratings for the open round; returns how many.

    All-or-nothing: any bad rating refuses the whole save with a message naming the item.
    """
    parsed = parse_ratings(ratings)
    moment = now_utc(now)
    # Plain column reads, not ORM objects: a whole room saves at once, so this path is kept lean.
    with write_session(engine) as session:
        # The seat and the round in one query, share-locking only the round row.
        seat = session.execute(
            select(Participant.id, Participant.workshop_id, Workshop.scales, WorkshopRound.id.label("round_id"),
                   WorkshopRound.closed_at)
            .join(Workshop, Workshop.id == Participant.workshop_id)
            .join(WorkshopRound, (WorkshopRound.workshop_id == Participant.workshop_id)
                  & (WorkshopRound.number == round_number))
            .where(Participant.token_hash == _hash(token)).with_for_update(read=True, of=WorkshopRound)
        ).first()
        if seat is None and session.scalar(select(Participant.id).where(Participant.token_hash == _hash(token))) is None:
            raise RatingError("Your seat in this workshop was not found; join again with the code.")
        if seat is None or seat.closed_at is not None:
            raise RatingError(f"Round {round_number} is closed; ratings can no longer be changed.")
        items = {
            row.id: RatedItem(row.id, row.position, row.question, row.dropped_after_round)
            for row in session.execute(select(WorkshopItem.id, WorkshopItem.position, WorkshopItem.question,
                                              WorkshopItem.dropped_after_round)
                                       .where(WorkshopItem.workshop_id == seat.workshop_id))
        }
        check_ratings(parsed, items, WorkshopScales.model_validate(seat.scales), round_number)
        rows = [{"round_id": seat.round_id, "item_id": rating.item_id, "participant_id": seat.id,
                 "value": rating.value, "reason": rating.reason, "updated_at": moment} for rating in parsed]
        _upsert(session, rows)
        return len(rows)


def participant_ratings(engine: Engine, token: str, round_number: int) -> dict[int, tuple[int, str]]:
    """The participant's own ratings in a round: item id -> (value, reason)."""
    with read_session(engine) as session:
        rows = session.execute(
            select(Rating.item_id, Rating.value, Rating.reason)
            .join(Participant, Participant.id == Rating.participant_id)
            .join(WorkshopRound, WorkshopRound.id == Rating.round_id)
            .where(Participant.token_hash == _hash(token), WorkshopRound.number == round_number)
        ).all()
    return {item_id: (value, reason) for item_id, value, reason in rows}


# ---------------------------------------------------------------------------------------------
# Ratings as frames
# ---------------------------------------------------------------------------------------------


def _rating_rows(session: Session, workshop_id: int) -> pd.DataFrame:
    rows = session.execute(
        select(Participant.alias, StakeholderGroup.name, Rating.item_id, WorkshopRound.number, Rating.value,
               Rating.reason, Rating.updated_at, WorkshopRound.closed_at)
        .join(Participant, Participant.id == Rating.participant_id)
        .join(StakeholderGroup, StakeholderGroup.id == Participant.group_id)
        .join(WorkshopRound, WorkshopRound.id == Rating.round_id)
        .where(WorkshopRound.workshop_id == workshop_id)
        .order_by(WorkshopRound.number, Rating.item_id, Participant.alias)
    ).all()
    columns = ["participant", "group", "item_id", "round", "rating", "reason", "updated_at", "round_closed_at"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["rating"] = frame["rating"].astype(float)
    frame["round"] = frame["round"].astype("int64")
    return frame


@guarded("workshop.run")
def load_workshop_ratings(engine: Engine, workshop_id: int, *, actor: Actor | None = None,
                          closed_rounds_only: bool = False) -> pd.DataFrame:
    """Ratings in the long format the consensus functions take.

    Columns: participant (alias such as "P07", never a token), group (stakeholder group name),
    item (item key "NN technology: question"), round (int), rating (float).
    actor None is a trusted caller (CLI, scripts); pages pass the signed-in actor.
    """
    with read_session(engine) as session:
        view = _view(session, _owned(session, actor, workshop_id))
        frame = _rating_rows(session, workshop_id)
    if closed_rounds_only:
        frame = frame[frame["round_closed_at"].notna()]
    return with_item_keys(frame, view)[RATING_FRAME_COLUMNS].reset_index(drop=True)


@guarded("workshop.run")
def ratings_export(engine: Engine, workshop_id: int, *, actor: Actor | None = None) -> pd.DataFrame:
    """Raw ratings for export, one row per rating.

    Columns: workshop_id, round, item, technology_id, question, participant, group, rating,
    rating_label, reason, updated_at_utc.
    """
    with read_session(engine) as session:
        view = _view(session, _owned(session, actor, workshop_id))
        frame = _rating_rows(session, workshop_id)
    items = {item.id: item for item in view.items}
    return pd.DataFrame({
        "workshop_id": view.id,
        "round": frame["round"],
        "item": frame["item_id"].map(lambda i: items[i].key),
        "technology_id": frame["item_id"].map(lambda i: items[i].technology_id).astype("Int64"),
        "question": frame["item_id"].map(lambda i: items[i].question),
        "participant": frame["participant"],
        "group": frame["group"],
        "rating": frame["rating"].astype("int64"),
        "rating_label": [view.scale_for(items[i]).value_label(int(v)) for i, v in zip(frame["item_id"], frame["rating"])],
        "reason": frame["reason"],
        "updated_at_utc": pd.to_datetime(frame["updated_at"], utc=True),
    }, columns=["workshop_id", "round", "item", "technology_id", "question", "participant", "group", "rating",
                "rating_label", "reason", "updated_at_utc"])  # fmt: skip


def round_distribution(engine: Engine, workshop: WorkshopView, round_number: int) -> pd.DataFrame:
    """How many of each stakeholder group gave each value, per item, in one round.

    Columns: item_id, group, rating (int), count. Callers decide whether the round may be shown.
    """
    with read_session(engine) as session:
        rows = session.execute(
            select(Rating.item_id, StakeholderGroup.name, Rating.value, func.count())
            .join(Participant, Participant.id == Rating.participant_id)
            .join(StakeholderGroup, StakeholderGroup.id == Participant.group_id)
            .join(WorkshopRound, WorkshopRound.id == Rating.round_id)
            .where(WorkshopRound.workshop_id == workshop.id, WorkshopRound.number == round_number)
            .group_by(Rating.item_id, StakeholderGroup.name, Rating.value)
            .order_by(Rating.item_id, StakeholderGroup.name, Rating.value)
        ).all()
    return pd.DataFrame(rows, columns=["item_id", "group", "rating", "count"])


def round_reasons(engine: Engine, workshop: WorkshopView, round_number: int) -> pd.DataFrame:
    """The non-blank reasons given in a round, anonymised (no alias), in a stable shuffled order.

    Columns: item_id, group, rating, reason.
    """
    with read_session(engine) as session:
        rows = session.execute(
            select(Rating.item_id, StakeholderGroup.name, Rating.value, Rating.reason, Rating.id)
            .join(Participant, Participant.id == Rating.participant_id)
            .join(StakeholderGroup, StakeholderGroup.id == Participant.group_id)
            .join(WorkshopRound, WorkshopRound.id == Rating.round_id)
            .where(WorkshopRound.workshop_id == workshop.id, WorkshopRound.number == round_number, Rating.reason != "")
        ).all()
    frame = pd.DataFrame(rows, columns=["item_id", "group", "rating", "reason", "rating_id"])
    # Order by a hash rather than by id, so the list does not reveal who answered first.
    order = frame["rating_id"].map(lambda i: _hash(f"{workshop.id}:{i}"))
    return frame.assign(_order=order).sort_values(["item_id", "_order"]).drop(columns=["rating_id", "_order"]).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Live progress and attrition (facilitator)
# ---------------------------------------------------------------------------------------------


def _participants_frame(session: Session, workshop_id: int) -> pd.DataFrame:
    rows = session.execute(
        select(Participant.id, Participant.alias, StakeholderGroup.name, Participant.joined_at)
        .join(StakeholderGroup, StakeholderGroup.id == Participant.group_id)
        .where(Participant.workshop_id == workshop_id)
        .order_by(Participant.id)
    ).all()
    frame = pd.DataFrame(rows, columns=["participant_id", "alias", "group", "joined_at"])
    frame["joined_at"] = pd.to_datetime(frame["joined_at"], utc=True)
    return frame


def _rated_counts(session: Session, workshop_id: int) -> pd.DataFrame:
    """Per (round, participant): how many items rated."""
    rows = session.execute(
        select(WorkshopRound.number, Rating.participant_id, func.count())
        .join(WorkshopRound, WorkshopRound.id == Rating.round_id)
        .where(WorkshopRound.workshop_id == workshop_id)
        .group_by(WorkshopRound.number, Rating.participant_id)
    ).all()
    return pd.DataFrame(rows, columns=["round", "participant_id", "items_rated"])


@guarded("workshop.run")
def live_progress(engine: Engine, workshop_id: int, *, actor: Actor | None = None) -> LiveProgress:
    """Progress of the open round (or, between rounds, of the last one)."""
    with read_session(engine) as session:
        view = _view(session, _owned(session, actor, workshop_id))
        participants = _participants_frame(session, workshop_id)
        rated = _rated_counts(session, workshop_id)
        current = view.open_round or (view.rounds[-1] if view.rounds else None)
        item_counts = dict(
            session.execute(
                select(Rating.item_id, func.count())
                .join(WorkshopRound, WorkshopRound.id == Rating.round_id)
                .where(WorkshopRound.workshop_id == workshop_id, WorkshopRound.number == (current.number if current else 0))
                .group_by(Rating.item_id)
            ).all()
        )
    return progress_of(view, participants, rated, item_counts)


@guarded("workshop.run")
def attrition(engine: Engine, workshop_id: int, *, actor: Actor | None = None) -> pd.DataFrame:
    """Per round and stakeholder group: invited, joined (seats taken by the round's close, or
    now for an open round), responded (rated at least one item) and completed (rated every
    item of the round). Columns: round, group, invited, joined, responded, completed."""
    with read_session(engine) as session:
        view = _view(session, _owned(session, actor, workshop_id))
        participants = _participants_frame(session, workshop_id)
        rated = _rated_counts(session, workshop_id)
    return attrition_table(view, participants, rated)


# ---------------------------------------------------------------------------------------------
# Analysis of a workshop (survey.workshop_rules.analyse_ratings over the stored ratings)
# ---------------------------------------------------------------------------------------------


@guarded("workshop.run")
def analyse_workshop(engine: Engine, workshop_id: int, *, actor: Actor | None = None,
                     include_open_round: bool = False) -> WorkshopAnalysis:
    """Summaries, per-group breakdown, stability, sensitivity and the ACCORD table.

    By default only closed rounds are analysed (results stay hidden while a round is open).
    """
    with read_session(engine) as session:
        view = _view(session, _owned(session, actor, workshop_id))
        raw = _rating_rows(session, workshop_id)
    return analyse_ratings(view, raw, include_open_round=include_open_round)


def load_workshop_results(engine: Engine | Connection, workshop_ids: Iterable[int] | None = None) -> pd.DataFrame:
    """Evidence for the analysis: the last closed round of each item of each closed workshop
    (of ``workshop_ids`` only, when given; on a connection, in its snapshot).

    Columns (analysis/schemas.py "workshop_results"): workshop_id, round, technology_id,
    quantity (time_to_deployment | impact_workforce | impact_pathway | impact_system),
    category (impact: low | medium | high; time: a deployment horizon code), consensus
    (in | out | none under the workshop's rule), n_participants, rule (short name),
    closed_at (UTC). Custom questions and items without a technology are not evidence; an
    item's last round is the last closed round it was rated in (dropped items stop earlier).
    """
    query = select(Workshop.id).where(Workshop.status == "closed").order_by(Workshop.id)
    if workshop_ids is not None:
        query = query.where(Workshop.id.in_(list(workshop_ids)))
    with read_session(engine) as session:
        closed = list(session.scalars(query))
    frames = [frame for workshop_id in closed if (frame := workshop_evidence(analyse_workshop(engine, workshop_id))) is not None]
    return pd.concat(frames, ignore_index=True)[RESULT_COLUMNS] if frames else empty_results()


EXPORT_TABLES = ("ratings", "summary", "accord")


@guarded("workshop.run")
def export_workshop_table(engine: Engine, workshop_id: int, what: str, fmt: ExportFormat, *, actor: Actor | None = None) -> tuple[bytes, int]:
    """One of a workshop's tables (raw ``ratings``, per-item ``summary`` or per-round ``accord``)
    as a formula-safe CSV or XLSX file, audited (``export``); returns (file content, rows)."""
    if what not in EXPORT_TABLES:
        raise WorkshopError(f"unknown workshop table {what!r}; choose one of {', '.join(EXPORT_TABLES)}")
    if what == "ratings":
        frame = ratings_export(engine, workshop_id, actor=actor)
    else:
        result = analyse_workshop(engine, workshop_id, actor=actor)
        frame = result.summary if what == "summary" else result.accord
    content = table_bytes(frame, fmt, sheet_name=f"workshop-{workshop_id}-{what}")
    with write_session(engine) as session:
        record_audit(session, actor, None, "export", f"workshop:{workshop_id}", "success", {"table": what, "format": fmt, "rows": len(frame)})
    return content, len(frame)


# ---------------------------------------------------------------------------------------------
# Retention
# ---------------------------------------------------------------------------------------------


def purge_rating_reasons(session: Session, cutoff: datetime) -> int:
    """Retention: blank the free-text reasons of ratings last changed before ``cutoff`` (the
    numbers stay: they are the workshop's evidence). Returns the number of ratings blanked."""
    return session.execute(
        # updated_at is set to itself so the purge does not look like the participant's change.
        update(Rating).where(Rating.updated_at < cutoff, Rating.reason != "").values(reason="", updated_at=Rating.updated_at)
        .execution_options(synchronize_session=False)
    ).rowcount or 0


def erase_workshop_person(session: Session, subject: ErasureSubject) -> int:
    """Erasure: nothing to do. Workshop participants are anonymous seats (a random token, of which
    only the hash is stored, and an alias such as "P07"), never linked to an account or a
    pseudonym, so no workshop row belongs to a named person. A facilitator's workshops record
    only their account key as owner, which the accounts part anonymises; the workshops and their
    ratings are the organisation's evidence and stay. Returns 0."""
    return 0


RETENTION_HOOKS.append(RetentionHook("workshops", purge_rating_reasons, erase_workshop_person))


