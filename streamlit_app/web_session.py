"""Server routes for local sign-in and sign-out, and the browser's session cookie.

Streamlit's script cannot set a cookie, so local sign-in is an ordinary HTML form posted to
:func:`sign_in` (a Starlette route of the ``st.App`` in ``streamlit_app/server.py``), which checks
the password (lockout and audit as before, in ``storage.accounts``), opens a login session in
the database and sets the session cookie:

- ``roadmap_session``: the random token; ``HttpOnly`` (page scripts never see it),
  ``SameSite=Strict``, ``Path=/``, ``Secure`` when the request came over HTTPS (uvicorn trusts
  ``X-Forwarded-Proto`` from the local reverse proxy). No ``Max-Age``: it ends when the browser
  closes, and the database ends it sooner (idle and absolute limits, sign-out, disabling, a
  password or role change). Only its SHA-256 digest is stored, so any app process can check it.
- ``roadmap_csrf``: a random value set on page loads (:class:`CsrfCookieMiddleware`); the page
  script reads it from the websocket's cookies and puts it in the sign-in and sign-out forms, and
  the routes refuse a post whose field does not match the cookie or whose ``Origin`` is another
  site. Both cookies are ``SameSite=Strict``, so a post from another site carries neither.

A refused sign-in redirects back to the page with ``?sign_in=<reason>`` (a code, never the user
name), which the sign-in page turns into its message.
"""

from __future__ import annotations

import hmac
import re
import secrets
import sys
import threading
from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from storage import accounts
from storage.db import make_engine
from storage.settings import database_url

SESSION_COOKIE = "roadmap_session"
CSRF_COOKIE = "roadmap_csrf"
SIGN_IN_PATH = "session/sign-in"
SIGN_OUT_PATH = "session/sign-out"
SIGN_IN_RESULT_PARAM = "sign_in"
# Refusals the sign-in page explains, beyond storage.accounts.SignInRefused's reasons.
FORM_EXPIRED = "form_expired"
UNAVAILABLE = "unavailable"
# A page address to return to: one of the app's url paths (letters, digits, hyphens), never a URL.
_PAGE_PATH = re.compile(r"^[a-z0-9-]{0,60}$")
_MAX_FORM_FIELDS = 8

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def routes_engine() -> Engine:
    """The engine the routes use, one per database URL and process, made on first use (the pages
    have their own, cached by Streamlit; the schema is migrated by whoever started the server)."""
    url = database_url()
    with _engines_lock:
        if url not in _engines:
            _engines[url] = make_engine(url)
        return _engines[url]


def base_path() -> str:
    """``server.baseUrlPath`` as "/prefix" (empty when the app is served at the root)."""
    from streamlit import config

    prefix = str(config.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{prefix}" if prefix else ""


def route_url(path: str) -> str:
    """The address of one of these routes as the browser sees it."""
    return f"{base_path()}/{path}"


def page_url(page: str, **params: str) -> str:
    query = f"?{urlencode(params)}" if params else ""
    return f"{base_path()}/{page}{query}"


def safe_page(value: object) -> str:
    """The page to return to after the form: only an app page path, so the form cannot be used
    to send someone to another site."""
    text = str(value or "").strip().strip("/")
    return text if _PAGE_PATH.fullmatch(text) else ""


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def same_origin(request: Request) -> bool:
    """A browser names the page a form was posted from in ``Origin``; it must be this host. (A
    post without Origin comes from no browser of ours and still has to pass the token check.)"""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == request.headers.get("host", "")


def csrf_valid(request: Request, supplied: object) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    return bool(cookie) and isinstance(supplied, str) and hmac.compare_digest(cookie, supplied) and same_origin(request)


def set_cookie(response: Response, request: Request, name: str, value: str) -> None:
    response.set_cookie(name, value, path="/", httponly=True, samesite="strict", secure=is_https(request))


async def _form(request: Request) -> dict[str, str]:
    form = await request.form(max_files=0, max_fields=_MAX_FORM_FIELDS)
    return {key: value for key, value in form.items() if isinstance(value, str)}


def _back(page: str, reason: str) -> RedirectResponse:
    return RedirectResponse(page_url(page, **{SIGN_IN_RESULT_PARAM: reason}), status_code=303)


async def sign_in(request: Request) -> Response:
    """POST user name, password, csrf_token and next (the page to open): set the session cookie
    and open the page, or return to it with the reason for the refusal."""
    form = await _form(request)
    page = safe_page(form.get("next"))
    if not csrf_valid(request, form.get("csrf_token")):
        return _back(page, FORM_EXPIRED)
    username = form.get("username", "")[:254]
    password = form.get("password", "")[:accounts.MAX_PASSWORD_LENGTH]
    try:
        signed_in = await run_in_threadpool(accounts.sign_in, routes_engine(), username, password)
    except accounts.SignInRefused as refusal:
        return _back(page, refusal.reason)
    except DBAPIError as error:
        print(f"sign-in failed: the database is unreachable ({type(error).__name__})", file=sys.stderr)
        return _back(page, UNAVAILABLE)
    response = RedirectResponse(page_url(page), status_code=303)
    set_cookie(response, request, SESSION_COOKIE, signed_in.token)
    return response


async def sign_out(request: Request) -> Response:
    """POST csrf_token: end the login session in the database and clear the cookie."""
    form = await _form(request)
    if not csrf_valid(request, form.get("csrf_token")):
        return PlainTextResponse("This sign-out form has expired: reload the page and try again.", status_code=403)
    token = request.cookies.get(SESSION_COOKIE)
    try:
        await run_in_threadpool(accounts.sign_out, routes_engine(), token)
    except DBAPIError as error:
        # The cookie is cleared below all the same; the session then ends at its idle limit.
        print(f"sign-out could not reach the database ({type(error).__name__})", file=sys.stderr)
    response = RedirectResponse(page_url(""), status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=is_https(request))
    return response


def session_routes() -> list[Route]:
    return [
        Route(route_url(SIGN_IN_PATH), sign_in, methods=["POST"]),
        Route(route_url(SIGN_OUT_PATH), sign_out, methods=["POST"]),
    ]


class CsrfCookieMiddleware:
    """Give a browser the anti-forgery cookie on a page load (a top-level GET navigation) when it
    has none. Only on navigations: the many asset requests of one load would otherwise race to
    set different values."""

    def __init__(self, app: ASGIApp, new_token: Callable[[], str] = lambda: secrets.token_urlsafe(32)) -> None:
        self.app = app
        self.new_token = new_token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or not _is_navigation(scope):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if request.cookies.get(CSRF_COOKIE):
            await self.app(scope, receive, send)
            return
        token = self.new_token()

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                carrier = Response()
                set_cookie(carrier, request, CSRF_COOKIE, token)
                headers = MutableHeaders(scope=message)
                headers.append("set-cookie", carrier.headers["set-cookie"])
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _is_navigation(scope: Scope) -> bool:
    headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
    if "sec-fetch-mode" in headers:
        return headers["sec-fetch-mode"] == "navigate"
    return "text/html" in headers.get("accept", "")
