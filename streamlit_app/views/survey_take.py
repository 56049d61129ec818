"""Take a survey (anyone with a link or a resume code: the link or code is the credential).

Opened by ``?c=<campaign link token>`` or ``?i=<invitation token>``, or by typing a resume code.
The form session's idempotency key is also put in the address (``k``), so a refresh or a second
tab of the same form can never store the response twice.
"""

from __future__ import annotations

import dataclasses

import re

import streamlit as st

from storage.survey_submit import submitted_at_for_key
from storage.surveys import CampaignAccess, campaign_access, instrument_by_id, open_by_invitation, open_by_link, resume_draft
from streamlit_app.auth import current_identity
from streamlit_app.runtime import get_engine
from streamlit_app.survey_form import FORM_STATE, form_language, new_form_state, receipt_code, render_form, state_from_draft
from streamlit_app.widgets import md_escape
from survey.app_text import app_text
from survey.languages import starting_language

_KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{20,64}")

engine = get_engine()
identity = current_identity()
params = st.query_params


def _open_from_link() -> CampaignAccess | None:
    if params.get("i"):
        return open_by_invitation(engine, params["i"])
    if params.get("c"):
        return open_by_link(engine, params["c"])
    return None


def _start(access: CampaignAccess) -> None:
    key = params.get("k")
    offered = [language.code for language in instrument_by_id(engine, access.instrument_id).instrument.languages]
    language = starting_language(offered, access.default_language, st.context.headers.get("Accept-Language"))
    state = new_form_state(access, key if key and _KEY_PATTERN.fullmatch(key) else None, language)
    submitted_at = submitted_at_for_key(engine, state["idempotency_key"])
    if submitted_at is not None:
        # This form was already submitted (refresh or second tab): show its confirmation, store nothing.
        state["submitted"] = {"receipt": receipt_code(state), "submitted_at": submitted_at.isoformat(), "duplicate": True}
    st.session_state[FORM_STATE] = state
    params["k"] = state["idempotency_key"]


state = st.session_state.get(FORM_STATE)
link_access = _open_from_link()
if (params.get("c") or params.get("i")) and link_access is None:
    st.title("Take a survey")
    st.error("This survey link is not valid. Check that you copied the whole link, or ask whoever sent it for a new one.")
    st.stop()
if link_access is not None and (state is None or state["campaign_id"] != link_access.campaign_id
                                or state["invitation_id"] != link_access.invitation_id):
    _start(link_access)
    state = st.session_state[FORM_STATE]

if state is None:
    st.title("Take a survey")
    st.write("Open the survey link you were sent. If you saved your answers earlier, enter your resume code to carry on.")
    with st.form("sv_resume"):
        code = st.text_input("Resume code", placeholder="XXXX-XXXX-XXXX-XXXX", max_chars=40)
        resume = st.form_submit_button("Open my saved answers", width="stretch")
    if resume:
        draft = resume_draft(engine, code)
        if draft is None:
            st.error("That resume code does not open any saved answers. Check it and try again.")
        else:
            st.session_state[FORM_STATE] = state_from_draft(draft.access, draft.state, draft.resume_code)
            params["k"] = st.session_state[FORM_STATE]["idempotency_key"]
            st.rerun()
    st.caption("To see what you submitted, use the *My submissions* page with your receipt code.")
    st.stop()

access = campaign_access(engine, state["campaign_id"], state["invitation_id"])
if access.state == "used" and state["submitted"]:
    access = dataclasses.replace(access, state="open", message="")
stored = instrument_by_id(engine, state["instrument_id"])
respondent_id = identity.user_id if identity is not None else None
render_form(engine, access, stored, state, respondent_id)
if state.get("resume_code") and not state["submitted"]:
    st.caption(app_text(form_language(stored, state), "resume_caption", code=md_escape(state["resume_code"])))
