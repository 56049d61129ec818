"""AppTest: a lead imports responses on the Instruments page and sees every problem, or every
cell that was read as something other than what it says."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from storage.db import make_engine, read_session
from storage.demo import load_demo_catalogue
from storage.models.catalogue import Technology
from storage.models.survey import SurveyResponse
from storage.surveys import ensure_builtin_instruments
from tests.ui.helpers import open_app, prepare_environment, texts

HEADER = "record_id,redcap_repeat_instrument,redcap_repeat_instance,technology_id,consent,staff_group,years_in_role,tech_use_frequency\n"


@pytest.fixture
def engine(sqlite_url: str, monkeypatch: pytest.MonkeyPatch):
    engine = make_engine(sqlite_url)
    load_demo_catalogue(engine, count=5)
    ensure_builtin_instruments(engine)
    prepare_environment(monkeypatch, sqlite_url)
    yield engine
    engine.dispose()


def stored_responses(engine) -> int:
    with read_session(engine) as session:
        return session.scalar(select(func.count()).select_from(SurveyResponse))


def upload_and_import(content: bytes):
    at = open_app("lead", "survey_instruments.py")
    at.file_uploader(key="sv_responses_file").set_value(("responses.csv", content, "text/csv")).run()
    next(b for b in at.button if b.key.startswith("sv_import_responses_")).click().run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_lead_imports_a_pandas_written_file_and_sees_each_coercion(engine) -> None:
    with read_session(engine) as session:
        tool = session.scalar(select(Technology.id).order_by(Technology.id))
    content = (HEADER + "A,,,,1.0,nurse,7.0,\n" + f"A,technology,1.0,{tool}.0,,,,daily\n").encode()
    at = upload_and_import(content)
    assert "Imported 1 of 1 responses" in texts(at)
    coercions = next(frame.value for frame in at.dataframe if "read as" in frame.value.columns)
    assert len(coercions) == 4
    assert coercions.iloc[0].to_dict() == {"row": 2, "column": "consent", "in the file": "1.0", "read as": "1",
                                           "why": "a whole number written as a decimal"}
    assert stored_responses(engine) == 1


def test_lead_sees_every_problem_and_nothing_is_imported(engine) -> None:
    content = (HEADER + "A,,,,maybe,nurse,3,\nB,,,,yes,wizard,70,\n").encode()
    at = upload_and_import(content)
    assert "Nothing was imported: the file has 3 problem(s)" in texts(at)
    problems = next(frame.value for frame in at.dataframe if "problem" in frame.value.columns)
    assert problems[["row", "column"]].values.tolist() == [[2, "consent"], [3, "staff_group"], [3, "years_in_role"]]
    assert stored_responses(engine) == 0
