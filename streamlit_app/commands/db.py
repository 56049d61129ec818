"""`roadmap db upgrade|status|backup`."""

from __future__ import annotations

import argparse
from pathlib import Path

from storage.audit import cli_actor
from storage.maintenance import (
    POSTGRES_BACKUP_HINT,
    MaintenanceError,
    backup_sqlite,
    database_status,
    is_sqlite_url,
    open_existing,
)
from storage.migrate import head_revision
from streamlit_app.commands.common import CommandError, Result, counts_text, open_database

# `roadmap db status` exits with this when the database is reachable but needs `roadmap db upgrade`
# (1 means it could not be checked), so a monitoring script can tell the two apart.
NEEDS_UPGRADE_EXIT = 2


def db_upgrade(args: argparse.Namespace) -> Result:
    engine = open_database(args)
    return Result({"revision": head_revision(), "database": engine.url.render_as_string(hide_password=True)},
                  [f"database at revision {head_revision()} ({engine.url.render_as_string(hide_password=True)})"])


def db_status(args: argparse.Namespace) -> Result:
    try:
        status = database_status(args.database_url)
    except MaintenanceError as error:
        raise CommandError(str(error)) from None
    if not status.up_to_date:
        raise CommandError(f"{status.database} is at schema revision {status.revision or 'none (empty)'} but this version "
                           f"needs {status.head}: run `roadmap db upgrade`", NEEDS_UPGRADE_EXIT)
    if status.integrity not in (None, "ok"):
        raise CommandError(f"{status.database} failed SQLite's integrity check: {status.integrity}; restore the latest backup")
    checked = "integrity ok, " if status.integrity == "ok" else ""
    counts = counts_text(status.counts)
    return Result({"database": status.database, "backend": status.backend, "revision": status.revision, "head": status.head,
                   "integrity": status.integrity, "counts": status.counts},
                  [f"{status.database}: schema revision {status.revision} (current), {checked}{counts}"])


def db_backup(args: argparse.Namespace) -> Result:
    # The database is copied as it is: a backup taken before `roadmap db upgrade` must not upgrade.
    if not is_sqlite_url(args.database_url):
        raise CommandError(POSTGRES_BACKUP_HINT)
    try:
        engine = open_existing(args.database_url)
        backup = backup_sqlite(engine, Path(args.path), actor=cli_actor())
    except MaintenanceError as error:
        raise CommandError(str(error)) from None
    if not backup.counts:
        return Result({"path": str(backup.path), "bytes": backup.bytes, "counts": {}},
                      [f"backed up to {backup.path} ({backup.bytes:,} bytes, integrity ok); the schema is older than this "
                       "version's, so rows were not counted and the backup was not audited"])
    counts = counts_text(backup.counts)
    return Result({"path": str(backup.path), "bytes": backup.bytes, "counts": backup.counts},
                  [f"backed up to {backup.path} ({backup.bytes:,} bytes, integrity ok): {counts}"])
