"""Faults (issue 7): a process killed with SIGKILL while submitting or importing loses nothing
it acknowledged and leaves no half-written change behind; the database stays consistent and the
app opens it again.

The database-outage faults (PostgreSQL stopped during use) are in test_outage.py.
"""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from scripts.bench_catalogue import make_file
from storage.catalogue import data_version
from storage.catalogue_io import import_catalogue
from storage.db import make_engine, read_session
from storage.demo import load_demo_catalogue
from storage.migrate import head_revision, upgrade_to_head
from storage.models.catalogue import ExternalId, Technology, TechnologyLink
from storage.models.survey import SurveyAnswer, SurveyResponse
from tests.proof.submission_load import ANSWER_ROWS_PER_RESPONSE, prepare_target, submit_one

ROOT = Path(__file__).resolve().parents[2]


class ChildProcess:
    """A fault child (tests/proof/fault_children.py) whose stdout lines are collected as they come."""

    def __init__(self, *args: str):
        self.process = subprocess.Popen([sys.executable, "-m", "tests.proof.fault_children", *args], cwd=ROOT,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        # Only whole lines count: a key cut off by the kill was never acknowledged.
        for line in self.process.stdout:
            if line.endswith("\n"):
                with self._changed:
                    self.lines.append(line.rstrip("\n"))
                    self._changed.notify_all()

    def wait_for(self, line: str, timeout: float = 60) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: line in self.lines or self.process.poll() is not None, timeout):
                raise AssertionError(f"child did not print {line!r} within {timeout} s")
        if line not in self.lines:
            raise AssertionError(f"child exited ({self.process.returncode}) before {line!r}: {self.process.stderr.read()[-3000:]}")

    def kill(self) -> list[str]:
        """SIGKILL the child; return every complete line it printed before dying."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self._reader.join(timeout=30)
        self.process.stderr.close()
        assert self.process.returncode == -signal.SIGKILL
        return list(self.lines)


def sqlite_integrity(url: str) -> str:
    connection = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        return connection.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        connection.close()


def data_version_at(url: str) -> int:
    engine = make_engine(url)
    try:
        return data_version(engine)
    finally:
        engine.dispose()


def catalogue_fingerprint(engine) -> tuple[int, str]:
    """Number of technologies and a checksum over every technology, link and external id."""
    digest = hashlib.sha256()
    with read_session(engine) as session:
        technologies = session.execute(select(Technology.id, Technology.name, Technology.company, Technology.type_code,
                                              Technology.short_description, Technology.updated_at).order_by(Technology.id)).all()
        links = session.execute(select(TechnologyLink.technology_id, TechnologyLink.kind, TechnologyLink.code,
                                       TechnologyLink.is_primary).order_by(TechnologyLink.id)).all()
        external = session.execute(select(ExternalId.technology_id, ExternalId.scheme, ExternalId.value).order_by(ExternalId.id)).all()
    for row in [*technologies, *links, *external]:
        digest.update(repr(tuple(row)).encode())
    return len(technologies), digest.hexdigest()


@pytest.mark.slow
def test_acknowledged_submissions_survive_sigkill(database_url):
    version_before = data_version_at(database_url)
    child = ChildProcess("submit", database_url, "--writers", "4")
    child.wait_for("started")
    time.sleep(1.5)
    lines = child.kill()
    acknowledged = [line for line in lines if line != "started"]
    assert len(acknowledged) >= 10, f"only {len(acknowledged)} submissions in 1.5 s: the kill proves little"

    if database_url.startswith("sqlite"):
        assert sqlite_integrity(database_url) == "ok"
    engine = make_engine(database_url)
    try:
        assert upgrade_to_head(engine) == head_revision()
        with read_session(engine) as session:
            stored_keys = set(session.scalars(select(SurveyResponse.idempotency_key)))
            responses = len(stored_keys)
            answers = session.scalar(select(func.count()).select_from(SurveyAnswer))
            orphans = session.scalar(select(func.count()).select_from(SurveyAnswer)
                                     .where(SurveyAnswer.response_id.not_in(select(SurveyResponse.id))))
        assert set(acknowledged) <= stored_keys, f"acknowledged but lost: {sorted(set(acknowledged) - stored_keys)[:5]}"
        # At most one committed-but-not-yet-printed submission per writer thread.
        assert len(acknowledged) <= responses <= len(acknowledged) + 4
        # No response was half written: each has all its answer rows, and none are orphaned.
        assert answers == responses * ANSWER_ROWS_PER_RESPONSE and orphans == 0
        # The data version was bumped in the same transaction as each response.
        assert data_version(engine) - version_before == responses
        # The app keeps working on the recovered database.
        after = submit_one(engine, prepare_target(engine), "after-restart")
        assert not after.duplicate
    finally:
        engine.dispose()


@pytest.mark.slow
def test_interrupted_import_leaves_the_catalogue_as_it_was(database_url):
    engine = make_engine(database_url)
    try:
        load_demo_catalogue(engine)
        before = catalogue_fingerprint(engine)
        version_before = data_version(engine)
        assert before[0] == 160

        child = ChildProcess("import", database_url, "--rows", "20000")
        child.wait_for("writing", timeout=120)
        lines = child.kill()
        assert "finished" not in lines, "the import finished before the kill: nothing was interrupted"

        if database_url.startswith("sqlite"):
            assert sqlite_integrity(database_url) == "ok"
        assert upgrade_to_head(engine) == head_revision()
        assert catalogue_fingerprint(engine) == before
        assert data_version(engine) == version_before
        # Importing again completes: the interrupted attempt left no lock or partial rows behind.
        report = import_catalogue(engine, make_file(2_000))
        assert report.summary()["created"] == 2_000
        assert catalogue_fingerprint(engine)[0] == 2_160
    finally:
        engine.dispose()
