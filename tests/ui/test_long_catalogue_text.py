"""AppTest: catalogue names as long as real registers write them (lists of device models) can be
entered in the form, and the catalogue pages show them without burying the page."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.catalogue import TEXT_LIMITS
from storage.db import make_engine, read_session, write_session
from storage.demo import load_demo_catalogue
from storage.models import Technology
from streamlit_app.widgets import SHORT_NAME_LENGTH
from tests.ui.helpers import open_app, prepare_environment

LONG_NAME = "; ".join(f"Vista Scan {n} Ultra cardiac imaging suite" for n in range(60))[:TEXT_LIMITS["name"]]


@pytest.fixture
def engine(sqlite_url: str, monkeypatch: pytest.MonkeyPatch):
    engine = make_engine(sqlite_url)
    load_demo_catalogue(engine, count=5)
    prepare_environment(monkeypatch, sqlite_url)
    yield engine
    engine.dispose()


def test_the_form_takes_a_name_and_company_of_two_thousand_characters(engine) -> None:
    at = open_app("lead", "catalogue_admin.py")
    at.text_input(key="add_name").set_value(LONG_NAME)
    at.text_input(key="add_company").set_value("C" * TEXT_LIMITS["company"])
    at.text_area(key="add_short").set_value("S" * 5_000)
    at.button(key="FormSubmitter:add_form-Add technology").click().run()
    assert not at.exception, [e.message for e in at.exception]
    with read_session(engine) as session:
        saved = session.execute(select(Technology.name, Technology.company, Technology.short_description)
                                .where(Technology.name == LONG_NAME)).one()
    assert (len(saved.name), len(saved.company), len(saved.short_description)) == (len(LONG_NAME), 2_000, 5_000)
    assert all(len(message.value) < 400 for message in at.success)  # the confirmation names it, shortened


def test_the_browser_shows_a_long_name_shortened_with_the_whole_name_in_the_details(engine) -> None:
    with write_session(engine) as session:
        technology = Technology(name=LONG_NAME, company="Acme")
        session.add(technology)
        session.flush()
        technology_id = technology.id
    at = open_app("lead", "catalogue_browser.py")
    picker = at.selectbox(key="cat_open")
    label = picker.format_func(technology_id)
    assert len(label) <= SHORT_NAME_LENGTH and label.endswith("…") and LONG_NAME.startswith(label[:-1])
    picker.set_value(technology_id).run()
    assert not at.exception
    assert at.header[0].value.replace("\\", "").endswith("…")
    details = next(frame.value for frame in at.dataframe if list(frame.value.columns) == ["Field", "Value"])
    assert details.iloc[0].tolist() == ["Name", LONG_NAME]
