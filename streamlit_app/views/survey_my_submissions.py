"""My submissions: look up a response by its receipt code; signed-in respondents also see their own."""

from __future__ import annotations

import streamlit as st

from storage.survey_codes import pseudonymise
from storage.surveys import SubmittedRecord, document_rows, submission_by_receipt, submissions_for_respondent, technology_names
from streamlit_app.auth import current_identity
from streamlit_app.runtime import get_engine
from streamlit_app.survey_form import pseudonym_key
from streamlit_app.widgets import md_escape

engine = get_engine()
identity = current_identity()


def show_submission(record: SubmittedRecord) -> None:
    st.subheader(md_escape(record.instrument.title))
    details = f"Submitted on {record.submitted_at.strftime('%d %B %Y at %H:%M UTC')}"
    if record.campaign_title:
        details += f" to “{record.campaign_title}”"
    st.text(details)
    rows = document_rows(record.instrument.instrument, record.document, technology_names(engine, record.document.get("technologies", {})))
    st.dataframe(rows, hide_index=True, width="stretch")


st.title("My submissions")
st.write("Enter the receipt code you were given when you submitted a survey to see what you sent.")
with st.form("sv_receipt"):
    code = st.text_input("Receipt code", placeholder="XXXX-XXXX-XXXX-XXXX", max_chars=40)
    look_up = st.form_submit_button("Look up", width="stretch")
if look_up:
    record = submission_by_receipt(engine, code)
    if record is None:
        st.error("No submission has that receipt code. Check it and try again.")
    else:
        show_submission(record)

if identity is not None and identity.role == "respondent":
    st.divider()
    st.header("Submitted while signed in")
    key = pseudonym_key()
    records = submissions_for_respondent(engine, pseudonymise(identity.user_id, key)) if key else []
    if not records:
        st.caption("No submissions to identified surveys yet. Answers to anonymous surveys are never linked to your account; "
                   "use their receipt codes above.")
    for record in records:
        show_submission(record)
