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

import asyncio  # noqa: E402
import importlib  # noqa: E402
from collections.abc import AsyncIterator  # noqa: E402
from contextlib import asynccontextmanager  # noqa: E402

from starlette.middleware import Middleware  # noqa: E402
from streamlit.starlette import App  # noqa: E402

from streamlit_app.web_session import CsrfCookieMiddleware, session_routes  # noqa: E402

# What the pages import (plotly, pandas, the repositories...): about 3 s of imports, which the
# first visitors of a fresh process would otherwise wait for, one behind the other under Python's
# import lock (a room joining a workshop just after a start or a restart).
PAGE_DEPENDENCIES = (
    "streamlit_app.auth", "streamlit_app.widgets", "streamlit_app.workshop_widgets", "streamlit_app.survey_form",
    "streamlit_app.technology_form", "streamlit_app.analysis_state", "storage.workshops", "storage.surveys",
)


def import_page_dependencies() -> None:
    for name in PAGE_DEPENDENCIES:
        importlib.import_module(name)


@asynccontextmanager
async def warm_up(_app: App) -> AsyncIterator[None]:
    """Import the pages' dependencies before the server answers its first health check."""
    await asyncio.to_thread(import_page_dependencies)
    yield


app = App("app.py", routes=session_routes(), middleware=[Middleware(CsrfCookieMiddleware)], lifespan=warm_up)
