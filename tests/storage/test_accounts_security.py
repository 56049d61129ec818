"""Secrets lookup, the refusal to start with missing or default secrets, and versioned pseudonym keys."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from storage import security
from storage.security import (
    InsecureConfiguration,
    configuration_problems,
    ensure_secure_configuration,
    lookup_secret,
    pseudonym_candidates,
    pseudonym_keyring,
    pseudonymise,
    secret_status,
)

GOOD_KEY = "k" * 20 + "-random-enough-0123456789"
GOOD_AUTH = {"cookie_secret": "c" * 40, "client_secret": "s" * 40, "client_id": "app", "redirect_uri": "https://x/oauth2callback"}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (security.PSEUDONYM_KEY_ENV, security.PSEUDONYM_VERSION_ENV, security.RETIRED_KEYS_ENV):
        monkeypatch.delenv(name, raising=False)


def test_environment_wins_over_the_secrets_file(monkeypatch) -> None:
    secrets = {security.PSEUDONYM_KEY_ENV: "  from-secrets-file  "}
    assert lookup_secret(security.PSEUDONYM_KEY_ENV, secrets) == "from-secrets-file"
    monkeypatch.setenv(security.PSEUDONYM_KEY_ENV, "from-environment")
    assert lookup_secret(security.PSEUDONYM_KEY_ENV, secrets) == "from-environment"
    assert lookup_secret("ROADMAP_NOT_SET", None) is None


@pytest.mark.parametrize(("value", "problem"), [
    (None, "ROADMAP_PSEUDONYM_KEY (key of the HMAC pseudonyms of respondent identifiers) is missing"),
    ("", "ROADMAP_PSEUDONYM_KEY (key of the HMAC pseudonyms of respondent identifiers) is missing"),
    ("changeme", "ROADMAP_PSEUDONYM_KEY (key of the HMAC pseudonyms of respondent identifiers) is a known default value; set a long random secret"),
    (security.DEVELOPMENT_PSEUDONYM_KEY, "ROADMAP_PSEUDONYM_KEY (key of the HMAC pseudonyms of respondent identifiers) is a known default value; set a long random secret"),
    ("too-short-key", "ROADMAP_PSEUDONYM_KEY (key of the HMAC pseudonyms of respondent identifiers) is shorter than 32 characters"),
])
def test_outside_development_a_bad_pseudonym_key_stops_the_app_and_is_named(value, problem) -> None:
    secrets = {} if value is None else {security.PSEUDONYM_KEY_ENV: value}
    assert configuration_problems(development=False, secrets=secrets) == [problem]
    with pytest.raises(InsecureConfiguration, match="refusing to start: ROADMAP_PSEUDONYM_KEY"):
        ensure_secure_configuration(development=False, secrets=secrets)


def test_development_needs_no_secrets() -> None:
    assert configuration_problems(development=True, secrets=None) == []
    ring = pseudonym_keyring(None, development=True)
    assert ring.current_key == security.DEVELOPMENT_PSEUDONYM_KEY


def test_single_sign_on_secrets_are_checked_when_configured() -> None:
    secrets = {security.PSEUDONYM_KEY_ENV: GOOD_KEY}
    assert configuration_problems(development=False, secrets=secrets, auth_section=GOOD_AUTH) == []
    weak = GOOD_AUTH | {"cookie_secret": "a long random string"}
    del weak["client_secret"]
    assert configuration_problems(development=False, secrets=secrets, auth_section=weak) == [
        "[auth] cookie_secret (signs the single sign-on cookie) is a known default value; set a long random secret",
        "[auth] client_secret (authenticates this app to the identity provider) is missing",
    ]
    # With provider sections ([auth.microsoft]) the client secret lives in the provider section.
    per_provider = {"cookie_secret": "c" * 40, "redirect_uri": "https://x", "microsoft": {"client_id": "a", "client_secret": "b"}}
    assert configuration_problems(development=False, secrets=secrets, auth_section=per_provider) == []


def test_secret_status_never_shows_values() -> None:
    rows = secret_status({security.PSEUDONYM_KEY_ENV: GOOD_KEY}, GOOD_AUTH)
    assert GOOD_KEY not in repr(rows) and GOOD_AUTH["cookie_secret"] not in repr(rows)
    assert [r["status"] for r in rows] == ["set", "current version v1; 0 retired key(s)", "set", "set"]


def test_pseudonyms_are_versioned_keyed_hmacs() -> None:
    ring = pseudonym_keyring({security.PSEUDONYM_KEY_ENV: GOOD_KEY})
    expected = hmac.new(GOOD_KEY.encode(), b"respondent:user:12", hashlib.sha256).hexdigest()
    assert pseudonymise("user:12", ring) == f"v1:{expected}"
    assert pseudonymise("user:12", ring, purpose="workshop") != pseudonymise("user:12", ring)


def test_the_survey_code_and_this_module_agree_on_pseudonyms() -> None:
    from storage import survey_codes

    assert survey_codes.PSEUDONYM_KEY_ENV == security.PSEUDONYM_KEY_ENV
    assert survey_codes.DEVELOPMENT_PSEUDONYM_KEY == security.DEVELOPMENT_PSEUDONYM_KEY
    ring = pseudonym_keyring({security.PSEUDONYM_KEY_ENV: GOOD_KEY})
    assert survey_codes.pseudonymise("user:12", GOOD_KEY) == pseudonymise("user:12", ring)


def test_key_rotation_keeps_old_pseudonyms_findable() -> None:
    old_key, new_key = "o" * 40, "n" * 40
    old_ring = pseudonym_keyring({security.PSEUDONYM_KEY_ENV: old_key})
    stored_before_rotation = pseudonymise("user:12", old_ring)
    rotated = pseudonym_keyring({security.PSEUDONYM_KEY_ENV: new_key, security.PSEUDONYM_VERSION_ENV: "v2",
                                 security.RETIRED_KEYS_ENV: f"v1:{old_key}"})
    assert pseudonymise("user:12", rotated).startswith("v2:")
    candidates = pseudonym_candidates("user:12", rotated)
    assert candidates[0] == pseudonymise("user:12", rotated) and candidates[1] == stored_before_rotation


@pytest.mark.parametrize(("settings", "message"), [
    ({security.PSEUDONYM_VERSION_ENV: "version2"}, "must look like v1, v2"),
    ({security.RETIRED_KEYS_ENV: "no-version-here"}, "each entry must be 'v<number>:<key>'"),
    ({security.RETIRED_KEYS_ENV: "v1:old"}, "lists v1, the current version"),
])
def test_malformed_rotation_settings_are_refused(settings: dict, message: str) -> None:
    secrets = {security.PSEUDONYM_KEY_ENV: GOOD_KEY} | settings
    with pytest.raises(InsecureConfiguration, match=message):
        pseudonym_keyring(secrets)
    assert any(message.split("'")[0] in p for p in configuration_problems(development=False, secrets=secrets))
