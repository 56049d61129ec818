"""Journey: each role signs in with a local account in the system Chromium, sees exactly its
menu from navigation.PAGES, and cannot open a page outside it by URL; a link to a page asks for
sign-in at that address, then opens the page; the sign-in survives a reload and a new tab (an
HttpOnly cookie page scripts cannot read) until sign-out."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from storage.accounts import create_user
from storage.db import make_engine, read_session
from storage.demo import load_demo_catalogue
from storage.models.accounts import AuditEvent
from streamlit_app.navigation import PAGES
from tests.browser.conftest import screenshot, wait_for_app

PASSWORD = "plum orchard lantern 42"
ROLES = ("respondent", "facilitator", "lead", "admin")
# A page each role must not reach, opened by typing its URL.
REFUSED_URL = {"respondent": "manage-catalogue", "facilitator": "admin-users", "lead": "admin-audit", "admin": "manage-catalogue"}


@pytest.fixture
def server(server_factory, sqlite_url: str):
    engine = make_engine(sqlite_url)
    load_demo_catalogue(engine, count=20)
    for role in ROLES:
        create_user(engine, f"{role}1", role, password=PASSWORD)
    engine.dispose()
    # Not development: no role picker, the password form only.
    return server_factory(sqlite_url, ROADMAP_DEV_LOGIN="0", ROADMAP_PSEUDONYM_KEY="browser-test-key-" + "k" * 32)


def expect_menu(page, titles: list[str]) -> None:
    """The page menu settles on exactly these titles, in order (retrying: reruns redraw it)."""
    more = page.get_by_role("button", name=re.compile(r"View \d+ more"))
    if more.count():
        more.first.click()
    # Each link reads "<icon ligature>\n\n<title>".
    links = page.locator("[data-testid='stSidebarNavLink']")
    expect(links).to_have_text([re.compile(re.escape(title) + r"\s*$") for title in titles], use_inner_text=True)


def sign_in_with_password(page, username: str, password: str) -> None:
    wait_for_app(page)
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    wait_for_app(page)


@pytest.mark.parametrize("role", ROLES)
def test_each_role_sees_its_menu_and_is_refused_other_urls(browser, server, role: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(server.url)
    sign_in_with_password(page, f"{role}1", "not the password at all")
    page.get_by_text("Wrong user name or password.").wait_for()
    sign_in_with_password(page, f"{role}1", PASSWORD)
    page.get_by_text("Signed in as").wait_for()
    expected = [spec.title for spec in PAGES if role in spec.roles]
    expect_menu(page, expected)
    screenshot(page, f"sign-in-{role}-menu")

    refused = next(spec for spec in PAGES if spec.url_path == REFUSED_URL[role])
    assert role not in refused.roles
    # Typed into the same browser, still signed in: the address says the role cannot open it.
    page.goto(f"{server.url}/{refused.url_path}")
    page.get_by_text(f"The link you followed opens {refused.title}, which your role").wait_for()
    expect(page.get_by_role("heading", name=refused.title)).to_have_count(0)
    expect(page.get_by_text("Page not found")).to_have_count(0)
    with read_session(make_engine(server.database_url)) as session:
        refusals = session.scalars(select(AuditEvent.target).where(AuditEvent.action == "access_refused")).all()
    assert f"page:{refused.file.removesuffix('.py')}" in refusals, "the refusal is audited"
    # Another browser, signed out: the address asks for sign-in first, then says the same.
    elsewhere = browser.new_context().new_page()
    elsewhere.goto(f"{server.url}/{refused.url_path}")
    elsewhere.get_by_text(f"Sign in to open {refused.title}.").wait_for()
    sign_in_with_password(elsewhere, f"{role}1", PASSWORD)
    expect(elsewhere.get_by_text(f"The link you followed opens {refused.title}, which your role")).to_be_visible()
    assert elsewhere.url.endswith(f"/{refused.url_path}")
    elsewhere.context.close()
    page.close()


def test_a_link_to_a_page_opens_it_after_sign_in(browser, server) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(f"{server.url}/estimates")
    page.get_by_text("Sign in to open Estimates.").wait_for()
    expect(page.get_by_text("Page not found")).to_have_count(0)
    screenshot(page, "sign-in-for-a-link")
    sign_in_with_password(page, "lead1", PASSWORD)
    page.get_by_role("heading", name="Estimates").first.wait_for(timeout=60_000)
    assert page.url.endswith("/estimates")
    expect(page.get_by_text("The link you followed")).to_have_count(0)
    page.close()


def test_sign_out_returns_to_the_sign_in_form(browser, server) -> None:
    page = browser.new_page()
    page.goto(server.url)
    sign_in_with_password(page, "admin1", PASSWORD)
    page.get_by_role("link", name="Audit trail", exact=True).click()
    wait_for_app(page)
    page.get_by_role("heading", name="Audit trail").wait_for()
    page.get_by_role("button", name="Sign out").click()
    wait_for_app(page)
    expect(page.get_by_label("User name")).to_have_count(1)
    page.close()


def test_local_sign_in_survives_a_reload_and_a_new_tab_until_sign_out(browser, server) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.goto(f"{server.url}/estimates")
    sign_in_with_password(page, "lead1", PASSWORD)
    expect(page.get_by_role("heading", name="Estimates").first).to_be_visible(timeout=60_000)

    cookie = next(c for c in context.cookies() if c["name"] == "roadmap_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
    assert not cookie["secure"], "plain HTTP on loopback: Secure would stop the browser sending it back"
    assert cookie["value"] not in page.evaluate("document.cookie"), "page scripts must not see the token"
    assert "roadmap_session" not in page.evaluate("document.cookie")

    page.reload()
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Estimates").first).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Signed in as")).to_be_visible()

    tab = context.new_page()
    tab.goto(f"{server.url}/admin-audit")
    wait_for_app(tab)
    expect(tab.get_by_text("The link you followed opens Audit trail, which your role")).to_be_visible()
    expect(tab.get_by_text("Signed in as")).to_be_visible()
    tab.close()

    page.get_by_role("button", name="Sign out").click()
    wait_for_app(page)
    expect(page.get_by_label("User name")).to_have_count(1)
    assert all(c["name"] != "roadmap_session" for c in context.cookies()), "sign-out clears the cookie"
    page.reload()
    wait_for_app(page)
    expect(page.get_by_label("User name")).to_have_count(1)
    expect(page.get_by_text("Signed in as")).to_have_count(0)
    context.close()
