"""Landing page: what the tool is and where to go next for this role."""

from __future__ import annotations

import streamlit as st

from storage.catalogue import count_technologies
from streamlit_app.auth import ROLES, require_role
from streamlit_app.runtime import get_engine

identity = require_role(*ROLES)
st.title("AI Workforce Roadmap")
st.write(
    "A living map of AI and data-driven technologies in health services: what they are, where they are used, "
    "how soon they reach scale and how they change the work of each staff group — with every figure traceable to its evidence."
)
count = count_technologies(get_engine())
st.metric("Technologies in the catalogue", count)
next_steps = {
    "respondent": "Use the survey link you were sent to tell us how AI tools affect your work.",
    "facilitator": "Browse the technology catalogue to prepare the items for your workshop.",
    "lead": "Browse the catalogue, or open *Manage catalogue* to add, edit, import or export technologies.",
    "admin": "Browse the catalogue; accounts and settings are managed here once configured.",
}
st.info(next_steps[identity.role])
