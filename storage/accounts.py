"""User accounts: passwords, the password policy, lockout, login sessions and single sign-on users.

- Passwords: argon2id (argon2-cffi's defaults), re-hashed on sign-in when the parameters
  change. Policy: at least 12 characters, not the user name, not a common password.
- Lockout: 5 failed sign-ins in a row (within 15 minutes of each other) lock the user name
  for 15 minutes. Counted in the database per user name, including names that do not exist,
  so the answer does not reveal which accounts exist.
- Sessions: a random token kept by the browser session; only its SHA-256 digest is stored.
  A session ends after ``ROADMAP_SESSION_IDLE_HOURS`` (default 8) without use, 24 hours after
  sign-in whatever happens, at sign-out, or when the account is disabled.
- Single sign-on users are matched by e-mail address; an unknown address gets an account
  without a role, which an administrator must grant.

Every change is audited in its own transaction (sign-in success and failure, user creation,
role change, disabling and re-enabling, password resets and changes, erasure). Audit events name users only by ``user:<id>``.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pandas as pd
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.audit import record_audit
from storage.db import read_session, write_session
from storage.models.accounts import LoginSession, SignInThrottle, UserAccount
from storage.models.base import utcnow
from storage.permissions import ROLES, guarded

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
SESSION_ABSOLUTE_LIMIT = timedelta(hours=24)
DEFAULT_IDLE_HOURS = 8
IDLE_HOURS_ENV = "ROADMAP_SESSION_IDLE_HOURS"
# A session's last use is written at most this often, so checking a session is one read.
TOUCH_INTERVAL = timedelta(seconds=60)
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._@+\-]{2,253}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
ACCOUNT_COLUMNS = ["user_id", "username", "display_name", "email", "role", "active", "sign_in", "created_at", "last_sign_in_at"]

# Common passwords of policy length (and their obvious variants are caught by the
# lower-casing below). A short list on purpose: the length rule does most of the work.
COMMON_PASSWORDS = frozenset({
    "123456789012", "1234567890123", "12345678901234", "123456789abc", "1q2w3e4r5t6y", "1qaz2wsx3edc",
    "qwertyuiop12", "qwertyuiopas", "qwerty123456", "qwertyqwerty", "asdfghjkl123", "zxcvbnm12345",
    "password1234", "password12345", "password123!", "passw0rd1234", "passwordpassword", "password!234",
    "iloveyou1234", "letmein12345", "welcome12345", "welcome123456", "changeme1234", "administrator",
    "admin1234567", "adminadmin12", "nhspassword1", "nhspassword123", "hospital1234", "monkey123456",
    "football1234", "sunshine1234", "princess1234", "abcdefghijkl", "abc123abc123", "aaaaaaaaaaaa",
    "111111111111", "000000000000", "trustno1trustno1", "starwars1234", "dragon123456", "master123456",
    "summer202020", "winter202020", "spring2024!!", "autumn2024!!", "correcthorsebatterystaple",
})
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified when the user name is unknown, so a wrong name takes as long as a wrong password.
    Made on first use: hashing costs half a second, which every command importing this module paid."""
    return _hasher.hash("not a real password; equalises sign-in timing")


