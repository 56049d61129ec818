"""The app's script: sign-in, the page list for the signed-in role, and the page. Served by
``streamlit_app/server.py`` (``streamlit run streamlit_app/server.py``, as scripts/run.sh and
scripts/serve.sh do); ``streamlit run streamlit_app/app.py`` still runs it without the sign-in
routes."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

# `streamlit run` puts this folder, not the project root, on sys.path.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import streamlit as st  # noqa: E402

from streamlit_app.auth import current_identity, startup_problems  # noqa: E402
from streamlit_app.navigation import CROWD_PAGES, pages_for, pages_needing_sign_in, pages_refused_to  # noqa: E402
from streamlit_app.runtime import end_turn, room_turn  # noqa: E402
from streamlit_app.views.sign_in import (  # noqa: E402
    render_configuration_refusal,
    render_refused_link,
    render_sign_in,
    render_user_box,
)
from streamlit_app.widgets import APP_STYLE, DATABASE_READ_FAILED, database_errors  # noqa: E402

FIRST_RUN_DONE_KEY = "app_first_run_done"


def main() -> None:
    st.set_page_config(page_title="AI Workforce Roadmap", page_icon=":material/map:", layout="wide")
    st.html(APP_STYLE)

    problems = startup_problems()
    if problems:
        # Outside development a missing or default secret stops everything, saying which.
        print("AI Workforce Roadmap refuses to start: " + "; ".join(problems), file=sys.stderr)
        render_configuration_refusal(problems)
        st.stop()

    with database_errors(DATABASE_READ_FAILED, stop=True):
        identity = current_identity()
    if identity is None:
        sign_in = st.Page(render_sign_in, title="Sign in", icon=":material/login:", url_path="sign-in", default=True)
        # A bookmarked or shared link to a page that needs a role offers sign-in at that address;
        # once signed in, the same address opens the page itself (or says the role cannot).
        wanted = [st.Page(partial(render_sign_in, wanted=spec), title=spec.title, url_path=spec.url_path, visibility="hidden")
                  for spec in pages_needing_sign_in()]
        navigation = st.navigation({"Account": [sign_in, *wanted], **pages_for(None, default_url_path="sign-in")})
    else:
        render_user_box(identity)
        sections = pages_for(identity.role)
        # A link to a page this role may not use (followed before or after signing in) says so at
        # that address instead of "Page not found".
        refused = [st.Page(partial(render_refused_link, spec, identity), title=spec.title, url_path=spec.url_path,
                           visibility="hidden") for spec in pages_refused_to(identity.role)]
        first_section = next(iter(sections))
        sections[first_section] = [*sections[first_section], *refused]
        navigation = st.navigation(sections, expanded=True)
    if navigation.url_path not in CROWD_PAGES:
        end_turn()  # only the pages a room opens at once take turns beyond this point
    with database_errors(DATABASE_READ_FAILED, stop=True):
        navigation.run()


# Every run takes its turn (see runtime.room_turn) for the part every page shares; a page that a
# whole room does not open at once gives the turn up as soon as it is known. A session's first
# run (opening the link) waits behind the runs of visitors already on their way (joining, saving).
first_run = FIRST_RUN_DONE_KEY not in st.session_state
st.session_state[FIRST_RUN_DONE_KEY] = True
with room_turn(urgent=not first_run):
    main()
