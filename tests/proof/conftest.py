"""The browser fixtures (real Streamlit server, system Chromium) for the proof tests that drive
the app in a browser; they live with the browser tests and are shared from there."""

from tests.browser.conftest import browser, chromium_path, server_factory  # noqa: F401
