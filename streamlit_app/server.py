"""The web server entry: the app (``app.py``) as a Streamlit ``st.App`` on Starlette, run by uvicorn,
with the routes that set and clear the sign-in cookie (``web_session.py``).

Started by ``scripts/run.sh`` (one process) and by each worker of ``scripts/serve.sh``, both as
``streamlit run streamlit_app/server.py --server.address ... --server.port ...``, which finds
``app`` below and serves it, so both behave alike.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run` puts this folder, not the project root, on sys.path.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from starlette.middleware import Middleware  # noqa: E402
from streamlit.starlette import App  # noqa: E402

from streamlit_app.web_session import CsrfCookieMiddleware, session_routes  # noqa: E402

app = App("app.py", routes=session_routes(), middleware=[Middleware(CsrfCookieMiddleware)])
