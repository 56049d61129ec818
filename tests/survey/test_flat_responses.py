"""REDCap-style flat response export and all-or-nothing import."""

from datetime import datetime

import pandas as pd
import pytest

from survey.flat_responses import (
    FIXED_COLUMNS,
    FlatRecord,
    ResponsesImportError,
    export_flat,
    import_flat,
)
from survey.instrument import builtin_instruments
from survey.validation import validate_submission


@pytest.fixture(scope="module")
def clinician():
    return builtin_instruments()["clinician_experience"]


@pytest.fixture(scope="module")
def records(clinician):
    first = validate_submission(
        clinician,
        {"consent": "yes", "staff_group": "medic", "years_in_role": 4, "archetypes": ["user", "creator"],
         "comments": 'Line one\nline two, with "quotes"', "follow_up": "yes", "contact_email": "a.b@nhs.net"},
        {"tech-1": {"tech_use_frequency": "daily", "tech_time_effect": "added", "tech_minutes_per_case": "2.5",
                    "tech_barriers": ["cost"], "conf_gov_regulation": "5", "tech_accuracy": "4"},
         "tech-2": {"tech_use_frequency": "not_used"}})
    second = validate_submission(clinician, {"consent": "no"}, {})
    assert first.ok and second.ok
    return [FlatRecord("R-001", first.document, datetime(2024, 6, 1, 9, 15, 30)),
            FlatRecord("R-002", second.document, None)]


def test_export_layout(clinician, records):
    frame = export_flat(clinician, records)
    assert list(frame.columns[:6]) == list(FIXED_COLUMNS)
    assert "archetypes___creator" in frame.columns and "archetypes" not in frame.columns
    assert "consent_information" not in frame.columns and "tech_confidence" not in frame.columns
    assert "conf_clin_context" in frame.columns
    numeric = {"years_in_role": "Int64", "tech_tasks_share": "Int64", "tech_accuracy": "Int64",
               "ai_familiarity": "Int64", "tech_minutes_per_case": "Float64"}
    assert {name: str(frame[name].dtype) for name in numeric} == numeric
    assert all(str(dtype) == "str" for name, dtype in frame.dtypes.items() if name not in numeric
               and name not in ("tech_safety", "tech_patient_benefit"))
    assert len(frame) == 4  # R-001 main + 2 technology rows, R-002 main
    main = frame.iloc[0]
    assert (main["record_id"], main["submitted_at"], main["consent"], main["years_in_role"]) == (
        "R-001", "2024-06-01T09:15:30", "1", 4)
    assert (main["archetypes___user"], main["archetypes___creator"], main["archetypes___shaper"]) == ("1", "1", "0")
    assert pd.isna(main["redcap_repeat_instrument"]) and pd.isna(main["specialty"])
    tech = frame.iloc[1]
    assert (tech["redcap_repeat_instrument"], tech["redcap_repeat_instance"], tech["technology_id"]) == (
        "technology", "1", "tech-1")
    assert (tech["tech_minutes_per_case"], tech["tech_barriers___cost"], tech["tech_barriers___none"]) == (2.5, "1", "0")
    assert pd.isna(tech["consent"])
    assert frame.iloc[2]["redcap_repeat_instance"] == "2"
    assert pd.isna(frame.iloc[2]["tech_barriers___cost"])  # question not answered: empty, not 0
    assert frame.iloc[3]["consent"] == "0"


def test_labels(clinician, records):
    frame = export_flat(clinician, records, labels=True)
    assert (frame.iloc[0]["consent"], frame.iloc[0]["staff_group"], frame.iloc[0]["archetypes___user"],
            frame.iloc[0]["archetypes___shaper"]) == ("Yes", "Medical (doctor)", "Checked", "Unchecked")
    assert frame.iloc[1]["tech_use_frequency"] == "Daily or almost daily"
    assert frame.iloc[1]["tech_accuracy"] == "Good"
    assert frame.iloc[1]["conf_gov_regulation"] == "Completely confident"


def test_deidentified_export_drops_identifiers_and_free_text_and_pseudonymises(clinician, records):
    frame = export_flat(clinician, records, deidentify=True, pseudonymise=lambda rid: f"P-{rid[::-1]}")
    assert "contact_email" not in frame.columns and "comments" not in frame.columns
    assert "staff_group" in frame.columns
    assert set(frame["record_id"]) == {"P-100-R", "P-200-R"}
    assert frame.iloc[0]["submitted_at"] == "2024-06-01"
    with pytest.raises(ValueError, match="pseudonymise"):
        export_flat(clinician, records, deidentify=True)


