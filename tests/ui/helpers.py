"""AppTest helpers: open the real entry script against a test database, signed in as a role."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit
from streamlit import config
from streamlit.testing.v1 import AppTest

from streamlit_app.widgets import APP_STYLE

APP = str(Path(__file__).resolve().parents[2] / "streamlit_app" / "app.py")


COOKIE_PREFIX = "test_cookie:"  # session-state entries that stand in for the browser's cookies


def prepare_environment(monkeypatch: pytest.MonkeyPatch, database_url: str, *, dev_login: bool = True) -> None:
    """Point the app at ``database_url`` and (optionally) enable the loopback-only development sign-in.

    AppTest cannot send cookies, so the app's cookie reader is pointed at session-state entries
    that :func:`open_app` fills from its ``cookies`` argument.
    """
    monkeypatch.setattr("streamlit_app.auth.browser_cookie",
                        lambda name: streamlit.session_state.get(f"{COOKIE_PREFIX}{name}") or None)
    monkeypatch.setenv("ROADMAP_DATABASE_URL", database_url)
    if dev_login:
        monkeypatch.setenv("ROADMAP_DEV_LOGIN", "1")
    else:
        monkeypatch.delenv("ROADMAP_DEV_LOGIN", raising=False)
    monkeypatch.delenv("ROADMAP_DEMO_ON_FIRST_START", raising=False)
    config.set_option("server.address", "127.0.0.1")
    # The engine and cached tables are per process; start each test from a clean slate.
    streamlit.cache_resource.clear()
    streamlit.cache_data.clear()


def open_app(role: str | None, page: str | None = None, *, query: dict[str, str] | None = None,
             cookies: dict[str, str] | None = None, timeout: float = 60) -> AppTest:
    """Run the app signed in as ``role`` (None = anonymous) and switch to ``page`` (a views/ file
    name); ``cookies`` are those the browser would send."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    if role is not None:
        at.session_state["dev_role"] = role
    for name, value in (cookies or {}).items():
        at.session_state[f"{COOKIE_PREFIX}{name}"] = value
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    if page is not None:
        at.switch_page(f"views/{page}")
        at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def html_bodies(at: AppTest) -> list[str]:
    """The markup of the page's st.html elements (the sign-in and sign-out forms), leaving out the
    app-wide style sheet every page carries."""
    return [element.proto.body for element in at.get("html") if element.proto.body != APP_STYLE]


def texts(at: AppTest) -> str:
    """All visible text of the common text elements, for assertions about what a user reads."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "text", "info", "warning", "error", "success"):
        parts.extend(str(element.value) for element in getattr(at, kind))
    return "\n".join(parts)
