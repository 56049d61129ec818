"""Data protection: purge old data after the retention period, and erase a named person's data.

Each feature that stores personal data appends a :class:`RetentionHook` to
:data:`RETENTION_HOOKS` (at import of its storage module) with two functions that work in
the caller's transaction:

- ``purge(session, cutoff) -> int``: delete drafts, blank raw free text and remove other
  personal data last changed before ``cutoff`` (UTC); return the number of rows affected.
- ``erase(session, subject) -> int``: delete or anonymise everything belonging to the
  :class:`ErasureSubject` (their account key and their pseudonyms under every key version);
  return the number of rows affected.

:func:`purge_expired` and :func:`erase_person` run every hook in ONE transaction with one
audit event (``retention_purge`` / ``response_erase``) that keeps the counts, not the data.
The accounts part is registered here; the survey and workshop features register theirs.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, or_, select
from sqlalchemy.orm import Session

from storage.accounts import normalise_username
from storage.audit import record_audit
from storage.db import write_session
from storage.models.accounts import LoginSession, SignInThrottle, UserAccount
from storage.models.base import utcnow
from storage.permissions import guarded
from storage.security import PseudonymKeyRing, pseudonym_candidates

RETENTION_DAYS_ENV = "ROADMAP_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 365
MIN_RETENTION_DAYS = 1
_HOOK_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True)
class ErasureSubject:
    """Whose data to erase. ``identifiers`` are the raw identifiers the person may have been
    pseudonymised from (account key, user name, e-mail); ``pseudonyms`` are their pseudonyms
    under every configured key version, for the ``respondent`` purpose."""

    account_id: int | None
    identifiers: tuple[str, ...]
    pseudonyms: tuple[str, ...]


@dataclass(frozen=True)
class RetentionHook:
    name: str
    purge: Callable[[Session, datetime], int]
    erase: Callable[[Session, ErasureSubject], int]

    def __post_init__(self) -> None:
        if not _HOOK_NAME.fullmatch(self.name):
            raise ValueError(f"retention hook name {self.name!r} must be lower-case letters, digits and _")


class RetentionError(ValueError):
    pass


def retention_days(explicit: int | None = None) -> int:
    """Days to keep drafts and raw free text: ``explicit``, else ``ROADMAP_RETENTION_DAYS``, else 365."""
    if explicit is None:
        raw = os.environ.get(RETENTION_DAYS_ENV, "").strip()
        if not raw:
            return DEFAULT_RETENTION_DAYS
        if not raw.isdigit():
            raise RetentionError(f"{RETENTION_DAYS_ENV} must be a whole number of days (got {raw[:20]!r})")
        explicit = int(raw)
    if explicit < MIN_RETENTION_DAYS:
        raise RetentionError(f"the retention period must be at least {MIN_RETENTION_DAYS} day")
    return explicit


def _purge_accounts(session: Session, cutoff: datetime) -> int:
    """Ended login sessions and stale failure counters (no longer needed for lockout)."""
    sessions = session.execute(
        delete(LoginSession).where(or_(LoginSession.expires_at < cutoff, LoginSession.revoked_at < cutoff))
    ).rowcount
    throttles = session.execute(delete(SignInThrottle).where(SignInThrottle.last_failure_at < cutoff)).rowcount
    return (sessions or 0) + (throttles or 0)


def _erase_account(session: Session, subject: ErasureSubject) -> int:
    """Anonymise the account row (kept so audit events naming user:<id> still resolve)."""
    if subject.account_id is None:
        return 0
    row = session.get(UserAccount, subject.account_id)
    if row is None or row.erased_at is not None:
        return 0
    session.execute(delete(SignInThrottle).where(SignInThrottle.username == row.username))
    session.execute(delete(LoginSession).where(LoginSession.user_id == row.id))
    row.username = f"erased-{row.id}"
    row.display_name = ""
    row.email = None
    row.password_hash = None
    row.role = None
    row.active = False
    row.erased_at = utcnow()
    record_audit(session, None, None, "user_erase", f"user:{row.id}", "success")
    return 1


# Features append their hooks here (see the module docstring).
RETENTION_HOOKS: list[RetentionHook] = [RetentionHook("accounts", _purge_accounts, _erase_account)]
# Storage modules that register hooks when imported; imported before every purge or erasure
# so the command line and the app see the same hooks.
HOOK_MODULES = ("storage.surveys", "storage.workshops")


def registered_hooks() -> list[RetentionHook]:
    for module in HOOK_MODULES:
        importlib.import_module(module)
    return list(RETENTION_HOOKS)


@guarded("settings.manage")
def purge_expired(engine: Engine, days: int | None = None, *, now: datetime | None = None, actor: Any = None) -> dict[str, int]:
    """Run every hook's purge for data older than the retention period; returns rows per hook."""
    period = retention_days(days)
    cutoff = (now or utcnow()) - timedelta(days=period)
    with write_session(engine) as session:
        counts = {hook.name: int(hook.purge(session, cutoff)) for hook in registered_hooks()}
        record_audit(session, actor, None, "retention_purge", "retention", "success", {"days": period, "rows": counts})
    return counts


@guarded("settings.manage")
def erase_person(engine: Engine, person: str, *, keyring: PseudonymKeyRing, actor: Any = None) -> dict[str, int]:
    """Erase a named person's data: ``person`` is a user name or e-mail address. Their
    pseudonyms are computed under every key in ``keyring`` so data stored before a key
    rotation is found too. Returns rows affected per hook. The audit event records the
    account key (if any) and the counts, never the name."""
    name = normalise_username(person)
    if not name:
        raise RetentionError("give the user name or e-mail address of the person to erase")
    with write_session(engine) as session:
        row = session.scalar(
            select(UserAccount).where(or_(UserAccount.username == name, UserAccount.email == name), UserAccount.erased_at.is_(None))
        )
        identifiers = [name]
        if row is not None:
            identifiers = [f"user:{row.id}", row.username] + ([row.email] if row.email else []) + [name]
        identifiers = list(dict.fromkeys(identifiers))
        pseudonyms = tuple(p for identifier in identifiers for p in pseudonym_candidates(identifier, keyring))
        subject = ErasureSubject(row.id if row is not None else None, tuple(identifiers), pseudonyms)
        counts = {hook.name: int(hook.erase(session, subject)) for hook in registered_hooks()}
        record_audit(session, actor, None, "response_erase", f"user:{row.id}" if row is not None else "person",
                     "success", {"rows": counts, "key_versions": sorted(keyring.keys)})
    return counts
