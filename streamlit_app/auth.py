"""Who is using the app and in which role.

Pages ask :func:`current_identity` (or :func:`require_role`); how the answer is found:

1. The development role picker, only with ``ROADMAP_DEV_LOGIN=1`` AND a server bound to a
   loopback address, so it cannot be switched on by accident on a shared server.
2. Single sign-on (Streamlit's native OIDC: ``st.login()``, ``st.user``) when secrets.toml
   has an ``[auth]`` section. The identity's e-mail address maps to a local account, whose
   role an administrator grants; unknown addresses get an account without a role.
3. Otherwise local accounts: user name and password, then a random session token kept in
   ``st.session_state`` (only its digest is stored) and validated on every run.

Refused pages and data functions are recorded in the audit trail.
"""

from __future__ import annotations

import re
import sys
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

ROLES = ("respondent", "facilitator", "lead", "admin")
ROLE_LABELS = {
    "respondent": "Respondent (clinician or staff)",
    "facilitator": "Workshop facilitator",
    "lead": "Lead / analyst",
    "admin": "Administrator",
}
LOOPBACK_ADDRESSES = {"127.0.0.1", "localhost", "::1"}
_DEV_ROLE_KEY = "dev_role"
_SESSION_TOKEN_KEY = "auth_session_token"
_SESSION_ENDED_KEY = "auth_session_ended"
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
    return env_flag("ROADMAP_DEV_LOGIN") and address in LOOPBACK_ADDRESSES


def secrets_mapping() -> Mapping[str, Any] | None:
    """st.secrets, or None when there is no secrets file."""
    try:
        list(st.secrets.keys())
    except FileNotFoundError:  # StreamlitSecretNotFoundError: no secrets.toml
        return None
    return st.secrets


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
    token = st.session_state.get(_SESSION_TOKEN_KEY)
    if not token:
        return None
    account = accounts.validate_session(get_engine(), token)
    if account is None:
        st.session_state.pop(_SESSION_TOKEN_KEY, None)
        st.session_state[_SESSION_ENDED_KEY] = True
        return None
    return Identity(account.user_key, account.label, account.role or "", "password")


def local_accounts_available() -> bool:
    return accounts.local_accounts_exist(get_engine())


def local_sign_in(username: str, password: str) -> Identity:
    """Check the password and keep the new session token; raises accounts.SignInRefused."""
    signed_in = accounts.sign_in(get_engine(), username, password)
    st.session_state[_SESSION_TOKEN_KEY] = signed_in.token
    st.session_state.pop(_SESSION_ENDED_KEY, None)
    account = signed_in.account
    return Identity(account.user_key, account.label, account.role or "", "password")


def change_own_password(current: str, new: str) -> None:
    """Change the signed-in local account's password (this session stays signed in); raises
    accounts.AccountError with every problem."""
    accounts.change_own_password(get_engine(), st.session_state.get(_SESSION_TOKEN_KEY), current, new)


def session_ended_notice() -> bool:
    """True once after a local session expired or was ended elsewhere."""
    return bool(st.session_state.pop(_SESSION_ENDED_KEY, False))


def dev_sign_in(role: str) -> None:
    if not dev_login_enabled():
        raise PermissionError("development sign-in is not enabled")
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    st.session_state[_DEV_ROLE_KEY] = role


def sign_out() -> None:
    """End whichever sign-in this browser session has (the local session is revoked in the database)."""
    st.session_state.pop(_DEV_ROLE_KEY, None)
    token = st.session_state.pop(_SESSION_TOKEN_KEY, None)
    if token:
        accounts.sign_out(get_engine(), token)
    st.session_state.pop(_SSO_RECORDED_KEY, None)
    if sso_signed_in():
        st.logout()


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
