"""Process-wide resources for the web app: the engine (one per process) and cached reads.

The engine is created once with ``st.cache_resource``; the first creation upgrades the
schema to head (and loads the demo data when ``ROADMAP_DEMO_ON_FIRST_START`` is set and the
catalogue is empty). Pages open one session per user action through ``storage`` functions;
no session is ever kept in ``st.session_state``.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from storage.catalogue import data_version
from storage.db import make_engine
from storage.demo import load_demo_catalogue
from storage.migrate import upgrade_to_head
from storage.settings import database_url, env_flag
from streamlit_app.turns import TurnQueue


@st.cache_resource(show_spinner="Opening the database…")
def _engine_for(url: str) -> Engine:
    engine = make_engine(url)
    upgrade_to_head(engine)
    if env_flag("ROADMAP_DEMO_ON_FIRST_START"):
        from streamlit_app.commands.demo import DEMO_EVIDENCE_LOADERS

        summary = load_demo_catalogue(engine, only_if_empty=True)
        for loader in DEMO_EVIDENCE_LOADERS:
            loader(engine, summary.skipped)
    return engine


# Streamlit's resource cache owns each engine (made once per process and URL, with the schema
# upgrade); this map only answers the lookups after that. A cache_resource lookup hashes its
# arguments and takes locks, ~0.6 ms on every call and more on a session's first run, and every
# page run asks for the engine: measurable when a room of 150 joins at once. Weak references,
# so an engine the resource cache lets go of (tests clear it) is not kept alive here.
_engines_by_url: weakref.WeakValueDictionary[str, Engine] = weakref.WeakValueDictionary()


def get_engine() -> Engine:
    url = database_url()
    engine = _engines_by_url.get(url)
    if engine is None:
        engine = _engines_by_url[url] = _engine_for(url)
    return engine


def database_unreachable(error: BaseException) -> bool:
    """Whether ``error`` means the database cannot be reached (server down, connection lost or
    refused, timed out) rather than a problem with the statement or the data."""
    if isinstance(error, (OperationalError, InterfaceError)):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


# The last data version each database URL answered with, in this process.
_last_data_versions: dict[str, int] = {}


def current_data_version() -> int:
    """Read on every run (one cheap query) so cached tables refresh when evidence changes.

    While the database is unreachable, the last version this process read is returned instead,
    so pages keep rendering from their caches (forms keep their answers on screen) and only the
    actions that need the database fail, with the message of ``widgets.database_errors``.
    """
    engine = get_engine()
    url = engine.url.render_as_string(hide_password=False)
    try:
        version = data_version(engine)
    except DBAPIError as error:
        if url in _last_data_versions and database_unreachable(error):
            return _last_data_versions[url]
        raise
    _last_data_versions[url] = version
    return version


# A room of participants opens the workshop page at once. Python runs one thread at a time, and
# with dozens of page runs in flight each database round trip waits behind all the others for
# its turn, so every run got slower together (and a joiner holding the workshop's row lock kept
# everyone else waiting). Letting a few run at once and the rest queue (in microseconds, not
# spinning) finishes the whole room sooner: measured in docs/benchmarks.md (load_serve.py).
ROOM_RUNS_AT_ONCE = 2
# A turn waited for longer than this goes ahead anyway: a run stuck on an unresponsive database
# delays the others by at most this long.
ROOM_TURN_WAIT_LIMIT_SECONDS = 5.0
_room_turns = TurnQueue(ROOM_RUNS_AT_ONCE)
_turn_state = threading.local()


@contextmanager
def room_turn(*, urgent: bool = False) -> Iterator[None]:
    """Run the block when it is this thread's turn among the page runs of this process that take
    turns; ``urgent`` for a run that carries on what a visitor started (see turns.TurnQueue).
    Re-entrant: a block inside one that holds, or held, the turn does not wait again."""
    if getattr(_turn_state, "depth", 0):
        _turn_state.depth += 1
        try:
            yield
        finally:
            _turn_state.depth -= 1
        return
    _turn_state.holding = _room_turns.acquire(urgent=urgent, timeout=ROOM_TURN_WAIT_LIMIT_SECONDS)
    _turn_state.depth = 1
    try:
        yield
    finally:
        _turn_state.depth = 0
        end_turn()


def end_turn() -> None:
    """Give this thread's turn to the next run before its block ends (the block carries on)."""
    if getattr(_turn_state, "holding", False):
        _turn_state.holding = False
        _room_turns.release()
