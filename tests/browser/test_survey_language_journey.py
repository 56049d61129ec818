"""Journey: a respondent whose browser prefers Welsh opens a bilingual survey, which starts in
Welsh (from Accept-Language); they answer part of it, switch back to English mid-way, finish and
submit. Every answer survives the switch, the form's own buttons follow the language (a Welsh
file of the form's words is dropped into ROADMAP_LOCALE_DIR), and the response is stored with the
language it was submitted in."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from storage.db import make_engine, read_session
from storage.migrate import upgrade_to_head
from storage.models.survey import SurveyResponse
from storage.surveys import CampaignInput, create_campaign, save_instrument
from survey.xlsform import import_xlsform
from tests.browser.conftest import screenshot, wait_for_app

pytestmark = pytest.mark.browser
BILINGUAL = Path(__file__).resolve().parents[1] / "fixtures" / "survey" / "xlsform_bilingual.csv"
WELSH_WORDS = {"language": "[cy] Iaith", "next": "[cy] Nesaf", "back": "[cy] Yn ôl", "required_suffix": " [cy] (gofynnol)"}


def prepare_database(url: str) -> str:
    """The bilingual instrument and an open campaign with no language of its own."""
    engine = make_engine(url)
    upgrade_to_head(engine)
    instrument_id = save_instrument(engine, import_xlsform(BILINGUAL.read_bytes(), BILINGUAL.name).instrument, "xlsform")
    created = create_campaign(engine, CampaignInput(instrument_id=instrument_id, title="Arolwg staff / Staff survey",
                                                    opens_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)))
    engine.dispose()
    return created.link_token


def click(page, locator) -> None:
    locator.click()
    wait_for_app(page)


def test_a_welsh_respondent_switches_to_english_mid_way_and_keeps_every_answer(browser, server_factory, sqlite_url: str,
                                                                              tmp_path: Path) -> None:
    token = prepare_database(sqlite_url)
    locales = tmp_path / "locales"
    locales.mkdir()
    (locales / "cy.json").write_text(json.dumps(WELSH_WORDS), encoding="utf-8")
    server = server_factory(sqlite_url, ROADMAP_PSEUDONYM_KEY="browser-language-key", ROADMAP_LOCALE_DIR=str(locales))

    context = browser.new_context(locale="cy-GB", viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{server.url}/take-survey?c={token}")
    wait_for_app(page)
    main = page.locator("[data-testid='stMain']")
    expect(main).to_contain_text("[cy] Croeso i arolwg y staff")  # the browser's language
    expect(page.get_by_role("radio", name="Cymraeg")).to_be_checked()
    click(page, page.get_by_text("[cy] Ydw", exact=True))
    click(page, page.get_by_role("button", name="[cy] Nesaf"))

    expect(page.get_by_role("heading", name="[cy] Amdanoch chi")).to_be_visible()
    # Labels are markdown-escaped ("\\[cy\\]"); the accessible name may keep the escapes.
    name = page.get_by_label(re.compile(r"^\\?\[cy\\?\] Beth ddylen ni eich galw chi\?"))
    name.fill("Sam")
    name.press("Enter")
    wait_for_app(page)
    years = page.get_by_label(re.compile(r"^\\?\[cy\\?\] Sawl blwyddyn"))
    years.fill("4")
    years.press("Enter")
    wait_for_app(page)
    screenshot(page, "language-journey-welsh")

    click(page, page.get_by_text("English", exact=True))  # back to English, mid-page
    expect(page.get_by_role("heading", name="About you")).to_be_visible()
    expect(page.get_by_label("What should we call you?")).to_have_value("Sam")
    expect(page.get_by_label(re.compile(r"^How many years have you worked here"))).to_have_value("4")
    expect(page.get_by_role("button", name="Next")).to_be_visible()
    expect(main).not_to_contain_text("[cy]")
    screenshot(page, "language-journey-english")
    click(page, page.get_by_role("button", name="Next"))

    expect(page.get_by_role("heading", name="Your views")).to_be_visible()
    click(page, page.get_by_text("Agree", exact=True))
    click(page, page.get_by_role("button", name="Next"))
    expect(page.get_by_role("heading", name="Check your answers")).to_be_visible()
    expect(main).to_contain_text(re.compile(r"Do you agree to take part\?\s*Yes"), use_inner_text=True)
    expect(main).to_contain_text(re.compile(r"What should we call you\?\s*Sam"), use_inner_text=True)
    click(page, page.get_by_role("button", name="Submit my answers"))
    expect(main).to_contain_text("your response was received")
    screenshot(page, "language-journey-submitted")
    context.close()

    engine = make_engine(sqlite_url)
    with read_session(engine) as session:
        language, document = session.execute(select(SurveyResponse.language, SurveyResponse.document)).one()
    engine.dispose()
    assert language == "en"
    assert document["answers"] == {"consent": "yes", "name": "Sam", "years": 4, "useful": "3"}
