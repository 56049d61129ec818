"""End to end in Chromium: a facilitator runs a two-round workshop; three participants, each in
their own browser context, join with the code, rate, see round-1 feedback and re-rate.

Every key screen is saved to test-output/browser/workshop-*.png and checked with axe-core
(WCAG 2.2 AA; when node_modules/axe-core is installed): nothing serious or critical beyond the
Streamlit issues documented in docs/accessibility.md."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from analysis.consensus_rules import COMET_RULE
from storage.db import make_engine, read_session, write_session
from storage.migrate import upgrade_to_head
from storage.models.catalogue import Technology
from storage.models.workshop import Rating
from storage.workshops import Actor, create_workshop, get_workshop, load_workshop_results
from survey.workshop_rules import IMPACT_SCALE, WorkshopScales, parse_workshop_input
from tests.browser.accessibility import AXE_SCRIPT, blocking, run_axe
from tests.browser.conftest import screenshot, sign_in, wait_for_app

FACILITATOR = Actor("dev-facilitator", "facilitator")
GROUPS = ("Nurses", "Doctors", "Managers")
ROUND_ONE = {"Nurses": ("8", "2"), "Doctors": ("9", "5"), "Managers": ("7", "3")}
ROUND_TWO = {"Nurses": ("8", "2"), "Doctors": ("8", "2"), "Managers": ("7", "2")}
TIMEOUT = 30_000
KEY_SCREENS = [
    "facilitator-run-ready", "facilitator-round1-open", "participant-join", "participant-round1-form",
    "participant-round1", "facilitator-live-counts", "participant-waiting", "participant-round2-feedback",
    "participant-round2", "facilitator-closed", "participant-closed", "presenter",
]  # fmt: skip


def prepare_database(path: Path) -> tuple[str, int]:
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade_to_head(engine)
    with write_session(engine) as session:
        tools = [Technology(name="Sepsis alert", company="Co"), Technology(name="Letter drafting", company="Co")]
        session.add_all(tools)
        session.flush()
        ids = [tool.id for tool in tools]
    data = parse_workshop_input({
        "title": "Browser journey workshop", "scales": WorkshopScales(default=IMPACT_SCALE), "rule": COMET_RULE,
        "n_rounds": 2, "expires_at": datetime.now(UTC) + timedelta(days=1),
        "items": [{"technology_id": i, "question": "impact_workforce"} for i in ids],
        "groups": [{"name": name, "invited": 2} for name in GROUPS],
    })  # fmt: skip
    workshop_id = create_workshop(engine, data, actor=FACILITATOR)
    engine.dispose()
    return url, workshop_id


class ScreenCheck:
    """Saves a screenshot of a key screen and runs axe on the whole page. Violations are
    collected rather than raised, so one run of the journey reports every screen's problems."""

    def __init__(self) -> None:
        self.checked: list[str] = []
        self.problems: list[str] = []

    def __call__(self, page, name: str) -> None:
        screenshot(page, f"workshop-{name}")
        self.checked.append(name)
        if AXE_SCRIPT.exists():
            self.problems += [f"{name}: {violation}" for violation in blocking(run_axe(page, context_selector=None))]


def click_form_button(page, label: str) -> None:
    page.get_by_role("button", name=label).click()
    wait_for_app(page)


def rate(page, values: tuple[str, str], reason: str) -> None:
    groups = page.locator("[role='radiogroup']")
    for index, value in enumerate(values):
        groups.nth(index).get_by_text(f"{value} (", exact=False).first.click()
    page.get_by_label(re.compile("Reason")).first.fill(reason)
    click_form_button(page, "Save ratings")
    page.get_by_text("Saved 2 ratings", exact=False).wait_for(timeout=TIMEOUT)


