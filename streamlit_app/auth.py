"""Who is using the app and in which role.

Pages ask :func:`current_identity` (or :func:`require_role`); how the answer is found:

1. The development role picker, only with ``ROADMAP_DEV_LOGIN=1`` AND a server bound to a
   loopback address, so it cannot be switched on by accident on a shared server.
2. Single sign-on (Streamlit's native OIDC: ``st.login()``, ``st.user``) when secrets.toml
   has an ``[auth]`` section. The identity's e-mail address maps to a local account, whose
   role an administrator grants; unknown addresses get an account without a role.
3. Otherwise local accounts: the sign-in form posts to a server route (``web_session.py``),
   which sets an HttpOnly session cookie; every run reads it from the browser's cookies and
   checks it against the database (only its digest is stored), so a reload, a new tab or another
   app process behind the proxy finds the same sign-in, and an ended session ends everywhere.

Refused pages and data functions are recorded in the audit trail.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from storage import accounts
from storage.audit import Actor, record_audit
from storage.db import write_session
from storage.security import configuration_problems
from storage.settings import env_flag
from streamlit_app.runtime import get_engine
from streamlit_app.web_session import CSRF_COOKIE, SESSION_COOKIE

ROLES = ("respondent", "facilitator", "lead", "admin")
ROLE_LABELS = {
    "respondent": "Respondent (clinician or staff)",
    "facilitator": "Workshop facilitator",
    "lead": "Lead / analyst",
    "admin": "Administrator",
}
LOOPBACK_ADDRESSES = {"127.0.0.1", "localhost", "::1"}
_DEV_ROLE_KEY = "dev_role"
# A reverse proxy (scripts/serve.sh's nginx) adds this header: the server is then reachable from
# elsewhere even though the app process itself listens on a loopback address.
_PROXY_HEADER = "X-Forwarded-For"
_SSO_RECORDED_KEY = "auth_sso_recorded"  # (email, signed in with a role?) once per browser session


@dataclass(frozen=True)
class Identity:
    user_id: str  # "user:<id>" for accounts, "dev-<role>" for the development sign-in
    display_name: str
    role: str
    method: str = "development"  # development | password | sso

    @property
    def actor(self) -> Actor:
        """Who acts, for storage functions' ``actor=`` and the audit trail."""
        return Actor(self.user_id, self.role)


def dev_login_enabled() -> bool:
    address = st.get_option("server.address")
    return env_flag("ROADMAP_DEV_LOGIN") and address in LOOPBACK_ADDRESSES and not _proxied()


def _proxied() -> bool:
    headers = st.context.headers
    return headers is not None and isinstance(headers.get(_PROXY_HEADER), str)


def browser_cookie(name: str) -> str | None:
    """A cookie the browser sent when it opened this session (None outside a browser session,
    e.g. under AppTest, whose context has no real cookies)."""
    cookies = st.context.cookies
    value = cookies.get(name) if cookies is not None else None
    return value if isinstance(value, str) and value else None


def session_token() -> str | None:
    """The local sign-in token from the HttpOnly session cookie (never shown to page scripts)."""
    return browser_cookie(SESSION_COOKIE)


def csrf_token() -> str | None:
    """The anti-forgery value the sign-in and sign-out forms must post back (see web_session)."""
    return browser_cookie(CSRF_COOKIE)


class _NoSecretsFile:
    """Which st.secrets object was last found to have no file. Without a file, Streamlit looks for
    one again on every access, under a lock every session shares: three times per page run that
    queued a room of participants behind each other. The check is repeated only when a secrets
    file has appeared since (an accelerator: the answer itself comes from the files)."""

    secrets: object = None


# Whether a secrets file exists is asked three times per page run; the answer is kept this long
# (an administrator adding a file is noticed within seconds), as the path checks were a
# measurable part of each run when a room joins at once.
SECRETS_FILES_RECHECK_SECONDS = 5.0
_secrets_files_seen: tuple[float, bool] = (float("-inf"), False)


def _secrets_files_exist() -> bool:
    global _secrets_files_seen
    checked_at, exists = _secrets_files_seen
    now = time.monotonic()
    if now - checked_at >= SECRETS_FILES_RECHECK_SECONDS:
        exists = any(Path(path).exists() for path in st.get_option("secrets.files"))
        _secrets_files_seen = (now, exists)
    return exists


def secrets_mapping() -> Mapping[str, Any] | None:
    """st.secrets, or None when there is no secrets file."""
    secrets = st.secrets
    if _NoSecretsFile.secrets is secrets and not _secrets_files_exist():
        return None
    try:
        list(secrets.keys())
    except FileNotFoundError:  # StreamlitSecretNotFoundError: no secrets.toml
        _NoSecretsFile.secrets = secrets
        return None
    return secrets


