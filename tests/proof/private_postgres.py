"""A private, throw-away PostgreSQL server for tests that stop and restart the database.

The outage tests must never touch the shared server on port 5432, so they run their own:
``initdb`` into a fresh directory, ``pg_ctl start`` on a free loopback port with trust
authentication, and stop/start it at will. As root the binaries must run as the ``postgres``
user (PostgreSQL refuses to run as root), so the directory is handed to that user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SERVICE_USER = "postgres"


def postgres_bin_dir() -> Path | None:
    """The newest installed PostgreSQL server binaries (Debian layout), or None."""
    candidates = [Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")]
    candidates.sort(key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0)
    return candidates[-1] if candidates else None


def unavailable_reason() -> str | None:
    """Why a private server cannot be started here (None when it can)."""
    if postgres_bin_dir() is None:
        return "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (install the 'postgresql' package)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVICE_USER)
        except KeyError:
            return f"running as root but there is no '{SERVICE_USER}' user to run PostgreSQL as"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivatePostgres:
    """One private server: ``start()``, ``stop()`` (an outage), ``start()`` again (recovery)."""

    def __init__(self, directory: Path):
        self.bin_dir = postgres_bin_dir()
        if self.bin_dir is None:
            raise RuntimeError(unavailable_reason())
        self.directory = directory
        self.data_dir = directory / "data"
        self.log_path = directory / "server.log"
        self.port = _free_port()
        self._as_service_user = os.geteuid() == 0
        if self._as_service_user:
            account = pwd.getpwnam(SERVICE_USER)
            os.chown(directory, account.pw_uid, account.pw_gid)
        self._run("initdb", "-D", str(self.data_dir), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")

    def url(self, database: str = "postgres") -> str:
        # A short connect timeout so an outage is reported in seconds, not minutes.
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}?connect_timeout=3"

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin_dir / program), *args]
        if self._as_service_user:
            command = ["runuser", "-u", SERVICE_USER, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=self.directory)
        if result.returncode != 0:
            log = self.log_path.read_text()[-2000:] if self.log_path.exists() else ""
            raise RuntimeError(f"{program} failed ({result.returncode}): {result.stderr[-2000:]}\n{log}")

    def start(self) -> None:
        # fsync off: these databases are thrown away, and the tests are about the app, not disks.
        options = (f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off "
                   f"-c shared_buffers=16MB -c max_connections=40")
        self._run("pg_ctl", "-D", str(self.data_dir), "-o", options, "-l", str(self.log_path), "-w", "-t", "60", "start")

    def stop(self) -> None:
        """Stop the server, disconnecting every client, as an outage would."""
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "60", "stop")

    def is_running(self) -> bool:
        return (self.data_dir / "postmaster.pid").exists()

    def create_database(self, name: str) -> str:
        """Create a database on this server and return its URL."""
        from sqlalchemy import create_engine, text

        admin = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()
        return self.url(name)


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A started private server, stopped and deleted afterwards."""
    # Not under pytest's tmp_path: its parent folders are private to root, and the server
    # runs as the postgres user, which must reach its data directory.
    directory = Path(tempfile.mkdtemp(prefix="roadmap-private-pg-"))
    try:
        server = PrivatePostgres(directory)
        server.start()
        try:
            yield server
        finally:
            if server.is_running():
                server.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
