"""`roadmap db upgrade|status|backup` and `roadmap demo`."""

from __future__ import annotations

import argparse
from pathlib import Path

from storage.case_studies import load_demo_case_studies
from storage.catalogue import count_technologies
from storage.demo import load_demo_catalogue
from storage.demo_evidence import load_demo_evidence
from storage.demo_workshop import load_demo_workshop
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
from streamlit_app.commands.common import CommandError, Result, open_database

# `roadmap db status` exits with this when the database is reachable but needs `roadmap db upgrade`
# (1 means it could not be checked), so a monitoring script can tell the two apart.
NEEDS_UPGRADE_EXIT = 2


def db_upgrade(args: argparse.Namespace) -> Result:
    engine = open_database(args)
    return Result({"revision": head_revision(), "database": engine.url.render_as_string(hide_password=True)},
                  [f"database at revision {head_revision()} ({engine.url.render_as_string(hide_password=True)})"])


def _counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{value} {name.replace('_', ' ')}" for name, value in counts.items())


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
    counts = _counts_text(status.counts)
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
    counts = _counts_text(backup.counts)
    return Result({"path": str(backup.path), "bytes": backup.bytes, "counts": backup.counts},
                  [f"backed up to {backup.path} ({backup.bytes:,} bytes, integrity ok): {counts}"])


def demo(args: argparse.Namespace) -> Result:
    engine = open_database(args)
    summary = load_demo_catalogue(engine, only_if_empty=args.if_empty)
    data = {"technologies": summary.technologies, "sites": summary.sites, "adoption_records": summary.adoption_records, "skipped": summary.skipped}
    for loader in DEMO_EVIDENCE_LOADERS:
        data.update(loader(engine, summary.skipped))
    if summary.skipped:
        reason = "the database already has technologies" if args.if_empty else "demo data is already loaded"
        return Result(data, [f"demo data not loaded: {reason} ({count_technologies(engine)} technologies)"])
    counts = _counts_text({key: value for key, value in data.items() if key != "skipped"})
    return Result(data, [f"loaded demo data (labelled demo): {counts}"])


# Later features register demo evidence loaders here: f(engine, catalogue_skipped) -> dict of counts.
DEMO_EVIDENCE_LOADERS: list = []
DEMO_EVIDENCE_LOADERS.append(load_demo_evidence)
DEMO_EVIDENCE_LOADERS.append(load_demo_workshop)
DEMO_EVIDENCE_LOADERS.append(load_demo_case_studies)  # after the survey and workshop loaders: it links to them


def register(groups: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    db = groups.add_parser("db", help="database set-up and migration")
    db_commands = db.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")
    upgrade = db_commands.add_parser("upgrade", parents=[common], help="create or migrate the database to the current schema")
    upgrade.set_defaults(handler=db_upgrade)
    status = db_commands.add_parser("status", parents=[common], help="check the database without changing it: reachable, schema "
                                    "current (exit 2 if it needs an upgrade), SQLite integrity, row counts")
    status.set_defaults(handler=db_status)
    backup = db_commands.add_parser("backup", parents=[common], help="copy a live SQLite database to a new file, checked "
                                    "(PostgreSQL: use pg_dump)")
    backup.add_argument("path", help="the backup file to write (must not exist yet)")
    backup.set_defaults(handler=db_backup)

    demo_parser = groups.add_parser("demo", parents=[common], help="load the demonstration catalogue and evidence (labelled demo)")
    demo_parser.add_argument("--if-empty", action="store_true", help="only load when the catalogue is empty (used on first start)")
    demo_parser.set_defaults(handler=demo)
