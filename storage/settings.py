"""Where the database lives and other deployment settings, read from the environment.

One place decides the database URL so that the app, the CLI and the tests agree:
the explicit argument (CLI ``--database-url``) wins, then ``ROADMAP_DATABASE_URL``,
then a SQLite file in the project's git-ignored ``data/`` folder.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("ROADMAP_DATA_DIR", PROJECT_ROOT / "data"))
DATABASE_URL_ENV = "ROADMAP_DATABASE_URL"


def default_sqlite_url() -> str:
    return f"sqlite:///{DATA_DIR / 'roadmap.db'}"


def database_url(explicit: str | None = None) -> str:
    """The database URL to use: explicit value, then environment, then the SQLite default."""
    url = explicit or os.environ.get(DATABASE_URL_ENV) or default_sqlite_url()
    # Accept the common short forms and pin the driver we ship (psycopg 3).
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def env_flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}
