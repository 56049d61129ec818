"""Run workshop: show the join code, open and close rounds, watch responses arrive, drop items
that reached consensus, record invited numbers and follow attrition."""

from __future__ import annotations

import streamlit as st

from storage.workshops import (
    analyse_workshop,
    attrition,
    close_round,
    close_workshop,
    drop_item,
    get_workshop,
    live_progress,
    open_round,
    set_invited,
)
from survey.workshop_rules import WorkshopError
from streamlit_app.auth import recheck_role, require_role
from streamlit_app.runtime import get_engine
from streamlit_app.widgets import database_errors, md_escape, people_table
from streamlit_app.workshop_widgets import CONSENSUS_TEXT, actor_for, choose_workshop, show_join_details

RUN_ROLES = ("facilitator", "lead")
identity = require_role(*RUN_ROLES)
actor = actor_for(identity)
engine = get_engine()
st.title("Run workshop")

workshop_id = choose_workshop(actor, key="ws_run_choice")
workshop = get_workshop(engine, workshop_id, actor=actor)
st.subheader(md_escape(workshop.title))


def act(action, success: str) -> None:
    """Run one facilitator action; report a refusal in words, or rerun to show the new state."""
    done = False
    with database_errors():
        try:
            action()
        except WorkshopError as error:
            st.session_state["ws_run_message"] = ("error", str(error))
        else:
            st.session_state["ws_run_message"] = ("success", success)
        done = True
    if done:
        st.rerun()


if workshop.status == "closed":
    st.info("This workshop is closed. Its results are on the Workshop results page and feed the analysis.")
    st.page_link("views/workshop_results.py", label="Open its results", icon=":material/insights:",
                 query_params={"workshop": str(workshop.id)})
else:
    show_join_details(workshop)
    current = workshop.open_round
    next_number = len(workshop.rounds) + 1
    left, middle, right = st.columns(3)
    with left.form("ws_round_form"):
        if current is None:
            st.markdown(f"Round {next_number} of {workshop.n_rounds} is not open yet.")
            if st.form_submit_button(f"Open round {next_number}", type="primary", disabled=next_number > workshop.n_rounds):
                act(lambda: open_round(engine, workshop.id, actor=actor),
                    f"Round {next_number} is open." + (" The consensus rule is now frozen." if next_number == 1 else ""))
        else:
            st.markdown(f"Round {current.number} is **open** (since {current.opened_at:%H:%M} UTC).")
            if st.form_submit_button(f"Close round {current.number}", type="primary"):
                act(lambda: close_round(engine, workshop.id, actor=actor), f"Round {current.number} is closed.")
    with middle.form("ws_close_form"):
        st.markdown("Closing the workshop makes its results evidence for the analysis.")
        confirm = st.checkbox("Yes, close the workshop")
        if st.form_submit_button("Close workshop"):
            if confirm:
                act(lambda: close_workshop(engine, workshop.id, actor=actor), "The workshop is closed.")
            else:
                st.error("Tick the confirmation box to close the workshop.")
    right.metric("Rounds run", f"{len(workshop.rounds)} of {workshop.n_rounds}")

if message := st.session_state.pop("ws_run_message", None):
    getattr(st, message[0])(message[1])


@st.fragment(run_every=3)
def live_panel(workshop_id: int) -> None:
    """Counts refresh by themselves every 3 seconds: who has responded, never what."""
    recheck_role(*RUN_ROLES)
    progress = live_progress(engine, workshop_id, actor=actor)
    if progress.round_number is None:
        st.caption("No round has been opened yet. Participants who join now wait for round 1.")
    else:
        st.markdown(f"**Round {progress.round_number}: responses so far** ({progress.items_in_round} items)")
    totals = progress.by_group[["joined", "responded", "completed"]].sum()
    c1, c2, c3 = st.columns(3)
    c1.metric("Joined", int(totals["joined"]))
    c2.metric("Responded", int(totals["responded"]))
    c3.metric("Completed", int(totals["completed"]))
    left, right = st.columns(2)
    with left:
        people_table(progress.by_item.drop(columns=["item_id"]))
    with right:
        people_table(progress.by_group)
    with st.expander("Who has responded (aliases only)"):
        people_table(progress.responders)


live_panel(workshop.id)

closed = workshop.last_closed_round
if workshop.status != "closed" and closed is not None and workshop.open_round is None:
    st.markdown(f"**Between rounds: drop items that reached consensus in round {closed.number}** (recorded with the reason)")
    summary = analyse_workshop(engine, workshop.id, actor=actor).summary
    last = summary[summary["round"] == closed.number].set_index("item_id")
    candidates = [item for item in workshop.items_in(closed.number + 1)]
    if candidates:
        with st.form("ws_drop_form"):
            item_id = st.selectbox(
                "Item", [item.id for item in candidates],
                format_func=lambda i: next(
                    f"{item.key} — {CONSENSUS_TEXT.get(last['consensus'].get(i), 'not rated')}" for item in candidates if item.id == i
                ),
            )  # fmt: skip
            reason = st.text_input("Reason", value=f"Consensus reached in round {closed.number}", max_chars=300)
            if st.form_submit_button("Drop from later rounds"):
                act(lambda: drop_item(engine, workshop.id, int(item_id), reason, actor=actor), "Item dropped from later rounds.")

st.markdown("**Invited per stakeholder group** (for attrition and the ACCORD report)")
with st.form("ws_invited_form"):
    columns = st.columns(min(4, len(workshop.groups)))
    invited = {
        group.id: columns[index % len(columns)].number_input(group.name, min_value=0, max_value=100_000, value=group.invited,
                                                             key=f"ws_invited_{group.id}")
        for index, group in enumerate(workshop.groups)
    }
    if st.form_submit_button("Save invited numbers"):
        act(lambda: set_invited(engine, workshop.id, {k: int(v) for k, v in invited.items()}, actor=actor), "Invited numbers saved.")

if workshop.rounds:
    st.markdown("**Attrition per round and group**")
    people_table(attrition(engine, workshop.id, actor=actor))
