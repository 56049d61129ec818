"""The sign-in and sign-out routes (streamlit_app/web_session.py) over HTTP: the cookie they set
and clear, the anti-forgery checks, the lockout and audit kept from storage.accounts, and where
they send the browser next."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from storage.accounts import create_user, validate_session
from storage.db import make_engine, read_session
from storage.models.accounts import AuditEvent, LoginSession
from streamlit_app.web_session import CSRF_COOKIE, SESSION_COOKIE, CsrfCookieMiddleware, session_routes

PASSWORD = "plum orchard lantern 42"
CSRF = "a-random-anti-forgery-value"


async def page(request):
    return PlainTextResponse("the app's page")


@pytest.fixture
def accounts_url(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ROADMAP_DATABASE_URL", database_url)
    engine = make_engine(database_url)
    create_user(engine, "lead1", "lead", password=PASSWORD)
    engine.dispose()
    return database_url


def client(base_url: str = "http://testserver") -> TestClient:
    app = Starlette(routes=[*session_routes(), Route("/{path:path}", page)], middleware=[Middleware(CsrfCookieMiddleware)])
    return TestClient(app, base_url=base_url, follow_redirects=False)


def post_sign_in(browser: TestClient, password: str = PASSWORD, *, csrf: str = CSRF, next_page: str = "estimates",
                 headers: dict[str, str] | None = None):
    browser.cookies.set(CSRF_COOKIE, CSRF)
    return browser.post("/session/sign-in", data={"username": "Lead1 ", "password": password, "csrf_token": csrf,
                                                  "next": next_page}, headers=headers or {})


def redirect_of(response) -> tuple[str, dict[str, list[str]]]:
    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    return location.path, parse_qs(location.query)


def session_cookie_header(response) -> str:
    return next(value for value in response.headers.get_list("set-cookie") if value.startswith(f"{SESSION_COOKIE}="))


def test_sign_in_sets_an_httponly_strict_session_cookie_and_opens_the_page(accounts_url: str):
    browser = client()
    response = post_sign_in(browser)
    assert redirect_of(response) == ("/estimates", {})
    header = session_cookie_header(response).lower()
    assert "httponly" in header and "samesite=strict" in header and "path=/" in header
    assert "secure" not in header and "max-age" not in header, "plain HTTP; ends with the browser"
    token = response.cookies[SESSION_COOKIE]
    engine = make_engine(accounts_url)
    try:
        assert validate_session(engine, token).username == "lead1"
        with read_session(engine) as session:
            assert session.scalar(select(LoginSession.token_hash)) != token, "only a digest is stored"
            actions = list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
        assert actions[-1] == "sign_in_success"
    finally:
        engine.dispose()


def test_over_https_the_cookie_is_secure(accounts_url: str):
    response = post_sign_in(client("https://testserver"))
    assert "secure" in session_cookie_header(response).lower()


@pytest.mark.parametrize(("csrf", "headers"), [
    ("", {}),
    ("not-the-cookie-value", {}),
    (CSRF, {"origin": "https://elsewhere.example"}),
], ids=["missing token", "wrong token", "another site"])
def test_a_forged_post_signs_nobody_in(accounts_url: str, csrf: str, headers: dict[str, str]):
    response = post_sign_in(client(), csrf=csrf, headers=headers)
    assert redirect_of(response) == ("/estimates", {"sign_in": ["form_expired"]})
    assert SESSION_COOKIE not in response.cookies
    with read_session(make_engine(accounts_url)) as session:
        assert session.scalar(select(LoginSession.id)) is None


def test_same_origin_posts_pass(accounts_url: str):
    response = post_sign_in(client(), headers={"origin": "http://testserver"})
    assert redirect_of(response) == ("/estimates", {})


def test_wrong_passwords_come_back_with_the_reason_and_lock_the_name(accounts_url: str):
    browser = client()
    reasons = [redirect_of(post_sign_in(browser, "not the password at all"))[1]["sign_in"][0] for _ in range(5)]
    assert reasons == ["bad_credentials"] * 4 + ["locked"]
    response = post_sign_in(browser)
    assert redirect_of(response)[1] == {"sign_in": ["locked"]}, "locked even with the right password"
    assert SESSION_COOKIE not in response.cookies


@pytest.mark.parametrize("next_page", ["https://evil.example/", "//evil.example", "/../admin", "a b"])
def test_the_page_to_open_is_only_ever_one_of_the_apps_pages(accounts_url: str, next_page: str):
    assert redirect_of(post_sign_in(client(), next_page=next_page))[0] == "/"


def test_sign_out_ends_the_session_and_clears_the_cookie(accounts_url: str):
    browser = client()
    token = post_sign_in(browser).cookies[SESSION_COOKIE]
    browser.cookies.set(SESSION_COOKIE, token)
    refused = browser.post("/session/sign-out", data={"csrf_token": "forged"})
    assert refused.status_code == 403
    engine = make_engine(accounts_url)
    try:
        assert validate_session(engine, token) is not None
        response = browser.post("/session/sign-out", data={"csrf_token": CSRF})
        assert redirect_of(response) == ("/", {})
        header = session_cookie_header(response).lower()
        assert 'roadmap_session=""' in header and "max-age=0" in header
        assert validate_session(engine, token) is None
        with read_session(engine) as session:
            assert list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))[-1] == "sign_out"
    finally:
        engine.dispose()


def test_a_page_load_gets_the_anti_forgery_cookie_once():
    browser = client()
    first = browser.get("/estimates", headers={"sec-fetch-mode": "navigate"})
    header = next(v for v in first.headers.get_list("set-cookie") if v.startswith(f"{CSRF_COOKIE}=")).lower()
    assert "httponly" in header and "samesite=strict" in header
    asset = client().get("/static/app.js", headers={"sec-fetch-mode": "no-cors"})
    assert "set-cookie" not in asset.headers, "asset requests would race to set different values"
    browser.cookies.set(CSRF_COOKIE, first.cookies[CSRF_COOKIE])
    again = browser.get("/estimates", headers={"sec-fetch-mode": "navigate"})
    assert "set-cookie" not in again.headers
