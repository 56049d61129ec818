"""Who is using the app and in which role.

Everything asks :func:`current_identity`; the accounts work replaces how it is answered
without touching the pages. Until then the only way in is the development sign-in, which
needs BOTH ``ROADMAP_DEV_LOGIN=1`` and a server bound to a loopback address, so it cannot be
switched on by accident on a shared server.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from storage.settings import env_flag

ROLES = ("respondent", "facilitator", "lead", "admin")
ROLE_LABELS = {
    "respondent": "Respondent (clinician or staff)",
    "facilitator": "Workshop facilitator",
    "lead": "Lead / analyst",
    "admin": "Administrator",
}
LOOPBACK_ADDRESSES = {"127.0.0.1", "localhost", "::1"}
_DEV_ROLE_KEY = "dev_role"


@dataclass(frozen=True)
class Identity:
    user_id: str
    display_name: str
    role: str


def dev_login_enabled() -> bool:
    address = st.get_option("server.address")
    return env_flag("ROADMAP_DEV_LOGIN") and address in LOOPBACK_ADDRESSES


def current_identity() -> Identity | None:
    if dev_login_enabled():
        role = st.session_state.get(_DEV_ROLE_KEY)
        if role in ROLES:
            return Identity(user_id=f"dev-{role}", display_name=f"Development {role}", role=role)
    return None


def dev_sign_in(role: str) -> None:
    if not dev_login_enabled():
        raise PermissionError("development sign-in is not enabled")
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    st.session_state[_DEV_ROLE_KEY] = role


def sign_out() -> None:
    st.session_state.pop(_DEV_ROLE_KEY, None)


def require_role(*allowed: str) -> Identity:
    """Stop the page unless the current user has one of ``allowed`` roles (the second check
    after the navigation, so a page reached by URL is still refused)."""
    identity = current_identity()
    if identity is None or identity.role not in allowed:
        st.error("You do not have access to this page.")
        st.stop()
    return identity
