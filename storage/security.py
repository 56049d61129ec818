"""Secrets: where they come from, whether they are safe to run with, and the pseudonym keys.

Secrets live only in environment variables or in ``.streamlit/secrets.toml`` (the app passes
``st.secrets`` in; this module never imports Streamlit). An environment variable wins over
the secrets file.

Outside development (development = the loopback-only development sign-in is on), the app
refuses to start while a required secret is missing, too short or a known default value,
and says which one (:func:`configuration_problems`, :class:`InsecureConfiguration`).

Respondent identifiers are stored only as keyed HMAC-SHA256 pseudonyms, prefixed with the
key version (``"v1:" + hex``). To rotate: set ``ROADMAP_PSEUDONYM_KEY`` to the new key,
``ROADMAP_PSEUDONYM_KEY_VERSION`` to the next version (``v2``), and keep the old key in
``ROADMAP_PSEUDONYM_RETIRED_KEYS`` (``v1:<old key>``, several separated by ``;``) so old
pseudonyms can still be found, e.g. to erase a person's data.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PSEUDONYM_KEY_ENV = "ROADMAP_PSEUDONYM_KEY"
PSEUDONYM_VERSION_ENV = "ROADMAP_PSEUDONYM_KEY_VERSION"
RETIRED_KEYS_ENV = "ROADMAP_PSEUDONYM_RETIRED_KEYS"
DEFAULT_PSEUDONYM_VERSION = "v1"
# The same fixed key the survey code falls back to in development; never valid elsewhere.
DEVELOPMENT_PSEUDONYM_KEY = "development-only-pseudonym-key-not-for-real-data"
MIN_SECRET_LENGTH = 32
_VERSION_PATTERN = re.compile(r"^v[1-9][0-9]{0,3}$")
# Values that appear in examples and tutorials, or are otherwise guessable.
KNOWN_DEFAULT_VALUES = frozenset({
    "", "...", "changeme", "change-me", "change_me", "secret", "default", "password", "xxx", "todo",
    "a long random string", "your-secret-here", "replace-me", DEVELOPMENT_PSEUDONYM_KEY,
})


@dataclass(frozen=True)
class SecretSpec:
    """A secret the app needs outside development."""

    name: str
    purpose: str


REQUIRED_SECRETS = (
    SecretSpec(PSEUDONYM_KEY_ENV, "key of the HMAC pseudonyms of respondent identifiers"),
)
# Checked only when single sign-on is configured (the [auth] section of secrets.toml).
AUTH_SECRETS = (
    SecretSpec("cookie_secret", "signs the single sign-on cookie"),
    SecretSpec("client_secret", "authenticates this app to the identity provider"),
)


class InsecureConfiguration(RuntimeError):
    """The app must not start: ``problems`` says which secret is missing or unsafe."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("refusing to start: " + "; ".join(problems))


def lookup_secret(name: str, secrets: Mapping[str, Any] | None = None) -> str | None:
    """A secret's value: the environment variable ``name``, else ``secrets[name]`` (top level
    of secrets.toml); None when neither is set. Surrounding whitespace is ignored."""
    value = os.environ.get(name)
    if value is None and secrets is not None:
        try:
            raw = secrets.get(name) if hasattr(secrets, "get") else None
        except FileNotFoundError:  # st.secrets without a secrets file
            raw = None
        value = raw if isinstance(raw, str) else None
    if value is None:
        return None
    return value.strip()


def secret_problem(label: str, value: str | None) -> str | None:
    """Why ``value`` is not a usable secret (None when it is)."""
    if value is None or value == "":
        return f"{label} is missing"
    if value.lower() in KNOWN_DEFAULT_VALUES:
        return f"{label} is a known default value; set a long random secret"
    if len(value) < MIN_SECRET_LENGTH:
        return f"{label} is shorter than {MIN_SECRET_LENGTH} characters"
    return None


def configuration_problems(*, development: bool, secrets: Mapping[str, Any] | None = None,
                           auth_section: Mapping[str, Any] | None = None) -> list[str]:
    """Every reason the app must not start; empty when it may (always empty in development)."""
    if development:
        return []
    problems = []
    for spec in REQUIRED_SECRETS:
        problem = secret_problem(f"{spec.name} ({spec.purpose})", lookup_secret(spec.name, secrets))
        if problem:
            problems.append(problem)
    try:
        _version_and_retired(secrets)
    except InsecureConfiguration as error:
        problems.extend(error.problems)
    if auth_section is not None:
        for spec in AUTH_SECRETS:
            raw = auth_section.get(spec.name)
            problem = secret_problem(f"[auth] {spec.name} ({spec.purpose})", raw.strip() if isinstance(raw, str) else None)
            if problem and not (spec.name == "client_secret" and _has_provider_sections(auth_section)):
                problems.append(problem)
    return problems


def _has_provider_sections(auth_section: Mapping[str, Any]) -> bool:
    # With several providers ([auth.microsoft], ...) the client secret sits in each provider section.
    return any(isinstance(value, Mapping) for value in auth_section.values())


