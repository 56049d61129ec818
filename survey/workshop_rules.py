"""Workshop rules: scales, set-up input, join codes, the round life cycle, rating checks, live
progress and the consensus analysis of a workshop's ratings. Pure: no database and no Streamlit;
``storage.workshops`` reads and writes, and asks these functions what is allowed and what follows.

- Scales: a workshop rates on the 1-9 scale (importance or impact) or a coded ordinal scale
  (deployment horizons, custom points), one per question if needed, in three bands.
- Set-up: :class:`WorkshopInput` validates everything a facilitator enters, before any write.
- Join codes: six characters without look-alikes, read aloud as "K7Q-M4T".
- Rounds: who may join (:func:`join_refusal`), which ratings a save may hold (:func:`checked_ratings`).
- Progress and attrition: who has responded, never what (:func:`progress_of`, :func:`attrition_table`).
- Analysis: the pure functions of ``analysis.consensus``, one call per scale (:func:`analyse_ratings`),
  and the evidence a closed workshop gives the roadmap analysis (:func:`workshop_evidence`).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, Self

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from analysis.consensus import accord_round_summary, sensitivity, stability, summarise_by_group, summarise_items
from analysis.consensus_rules import BAND_ORDER, DEFAULT_SCALE, Band, ConsensusRule, Scale

REASON_MAX_LENGTH = 500  # characters of a rating's reason (the column's size)

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
# Errors, join codes and times
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


def now_utc(now: datetime | None) -> datetime:
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
        raise WorkshopError(validation_text(error)) from None


class WorkshopScales(BaseModel):
    """The workshop's scale, with an optional different scale per question (e.g. horizons)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default: RatingScale = NINE_POINT_SCALE
    by_question: dict[QuestionCode, RatingScale] = Field(default_factory=dict)

    def scale_for(self, question: str) -> RatingScale:
        return self.by_question.get(question, self.default)  # type: ignore[call-overload]


def validation_text(error: ValidationError) -> str:
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


def stripped(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


class ItemInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    technology_id: int | None = None
    question: QuestionCode
    custom_question: str = Field("", max_length=300)

    _strip = field_validator("custom_question", mode="before")(stripped)

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

    _strip = field_validator("name", mode="before")(stripped)


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

    _strip = field_validator("title", "purpose", mode="before")(stripped)

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
        raise WorkshopError(validation_text(error)) from None


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
        return now_utc(now) >= self.expires_at

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



@dataclass(frozen=True)
class ParticipantView:
    participant_id: int
    alias: str
    group_id: int
    group_name: str
    workshop: WorkshopView


class RatingInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_id: int
    value: int
    reason: str = Field("", max_length=REASON_MAX_LENGTH)

    _strip = field_validator("reason", mode="before")(stripped)


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


def items_frame(view: WorkshopView) -> pd.DataFrame:
    return pd.DataFrame(
        [{"item_id": i.id, "item": i.key, "position": i.position, "technology_id": i.technology_id,
          "technology_name": i.technology_name, "question": i.question, "scale": view.scale_for(i).describe(),
          "dropped_after_round": i.dropped_after_round, "drop_reason": i.drop_reason} for i in view.items],
        columns=["item_id", "item", "position", "technology_id", "technology_name", "question", "scale",
                 "dropped_after_round", "drop_reason"],
    )  # fmt: skip


def scale_groups(view: WorkshopView) -> list[tuple[RatingScale, list[ItemView]]]:
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


def invited_table(view: WorkshopView, rounds: Iterable[int]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"group": g.name, "round": r, "invited": g.invited} for r in rounds for g in view.groups],
        columns=["group", "round", "invited"],
    )


def combined_accord(view: WorkshopView, ratings: pd.DataFrame, parts: list[pd.DataFrame], rounds: list[int]) -> pd.DataFrame:
    """One ACCORD table for items rated on different scales: item counts add up; who
    responded is counted once over all items; rule sentences are listed per scale."""
    invited = invited_table(view, rounds)
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


def default_expiry(workshop_date: date | None, *, now: datetime | None = None) -> datetime:
    """Join codes expire at the end of the day after the workshop (or 7 days from now)."""
    if workshop_date is None:
        return now_utc(now) + timedelta(days=7)
    return datetime.combine(workshop_date + timedelta(days=1), time(23, 59, 59), tzinfo=UTC)


# ---------------------------------------------------------------------------------------------
# Joining and rating
# ---------------------------------------------------------------------------------------------


def join_code_problem(code: str) -> str | None:
    """Why a typed code cannot be a join code (None when it can), before looking it up."""
    normalised = normalise_join_code(code)
    if len(normalised) != JOIN_CODE_LENGTH or any(c not in JOIN_CODE_ALPHABET for c in normalised):
        return f"A join code has {JOIN_CODE_LENGTH} letters and digits (no 0, O, 1, I or L), like K7Q-M4T."
    return None


def join_refusal(status: str | None, expires_at: datetime | None, moment: datetime) -> str | None:
    """Why a participant cannot join a workshop (None = they can); ``status`` None = no workshop
    has the code."""
    if status is None or expires_at is None:
        return "No workshop has this code. Check the code on the facilitator's screen (6 characters, like K7Q-M4T)."
    if status == "closed":
        return "This workshop has closed; thank you for taking part."
    if moment >= utc(expires_at):
        return "This join code has expired: the workshop it belonged to has ended."
    return None


def participant_alias(seats_taken: int) -> str:
    """The next participant's alias: P01, P02, ... (joins are serialised, so no gaps or clashes)."""
    return f"P{seats_taken + 1:02d}"