def auth_section() -> Mapping[str, Any] | None:
    """The ``[auth]`` section of secrets.toml (single sign-on configured), else None."""
    secrets = secrets_mapping()
    if secrets is None or "auth" not in secrets:
        return None
    section = secrets["auth"]
    return section if isinstance(section, Mapping) else None


def sso_configured() -> bool:
    return auth_section() is not None


def startup_problems() -> list[str]:
    """Why the app must not run (missing or default secrets); empty in development."""
    return configuration_problems(development=dev_login_enabled(), secrets=secrets_mapping(), auth_section=auth_section())


def sso_signed_in() -> bool:
    # st.user.is_logged_in raises without an [auth] section: only ask when it exists.
    return sso_configured() and bool(st.user.get("is_logged_in"))


def current_identity() -> Identity | None:
    if dev_login_enabled():
        role = st.session_state.get(_DEV_ROLE_KEY)
        if role in ROLES:
            return Identity(user_id=f"dev-{role}", display_name=f"Development {role}", role=role)
    if sso_configured():
        return _sso_identity()
    return _local_identity()


def _sso_identity() -> Identity | None:
    if not sso_signed_in():
        return None
    email = str(st.user.get("email") or "").strip().lower()
    if not email:
        return None
    engine = get_engine()
    recorded = st.session_state.get(_SSO_RECORDED_KEY)
    account = accounts.account_for_email(engine, email) if recorded and recorded[0] == email else None
    if account is None or (not recorded[1] and account.active and account.role is not None):
        # First run of this browser session (or a role was granted since): record the sign-in.
        account = accounts.single_sign_on(engine, email, str(st.user.get("name") or ""))
        st.session_state[_SSO_RECORDED_KEY] = (email, account.active and account.role is not None)
    if not account.active or account.role is None:
        return None
    return Identity(account.user_key, account.label, account.role, "sso")


def sso_account_without_access() -> accounts.Account | None:
    """The signed-in single sign-on account that has no role yet or is disabled (for the sign-in page)."""
    if not sso_signed_in():
        return None
    account = accounts.account_for_email(get_engine(), str(st.user.get("email") or ""))
    if account is not None and (not account.active or account.role is None):
        return account
    return None


def _local_identity() -> Identity | None:
    token = session_token()
    if not token:
        return None
    account = accounts.validate_session(get_engine(), token)
    if account is None:
        return None
    return Identity(account.user_key, account.label, account.role or "", "password")


def local_accounts_available() -> bool:
    return accounts.local_accounts_exist(get_engine())


def change_own_password(current: str, new: str) -> None:
    """Change the signed-in local account's password (this session stays signed in); raises
    accounts.AccountError with every problem."""
    accounts.change_own_password(get_engine(), session_token(), current, new)


def session_ended_notice() -> bool:
    """On the sign-in page (nobody is signed in): whether the browser still holds a session cookie,
    which therefore no longer signs in (it expired, or was ended by sign-out elsewhere, a password
    or role change, or disabling)."""
    return session_token() is not None


def dev_sign_in(role: str) -> None:
    if not dev_login_enabled():
        raise PermissionError("development sign-in is not enabled")
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    st.session_state[_DEV_ROLE_KEY] = role


def sign_out() -> None:
    """End the development or single sign-on sign-in of this browser session. (A local sign-in
    ends through the sign-out form, whose route revokes the session and clears its cookie.)"""
    st.session_state.pop(_DEV_ROLE_KEY, None)
    st.session_state.pop(_SSO_RECORDED_KEY, None)
    if sso_signed_in():
        st.logout()


def recheck_role(*allowed: str) -> None:
    """For auto-refreshing fragments, which do not rerun the entry script: when this browser
    session's sign-in has ended (or its role changed) since the page was drawn, rerun the whole
    app, which then asks for sign-in. Checked against the database like every full run."""
    identity = current_identity()
    if identity is None or identity.role not in allowed:
        st.rerun(scope="app")


def record_ui_event(action: str, target: str, details: Mapping[str, Any] | None = None, *, outcome: str = "success") -> None:
    """Audit something that happens only in the web app (a download, a refused page)."""
    identity = current_identity()
    with write_session(get_engine()) as session:
        record_audit(session, identity.actor if identity else "anonymous", None, action, target, outcome, details)


def _calling_page() -> str:
    frame = sys._getframe(2)
    return re.sub(r"[^A-Za-z0-9_.-]", "_", Path(frame.f_globals.get("__file__") or "page").stem)[:100]


def require_role(*allowed: str) -> Identity:
    """Stop the page unless the current user has one of ``allowed`` roles (the second check
    after the navigation, so a page reached by URL is still refused, and audited)."""
    identity = current_identity()
    if identity is None or identity.role not in allowed:
        st.error("You do not have access to this page.")
        record_ui_event("access_refused", f"page:{_calling_page()}", {"allowed": list(allowed)}, outcome="refused")
        st.stop()
    return identity
