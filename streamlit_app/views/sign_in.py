"""Sign-in page and the signed-in user box in the sidebar."""

from __future__ import annotations

import streamlit as st

from streamlit_app.auth import ROLE_LABELS, ROLES, Identity, dev_login_enabled, dev_sign_in, sign_out


def render_sign_in() -> None:
    st.title("AI Workforce Roadmap")
    st.write("A living map of AI technologies in health services and their effect on the workforce.")
    if not dev_login_enabled():
        st.warning(
            "No sign-in method is configured on this server. An administrator must configure accounts "
            "(see the README), or run locally with the development sign-in."
        )
        return
    st.info("Development sign-in: choose a role. This is only available on a local (loopback) server.")
    with st.form("dev_sign_in"):
        role = st.radio("Role", ROLES, format_func=ROLE_LABELS.get, index=2)
        if st.form_submit_button("Sign in", type="primary"):
            dev_sign_in(role)
            st.rerun()


def render_user_box(identity: Identity) -> None:
    with st.sidebar:
        st.caption(f"Signed in as **{identity.display_name}** · {ROLE_LABELS[identity.role]}")
        if st.button("Sign out", key="sign_out"):
            sign_out()
            st.rerun()
