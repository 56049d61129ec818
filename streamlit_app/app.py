"""Entry script: `streamlit run streamlit_app/app.py`."""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run` puts this folder, not the project root, on sys.path.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import streamlit as st  # noqa: E402

from streamlit_app.auth import current_identity, startup_problems  # noqa: E402
from streamlit_app.navigation import pages_for  # noqa: E402
from streamlit_app.views.sign_in import render_configuration_refusal, render_sign_in, render_user_box  # noqa: E402

st.set_page_config(page_title="AI Workforce Roadmap", page_icon=":material/map:", layout="wide")

problems = startup_problems()
if problems:
    # Outside development a missing or default secret stops everything, saying which.
    print("AI Workforce Roadmap refuses to start: " + "; ".join(problems), file=sys.stderr)
    render_configuration_refusal(problems)
    st.stop()

identity = current_identity()
if identity is None:
    sign_in = st.Page(render_sign_in, title="Sign in", icon=":material/login:", url_path="sign-in", default=True)
    navigation = st.navigation({"Account": [sign_in], **pages_for(None, default_url_path="sign-in")})
else:
    render_user_box(identity)
    navigation = st.navigation(pages_for(identity.role), expanded=True)
navigation.run()