@dataclass(frozen=True)
class RatedItem:
    """What a save needs to know of an item: its id, position, question and when it was dropped."""

    id: int
    position: int
    question: str
    dropped_after_round: int | None


def parse_ratings(ratings: Sequence[RatingInput | Mapping]) -> list[RatingInput]:
    """Validate a save's ratings; raises RatingError naming what is wrong (all-or-nothing)."""
    try:
        parsed = [r if isinstance(r, RatingInput) else RatingInput.model_validate(dict(r)) for r in ratings]
    except ValidationError as error:
        raise RatingError(validation_text(error)) from None
    if not parsed:
        raise RatingError("There is nothing to save.")
    if len({r.item_id for r in parsed}) != len(parsed):
        raise RatingError("Each item can be rated once per save.")
    return parsed


def check_ratings(parsed: Sequence[RatingInput], items: Mapping[int, RatedItem], scales: WorkshopScales,
                  round_number: int) -> None:
    """Refuse a save (RatingError naming the item) unless every rating is of an item rated in this
    round, with a value on that item's scale."""
    for rating in parsed:
        item = items.get(rating.item_id)
        if item is None or not (item.dropped_after_round is None or round_number <= item.dropped_after_round):
            raise RatingError(f"Item {rating.item_id} is not rated in round {round_number}.")
        scale = scales.scale_for(item.question)
        if rating.value not in scale.values:
            raise RatingError(f"Item {item.position}: {rating.value} is outside the scale {scale.bands.range_text()}.")


# ---------------------------------------------------------------------------------------------
# Live progress and attrition (from who joined and how many items each rated)
# ---------------------------------------------------------------------------------------------


def progress_of(view: WorkshopView, participants: pd.DataFrame, rated: pd.DataFrame,
                item_counts: Mapping[int, int]) -> LiveProgress:
    """Progress of the open round (or, between rounds, of the last one). ``participants``:
    participant_id, alias, group, joined_at; ``rated``: round, participant_id, items_rated;
    ``item_counts``: item id -> responses in that round."""
    current = view.open_round or (view.rounds[-1] if view.rounds else None)
    number = current.number if current else None
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


def attrition_table(view: WorkshopView, participants: pd.DataFrame, rated: pd.DataFrame) -> pd.DataFrame:
    """Per round and stakeholder group: invited, joined (seats taken by the round's close, or
    now for an open round), responded (rated at least one item) and completed (rated every
    item of the round). Columns: round, group, invited, joined, responded, completed."""
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
# The analysis of a workshop's ratings
# ---------------------------------------------------------------------------------------------


def with_item_keys(frame: pd.DataFrame, view: WorkshopView) -> pd.DataFrame:
    keys = {item.id: item.key for item in view.items}
    return frame.assign(item=frame["item_id"].map(keys))


def analyse_ratings(view: WorkshopView, raw: pd.DataFrame, *, include_open_round: bool = False) -> WorkshopAnalysis:
    """Summaries, per-group breakdown, stability, sensitivity and the ACCORD table of ``raw``
    ratings (participant, group, item_id, round, rating, round_closed_at). By default only closed
    rounds are analysed (results stay hidden while a round is open)."""
    if not include_open_round:
        raw = raw[raw["round_closed_at"].notna()]
    raw = with_item_keys(raw, view)
    ratings = raw[RATING_FRAME_COLUMNS].reset_index(drop=True)
    rounds = sorted(r.number for r in view.rounds if include_open_round or not r.is_open)
    items = items_frame(view)
    summaries, by_group, stabilities, sensitivities, accords = [], [], [], [], []
    for scale, members in scale_groups(view):
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
        accords.append(accord_round_summary(subset, view.rule, invited_table(view, rounds), scale.bands))
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
        accord=combined_accord(view, ratings, accords, rounds),
    )


EVIDENCE_QUESTIONS = ("time_to_deployment", "impact_workforce", "impact_pathway", "impact_system")


def empty_results() -> pd.DataFrame:
    return pd.DataFrame({
        "workshop_id": pd.Series(dtype="int64"), "round": pd.Series(dtype="int64"),
        "technology_id": pd.Series(dtype="int64"), "quantity": pd.Series(dtype="str"),
        "category": pd.Series(dtype="str"), "consensus": pd.Series(dtype="str"),
        "n_participants": pd.Series(dtype="int64"), "rule": pd.Series(dtype="str"),
        "closed_at": pd.Series(dtype="datetime64[ns, UTC]"),
    })  # fmt: skip


def workshop_evidence(result: WorkshopAnalysis) -> pd.DataFrame | None:
    """The evidence a closed workshop gives the analysis: the last closed round each item was
    rated in (dropped items stop earlier). Custom questions and items without a technology are
    not evidence. Columns as RESULT_COLUMNS; None when nothing qualifies."""
    summary = result.summary
    if summary.empty:
        return None
    evidence = summary[summary["question"].isin(EVIDENCE_QUESTIONS) & summary["technology_id"].notna() & (summary["n"] > 0)]
    last = evidence.sort_values(["item", "round"]).drop_duplicates("item", keep="last")
    closed_at = {r.number: r.closed_at for r in result.workshop.rounds}
    return pd.DataFrame({
        "workshop_id": result.workshop.id,
        "round": last["round"].astype("int64"),
        "technology_id": last["technology_id"].astype("int64"),
        "quantity": last["question"].astype("str"),
        "category": last["category"],
        "consensus": last["consensus"].astype("str"),
        "n_participants": last["n"].astype("int64"),
        "rule": rule_label(result.workshop.rule),
        "closed_at": pd.to_datetime([closed_at[r] for r in last["round"]], utc=True),
    })[RESULT_COLUMNS]  # fmt: skip
