"""The append-only audit trail.

Every change worth answering for is recorded with :func:`record_audit` in the SAME
transaction as the change (pass the session of your ``write_session``), so a change without
its event, or an event for a change that was rolled back, cannot exist.

Events carry no personal data: ``target`` and ``details`` are checked to hold only
identifiers, codes and numbers (no spaces, no "@"), so a name, an e-mail address or a
respondent's free text is refused with :class:`AuditError` instead of being written.
Nothing in the application updates or deletes an event: the ORM refuses it here, and the
migration installs database triggers that refuse UPDATE and DELETE on ``audit_event``.
"""

from __future__ import annotations

import getpass
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import pandas as pd
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from storage.db import read_session
from storage.models.accounts import AuditEvent
from storage.models.base import utcnow
from storage.permissions import guarded

# The fixed vocabulary of actions, with what each records.
ACTIONS: dict[str, str] = {
    "sign_in_success": "a user signed in",
    "sign_in_failure": "a sign-in was refused (wrong password, locked, disabled or no role)",
    "sign_out": "a user signed out",
    "access_refused": "a page or data function was refused to the user's role",
    "catalogue_create": "a technology was added to the catalogue",
    "catalogue_update": "a catalogue technology was changed",
    "catalogue_delete": "a catalogue technology was deleted",
    "catalogue_import": "a catalogue file was imported",
    "vocabulary_update": "a vocabulary or the FDA panel crosswalk was edited",
    "instrument_create": "a survey instrument was published",
    "instrument_update": "a survey instrument was changed",
    "instrument_delete": "a survey instrument was deleted",
    "instrument_import": "a survey instrument was imported",
    "campaign_create": "a survey campaign was created",
    "campaign_update": "a survey campaign was changed",
    "campaign_close": "a survey campaign was closed",
    "response_submit": "a survey response was submitted",
    "response_import": "survey responses were imported",
    "response_delete": "a survey response was deleted (by its respondent, with the receipt code)",
    "response_erase": "a named respondent's data was erased by an administrator",
    "workshop_create": "a workshop was created",
    "workshop_update": "a workshop was changed",
    "workshop_delete": "a workshop was deleted",
    "round_open": "a workshop round was opened",
    "round_close": "a workshop round was closed",
    "case_study_create": "a case study was written",
    "case_study_update": "a case study was changed",
    "case_study_delete": "a case study was deleted",
    "export": "data was exported to a file (command line or server side)",
    "download": "a file was downloaded from the web app",
    "role_change": "a user's role was changed",
    "user_create": "a user account was created",
    "user_disable": "a user account was disabled",
    "user_enable": "a disabled user account was enabled again (any sign-in lockout lifted)",
    "password_reset": "an administrator set a new password for a user (lockout lifted, sessions ended)",
    "password_change": "a user changed their own password (their other sessions ended)",
    "user_erase": "a user account's personal data was erased",
    "retention_purge": "old drafts, raw free text and expired sessions were purged",
}
OUTCOMES = ("success", "refused", "failure")
SYSTEM_ROLE = "system"
ANONYMOUS_ROLE = "anonymous"
AUDIT_COLUMNS = ["event_id", "occurred_at", "actor", "role", "action", "target", "outcome", "details"]

# Identifiers and codes only: letters, digits and _ . : / + - (no spaces, no "@").
_SAFE_TEXT = re.compile(r"^[A-Za-z0-9_.:/+\-]*$")
_DETAIL_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_MAX_DETAIL_TEXT = 120
_MAX_DETAIL_ITEMS = 50


class AuditError(ValueError):
    """An audit event was refused (unknown action, or text that could be personal data)."""


class AuditAppendOnly(RuntimeError):
    """Something tried to change or delete an audit event."""


class ActorLike(Protocol):
    user_id: str
    role: str


@dataclass(frozen=True)
class Actor:
    """Who does something: an identifier (never a name or e-mail) and the role acted in.

    ``trusted`` marks the command-line operator and internal jobs: they already hold the
    database, so role checks are skipped for them (their actions are still audited).
    """

    user_id: str
    role: str
    trusted: bool = field(default=False, compare=False)


SYSTEM_ACTOR = Actor("system", SYSTEM_ROLE, trusted=True)


