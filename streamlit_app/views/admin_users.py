"""Administration: user accounts and their roles (create, change role, reset a password, disable
and re-enable)."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from storage.accounts import (
    Account,
    AccountError,
    create_user,
    disable_user,
    enable_user,
    list_users,
    reset_password,
    set_role,
)
from streamlit_app.auth import ROLE_LABELS, ROLES, require_role
from streamlit_app.runtime import get_engine
from streamlit_app.widgets import md_escape, people_table, show_problems

identity = require_role("admin")
actor = identity.actor
engine = get_engine()
st.title("Users and roles")
st.caption("Single sign-on users appear here after their first sign-in, without a role until you grant one. "
           "Local accounts sign in with a user name and password.")

if message := st.session_state.pop("admin_users_done", None):
    st.success(message)

users = list_users(engine, actor=actor)
shown = users.assign(role=users["role"].map(lambda r: ROLE_LABELS.get(r, "— no role —") if isinstance(r, str) else "— no role —"))
people_table(shown.drop(columns=["user_id"]), headings={"username": "User name", "sign_in": "Signs in with",
                                                       "created_at": "Created (UTC)", "last_sign_in_at": "Last sign-in (UTC)"})
usernames = users["username"].tolist()
ROLE_CHOICES = [None, *ROLES]


def _role_label(role: str | None) -> str:
    return "— no role (cannot use the app) —" if role is None else ROLE_LABELS[role]


def _done(message: str) -> None:
    st.session_state["admin_users_done"] = message
    st.rerun()


def _change(refused: str, change: Callable[[], Account], done: Callable[[Account], str]) -> None:
    """Make an account change: its problems listed under ``refused``, or the page reruns saying ``done``."""
    try:
        account = change()
    except AccountError as error:
        show_problems(refused, error.problems)
    else:
        _done(done(account))


add_tab, role_tab, password_tab, disable_tab, enable_tab = st.tabs(
    ["Add a user", "Change a role", "Reset a password", "Disable an account", "Re-enable an account"])

with add_tab:
    with st.form("add_user", clear_on_submit=False):
        left, right = st.columns(2)
        username = left.text_input("User name (lower case; an e-mail address is fine)", max_chars=254, key="user_add_username")
        display_name = right.text_input("Display name (optional)", max_chars=200, key="user_add_display_name")
        email = left.text_input("E-mail for single sign-on (optional)", max_chars=254, key="user_add_email")
        role = right.selectbox("Role", ROLE_CHOICES, index=ROLE_CHOICES.index("respondent"), format_func=_role_label, key="user_add_role")
        password = left.text_input("Password (leave empty for a single sign-on only account)", type="password", max_chars=1024,
                                   autocomplete="new-password", key="user_add_password")
        repeat = right.text_input("Repeat the password", type="password", max_chars=1024, autocomplete="new-password", key="user_add_repeat")
        st.caption("Passwords: at least 12 characters, not the user name, not a common password. A passphrase of several words is best.")
        submitted = st.form_submit_button("Create user", type="primary")
    if submitted:
        if password != repeat:
            show_problems("Not created", ["the two passwords differ"])
        else:
            _change("Not created",
                    lambda: create_user(engine, username, role, password=password or None, email=email or None,
                                        display_name=display_name, actor=actor),
                    lambda account: f"Created {md_escape(account.username)} ({_role_label(account.role)}).")

with role_tab:
    with st.form("change_role"):
        who = st.selectbox("User", usernames, index=None, placeholder="Choose a user", key="role_user")
        new_role = st.selectbox("New role", ROLE_CHOICES, format_func=_role_label, key="role_new")
        st.caption("Changing a role signs the user out of their open sessions.")
        submitted = st.form_submit_button("Change role")
    if submitted and who:
        _change("Not changed", lambda: set_role(engine, who, new_role, actor=actor),
                lambda account: f"{md_escape(account.username)} is now: {_role_label(account.role)}.")

with disable_tab:
    with st.form("disable_user"):
        who = st.selectbox("User", [u for u, active in zip(users["username"], users["active"], strict=True) if active], index=None,
                           placeholder="Choose a user", key="disable_user_choice")
        confirm = st.text_input("Type DISABLE to confirm", key="disable_confirm")
        submitted = st.form_submit_button("Disable account")
    if submitted and who:
        if confirm != "DISABLE":
            show_problems("Not disabled", ["type DISABLE to confirm"])
        else:
            _change("Not disabled", lambda: disable_user(engine, who, actor=actor),
                    lambda account: f"Disabled {md_escape(account.username)}; their sessions have ended.")

with password_tab:
    st.caption("For a user who forgot their password or is locked out: set a temporary password and give it to them in "
               "person or by phone; they can change it on *My account*. Their open sessions end and any lockout is lifted.")
    with st.form("reset_password", clear_on_submit=True):
        who = st.selectbox("User", usernames, index=None, placeholder="Choose a user", key="reset_user")
        left, right = st.columns(2)
        password = left.text_input("New password", type="password", max_chars=1024, autocomplete="new-password", key="reset_password")
        repeat = right.text_input("Repeat the new password", type="password", max_chars=1024, autocomplete="new-password",
                                  key="reset_repeat")
        submitted = st.form_submit_button("Set the new password")
    if submitted:
        if not who:
            show_problems("Not changed", ["choose a user"])
        elif password != repeat:
            show_problems("Not changed", ["the two passwords differ"])
        else:
            _change("Not changed", lambda: reset_password(engine, who, password, actor=actor),
                    lambda account: f"New password set for {md_escape(account.username)}; their sessions have ended.")

with enable_tab:
    disabled = [u for u, active in zip(users["username"], users["active"], strict=True) if not active]
    if not disabled:
        st.info("No account is disabled.")
    else:
        with st.form("enable_user"):
            who = st.selectbox("User", disabled, index=None, placeholder="Choose a disabled account", key="enable_user_choice")
            submitted = st.form_submit_button("Re-enable account")
        if submitted and who:
            _change("Not enabled", lambda: enable_user(engine, who, actor=actor),
                    lambda account: f"Re-enabled {md_escape(account.username)}; they can sign in again.")