class AccountError(ValueError):
    """A request about accounts was refused; ``problems`` lists every reason."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


class SignInRefused(Exception):
    """Sign-in refused. ``reason``: bad_credentials | locked | disabled | no_role."""

    MESSAGES: ClassVar[dict[str, str]] = {
        "bad_credentials": "Wrong user name or password.",
        "locked": "Too many failed attempts: this account is locked for 15 minutes.",
        "disabled": "This account is disabled. Ask an administrator.",
        "no_role": "Your account has no role yet. Ask an administrator to grant you one.",
    }

    def __init__(self, reason: str, locked_until: datetime | None = None):
        self.reason = reason
        self.locked_until = locked_until
        super().__init__(self.MESSAGES[reason])


@dataclass(frozen=True)
class Account:
    """A user account as the rest of the app sees it (never the password hash)."""

    id: int
    username: str
    display_name: str
    email: str | None
    role: str | None
    active: bool
    has_password: bool

    @property
    def user_key(self) -> str:
        """The stable identifier used everywhere else (audit actor, workshop owner, pseudonym input)."""
        return f"user:{self.id}"

    @property
    def label(self) -> str:
        return self.display_name or self.username


@dataclass(frozen=True)
class SignedIn:
    account: Account
    token: str  # give to the browser session; only its digest is stored


def _account(row: UserAccount) -> Account:
    return Account(row.id, row.username, row.display_name, row.email, row.role, row.active, row.password_hash is not None)


def as_utc(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes: they are UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def normalise_username(username: str) -> str:
    return str(username).strip().lower()


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def idle_limit() -> timedelta:
    raw = os.environ.get(IDLE_HOURS_ENV, "").strip()
    if not raw:
        return timedelta(hours=DEFAULT_IDLE_HOURS)
    try:
        hours = float(raw)
    except ValueError:
        raise AccountError([f"{IDLE_HOURS_ENV} must be a number of hours (got {raw[:20]!r})"]) from None
    if not 0 < hours <= 24:
        raise AccountError([f"{IDLE_HOURS_ENV} must be more than 0 and at most 24 hours"])
    return timedelta(hours=hours)


# ---------------------------------------------------------------------------------------------
# Passwords
# ---------------------------------------------------------------------------------------------

def password_problems(username: str, password: str) -> list[str]:
    """Every way ``password`` breaks the policy (empty when it is acceptable)."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(f"the password must have at most {MAX_PASSWORD_LENGTH} characters")
    lowered = password.strip().lower()
    name = normalise_username(username)
    if name and (lowered == name or lowered == name[::-1]):
        problems.append("the password must not be the user name")
    if lowered in COMMON_PASSWORDS:
        problems.append("the password is too common; choose a passphrase of several unrelated words")
    return problems


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# ---------------------------------------------------------------------------------------------
# Administration (guarded: users.manage)
# ---------------------------------------------------------------------------------------------

def _check_role(role: str | None, problems: list[str]) -> None:
    if role is not None and role not in ROLES:
        problems.append(f"role '{role}' is not one of {', '.join(ROLES)}")


def _find(session: Session, username: str) -> UserAccount:
    row = session.scalar(select(UserAccount).where(UserAccount.username == normalise_username(username)))
    if row is None or row.erased_at is not None:
        raise AccountError([f"no user named '{normalise_username(username)}'"])
    return row


@guarded("users.manage")
def create_user(engine: Engine, username: str, role: str | None, *, password: str | None = None, email: str | None = None,
                display_name: str = "", actor: Any = None) -> Account:
    """Create an account. Without a password it can only sign in by single sign-on (by ``email``)."""
    name = normalise_username(username)
    email_value = email.strip().lower() if email and email.strip() else None
    problems: list[str] = []
    if not USERNAME_PATTERN.fullmatch(name):
        problems.append("the user name must be 3-254 characters: lower-case letters, digits and . _ @ + - (starting with a letter or digit)")
    _check_role(role, problems)
    if email_value is not None and not EMAIL_PATTERN.fullmatch(email_value):
        problems.append(f"'{email_value}' is not an e-mail address")
    if password is None and email_value is None:
        problems.append("give a password (local sign-in) or an e-mail address (single sign-on)")
    if password is not None:
        problems.extend(password_problems(name, password))
    if len(display_name) > 200:
        problems.append("the display name must have at most 200 characters")
    if problems:
        raise AccountError(problems)
    try:
        with write_session(engine) as session:
            row = UserAccount(username=name, display_name=display_name.strip(), email=email_value, role=role,
                              password_hash=hash_password(password) if password is not None else None, active=True)
            session.add(row)
            session.flush()
            record_audit(session, actor, None, "user_create", f"user:{row.id}", "success",
                         {"role": role, "method": "password" if password is not None else "sso"})
            return _account(row)
    except IntegrityError:
        raise AccountError([f"a user named '{name}' or with that e-mail address already exists"]) from None


@guarded("users.manage")
def set_role(engine: Engine, username: str, role: str | None, *, actor: Any = None) -> Account:
    """Grant, change or (None) withdraw a user's role; their open sessions end."""
    problems: list[str] = []
    _check_role(role, problems)
    if problems:
        raise AccountError(problems)
    with write_session(engine) as session:
        row = _find(session, username)
        previous = row.role
        row.role = role
        _revoke_sessions(session, row.id)
        record_audit(session, actor, None, "role_change", f"user:{row.id}", "success", {"from_role": previous, "to_role": role})
        return _account(row)


@guarded("users.manage")
def disable_user(engine: Engine, username: str, *, actor: Any = None) -> Account:
    """Disable an account: it can no longer sign in and its sessions end."""
    with write_session(engine) as session:
        row = _find(session, username)
        if getattr(actor, "user_id", None) == f"user:{row.id}":
            raise AccountError(["you cannot disable your own account"])
        row.active = False
        _revoke_sessions(session, row.id)
        record_audit(session, actor, None, "user_disable", f"user:{row.id}", "success")
        return _account(row)


