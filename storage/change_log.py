"""The data version and its change log: what each write of evidence or catalogue changed.

Every transaction that changes what the analysis reads calls :func:`bump_data_version` once its
changes are made. The bump increments the version, draws a random token (so ``(version, token)``
names one state of the data even when a restored backup or a reset database reaches the same
number again) and writes the transaction's changes to ``data_change`` under the new version:

* what the writer noted with :func:`note_change` — ``responses`` (survey responses added,
  deleted or edited, by id), ``technologies`` (technologies whose answers changed outside their
  responses: deleted with their answers), ``workshops`` (workshops whose results changed, by id)
  and ``catalogue`` (technologies, links or adoption records);
* or ``all`` when it noted nothing: a writer that does not say what it changed makes every cache
  re-read everything, so forgetting to note is slow, never wrong.

Id ranges are "read these again", so a range may cover ids that did not change.

The bump's ``UPDATE`` holds the version row's lock until commit, so on PostgreSQL (where writers
run side by side) versions still commit in order: a reader that sees version V sees every change
logged at V or before. Caches of any process (streamlit_app/analysis_state.py, through
storage/analysis_inputs.py) compare their stamp with :func:`read_stamp` on every render and read
:func:`changes_between` to refresh only what changed. The log keeps the last
:data:`KEEP_VERSIONS` versions; a cache older than that reads everything again.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.orm import Session

from storage.models import DataChange, DataVersion
from storage.models.base import utcnow

RESPONSES = "responses"
TECHNOLOGIES = "technologies"
WORKSHOPS = "workshops"
CATALOGUE = "catalogue"
ALL = "all"
NONE = "none"  # a second bump in a transaction that already logged its changes
RANGE_KINDS = (RESPONSES, TECHNOLOGIES, WORKSHOPS)
KEEP_VERSIONS = 10_000
PRUNE_EVERY = 500
MAX_RANGES = 200  # per kind and version; more ids are covered by wider ranges
_NOTES = "roadmap_data_changes"
_LOGGED = "roadmap_data_changes_logged"


@dataclass(frozen=True)
class DataStamp:
    """One state of the data: its version and the token drawn when it was reached."""

    version: int
    token: int


def note_change(session: Session, kind: str, ids: Iterable[int] = ()) -> None:
    """Say what this transaction changed; the next :func:`bump_data_version` logs it."""
    if kind not in (*RANGE_KINDS, CATALOGUE):
        raise ValueError(f"unknown change kind {kind!r}")
    session.info.setdefault(_NOTES, {}).setdefault(kind, set()).update(int(i) for i in ids)


def id_ranges(ids: Iterable[int], limit: int = MAX_RANGES) -> list[tuple[int, int]]:
    """Sorted ``ids`` as inclusive (first, last) runs; beyond ``limit`` runs the smallest gaps are
    closed (a range may then cover ids that did not change)."""
    ordered = sorted(set(ids))
    if not ordered:
        return []
    runs = [[ordered[0], ordered[0]]]
    for value in ordered[1:]:
        if value == runs[-1][1] + 1:
            runs[-1][1] = value
        else:
            runs.append([value, value])
    while len(runs) > limit:
        gaps = sorted(range(len(runs) - 1), key=lambda i: runs[i + 1][0] - runs[i][1])
        closing = set(gaps[:len(runs) - limit])
        merged = [runs[0]]
        for index in range(1, len(runs)):
            if index - 1 in closing:
                merged[-1][1] = runs[index][1]
            else:
                merged.append(runs[index])
        runs = merged
    return [(first, last) for first, last in runs]


def bump_data_version(session: Session) -> int:
    """Mark, in the caller's transaction, that evidence or catalogue changed, and log what changed
    (see the module docstring). Returns the new version (0 when the database has no version row)."""
    token = secrets.randbits(62) + 1  # never 0, the token of versions older than the log
    version = session.execute(
        update(DataVersion).where(DataVersion.id == 1)
        .values(version=DataVersion.version + 1, changed_at=utcnow(), token=token)
        .returning(DataVersion.version)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if version is None:
        return 0
    notes: dict[str, set[int]] = session.info.pop(_NOTES, {})
    rows = [{"kind": CATALOGUE}] if CATALOGUE in notes else []
    rows += [{"kind": kind, "first_id": first, "last_id": last}
             for kind in RANGE_KINDS for first, last in id_ranges(notes.get(kind, ()))]
    if not rows:
        rows = [{"kind": NONE if session.info.get(_LOGGED) else ALL}]
    session.info[_LOGGED] = True
    session.execute(insert(DataChange), [{"version": version, "token": token, "first_id": None, "last_id": None, **row}
                                         for row in rows])
    if version % PRUNE_EVERY == 0:
        session.execute(delete(DataChange).where(DataChange.version <= version - KEEP_VERSIONS))
    return int(version)


# The stamp as plain SQL, for readers that are not SQLAlchemy connections (storage/column_reads.py).
STAMP_SQL = "SELECT version AS version, token AS token FROM data_version WHERE id = 1"


def stamp_from_columns(columns: dict) -> DataStamp:
    """The stamp from the columns :data:`STAMP_SQL` returned (no row: a database never written)."""
    versions, tokens = list(columns["version"]), list(columns["token"])
    if not versions:
        return DataStamp(0, 0)
    return DataStamp(int(_scalar(versions[0])), int(_scalar(tokens[0])))


def _scalar(value: object) -> object:
    return value.as_py() if hasattr(value, "as_py") else value


def read_stamp(connection: Connection) -> DataStamp:
    row = connection.execute(select(DataVersion.version, DataVersion.token).where(DataVersion.id == 1)).first()
    return DataStamp(int(row[0]), int(row[1])) if row is not None else DataStamp(0, 0)


def data_stamp(engine: Engine) -> DataStamp:
    """The current state of the data (one small query)."""
    with engine.connect() as connection:
        return read_stamp(connection)


@dataclass
class ChangeSet:
    """Everything changed between two stamps: id ranges per kind, and whether the catalogue changed."""

    ranges: dict[str, list[tuple[int, int]]] = field(default_factory=lambda: {kind: [] for kind in RANGE_KINDS})
    catalogue: bool = False

    def __bool__(self) -> bool:
        return self.catalogue or any(self.ranges.values())


def changes_between(connection: Connection, since: DataStamp, until: DataStamp) -> ChangeSet | None:
    """What changed after ``since`` up to ``until`` (read in one snapshot with ``until``), or None
    when the log cannot say: the history diverged from ``since`` (a restore or a reset), it was
    pruned, or a writer changed something without saying what (``all``)."""
    if since == until:
        return ChangeSet()  # the same state (also for versions older than the log, whose token is 0)
    if since.version > until.version:
        return None
    if since.version > 0:
        token = connection.execute(select(DataChange.token).where(DataChange.version == since.version).limit(1)).scalar()
        if token != since.token:
            return None
    rows = connection.execute(
        select(DataChange.version, DataChange.kind, DataChange.first_id, DataChange.last_id)
        .where(DataChange.version > since.version, DataChange.version <= until.version)
    ).all()
    if len({row.version for row in rows}) != until.version - since.version:
        return None  # pruned, or versions written before the log existed
    changes = ChangeSet()
    for row in rows:
        if row.kind == ALL:
            return None
        if row.kind == CATALOGUE:
            changes.catalogue = True
        elif row.kind in RANGE_KINDS:
            changes.ranges[row.kind].append((int(row.first_id), int(row.last_id)))
    return changes
