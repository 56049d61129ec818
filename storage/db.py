"""Engine and session factory.

SQLite is tuned per connection as DESIGN.md section 6 asks: WAL, foreign keys, synchronous
NORMAL and a 15 s busy timeout. Python's sqlite3 module would open transactions lazily and
in DEFERRED mode, which fails at once with "database is locked" when two writers that first
read both try to write. So we switch its own transaction handling off and emit BEGIN
ourselves: ``BEGIN IMMEDIATE`` for sessions opened with :func:`write_session`, so a writer
takes the write lock up front and waits (busy timeout) instead of failing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from storage.settings import database_url

SQLITE_BUSY_TIMEOUT_MS = 15_000
POSTGRES_CONNECT_TIMEOUT_S = 5
_IMMEDIATE_OPTION = "roadmap_begin_immediate"


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str | None = None, *, echo: bool = False) -> Engine:
    """Create an engine for ``url`` (or the configured default) with our connection settings."""
    resolved = database_url(url)
    parsed = make_url(resolved)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            resolved,
            echo=echo,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        )
        _configure_sqlite(engine)
        return engine
    # A bounded connect timeout: when the server is unreachable, users get a clear message in
    # seconds instead of a request that hangs.
    return create_engine(resolved, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20,
                         connect_args={"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S})


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # noqa: ANN001 - DBAPI objects are untyped
        # Take transaction control away from the sqlite3 module (see module docstring).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):  # noqa: ANN001
        immediate = connection.get_execution_options().get(_IMMEDIATE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """A session for reads. Closing it ends the transaction without expiring the loaded
    objects, so callers can use what they read after the block."""
    session = Session(bind=engine, expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """One transaction for one user action: commit on success, roll back on any error.

    On SQLite the transaction begins IMMEDIATE so concurrent writers queue on the busy
    timeout instead of failing half-way.
    """
    if not is_sqlite(engine):
        yield from _transaction(Session(bind=engine, expire_on_commit=False))
        return
    # Writers in this process take turns on a lock first: SQLite's busy handler retries with
    # sleeps, which lets one unlucky writer wait many times longer than the rest. Other
    # processes still queue on the busy timeout.
    with _sqlite_write_lock(engine):
        yield from _transaction(Session(bind=engine.execution_options(**{_IMMEDIATE_OPTION: True}), expire_on_commit=False))


def _transaction(session: Session) -> Iterator[Session]:
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


_WRITE_LOCKS: dict[str, threading.RLock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def _sqlite_write_lock(engine: Engine) -> threading.RLock:
    """One lock per database file, shared by every engine of this process that opens it
    (re-entrant, so a nested write fails on the busy timeout as before instead of hanging)."""
    key = str(engine.url.database)
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(key, threading.RLock())