@guarded("users.manage")
def enable_user(engine: Engine, username: str, *, actor: Any = None) -> Account:
    """Re-enable a disabled account. Also lifts a sign-in lockout on its name, so an
    administrator can let a locked-out user straight back in."""
    with write_session(engine) as session:
        row = _find(session, username)
        was_active = bool(row.active)
        row.active = True
        _clear_lockout(session, row.username)
        record_audit(session, actor, None, "user_enable", f"user:{row.id}", "success", {"was_active": was_active})
        return _account(row)


@guarded("users.manage")
def reset_password(engine: Engine, username: str, password: str, *, actor: Any = None) -> Account:
    """An administrator sets a new password (the user forgot theirs): any lockout is lifted and
    the user's open sessions end. The policy applies as for a new account."""
    name = normalise_username(username)
    problems = password_problems(name, password)
    if problems:
        raise AccountError(problems)
    new_hash = hash_password(password)  # before the write transaction: hashing is deliberately slow
    with write_session(engine) as session:
        row = _find(session, name)
        had_password = row.password_hash is not None
        row.password_hash = new_hash
        _clear_lockout(session, row.username)
        _revoke_sessions(session, row.id)
        record_audit(session, actor, None, "password_reset", f"user:{row.id}", "success", {"had_password": had_password})
        return _account(row)


def change_own_password(engine: Engine, token: str | None, current: str, new: str) -> Account:
    """A signed-in user changes their own password, proving they know the current one. Their
    other sessions end; this one (``token``) stays signed in. Raises :class:`AccountError`."""
    account = validate_session(engine, token)
    if account is None or not account.has_password:
        raise AccountError(["only a signed-in account with a password can change it here"])
    with read_session(engine) as session:
        stored_hash = session.scalar(select(UserAccount.password_hash).where(UserAccount.id == account.id))
    if not verify_password(stored_hash, current):
        with write_session(engine) as session:
            actor = f"user:{account.id}"
            record_audit(session, actor, account.role, "password_change", actor, "refused", {"reason": "wrong_current_password"})
        raise AccountError(["the current password is wrong"])
    problems = password_problems(account.username, new)
    if new == current:
        problems.append("the new password must differ from the current one")
    if problems:
        raise AccountError(problems)
    new_hash = hash_password(new)
    with write_session(engine) as session:
        row = _find(session, account.username)
        row.password_hash = new_hash
        session.execute(update(LoginSession).where(LoginSession.user_id == row.id, LoginSession.revoked_at.is_(None),
                                                   LoginSession.token_hash != token_digest(token or "")).values(revoked_at=utcnow()))
        actor = f"user:{row.id}"
        record_audit(session, actor, row.role, "password_change", actor, "success")
        return _account(row)


def _clear_lockout(session: Session, username: str) -> None:
    throttle = session.get(SignInThrottle, username)
    if throttle is not None:
        session.delete(throttle)


@guarded("users.manage")
def list_users(engine: Engine, *, actor: Any = None) -> pd.DataFrame:
    """Every account (erased ones excluded). Columns: user_id (int), username, display_name,
    email (str or None), role (str or None), active (bool), sign_in ("password", "single sign-on"
    or "password + single sign-on"), created_at, last_sign_in_at (datetime UTC or NaT)."""
    with read_session(engine) as session:
        rows = session.scalars(select(UserAccount).where(UserAccount.erased_at.is_(None)).order_by(UserAccount.username)).all()
    frame = pd.DataFrame(
        [{"user_id": r.id, "username": r.username, "display_name": r.display_name, "email": r.email, "role": r.role,
          "active": bool(r.active), "sign_in": _sign_in_methods(r), "created_at": r.created_at, "last_sign_in_at": r.last_sign_in_at}
         for r in rows],
        columns=ACCOUNT_COLUMNS,
    )
    for column in ("created_at", "last_sign_in_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    for column in ("email", "role"):
        # Keep "not set" as None (pandas would turn it into NaN in a text column).
        frame[column] = pd.Series([getattr(r, column) for r in rows], index=frame.index, dtype=object)
    frame["user_id"] = frame["user_id"].astype("int64")
    frame["active"] = frame["active"].astype(bool)
    return frame


def _sign_in_methods(row: UserAccount) -> str:
    methods = [name for name, present in (("password", row.password_hash), ("single sign-on", row.email)) if present]
    return " + ".join(methods)


def get_account(engine: Engine, username: str) -> Account | None:
    with read_session(engine) as session:
        row = session.scalar(select(UserAccount).where(UserAccount.username == normalise_username(username)))
        return _account(row) if row is not None and row.erased_at is None else None


def local_accounts_exist(engine: Engine) -> bool:
    """Whether any active account can sign in with a password (the sign-in form is offered)."""
    with read_session(engine) as session:
        return bool(session.scalar(
            select(func.count()).select_from(UserAccount).where(UserAccount.password_hash.is_not(None), UserAccount.active.is_(True))
        ))


def _revoke_sessions(session: Session, user_id: int) -> None:
    session.execute(update(LoginSession).where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None)).values(revoked_at=utcnow()))