def ensure_secure_configuration(*, development: bool, secrets: Mapping[str, Any] | None = None,
                                auth_section: Mapping[str, Any] | None = None) -> None:
    problems = configuration_problems(development=development, secrets=secrets, auth_section=auth_section)
    if problems:
        raise InsecureConfiguration(problems)


def secret_status(secrets: Mapping[str, Any] | None = None, auth_section: Mapping[str, Any] | None = None) -> list[dict[str, str]]:
    """For the settings page: each secret's name, purpose and state ("set", or the problem),
    never its value."""
    rows = []
    for spec in REQUIRED_SECRETS:
        problem = secret_problem(spec.name, lookup_secret(spec.name, secrets))
        rows.append({"secret": spec.name, "purpose": spec.purpose, "status": problem or "set"})
    try:
        version, retired = _version_and_retired(secrets)
        rotation = f"current version {version}; {len(retired)} retired key(s)"
    except InsecureConfiguration as error:
        rotation = "; ".join(error.problems)
    rows.append({"secret": f"{PSEUDONYM_VERSION_ENV} / {RETIRED_KEYS_ENV}", "purpose": "pseudonym key rotation", "status": rotation})
    if auth_section is None:
        rows.append({"secret": "[auth]", "purpose": "single sign-on (OIDC)", "status": "not configured: local accounts are used"})
    else:
        for spec in AUTH_SECRETS:
            raw = auth_section.get(spec.name)
            problem = secret_problem(f"[auth] {spec.name}", raw.strip() if isinstance(raw, str) else None)
            rows.append({"secret": f"[auth] {spec.name}", "purpose": spec.purpose, "status": problem or "set"})
    return rows


@dataclass(frozen=True)
class PseudonymKeyRing:
    """The current pseudonym key and version, and retired keys by version."""

    current_version: str
    keys: Mapping[str, str]

    @property
    def current_key(self) -> str:
        return self.keys[self.current_version]


def _parse_retired(raw: str | None) -> dict[str, str]:
    retired: dict[str, str] = {}
    for part in (raw or "").split(";"):
        part = part.strip()
        if not part:
            continue
        version, separator, key = part.partition(":")
        if not separator or not _VERSION_PATTERN.fullmatch(version.strip()) or not key.strip():
            raise InsecureConfiguration([f"{RETIRED_KEYS_ENV}: each entry must be 'v<number>:<key>' separated by ';'"])
        retired[version.strip()] = key.strip()
    return retired


def _version_and_retired(secrets: Mapping[str, Any] | None) -> tuple[str, dict[str, str]]:
    version = lookup_secret(PSEUDONYM_VERSION_ENV, secrets) or DEFAULT_PSEUDONYM_VERSION
    if not _VERSION_PATTERN.fullmatch(version):
        raise InsecureConfiguration([f"{PSEUDONYM_VERSION_ENV} must look like v1, v2, ... (got {version[:20]!r})"])
    retired = _parse_retired(lookup_secret(RETIRED_KEYS_ENV, secrets))
    if version in retired:
        raise InsecureConfiguration([f"{RETIRED_KEYS_ENV} lists {version}, the current version: give the new key a new version"])
    return version, retired


def pseudonym_keyring(secrets: Mapping[str, Any] | None = None, *, development: bool = False) -> PseudonymKeyRing:
    """The configured key ring; in development without a key, the fixed development key."""
    key = lookup_secret(PSEUDONYM_KEY_ENV, secrets)
    version, retired = _version_and_retired(secrets)
    if not key:
        if not development:
            raise InsecureConfiguration([f"{PSEUDONYM_KEY_ENV} (key of the HMAC pseudonyms of respondent identifiers) is missing"])
        key = DEVELOPMENT_PSEUDONYM_KEY
    return PseudonymKeyRing(current_version=version, keys={**retired, version: key})


def _mac(identifier: str, key: str, purpose: str) -> str:
    return hmac.new(key.encode("utf-8"), f"{purpose}:{identifier}".encode(), hashlib.sha256).hexdigest()


def pseudonymise(identifier: str, keyring: PseudonymKeyRing, *, purpose: str = "respondent") -> str:
    """The pseudonym of ``identifier`` under the current key: ``"<version>:<hex HMAC-SHA256>"``.
    ``purpose`` separates uses of one key (the same person gets unrelated pseudonyms per purpose)."""
    return f"{keyring.current_version}:{_mac(identifier, keyring.current_key, purpose)}"


def pseudonym_candidates(identifier: str, keyring: PseudonymKeyRing, *, purpose: str = "respondent") -> list[str]:
    """The pseudonyms ``identifier`` has had under every key in the ring, current first."""
    versions = [keyring.current_version] + sorted(v for v in keyring.keys if v != keyring.current_version)
    return [f"{version}:{_mac(identifier, keyring.keys[version], purpose)}" for version in versions]
