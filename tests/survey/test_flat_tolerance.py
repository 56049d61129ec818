"""Flat response files as pandas and spreadsheets rewrite them: ``1.0``, ``TRUE``, Excel date
serials and ``nan`` are read as meant where that is unambiguous, and every such reading is named."""

from __future__ import annotations

import io
import string
from datetime import datetime

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from survey.flat_coercions import BOOLEAN_WORD, EXCEL_SERIAL, MISSING_MARKER, WHOLE_AS_DECIMAL
from survey.flat_csv import csv_rows
from survey.flat_responses import FlatRecord, FlatResponsesReader, ImportedRecord, ResponsesImportError, export_flat, import_flat
from survey.instrument import builtin_instruments
from survey.validation import validate_submission

INSTRUMENTS = builtin_instruments()
CLINICIAN = INSTRUMENTS["clinician_experience"]
ADOPTION = INSTRUMENTS["organisation_adoption"]


def read(instrument, text: str) -> tuple[list[ImportedRecord], FlatResponsesReader]:
    reader = FlatResponsesReader(instrument)
    records = list(reader.records(csv_rows(io.BytesIO(text.encode("utf-8")))))
    return records, reader


def through_pandas(text: str) -> str:
    """What `pd.read_csv(...).to_csv(...)` makes of a file: number columns with gaps become floats."""
    return pd.read_csv(io.StringIO(text)).to_csv(index=False)


def document(instrument, answers: dict, technologies: dict | None = None) -> dict:
    result = validate_submission(instrument, answers, technologies or {})
    assert result.ok, result.errors
    return result.document


@pytest.fixture(scope="module")
def records() -> list[FlatRecord]:
    first = document(CLINICIAN, {"consent": "yes", "staff_group": "medic", "years_in_role": 4, "archetypes": ["user", "creator"],
                                 "ai_familiarity": 3},
                     {"12": {"tech_use_frequency": "daily", "tech_time_effect": "added", "tech_minutes_per_case": 2.5,
                             "tech_barriers": ["cost"], "conf_gov_regulation": "5", "tech_accuracy": 4},
                      "31": {"tech_use_frequency": "not_used"}})
    return [FlatRecord("R-001", first, datetime(2024, 6, 1, 9, 15, 30)), FlatRecord("R-002", document(CLINICIAN, {"consent": "no"}))]


def test_our_own_export_is_read_without_any_coercion(records) -> None:
    imported, reader = read(CLINICIAN, export_flat(CLINICIAN, records).to_csv(index=False))
    assert reader.ok and reader.coercions.total == 0
    assert [r.document for r in imported] == [r.document for r in records]


def test_a_file_passed_through_pandas_imports_whole_and_names_each_coercion(records) -> None:
    text = through_pandas(export_flat(CLINICIAN, records).to_csv(index=False))
    assert "R-001,technology,1.0,12.0," in text  # the shape the issue reported: '1.0' refused as a repeat instance
    imported, reader = read(CLINICIAN, text)
    assert reader.ok, reader.problems.items
    assert [r.document for r in imported] == [r.document for r in records]
    named = {(c.row, c.column): (c.original, c.value, c.reason) for c in reader.coercions.items}
    assert named[(2, "consent")] == ("1.0", "1", WHOLE_AS_DECIMAL)
    assert named[(2, "years_in_role")] == ("4.0", "4", WHOLE_AS_DECIMAL)
    assert named[(2, "archetypes___creator")] == ("1.0", "1", WHOLE_AS_DECIMAL)
    assert named[(3, "redcap_repeat_instance")] == ("1.0", "1", WHOLE_AS_DECIMAL)
    assert named[(3, "technology_id")] == ("12.0", "12", WHOLE_AS_DECIMAL)
    assert named[(3, "conf_gov_regulation")] == ("5.0", "5", WHOLE_AS_DECIMAL)  # a choice code written as a decimal
    assert named[(5, "consent")] == ("0.0", "0", WHOLE_AS_DECIMAL)
    assert (3, "tech_minutes_per_case") not in named  # 2.5 is a decimal as written
    counts = {(c.column, c.reason): c.count for c in reader.coercion_counts.values()}
    assert counts[("consent", WHOLE_AS_DECIMAL)] == 2 and counts[("technology_id", WHOLE_AS_DECIMAL)] == 2
    assert str(reader.coercions.items[0]) == "row 2, column consent: '1.0' read as '1' (a whole number written as a decimal)"


