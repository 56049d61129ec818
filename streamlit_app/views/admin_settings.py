"""Administration: sign-in methods, secrets (status only), retention and erasure of a named person."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from storage.accounts import (
    DEFAULT_IDLE_HOURS,
    IDLE_HOURS_ENV,
    LOCKOUT,
    MAX_FAILURES,
    SESSION_ABSOLUTE_LIMIT,
    local_accounts_exist,
)
from storage.analysis_inputs import DISCLOSURE_THRESHOLD_ENV, DisclosureSettingError, disclosure_threshold
from storage.retention import (
    RETENTION_DAYS_ENV,
    RetentionError,
    erase_person,
    purge_expired,
    registered_hooks,
    retention_days,
)
from storage.security import InsecureConfiguration, pseudonym_keyring, secret_status
from streamlit_app.auth import (
    auth_section,
    dev_login_enabled,
    require_role,
    secrets_mapping,
    sso_configured,
)
from streamlit_app.runtime import get_engine
from streamlit_app.widgets import md_escape, show_problems

identity = require_role("admin")
actor = identity.actor
engine = get_engine()
st.title("Settings")

st.subheader("Sign-in")
methods = pd.DataFrame([
    {"method": "Single sign-on (OIDC, [auth] in secrets.toml)", "state": "configured" if sso_configured() else "not configured"},
    {"method": "Local accounts (user name and password)", "state": "in use" if local_accounts_exist(engine) else "no local accounts"},
    {"method": "Development role picker", "state": "ON (local development only)" if dev_login_enabled() else "off"},
])
st.dataframe(methods, hide_index=True, width="stretch")
st.caption(f"Local sessions end after {IDLE_HOURS_ENV} hours without use (default {DEFAULT_IDLE_HOURS}) and "
           f"{int(SESSION_ABSOLUTE_LIMIT.total_seconds() // 3600)} hours after sign-in. {MAX_FAILURES} failed sign-ins in a row lock "
           f"the user name for {int(LOCKOUT.total_seconds() // 60)} minutes.")

st.subheader("Secrets")
st.caption("Values are never shown. Set them as environment variables or in .streamlit/secrets.toml.")
st.dataframe(pd.DataFrame(secret_status(secrets_mapping(), auth_section())), hide_index=True, width="stretch")

st.subheader("Disclosure control")
try:
    threshold = disclosure_threshold()
except DisclosureSettingError as error:
    st.error(f"The disclosure setting is refused: {error}. The analysis pages and exports stop until it is fixed.")
else:
    if threshold == 1:
        st.warning(f"Disclosure control is OFF ({DISCLOSURE_THRESHOLD_ENV}=1, acknowledged): every respondent's answers can be "
                   "read off the estimates and exports.", icon=":material/warning:")
    else:
        st.write(f"Survey evidence about a technology enters the estimates only from **{threshold} or more respondents** "
                 f"(set with {DISCLOSURE_THRESHOLD_ENV}); smaller respondent counts are suppressed.")

st.subheader("Retention")
try:
    days = retention_days()
except RetentionError as error:
    st.error(str(error))
    st.stop()
st.write(f"Drafts and raw free text are kept for **{days} days** (set with {RETENTION_DAYS_ENV}). "
         "Schedule `roadmap retention purge` daily, or purge now.")
st.caption("Parts covered: " + ", ".join(hook.name for hook in registered_hooks()))
if message := st.session_state.pop("settings_done", None):
    st.success(message)
if st.button("Purge data older than the retention period now", key="purge_now"):
    counts = purge_expired(engine, actor=actor)
    st.session_state["settings_done"] = "Purged: " + ", ".join(f"{name} {count}" for name, count in counts.items())
    st.rerun()

st.subheader("Erase a named person's data")
st.caption("Deletes or anonymises everything stored about the person (their account, responses and pseudonymised "
           "records under every pseudonym key). The audit trail keeps the event, not the data. This cannot be undone.")
with st.form("erase_person"):
    person = st.text_input("User name or e-mail address", max_chars=254, key="erase_person_name")
    confirm = st.text_input("Type ERASE to confirm", key="erase_confirm")
    submitted = st.form_submit_button("Erase")
if submitted:
    if confirm != "ERASE" or not person.strip():
        show_problems("Nothing erased", ["give the user name or e-mail address and type ERASE to confirm"])
    else:
        try:
            keyring = pseudonym_keyring(secrets_mapping(), development=dev_login_enabled())
            counts = erase_person(engine, person, keyring=keyring, actor=actor)
        except (RetentionError, InsecureConfiguration) as error:
            show_problems("Nothing erased", [str(error)])
        else:
            st.session_state["settings_done"] = (f"Erased the data of {md_escape(person.strip())}: "
                                                 + ", ".join(f"{name} {count}" for name, count in counts.items()))
            st.rerun()
