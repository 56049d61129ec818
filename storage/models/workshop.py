"""Consensus workshops: Delphi rounds rated by anonymous participants (issue 4, DESIGN.md section 4).

A workshop owns its items (technology x question), stakeholder groups, participants, rounds
and ratings; deleting a workshop deletes all of them. The rating scale(s) and the consensus
rule are stored as JSON (the pydantic models in ``survey.workshop_rules``), and the rule is frozen
once round 1 opens, so the pre-registered rule is the one the results are classified by.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base, TimestampMixin, utcnow

# Characters of a rating's reason; survey.workshop_rules.REASON_MAX_LENGTH validates against the same
# number (a test checks they agree), so the models load without the workshop rules.
REASON_COLUMN_LENGTH = 500

WORKSHOP_STATUSES = ("draft", "running", "closed")
QUESTION_CODES = ("time_to_deployment", "impact_workforce", "impact_pathway", "impact_system", "custom")


class Workshop(TimestampMixin, Base):
    __tablename__ = "workshop"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(Text, default="")
    workshop_date: Mapped[date | None] = mapped_column(Date)
    # The signed-in user who created it (Identity.user_id); facilitators see only their own.
    owner_user_id: Mapped[str] = mapped_column(String(120), index=True)
    scales: Mapped[dict] = mapped_column(JSON)
    rule: Mapped[dict] = mapped_column(JSON)
    hide_results_until_close: Mapped[bool] = mapped_column(Boolean, default=True)
    n_rounds: Mapped[int] = mapped_column(Integer, default=2)
    # Lookups go through the hash (unique). The code is ALSO kept in plain text so the
    # facilitator can read it aloud and show it as a QR code again after a refresh; this is
    # acceptable only because a join code expires with its workshop (expires_at / closing)
    # and grants nothing but an anonymous participant seat in that one workshop.
    join_code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    join_code: Mapped[str] = mapped_column(String(6))
    expires_at: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(10), default="draft")
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)

    items: Mapped[list[WorkshopItem]] = relationship(
        back_populates="workshop", cascade="all, delete-orphan", order_by="WorkshopItem.position"
    )
    groups: Mapped[list[StakeholderGroup]] = relationship(
        back_populates="workshop", cascade="all, delete-orphan", order_by="StakeholderGroup.position"
    )
    rounds: Mapped[list[WorkshopRound]] = relationship(
        back_populates="workshop", cascade="all, delete-orphan", order_by="WorkshopRound.number"
    )
    participants: Mapped[list[Participant]] = relationship(
        back_populates="workshop", cascade="all, delete-orphan", order_by="Participant.id"
    )


class WorkshopItem(Base):
    """One thing to rate: a catalogue technology x a question (or a custom question)."""

    __tablename__ = "workshop_item"
    __table_args__ = (UniqueConstraint("workshop_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshop.id", ondelete="CASCADE"), index=True)
    technology_id: Mapped[int | None] = mapped_column(ForeignKey("technology.id", ondelete="SET NULL"), index=True)
    question: Mapped[str] = mapped_column(String(30))
    custom_question: Mapped[str] = mapped_column(String(300), default="")
    position: Mapped[int] = mapped_column(Integer)
    # Items that reached consensus may be dropped from later rounds: the facilitator's choice, recorded.
    dropped_after_round: Mapped[int | None] = mapped_column(Integer)
    drop_reason: Mapped[str] = mapped_column(String(300), default="")

    workshop: Mapped[Workshop] = relationship(back_populates="items")


class StakeholderGroup(Base):
    __tablename__ = "stakeholder_group"
    __table_args__ = (UniqueConstraint("workshop_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshop.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    position: Mapped[int] = mapped_column(Integer, default=0)
    # How many people of this group the facilitator invited (for attrition and ACCORD).
    invited: Mapped[int] = mapped_column(Integer, default=0)

    workshop: Mapped[Workshop] = relationship(back_populates="groups")


class Participant(Base):
    """An anonymous seat: identified by a random token (only its hash is stored) and shown to
    the facilitator by an alias such as "P07"."""

    __tablename__ = "participant"
    __table_args__ = (UniqueConstraint("workshop_id", "alias"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshop.id", ondelete="CASCADE"), index=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("stakeholder_group.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    alias: Mapped[str] = mapped_column(String(8))
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)

    workshop: Mapped[Workshop] = relationship(back_populates="participants")
    group: Mapped[StakeholderGroup] = relationship()


class WorkshopRound(Base):
    __tablename__ = "workshop_round"
    __table_args__ = (UniqueConstraint("workshop_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshop.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column()

    workshop: Mapped[Workshop] = relationship(back_populates="rounds")


class Rating(Base):
    """One participant's rating of one item in one round; re-saving before the close replaces it."""

    __tablename__ = "rating"
    __table_args__ = (UniqueConstraint("round_id", "item_id", "participant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("workshop_round.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("workshop_item.id", ondelete="CASCADE"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id", ondelete="CASCADE"), index=True)
    value: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(REASON_COLUMN_LENGTH), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