# ---------------------------------------------------------------------------------------------
# Local sign-in, lockout and sessions
# ---------------------------------------------------------------------------------------------

def sign_in(engine: Engine, username: str, password: str, *, now: datetime | None = None) -> SignedIn:
    """Check a user name and password; on success open a session and return its token.

    Raises :class:`SignInRefused`. Success and failure are audited and the failure counter
    updated in one transaction, committed before the refusal is raised.
    """
    now = now or utcnow()
    name = normalise_username(username)[:254]
    refusal: SignInRefused | None = None
    result: SignedIn | None = None
    with write_session(engine) as session:
        throttle = session.get(SignInThrottle, name)
        row = session.scalar(select(UserAccount).where(UserAccount.username == name, UserAccount.erased_at.is_(None)))
        actor = f"user:{row.id}" if row is not None else "anonymous"
        role = (row.role if row is not None else None) or "anonymous"
        locked_until = as_utc(throttle.locked_until) if throttle is not None else None
        if locked_until is not None and locked_until > now:
            refusal = SignInRefused("locked", locked_until)
        elif not verify_password(row.password_hash if row is not None else None, password):
            refusal = _count_failure(session, throttle, name, now)
        elif not row.active:
            refusal = SignInRefused("disabled")
        elif row.role is None:
            refusal = SignInRefused("no_role")
        if refusal is not None:
            record_audit(session, actor, role, "sign_in_failure", actor if row is not None else "", "refused",
                         {"method": "password", "reason": refusal.reason})
        else:
            if throttle is not None:
                session.delete(throttle)
            if _hasher.check_needs_rehash(row.password_hash):
                row.password_hash = hash_password(password)
            row.last_sign_in_at = now
            token = secrets.token_urlsafe(32)
            session.add(LoginSession(token_hash=token_digest(token), user_id=row.id, created_at=now, last_seen_at=now,
                                     expires_at=now + SESSION_ABSOLUTE_LIMIT))
            record_audit(session, actor, row.role, "sign_in_success", actor, "success", {"method": "password"})
            result = SignedIn(_account(row), token)
    if refusal is not None:
        raise refusal
    assert result is not None
    return result


@guarded("users.manage")
def locked_accounts(engine: Engine, *, now: datetime | None = None, actor: Any = None) -> pd.DataFrame:
    """Accounts that cannot sign in now: locked out after failed sign-ins (until ``locked_until``)
    or disabled by an administrator. Columns: username, role, reason ("locked out" | "disabled"),
    locked_until (datetime UTC, NaT when disabled). Locked-out names that belong to no account
    are left out (a mistyped name is no account to deal with)."""
    now = now or utcnow()
    with read_session(engine) as session:
        locked = session.execute(
            select(UserAccount.username, UserAccount.role, SignInThrottle.locked_until)
            .join(SignInThrottle, SignInThrottle.username == UserAccount.username)
            .where(UserAccount.erased_at.is_(None), SignInThrottle.locked_until.is_not(None))).all()
        disabled = session.execute(select(UserAccount.username, UserAccount.role).where(
            UserAccount.erased_at.is_(None), UserAccount.active.is_(False)).order_by(UserAccount.username)).all()
    rows = [{"username": name, "role": role, "reason": "locked out", "locked_until": as_utc(until)}
            for name, role, until in sorted(locked) if as_utc(until) > now]
    rows += [{"username": name, "role": role, "reason": "disabled", "locked_until": None} for name, role in disabled]
    frame = pd.DataFrame(rows, columns=["username", "role", "reason", "locked_until"])
    frame["locked_until"] = pd.to_datetime(frame["locked_until"], utc=True)
    return frame


