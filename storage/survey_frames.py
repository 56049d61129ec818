"""The survey evidence as the analysis input frames ``responses`` and ``answers`` (analysis/schemas.py).

Read column-wise (storage/column_reads.py): the answers table reaches millions of rows, and a
Python object per row (an ORM object, a SQLAlchemy ``Row``) would dominate the time. The same
SQL and the same typing serve the full read (ADBC, Arrow columns) and the incremental refresh
of storage/evidence_cache.py (a few responses, read on the caller's snapshot connection).

The raw answers frame keeps the answer id (``answer_id``, its order): the evidence cache needs
it to keep rows in the order a full read gives. :func:`analysis_answers` drops it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine

from storage.change_log import STAMP_SQL, DataStamp, stamp_from_columns
from storage.column_reads import (
    Columns,
    arrow_available,
    arrow_snapshot,
    driver_columns,
    in_key_order,
    return_freed_memory,
    snapshot_connection,
    typed_column,
)
from storage.permissions import guarded

RESPONSE_COLUMNS = ("response_id", "instrument", "submitted_at", "region", "site_type", "staff_group", "is_demo", "language")
ANSWER_COLUMNS = ("response_id", "technology_id", "variable", "value")
RAW_ANSWER_COLUMNS = ("answer_id", *ANSWER_COLUMNS)
# No NULLs come back (see storage/column_reads.py): missing profile codes are '' and a missing
# technology is 0. No ORDER BY: the rows are put in id order here when they are not already,
# which spares PostgreSQL a sort of millions of rows.
RESPONSES_SQL = (
    "SELECT r.id AS response_id, i.name AS instrument, r.submitted_at AS submitted_at, "
    "COALESCE(r.region, '') AS region, COALESCE(r.site_type, '') AS site_type, "
    "COALESCE(r.staff_group, '') AS staff_group, r.is_demo AS is_demo, COALESCE(r.language, '') AS language "
    "FROM survey_response r JOIN survey_instrument i ON i.id = r.instrument_id"
)
ANSWERS_SQL = (
    "SELECT a.id AS answer_id, a.response_id AS response_id, COALESCE(a.technology_id, 0) AS technology_id, "
    "a.variable AS variable, a.value AS value FROM survey_answer a"
)


def ranges_condition(column: str, ranges: Iterable[tuple[int, int]]) -> str:
    """``column BETWEEN a AND b OR ...`` for integer ranges (ints only, so safe to inline)."""
    terms = [f"{column} BETWEEN {int(first)} AND {int(last)}" for first, last in ranges]
    return "(" + " OR ".join(terms) + ")" if terms else "(1 = 0)"


# Column -> (kind, options) for storage.column_reads.typed_column.
RESPONSE_KINDS = {"response_id": ("int", {}), "instrument": ("text", {}), "submitted_at": ("datetime", {}),
                  "region": ("text", {}), "site_type": ("text", {}), "staff_group": ("code", {"blank_is_missing": True}),
                  "is_demo": ("bool", {}), "language": ("code", {"blank_is_missing": True})}
ANSWER_KINDS = {"answer_id": ("int", {}), "response_id": ("int", {}), "technology_id": ("id", {}),
                "variable": ("code", {}), "value": ("code", {})}


def _typed_frame(columns: Columns, kinds: dict) -> pd.DataFrame:
    # copy=False: the typed arrays are new already; a copy would stack same-dtype columns into one
    # block and hold the answers twice at their largest.
    return pd.DataFrame({name: typed_column(columns[name], kind, **options) for name, (kind, options) in kinds.items()},
                        copy=False)


def responses_frame(columns: Columns) -> pd.DataFrame:
    """responses: response_id int64, instrument str, submitted_at datetime64[ns] (UTC), region /
    site_type str or NA (checked against their vocabularies by analysis/schemas.py), staff_group
    categorical or NA, is_demo bool, language categorical or NA; in response id order."""
    frame = _typed_frame(in_key_order(columns, "response_id"), RESPONSE_KINDS)
    for column in ("region", "site_type"):
        frame[column] = frame[column].where(frame[column] != "")
    return frame


def raw_answers_frame(columns: Columns) -> pd.DataFrame:
    """answers with their ids: answer_id int64, response_id int64, technology_id Int64 (NA for
    questions not asked per technology), variable / value categorical; in answer id order."""
    return _typed_frame(in_key_order(columns, "answer_id"), ANSWER_KINDS)


def analysis_answers(raw: pd.DataFrame) -> pd.DataFrame:
    return raw.drop(columns=["answer_id"])


def read_survey_columns(run: Callable[[str], Columns]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(responses, raw answers) through ``run(sql) -> columns`` (one snapshot)."""
    return responses_frame(run(RESPONSES_SQL)), raw_answers_frame(run(ANSWERS_SQL))


def connection_runner(connection: Connection) -> Callable[[str], Columns]:
    """``run(sql)`` on a SQLAlchemy connection, column names taken from the SQL aliases' order."""
    names = {RESPONSES_SQL: RESPONSE_COLUMNS, ANSWERS_SQL: RAW_ANSWER_COLUMNS}

    def run(sql: str) -> Columns:
        base = next(prefix for prefix in names if sql.startswith(prefix))
        return driver_columns(connection, sql, names[base])

    return run


def read_survey_changes(connection: Connection, response_ranges: list[tuple[int, int]],
                        technology_ranges: list[tuple[int, int]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The current responses in ``response_ranges`` and answers of those responses or about the
    technologies in ``technology_ranges``, read on the caller's connection (its snapshot)."""
    run = connection_runner(connection)
    responses = responses_frame(run(f"{RESPONSES_SQL} WHERE {ranges_condition('r.id', response_ranges)}"))
    # Only non-empty conditions: a constant term in the OR would keep SQLite from using the indexes.
    conditions = [ranges_condition(column, ranges) for column, ranges in
                  (("a.response_id", response_ranges), ("a.technology_id", technology_ranges)) if ranges]
    answers = raw_answers_frame(run(f"{ANSWERS_SQL} WHERE {' OR '.join(conditions) or '1 = 0'}"))
    return responses, answers


def read_all_survey(engine: Engine) -> tuple[DataStamp, pd.DataFrame, pd.DataFrame]:
    """(data stamp, responses, raw answers): every response and answer, read in one snapshot
    with the stamp it shows, through ADBC when it can open the database."""
    if arrow_available(engine):
        with arrow_snapshot(engine) as run:
            stamp = stamp_from_columns(run(STAMP_SQL))
            responses, answers = read_survey_columns(run)
        return_freed_memory()
        return stamp, responses, answers
    with snapshot_connection(engine) as connection:
        stamp = stamp_from_columns(driver_columns(connection, STAMP_SQL, ("version", "token")))
        responses, answers = read_survey_columns(connection_runner(connection))
    return stamp, responses, answers


@guarded("survey.responses")
def load_survey_frames(engine: Engine, *, actor: Any = None) -> dict[str, pd.DataFrame]:
    """``{"responses": ..., "answers": ...}``:

    responses: response_id int64, instrument str, submitted_at datetime64[ns] (UTC), region /
    site_type str or NA and staff_group categorical or NA (profile answers), is_demo bool,
    language categorical or NA (the language the response was given in).
    answers: response_id int64, technology_id Int64 (NA for questions not asked per technology),
    variable / value categorical.
    """
    _stamp, responses, answers = read_all_survey(engine)
    return {"responses": responses, "answers": analysis_answers(answers)}
