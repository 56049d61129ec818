"""Local accounts: password policy and hashing, user administration, sign-in, lockout, sessions, single sign-on."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from storage import accounts
from storage.accounts import (
    AccountError,
    SignInRefused,
    change_own_password,
    create_user,
    disable_user,
    enable_user,
    list_users,
    reset_password,
    set_role,
    sign_in,
    validate_session,
)
from storage.audit import Actor
from storage.db import read_session, write_session
from storage.models.accounts import (
    AuditEvent,
    LoginSession,
    SignInThrottle,
    UserAccount,
)
from storage.models.base import utcnow

PASSWORD = "plum orchard lantern 42"


def events(engine, action: str | None = None) -> list[AuditEvent]:
    with read_session(engine) as session:
        query = select(AuditEvent).order_by(AuditEvent.id)
        if action:
            query = query.where(AuditEvent.action == action)
        return list(session.scalars(query))


@pytest.fixture
def alice(engine):
    return create_user(engine, "Alice", "lead", password=PASSWORD, display_name="Alice Example")


# --- policy and hashing ----------------------------------------------------------------------

@pytest.mark.parametrize(("username", "password", "expected"), [
    ("alice", "short pass", ["the password must have at least 12 characters"]),
    ("alice.smith.x", "Alice.Smith.X", ["the password must not be the user name"]),
    ("bob", "Password1234", ["the password is too common; choose a passphrase of several unrelated words"]),
    ("bob", "abc", ["the password must have at least 12 characters"]),
    ("bob", "plum orchard lantern 42", []),
    ("bob", "x" * 1025, ["the password must have at most 1024 characters"]),
])
def test_password_policy(username: str, password: str, expected: list[str]) -> None:
    problems = accounts.password_problems(username, password)
    assert problems == expected


def test_passwords_are_stored_as_salted_argon2id_hashes(engine, alice) -> None:
    with read_session(engine) as session:
        stored = session.get(UserAccount, alice.id).password_hash
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert accounts.hash_password(PASSWORD) != accounts.hash_password(PASSWORD)  # salted
    assert accounts.verify_password(stored, PASSWORD)
    assert not accounts.verify_password(stored, PASSWORD + "x")
    assert not accounts.verify_password(None, PASSWORD)
    assert not accounts.verify_password("not a hash", PASSWORD)


# --- administration --------------------------------------------------------------------------

def test_create_user_normalises_and_audits_without_personal_data(engine, alice) -> None:
    assert alice.username == "alice" and alice.role == "lead" and alice.user_key == f"user:{alice.id}"
    [event] = events(engine, "user_create")
    assert (event.actor, event.role, event.target, event.outcome) == ("system", "system", f"user:{alice.id}", "success")
    assert event.details == {"role": "lead", "method": "password"}
    assert "Alice" not in repr(event.details) and "alice" not in event.target


def test_create_user_lists_every_problem(engine) -> None:
    with pytest.raises(AccountError) as error:
        create_user(engine, "x", "chief", password="short", email="not-an-email")
    assert error.value.problems == [
        "the user name must be 3-254 characters: lower-case letters, digits and . _ @ + - (starting with a letter or digit)",
        "role 'chief' is not one of respondent, facilitator, lead, admin",
        "'not-an-email' is not an e-mail address",
        "the password must have at least 12 characters",
    ]
    with pytest.raises(AccountError, match="give a password"):
        create_user(engine, "nobody", "lead")


def test_duplicate_user_names_and_emails_are_refused(engine, alice) -> None:
    with pytest.raises(AccountError, match="already exists"):
        create_user(engine, "ALICE", "admin", password=PASSWORD + "!")
    create_user(engine, "sso.user", None, email="Someone@NHS.net")
    with pytest.raises(AccountError, match="already exists"):
        create_user(engine, "other", None, email="someone@nhs.net")


def test_list_users_frame(engine, alice) -> None:
    create_user(engine, "carol@nhs.net", None, email="carol@nhs.net")
    frame = list_users(engine)
    assert list(frame.columns) == accounts.ACCOUNT_COLUMNS
    assert frame["username"].tolist() == ["alice", "carol@nhs.net"]
    assert frame["role"].tolist() == ["lead", None]
    assert frame["email"].tolist() == [None, "carol@nhs.net"]
    assert frame["sign_in"].tolist() == ["password", "single sign-on"]
    assert str(frame["created_at"].dt.tz) == "UTC"


def test_role_change_and_disable_end_sessions_and_are_audited(engine, alice) -> None:
    token = sign_in(engine, "alice", PASSWORD).token
    assert validate_session(engine, token).role == "lead"
    admin = Actor("user:99", "admin")
    set_role(engine, "alice", "facilitator", actor=admin)
    assert validate_session(engine, token) is None, "a role change ends open sessions"
    token = sign_in(engine, "alice", PASSWORD).token
    disable_user(engine, "alice", actor=admin)
    assert validate_session(engine, token) is None
    with pytest.raises(SignInRefused) as refused:
        sign_in(engine, "alice", PASSWORD)
    assert refused.value.reason == "disabled"
    [change] = events(engine, "role_change")
    assert (change.actor, change.role, change.details) == ("user:99", "admin", {"from_role": "lead", "to_role": "facilitator"})
    [disabled] = events(engine, "user_disable")
    assert disabled.target == f"user:{alice.id}"


def test_an_admin_cannot_disable_their_own_account(engine, alice) -> None:
    with pytest.raises(AccountError, match="your own account"):
        disable_user(engine, "alice", actor=Actor(alice.user_key, "admin"))



def lock_out(engine, name: str = "alice") -> None:
    for _ in range(accounts.MAX_FAILURES):
        with pytest.raises(SignInRefused):
            sign_in(engine, name, "wrong password here")


def test_an_admin_resets_a_forgotten_password_lifting_the_lockout_and_ending_sessions(engine, alice) -> None:
    old_session = sign_in(engine, "alice", PASSWORD).token
    lock_out(engine)
    with pytest.raises(SignInRefused) as refused:
        sign_in(engine, "alice", PASSWORD)
    assert refused.value.reason == "locked"
    admin = Actor("user:99", "admin")
    with pytest.raises(AccountError) as weak:
        reset_password(engine, "alice", "alice", actor=admin)
    assert weak.value.problems == ["the password must have at least 12 characters", "the password must not be the user name"]
    with pytest.raises(AccountError, match="no user named 'nobody'"):
        reset_password(engine, "nobody", "a brand new passphrase", actor=admin)
    reset_password(engine, " ALICE ", "a brand new passphrase", actor=admin)
    assert validate_session(engine, old_session) is None, "a reset ends the user's sessions"
    with pytest.raises(SignInRefused) as refused:
        sign_in(engine, "alice", PASSWORD)
    assert refused.value.reason == "bad_credentials", "the lockout is lifted and the old password no longer works"
    assert sign_in(engine, "alice", "a brand new passphrase").account.id == alice.id
    [event] = events(engine, "password_reset")
    assert (event.actor, event.target, event.details) == ("user:99", f"user:{alice.id}", {"had_password": True})
    with pytest.raises(PermissionError):
        reset_password(engine, "alice", "another new passphrase", actor=Actor("user:5", "lead"))


def test_an_admin_re_enables_a_disabled_account(engine, alice) -> None:
    admin = Actor("user:99", "admin")
    disable_user(engine, "alice", actor=admin)
    lock_out(engine)
    account = enable_user(engine, "alice", actor=admin)
    assert account.active
    assert sign_in(engine, "alice", PASSWORD).account.id == alice.id, "enabled, and the lockout is lifted"
    [event] = events(engine, "user_enable")
    assert (event.actor, event.target, event.details) == ("user:99", f"user:{alice.id}", {"was_active": False})
    with pytest.raises(PermissionError):
        enable_user(engine, "alice", actor=Actor("user:5", "facilitator"))


def test_a_user_changes_their_own_password_and_their_other_sessions_end(engine, alice) -> None:
    here = sign_in(engine, "alice", PASSWORD).token
    elsewhere = sign_in(engine, "alice", PASSWORD).token
    with pytest.raises(AccountError) as wrong:
        change_own_password(engine, here, "not my password", "a brand new passphrase")
    assert wrong.value.problems == ["the current password is wrong"]
    [refused] = events(engine, "password_change")
    assert (refused.actor, refused.outcome, refused.details) == (f"user:{alice.id}", "refused", {"reason": "wrong_current_password"})
    with pytest.raises(AccountError) as weak:
        change_own_password(engine, here, PASSWORD, PASSWORD)
    assert weak.value.problems == ["the new password must differ from the current one"]
    with pytest.raises(AccountError) as common:
        change_own_password(engine, here, PASSWORD, "password1234")
    assert common.value.problems == ["the password is too common; choose a passphrase of several unrelated words"]
    with pytest.raises(AccountError, match="only a signed-in account"):
        change_own_password(engine, "no such token", PASSWORD, "a brand new passphrase")
    change_own_password(engine, here, PASSWORD, "a brand new passphrase")
    assert validate_session(engine, here).id == alice.id, "this session stays signed in"
    assert validate_session(engine, elsewhere) is None, "the other sessions end"
    assert sign_in(engine, "alice", "a brand new passphrase").account.id == alice.id
    assert [e.outcome for e in events(engine, "password_change")] == ["refused", "success"]


def test_a_single_sign_on_account_has_no_password_to_change(engine) -> None:
    create_user(engine, "dana@nhs.net", "lead", email="dana@nhs.net")
    with read_session(engine) as session:
        user_id = session.scalar(select(UserAccount.id).where(UserAccount.username == "dana@nhs.net"))
    # A session row as if the account had signed in (single sign-on keeps no local session; be safe anyway).
    with write_session(engine) as session:
        session.add(LoginSession(token_hash=accounts.token_digest("sso-token"), user_id=user_id, created_at=utcnow(),
                                 last_seen_at=utcnow(), expires_at=utcnow() + timedelta(hours=1)))
    with pytest.raises(AccountError, match="only a signed-in account with a password"):
        change_own_password(engine, "sso-token", "", "a brand new passphrase")


# --- sign-in and lockout ---------------------------------------------------------------------

def test_sign_in_success_opens_a_hashed_session(engine, alice) -> None:
    signed_in = sign_in(engine, " ALICE ", PASSWORD)
    assert signed_in.account.id == alice.id and len(signed_in.token) >= 40
    with read_session(engine) as session:
        login = session.scalar(select(LoginSession))
    assert login.token_hash == accounts.token_digest(signed_in.token) and signed_in.token not in login.token_hash
    [event] = events(engine, "sign_in_success")
    assert (event.actor, event.role, event.details) == (f"user:{alice.id}", "lead", {"method": "password"})


def test_wrong_password_and_unknown_user_get_the_same_answer(engine, alice) -> None:
    for name in ("alice", "mallory"):
        with pytest.raises(SignInRefused) as refused:
            sign_in(engine, name, "wrong password here")
        assert refused.value.reason == "bad_credentials" and str(refused.value) == "Wrong user name or password."
    failures = events(engine, "sign_in_failure")
    assert [(e.actor, e.outcome, e.details["reason"]) for e in failures] == [
        (f"user:{alice.id}", "refused", "bad_credentials"), ("anonymous", "refused", "bad_credentials")]
    assert all("mallory" not in (e.target + str(e.details)) for e in failures)


def test_lockout_after_five_failures_for_fifteen_minutes(engine, alice) -> None:
    start = utcnow()
    reasons = []
    for attempt in range(5):
        with pytest.raises(SignInRefused) as refused:
            sign_in(engine, "alice", "wrong password here", now=start + timedelta(seconds=attempt))
        reasons.append(refused.value.reason)
    assert reasons == ["bad_credentials"] * 4 + ["locked"]
    # Locked: even the right password is refused, and the counter lives in the database.
    with pytest.raises(SignInRefused) as refused:
        sign_in(engine, "alice", PASSWORD, now=start + timedelta(minutes=14))
    assert refused.value.reason == "locked"
    with read_session(engine) as session:
        throttle = session.get(SignInThrottle, "alice")
    assert throttle.failures == 5
    # After 15 minutes the right password works and clears the counter.
    assert sign_in(engine, "alice", PASSWORD, now=start + timedelta(minutes=15, seconds=5)).account.id == alice.id
    with read_session(engine) as session:
        assert session.get(SignInThrottle, "alice") is None


def test_failures_far_apart_do_not_lock(engine, alice) -> None:
    start = utcnow()
    for attempt in range(6):
        with pytest.raises(SignInRefused) as refused:
            sign_in(engine, "alice", "wrong password here", now=start + timedelta(minutes=16 * attempt))
        assert refused.value.reason == "bad_credentials"


def test_unknown_user_names_are_locked_too(engine) -> None:
    start = utcnow()
    for attempt in range(5):
        with pytest.raises(SignInRefused):
            sign_in(engine, "ghost", "wrong password here", now=start + timedelta(seconds=attempt))
    with pytest.raises(SignInRefused) as refused:
        sign_in(engine, "ghost", "wrong password here", now=start + timedelta(minutes=1))
    assert refused.value.reason == "locked"


def test_a_user_without_a_role_cannot_sign_in(engine) -> None:
    create_user(engine, "waiting", None, password=PASSWORD)
    with pytest.raises(SignInRefused) as refused:
        sign_in(engine, "waiting", PASSWORD)
    assert refused.value.reason == "no_role"


# --- sessions --------------------------------------------------------------------------------

def test_session_expires_after_idle_hours(engine, alice, monkeypatch) -> None:
    start = utcnow()
    token = sign_in(engine, "alice", PASSWORD, now=start).token
    assert validate_session(engine, token, now=start + timedelta(hours=7, minutes=59)) is not None
    # That use moved the idle clock: 8 hours after it, the session is still alive at 7:59 later.
    assert validate_session(engine, token, now=start + timedelta(hours=15, minutes=58)) is not None
    assert validate_session(engine, token, now=start + timedelta(hours=24, minutes=1)) is None
    monkeypatch.setenv(accounts.IDLE_HOURS_ENV, "1")
    token = sign_in(engine, "alice", PASSWORD, now=start).token
    assert validate_session(engine, token, now=start + timedelta(minutes=59)) is not None
    assert validate_session(engine, token, now=start + timedelta(hours=2)) is None


def test_session_has_an_absolute_limit_of_24_hours(engine, alice) -> None:
    start = utcnow()
    token = sign_in(engine, "alice", PASSWORD, now=start).token
    for hour in range(1, 24):
        assert validate_session(engine, token, now=start + timedelta(hours=hour)) is not None
    assert validate_session(engine, token, now=start + timedelta(hours=24)) is None


def test_sign_out_revokes_the_session(engine, alice) -> None:
    token = sign_in(engine, "alice", PASSWORD).token
    accounts.sign_out(engine, token)
    assert validate_session(engine, token) is None
    assert validate_session(engine, "forged-token") is None and validate_session(engine, None) is None
    [event] = events(engine, "sign_out")
    assert event.actor == f"user:{alice.id}"


def test_idle_limit_setting_is_validated(monkeypatch) -> None:
    monkeypatch.setenv(accounts.IDLE_HOURS_ENV, "forever")
    with pytest.raises(AccountError, match="number of hours"):
        accounts.idle_limit()
    monkeypatch.setenv(accounts.IDLE_HOURS_ENV, "48")
    with pytest.raises(AccountError, match="at most 24"):
        accounts.idle_limit()


# --- single sign-on --------------------------------------------------------------------------

def test_single_sign_on_creates_an_account_without_a_role_then_an_admin_grants_one(engine) -> None:
    account = accounts.single_sign_on(engine, "Dana@NHS.net", "Dana Example")
    assert (account.username, account.email, account.role, account.display_name) == ("dana@nhs.net", "dana@nhs.net", None, "Dana Example")
    created, refused = events(engine, "user_create")[0], events(engine, "sign_in_failure")[0]
    assert created.details == {"role": None, "method": "sso"}
    assert refused.details == {"method": "sso", "reason": "no_role"}
    set_role(engine, "dana@nhs.net", "facilitator")
    again = accounts.single_sign_on(engine, "dana@nhs.net", "Dana Example")
    assert again.id == account.id and again.role == "facilitator"
    [success] = events(engine, "sign_in_success")
    assert (success.actor, success.role, success.details) == (f"user:{account.id}", "facilitator", {"method": "sso"})
    assert accounts.account_for_email(engine, "DANA@nhs.net").role == "facilitator"


def test_single_sign_on_needs_an_email(engine) -> None:
    with pytest.raises(AccountError, match="no usable e-mail"):
        accounts.single_sign_on(engine, "", "Nobody")
