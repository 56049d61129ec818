"""Shared fixtures: a migrated database on SQLite (always) and PostgreSQL (when
ROADMAP_TEST_POSTGRES_URL is set), isolated per test.

SQLite: the schema is migrated once per worker into a template file, which each test copies.
PostgreSQL: each xdist worker gets its own database, migrated once; each test starts from
empty tables (TRUNCATE) with the seed vocabularies reloaded.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from storage.db import make_engine
from storage.migrate import upgrade_to_head
from storage.models import Base
from storage.vocabularies import seed_vocabularies

POSTGRES_URL = os.environ.get("ROADMAP_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade_to_head(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_database(worker_id: str) -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need ROADMAP_TEST_POSTGRES_URL (set by .ci/run when a server answers)")
    name = f"roadmap_test_{worker_id}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    engine = make_engine(url)
    upgrade_to_head(engine)
    engine.dispose()
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def fresh_sqlite(template: Path, directory: Path) -> str:
    path = directory / f"roadmap-{uuid.uuid4().hex[:8]}.db"
    shutil.copy(template, path)
    return f"sqlite:///{path}"


def reset_postgres(url: str) -> None:
    engine = make_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    seed_vocabularies(engine)
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path) -> str:
    """URL of an empty, migrated, seeded database on each backend."""
    if request.param == "sqlite":
        return fresh_sqlite(sqlite_template, tmp_path)
    url = request.getfixturevalue("postgres_database")
    reset_postgres(url)
    return url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A migrated SQLite database only (for UI tests, which run against the default backend)."""
    return fresh_sqlite(sqlite_template, tmp_path)
