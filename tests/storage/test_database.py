"""Engine settings, write transactions under concurrency, and migrations (upgrade, drift, concurrent start)."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select, text

from storage.db import make_engine, read_session, write_session
from storage.migrate import current_revision, head_revision, upgrade_to_head
from storage.models import Base, Site, VocabularyTerm

ROOT = Path(__file__).resolve().parents[2]


def test_sqlite_connection_settings(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'settings.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 15000


def test_default_database_is_a_sqlite_file_in_the_data_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    from storage import settings

    monkeypatch.delenv("ROADMAP_DATABASE_URL", raising=False)
    assert settings.database_url() == f"sqlite:///{settings.DATA_DIR / 'roadmap.db'}"
    monkeypatch.setenv("ROADMAP_DATABASE_URL", "postgresql://u@h/db")
    assert settings.database_url() == "postgresql+psycopg://u@h/db"
    assert settings.database_url("sqlite:///x.db") == "sqlite:///x.db"  # the CLI flag wins


def test_migrations_match_the_models(engine) -> None:
    """Alembic is the only source of schema: upgrading an empty database gives exactly the models."""
    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata)
    assert differences == []


def test_migrations_run_on_an_empty_database_and_seed_vocabularies(engine) -> None:
    with read_session(engine) as session:
        regions = session.scalars(select(VocabularyTerm.code).where(VocabularyTerm.vocabulary == "region")).all()
    assert len(regions) == 7
    assert "north_east_yorkshire" in regions
    # Upgrading again is a no-op and does not duplicate the seed.
    upgrade_to_head(engine)
    with read_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(VocabularyTerm).where(VocabularyTerm.vocabulary == "region")) == 7


def test_write_session_rolls_back_everything_on_error(engine) -> None:
    with pytest.raises(RuntimeError):
        with write_session(engine) as session:
            session.add(Site(name="Half-written", site_type="acute_trust", region="london"))
            session.flush()
            raise RuntimeError("boom")
    with read_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Site)) == 0


def test_concurrent_read_then_write_transactions_never_fail_with_locked(engine) -> None:
    """Each writer reads, then writes: with deferred transactions SQLite would fail at once."""
    errors: list[BaseException] = []
    writers, per_writer = 8, 15

    def work(worker: int) -> None:
        try:
            for index in range(per_writer):
                with write_session(engine) as session:
                    session.scalar(select(func.count()).select_from(Site))
                    session.add(Site(name=f"Site {worker}-{index}", site_type="acute_trust", region="london"))
        except BaseException as error:  # noqa: BLE001 - collected for the assertion
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with read_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Site)) == writers * per_writer


def test_two_processes_starting_at_once_both_upgrade_safely(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    code = "import sys; from storage.db import make_engine; from storage.migrate import upgrade_to_head; print(upgrade_to_head(make_engine(sys.argv[1])))"
    processes = [subprocess.Popen([sys.executable, "-c", code, url], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [p.communicate(timeout=120) for p in processes]
    assert all(p.returncode == 0 for p in processes), [err for _, err in results]
    assert {out.strip() for out, _ in results} == {head_revision()}
    engine = make_engine(url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM vocabulary_term WHERE vocabulary = 'region'")).scalar() == 7
