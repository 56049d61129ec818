"""Schema upgrades through Alembic, the only source of schema.

Both the app and the CLI call :func:`upgrade_to_head` on start. Two processes starting at
once must not both run a migration, so the upgrade runs under a lock: a PostgreSQL advisory
lock, or on SQLite an exclusive file lock beside the database file. The second process
waits, then finds the database already at head and does nothing.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_PG_LOCK_KEY = 7_310_412_001  # arbitrary constant shared by every process of this app


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@contextmanager
def _sqlite_file_lock(engine: Engine) -> Iterator[None]:
    database = engine.url.database
    if not database or database == ":memory:":
        yield
        return
    lock_path = Path(database).with_name(Path(database).name + ".migrate.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade_to_head(engine: Engine, revision: str = "head") -> str:
    """Bring the schema to ``revision`` (default head) and seed missing vocabularies; returns the revision."""
    config = alembic_config()
    if engine.dialect.name == "postgresql":
        with engine.connect() as lock_connection:
            lock_connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _PG_LOCK_KEY})
            try:
                _upgrade(engine, config, revision)
            finally:
                lock_connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_LOCK_KEY})
                lock_connection.commit()
    else:
        with _sqlite_file_lock(engine):
            _upgrade(engine, config, revision)
    return current_revision(engine) or ""


def _upgrade(engine: Engine, config: Config, revision: str) -> None:
    from storage.vocabularies import seed_vocabularies  # late import: seeding needs the tables

    with engine.connect() as connection, _sqlite_foreign_keys_off(connection):
        with connection.begin():
            config.attributes["connection"] = connection
            before = MigrationContext.configure(connection).get_current_revision()
            command.upgrade(config, revision)
            migrated = MigrationContext.configure(connection).get_current_revision() != before
            # Only after a migration ran: the check reads every row (seconds at national scale),
            # and every command opens the database through here.
            if migrated and connection.dialect.name == "sqlite":
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise RuntimeError(f"the migration left {len(broken)} row(s) pointing at missing rows, e.g. {tuple(broken[0])}")
    if revision == "head":
        seed_vocabularies(engine)


@contextmanager
def _sqlite_foreign_keys_off(connection: Connection) -> Iterator[None]:
    """SQLite's procedure for rebuilding a table (what batch mode does to change a column type):
    foreign keys off while it runs, checked before commit. Enforced, dropping the old table would
    delete every row that refers to it (ON DELETE CASCADE). The setting cannot change inside a
    transaction, so it is set on the driver's connection before one begins."""
    if connection.dialect.name != "sqlite":
        yield
        return
    driver = connection.connection.driver_connection
    driver.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        driver.execute("PRAGMA foreign_keys=ON")
