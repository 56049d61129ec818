"""The database becomes unreachable while a lead is filling in a form in the real web app: the
lead sees a clear message (no traceback), the typed answers stay on the page, and once the
database is back the same server saves them without a restart (issue 7, "Faults")."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.db import make_engine, read_session
from storage.migrate import upgrade_to_head
from storage.models.catalogue import Technology
from tests.browser.conftest import screenshot, sign_in, wait_for_app
from tests.proof.private_postgres import private_postgres, unavailable_reason

pytestmark = [pytest.mark.browser, pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))]

OUTAGE_MESSAGE = "The database is not reachable just now"
NAME = "Outage-proof discharge summariser"


def test_a_form_survives_a_database_outage_and_saves_after_it(browser, server_factory):
    with private_postgres() as database:
        url = database.create_database("roadmap_outage_app")
        engine = make_engine(url)
        upgrade_to_head(engine)
        server = server_factory(url)

        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(server.url)
        sign_in(page, "Lead / analyst")
        page.get_by_role("link", name="Manage catalogue").click()
        wait_for_app(page)
        page.get_by_label("Name (required)").fill(NAME)
        page.get_by_label("Developer / company").fill("Resilience Ltd")
        page.get_by_label("Short description").fill("Drafts discharge summaries.")

        database.stop()
        page.get_by_role("button", name="Add technology").click()
        wait_for_app(page)
        screenshot(page, "outage-message")
        page.get_by_text(OUTAGE_MESSAGE).first.wait_for()
        assert page.locator("[data-testid='stException']").count() == 0, "a traceback was shown"
        assert page.get_by_label("Name (required)").input_value() == NAME
        assert page.get_by_label("Developer / company").input_value() == "Resilience Ltd"

        database.start()
        page.get_by_role("button", name="Add technology").click()
        wait_for_app(page)
        page.get_by_text(f"Saved “{NAME}”.").wait_for()
        screenshot(page, "outage-recovered")
        assert server.process.poll() is None, "the server had to be restarted"
        with read_session(engine) as session:
            assert session.scalars(select(Technology.name)).all() == [NAME]
        engine.dispose()
        server.stop()