def test_export_then_import_round_trips(clinician, records):
    for labels in (False, True):
        text = export_flat(clinician, records, labels=labels).to_csv(index=False)
        imported = import_flat(clinician, text)
        assert [(r.record_id, r.document, r.submitted_at, r.row_number) for r in imported] == [
            (rec.record_id, rec.document, rec.submitted_at, row) for rec, row in zip(records, (2, 5))]


def test_empty_export_has_the_columns(clinician):
    frame = export_flat(clinician, [])
    assert frame.empty and list(frame.columns[:6]) == list(FIXED_COLUMNS)


def problems(clinician, text):
    with pytest.raises(ResponsesImportError) as caught:
        import_flat(clinician, text)
    return caught.value.errors


def test_import_reports_every_problem_with_row_numbers(clinician):
    text = (
        "record_id,redcap_repeat_instrument,redcap_repeat_instance,technology_id,consent,staff_group,years_in_role,"
        "archetypes___user,tech_use_frequency,tech_minutes_per_case\n"
        "A,,,,1,medic,4,1,,\n"            # row 2: fine
        "A,technology,1,t1,,,,,daily,\n"  # row 3: fine
        "B,,,,1,wizard,70,maybe,,\n"      # row 4: bad choice, out of range, bad checkbox cell
        "B,technology,1,,,,,,daily,\n"    # row 5: repeat row without technology id
        "C,,,,1,nurse,,,weekly,\n"        # row 6: a per-technology answer on the main row
        "C,technology,x,t9,,,,,,\n"       # row 7: bad instance, missing required frequency
        ",,,,1,,,,,\n"                    # row 8: no record id
        "A,,,,1,medic,4,1,,\n"            # row 9: second main row for A
    )
    errors = problems(clinician, text)
    assert errors == sorted(errors, key=lambda e: e[0])
    by_row = {}
    for row, column, message in errors:
        by_row.setdefault(row, []).append((column, message))
    assert 2 not in by_row and 3 not in by_row
    assert ("archetypes___user", "'maybe' is not 1 or 0 (Checked or Unchecked)") in by_row[4]
    assert ("staff_group", "'wizard' is not one of the options.") in by_row[4]
    assert ("years_in_role", "Must be at most 50.") in by_row[4]
    assert by_row[5] == [("technology_id", "a repeat row needs a technology id")]
    assert by_row[6] == [("tech_use_frequency", "this answer belongs on a 'technology' repeat row")]
    assert ("redcap_repeat_instance", "'x' is not a positive whole number") in by_row[7]
    assert ("tech_use_frequency", "This question needs an answer.") in by_row[7]
    assert by_row[8] == [("record_id", "the record id is empty")]
    assert by_row[9] == [("redcap_repeat_instrument", "the record already has a main row (row 2)")]


def test_header_problems(clinician):
    errors = problems(clinician, "record_id,consent,mystery,archetypes,archetypes___wizard,consent\nA,1,,,,\n")
    assert (1, "mystery", "not a variable of instrument 'clinician_experience'") in errors
    assert (1, "archetypes", "multiple-choice answers need one column per option, named archetypes___<code>") in errors
    assert (1, "archetypes___wizard", "'wizard' is not an option of 'archetypes'") in errors
    assert (1, "consent", "this column appears twice") in errors
    assert problems(clinician, "record_id,redcap_event_name,consent\nA,baseline,0\n") == [
        (1, "redcap_event_name", "longitudinal (event) data is not supported")]
    assert problems(clinician, "") == [(1, "", "the file is empty or has no header row")]
    assert problems(clinician, b"\x00\x01") == [(1, "", "the file is binary, not text (it contains NUL bytes)")]
    assert problems(clinician, "record_id,consent\n") == [(2, "", "the file has a header row but no records")]


def test_redcap_housekeeping_columns_are_ignored_and_nothing_is_half_imported(clinician):
    text = "record_id,redcap_survey_identifier,consent,my_form_complete,my_form_timestamp\nA,,0,2,2024-01-01\n"
    [record] = import_flat(clinician, text)
    assert record.document == {"answers": {"consent": "no"}, "technologies": {}}
    with pytest.raises(ResponsesImportError) as caught:
        import_flat(clinician, text + "B,,maybe,,\n")
    assert caught.value.errors == [(3, "consent", "Answer yes or no.")]
    assert "1 problem(s)" in str(caught.value) and "row 3" in str(caught.value)
