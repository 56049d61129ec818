"""Storage stress (issue 7, "Load"): 50 concurrent writers x 100 survey submissions through the
real submission function, on SQLite and PostgreSQL: exactly 5,000 stored, no duplicate keys,
no error (such as "database is locked") reaching a caller, and a repeated submission comes
back as the original.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from storage.catalogue import data_version
from storage.db import read_session
from storage.models.survey import SurveyAnswer, SurveyResponse
from tests.proof.submission_load import ANSWER_ROWS_PER_RESPONSE, prepare_target, run_load, submission_key

WRITERS = 50
SUBMISSIONS_PER_WRITER = 100
TOTAL = WRITERS * SUBMISSIONS_PER_WRITER
# How long it takes is a benchmark figure (scripts/bench.py runs the same load), not a test: a
# busy machine must not fail it.


@pytest.mark.slow
def test_fifty_writers_store_exactly_five_thousand_responses(engine):
    target = prepare_target(engine)
    version_before = data_version(engine)

    report = run_load(engine, target, writers=WRITERS, per_writer=SUBMISSIONS_PER_WRITER, prefix="stress")
    print(report.summary())

    assert report.errors == [], f"{len(report.errors)} errors reached the caller, first: {report.errors[0]!r}"
    assert len(report.acknowledged) == len(set(report.acknowledged)) == TOTAL
    assert all(outcome.repeat_returned_original for outcome in report.outcomes), \
        "a repeated submission was stored again instead of returning the original"
    with read_session(engine) as session:
        keys = session.scalars(select(SurveyResponse.idempotency_key)).all()
        stored_ids = set(session.scalars(select(SurveyResponse.id)))
        answer_rows = session.scalar(select(func.count()).select_from(SurveyAnswer))
    assert len(keys) == TOTAL
    assert sorted(keys) == sorted(submission_key("stress", w, i) for w in range(WRITERS) for i in range(SUBMISSIONS_PER_WRITER))
    assert stored_ids == set(report.acknowledged)
    assert answer_rows == TOTAL * ANSWER_ROWS_PER_RESPONSE == 60_000
    # Every stored response bumped the data version once in its own transaction: no lost update.
    assert data_version(engine) - version_before == TOTAL
