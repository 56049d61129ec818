"""Secrets of the survey workflow: link tokens, resume and receipt codes, respondent pseudonyms.

- Link tokens (open campaign links and single-use invitations) are ``secrets.token_urlsafe(24)``:
  192 random bits, URL-safe, never typed by hand.
- Resume and receipt codes are typed or read aloud, so they use Crockford's base-32 alphabet
  (no I, L, O or U; typing O for 0 or I/L for 1 is forgiven): 16 characters = 80 random bits,
  shown as four groups of four (``7KQ2-9XMD-4HTA-E3VN``).
- Only SHA-256 digests of tokens and codes are stored.
- Pseudonyms are HMAC-SHA256 under a server key, prefixed with the key version ("v1:") so the
  key can be rotated without confusing old and new pseudonyms.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

from storage.settings import env_flag

CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_GROUPS = 4
CODE_GROUP_LENGTH = 4
CODE_LENGTH = CODE_GROUPS * CODE_GROUP_LENGTH
LINK_TOKEN_BYTES = 24
PSEUDONYM_KEY_ENV = "ROADMAP_PSEUDONYM_KEY"
PSEUDONYM_VERSION = "v1"
# Only for local development (ROADMAP_DEV_LOGIN=1): pseudonyms made with it are not secret.
DEVELOPMENT_PSEUDONYM_KEY = "development-only-pseudonym-key-not-for-real-data"
_TYPING_FIXES = str.maketrans({"O": "0", "I": "1", "L": "1"})


class PseudonymKeyMissing(RuntimeError):
    """No pseudonym key is configured (and development mode is off)."""


def digest(secret: str) -> str:
    """The stored form of a token or code: hex SHA-256."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_link_token() -> str:
    return secrets.token_urlsafe(LINK_TOKEN_BYTES)


def new_code() -> str:
    """A fresh resume or receipt code, formatted in groups (80 random bits)."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i:i + CODE_GROUP_LENGTH] for i in range(0, CODE_LENGTH, CODE_GROUP_LENGTH))


def normalise_code(text: str) -> str | None:
    """The canonical grouped form of a typed code, or None if it cannot be one.

    Case, spaces and dashes do not matter; O is read as 0 and I/L as 1.
    """
    compact = "".join(ch for ch in str(text).upper() if ch not in " -\t\n").translate(_TYPING_FIXES)
    if len(compact) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in compact):
        return None
    return "-".join(compact[i:i + CODE_GROUP_LENGTH] for i in range(0, CODE_LENGTH, CODE_GROUP_LENGTH))


def code_digest(text: str) -> str | None:
    """Digest of a typed code after normalising it (None if it is not a well-formed code)."""
    code = normalise_code(text)
    return None if code is None else digest(code)


def pseudonym_key_from_environment() -> str:
    """The pseudonym key from ``ROADMAP_PSEUDONYM_KEY``; a fixed development key only when
    ``ROADMAP_DEV_LOGIN=1``; otherwise :class:`PseudonymKeyMissing`."""
    key = os.environ.get(PSEUDONYM_KEY_ENV, "").strip()
    if key:
        return key
    if env_flag("ROADMAP_DEV_LOGIN"):
        return DEVELOPMENT_PSEUDONYM_KEY
    raise PseudonymKeyMissing(f"set {PSEUDONYM_KEY_ENV} (a long random secret) to store or export pseudonymised identifiers")


def pseudonymise(identifier: str, key: str, *, purpose: str = "respondent") -> str:
    """A keyed, versioned pseudonym of ``identifier``; the purpose separates uses of one key."""
    if not key:
        raise PseudonymKeyMissing("the pseudonym key is empty")
    mac = hmac.new(key.encode("utf-8"), f"{purpose}:{identifier}".encode(), hashlib.sha256)
    return f"{PSEUDONYM_VERSION}:{mac.hexdigest()}"


def derived_code(key: str, message: str) -> str:
    """A code computed from ``message`` under a secret key (80 bits of HMAC-SHA256 in the code alphabet).

    The form derives a submission's receipt code from its idempotency key this way, so a refresh
    or a second tab that repeats the submission shows the same receipt without storing it.
    """
    if not key:
        raise PseudonymKeyMissing("the key is empty")
    mac = hmac.new(key.encode("utf-8"), f"receipt:{message}".encode(), hashlib.sha256).digest()
    number = int.from_bytes(mac[:10], "big")  # 80 bits = 16 characters of 5 bits
    raw = "".join(CODE_ALPHABET[(number >> (5 * (CODE_LENGTH - 1 - i))) & 31] for i in range(CODE_LENGTH))
    return "-".join(raw[i:i + CODE_GROUP_LENGTH] for i in range(0, CODE_LENGTH, CODE_GROUP_LENGTH))
