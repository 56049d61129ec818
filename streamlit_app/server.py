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
import gc  # noqa: E402
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


# Python's cyclic garbage collector, left as it is, scanned the whole heap (a million objects
# from those imports) twice or so per process while a room of 150 joined: 130 ms each, every
# session stalled meanwhile (docs/benchmarks.md, load_serve.py). What the imports made lives as
# long as the process, so it is set aside ("frozen") once they are done, and the youngest
# generation is collected every 20,000 allocations instead of 700.
GC_THRESHOLDS = (20_000, 20, 20)


def import_page_dependencies() -> None:
    for name in PAGE_DEPENDENCIES:
        importlib.import_module(name)


def settle_garbage_collector() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


@asynccontextmanager
async def warm_up(_app: App) -> AsyncIterator[None]:
    """Import the pages' dependencies before the server answers its first health check."""
    await asyncio.to_thread(import_page_dependencies)
    settle_garbage_collector()
    yield


app = App("app.py", routes=session_routes(), middleware=[Middleware(CsrfCookieMiddleware)], lifespan=warm_up)
