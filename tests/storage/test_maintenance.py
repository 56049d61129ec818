"""`roadmap db status` and `roadmap db backup`: a check that changes nothing, and a consistent,
checked copy of a live SQLite database that never overwrites and is audited."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.audit import Actor
from storage.catalogue import TechnologyInput, create_technology
from storage.db import make_engine, read_session
from storage.maintenance import MaintenanceError, backup_sqlite, database_status
from storage.migrate import head_revision, upgrade_to_head
from storage.models.accounts import AuditEvent
from streamlit_app.cli import main

ADMIN = Actor("user:1", "admin")


def add_technologies(engine, count: int, prefix: str = "Tool") -> None:
    for number in range(count):
        create_technology(engine, TechnologyInput(name=f"{prefix} {number}", type_code="automation"))


def test_status_of_a_current_database(engine, database_url: str) -> None:
    add_technologies(engine, 3)
    status = database_status(database_url)
    assert status.up_to_date and status.revision == status.head == head_revision()
    assert status.counts["technologies"] == 3 and status.counts["survey_responses"] == 0
    assert status.integrity == ("ok" if status.backend == "sqlite" else None)
    assert "password" not in status.database


def test_status_never_creates_a_missing_sqlite_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "roadmap.db"
    with pytest.raises(MaintenanceError, match=r"no database file at .*roadmap\.db: `roadmap db upgrade` creates it"):
        database_status(f"sqlite:///{missing}")
    assert not missing.exists() and not missing.parent.exists()


def test_status_of_an_old_schema_is_reported_not_migrated(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade_to_head(make_engine(url), "0001")
    status = database_status(url)
    assert (status.revision, status.up_to_date, status.counts) == ("0001", False, {})
    assert database_status(url).revision == "0001", "checking did not migrate it"


def test_a_backup_is_a_checked_self_contained_copy_and_is_audited(sqlite_url: str, tmp_path: Path) -> None:
    engine = make_engine(sqlite_url)
    add_technologies(engine, 4)
    target = tmp_path / "backup.db"
    backup = backup_sqlite(engine, target, actor=ADMIN)
    assert backup.counts["technologies"] == 4 and backup.bytes == target.stat().st_size > 0
    assert not (tmp_path / "backup.db.partial").exists() and not Path(f"{target}-wal").exists()
    with sqlite3.connect(target) as copy:
        assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert copy.execute("SELECT count(*) FROM technology").fetchone()[0] == 4
    with read_session(engine) as session:
        [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "export", AuditEvent.target == "database")).all()
    assert (event.actor, event.details) == ("user:1", {"format": "sqlite_backup", "bytes": backup.bytes})
    with pytest.raises(MaintenanceError, match="already exists"):
        backup_sqlite(engine, target, actor=ADMIN)
    with pytest.raises(PermissionError):
        backup_sqlite(engine, tmp_path / "other.db", actor=Actor("user:2", "lead"))
    assert not (tmp_path / "other.db").exists()


def test_a_backup_while_the_app_writes_is_consistent(sqlite_url: str, tmp_path: Path) -> None:
    engine = make_engine(sqlite_url)
    add_technologies(engine, 5, "Before")
    stop = threading.Event()

    def keep_writing() -> None:
        number = 0
        while not stop.is_set():
            create_technology(engine, TechnologyInput(name=f"During {number}", type_code="diagnostics"))
            number += 1

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        backups = [backup_sqlite(engine, tmp_path / f"backup-{n}.db", actor=ADMIN) for n in range(3)]
    finally:
        stop.set()
        writer.join()
    counts = [backup.counts["technologies"] for backup in backups]
    assert all(count >= 5 for count in counts) and counts == sorted(counts)
    for backup in backups:
        with sqlite3.connect(backup.path) as copy:
            assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            # Every technology row is whole: links and names were copied in one consistent state.
            assert copy.execute("SELECT count(*) FROM technology WHERE name IS NULL OR name = ''").fetchone()[0] == 0


def test_postgresql_is_pointed_to_pg_dump(postgres_database: str, tmp_path: Path) -> None:
    engine = make_engine(postgres_database)
    with pytest.raises(MaintenanceError, match="pg_dump"):
        backup_sqlite(engine, tmp_path / "backup.db", actor=ADMIN)
    engine.dispose()
    assert not (tmp_path / "backup.db").exists()


# --- the commands --------------------------------------------------------------------------------

def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_db_status_command_exit_codes(capsys, sqlite_url: str, tmp_path: Path) -> None:
    code, out, _ = run(capsys, "db", "status", "--database-url", sqlite_url)
    assert code == 0 and f"schema revision {head_revision()} (current), integrity ok, 0 technologies" in out
    code, out, _ = run(capsys, "db", "status", "--json", "--database-url", sqlite_url)
    assert json.loads(out)["counts"]["technologies"] == 0
    old = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade_to_head(make_engine(old), "0001")
    code, _, err = run(capsys, "db", "status", "--database-url", old)
    assert code == 2 and err.startswith("roadmap: ") and "is at schema revision 0001" in err and "run `roadmap db upgrade`" in err
    code, _, err = run(capsys, "db", "status", "--database-url", "postgresql://nobody@127.0.0.1:1/nothing")
    assert code == 1 and "cannot reach the database" in err and err.count("\n") == 1


def test_db_backup_command(capsys, sqlite_url: str, tmp_path: Path) -> None:
    add_technologies(make_engine(sqlite_url), 2)
    target = tmp_path / "nightly.db"
    code, out, _ = run(capsys, "db", "backup", str(target), "--database-url", sqlite_url)
    assert code == 0 and out.startswith(f"backed up to {target} (") and "integrity ok): 2 technologies" in out
    code, _, err = run(capsys, "db", "backup", str(target), "--database-url", sqlite_url)
    assert code == 1 and "already exists" in err
    # Refused before any connection is tried: the server below does not exist.
    code, _, err = run(capsys, "db", "backup", str(tmp_path / "pg.db"), "--database-url", "postgresql://nobody@127.0.0.1:1/nothing")
    assert code == 1 and "pg_dump" in err


def test_a_backup_before_an_upgrade_leaves_the_old_schema_alone(capsys, tmp_path: Path) -> None:
    old = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade_to_head(make_engine(old), "0001")
    code, out, _ = run(capsys, "db", "backup", str(tmp_path / "before-upgrade.db"), "--database-url", old)
    assert code == 0 and "the schema is older than this version's" in out
    assert database_status(old).revision == "0001"
    with sqlite3.connect(tmp_path / "before-upgrade.db") as copy:
        assert copy.execute("SELECT version_num FROM alembic_version").fetchone()[0] == "0001"