def test_true_false_for_yes_no_and_checkboxes() -> None:
    text = ("record_id,consent,staff_group,archetypes___user,archetypes___shaper,follow_up\n"
            "A,TRUE,nurse,TRUE,FALSE,false\n")
    [record], reader = read(CLINICIAN, text)
    assert record.document["answers"] == {"consent": "yes", "staff_group": "nurse", "archetypes": ["user"], "follow_up": "no"}
    assert {(c.column, c.original, c.value, c.reason) for c in reader.coercions.items} == {
        ("consent", "TRUE", "1", BOOLEAN_WORD), ("archetypes___user", "TRUE", "1", BOOLEAN_WORD),
        ("archetypes___shaper", "FALSE", "0", BOOLEAN_WORD), ("follow_up", "false", "0", BOOLEAN_WORD)}


def test_excel_date_serials_where_a_date_is_expected() -> None:
    text = ("record_id,redcap_repeat_instrument,redcap_repeat_instance,technology_id,submitted_at,organisation_name,site_type,"
            "region,adoption_status,go_live_date\n"
            "A,,,,45444.5,Leeds Teaching Hospitals,acute_trust,north_east_yorkshire,,\n"
            "A,technology,1,7,,,,,live,45444\n")
    [record], reader = read(ADOPTION, text)
    assert reader.ok, reader.problems.items
    assert record.submitted_at == datetime(2024, 6, 1, 12, 0)
    assert record.document["technologies"]["7"]["go_live_date"] == "2024-06-01"
    assert {(c.row, c.column, c.value, c.reason) for c in reader.coercions.items} == {
        (2, "submitted_at", "2024-06-01T12:00:00", EXCEL_SERIAL), (3, "go_live_date", "2024-06-01", EXCEL_SERIAL)}


@pytest.mark.parametrize(("column", "cell", "message"), [
    ("years_in_role", "4.5", "Enter a whole number, for example 12."),  # not whole: not rounded
    ("consent", "0.5", "Answer yes or no."),
    ("consent", "2.0", "Answer yes or no."),  # a whole number, but not a yes/no code
    ("staff_group", "1.0", "'1.0' is not one of the options."),  # codes are words: 1.0 means nothing
])
def test_ambiguous_cells_are_refused_not_guessed(column: str, cell: str, message: str) -> None:
    values = {"consent": "1", "staff_group": "nurse", "years_in_role": "3"} | {column: cell}
    header = ",".join(["record_id", *values])
    with pytest.raises(ResponsesImportError) as caught:
        import_flat(CLINICIAN, f"{header}\nA,{','.join(values.values())}\n")
    assert caught.value.errors == [(2, column, message)]


@pytest.mark.parametrize("cell", ["2024", "45444.5", "123456"])
def test_numbers_that_are_not_plainly_a_day_count_are_not_dates(cell: str) -> None:
    text = ("record_id,redcap_repeat_instrument,technology_id,organisation_name,site_type,region,adoption_status,go_live_date\n"
            "A,,,Leeds,acute_trust,london,,\n"
            f"A,technology,7,,,,live,{cell}\n")
    with pytest.raises(ResponsesImportError) as caught:
        import_flat(ADOPTION, text)
    assert [(row, column) for row, column, _ in caught.value.errors] == [(3, "go_live_date")]


