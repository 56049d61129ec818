"""Survey responses in and out, codes and pseudonyms, demo evidence, the CLI and concurrent submission."""

from __future__ import annotations

import datetime as dt
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage.db import read_session, write_session
from storage.demo import load_demo_catalogue
from storage.demo_evidence import ADOPTION_RETURNS, CLINICIAN_RESPONSES, load_demo_evidence
from storage.exports import table_bytes
from storage.models.catalogue import Technology
from storage.models.survey import SurveyAnswer, SurveyCampaign, SurveyResponse
from storage.security import PseudonymKeyRing
from storage.survey_codes import (
    CODE_ALPHABET,
    DEVELOPMENT_PSEUDONYM_KEY,
    PseudonymKeyMissing,
    derived_code,
    new_code,
    normalise_code,
    pseudonym_key_from_environment,
    pseudonymise,
)
from storage.survey_frames import load_survey_frames
from storage.survey_io import export_responses, import_responses
from storage.survey_submit import submit_response
from storage.surveys import CampaignInput, create_campaign, ensure_builtin_instruments
from streamlit_app.cli import main
from survey.flat_responses import ResponsesImportError
from tests.storage.test_survey_repository import NOW, PROFILE, add_technologies, campaign, count, tech_block


def two_responses(engine) -> tuple[int, int]:
    first_tool, second_tool = add_technologies(engine, 2)
    created = campaign(engine)
    with_email = PROFILE | {"follow_up": "yes", "contact_email": "a.person@nhs.net", "comments": "=HYPERLINK(\"x\")"}
    submit_response(engine, created.campaign_id, with_email, {first_tool: tech_block("daily"), second_tool: tech_block()}, "k1", now=NOW)
    submit_response(engine, created.campaign_id, {"consent": "yes", "staff_group": "medic"}, {}, "k2", now=NOW)
    return first_tool, second_tool


def documents(engine) -> list[dict]:
    with read_session(engine) as session:
        return list(session.scalars(select(SurveyResponse.document).order_by(SurveyResponse.id)))


def test_flat_export_import_round_trip(engine):
    first_tool, _ = two_responses(engine)
    frame = export_responses(engine, "clinician_experience")
    # One main row per response plus one repeat row per technology.
    assert frame["record_id"].tolist() == ["1", "1", "1", "2"]
    assert frame["technology_id"].tolist()[1] == str(first_tool)
    assert frame["archetypes___driver"].tolist()[0] == "1" and frame["archetypes___shaper"].tolist()[0] == "0"
    before = documents(engine)
    data = table_bytes(frame, "csv")
    with write_session(engine) as session:
        session.execute(SurveyAnswer.__table__.delete())
        session.execute(SurveyResponse.__table__.delete())
    summary = import_responses(engine, "clinician_experience", data)
    assert (summary.records, summary.imported, summary.already_imported) == (2, 2, 0)
    assert documents(engine) == before
    assert import_responses(engine, "clinician_experience", data).already_imported == 2
    assert count(engine, SurveyResponse) == 2


def test_import_is_all_or_nothing_with_row_numbers(engine):
    [tool] = add_technologies(engine, 1)
    ensure_builtin_instruments(engine)
    bad = (
        "record_id,redcap_repeat_instrument,redcap_repeat_instance,technology_id,consent,staff_group,years_in_role\r\n"
        "r1,,,,yes,nurse,3\r\n"
        "r2,,,,yes,nurse,99\r\n"
        "r3,,,,maybe,nurse,1\r\n"
    ).encode()
    with pytest.raises(ResponsesImportError) as error:
        import_responses(engine, "clinician_experience", bad)
    assert [(row, column) for row, column, _ in error.value.errors] == [(3, "years_in_role"), (4, "consent")]
    unknown_technology = (
        "record_id,redcap_repeat_instrument,redcap_repeat_instance,technology_id,consent,staff_group,tech_use_frequency\r\n"
        "r1,,,,yes,nurse,\r\n"
        f"r1,technology,1,{tool},,,daily\r\n"
        "r1,technology,2,424242,,,weekly\r\n"
    ).encode()
    with pytest.raises(ResponsesImportError) as error:
        import_responses(engine, "clinician_experience", unknown_technology)
    # The problem names the row holding the unknown technology.
    assert [(row, column) for row, column, _ in error.value.errors] == [(4, "technology_id")] and "424242" in error.value.errors[0][2]
    assert count(engine, SurveyResponse) == 0


