"""Accounts and the audit trail: users, login sessions, sign-in failure counters, audit events.

- Passwords are stored only as argon2id hashes; single sign-on users have no password.
- Login session tokens are stored only as SHA-256 digests, so a copy of the database does
  not let anyone take over a session.
- Failed sign-ins are counted in the database per (normalised) user name, so the lockout
  holds across server processes and restarts, and for names that do not exist.
- Audit events are append-only: the migration installs triggers that refuse UPDATE and
  DELETE, and :mod:`storage.audit` refuses them in the ORM too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base, TimestampMixin, utcnow

TOKEN_DIGEST_LENGTH = 64  # hex SHA-256
# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit key for the
# table that only ever grows.
AUDIT_ID_TYPE = BigInteger().with_variant(Integer(), "sqlite")


class UserAccount(TimestampMixin, Base):
    """A person who can sign in. ``role`` is None until an administrator grants one (single
    sign-on users are created on their first sign-in without a role)."""

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    # Lower-cased; how a single sign-on identity (st.user email) finds its account.
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    role: Mapped[str | None] = mapped_column(String(20))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_sign_in_at: Mapped[datetime | None] = mapped_column()
    # Set when an administrator erased the person's data: the row stays so audit events
    # that name "user:<id>" still resolve to "an erased account".
    erased_at: Mapped[datetime | None] = mapped_column()

    sessions: Mapped[list[LoginSession]] = relationship(back_populates="user", cascade="all, delete-orphan", passive_deletes=True)


class LoginSession(Base):
    """A local-account sign-in. Idle after ``idle_hours`` without use, and ends at ``expires_at``
    (absolute limit) or when the user signs out (``revoked_at``)."""

    __tablename__ = "login_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(TOKEN_DIGEST_LENGTH), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()

    user: Mapped[UserAccount] = relationship(back_populates="sessions")


class SignInThrottle(Base):
    """Consecutive failed sign-ins for one user name (existing or not) and any lockout."""

    __tablename__ = "sign_in_throttle"

    username: Mapped[str] = mapped_column(String(254), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime | None] = mapped_column()
    locked_until: Mapped[datetime | None] = mapped_column()


class AuditEvent(Base):
    """One event of the append-only audit trail. ``details`` never holds personal data."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(AUDIT_ID_TYPE, primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # "user:<id>", "dev-<role>", "cli:<os user>", "anonymous", "system" or a pseudonym.
    actor: Mapped[str] = mapped_column(String(160), index=True)
    role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(40), index=True)
    target: Mapped[str] = mapped_column(String(200), default="")
    outcome: Mapped[str] = mapped_column(String(10))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