def test_nan_is_a_gap_except_in_free_text() -> None:
    text = "record_id,consent,staff_group,years_in_role,comments\nA,1,nurse,nan,nan\n"
    [record], reader = read(CLINICIAN, text)
    assert record.document["answers"] == {"consent": "yes", "staff_group": "nurse", "comments": "nan"}
    assert [(c.column, c.value, c.reason) for c in reader.coercions.items] == [("years_in_role", "", MISSING_MARKER)]


# --------------------------------------------------------------------------- property

# Free text that survives a trip through pandas: it reads NA-like words as missing and "inf" or
# "infinity" (any case) as a float, and writes them back changed; no importer can undo that.
WORDS = st.text(alphabet=string.ascii_letters + " ", min_size=3, max_size=20).filter(
    lambda text: text.strip() and text.strip().lower() not in {"nan", "na", "null", "none", "n/a", "inf", "infinity",
                                                               "true", "false", "yes", "no"})
STAFF = [choice.code for choice in CLINICIAN.section("profile").fields[0].choices]
BARRIERS = ["evidence", "cost", "infrastructure", "skills", "trust"]


@st.composite
def clinician_records(draw) -> list[FlatRecord]:
    records = []
    for index in range(draw(st.integers(1, 4))):
        answers: dict = {"consent": draw(st.sampled_from(["yes", "yes", "no"])), "staff_group": draw(st.sampled_from(STAFF))}
        technologies: dict = {}
        if answers["consent"] == "yes":
            optional = {"years_in_role": st.integers(0, 50), "ai_familiarity": st.integers(1, 5),
                        "archetypes": st.lists(st.sampled_from(["user", "creator", "driver"]), min_size=1, unique=True),
                        "follow_up": st.sampled_from(["yes", "no"]), "comments": WORDS}
            answers |= {name: draw(strategy) for name, strategy in optional.items() if draw(st.booleans())}
            for technology in draw(st.lists(st.sampled_from(["3", "17", "250"]), max_size=3, unique=True)):
                values: dict = {"tech_use_frequency": draw(st.sampled_from(["daily", "weekly", "not_used"]))}
                extra = {"tech_accuracy": st.integers(1, 5), "tech_tasks_share": st.integers(0, 100),
                         "tech_minutes_per_case": st.integers(0, 2400).map(lambda tenths: tenths / 10),
                         "tech_barriers": st.lists(st.sampled_from(BARRIERS), min_size=1, unique=True),
                         "conf_clin_bias": st.sampled_from(["1", "3", "5", "dont_know"])}
                values |= {name: draw(strategy) for name, strategy in extra.items() if draw(st.booleans())}
                if "tech_minutes_per_case" in values:
                    values["tech_time_effect"] = "saved"
                technologies[technology] = values
        records.append(FlatRecord(f"R{index}", document(CLINICIAN, answers, technologies)))
    return records


def as_spreadsheet_booleans(text: str) -> str:
    """Yes/no and checkbox columns written as TRUE/FALSE, as Excel shows a boolean column."""
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    for column in frame.columns:
        if column in ("consent", "follow_up") or "___" in column:
            frame[column] = frame[column].replace({"1": "TRUE", "0": "FALSE"})
    return frame.to_csv(index=False)


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(clinician_records(), st.sampled_from([through_pandas, as_spreadsheet_booleans]))
def test_rewritten_files_import_to_the_same_documents_and_every_coercion_is_true(records, rewrite) -> None:
    original = export_flat(CLINICIAN, records).to_csv(index=False)
    imported, reader = read(CLINICIAN, rewrite(original))
    assert reader.ok, reader.problems.items
    assert [r.document for r in imported] == [r.document for r in records]
    cells = pd.read_csv(io.StringIO(original), dtype=str, keep_default_na=False)
    for coercion in reader.coercions.items:
        # What a coerced cell was read as is what the original file said (rows: the header is row 1).
        assert cells.at[coercion.row - 2, coercion.column] == coercion.value, coercion
