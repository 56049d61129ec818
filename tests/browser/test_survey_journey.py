"""Journey 1: a clinician on a phone opens a single-use invitation link, answers the clinician
survey for two AI tools, saves a draft, closes the browser, resumes with the code in a new browser
context, submits and sees the receipt.

The first two pages are answered with the keyboard alone (Tab, Space, arrow keys, Enter), and a
missing answer must be announced in words (an ARIA alert), not by colour. Every screen is saved to
test-output/browser/journey1-*.png and checked with axe-core (WCAG 2.2 AA) when it is installed."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect
from sqlalchemy import func, select

from storage.db import make_engine, read_session
from storage.demo import load_demo_catalogue
from storage.migrate import upgrade_to_head
from storage.models.catalogue import Technology
from storage.models.survey import SurveyAnswer, SurveyDraft, SurveyInvitation, SurveyResponse
from storage.surveys import CampaignInput, create_campaign, ensure_builtin_instruments
from survey.validation import REQUIRED_MESSAGE
from tests.browser.conftest import wait_for_app
from tests.browser.journey_checks import JourneyScreens, focused, tab_to

pytestmark = pytest.mark.browser
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
CODE_PATTERN = re.compile(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}")
FREQUENCY = "How often do you use this tool? (required)"
UNKNOWN_CODE = "AAAA-AAAA-AAAA-AAAA"
MINUTES = re.compile(r"^About how many minutes per case")


def prepare_database(url: str) -> str:
    """40 demo technologies, the built-in instruments, and an invitation campaign with one link."""
    engine = make_engine(url)
    upgrade_to_head(engine)
    load_demo_catalogue(engine, count=40)
    instruments = ensure_builtin_instruments(engine)
    created = create_campaign(engine, CampaignInput(
        instrument_id=instruments["clinician_experience"], title="Staff experience of AI tools", access="invitation",
        invitations=1, opens_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)))
    engine.dispose()
    return created.invitation_tokens[0]


def press(page, key: str) -> None:
    page.keyboard.press(key)
    wait_for_app(page)


def click_button(page, name: str) -> None:
    page.get_by_role("button", name=name).click()
    wait_for_app(page)


def choose_technology(page, exclude: tuple[str, ...] = ()) -> str:
    """Search the catalogue picker and choose the first match not already chosen; returns its name
    once it shows as chosen (so the next pick sees the updated list). A pick that a rerun swallowed
    on a busy machine is tried again."""
    picker = page.get_by_role("combobox", name="AI tools")
    chosen_tags = page.locator("[data-testid='stMultiSelectTagsContainer'] [data-tag]")
    for _attempt in range(3):
        wait_for_app(page)
        picker.click()
        picker.fill("")
        picker.press_sequentially("Demo", delay=20)
        options = page.get_by_role("option", name=re.compile(r"^Demo: "))
        options.first.wait_for()
        option = next(o for o in options.all() if o.inner_text().strip() not in exclude)
        name = option.inner_text().strip()
        option.click()
        page.keyboard.press("Escape")
        try:
            chosen_tags.filter(has_text=name).first.wait_for(timeout=10_000)
        except PlaywrightTimeoutError:
            continue
        wait_for_app(page)
        return name
    raise AssertionError(f"could not choose a technology (already chosen: {exclude})")


def technology_panel(page, name: str):
    return page.locator("[data-testid='stExpander']").filter(has=page.get_by_text(name, exact=True))


def answer_consent_and_profile_with_the_keyboard(page, screens: JourneyScreens) -> None:
    page.get_by_role("heading", name="About this survey").wait_for()
    screens(page, "consent")
    stops = tab_to(page, label="Yes")
    assert focused(page)["type"] == "radio"
    assert "Link to heading" not in stops, stops  # nothing but the page menu before the first question
    press(page, "Space")
    expect(page.get_by_role("radio", name="Yes")).to_be_checked()
    tab_to(page, text="Next")
    press(page, "Enter")

    # A required question left empty: the problem is said in words, in alerts screen readers announce.
    page.get_by_role("heading", name="About you and your role").wait_for()
    tab_to(page, text="Next")
    press(page, "Enter")
    alerts = page.get_by_role("alert")
    alerts.filter(has_text="Please check the 1 answer(s) marked on this page.").wait_for()
    expect(alerts).to_have_count(2)
    expect(alerts.nth(1)).to_have_text(re.compile(re.escape(REQUIRED_MESSAGE) + r"\s*$"))  # after the icon
    # The message sits under its question.
    expect(page.locator("[data-testid='stMain']")).to_contain_text(re.compile(
        r"Which staff group do you belong to\?[\s\S]*" + re.escape(REQUIRED_MESSAGE) + r"[\s\S]*Which clinical area"), use_inner_text=True)
    alerts.first.scroll_into_view_if_needed()
    screens(page, "profile-error")

    # Staff group: Tab into the radio group, arrow to "Nursing", then on to Next.
    page.keyboard.press("Shift+Tab")  # back from Next; the radio group is before it
    tab_to(page, label="Medical (doctor)", max_presses=60)
    assert focused(page)["type"] == "radio"
    press(page, "ArrowDown")
    expect(page.get_by_role("radio", name="Nursing")).to_be_checked()
    assert focused(page)["label"] == "Nursing"
    tab_to(page, text="Next")
    press(page, "Enter")
    page.get_by_role("heading", name="Which AI tools?").wait_for()
    expect(page.get_by_role("alert").filter(has_text="Please check")).to_have_count(0)


def test_invited_clinician_saves_a_draft_resumes_elsewhere_and_submits(browser, server_factory, sqlite_url: str) -> None:
    token = prepare_database(sqlite_url)
    server = server_factory(sqlite_url, ROADMAP_PSEUDONYM_KEY="browser-journey-key")
    screens = JourneyScreens("journey1")

    first_visit = browser.new_context(**PHONE)
    page = first_visit.new_page()
    page.goto(f"{server.url}/take-survey?i={token}")
    wait_for_app(page)
    answer_consent_and_profile_with_the_keyboard(page, screens)

    first = choose_technology(page)
    chosen = [first, choose_technology(page, exclude=(first,))]
    assert chosen[0] != chosen[1]
    screens(page, "picker")
    click_button(page, "Next")

    page.get_by_text(FREQUENCY).first.wait_for()
    first_panel = technology_panel(page, chosen[0])
    first_panel.get_by_text("Daily or almost daily", exact=True).click()
    wait_for_app(page)
    first_panel.get_by_text("It saves time", exact=True).click()
    wait_for_app(page)
    first_panel.get_by_label(MINUTES).fill("12")
    first_panel.get_by_label(MINUTES).press("Enter")
    wait_for_app(page)
    screens(page, "technology-first")
    click_button(page, "Save and continue later")
    page.get_by_text("Your answers are saved.", exact=False).wait_for()
    code = page.locator("[data-testid='stCode']").first
    expect(code).to_have_text(re.compile(r"^\s*" + CODE_PATTERN.pattern + r"\s*$"))
    resume_code = code.inner_text().strip()
    screens(page, "draft-saved")
    first_visit.close()  # the phone's browser is closed: nothing survives but the resume code

    second_visit = browser.new_context(**PHONE)
    page = second_visit.new_page()
    page.goto(f"{server.url}/take-survey")
    wait_for_app(page)
    assert resume_code != UNKNOWN_CODE
    page.get_by_label("Resume code").fill(UNKNOWN_CODE)
    click_button(page, "Open my saved answers")
    page.get_by_role("alert").filter(has_text="That resume code does not open any saved answers.").wait_for()
    page.get_by_label("Resume code").fill(resume_code)
    screens(page, "resume")
    click_button(page, "Open my saved answers")
    page.get_by_text(FREQUENCY).first.wait_for()
    first_panel = technology_panel(page, chosen[0])
    expect(first_panel.get_by_role("radio", name="Daily or almost daily")).to_be_checked()
    expect(first_panel.get_by_label(MINUTES)).to_have_value("12")
    second_panel = technology_panel(page, chosen[1])
    second_panel.get_by_text(chosen[1], exact=True).click()  # open its collapsed section
    second_panel.get_by_text("At least once a week", exact=True).click()
    wait_for_app(page)
    screens(page, "technology-second")
    click_button(page, "Next")
    page.get_by_role("heading", name="Anything else").wait_for()
    click_button(page, "Next")

    page.get_by_role("heading", name="Check your answers").wait_for()
    review = page.locator("[data-testid='stMain']")
    for name, frequency in zip(chosen, ("Daily or almost daily", "At least once a week"), strict=True):
        # Within this tool's section (before the next tool's heading): its frequency.
        expect(review).to_contain_text(re.compile(
            re.escape(f"For each AI tool you use or know of — {name}") + r"(?:(?!For each AI tool)[\s\S])*"
            + re.escape("How often do you use this tool?") + r"\s*" + re.escape(frequency)), use_inner_text=True)
    expect(review).to_contain_text(re.compile(
        re.escape("About how many minutes per case, patient or task does it save or add?") + r"\s*12\b"), use_inner_text=True)
    screens(page, "review")
    click_button(page, "Submit my answers")
    page.get_by_text("your response was received", exact=False).wait_for()
    code = page.locator("[data-testid='stCode']").first
    expect(code).to_have_text(re.compile(r"^\s*" + CODE_PATTERN.pattern + r"\s*$"))
    receipt = code.inner_text().strip()
    assert receipt != resume_code
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["viewport"]["width"]  # fits the phone
    screens(page, "receipt")
    second_visit.close()

    engine = make_engine(sqlite_url)
    with read_session(engine) as session:
        responses = session.scalars(select(SurveyResponse)).all()
        frequencies = dict(session.execute(
            select(Technology.name, SurveyAnswer.value).join(Technology, SurveyAnswer.technology_id == Technology.id)
            .where(SurveyAnswer.variable == "tech_use_frequency")).all())
        minutes = session.scalars(select(SurveyAnswer.value).where(SurveyAnswer.variable == "tech_minutes_per_case")).all()
        shared = dict(session.execute(select(SurveyAnswer.variable, SurveyAnswer.value)
                                      .where(SurveyAnswer.technology_id.is_(None))).all())
        invitation = session.scalars(select(SurveyInvitation)).one()
        drafts = session.scalar(select(func.count()).select_from(SurveyDraft))
    engine.dispose()
    assert len(responses) == 1  # one response, whatever the draft and the second browser did
    assert frequencies == {chosen[0]: "daily", chosen[1]: "weekly"}
    assert [float(value) for value in minutes] == [12.0]
    assert shared["consent"] == "yes" and shared["staff_group"] == "nurse"
    assert invitation.used_at is not None and invitation.response_id == responses[0].id
    assert drafts == 0  # submitting removed the draft
    screens.assert_accessible()
