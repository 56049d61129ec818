"""Administration: the audit trail, filtered, and exported through the formula-safe export."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from storage.audit import ACTIONS, OUTCOMES, AuditFilter, audit_frame
from streamlit_app.auth import require_role
from streamlit_app.runtime import get_engine
from streamlit_app.widgets import download_table, people_table

identity = require_role("admin")
st.title("Audit trail")
st.caption("Every sign-in, refusal, change, import, export and download, append-only. Times are UTC. "
           "Actors are account keys (user:12), never names.")

today = dt.datetime.now(dt.UTC).date()
with st.expander("Filters", expanded=True):
    left, middle, right = st.columns(3)
    period = left.date_input("Between (UTC dates)", value=(today - dt.timedelta(days=30), today), max_value=today, key="audit_period")
    actions = middle.multiselect("Actions", list(ACTIONS), key="audit_actions", help="Leave empty for every action")
    outcomes = right.multiselect("Outcomes", list(OUTCOMES), key="audit_outcomes")
    actor = left.text_input("Actor (exact, e.g. user:12)", key="audit_actor").strip()
    target = middle.text_input("Target starts with (e.g. technology:)", key="audit_target").strip()

since = until = None
if isinstance(period, tuple) and len(period) == 2:
    since = dt.datetime.combine(period[0], dt.time(0), tzinfo=dt.UTC)
    until = dt.datetime.combine(period[1] + dt.timedelta(days=1), dt.time(0), tzinfo=dt.UTC)
filters = AuditFilter(since=since, until=until, actions=tuple(actions), outcomes=tuple(outcomes), actor=actor, target_prefix=target)
events = audit_frame(get_engine(), filters, actor=identity.actor)
st.caption(f"{len(events)} events.")
people_table(events, headings={"event_id": "Event", "occurred_at": "Time (UTC)"}, height=480)
download_table(events, "audit-trail", key="audit_download", label="Download these events")
