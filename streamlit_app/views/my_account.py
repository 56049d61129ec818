"""The signed-in user's own account: who they are signed in as, and changing their password."""

from __future__ import annotations

import streamlit as st

from storage.accounts import AccountError
from streamlit_app.auth import ROLE_LABELS, ROLES, change_own_password, require_role
from streamlit_app.widgets import md_escape, show_problems

identity = require_role(*ROLES)
st.title("My account")
st.markdown(f"Signed in as **{md_escape(identity.display_name)}** · {ROLE_LABELS[identity.role]}")

if message := st.session_state.pop("my_account_done", None):
    st.success(message)

if identity.method == "sso":
    st.info("You sign in with your organisation's single sign-on, so your password is managed there, not here.",
            icon=":material/badge:")
elif identity.method == "development":
    st.info("This is the development sign-in, which has no password.", icon=":material/code:")
else:
    st.subheader("Change my password")
    with st.form("change_password", clear_on_submit=True):
        current = st.text_input("Current password", type="password", max_chars=1024, autocomplete="current-password",
                                key="own_password_current")
        new = st.text_input("New password", type="password", max_chars=1024, autocomplete="new-password", key="own_password_new")
        repeat = st.text_input("Repeat the new password", type="password", max_chars=1024, autocomplete="new-password",
                               key="own_password_repeat")
        st.caption("At least 12 characters, not your user name, not a common password. A passphrase of several words is best. "
                   "Changing it signs you out everywhere else.")
        submitted = st.form_submit_button("Change password", type="primary")
    if submitted:
        if new != repeat:
            show_problems("Not changed", ["the two new passwords differ"])
        else:
            try:
                change_own_password(current, new)
            except AccountError as error:
                show_problems("Not changed", error.problems)
            else:
                st.session_state["my_account_done"] = "Password changed. Any other sessions of yours have been signed out."
                st.rerun()
