"""AppTest: local sign-in, lockout, expiry and sign-out; single sign-on with an injected identity;
the refusal to start on unsafe secrets; the admin pages; downloads and refusals in the audit trail."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from streamlit.testing.v1 import AppTest

from storage.accounts import create_user, disable_user, reset_password, set_role, sign_in, sign_out
from storage.db import make_engine, read_session, write_session
from storage.models.accounts import AuditEvent, LoginSession, UserAccount
from storage.models.base import utcnow
from streamlit_app.web_session import CSRF_COOKIE, SESSION_COOKIE
from tests.ui.helpers import APP, COOKIE_PREFIX, html_bodies, open_app, prepare_environment, texts

PASSWORD = "plum orchard lantern 42"
GOOD_KEY = "an-adequately-long-random-pseudonym-key-0123456789"
AUTH = {"redirect_uri": "https://roadmap.example/oauth2callback", "cookie_secret": "c" * 40, "client_id": "roadmap",
        "client_secret": "s" * 40, "server_metadata_url": "https://login.example/.well-known/openid-configuration"}


def audit(url: str, action: str) -> list[AuditEvent]:
    with read_session(make_engine(url)) as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


@pytest.fixture
def production_url(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """No development sign-in, a proper pseudonym key, and one local account per role."""
    prepare_environment(monkeypatch, sqlite_url, dev_login=False)
    monkeypatch.setenv("ROADMAP_PSEUDONYM_KEY", GOOD_KEY)
    engine = make_engine(sqlite_url)
    for role in ("respondent", "facilitator", "lead", "admin"):
        create_user(engine, f"{role}1", role, password=PASSWORD, display_name=f"{role.title()} <b>One</b>")
    engine.dispose()
    return sqlite_url


def signed_in_app(url: str, username: str, password: str = PASSWORD) -> AppTest:
    """The app in a browser that signed in through the sign-in route: it sends the session cookie
    (the route itself is tested in tests/test_web_session.py and the browser tests)."""
    token = sign_in(make_engine(url), username, password).token
    return open_app(None, cookies={SESSION_COOKIE: token, CSRF_COOKIE: "csrf-value"})


# --- configuration -----------------------------------------------------------------------------

def test_the_app_refuses_to_start_without_a_pseudonym_key_and_says_which(sqlite_url: str, monkeypatch) -> None:
    prepare_environment(monkeypatch, sqlite_url, dev_login=False)
    monkeypatch.setenv("ROADMAP_PSEUDONYM_KEY", "changeme")
    at = open_app(None)
    assert "not configured safely" in at.error[0].value
    problems = at.dataframe[0].value["problem"].tolist()
    assert problems == ["ROADMAP_PSEUDONYM_KEY (key of the HMAC pseudonyms of respondent identifiers) is a known default value; set a long random secret"]
    assert not at.text_input and not at.radio


def test_development_mode_needs_no_secrets(sqlite_url: str, monkeypatch) -> None:
    prepare_environment(monkeypatch, sqlite_url)
    monkeypatch.delenv("ROADMAP_PSEUDONYM_KEY", raising=False)
    at = open_app(None)
    assert "Development sign-in" in texts(at) and len(at.radio) == 1


# --- local accounts ------------------------------------------------------------------------------

def test_the_sign_in_page_offers_the_form_that_posts_to_the_sign_in_route(production_url: str) -> None:
    at = open_app(None, cookies={CSRF_COOKIE: "csrf-value"})
    assert not at.radio, "no development picker outside development"
    form = html_bodies(at)[0]
    assert 'action="/session/sign-in"' in form and 'method="post"' in form
    assert 'name="csrf_token" value="csrf-value"' in form and 'name="next" value=""' in form
    assert 'autocomplete="current-password"' in form


def test_without_cookies_the_page_says_sign_in_needs_them(production_url: str) -> None:
    at = open_app(None)
    assert at.warning[0].value.startswith("Signing in needs cookies")
    assert not html_bodies(at)


def test_a_refused_sign_in_comes_back_with_its_reason(production_url: str) -> None:
    at = open_app(None, query={"sign_in": "locked"}, cookies={CSRF_COOKIE: "csrf-value"})
    assert at.error[0].value == "Too many failed attempts: this account is locked for 15 minutes."
    assert "sign_in" not in at.query_params, "the reason is shown once"
    unknown = open_app(None, query={"sign_in": "<script>"}, cookies={CSRF_COOKIE: "csrf-value"})
    assert unknown.error[0].value == "Wrong user name or password."


def test_the_session_cookie_signs_in_and_the_sign_out_form_posts_to_its_route(production_url: str) -> None:
    at = signed_in_app(production_url, "lead1")
    assert at.title[0].value == "AI Workforce Roadmap" and at.metric, "the lead's home page"
    caption = at.sidebar.caption[0].value
    assert caption == "Signed in as **Lead \\<b\\>One\\</b\\>** · Lead / analyst", "the display name is escaped"
    sign_out_form = html_bodies(at)[0]
    assert 'action="/session/sign-out"' in sign_out_form and 'value="csrf-value"' in sign_out_form


@pytest.mark.parametrize("ending", ["idle", "absolute", "sign_out", "disabled", "role_change", "password_reset"])
def test_an_ended_session_signs_out_at_the_next_run_and_says_so(production_url: str, ending: str) -> None:
    at = signed_in_app(production_url, "facilitator1")
    assert at.metric
    engine = make_engine(production_url)
    token = at.session_state[f"{COOKIE_PREFIX}{SESSION_COOKIE}"]
    with write_session(engine) as session:
        if ending == "idle":
            session.execute(update(LoginSession).values(last_seen_at=utcnow() - timedelta(hours=8, minutes=1)))
        elif ending == "absolute":
            session.execute(update(LoginSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    if ending == "sign_out":
        sign_out(engine, token)
    elif ending == "disabled":
        disable_user(engine, "facilitator1")
    elif ending == "role_change":
        set_role(engine, "facilitator1", "lead")
    elif ending == "password_reset":
        reset_password(engine, "facilitator1", "a completely new passphrase")
    at.run()
    assert "Your session has ended. Please sign in again." in texts(at)
    assert not at.metric and 'action="/session/sign-in"' in html_bodies(at)[0]


def test_a_local_user_changes_their_password_on_my_account(production_url: str) -> None:
    at = signed_in_app(production_url, "facilitator1")
    elsewhere = signed_in_app(production_url, "facilitator1")
    at.switch_page("views/my_account.py")
    at.run()
    assert "Signed in as **Facilitator \\<b\\>One\\</b\\>**" in texts(at)

    def change(current: str, new: str, repeat: str) -> None:
        at.text_input(key="own_password_current").set_value(current)
        at.text_input(key="own_password_new").set_value(new)
        at.text_input(key="own_password_repeat").set_value(repeat)
        at.button(key="FormSubmitter:change_password-Change password").click().run()
        assert not at.exception, [e.message for e in at.exception]

    change(PASSWORD, "a brand new passphrase", "a brand new passphrase typo")
    assert at.error[0].value == "Not changed (1 problem)"
    assert at.dataframe[-1].value["problem"].tolist() == ["the two new passwords differ"]
    change("not my password at all", "a brand new passphrase", "a brand new passphrase")
    assert at.dataframe[-1].value["problem"].tolist() == ["the current password is wrong"]
    change(PASSWORD, "a brand new passphrase", "a brand new passphrase")
    assert "Password changed. Any other sessions of yours have been signed out." in [s.value for s in at.success]
    assert at.title[0].value == "My account", "still signed in here"
    elsewhere.run()
    assert "Your session has ended. Please sign in again." in texts(elsewhere)
    assert signed_in_app(production_url, "facilitator1", "a brand new passphrase").metric, "the new password works"
    assert [e.outcome for e in audit(production_url, "password_change")] == ["refused", "success"]


@pytest.mark.parametrize("role", ["respondent", "facilitator", "lead", "admin"])
def test_my_account_explains_when_there_is_no_password_here(sqlite_url: str, monkeypatch, role: str) -> None:
    prepare_environment(monkeypatch, sqlite_url)
    at = open_app(role, "my_account.py")
    assert "This is the development sign-in, which has no password." in texts(at)
    assert not at.text_input, "no password form for the development sign-in"


def test_single_sign_on_users_are_told_their_password_is_managed_elsewhere(sqlite_url: str, monkeypatch) -> None:
    prepare_environment(monkeypatch, sqlite_url, dev_login=False)
    monkeypatch.setenv("ROADMAP_PSEUDONYM_KEY", GOOD_KEY)
    create_user(make_engine(sqlite_url), "dana@nhs.net", "lead", email="dana@nhs.net")
    at = sso_app({"is_logged_in": True, "email": "dana@nhs.net", "name": "Dana"})
    at.run()
    at.switch_page("views/my_account.py")
    at.run()
    assert not at.exception
    assert "your password is managed there" in texts(at) and not at.text_input


# --- single sign-on ------------------------------------------------------------------------------

@pytest.fixture
def sso_url(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    prepare_environment(monkeypatch, sqlite_url, dev_login=False)
    monkeypatch.setenv("ROADMAP_PSEUDONYM_KEY", GOOD_KEY)
    return sqlite_url


def sso_app(user: dict) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["auth"] = AUTH
    at.user = user
    return at


def test_single_sign_on_button_when_signed_out(sso_url: str) -> None:
    at = sso_app({"is_logged_in": False})
    at.run()
    assert not at.exception
    assert [b.label for b in at.button] == ["Sign in with your organisation account"]
    assert not at.text_input, "no password form when single sign-on is configured"


def test_single_sign_on_user_waits_for_a_role_then_gets_in(sso_url: str) -> None:
    at = sso_app({"is_logged_in": True, "email": "Dana@NHS.net", "name": "Dana <script>alert(1)</script>"})
    at.run()
    assert not at.exception
    assert "has no role in this app yet" in texts(at)
    [created] = audit(sso_url, "user_create")
    assert created.details == {"method": "sso", "role": None}
    set_role(make_engine(sso_url), "dana@nhs.net", "facilitator")
    at.run()
    assert not at.exception and at.metric, "signed in as a facilitator now"
    assert "Workshop facilitator" in at.sidebar.caption[0].value
    assert "\\<script\\>" in at.sidebar.caption[0].value
    assert [e.details["method"] for e in audit(sso_url, "sign_in_success")] == ["sso"]
    at.switch_page("views/workshop_setup.py")
    at.run()
    assert not at.exception
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("views/catalogue_admin.py")


def test_single_sign_on_with_weak_cookie_secret_refuses_to_start(sso_url: str) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["auth"] = AUTH | {"cookie_secret": "short"}
    at.user = {"is_logged_in": True, "email": "dana@nhs.net"}
    at.run()
    assert at.dataframe[0].value["problem"].tolist() == ["[auth] cookie_secret (signs the single sign-on cookie) is shorter than 32 characters"]


# --- administration pages --------------------------------------------------------------------------

def test_admin_creates_a_user_changes_a_role_and_disables(sqlite_url: str, monkeypatch) -> None:
    prepare_environment(monkeypatch, sqlite_url)
    at = open_app("admin", "admin_users.py")
    at.text_input(key="user_add_username").set_value("erin")
    at.text_input(key="user_add_password").set_value("short")
    at.text_input(key="user_add_repeat").set_value("short")
    at.button(key="FormSubmitter:add_user-Create user").click().run()
    assert "the password must have at least 12 characters" in at.dataframe[-1].value["problem"].tolist()
    at.text_input(key="user_add_password").set_value(PASSWORD)
    at.text_input(key="user_add_repeat").set_value(PASSWORD)
    at.button(key="FormSubmitter:add_user-Create user").click().run()
    assert "Created erin (Respondent (clinician or staff))." in [s.value for s in at.success]
    assert at.dataframe[0].value["User name"].tolist() == ["erin"]
    at.selectbox(key="role_user").set_value("erin")
    at.selectbox(key="role_new").set_value("lead")
    at.button(key="FormSubmitter:change_role-Change role").click().run()
    assert "erin is now: Lead / analyst." in [s.value for s in at.success]
    at.selectbox(key="disable_user_choice").set_value("erin")
    at.text_input(key="disable_confirm").set_value("DISABLE")
    at.button(key="FormSubmitter:disable_user-Disable account").click().run()
    assert at.dataframe[0].value["Active"].tolist() == ["no"]
    events = [(e.action, e.actor, e.role) for e in audit(sqlite_url, "user_create") + audit(sqlite_url, "role_change") + audit(sqlite_url, "user_disable")]
    assert events == [("user_create", "dev-admin", "admin"), ("role_change", "dev-admin", "admin"), ("user_disable", "dev-admin", "admin")]


def test_admin_resets_a_forgotten_password_and_re_enables_an_account(sqlite_url: str, monkeypatch) -> None:
    from storage.accounts import SignInRefused, disable_user, sign_in

    prepare_environment(monkeypatch, sqlite_url)
    engine = make_engine(sqlite_url)
    create_user(engine, "erin", "lead", password=PASSWORD)
    disable_user(engine, "erin")
    at = open_app("admin", "admin_users.py")
    at.selectbox(key="reset_user").set_value("erin")
    at.text_input(key="reset_password").set_value("erin")
    at.text_input(key="reset_repeat").set_value("erin")
    at.button(key="FormSubmitter:reset_password-Set the new password").click().run()
    assert at.dataframe[-1].value["problem"].tolist() == ["the password must have at least 12 characters",
                                                          "the password must not be the user name"]
    at.selectbox(key="reset_user").set_value("erin")
    at.text_input(key="reset_password").set_value("a temporary passphrase")
    at.text_input(key="reset_repeat").set_value("a temporary passphrase")
    at.button(key="FormSubmitter:reset_password-Set the new password").click().run()
    assert "New password set for erin; their sessions have ended." in [s.value for s in at.success]
    with pytest.raises(SignInRefused, match="disabled"):
        sign_in(engine, "erin", "a temporary passphrase")
    at.selectbox(key="enable_user_choice").set_value("erin")
    at.button(key="FormSubmitter:enable_user-Re-enable account").click().run()
    assert "Re-enabled erin; they can sign in again." in [s.value for s in at.success]
    assert at.dataframe[0].value["Active"].tolist() == ["yes"]
    assert "No account is disabled." in texts(at)
    assert sign_in(engine, "erin", "a temporary passphrase").account.username == "erin"
    assert [(e.action, e.actor) for e in audit(sqlite_url, "password_reset") + audit(sqlite_url, "user_enable")] == [
        ("password_reset", "dev-admin"), ("user_enable", "dev-admin")]



def test_audit_page_filters_events(sqlite_url: str, monkeypatch) -> None:
    prepare_environment(monkeypatch, sqlite_url)
    refused = AppTest.from_file(str(Path(APP).parent / "views" / "admin_audit.py"), default_timeout=60)
    refused.session_state["dev_role"] = "lead"
    refused.run()
    at = open_app("admin", "admin_audit.py")
    frame = at.dataframe[0].value
    assert "access_refused" in frame["Action"].tolist()
    assert frame.loc[frame["Action"] == "access_refused", "Target"].tolist() == ["page:admin_audit"]
    at.multiselect(key="audit_outcomes").set_value(["success"]).run()
    assert "access_refused" not in at.dataframe[0].value["Action"].tolist()
    at.multiselect(key="audit_outcomes").set_value([]).run()
    at.text_input(key="audit_actor").set_value("dev-lead").run()
    assert set(at.dataframe[0].value["Actor"]) == {"dev-lead"}


def test_settings_page_shows_secrets_and_purges(sqlite_url: str, monkeypatch) -> None:
    prepare_environment(monkeypatch, sqlite_url)
    monkeypatch.setenv("ROADMAP_RETENTION_DAYS", "90")
    monkeypatch.setenv("ROADMAP_PSEUDONYM_KEY", GOOD_KEY)
    at = open_app("admin", "admin_settings.py")
    assert "Drafts and raw free text are kept for **90 days**" in texts(at)
    secrets = at.dataframe[1].value
    assert secrets.set_index("secret").loc["ROADMAP_PSEUDONYM_KEY", "status"] == "set"
    assert GOOD_KEY not in secrets.to_string()
    at.button(key="purge_now").click().run()
    assert any(s.value.startswith("Purged: accounts 0") for s in at.success)
    [event] = audit(sqlite_url, "retention_purge")
    assert event.details["days"] == 90 and event.actor == "dev-admin"


def test_settings_page_states_the_disclosure_threshold_and_warns_when_it_is_off(sqlite_url: str, monkeypatch) -> None:
    prepare_environment(monkeypatch, sqlite_url)
    monkeypatch.setenv("ROADMAP_PSEUDONYM_KEY", GOOD_KEY)
    monkeypatch.setenv("ROADMAP_DISCLOSURE_THRESHOLD", "7")
    at = open_app("admin", "admin_settings.py")
    assert "only from **7 or more respondents**" in texts(at)
    monkeypatch.setenv("ROADMAP_DISCLOSURE_THRESHOLD", "1")
    at = open_app("admin", "admin_settings.py")
    assert any("ROADMAP_DISCLOSURE_OFF_ACKNOWLEDGED" in e.value for e in at.error)
    monkeypatch.setenv("ROADMAP_DISCLOSURE_OFF_ACKNOWLEDGED", "individual answers can be identified")
    at = open_app("admin", "admin_settings.py")
    assert any("Disclosure control is OFF" in w.value for w in at.warning)


def test_downloads_are_recorded(sqlite_url: str, monkeypatch) -> None:
    prepare_environment(monkeypatch, sqlite_url)

    def script() -> None:
        import streamlit as st

        from streamlit_app.widgets import record_download

        st.session_state["dev_role"] = "lead"
        record_download("catalogue view ../x", "xlsx", 12)

    at = AppTest.from_function(script, default_timeout=60)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    [event] = audit(sqlite_url, "download")
    assert (event.actor, event.role, event.target, event.details) == ("dev-lead", "lead", "file:catalogue_view_.._x", {"format": "xlsx", "rows": 12})


def test_single_sign_on_misconfiguration_is_explained(sso_url: str) -> None:
    """Without Authlib (or with a broken [auth] section) the button explains instead of failing."""
    try:
        import authlib  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("Authlib is installed: st.login() would start a real redirect")
    at = sso_app({"is_logged_in": False})
    at.run()
    at.button(key="sso_sign_in").click().run()
    assert not at.exception
    assert any("Single sign-on is not set up correctly" in e.value for e in at.error)