def _count_failure(session: Session, throttle: SignInThrottle | None, name: str, now: datetime) -> SignInRefused:
    if throttle is None:
        throttle = SignInThrottle(username=name, failures=0)
        session.add(throttle)
    last = as_utc(throttle.last_failure_at)
    if last is None or now - last > LOCKOUT or throttle.locked_until is not None:
        # A served lockout or an old failure starts a fresh count.
        throttle.failures = 0
        throttle.locked_until = None
    throttle.failures += 1
    throttle.last_failure_at = now
    if throttle.failures >= MAX_FAILURES:
        throttle.locked_until = now + LOCKOUT
        return SignInRefused("locked", throttle.locked_until)
    return SignInRefused("bad_credentials")


def validate_session(engine: Engine, token: str | None, *, now: datetime | None = None) -> Account | None:
    """The account behind a session token, or None when the token is unknown, revoked, idle
    too long, past its absolute limit, or its account is disabled or without a role."""
    if not token:
        return None
    now = now or utcnow()
    with read_session(engine) as session:
        found = session.execute(
            select(LoginSession, UserAccount).join(UserAccount, UserAccount.id == LoginSession.user_id)
            .where(LoginSession.token_hash == token_digest(token))
        ).first()
    if found is None:
        return None
    login, row = found
    last_seen = as_utc(login.last_seen_at)
    if (login.revoked_at is not None or not row.active or row.role is None or row.erased_at is not None
            or now - last_seen > idle_limit() or now >= as_utc(login.expires_at)):
        return None
    if now - last_seen > TOUCH_INTERVAL:
        with write_session(engine) as session:
            session.execute(update(LoginSession).where(LoginSession.id == login.id).values(last_seen_at=now))
    return _account(row)


def sign_out(engine: Engine, token: str | None) -> None:
    """End the session of ``token`` (audited as sign_out); unknown tokens are ignored."""
    if not token:
        return
    with write_session(engine) as session:
        login = session.scalar(select(LoginSession).where(LoginSession.token_hash == token_digest(token)))
        if login is None or login.revoked_at is not None:
            return
        login.revoked_at = utcnow()
        user = session.get(UserAccount, login.user_id)
        record_audit(session, f"user:{login.user_id}", user.role if user and user.role else "anonymous", "sign_out",
                     f"user:{login.user_id}", "success", {"method": "password"})


# ---------------------------------------------------------------------------------------------
# Single sign-on (OIDC)
# ---------------------------------------------------------------------------------------------

def single_sign_on(engine: Engine, email: str, display_name: str = "", *, now: datetime | None = None) -> Account:
    """Record a single sign-on and return the matching account (created without a role on
    first sign-in). Call once per browser session. Audited: sign_in_success when the account
    is active with a role, else sign_in_failure (reason disabled or no_role)."""
    now = now or utcnow()
    address = str(email).strip().lower()
    if not EMAIL_PATTERN.fullmatch(address):
        raise AccountError(["the identity provider gave no usable e-mail address"])
    try:
        return _single_sign_on(engine, address, display_name, now)
    except IntegrityError:
        # Another tab created the account at the same moment: it exists now.
        return _single_sign_on(engine, address, display_name, now)


def _single_sign_on(engine: Engine, address: str, display_name: str, now: datetime) -> Account:
    with write_session(engine) as session:
        row = session.scalar(select(UserAccount).where(UserAccount.email == address, UserAccount.erased_at.is_(None)))
        if row is None:
            username = address if session.scalar(select(UserAccount.id).where(UserAccount.username == address)) is None else f"sso.{secrets.token_hex(4)}"
            row = UserAccount(username=username, display_name=display_name.strip()[:200], email=address, role=None, active=True)
            session.add(row)
            session.flush()
            record_audit(session, f"user:{row.id}", "anonymous", "user_create", f"user:{row.id}", "success", {"role": None, "method": "sso"})
        elif display_name.strip() and not row.display_name:
            row.display_name = display_name.strip()[:200]
        actor = f"user:{row.id}"
        reason = "disabled" if not row.active else ("no_role" if row.role is None else None)
        if reason is None:
            row.last_sign_in_at = now
            record_audit(session, actor, row.role, "sign_in_success", actor, "success", {"method": "sso"})
        else:
            record_audit(session, actor, row.role or "anonymous", "sign_in_failure", actor, "refused", {"method": "sso", "reason": reason})
        return _account(row)


def account_for_email(engine: Engine, email: str) -> Account | None:
    """The account a single sign-on identity maps to (one read per page run)."""
    with read_session(engine) as session:
        row = session.scalar(select(UserAccount).where(UserAccount.email == str(email).strip().lower(), UserAccount.erased_at.is_(None)))
        return _account(row) if row is not None else None
