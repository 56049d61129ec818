"""Sign-in page, the configuration refusal page, and the signed-in user box in the sidebar."""

from __future__ import annotations

import html
import sys

import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitAuthError

from storage.accounts import MAX_PASSWORD_LENGTH, SignInRefused
from streamlit_app.auth import (
    ROLE_LABELS,
    ROLES,
    Identity,
    csrf_token,
    dev_login_enabled,
    dev_sign_in,
    local_accounts_available,
    record_ui_event,
    session_ended_notice,
    sign_out,
    sso_account_without_access,
    sso_configured,
)
from streamlit_app.navigation import PageSpec
from streamlit_app.web_session import FORM_EXPIRED, SIGN_IN_PATH, SIGN_IN_RESULT_PARAM, SIGN_OUT_PATH, UNAVAILABLE, route_url
from streamlit_app.widgets import md_escape

REFUSAL_MESSAGES = {
    **SignInRefused.MESSAGES,
    FORM_EXPIRED: "The sign-in form had expired. Please try again.",
    UNAVAILABLE: "The database is not reachable just now, so nobody can sign in. Try again in a moment.",
}
NO_COOKIES_MESSAGE = ("Signing in needs cookies: this browser sent none. Allow cookies for this site, then reload "
                      "the page.")
# The forms are plain HTML (Streamlit cannot set a cookie); these styles make them look like the
# app's own inputs and buttons.
FORM_STYLE = """<style>
.roadmap-form { display: flex; flex-direction: column; gap: 0.35rem; max-width: 28rem; font-family: inherit; }
.roadmap-form label { font-size: 0.875rem; margin-top: 0.5rem; }
.roadmap-form input { font: inherit; padding: 0.5rem 0.75rem; border: 1px solid #6b7280; border-radius: 0.5rem; }
.roadmap-form input:focus { outline: 3px solid #ffb81c; outline-offset: 1px; }
.roadmap-form button { font: inherit; margin-top: 0.75rem; align-self: flex-start; padding: 0.4rem 0.9rem;
  border-radius: 0.5rem; cursor: pointer; }
.roadmap-form button.primary { background: #005eb8; color: #ffffff; border: 1px solid #005eb8; }
.roadmap-form button.secondary { background: #ffffff; color: #0b0c0c; border: 1px solid #6b7280; }
.roadmap-form button:focus { outline: 3px solid #ffb81c; outline-offset: 1px; }
</style>"""

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
    refusal = st.query_params.pop(SIGN_IN_RESULT_PARAM, None)
    if refusal:
        st.error(REFUSAL_MESSAGES.get(refusal, REFUSAL_MESSAGES["bad_credentials"]))
    elif session_ended_notice():
        st.info("Your session has ended. Please sign in again.")
    if wanted is not None:
        st.info(f"Sign in to open *{wanted.title}*.", icon=":material/lock:")
    offered = False
    if sso_configured():
        offered = True
        _single_sign_on()
    elif local_accounts_available():
        offered = True
        _local_form(wanted.url_path if wanted is not None else "")
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


def _hidden(name: str, value: str) -> str:
    return f'<input type="hidden" name="{name}" value="{html.escape(value, quote=True)}">'


def sign_in_form_html(token: str, next_page: str) -> str:
    """The local sign-in form: posted to the sign-in route, which sets the session cookie. Only
    our own markup and two escaped values (the anti-forgery token, the page to open) go in it."""
    return (
        f'<form class="roadmap-form" method="post" action="{html.escape(route_url(SIGN_IN_PATH))}">'
        f'{_hidden("csrf_token", token)}{_hidden("next", next_page)}'
        '<label for="roadmap-username">User name</label>'
        '<input id="roadmap-username" name="username" type="text" autocomplete="username" maxlength="254" required>'
        '<label for="roadmap-password">Password</label>'
        f'<input id="roadmap-password" name="password" type="password" autocomplete="current-password" maxlength="{MAX_PASSWORD_LENGTH}" required>'
        '<button type="submit" class="primary">Sign in</button>'
        f"</form>{FORM_STYLE}"
    )


def sign_out_form_html(token: str) -> str:
    return (f'<form class="roadmap-form" method="post" action="{html.escape(route_url(SIGN_OUT_PATH))}">'
            f'{_hidden("csrf_token", token)}<button type="submit" class="secondary">Sign out</button></form>{FORM_STYLE}')


def _local_form(next_page: str) -> None:
    token = csrf_token()
    if token is None:
        st.warning(NO_COOKIES_MESSAGE)
        return
    st.html(sign_in_form_html(token, next_page))


def _development_picker() -> None:
    st.info("Development sign-in: choose a role. This is only available on a local (loopback) server.")
    with st.form("dev_sign_in"):
        role = st.radio("Role", ROLES, format_func=ROLE_LABELS.get, index=2)
        if st.form_submit_button("Sign in", type="primary"):
            dev_sign_in(role)
            st.rerun()


def render_refused_link(spec: PageSpec, identity: Identity) -> None:
    """Shown at the address of a page this role may not use (a followed link, before or after
    signing in), instead of "Page not found"."""
    st.title("AI Workforce Roadmap")
    st.warning(f"The link you followed opens *{spec.title}*, which your role ({ROLE_LABELS[identity.role]}) cannot use. "
               "Ask an administrator if you need it.", icon=":material/block:")
    st.page_link("views/home.py", label="Go to the home page", icon=":material/home:")
    record_ui_event("access_refused", f"page:{spec.file.removesuffix('.py')}", {"allowed": list(spec.roles)},
                    outcome="refused")


def render_user_box(identity: Identity) -> None:
    with st.sidebar:
        st.caption(f"Signed in as **{md_escape(identity.display_name)}** · {ROLE_LABELS[identity.role]}")
        token = csrf_token()
        if identity.method == "password" and token is not None:
            # The route revokes the session and clears the cookie (a script cannot clear it).
            st.html(sign_out_form_html(token))
        elif st.button("Sign out", key="sign_out"):
            sign_out()
            st.rerun()