def test_two_round_workshop_with_three_participants(server_factory, browser, tmp_path: Path) -> None:
    database_url, workshop_id = prepare_database(tmp_path / "journey.db")
    server = server_factory(database_url)
    engine = make_engine(database_url)
    code = get_workshop(engine, workshop_id, actor=FACILITATOR).join_code
    check = ScreenCheck()

    facilitator = browser.new_context().new_page()
    facilitator.goto(server.url)
    sign_in(facilitator, "Workshop facilitator")
    facilitator.get_by_role("link", name="Run workshop").click()
    wait_for_app(facilitator)
    facilitator.get_by_text(f"{code[:3]}-{code[3:]}").wait_for(timeout=TIMEOUT)
    check(facilitator, "facilitator-run-ready")
    click_form_button(facilitator, "Open round 1")
    facilitator.get_by_text("Round 1 is open.", exact=False).wait_for(timeout=TIMEOUT)
    check(facilitator, "facilitator-round1-open")

    participants = {}
    for group in GROUPS:
        page = browser.new_context().new_page()
        page.goto(f"{server.url}/join?join={code}")
        wait_for_app(page)
        if not participants:
            check(page, "participant-join")
        page.get_by_text(group, exact=True).click()
        click_form_button(page, "Join")
        page.get_by_text("Round 1 of 2").wait_for(timeout=TIMEOUT)
        if not participants:
            check(page, "participant-round1-form")
        participants[group] = page
    for group, page in participants.items():
        rate(page, ROUND_ONE[group], f"{group} view")
    check(participants["Nurses"], "participant-round1")

    # The live counts refresh by themselves (fragment every 3 s).
    facilitator.get_by_text("Completed").first.wait_for(timeout=TIMEOUT)
    facilitator.locator("[data-testid='stMetricValue']").filter(has_text=re.compile(r"^3$")).first.wait_for(timeout=TIMEOUT)
    check(facilitator, "facilitator-live-counts")
    click_form_button(facilitator, "Close round 1")
    for page in participants.values():
        page.get_by_text("Please wait for the facilitator to open round 2", exact=False).wait_for(timeout=TIMEOUT)
    check(participants["Managers"], "participant-waiting")
    click_form_button(facilitator, "Open round 2")
    for group, page in participants.items():
        page.get_by_text("Round 2 of 2").wait_for(timeout=TIMEOUT)  # the page moved on by itself
        page.get_by_text("Your rating in round 1:", exact=False).first.wait_for(timeout=TIMEOUT)
        expect(page.get_by_text(f"{ROUND_ONE[group][0]} (high impact)", exact=False).first).to_be_visible(timeout=TIMEOUT)
        if group == "Doctors":
            page.locator(".js-plotly-plot").first.wait_for(timeout=TIMEOUT)
            check(page, "participant-round2-feedback")
        rate(page, ROUND_TWO[group], "")
    check(participants["Doctors"], "participant-round2")

    facilitator.get_by_text("Yes, close the workshop", exact=True).click()
    click_form_button(facilitator, "Close workshop")
    facilitator.get_by_text("This workshop is closed", exact=False).first.wait_for(timeout=TIMEOUT)
    check(facilitator, "facilitator-closed")
    participants["Managers"].reload()
    wait_for_app(participants["Managers"])
    participants["Managers"].get_by_text("This workshop has closed", exact=False).wait_for(timeout=TIMEOUT)
    check(participants["Managers"], "participant-closed")

    facilitator.get_by_role("link", name="Presenter view").click()
    wait_for_app(facilitator)
    facilitator.locator(".js-plotly-plot").first.wait_for(timeout=TIMEOUT)
    check(facilitator, "presenter")

    with read_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Rating)) == 3 * 2 * 2
    results = load_workshop_results(engine).set_index("technology_id")
    # Round 2: item 1 rated 8, 8, 7 -> 100% high -> in; item 2 rated 2, 2, 2 -> out.
    assert results["round"].tolist() == [2, 2]
    assert results["consensus"].tolist() == ["in", "out"]
    assert results["category"].tolist() == ["high", "low"]
    engine.dispose()
    assert check.problems == [], "serious or critical accessibility violations:\n" + "\n".join(check.problems)
    assert check.checked == KEY_SCREENS


@pytest.fixture(autouse=True)
def _skip_without_playwright() -> None:
    pytest.importorskip("playwright")
