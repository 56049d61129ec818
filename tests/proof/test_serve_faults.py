"""Faults in a served deployment (scripts/serve.sh, two app processes behind nginx), in the system
Chromium:

- one app process is killed mid-workshop: participants on the other carry on; those on the
  killed one reconnect to a live one, with their seat, their saved ratings and the facilitator's
  sign-in intact;
- PostgreSQL stops for 10 seconds: participants and people signing in are told clearly, and
  everything works again afterwards without restarting anything.
"""

from __future__ import annotations

import os
import re
import signal
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect
from websockets.sync.client import connect

from analysis.consensus_rules import COMET_RULE
from storage.accounts import create_user
from storage.db import make_engine, write_session
from storage.models.catalogue import Technology
from storage.workshops import Actor, create_workshop, get_workshop, open_round, participant_ratings
from survey.workshop_rules import parse_workshop_input
from tests.browser.conftest import wait_for_app
from tests.conftest import POSTGRES_URL
from tests.proof.private_postgres import private_postgres, unavailable_reason
from tests.proof.serving import drop_database, nginx_path, scratch_database, serve

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(nginx_path() is None, reason="nginx not found (install the Debian package 'nginx'; .ci/run does)")]

PASSWORD = "plum orchard lantern 42"
SAVED = re.compile(r"Saved \d+ ratings for round 1")
SAVE_FAILED = "Your ratings could not be saved just now"
TIMEOUT = 90_000


def make_workshop(database_url: str, items: int = 2) -> tuple[str, list[int]]:
    """A facilitator account and a workshop with round 1 open; (join code, item ids)."""
    engine = make_engine(database_url)
    try:
        facilitator = create_user(engine, "facilitator1", "facilitator", password=PASSWORD)
        with write_session(engine) as session:
            tools = [Technology(name=f"Fault tool {n}", company="Fault Ltd") for n in range(1, items + 1)]
            session.add_all(tools)
            session.flush()
            ids = [tool.id for tool in tools]
        actor = Actor(facilitator.user_key, "facilitator")
        workshop_id = create_workshop(engine, parse_workshop_input({
            "title": "Fault workshop", "rule": COMET_RULE, "n_rounds": 2, "expires_at": datetime.now(UTC) + timedelta(days=1),
            "items": [{"technology_id": i, "question": "impact_workforce"} for i in ids],
            "groups": [{"name": "Nurses"}, {"name": "Doctors"}]}), actor=actor)
        open_round(engine, workshop_id, actor=actor)
        workshop = get_workshop(engine, workshop_id, actor=actor)
        return workshop.join_code, [item.id for item in workshop.items]
    finally:
        engine.dispose()


def route_to_each_process(deployment) -> list[str]:
    """A value of nginx's affinity cookie that lands on each app process, found by opening a
    websocket with candidate values and seeing which process counted the session."""
    found: dict[int, str] = {}
    for _attempt in range(40):
        value = uuid.uuid4().hex
        before = deployment.connects()
        with connect(deployment.url.replace("http", "ws") + "/_stcore/stream", subprotocols=["streamlit"],
                     additional_headers={"Cookie": f"roadmap_route={value}"}):
            pass
        deadline = time.monotonic() + 10
        while (after := deployment.connects()) == before and time.monotonic() < deadline:
            time.sleep(0.1)
        landed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if b > a]
        if len(landed) == 1:
            found.setdefault(landed[0], value)
        if len(found) == deployment.workers:
            return [found[i] for i in range(deployment.workers)]
    raise AssertionError(f"could not find a route to every process: {found}")


def browser_on(browser, deployment, route: str):
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    host = deployment.url.split("//", 1)[1].split(":")[0]
    context.add_cookies([{"name": "roadmap_route", "value": route, "domain": host, "path": "/"}])
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    return page


def join(page, url: str, code: str, group: str) -> str:
    """Join the workshop; returns the participant's seat token (from the page address)."""
    page.goto(f"{url}/join?join={code}")
    wait_for_app(page, TIMEOUT)
    page.get_by_text(group, exact=True).click()
    page.get_by_role("button", name="Join").click()
    expect(page.get_by_text("Round 1 of 2")).to_be_visible()
    wait_for_app(page, TIMEOUT)
    return re.search(r"[?&]p=([^&]+)", page.url).group(1)


def rate(page, values: list[int]) -> None:
    groups = page.locator("[role='radiogroup']")
    for position, value in enumerate(values):
        groups.nth(position).get_by_text(re.compile(rf"^{value} \(")).click()
    page.get_by_role("button", name="Save ratings").click()


def stored_ratings(database_url: str, token: str, expected: dict[int, tuple[int, str]]) -> dict:
    """The participant's round-1 ratings once they equal ``expected`` (a confirmation on screen
    may still be the previous save's while the last one is being written), or as they stand."""
    engine = make_engine(database_url)
    try:
        deadline = time.monotonic() + 30
        while (stored := participant_ratings(engine, token, 1)) != expected and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        engine.dispose()
    assert stored == expected, stored
    return stored


def sign_in(page, url: str) -> None:
    page.goto(f"{url}/run-workshop")
    wait_for_app(page, TIMEOUT)
    page.get_by_label("User name").fill("facilitator1")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    wait_for_app(page, TIMEOUT)


