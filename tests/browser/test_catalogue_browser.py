"""Journey: a lead opens the catalogue in the system Chromium, filters it and opens a technology."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import expect

from storage.db import make_engine
from storage.demo import load_demo_catalogue
from tests.browser.conftest import screenshot, sign_in, wait_for_app


def test_filter_the_catalogue_and_open_a_technology(browser, server_factory, sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    load_demo_catalogue(engine, count=40)
    engine.dispose()
    server = server_factory(sqlite_url)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(server.url)
    sign_in(page, "Lead / analyst")
    page.get_by_role("link", name="Technology catalogue").click()
    wait_for_app(page)
    page.get_by_text("40 of 40 technologies match.").wait_for()
    screenshot(page, "catalogue-all")

    page.get_by_label("Search name, company or description").fill("triage")
    page.keyboard.press("Enter")
    page.get_by_text("40 of 40 technologies match.").wait_for(state="detached")
    wait_for_app(page)
    # Retrying: the summary is replaced by the rerun; some but not all of the 40 match.
    expect(page.get_by_text("technologies match.")).to_have_text(re.compile(r"^([1-9]|[1-3][0-9]) of 40 technologies match\.$"))

    # Keyboard only: type into the picker and take the first match.
    picker = page.locator("[data-testid='stSelectbox']").filter(has_text="Open a technology").locator("input")
    picker.click()
    picker.press_sequentially("triage", delay=30)
    option = page.get_by_role("option").first
    option.wait_for()
    chosen = option.inner_text()
    page.keyboard.press("Enter")
    wait_for_app(page)
    page.get_by_role("heading", name="Where this record came from").wait_for()
    page.get_by_role("heading", name="Adoption sites").wait_for()
    assert "triage" in chosen.lower()
    assert "technology=" in page.url
    path: Path = screenshot(page, "catalogue-technology")
    assert path.stat().st_size > 0