def cli_actor() -> Actor:
    """The operator at the command line: "cli:<os user>", acting as an administrator."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Actor(f"cli:{re.sub(r'[^A-Za-z0-9_.-]', '_', user)[:100]}", "admin", trusted=True)


def _check_text(value: str, what: str, limit: int) -> str:
    if len(value) > limit:
        raise AuditError(f"{what} is longer than {limit} characters")
    if not _SAFE_TEXT.fullmatch(value):
        raise AuditError(f"{what} {value[:40]!r} must be an identifier or code (letters, digits, _ . : / + -): "
                         "audit events never hold names, e-mail addresses or free text")
    return value


def _check_detail_value(key: str, value: Any, *, nested: bool = False) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return _check_text(value, f"detail {key!r}", _MAX_DETAIL_TEXT)
    if isinstance(value, Sequence) and not nested:
        if len(value) > _MAX_DETAIL_ITEMS:
            raise AuditError(f"detail {key!r} has more than {_MAX_DETAIL_ITEMS} items")
        return [_check_detail_value(key, item, nested=True) for item in value]
    if isinstance(value, Mapping) and not nested:
        return _check_details(value, prefix=f"{key}.")
    raise AuditError(f"detail {key!r} must be a number, flag, code, or a list or mapping of those")


def _check_details(details: Mapping[str, Any] | None, prefix: str = "") -> dict[str, Any]:
    checked: dict[str, Any] = {}
    for key, value in (details or {}).items():
        if not isinstance(key, str) or not _DETAIL_KEY.fullmatch(key):
            raise AuditError(f"detail key {prefix}{key!r} must be lower-case letters, digits and _")
        checked[key] = _check_detail_value(prefix + key, value, nested=bool(prefix))
    return checked


def record_audit(
    session: Session,
    actor: ActorLike | str | None,
    role: str | None,
    action: str,
    target: str = "",
    outcome: str = "success",
    details: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Add one audit event to ``session`` (the caller's transaction) and return it.

    ``actor`` is an :class:`Actor` (or anything with ``user_id`` and ``role``), an actor
    string such as ``"anonymous"``, or None for the system; ``role`` overrides the actor's
    role (None = the actor's own). ``target`` names what was acted on ("technology:12",
    "page:admin_users"); ``details`` holds codes and counts only.
    """
    if action not in ACTIONS:
        raise AuditError(f"unknown audit action {action!r}; use one of: {', '.join(ACTIONS)}")
    if outcome not in OUTCOMES:
        raise AuditError(f"unknown audit outcome {outcome!r}; use one of: {', '.join(OUTCOMES)}")
    if actor is None:
        actor_id, actor_role = SYSTEM_ACTOR.user_id, SYSTEM_ACTOR.role
    elif isinstance(actor, str):
        actor_id, actor_role = actor, ANONYMOUS_ROLE if actor == "anonymous" else SYSTEM_ROLE
    else:
        actor_id, actor_role = str(actor.user_id), str(actor.role)
    resolved_role = role or actor_role
    entry = AuditEvent(
        occurred_at=utcnow(),
        actor=_check_text(actor_id, "actor", 160) or "system",
        role=_check_text(resolved_role, "role", 20),
        action=action,
        target=_check_text(target, "target", 200),
        outcome=outcome,
        details=json.loads(json.dumps(_check_details(details))),
    )
    session.add(entry)
    return entry


@event.listens_for(AuditEvent, "before_update")
def _refuse_update(_mapper, _connection, _target) -> None:
    raise AuditAppendOnly("audit events are append-only: they cannot be changed")


@event.listens_for(AuditEvent, "before_delete")
def _refuse_delete(_mapper, _connection, _target) -> None:
    raise AuditAppendOnly("audit events are append-only: they cannot be deleted")


@dataclass(frozen=True)
class AuditFilter:
    """What the admin page and exports select; every field is optional."""

    since: datetime | None = None
    until: datetime | None = None
    actions: tuple[str, ...] = ()
    outcomes: tuple[str, ...] = ()
    actor: str = ""
    target_prefix: str = ""


@guarded("audit.read")
def audit_frame(engine: Engine, filters: AuditFilter = AuditFilter(), *, limit: int = 50_000, actor: ActorLike | None = None) -> pd.DataFrame:
    """Audit events matching ``filters``, newest first.

    Columns: event_id (int), occurred_at (datetime, UTC), actor, role, action, target,
    outcome (str), details (str: the JSON object, keys sorted). Refused unless ``actor`` may
    read the audit trail (None = trusted caller).
    """
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if filters.since is not None:
        query = query.where(AuditEvent.occurred_at >= filters.since)
    if filters.until is not None:
        query = query.where(AuditEvent.occurred_at < filters.until)
    if filters.actions:
        query = query.where(AuditEvent.action.in_(filters.actions))
    if filters.outcomes:
        query = query.where(AuditEvent.outcome.in_(filters.outcomes))
    if filters.actor:
        query = query.where(AuditEvent.actor == filters.actor)
    if filters.target_prefix:
        query = query.where(AuditEvent.target.startswith(filters.target_prefix, autoescape=True))
    with read_session(engine) as session:
        rows = [
            {"event_id": e.id, "occurred_at": e.occurred_at, "actor": e.actor, "role": e.role, "action": e.action,
             "target": e.target, "outcome": e.outcome, "details": json.dumps(e.details or {}, sort_keys=True)}
            for e in session.scalars(query)
        ]
    frame = pd.DataFrame(rows, columns=AUDIT_COLUMNS)
    frame["event_id"] = frame["event_id"].astype("int64")
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"], utc=True)
    return frame