def test_deidentified_export_drops_identifiers_and_free_text(engine):
    two_responses(engine)
    frame = export_responses(engine, "clinician_experience", deidentified=True, keyring=PseudonymKeyRing("v1", {"v1": "secret"}), labels=True)
    assert "contact_email" not in frame.columns and "comments" not in frame.columns
    assert "follow_up" in frame.columns and frame["follow_up"].tolist()[0] == "Yes"
    ids = frame["record_id"].tolist()
    assert ids[0] == pseudonymise("1", "secret", purpose="export-record") and all(i.startswith("v1:") for i in ids)
    assert frame["submitted_at"].tolist()[0] == NOW.date().isoformat()
    with pytest.raises(ValueError, match="pseudonym key"):
        export_responses(engine, "clinician_experience", deidentified=True)


def test_export_neutralises_formulas_in_free_text(engine):
    two_responses(engine)
    data = table_bytes(export_responses(engine, "clinician_experience"), "csv").decode("utf-8-sig")
    assert "'=HYPERLINK" in data


def test_codes_are_friendly_and_pseudonyms_keyed(monkeypatch):
    codes = {new_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        groups = code.split("-")
        assert [len(g) for g in groups] == [4, 4, 4, 4] and all(c in CODE_ALPHABET for c in "".join(groups))
    assert len(CODE_ALPHABET) == 32  # 16 characters x 5 bits = 80 bits
    assert normalise_code(" abcd efgh-jkmn pqrs ") == "ABCD-EFGH-JKMN-PQRS"
    assert normalise_code("O1IL-0000-0000-0000") == "0111-0000-0000-0000"
    assert normalise_code("ABCU-0000-0000-0000") is None and normalise_code("ABC") is None
    assert derived_code("k", "key-1") == derived_code("k", "key-1") != derived_code("k", "key-2")
    assert derived_code("k", "key-1") != derived_code("other", "key-1")
    assert pseudonymise("u1", "k") == pseudonymise("u1", "k") != pseudonymise("u1", "k2")
    assert pseudonymise("u1", "k").startswith("v1:") and len(pseudonymise("u1", "k")) == 3 + 64
    monkeypatch.delenv("ROADMAP_PSEUDONYM_KEY", raising=False)
    monkeypatch.delenv("ROADMAP_DEV_LOGIN", raising=False)
    with pytest.raises(PseudonymKeyMissing):
        pseudonym_key_from_environment()
    monkeypatch.setenv("ROADMAP_DEV_LOGIN", "1")
    assert pseudonym_key_from_environment() == DEVELOPMENT_PSEUDONYM_KEY
    monkeypatch.setenv("ROADMAP_PSEUDONYM_KEY", "configured")
    assert pseudonym_key_from_environment() == "configured"


def test_demo_evidence_is_validated_labelled_and_loaded_once(engine):
    load_demo_catalogue(engine, count=40)
    assert load_demo_evidence(engine, False) == {"survey_responses": CLINICIAN_RESPONSES, "adoption_returns": ADOPTION_RETURNS}
    assert load_demo_evidence(engine, True) == {"survey_responses": 0, "adoption_returns": 0}
    frames = load_survey_frames(engine)
    responses = frames["responses"]
    assert len(responses) == CLINICIAN_RESPONSES + ADOPTION_RETURNS and responses["is_demo"].all()
    answers = frames["answers"]
    # Answers lean towards the desk assessment: most time-to-scale answers match the catalogue horizon.
    with read_session(engine) as session:
        horizons = {i: h for i, h in session.execute(select(Technology.id, Technology.time_to_deployment))}
    scale = answers[answers["variable"] == "tech_time_to_scale"]
    matches = sum(horizons[int(t)] == v for t, v in zip(scale["technology_id"], scale["value"], strict=True))
    assert matches / len(scale) > 0.45


def test_empty_database_without_demo_catalogue_loads_no_demo_evidence(engine):
    assert load_demo_evidence(engine, False) == {"survey_responses": 0, "adoption_returns": 0}


def _submit_many(engine, campaign_id: int, thread: int) -> int:
    for index in range(50):
        submit_response(engine, campaign_id, {"consent": "yes", "staff_group": "nurse"}, {}, f"t{thread}-{index}")
    return 50


def test_twenty_threads_store_exactly_one_thousand_responses(engine):
    created = campaign(engine)
    with ThreadPoolExecutor(max_workers=20) as pool:
        stored = sum(pool.map(lambda thread: _submit_many(engine, created.campaign_id, thread), range(20)))
    assert stored == 1000
    assert count(engine, SurveyResponse) == 1000 and count(engine, SurveyAnswer) == 2000


def run_cli(capsys, *argv: str) -> tuple[int, dict]:
    code = main([*argv, "--json"])
    out = capsys.readouterr().out.strip().splitlines()
    return code, json.loads(out[-1])


def test_cli_instrument_and_response_commands(sqlite_url, tmp_path: Path, capsys, monkeypatch):
    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "survey"
    code, result = run_cli(capsys, "instrument", "import", str(fixtures / "redcap_unsupported.csv"), "--database-url", sqlite_url)
    assert code == 0 and result["name"] == "redcap_unsupported" and any("the function sqrt() is not supported" in w for w in result["warnings"])
    code, result = run_cli(capsys, "instrument", "import", str(fixtures / "xlsform_legacy.csv"), "--database-url", sqlite_url)
    assert code == 0 and result["warnings"]
    dictionary = tmp_path / "dictionary.csv"
    code, result = run_cli(capsys, "instrument", "export", "clinician_experience", str(dictionary), "--database-url", sqlite_url)
    assert code == 0 and dictionary.read_text(encoding="utf-8").startswith("Variable / Field Name,Form Name")
    code, result = run_cli(capsys, "instrument", "export", "no_such_thing", str(dictionary), "--database-url", sqlite_url)
    assert code == 1 and "no published instrument 'no_such_thing'" in result["error"]

    flat = tmp_path / "responses.csv"
    flat.write_text("record_id,consent,staff_group\r\nr1,yes,nurse\r\nr2,yes,medic\r\n", encoding="utf-8")
    code, result = run_cli(capsys, "responses", "import", str(flat), "--instrument", "clinician_experience", "--database-url", sqlite_url)
    assert code == 0 and (result["records"], result["imported"]) == (2, 2)
    flat.write_text("record_id,consent,staff_group\r\nr9,yes,nurse\r\nr10,perhaps,medic\r\n", encoding="utf-8")
    code, result = run_cli(capsys, "responses", "import", str(flat), "--instrument", "clinician_experience", "--database-url", sqlite_url)
    assert code == 1 and "row 3 column consent" in result["error"]

    out = tmp_path / "out.xlsx"
    code, result = run_cli(capsys, "responses", "export", "clinician_experience", str(out), "--labels", "--database-url", sqlite_url)
    assert code == 0 and result["records"] == 2 and out.read_bytes()[:2] == b"PK"
    monkeypatch.delenv("ROADMAP_PSEUDONYM_KEY", raising=False)
    monkeypatch.delenv("ROADMAP_DEV_LOGIN", raising=False)
    code, result = run_cli(capsys, "responses", "export", "clinician_experience", str(out), "--deidentified", "--database-url", sqlite_url)
    assert code == 1 and "ROADMAP_PSEUDONYM_KEY" in result["error"]
    monkeypatch.setenv("ROADMAP_PSEUDONYM_KEY", "cli-key")
    code, result = run_cli(capsys, "responses", "export", "clinician_experience", str(tmp_path / "d.csv"), "--deidentified", "--database-url", sqlite_url)
    assert code == 0 and result["deidentified"] is True


def test_campaign_input_rejects_inconsistent_settings():
    base = {"instrument_id": 1, "title": "T", "opens_at": NOW}
    with pytest.raises(ValueError, match="closing date must be after"):
        CampaignInput(**base, closes_at=NOW - dt.timedelta(days=1))
    with pytest.raises(ValueError, match="at least one invitation"):
        CampaignInput(**base, access="invitation")
    with pytest.raises(ValueError, match="response_limit"):
        CampaignInput(**base, response_limit=0)
    assert CampaignInput(**base | {"opens_at": dt.datetime(2026, 1, 1)}).opens_at.tzinfo is dt.UTC


def test_create_campaign_stores_only_token_digests(engine):
    ids = ensure_builtin_instruments(engine)
    created = create_campaign(engine, CampaignInput(instrument_id=ids["clinician_experience"], title="T", opens_at=NOW))
    assert len(created.link_token) >= 32
    with read_session(engine) as session:
        stored = session.scalar(select(SurveyCampaign.link_token_hash))
        assert stored != created.link_token and len(stored) == 64
        assert session.scalar(select(func.count()).select_from(SurveyCampaign)) == 1
