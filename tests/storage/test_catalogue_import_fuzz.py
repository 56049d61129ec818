"""Property tests: whatever bytes arrive, the importer answers with a clear refusal or a full import."""

from __future__ import annotations

import csv
import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from storage.catalogue_io import TEMPLATE_HEADER, CatalogueImportError, import_catalogue
from storage.db import make_engine, read_session
from storage.models import Technology

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def technology_count(engine) -> int:
    with read_session(engine) as session:
        return session.scalar(select(func.count()).select_from(Technology))


def attempt(engine, data: bytes) -> None:
    before = technology_count(engine)
    try:
        report = import_catalogue(engine, data)
    except CatalogueImportError as error:
        assert error.problems, "a refusal must say why"
        assert all(str(p) for p in error.problems)
        assert technology_count(engine) == before, "a refused import must leave the catalogue as it was"
    else:
        assert technology_count(engine) == before + report.count("create")


@FUZZ
@given(data=st.binary(max_size=2000))
def test_random_bytes_never_crash_the_importer(sqlite_url: str, data: bytes) -> None:
    engine = make_engine(sqlite_url)
    attempt(engine, data)
    engine.dispose()


cell = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["Diagnostics", "imaging", "Radiology", "within_1y", "high", "IIa", "K123456", "510k", "2024-01-31", "31/12/2024", "=1+1", ";", ""]),
)


@FUZZ
@given(
    columns=st.lists(st.sampled_from([*TEMPLATE_HEADER, "Device", "Submission Number", "junk"]), min_size=1, max_size=8, unique=True),
    rows=st.lists(st.lists(cell, min_size=0, max_size=9), max_size=6),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]),
)
def test_random_csv_files_are_refused_clearly_or_imported_whole(sqlite_url: str, columns: list[str], rows: list[list[str]], encoding: str) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows(rows)
    engine = make_engine(sqlite_url)
    attempt(engine, buffer.getvalue().encode(encoding, errors="replace"))
    engine.dispose()
