"""Database health and backups for the administrator on call (``roadmap db status`` and
``roadmap db backup``).

The status check never changes the database: it does not create a missing SQLite file and does
not migrate, so it can run against a live system. A backup of an SQLite database uses SQLite's
online backup API, so it is consistent while the app keeps writing; it is written beside the
target, checked, and only then renamed into place, so a failed backup never leaves a file that
looks complete. PostgreSQL has its own tool for this (pg_dump), which we point to instead.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from storage.audit import record_audit
from storage.db import is_sqlite, make_engine, read_session, write_session
from storage.migrate import current_revision, head_revision
from storage.models.accounts import AuditEvent, UserAccount
from storage.models.catalogue import Technology
from storage.models.survey import SurveyResponse
from storage.models.workshop import Workshop
from storage.permissions import guarded
from storage.settings import database_url

COUNTED = {"technologies": Technology, "survey_responses": SurveyResponse, "workshops": Workshop,
           "user_accounts": UserAccount, "audit_events": AuditEvent}


class MaintenanceError(RuntimeError):
    """A status check or backup could not be done; the message says why and what to do."""


@dataclass(frozen=True)
class DatabaseStatus:
    database: str  # the URL with any password hidden
    backend: str  # "sqlite" or "postgresql"
    revision: str | None  # None: the database has no schema yet
    head: str  # the revision this version of the code needs
    integrity: str | None  # SQLite's quick_check answer ("ok" when sound); None on PostgreSQL
    counts: dict[str, int] = field(default_factory=dict)  # only when the schema is current

    @property
    def up_to_date(self) -> bool:
        return self.revision == self.head


@dataclass(frozen=True)
class BackupResult:
    path: Path
    bytes: int
    counts: dict[str, int]


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def _counts(engine: Engine) -> dict[str, int]:
    with read_session(engine) as session:
        return {name: int(session.scalar(select(func.count()).select_from(model))) for name, model in COUNTED.items()}


def open_existing(url: str | None = None) -> Engine:
    """An engine for a database that must already exist: unlike :func:`storage.db.make_engine`
    it never creates an SQLite file, and unlike the app it never migrates."""
    resolved = database_url(url)
    path = _sqlite_path(resolved)
    if path is not None and not path.exists():
        raise MaintenanceError(f"no database file at {path}: `roadmap db upgrade` creates it")
    return make_engine(resolved)


def is_sqlite_url(url: str | None = None) -> bool:
    return make_url(database_url(url)).get_backend_name() == "sqlite"


def database_status(url: str | None = None) -> DatabaseStatus:
    """Reachability, schema revision against the code's, SQLite integrity and row counts."""
    engine = open_existing(url)
    shown = engine.url.render_as_string(hide_password=True)
    try:
        revision = current_revision(engine)
        head = head_revision()
        integrity = None
        if is_sqlite(engine):
            with engine.connect() as connection:
                integrity = "; ".join(str(row[0]) for row in connection.exec_driver_sql("PRAGMA quick_check").fetchall())
        counts = _counts(engine) if revision == head else {}
    except OperationalError as error:
        raise MaintenanceError(f"cannot reach the database {shown}: {str(error.orig).splitlines()[0]}") from None
    finally:
        engine.dispose()
    return DatabaseStatus(shown, engine.dialect.name, revision, head, integrity, counts)


POSTGRES_BACKUP_HINT = "back up PostgreSQL with its own tool, for example `pg_dump --format=custom --file roadmap.dump <database>`"


@guarded("settings.manage")
def backup_sqlite(engine: Engine, target: Path, *, actor: Any = None) -> BackupResult:
    """Copy a live SQLite database, as it is (not migrated), to ``target`` (a new file), checked
    for integrity. Audited, and its rows counted, when the schema is current (an older schema,
    backed up before an upgrade, may not have the audit table yet)."""
    if not is_sqlite(engine):
        raise MaintenanceError(POSTGRES_BACKUP_HINT)
    target = Path(target)
    if target.exists():
        raise MaintenanceError(f"{target} already exists: choose a new file name (a backup never overwrites)")
    if not target.parent.is_dir():
        raise MaintenanceError(f"there is no folder {target.parent}")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    source = engine.raw_connection()
    try:
        copy = sqlite3.connect(partial)
        try:
            source.driver_connection.backup(copy)
            # A self-contained single file: the copy needs no -wal/-shm files beside it.
            copy.execute("PRAGMA journal_mode=DELETE")
            integrity = "; ".join(str(row[0]) for row in copy.execute("PRAGMA integrity_check").fetchall())
        finally:
            copy.close()
    except sqlite3.Error as error:
        partial.unlink(missing_ok=True)
        raise MaintenanceError(f"the backup failed: {error}") from None
    finally:
        source.close()
    if integrity != "ok":
        partial.unlink(missing_ok=True)
        raise MaintenanceError(f"the copy failed its integrity check ({integrity}); nothing was written")
    os.replace(partial, target)
    size = target.stat().st_size
    if current_revision(engine) != head_revision():
        return BackupResult(target, size, {})
    # Counted from the copy itself, read-only and left in its single-file journal mode.
    with sqlite3.connect(target.resolve().as_uri() + "?mode=ro", uri=True) as copy:
        counts = {name: int(copy.execute(f"SELECT count(*) FROM {model.__tablename__}").fetchone()[0])  # noqa: S608 - fixed names
                  for name, model in COUNTED.items()}
    copy.close()
    with write_session(engine) as session:
        record_audit(session, actor, None, "export", "database", "success", {"format": "sqlite_backup", "bytes": size})
    return BackupResult(target, size, counts)
