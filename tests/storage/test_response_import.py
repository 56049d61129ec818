"""`roadmap responses import` on real-world files: streamed from disk with no size limit, refused
whole (nothing written) when unreadable, problems capped but counted, tolerant readings listed."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook
from sqlalchemy import select

from storage.db import read_session
from storage.models.accounts import AuditEvent
from storage.models.survey import SurveyAnswer, SurveyResponse
from storage.survey_io import export_responses, import_responses
from storage.surveys import ensure_builtin_instruments
from storage.tabular import MAX_UPLOAD_BYTES
from streamlit_app.cli import main
from survey.flat_responses import MAX_LISTED, ResponsesImportError
from tests.storage.test_survey_repository import PROFILE, add_technologies, campaign, count, tech_block

INSTRUMENT = "clinician_experience"
HEADER = "record_id,redcap_repeat_instrument,redcap_repeat_instance,technology_id,consent,staff_group,tech_use_frequency\r\n"


def cli(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def import_file(capsys, url: str, path: Path, *extra: str) -> tuple[int, str, str]:
    return cli(capsys, "responses", "import", str(path), "--instrument", INSTRUMENT, "--database-url", url, *extra)


def nothing_written(engine) -> bool:
    with read_session(engine) as session:
        imports = session.scalars(select(AuditEvent.id).where(AuditEvent.action == "response_import")).all()
    return count(engine, SurveyResponse) == 0 and count(engine, SurveyAnswer) == 0 and not imports


def test_a_file_over_the_browser_limit_imports_from_the_command_line(engine, database_url, tmp_path, capsys) -> None:
    ensure_builtin_instruments(engine)
    # REDCap's per-form housekeeping columns (`*_complete`) are ignored; wide ones make a big file of few records.
    padding = [f"form{i}_complete" for i in range(100)]
    lines = ["record_id,consent,staff_group," + ",".join(padding)]
    lines += [f"r{n},1,nurse," + ",".join("2" * 1000 for _ in padding) for n in range(220)]
    path = tmp_path / "wide.csv"
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    assert path.stat().st_size > MAX_UPLOAD_BYTES
    code, out, _ = import_file(capsys, database_url, path, "--json")
    assert code == 0 and json.loads(out)["imported"] == 220
    assert count(engine, SurveyResponse) == 220


@pytest.mark.parametrize(("content", "row", "reason"), [
    (HEADER.encode() + b"r1,,,,yes,nurse,\r\nr2,,,,yes,infirmi\xe8re,\r\n", 3, "not UTF-8 text (byte 0xE8"),
    ((HEADER + 'r1,,,,yes,"nurse" (band 5),\r\n').encode(), 2, "text after its closing quote"),
    ((HEADER + 'r1,,,,yes,"nurse,\r\nr2,,,,yes,medic,\r\n').encode(), 2, "never closed"),
    ((HEADER + "r1,,,,yes,nurse,\r\nr2,,,,ye").encode(), 3, "looks truncated"),
])
def test_unreadable_files_are_refused_with_the_row_and_nothing_is_written(engine, database_url, tmp_path, capsys,
                                                                          content: bytes, row: int, reason: str) -> None:
    ensure_builtin_instruments(engine)
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    code, _, err = import_file(capsys, database_url, path)
    assert code == 1 and err.count("\n") == 1
    assert f"row {row}: " in err and reason in err
    assert nothing_written(engine)


def test_many_problems_are_capped_but_counted_and_the_file_refused(engine, database_url, tmp_path, capsys) -> None:
    ensure_builtin_instruments(engine)
    bad = MAX_LISTED + 500
    path = tmp_path / "many.csv"
    path.write_text("record_id,consent,staff_group\r\n" + "".join(f"r{n},maybe,nurse\r\n" for n in range(bad)) + "ok,yes,nurse\r\n")
    with pytest.raises(ResponsesImportError) as caught:
        import_responses(engine, INSTRUMENT, path)
    assert caught.value.total == bad and len(caught.value.errors) == MAX_LISTED
    assert caught.value.errors[0] == (2, "consent", "Answer yes or no.")
    code, _, err = import_file(capsys, database_url, path)
    assert code == 1 and f"nothing imported; {bad} problem(s): row 2 column consent: Answer yes or no." in err
    assert err.rstrip().endswith(f"and {bad - 20} more") and err.count("\n") == 1
    assert nothing_written(engine)


def test_a_record_s_rows_must_be_together(engine) -> None:
    [tool] = add_technologies(engine, 1)
    ensure_builtin_instruments(engine)
    text = HEADER + f"r1,,,,yes,nurse,\r\nr2,,,,yes,medic,\r\nr1,technology,1,{tool},,,daily\r\n"
    with pytest.raises(ResponsesImportError) as caught:
        import_responses(engine, INSTRUMENT, text.encode())
    assert caught.value.errors == [(4, "record_id", "record 'r1' already ended at row 2: keep each record's rows together, "
                                                    "one after another, as REDCap exports them")]


def test_a_pandas_rewritten_export_imports_with_each_coercion_reported(engine, database_url, tmp_path, capsys) -> None:
    first, second = add_technologies(engine, 2)
    from storage.survey_submit import submit_response

    created = campaign(engine)
    submit_response(engine, created.campaign_id, {"consent": "no"}, {}, "k0")
    for key in range(1, 6):
        submit_response(engine, created.campaign_id, PROFILE, {first: tech_block("daily"), second: tech_block()}, f"k{key}")
    exported = export_responses(engine, INSTRUMENT)
    path = tmp_path / "through-pandas.csv"
    pd.read_csv(io.StringIO(exported.to_csv(index=False))).to_csv(path, index=False)
    assert "technology,1.0," in path.read_text()
    code, out, _ = import_file(capsys, database_url, path)
    assert code == 0 and out.splitlines()[0] == "imported 6 of 6 records into clinician_experience version 1 (0 already imported)"
    assert "warning: row 2, column consent: '0.0' read as '0' (a whole number written as a decimal)" in out
    # Past the first 20, a count per column and kind, with its first example.
    assert "warning: column consent: 6 cell(s) were a whole number written as a decimal (first in row 2: '0.0' read as '0')" in out
    code, out, _ = import_file(capsys, database_url, path, "--json")
    result = json.loads(out)
    assert result["already_imported"] == 6 and result["coercions_total"] == len(result["coercions"]) > 20
    assert {"row": 4, "column": "redcap_repeat_instance", "from": "1.0", "to": "1",
            "reason": "a whole number written as a decimal"} in result["coercions"]
    assert count(engine, SurveyResponse) == 12  # six submitted, six imported once


def test_a_workbook_is_read_as_a_stream_with_its_formula_guard_undone(engine) -> None:
    [tool] = add_technologies(engine, 1)
    ensure_builtin_instruments(engine)
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["record_id", "redcap_repeat_instrument", "redcap_repeat_instance", "technology_id", "consent", "staff_group",
                  "years_in_role", "comments", "tech_use_frequency"])
    sheet.append(["w1", None, None, None, 1, "nurse", 12.0, "'=not a formula", None])
    sheet.append(["w1", "technology", 1, tool, None, None, None, None, "weekly"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    summary = import_responses(engine, INSTRUMENT, buffer.getvalue())
    assert (summary.imported, summary.coercions_total) == (1, 0)  # spreadsheet numbers are numbers, not rewritten text
    with read_session(engine) as session:
        document = session.scalar(select(SurveyResponse.document))
    assert document["answers"]["comments"] == "=not a formula" and document["answers"]["years_in_role"] == 12
    assert document["technologies"] == {str(tool): {"tech_use_frequency": "weekly"}}


def test_an_adoption_return_file_updates_sites_and_adoption_with_its_date_serials(engine) -> None:
    from storage.models.catalogue import AdoptionRecord, Site

    [tool] = add_technologies(engine, 1)
    ensure_builtin_instruments(engine)
    text = ("record_id,redcap_repeat_instrument,redcap_repeat_instance,technology_id,organisation_name,site_type,region,"
            "adoption_status,go_live_date\r\n"
            "a1,,,,Leeds Teaching Hospitals,acute_trust,north_east_yorkshire,,\r\n"
            f"a1,technology,1.0,{tool}.0,,,,live,45444\r\n")
    summary = import_responses(engine, "organisation_adoption", text.encode())
    assert summary.imported == 1 and {c.reason for c in summary.coercions} == {
        "a whole number written as a decimal", "an Excel date serial number"}
    with read_session(engine) as session:
        site = session.scalar(select(Site).where(Site.name == "Leeds Teaching Hospitals"))
        record = session.scalar(select(AdoptionRecord).where(AdoptionRecord.site_id == site.id))
    assert (record.technology_id, record.status, str(record.start_date)) == (tool, "live", "2024-06-01")
