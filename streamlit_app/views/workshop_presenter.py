"""Presenter view for the room projector: one item at a time, large chart of a round's ratings
by stakeholder group, with the consensus status under the pre-registered rule."""

from __future__ import annotations

import streamlit as st

from storage.workshops import analyse_workshop, get_workshop, round_distribution
from streamlit_app.auth import require_role
from streamlit_app.runtime import get_engine
from streamlit_app.widgets import md_escape
from streamlit_app.workshop_widgets import CONSENSUS_TEXT, actor_for, choose_workshop, distribution_figure

identity = require_role("facilitator", "lead")
actor = actor_for(identity)
engine = get_engine()

workshop_id = choose_workshop(actor, key="ws_presenter_choice")
workshop = get_workshop(engine, workshop_id, actor=actor)

# Results of an open round are shown only when the workshop does not hide them until the close.
showable = [r.number for r in workshop.rounds if not r.is_open or not workshop.hide_results_until_close]
if not showable:
    st.title(md_escape(workshop.title))
    st.info("No round has closed yet. Results appear here when the facilitator closes round 1"
            + (" (this workshop hides results until each round closes)." if workshop.hide_results_until_close else "."))
    st.stop()

round_number = st.segmented_control("Round", showable, default=showable[-1], key="ws_presenter_round") or showable[-1]
items = workshop.items_in(round_number)
position_key = f"ws_presenter_position_{workshop.id}_{round_number}"
position = min(st.session_state.get(position_key, 0), len(items) - 1)

previous, counter, following = st.columns([1, 2, 1])
if previous.button("◀ Previous", disabled=position == 0, width="stretch"):
    position -= 1
if following.button("Next ▶", disabled=position >= len(items) - 1, width="stretch"):
    position += 1
st.session_state[position_key] = position
counter.markdown(f"**Item {position + 1} of {len(items)}** · round {round_number}", text_alignment="center")

item = items[position]
scale = workshop.scale_for(item)
include_open = not workshop.hide_results_until_close
summary = analyse_workshop(engine, workshop.id, include_open_round=include_open, actor=actor).summary
row = summary[(summary["item_id"] == item.id) & (summary["round"] == round_number)]
counts = round_distribution(engine, workshop, round_number)
counts = counts[counts["item_id"] == item.id]

st.plotly_chart(distribution_figure(counts, scale, item.label, large=True), width="stretch", key="ws_presenter_chart")
if row.empty:
    st.warning("No ratings for this item in this round.")
else:
    result = row.iloc[0]
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Consensus", CONSENSUS_TEXT[result["consensus"]])
    c2.metric("Participants", int(result["n"]))
    c3.metric("Median", f"{result['median']:g}")
    c4.metric("IQR", f"{result['iqr']:g}")
st.caption("Rule: " + workshop.rule.describe(scale.bands))
if workshop.open_round is not None and round_number == workshop.open_round.number:
    st.caption("This round is still open: the figures change as ratings arrive.")
