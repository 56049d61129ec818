"""My submissions: look up a response by its receipt code and, if wanted, delete it; signed-in
respondents also see the responses they gave to identified surveys.

The receipt code is the credential (no account needed). Deleting asks for an explicit
confirmation after showing exactly what will be deleted.
"""

from __future__ import annotations

import streamlit as st

from storage.surveys import (
    SubmittedRecord,
    delete_response_by_receipt,
    document_rows,
    submission_by_receipt,
    submissions_for_respondent,
    technology_names,
)
from streamlit_app.auth import current_identity
from streamlit_app.runtime import get_engine
from streamlit_app.survey_form import pseudonym_keys
from streamlit_app.widgets import database_errors, md_escape

RECEIPT_KEY = "sv_receipt_code"  # the code last looked up, so the confirmation survives reruns
DELETED_KEY = "sv_receipt_deleted"

engine = get_engine()
identity = current_identity()


def show_submission(record: SubmittedRecord) -> int:
    """Show one submission; returns the number of answer rows shown."""
    st.subheader(md_escape(record.instrument.title))
    details = f"Submitted on {record.submitted_at.strftime('%d %B %Y at %H:%M UTC')}"
    if record.campaign_title:
        details += f" to “{record.campaign_title}”"
    st.text(details)
    rows = document_rows(record.instrument.instrument, record.document, technology_names(engine, record.document.get("technologies", {})),
                         record.language)
    st.dataframe(rows, hide_index=True, width="stretch")
    return len(rows)


def offer_deletion(record: SubmittedRecord, answers: int, code: str) -> None:
    """Delete the response shown above, after an explicit confirmation."""
    st.markdown("**Delete this response**")
    st.write(f"Deleting removes this response and all {answers} answer(s) shown above from the survey results, permanently. "
             "It cannot be undone, and this receipt code will no longer open anything. The record that a response was "
             "deleted is kept, without your answers.")
    with st.form("sv_delete_response"):
        confirmed = st.checkbox("I understand: permanently delete this response and its answers")
        delete = st.form_submit_button("Delete my response", width="stretch")
    if not delete:
        return
    if not confirmed:
        st.error("Nothing was deleted. Tick the box to confirm that you want to delete this response.")
        return
    with database_errors("The database is not reachable just now — nothing was deleted. Try again in a moment."):
        deleted = delete_response_by_receipt(engine, code)
        st.session_state.pop(RECEIPT_KEY, None)
        st.session_state[DELETED_KEY] = (
            f"Your response (reference {deleted.response_id}) and its {deleted.answers} answer(s) were deleted."
            if deleted is not None else "This response had already been deleted.")
        st.rerun()


st.title("My submissions")
st.write("Enter the receipt code you were given when you submitted a survey to see what you sent. "
         "You can also delete that response here.")
with st.form("sv_receipt"):
    typed = st.text_input("Receipt code", placeholder="XXXX-XXXX-XXXX-XXXX", max_chars=40)
    look_up = st.form_submit_button("Look up", width="stretch")
if message := st.session_state.pop(DELETED_KEY, None):
    st.success(message)
if look_up:
    st.session_state[RECEIPT_KEY] = typed
code = st.session_state.get(RECEIPT_KEY)
if code:
    record = submission_by_receipt(engine, code)
    if record is None:
        st.session_state.pop(RECEIPT_KEY, None)
        st.error("No submission has that receipt code. Check it and try again.")
    else:
        offer_deletion(record, show_submission(record), code)

if identity is not None and identity.role == "respondent":
    st.divider()
    st.header("Submitted while signed in")
    keyring = pseudonym_keys()
    records = submissions_for_respondent(engine, identity.user_id, keyring, actor=identity.actor) if keyring else []
    if not records:
        st.caption("No submissions to identified surveys yet. Answers to anonymous surveys are never linked to your account; "
                   "use their receipt codes above.")
    for record in records:
        show_submission(record)
