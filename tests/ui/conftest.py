"""Shared fixtures of the UI tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from storage.case_studies import load_demo_case_studies
from storage.db import make_engine
from storage.demo import load_demo_catalogue
from storage.demo_evidence import load_demo_evidence
from storage.demo_workshop import load_demo_workshop
from tests.ui.helpers import prepare_environment


@pytest.fixture(scope="session")
def demo_database(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The full demonstration data (catalogue, survey evidence, workshop, case study), built once."""
    path = tmp_path_factory.mktemp("analysis") / "demo.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    load_demo_catalogue(engine)
    load_demo_evidence(engine)
    load_demo_workshop(engine)
    load_demo_case_studies(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture
def demo_url(demo_database: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    path = tmp_path / "demo.db"
    shutil.copy(demo_database, path)
    url = f"sqlite:///{path}"
    prepare_environment(monkeypatch, url)
    monkeypatch.delenv("ROADMAP_DISCLOSURE_THRESHOLD", raising=False)
    return url
