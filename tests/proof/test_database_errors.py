"""The shared outage handling, without a browser or a private server: database_errors() turns an
unreachable database into a clear message and lets the page go on rendering, other database
errors still propagate, and the data version falls back to the last one read so cached page
content keeps showing."""

from __future__ import annotations

import pytest
import streamlit
from sqlalchemy.exc import IntegrityError, OperationalError
from streamlit.testing.v1 import AppTest

from streamlit_app import runtime
from streamlit_app.runtime import current_data_version, database_unreachable
from streamlit_app.widgets import DATABASE_SAVE_FAILED


def refused() -> OperationalError:
    return OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))


def outage_page() -> None:
    import streamlit as st
    from sqlalchemy.exc import IntegrityError, OperationalError

    from streamlit_app.widgets import database_errors

    st.text_input("Your answer", key="answer")
    with database_errors():
        if st.session_state.get("fault") == "outage":
            raise OperationalError("INSERT", {}, ConnectionRefusedError("connection refused"))
        if st.session_state.get("fault") == "duplicate":
            raise IntegrityError("INSERT", {}, ValueError("duplicate key"))
        st.success("Saved.")
    st.button("Save again")


def test_an_outage_shows_the_message_and_the_rest_of_the_page_renders():
    at = AppTest.from_function(outage_page)
    at.session_state["fault"] = "outage"
    at.run()
    at.text_input(key="answer").input("kept answer")
    at.run()
    assert not at.exception
    assert [error.value for error in at.error] == [DATABASE_SAVE_FAILED]
    assert at.text_input(key="answer").value == "kept answer"
    assert len(at.button) == 1 and not at.success


def test_other_database_errors_are_not_disguised_as_an_outage():
    at = AppTest.from_function(outage_page)
    at.session_state["fault"] = "duplicate"
    at.run()
    assert at.exception and not at.error


def test_unreachable_means_connection_trouble_not_bad_data():
    assert database_unreachable(refused())
    assert not database_unreachable(IntegrityError("INSERT", {}, ValueError("duplicate key")))
    assert not database_unreachable(ValueError("not a database error"))


def test_the_data_version_falls_back_to_the_last_one_read(monkeypatch: pytest.MonkeyPatch, sqlite_url: str):
    monkeypatch.setenv("ROADMAP_DATABASE_URL", sqlite_url)
    streamlit.cache_resource.clear()
    monkeypatch.setattr(runtime, "_last_data_versions", {})
    monkeypatch.setattr(runtime, "data_version", lambda engine: 7)
    assert current_data_version() == 7

    def down(engine):
        raise refused()

    monkeypatch.setattr(runtime, "data_version", down)
    assert current_data_version() == 7
    # A process that never read the version has nothing to fall back on: the outage shows.
    monkeypatch.setattr(runtime, "_last_data_versions", {})
    with pytest.raises(OperationalError):
        current_data_version()
    streamlit.cache_resource.clear()
