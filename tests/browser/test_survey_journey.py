"""Journey: a clinician completes the staff survey on a phone-sized screen in the system Chromium."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from storage.db import make_engine, read_session
from storage.demo import load_demo_catalogue
from storage.demo_evidence import load_demo_evidence
from storage.models.survey import SurveyResponse
from storage.surveys import CampaignInput, create_campaign, ensure_builtin_instruments
from tests.browser.conftest import screenshot, wait_for_app

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


def click_next(page) -> None:
    page.get_by_role("button", name="Next").click()
    wait_for_app(page)


def test_complete_the_clinician_survey_on_a_phone(browser, server_factory, sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    load_demo_catalogue(engine, count=40)
    load_demo_evidence(engine, False)
    ids = ensure_builtin_instruments(engine)
    token = create_campaign(engine, CampaignInput(instrument_id=ids["clinician_experience"], title="Staff survey",
                                                  opens_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))).link_token
    server = server_factory(sqlite_url, ROADMAP_PSEUDONYM_KEY="browser-test-key")
    page = browser.new_page(viewport=PHONE)
    page.goto(f"{server.url}/take-survey?c={token}")
    wait_for_app(page)
    page.get_by_role("heading", name="About this survey").wait_for()
    page.get_by_text("Yes", exact=True).click()
    wait_for_app(page)
    click_next(page)

    page.get_by_role("heading", name="About you and your role").wait_for()
    page.get_by_text("Nursing", exact=True).click()
    wait_for_app(page)
    click_next(page)

    page.get_by_role("heading", name="Which AI tools?").wait_for()
    page.locator("[data-testid='stMultiSelect'] input").fill("Demo")
    page.get_by_role("option", name=re.compile(r"^Demo: ")).first.click()
    page.keyboard.press("Escape")
    wait_for_app(page)
    screenshot(page, "survey-picker-phone")
    click_next(page)

    page.get_by_text("How often do you use this tool? (required)").wait_for()
    page.get_by_text("Daily or almost daily", exact=True).click()
    wait_for_app(page)
    screenshot(page, "survey-technology-phone")
    click_next(page)

    page.get_by_role("heading", name="Anything else").wait_for()
    click_next(page)
    page.get_by_role("heading", name="Check your answers").wait_for()
    page.get_by_text("Daily or almost daily").wait_for()
    page.get_by_role("button", name="Submit my answers").click()
    wait_for_app(page)
    page.get_by_text("your response was received", exact=False).wait_for()
    receipt = page.locator("[data-testid='stCode']").first.inner_text().strip()
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", receipt)
    # The page fits a phone: nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "survey-receipt-phone")
    with read_session(engine) as session:
        stored = session.scalar(select(func.count()).select_from(SurveyResponse).where(SurveyResponse.is_demo.is_(False)))
    assert stored == 1
    engine.dispose()