@pytest.mark.skipif(not POSTGRES_URL, reason="serving several processes needs PostgreSQL: set ROADMAP_TEST_POSTGRES_URL")
def test_killing_an_app_process_mid_workshop_loses_no_rating_and_no_sign_in(browser, tmp_path: Path):
    admin_url, database_url = scratch_database(POSTGRES_URL)
    try:
        with serve(database_url, tmp_path / "run", workers=2) as deployment:
            code, item_ids = make_workshop(database_url)
            doomed, survivor = route_to_each_process(deployment)
            facilitator = browser_on(browser, deployment, doomed)
            sign_in(facilitator, deployment.url)
            expect(facilitator.get_by_role("heading", name="Run workshop")).to_be_visible()
            on_doomed, on_survivor = browser_on(browser, deployment, doomed), browser_on(browser, deployment, survivor)
            doomed_token = join(on_doomed, deployment.url, code, "Nurses")
            survivor_token = join(on_survivor, deployment.url, code, "Doctors")
            rate(on_doomed, [7, 8])
            expect(on_doomed.get_by_text(SAVED)).to_be_visible()
            rate(on_survivor, [2, 3])
            expect(on_survivor.get_by_text(SAVED)).to_be_visible()

            killed = deployment.worker_pids()[0]
            os.kill(killed, signal.SIGKILL)
            # The other process's participant carries on while the first is down.
            rate(on_survivor, [4, 5])
            expect(on_survivor.get_by_text(SAVED)).to_be_visible()
            # The killed process's participant reconnects (to a live process) with their seat and
            # their saved ratings, and saves again. The page drawn afresh after reconnecting no
            # longer shows the earlier save's confirmation.
            expect(on_doomed.get_by_text(SAVED)).to_have_count(0)
            expect(on_doomed.get_by_text("Round 1 of 2")).to_be_visible()
            expect(on_doomed.get_by_text("Saved: 2 of 2 items rated in this round.")).to_be_visible()
            wait_for_app(on_doomed, TIMEOUT)
            rate(on_doomed, [9, 1])
            expect(on_doomed.get_by_text(SAVED)).to_be_visible()
            # The facilitator is still signed in after reconnecting, and after a reload.
            expect(facilitator.get_by_text("Signed in as")).to_be_visible()
            facilitator.reload()
            wait_for_app(facilitator, TIMEOUT)
            expect(facilitator.get_by_role("heading", name="Run workshop")).to_be_visible()
            expect(facilitator.get_by_text("Signed in as")).to_be_visible()
            assert deployment.process.poll() is None, "serve.sh keeps serving"

            assert stored_ratings(database_url, doomed_token, {item_ids[0]: (9, ""), item_ids[1]: (1, "")})
            assert stored_ratings(database_url, survivor_token, {item_ids[0]: (4, ""), item_ids[1]: (5, "")})
            # serve.sh noticed and started a new process in place of the killed one.
            deadline = time.monotonic() + 60
            while deployment.worker_pids()[0] == killed and time.monotonic() < deadline:
                time.sleep(0.5)
            assert deployment.worker_pids()[0] != killed
    finally:
        drop_database(admin_url, database_url)


@pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))
def test_a_ten_second_database_outage_is_explained_and_recovered_from_without_a_restart(browser, tmp_path: Path):
    with private_postgres() as database:
        url = database.create_database("roadmap_serve_outage")
        with serve(url, tmp_path / "run", workers=2) as deployment:
            code, item_ids = make_workshop(url)
            pids = deployment.worker_pids()
            participant = browser_on(browser, deployment, "participant")
            token = join(participant, deployment.url, code, "Nurses")
            rate(participant, [6, 7])
            expect(participant.get_by_text(SAVED)).to_be_visible()
            facilitator = browser_on(browser, deployment, "facilitator")
            facilitator.goto(f"{deployment.url}/run-workshop")
            wait_for_app(facilitator, TIMEOUT)

            database.stop()
            stopped = time.monotonic()
            rate(participant, [8, 9])
            expect(participant.get_by_text(SAVE_FAILED)).to_be_visible()
            assert participant.locator("[data-testid='stException']").count() == 0, "no traceback"
            facilitator.get_by_label("User name").fill("facilitator1")
            facilitator.get_by_label("Password", exact=True).fill(PASSWORD)
            facilitator.get_by_role("button", name="Sign in").click()
            expect(facilitator.get_by_text("The database is not reachable just now, so nobody can sign in.")).to_be_visible()
            assert facilitator.locator("[data-testid='stException']").count() == 0, "no traceback"
            time.sleep(max(0.0, 10 - (time.monotonic() - stopped)))
            database.start()

            # The same processes save and sign in again once the database is back.
            participant.get_by_role("button", name="Save ratings").click()
            expect(participant.get_by_text(SAVED)).to_be_visible()
            sign_in(facilitator, deployment.url)
            expect(facilitator.get_by_role("heading", name="Run workshop")).to_be_visible()
            assert deployment.worker_pids() == pids and deployment.process.poll() is None, "nothing was restarted"
            assert stored_ratings(url, token, {item_ids[0]: (8, ""), item_ids[1]: (9, "")})
