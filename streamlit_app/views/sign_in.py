"""Sign-in page, the configuration refusal page, and the signed-in user box in the sidebar."""

from __future__ import annotations

import sys

import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitAuthError

from storage.accounts import SignInRefused
from streamlit_app.auth import (
    ROLE_LABELS,
    ROLES,
    Identity,
    dev_login_enabled,
    dev_sign_in,
    local_accounts_available,
    local_sign_in,
    session_ended_notice,
    sign_out,
    sso_account_without_access,
    sso_configured,
)
from streamlit_app.navigation import PageSpec, page_spec
from streamlit_app.widgets import md_escape

WANTED_PAGE_KEY = "sign_in_wanted_page"  # the page a followed link asked for, until signed in

NO_METHOD_MESSAGE = (
    "No sign-in method is configured on this server. An administrator must configure single sign-on or create "
    "an account (`roadmap user add NAME --role admin`, see docs/security.md), or run locally with the development sign-in."
)


def render_configuration_refusal(problems: list[str]) -> None:
    """Shown instead of the app while a required secret is missing or unsafe."""
    st.title("AI Workforce Roadmap")
    st.error("This server is not configured safely, so the app will not start. An administrator must fix "
             "the following (see docs/security.md), then restart it:")
    st.dataframe(pd.DataFrame({"problem": problems}), hide_index=True, width="stretch")
    if not sso_configured() and not dev_login_enabled():
        st.warning(NO_METHOD_MESSAGE)


def render_sign_in(wanted: PageSpec | None = None) -> None:
    """The sign-in page; ``wanted`` is the page a followed link asked for (see app.py)."""
    st.title("AI Workforce Roadmap")
    st.write("A living map of AI technologies in health services and their effect on the workforce.")
    if session_ended_notice():
        st.info("Your session has ended. Please sign in again.")
    if wanted is not None:
        st.session_state[WANTED_PAGE_KEY] = wanted.url_path
        st.info(f"Sign in to open *{wanted.title}*.", icon=":material/lock:")
    offered = False
    if sso_configured():
        offered = True
        _single_sign_on()
    elif local_accounts_available():
        offered = True
        _local_form()
    if dev_login_enabled():
        offered = True
        _development_picker()
    if not offered:
        st.warning(NO_METHOD_MESSAGE)


def _single_sign_on() -> None:
    waiting = sso_account_without_access()
    if waiting is not None:
        if waiting.active:
            st.warning("You are signed in with your organisation account, but it has no role in this app yet. "
                       "Ask an administrator to grant you one, then reload this page.")
        else:
            st.error("Your account is disabled. Ask an administrator.")
        if st.button("Sign out", key="sso_sign_out"):
            sign_out()
        return
    st.write("Sign in with your organisation account.")
    if st.button("Sign in with your organisation account", type="primary", key="sso_sign_in"):
        try:
            st.login()
        except StreamlitAuthError as error:
            # Typically Authlib missing or an incomplete [auth] section: say so instead of a traceback.
            print(f"single sign-on is misconfigured: {error}", file=sys.stderr)
            st.error("Single sign-on is not set up correctly on this server (see docs/security.md). "
                     "An administrator can find the reason in the server log.")


def _local_form() -> None:
    with st.form("local_sign_in"):
        username = st.text_input("User name", max_chars=254, autocomplete="username", key="signin_username")
        password = st.text_input("Password", type="password", max_chars=1024, autocomplete="current-password", key="signin_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        try:
            local_sign_in(username, password)
        except SignInRefused as refusal:
            st.error(str(refusal))
        else:
            st.rerun()


def _development_picker() -> None:
    st.info("Development sign-in: choose a role. This is only available on a local (loopback) server.")
    with st.form("dev_sign_in"):
        role = st.radio("Role", ROLES, format_func=ROLE_LABELS.get, index=2)
        if st.form_submit_button("Sign in", type="primary"):
            dev_sign_in(role)
            st.rerun()


def explain_a_refused_link(identity: Identity) -> None:
    """After signing in from a link to a page this role may not open, say so (once) on the page
    shown instead. When the role may open it, the same address simply shows the page."""
    wanted = st.session_state.pop(WANTED_PAGE_KEY, None)
    spec = page_spec(wanted) if wanted else None
    if spec is not None and identity.role not in spec.roles:
        st.warning(f"The link you followed opens *{spec.title}*, which your role ({ROLE_LABELS[identity.role]}) cannot use. "
                   "Ask an administrator if you need it.", icon=":material/block:")


def render_user_box(identity: Identity) -> None:
    with st.sidebar:
        st.caption(f"Signed in as **{md_escape(identity.display_name)}** · {ROLE_LABELS[identity.role]}")
        if st.button("Sign out", key="sign_out"):
            sign_out()
            st.rerun()
