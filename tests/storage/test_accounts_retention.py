"""Retention purge and erasure of a named person: the accounts part, the hook list, the audit events."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from storage import retention
from storage.accounts import create_user, sign_in
from storage.audit import Actor
from storage.db import read_session
from storage.models.accounts import (
    AuditEvent,
    LoginSession,
    SignInThrottle,
    UserAccount,
)
from storage.models.base import utcnow
from storage.permissions import PermissionDenied
from storage.retention import (
    RetentionError,
    RetentionHook,
    erase_person,
    purge_expired,
    retention_days,
)
from storage.security import pseudonym_candidates, pseudonym_keyring

PASSWORD = "plum orchard lantern 42"
KEYRING = pseudonym_keyring({"ROADMAP_PSEUDONYM_KEY": "r" * 40, "ROADMAP_PSEUDONYM_KEY_VERSION": "v2",
                             "ROADMAP_PSEUDONYM_RETIRED_KEYS": "v1:" + "q" * 40})


def count(engine, model) -> int:
    with read_session(engine) as session:
        return session.scalar(select(func.count()).select_from(model))


def test_retention_days_setting(monkeypatch) -> None:
    monkeypatch.delenv(retention.RETENTION_DAYS_ENV, raising=False)
    assert retention_days() == 365
    monkeypatch.setenv(retention.RETENTION_DAYS_ENV, "90")
    assert retention_days() == 90 and retention_days(30) == 30
    monkeypatch.setenv(retention.RETENTION_DAYS_ENV, "ninety")
    with pytest.raises(RetentionError, match="whole number of days"):
        retention_days()
    with pytest.raises(RetentionError, match="at least 1 day"):
        retention_days(0)


def test_purge_removes_ended_sessions_and_stale_counters_only(engine) -> None:
    create_user(engine, "alice", "lead", password=PASSWORD)
    long_ago = utcnow() - timedelta(days=40)
    sign_in(engine, "alice", PASSWORD, now=long_ago)  # expired 39 days ago
    sign_in(engine, "alice", PASSWORD)  # current
    with pytest.raises(Exception):  # noqa: B017 - SignInRefused
        sign_in(engine, "ghost", "wrong password here", now=long_ago)
    counts = purge_expired(engine, 30)
    assert counts["accounts"] == 2
    assert count(engine, LoginSession) == 1 and count(engine, SignInThrottle) == 0
    with read_session(engine) as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "retention_purge"))
    assert event.details == {"days": 30, "rows": counts} and event.actor == "system"


def test_hooks_run_in_the_purge_and_erasure_transaction(engine, monkeypatch) -> None:
    seen = {}
    hook = RetentionHook("test_feature", lambda session, cutoff: seen.setdefault("cutoff", cutoff) and 3,
                         lambda session, subject: seen.setdefault("subject", subject) and 1)
    # Register the features' own hooks first, so replacing the list for this test cannot lose them.
    monkeypatch.setattr(retention, "RETENTION_HOOKS", [*retention.registered_hooks(), hook])
    now = utcnow()
    assert purge_expired(engine, 10, now=now)["test_feature"] == 3
    assert seen["cutoff"] == now - timedelta(days=10)
    account = create_user(engine, "bob", "respondent", password=PASSWORD, email="bob@nhs.net")
    counts = erase_person(engine, "BOB@nhs.net", keyring=KEYRING)
    assert (counts["accounts"], counts["test_feature"]) == (1, 1)
    subject = seen["subject"]
    assert subject.account_id == account.id
    assert subject.identifiers == (f"user:{account.id}", "bob", "bob@nhs.net")
    # Every identifier under every key version (v2 current, v1 retired).
    assert set(pseudonym_candidates(f"user:{account.id}", KEYRING)) <= set(subject.pseudonyms)
    assert {p.split(":")[0] for p in subject.pseudonyms} == {"v1", "v2"}


def test_erasure_anonymises_the_account_and_keeps_only_the_event(engine) -> None:
    account = create_user(engine, "carol", "respondent", password=PASSWORD, email="carol@nhs.net", display_name="Carol Example")
    sign_in(engine, "carol", PASSWORD)
    admin = Actor("user:1", "admin")
    erase_person(engine, "carol", keyring=KEYRING, actor=admin)
    with read_session(engine) as session:
        row = session.get(UserAccount, account.id)
        events = list(session.scalars(select(AuditEvent).where(AuditEvent.action.in_(["user_erase", "response_erase"])).order_by(AuditEvent.id)))
    assert (row.username, row.email, row.display_name, row.password_hash, row.role, row.active) == (f"erased-{account.id}", None, "", None, None, False)
    assert row.erased_at is not None and count(engine, LoginSession) == 0
    assert [(e.action, e.target) for e in events] == [("user_erase", f"user:{account.id}"), ("response_erase", f"user:{account.id}")]
    assert events[1].actor == "user:1" and events[1].details["key_versions"] == ["v1", "v2"]
    assert "carol" not in str([(e.target, e.details) for e in events]).lower()
    with pytest.raises(Exception, match="Wrong user name or password"):
        sign_in(engine, "carol", PASSWORD)


def test_erasure_of_someone_without_an_account_still_runs_the_hooks(engine) -> None:
    counts = erase_person(engine, "walk-in@nhs.net", keyring=KEYRING)
    assert counts["accounts"] == 0
    with read_session(engine) as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "response_erase"))
    assert event.target == "person"
    with pytest.raises(RetentionError, match="give the user name"):
        erase_person(engine, "  ", keyring=KEYRING)


def test_only_admins_purge_or_erase(engine) -> None:
    for role in ("respondent", "facilitator", "lead"):
        with pytest.raises(PermissionDenied):
            purge_expired(engine, 30, actor=Actor("user:5", role))
        with pytest.raises(PermissionDenied):
            erase_person(engine, "x", keyring=KEYRING, actor=Actor("user:5", role))
    assert purge_expired(engine, 30, actor=Actor("user:1", "admin"))["accounts"] == 0


def test_hook_names_are_codes() -> None:
    with pytest.raises(ValueError, match="lower-case"):
        RetentionHook("Survey Drafts", lambda s, c: 0, lambda s, x: 0)
