"""Workshop repository: set-up, rounds, anonymous participants, ratings and their analysis.

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

import hashlib
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, Self

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import Connection, Engine, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from analysis.consensus import accord_round_summary, sensitivity, stability, summarise_by_group, summarise_items
from analysis.consensus_rules import BAND_ORDER, DEFAULT_SCALE, Band, ConsensusRule, Scale
from storage.audit import Actor, record_audit  # Actor is also imported from here by workshop callers
from storage.catalogue import bump_data_version
from storage.change_log import WORKSHOPS, note_change
from storage.db import read_session, write_session
from storage.exports import ExportFormat, table_bytes
from storage.models.catalogue import Technology
from storage.models.workshop import (
    QUESTION_CODES,
    REASON_MAX_LENGTH,
    Participant,
    Rating,
    StakeholderGroup,
    Workshop,
    WorkshopItem,
    WorkshopRound,
)
from storage.permissions import guarded, is_allowed
from storage.retention import RETENTION_HOOKS, ErasureSubject, RetentionHook

QuestionCode = Literal["time_to_deployment", "impact_workforce", "impact_pathway", "impact_system", "custom"]
QUESTION_LABELS: dict[str, str] = {
    "time_to_deployment": "Time to deployment at scale",
    "impact_workforce": "Impact on the primary workforce group",
    "impact_pathway": "Impact on the clinical pathway",
    "impact_system": "Impact on the system",
    "custom": "Custom question",
}
IMPACT_QUESTIONS = ("impact_workforce", "impact_pathway", "impact_system")
DEPLOYMENT_HORIZONS = ("at_scale", "within_1y", "1_3y", "over_3y")
BAND_TO_IMPACT_LEVEL: dict[str, str] = {"low": "low", "mid": "medium", "high": "high"}
RESULT_COLUMNS = [
    "workshop_id", "round", "technology_id", "quantity", "category", "consensus", "n_participants", "rule", "closed_at",
]  # fmt: skip
RATING_FRAME_COLUMNS = ["participant", "group", "item", "round", "rating"]
MAX_ROUNDS = 5

# Join codes are read aloud and typed on phones: no 0/O, 1/I/L look-alikes.
JOIN_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
JOIN_CODE_LENGTH = 6


# ---------------------------------------------------------------------------------------------
# Errors and identities
# ---------------------------------------------------------------------------------------------


class WorkshopError(ValueError):
    """A workshop action was refused; the message is fit to show the user."""


class WorkshopNotFound(WorkshopError):
    """No such workshop for this user (the same message whether it is missing or someone else's)."""

    def __init__(self, workshop_id: int) -> None:
        super().__init__(f"Workshop {workshop_id} was not found, or you are not its facilitator.")


class JoinError(WorkshopError):
    """A participant cannot join (unknown or expired code, closed workshop, unknown group)."""


class RatingError(WorkshopError):
    """Ratings were refused (round not open, item not in the round, value off the scale...)."""


def sees_every_workshop(actor: Actor | None) -> bool:
    """Whether ``actor`` reaches every workshop: a role with ``workshop.all``, or a trusted caller
    (None for internal loaders, the command line's trusted actor)."""
    return actor is None or getattr(actor, "trusted", False) or is_allowed(actor.role, "workshop.all")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_join_code() -> str:
    return "".join(secrets.choice(JOIN_CODE_ALPHABET) for _ in range(JOIN_CODE_LENGTH))


def format_join_code(code: str) -> str:
    """The code as shown and read aloud: "K7QM4T" -> "K7Q-M4T"."""
    half = len(code) // 2
    return f"{code[:half]}-{code[half:]}"


def normalise_join_code(text: str) -> str:
    """What a participant typed, as stored: upper case without spaces or hyphens."""
    return "".join(character for character in text.upper() if character not in " -\t")


def utc(moment: datetime) -> datetime:
    """SQLite returns naive datetimes; every stored time is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _now(now: datetime | None) -> datetime:
    return utc(now) if now is not None else datetime.now(UTC)


# ---------------------------------------------------------------------------------------------
# Scales
# ---------------------------------------------------------------------------------------------


class ScalePoint(BaseModel):
    """One point of an ordinal scale with a stable code (e.g. a deployment horizon) and a label."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    value: int
    code: str = Field(min_length=1, max_length=40)
    label: str = Field(min_length=1, max_length=80)


class RatingScale(BaseModel):
    """A rating scale: the analysis's three-band Scale plus optional coded, labelled points."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bands: Scale = DEFAULT_SCALE
    points: tuple[ScalePoint, ...] = ()

    @model_validator(mode="after")
    def _points_cover_the_scale(self) -> Self:
        if not self.points:
            return self
        expected = list(range(self.bands.min, self.bands.max + 1))
        values = [point.value for point in self.points]
        if values != expected:
            raise ValueError(f"the points must be the values {expected[0]} to {expected[-1]} in order, not {values}")
        codes = [point.code for point in self.points]
        if len(set(codes)) != len(codes):
            raise ValueError("every point of the scale needs a different code")
        return self

    @property
    def values(self) -> list[int]:
        return list(range(self.bands.min, self.bands.max + 1))

    def band_of(self, value: float) -> Band:
        """The band of a rating or median; a median between two bands counts in the middle band
        (the analysis's convention)."""
        if value <= self.bands.low[1]:
            return "low"
        if value >= self.bands.high[0]:
            return "high"
        return "mid"

    def point_code(self, value: int) -> str | None:
        return next((point.code for point in self.points if point.value == value), None)

    def value_label(self, value: int) -> str:
        """What a participant reads for one value: "7 (critical)" or the point's own label."""
        for point in self.points:
            if point.value == value:
                return point.label
        return f"{value} ({self.bands.label(self.band_of(value))})"

    def describe(self) -> str:
        if self.points:
            return " / ".join(f"{point.value} = {point.label}" for point in self.points)
        return "; ".join(
            f"{self.bands.bands_text([band], with_label=False)} {self.bands.label(band)}" for band in BAND_ORDER
        )


NINE_POINT_SCALE = RatingScale()
IMPACT_SCALE = RatingScale(bands=Scale(labels=("low impact", "medium impact", "high impact")))
HORIZON_SCALE = RatingScale(
    bands=Scale(min=1, max=4, low=(1, 2), mid=(3, 3), high=(4, 4),
                labels=("at scale or within 1 year", "1-3 years", "more than 3 years")),
    points=(
        ScalePoint(value=1, code="at_scale", label="Already at scale"),
        ScalePoint(value=2, code="within_1y", label="Within 1 year"),
        ScalePoint(value=3, code="1_3y", label="1-3 years"),
        ScalePoint(value=4, code="over_3y", label="More than 3 years"),
    ),
)
SCALE_PRESETS: dict[str, RatingScale] = {
    "1-9 importance (not important / important but not critical / critical)": NINE_POINT_SCALE,
    "1-9 impact (low / medium / high)": IMPACT_SCALE,
    "Deployment horizon (already at scale / within 1 year / 1-3 years / more than 3 years)": HORIZON_SCALE,
}


def custom_scale(point_labels: Sequence[str], low_end: int, high_start: int, band_labels: Sequence[str]) -> RatingScale:
    """A custom ordinal scale 1..k from its point labels (codes p1..pk) and band boundaries.

    Raises WorkshopError with a readable message when the boundaries do not make three bands.
    """
    labels = [label.strip() for label in point_labels if label.strip()]
    if len(labels) < 3:
        raise WorkshopError("A custom scale needs at least 3 points (one label per line).")
    k = len(labels)
    if not 1 <= low_end < high_start - 1 < k:
        raise WorkshopError(
            f"Choose band boundaries on the 1-{k} scale with at least one middle point: the low band ends at "
            f"{low_end} and the high band starts at {high_start}, so they leave no middle band or fall off the scale."
        )
    try:
        return RatingScale(
            bands=Scale(min=1, max=k, low=(1, low_end), mid=(low_end + 1, high_start - 1), high=(high_start, k),
                        labels=tuple(band_labels)),
            points=tuple(ScalePoint(value=i, code=f"p{i}", label=label) for i, label in enumerate(labels, start=1)),
        )
    except ValidationError as error:
        raise WorkshopError(_validation_text(error)) from None


class WorkshopScales(BaseModel):
    """The workshop's scale, with an optional different scale per question (e.g. horizons)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default: RatingScale = NINE_POINT_SCALE
    by_question: dict[QuestionCode, RatingScale] = Field(default_factory=dict)

    def scale_for(self, question: str) -> RatingScale:
        return self.by_question.get(question, self.default)  # type: ignore[call-overload]


def _validation_text(error: ValidationError) -> str:
    parts = []
    for detail in error.errors():
        where = ".".join(str(part) for part in detail["loc"] if part != "__root__")
        message = detail["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def rule_label(rule: ConsensusRule) -> str:
    """A short name of a rule for tables and evidence lists (describe() gives the full sentence)."""
    if rule.kind == "ram":
        text = "RAND/UCLA (median + IPRAS)"
    else:
        name = "comet" if rule.kind == "comet" else "custom"
        text = f"{name} (in >= {rule.in_pct:g}%, out < {rule.out_pct:g}%)"
    return text + (" within every group" if rule.require_every_group else "")


# ---------------------------------------------------------------------------------------------
# Set-up input
# ---------------------------------------------------------------------------------------------


def _stripped(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


class ItemInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    technology_id: int | None = None
    question: QuestionCode
    custom_question: str = Field("", max_length=300)

    _strip = field_validator("custom_question", mode="before")(_stripped)

    @model_validator(mode="after")
    def _needs_subject(self) -> Self:
        if self.question == "custom" and not self.custom_question:
            raise ValueError("a custom question needs its text")
        if self.question != "custom":
            if self.technology_id is None:
                raise ValueError(f"the question '{QUESTION_LABELS[self.question]}' needs a technology")
            self.custom_question = ""
        return self


class GroupInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=80)
    invited: int = Field(0, ge=0, le=100_000)

    _strip = field_validator("name", mode="before")(_stripped)


class WorkshopInput(BaseModel):
    """Everything the facilitator sets up; validated before any write."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    purpose: str = Field("", max_length=5000)
    workshop_date: date | None = None
    scales: WorkshopScales = WorkshopScales()
    rule: ConsensusRule
    hide_results_until_close: bool = True
    n_rounds: int = Field(2, ge=1, le=MAX_ROUNDS)
    expires_at: datetime
    items: list[ItemInput] = Field(min_length=1)
    groups: list[GroupInput] = Field(min_length=1)

    _strip = field_validator("title", "purpose", mode="before")(_stripped)

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return utc(value)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems = []
        names = [group.name.casefold() for group in self.groups]
        repeated = sorted({group.name for group in self.groups if names.count(group.name.casefold()) > 1})
        if repeated:
            problems.append(f"stakeholder group names must differ: {', '.join(repeated)} appear more than once")
        keys = [(item.technology_id, item.question, item.custom_question.casefold()) for item in self.items]
        if len(set(keys)) != len(keys):
            problems.append("the same technology and question is listed more than once")
        questions = {item.question for item in self.items}
        if self.rule.kind == "ram":
            narrow = sorted(q for q in questions if not self.scales.scale_for(q).bands.supports_rand_ucla)
            if narrow:
                problems.append(
                    "the RAND/UCLA rule needs the 1-9 scale, but "
                    + ", ".join(QUESTION_LABELS[q] for q in narrow)
                    + " uses another scale; choose the comet rule or custom thresholds"
                )
        if "time_to_deployment" in questions:
            codes = {point.code for point in self.scales.scale_for("time_to_deployment").points}
            if not codes or not codes <= set(DEPLOYMENT_HORIZONS):
                problems.append(
                    "the time to deployment question must use the deployment horizon scale "
                    "(points already at scale / within 1 year / 1-3 years / more than 3 years)"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self


def parse_workshop_input(values: Mapping[str, object]) -> WorkshopInput:
    """Validate set-up values; raises WorkshopError with every problem in one message."""
    try:
        return WorkshopInput.model_validate(dict(values))
    except ValidationError as error:
        raise WorkshopError(_validation_text(error)) from None


# ---------------------------------------------------------------------------------------------
# Read models (plain snapshots, safe to use after the session has closed)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemView:
    id: int
    position: int
    technology_id: int | None
    technology_name: str | None
    question: str
    custom_question: str
    dropped_after_round: int | None
    drop_reason: str

    @property
    def question_text(self) -> str:
        return self.custom_question if self.question == "custom" else QUESTION_LABELS[self.question]

    @property
    def label(self) -> str:
        if self.technology_name:
            return f"{self.technology_name}: {self.question_text}"
        return self.question_text

    @property
    def key(self) -> str:
        """The item's identifier in rating frames: unique and sorting in the workshop's order."""
        return f"{self.position:02d} {self.label}"

    def active_in(self, round_number: int) -> bool:
        return self.dropped_after_round is None or round_number <= self.dropped_after_round


@dataclass(frozen=True)
class GroupView:
    id: int
    name: str
    invited: int


@dataclass(frozen=True)
class RoundView:
    number: int
    opened_at: datetime
    closed_at: datetime | None

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


@dataclass(frozen=True)
class WorkshopView:
    id: int
    title: str
    purpose: str
    workshop_date: date | None
    owner_user_id: str
    scales: WorkshopScales
    rule: ConsensusRule
    hide_results_until_close: bool
    n_rounds: int
    join_code: str
    expires_at: datetime
    status: str
    is_demo: bool
    items: tuple[ItemView, ...]
    groups: tuple[GroupView, ...]
    rounds: tuple[RoundView, ...]

    @property
    def open_round(self) -> RoundView | None:
        return next((r for r in self.rounds if r.is_open), None)

    @property
    def last_closed_round(self) -> RoundView | None:
        closed = [r for r in self.rounds if not r.is_open]
        return closed[-1] if closed else None

    @property
    def rule_frozen(self) -> bool:
        return bool(self.rounds)

    def items_in(self, round_number: int) -> list[ItemView]:
        return [item for item in self.items if item.active_in(round_number)]

    def scale_for(self, item: ItemView) -> RatingScale:
        return self.scales.scale_for(item.question)

    def is_expired(self, now: datetime | None = None) -> bool:
        return _now(now) >= self.expires_at

    def as_input_values(self) -> dict[str, object]:
        """The set-up as WorkshopInput values (to pre-fill the edit form)."""
        return {
            "title": self.title, "purpose": self.purpose, "workshop_date": self.workshop_date, "scales": self.scales,
            "rule": self.rule, "hide_results_until_close": self.hide_results_until_close, "n_rounds": self.n_rounds,
            "expires_at": self.expires_at,
            "items": [ItemInput(technology_id=i.technology_id, question=i.question, custom_question=i.custom_question)
                      for i in self.items],
            "groups": [GroupInput(name=g.name, invited=g.invited) for g in self.groups],
        }  # fmt: skip


def _view(session: Session, workshop: Workshop) -> WorkshopView:
    technology_ids = {item.technology_id for item in workshop.items if item.technology_id is not None}
    names = dict(session.execute(select(Technology.id, Technology.name).where(Technology.id.in_(technology_ids))).all())
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
            for i in workshop.items
        ),
        groups=tuple(GroupView(id=g.id, name=g.name, invited=g.invited) for g in workshop.groups),
        rounds=tuple(RoundView(number=r.number, opened_at=utc(r.opened_at),
                               closed_at=utc(r.closed_at) if r.closed_at else None) for r in workshop.rounds),
    )  # fmt: skip


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
    if data.expires_at <= _now(now):
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
    participants, rounds_opened, n_rounds, is_demo.
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
        query = select(Workshop).order_by(Workshop.id.desc())
        if owner_user_id is not None:
            query = query.where(Workshop.owner_user_id == owner_user_id)
        rows = [
            {
                "workshop_id": w.id, "title": w.title, "workshop_date": w.workshop_date, "status": w.status,
                "owner_user_id": w.owner_user_id,
                **{name: counts[name].get(w.id, 0) for name in counts},
                "n_rounds": w.n_rounds, "is_demo": w.is_demo,
            }  # fmt: skip
            for w in session.scalars(query)
        ]
    columns = ["workshop_id", "title", "workshop_date", "status", "owner_user_id", "items", "groups", "participants",
               "rounds_opened", "n_rounds", "is_demo"]
    return pd.DataFrame(rows, columns=columns)


@guarded("workshop.run")
def open_round(engine: Engine, workshop_id: int, *, actor: Actor | None = None, now: datetime | None = None) -> int:
    """Open the next round (freezing the rule when it is round 1); returns its number."""
    moment = _now(now)
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
        current.closed_at = _now(now)
        _audit_round_close(session, actor, workshop.id, current.number)
        return current.number


def _audit_round_close(session: Session, actor: Actor | None, workshop_id: int, number: int) -> None:
    ratings = session.scalar(select(func.count()).select_from(Rating).join(WorkshopRound, WorkshopRound.id == Rating.round_id)
                             .where(WorkshopRound.workshop_id == workshop_id, WorkshopRound.number == number)) or 0
    record_audit(session, actor, None, "round_close", f"workshop:{workshop_id}", "success", {"round": number, "ratings": ratings})


@guarded("workshop.run")
def close_workshop(engine: Engine, workshop_id: int, *, actor: Actor | None = None, now: datetime | None = None) -> None:
    """Close the workshop (and its open round): its results become evidence for the analysis."""
    moment = _now(now)
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


@dataclass(frozen=True)
class ParticipantView:
    participant_id: int
    alias: str
    group_id: int
    group_name: str
    workshop: WorkshopView


def _joinable(workshop: Workshop | None, moment: datetime) -> Workshop:
    if workshop is None:
        raise JoinError("No workshop has this code. Check the code on the facilitator's screen (6 characters, like K7Q-M4T).")
    if workshop.status == "closed":
        raise JoinError("This workshop has closed; thank you for taking part.")
    if moment >= utc(workshop.expires_at):
        raise JoinError("This join code has expired: the workshop it belonged to has ended.")
    return workshop


def find_workshop_by_code(engine: Engine, code: str, *, now: datetime | None = None) -> WorkshopView:
    """The workshop a participant may join with ``code``; raises JoinError with the reason."""
    normalised = normalise_join_code(code)
    if len(normalised) != JOIN_CODE_LENGTH or any(c not in JOIN_CODE_ALPHABET for c in normalised):
        raise JoinError(
            f"A join code has {JOIN_CODE_LENGTH} letters and digits (no 0, O, 1, I or L), like K7Q-M4T."
        )
    with read_session(engine) as session:
        workshop_id = session.scalar(select(Workshop.id).where(Workshop.join_code_hash == _hash(normalised)))
        workshop = _joinable(_load(session, workshop_id) if workshop_id else None, _now(now))
        return _view(session, workshop)


def join_workshop(engine: Engine, code: str, group_id: int, *, now: datetime | None = None) -> tuple[str, str]:
    """Give the participant a seat in the chosen group; returns (token, alias).

    The token is returned once and only its hash is stored: it is the participant's credential.
    """
    moment = _now(now)
    normalised = normalise_join_code(code)
    token = secrets.token_urlsafe(24)
    with write_session(engine) as session:
        workshop_id = session.scalar(select(Workshop.id).where(Workshop.join_code_hash == _hash(normalised)))
        # Locking the workshop row serialises joins, so aliases are numbered without gaps or clashes.
        workshop = _joinable(_load(session, workshop_id, lock=True) if workshop_id else None, moment)
        group = next((g for g in workshop.groups if g.id == group_id), None)
        if group is None:
            raise JoinError("Choose one of this workshop's stakeholder groups.")
        seats = session.scalar(select(func.count()).select_from(Participant).where(Participant.workshop_id == workshop.id))
        alias = f"P{(seats or 0) + 1:02d}"
        session.add(Participant(workshop_id=workshop.id, group_id=group.id, token_hash=_hash(token), alias=alias,
                                joined_at=moment))
    return token, alias


def participant_session(engine: Engine, token: str) -> ParticipantView | None:
    """The participant holding ``token`` and their workshop, or None for an unknown token."""
    if not token:
        return None
    with read_session(engine) as session:
        participant = session.scalars(select(Participant).where(Participant.token_hash == _hash(token))).first()
        if participant is None:
            return None
        workshop = _load(session, participant.workshop_id)
        assert workshop is not None  # participants are deleted with their workshop
        return ParticipantView(participant.id, participant.alias, participant.group_id, participant.group.name,
                               _view(session, workshop))


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


class RatingInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_id: int
    value: int
    reason: str = Field("", max_length=REASON_MAX_LENGTH)

    _strip = field_validator("reason", mode="before")(_stripped)


def _upsert(session: Session, rows: list[dict]) -> None:
    dialect = session.get_bind().dialect.name
    statement = (sqlite_insert if dialect == "sqlite" else postgresql_insert)(Rating).values(rows)
    statement = statement.on_conflict_do_update(
        index_elements=["round_id", "item_id", "participant_id"],
        set_={"value": statement.excluded.value, "reason": statement.excluded.reason,
              "updated_at": statement.excluded.updated_at},
    )
    session.execute(statement)


def save_ratings(engine: Engine, token: str, round_number: int, ratings: Sequence[RatingInput | Mapping],
                 *, now: datetime | None = None) -> int:
    """Store (or replace) the participant's ratings for the open round; returns how many.

    All-or-nothing: any bad rating refuses the whole save with a message naming the item.
    """
    try:
        parsed = [r if isinstance(r, RatingInput) else RatingInput.model_validate(dict(r)) for r in ratings]
    except ValidationError as error:
        raise RatingError(_validation_text(error)) from None
    if not parsed:
        raise RatingError("There is nothing to save.")
    if len({r.item_id for r in parsed}) != len(parsed):
        raise RatingError("Each item can be rated once per save.")
    moment = _now(now)
    with write_session(engine) as session:
        participant = session.scalars(select(Participant).where(Participant.token_hash == _hash(token))).first()
        if participant is None:
            raise RatingError("Your seat in this workshop was not found; join again with the code.")
        round_ = session.scalars(
            select(WorkshopRound)
            .where(WorkshopRound.workshop_id == participant.workshop_id, WorkshopRound.number == round_number)
            .with_for_update(read=True)
        ).first()
        if round_ is None or round_.closed_at is not None:
            raise RatingError(f"Round {round_number} is closed; ratings can no longer be changed.")
        items_by_id = {
            item.id: item
            for item in session.scalars(select(WorkshopItem).where(WorkshopItem.workshop_id == participant.workshop_id))
        }
        scales = WorkshopScales.model_validate(
            session.scalar(select(Workshop.scales).where(Workshop.id == participant.workshop_id))
        )
        rows = []
        for rating in parsed:
            item = items_by_id.get(rating.item_id)
            if item is None or not (item.dropped_after_round is None or round_number <= item.dropped_after_round):
                raise RatingError(f"Item {rating.item_id} is not rated in round {round_number}.")
            scale = scales.scale_for(item.question)
            if rating.value not in scale.values:
                raise RatingError(f"Item {item.position}: {rating.value} is outside the scale "
                                  f"{scale.bands.range_text()}.")
            rows.append({"round_id": round_.id, "item_id": item.id, "participant_id": participant.id,
                         "value": rating.value, "reason": rating.reason, "updated_at": moment})
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


def _with_item_keys(frame: pd.DataFrame, view: WorkshopView) -> pd.DataFrame:
    keys = {item.id: item.key for item in view.items}
    return frame.assign(item=frame["item_id"].map(keys))


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
    return _with_item_keys(frame, view)[RATING_FRAME_COLUMNS].reset_index(drop=True)


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


@dataclass(frozen=True)
class LiveProgress:
    """A round's progress. by_item: item_id, item, responses. by_group: group, joined,
    responded, completed. responders: alias, group, items_rated, completed (bool) — who has
    responded, never what."""

    round_number: int | None
    items_in_round: int
    by_item: pd.DataFrame
    by_group: pd.DataFrame
    responders: pd.DataFrame


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
        number = current.number if current else None
        item_counts = dict(
            session.execute(
                select(Rating.item_id, func.count())
                .join(WorkshopRound, WorkshopRound.id == Rating.round_id)
                .where(WorkshopRound.workshop_id == workshop_id, WorkshopRound.number == (number or 0))
                .group_by(Rating.item_id)
            ).all()
        )
    items = view.items_in(number) if number else list(view.items)
    by_item = pd.DataFrame(
        {"item_id": [i.id for i in items], "item": [i.key for i in items],
         "responses": [int(item_counts.get(i.id, 0)) for i in items]},
        columns=["item_id", "item", "responses"],
    )  # fmt: skip
    in_round = rated[rated["round"] == number] if number else rated.iloc[0:0]
    responders = participants.merge(in_round[["participant_id", "items_rated"]], on="participant_id", how="left")
    responders["items_rated"] = responders["items_rated"].fillna(0).astype("int64")
    responders["completed"] = responders["items_rated"] >= len(items)
    by_group = (
        pd.DataFrame({"group": [g.name for g in view.groups]})
        .merge(
            responders.groupby("group").agg(
                joined=("participant_id", "size"),
                responded=("items_rated", lambda s: int((s > 0).sum())),
                completed=("completed", "sum"),
            ).reset_index(),
            on="group", how="left",
        )
        .fillna(0)
    )
    for column in ("joined", "responded", "completed"):
        by_group[column] = by_group[column].astype("int64")
    return LiveProgress(number, len(items), by_item, by_group,
                        responders[["alias", "group", "items_rated", "completed"]])


@guarded("workshop.run")
def attrition(engine: Engine, workshop_id: int, *, actor: Actor | None = None) -> pd.DataFrame:
    """Per round and stakeholder group: invited, joined (seats taken by the round's close, or
    now for an open round), responded (rated at least one item) and completed (rated every
    item of the round). Columns: round, group, invited, joined, responded, completed."""
    with read_session(engine) as session:
        view = _view(session, _owned(session, actor, workshop_id))
        participants = _participants_frame(session, workshop_id)
        rated = _rated_counts(session, workshop_id)
    rated = rated.merge(participants[["participant_id", "group"]], on="participant_id")
    rows = []
    for round_ in view.rounds:
        n_items = len(view.items_in(round_.number))
        cutoff = round_.closed_at
        in_round = rated[rated["round"] == round_.number]
        for group in view.groups:
            seats = participants[participants["group"] == group.name]
            if cutoff is not None:
                seats = seats[seats["joined_at"] <= pd.Timestamp(cutoff)]
            answered = in_round[in_round["group"] == group.name]
            rows.append({"round": round_.number, "group": group.name, "invited": group.invited, "joined": len(seats),
                         "responded": len(answered), "completed": int((answered["items_rated"] >= n_items).sum())})
    return pd.DataFrame(rows, columns=["round", "group", "invited", "joined", "responded", "completed"])


# ---------------------------------------------------------------------------------------------
# Analysis of a workshop (the pure functions of analysis.consensus, one call per scale)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkshopAnalysis:
    """Consensus analysis of a workshop's (closed) rounds.

    items: item_id, item, position, technology_id, technology_name, question, scale (text),
    dropped_after_round, drop_reason.
    summary: summarise_items columns + item_id, technology_id, question, category.
    by_group: summarise_by_group columns. stability: analysis.consensus.stability columns.
    sensitivity: item, round, n, comet_70_15, comet_every_group, [ram], workshop, depends_on_rule.
    accord: one row per round (accord_round_summary columns, counts summed over scales).
    """

    workshop: WorkshopView
    ratings: pd.DataFrame
    items: pd.DataFrame
    summary: pd.DataFrame
    by_group: pd.DataFrame
    stability: pd.DataFrame
    sensitivity: pd.DataFrame
    accord: pd.DataFrame


def median_category(question: str, scale: RatingScale, median: float, ratings: pd.Series) -> str | None:
    """The evidence category of an item's ratings: for impact questions the band of the median
    (low / medium / high); for time to deployment the code of the median point, taken as the
    lowest point at or below which at least half the ratings lie (the lower ordinal median)."""
    if pd.isna(median):
        return None
    if question == "time_to_deployment":
        values = np.sort(ratings.dropna().to_numpy())
        lower_median = int(values[(len(values) - 1) // 2])
        return scale.point_code(lower_median)
    if question in IMPACT_QUESTIONS:
        return BAND_TO_IMPACT_LEVEL[scale.band_of(median)]
    return None


def _items_frame(view: WorkshopView) -> pd.DataFrame:
    return pd.DataFrame(
        [{"item_id": i.id, "item": i.key, "position": i.position, "technology_id": i.technology_id,
          "technology_name": i.technology_name, "question": i.question, "scale": view.scale_for(i).describe(),
          "dropped_after_round": i.dropped_after_round, "drop_reason": i.drop_reason} for i in view.items],
        columns=["item_id", "item", "position", "technology_id", "technology_name", "question", "scale",
                 "dropped_after_round", "drop_reason"],
    )  # fmt: skip


def _scale_groups(view: WorkshopView) -> list[tuple[RatingScale, list[ItemView]]]:
    groups: list[tuple[RatingScale, list[ItemView]]] = []
    for item in view.items:
        scale = view.scale_for(item)
        for known, members in groups:
            if known == scale:
                members.append(item)
                break
        else:
            groups.append((scale, [item]))
    return groups


def _invited_table(view: WorkshopView, rounds: Iterable[int]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"group": g.name, "round": r, "invited": g.invited} for r in rounds for g in view.groups],
        columns=["group", "round", "invited"],
    )


def _combined_accord(view: WorkshopView, ratings: pd.DataFrame, parts: list[pd.DataFrame], rounds: list[int]) -> pd.DataFrame:
    """One ACCORD table for items rated on different scales: item counts add up; who
    responded is counted once over all items; rule sentences are listed per scale."""
    invited = _invited_table(view, rounds)
    table = pd.DataFrame({"round": rounds})
    totals = invited.groupby("round")["invited"].sum()
    table["invited"] = table["round"].map(totals).astype("Int64")
    rated = ratings[ratings["rating"].notna()]
    responded = rated.groupby("round")["participant"].nunique()
    table["responded"] = table["round"].map(responded).fillna(0).astype("int64")
    table["response_rate_pct"] = (100 * table["responded"] / table["invited"].astype("Float64").where(table["invited"] > 0)).astype(float)
    for group in sorted(g.name for g in view.groups):
        table[f"invited_{group}"] = table["round"].map(invited[invited["group"] == group].set_index("round")["invited"]).astype("Int64")
        by_round = rated[rated["group"] == group].groupby("round")["participant"].nunique()
        table[f"responded_{group}"] = table["round"].map(by_round).fillna(0).astype("int64")
    count_columns = ["items_rated", "items_consensus_in", "items_consensus_out", "items_no_consensus"]
    for column in count_columns:
        table[column] = 0
    sentences = []
    for part in parts:
        indexed = part.set_index("round")
        for column in count_columns:
            table[column] += table["round"].map(indexed[column]).fillna(0).astype("int64")
        sentence = str(part["rule"].iloc[0]) if len(part) else ""
        if sentence and sentence not in sentences:
            sentences.append(sentence)
    table["items_dropped_after_round"] = table["round"].map(
        lambda r: sum(1 for item in view.items if item.dropped_after_round == r)
    )
    table["rule"] = " | ".join(sentences)
    return table


@guarded("workshop.run")
def analyse_workshop(engine: Engine, workshop_id: int, *, actor: Actor | None = None,
                     include_open_round: bool = False) -> WorkshopAnalysis:
    """Summaries, per-group breakdown, stability, sensitivity and the ACCORD table.

    By default only closed rounds are analysed (results stay hidden while a round is open).
    """
    with read_session(engine) as session:
        view = _view(session, _owned(session, actor, workshop_id))
        raw = _rating_rows(session, workshop_id)
    if not include_open_round:
        raw = raw[raw["round_closed_at"].notna()]
    raw = _with_item_keys(raw, view)
    ratings = raw[RATING_FRAME_COLUMNS].reset_index(drop=True)
    rounds = sorted(r.number for r in view.rounds if include_open_round or not r.is_open)
    items = _items_frame(view)
    summaries, by_group, stabilities, sensitivities, accords = [], [], [], [], []
    for scale, members in _scale_groups(view):
        keys = {item.key for item in members}
        subset = ratings[ratings["item"].isin(keys)]
        if subset.empty:
            continue
        summary = summarise_items(subset, view.rule, scale.bands)
        question_of = {item.key: item.question for item in members}
        ratings_of = {key: part["rating"] for key, part in subset.groupby(["item", "round"])}
        summary["category"] = [
            median_category(question_of[key], scale, median, ratings_of.get((key, number), pd.Series(dtype=float)))
            for key, number, median in zip(summary["item"], summary["round"], summary["median"], strict=True)
        ]
        summaries.append(summary)
        by_group.append(summarise_by_group(subset, view.rule, scale.bands))
        stabilities.append(stability(subset))
        sensitivities.append(sensitivity(subset, scale.bands, rules={"workshop": view.rule}))
        accords.append(accord_round_summary(subset, view.rule, _invited_table(view, rounds), scale.bands))
    summary = pd.concat(summaries, ignore_index=True) if summaries else summarise_items(ratings.iloc[0:0], view.rule)
    summary = summary.merge(items[["item", "item_id", "technology_id", "question"]], on="item", how="left")
    summary = summary.sort_values(["item", "round"], kind="stable").reset_index(drop=True)

    def combined(frames: list[pd.DataFrame], sort: list[str]) -> pd.DataFrame:
        if not frames:
            return pd.DataFrame()
        return pd.concat(frames, ignore_index=True).sort_values(sort, kind="stable").reset_index(drop=True)

    return WorkshopAnalysis(
        workshop=view, ratings=ratings, items=items, summary=summary,
        by_group=combined(by_group, ["item", "round", "group"]),
        stability=combined(stabilities, ["item", "round"]),
        sensitivity=combined(sensitivities, ["item", "round"]),
        accord=_combined_accord(view, ratings, accords, rounds),
    )


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
    frames = []
    for workshop_id in closed:
        result = analyse_workshop(engine, workshop_id)
        summary = result.summary
        if summary.empty:
            continue
        evidence = summary[summary["question"].isin(QUESTION_CODES[:4]) & summary["technology_id"].notna() & (summary["n"] > 0)]
        last = evidence.sort_values(["item", "round"]).drop_duplicates("item", keep="last")
        closed_at = {r.number: r.closed_at for r in result.workshop.rounds}
        frames.append(pd.DataFrame({
            "workshop_id": workshop_id,
            "round": last["round"].astype("int64"),
            "technology_id": last["technology_id"].astype("int64"),
            "quantity": last["question"].astype("str"),
            "category": last["category"],
            "consensus": last["consensus"].astype("str"),
            "n_participants": last["n"].astype("int64"),
            "rule": rule_label(result.workshop.rule),
            "closed_at": pd.to_datetime([closed_at[r] for r in last["round"]], utc=True),
        }))  # fmt: skip
    if not frames:
        return pd.DataFrame({
            "workshop_id": pd.Series(dtype="int64"), "round": pd.Series(dtype="int64"),
            "technology_id": pd.Series(dtype="int64"), "quantity": pd.Series(dtype="str"),
            "category": pd.Series(dtype="str"), "consensus": pd.Series(dtype="str"),
            "n_participants": pd.Series(dtype="int64"), "rule": pd.Series(dtype="str"),
            "closed_at": pd.Series(dtype="datetime64[ns, UTC]"),
        })  # fmt: skip
    return pd.concat(frames, ignore_index=True)[RESULT_COLUMNS]


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


def default_expiry(workshop_date: date | None, *, now: datetime | None = None) -> datetime:
    """Join codes expire at the end of the day after the workshop (or 7 days from now)."""
    if workshop_date is None:
        return _now(now) + timedelta(days=7)
    return datetime.combine(workshop_date + timedelta(days=1), time(23, 59, 59), tzinfo=UTC)
