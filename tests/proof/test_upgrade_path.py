"""Upgrading a database created by the first release's schema, with data in it, to the current
schema loses nothing (issue 7, "Faults").

The fixture database is built by migration 0001 only and filled with plain SQL (the ORM models
describe today's schema, not the first release's). Every row of every first-release table is
read before and after the upgrade, column by column, and must come back identical; then the
app's own read and write paths must work on the upgraded database.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, inspect, select, text

from storage.catalogue import load_frames, upsert_adoptions
from storage.db import make_engine, read_session, write_session
from storage.migrate import current_revision, head_revision, upgrade_to_head
from storage.models.catalogue import AdoptionRecord
from storage.vocabularies import labels, terms
from tests.conftest import BACKENDS, POSTGRES_URL

FIRST_RELEASE = "0001"
STAMP = "2025-03-04 09:30:00"

# Realistic first-release data: what a lead would have entered, imported and edited.
TECHNOLOGIES = [
    {"id": 1, "name": "Chest X-ray triage “Lumen”", "company": "Radiant Diagnostics Ltd",
     "short_description": "Flags abnormal chest X-rays for urgent reporting.",
     "long_description": "Prioritises the reporting worklist.\nCE marked; used in 3 trusts — see evaluation report.",
     "type_code": "diagnostics", "subtype_code": "imaging", "ai_technique": "Convolutional neural network",
     "input_data_type": "Chest radiographs (DICOM)", "time_to_deployment": "at_scale", "impact_workforce": "high",
     "impact_pathway": "medium", "impact_system": "low", "ukca_ce_class": "IIa", "ukca_ce_regime": "UKCA",
     "fda_pathway": "510k", "fda_submission_number": "K201234", "fda_decision_date": "2021-06-17",
     "nice_esf_tier": "C", "evidence_level": "2", "source": "template import", "source_detail": "catalogue-2025.xlsx row 2",
     "needs_classification": False, "is_demo": False, "last_reviewed": "2025-01-31"},
    {"id": 2, "name": "Clinic letter drafting assistant", "company": "Scribe Health",
     "short_description": "Drafts outpatient letters from the consultation.", "long_description": "",
     "type_code": "automation", "subtype_code": None, "ai_technique": "Large language model",
     "input_data_type": "Audio; free text", "time_to_deployment": "within_1y", "impact_workforce": "medium",
     "impact_pathway": None, "impact_system": None, "ukca_ce_class": None, "ukca_ce_regime": None,
     "fda_pathway": None, "fda_submission_number": None, "fda_decision_date": None,
     "nice_esf_tier": "A", "evidence_level": None, "source": "manual", "source_detail": "",
     "needs_classification": False, "is_demo": False, "last_reviewed": None},
    {"id": 3, "name": "Retinal screening grader", "company": "", "short_description": "", "long_description": "",
     "type_code": None, "subtype_code": None, "ai_technique": "", "input_data_type": "",
     "time_to_deployment": None, "impact_workforce": None, "impact_pathway": None, "impact_system": None,
     "ukca_ce_class": None, "ukca_ce_regime": None, "fda_pathway": "de_novo", "fda_submission_number": "DEN180001",
     "fda_decision_date": "2018-04-11", "nice_esf_tier": None, "evidence_level": None, "source": "fda import",
     "source_detail": "pmn96cur.txt", "needs_classification": True, "is_demo": False, "last_reviewed": None},
]
LINKS = [
    (1, "clinical_area", "radiology", False), (1, "workforce_group", "medic:radiology", True),
    (1, "workforce_group", "ahp:radiology", False), (1, "point_of_care", "secondary", False),
    (2, "clinical_area", "administration", False), (2, "workforce_group", "non_clinical:administration", True),
    (2, "point_of_care", "primary", False), (2, "point_of_care", "secondary", False),
    (3, "clinical_area", "ophthalmology", False),
]
EXTERNAL_IDS = [(1, "fda", "K201234"), (3, "fda", "DEN180001"), (1, "mhra", "CE-0086-7781")]
SITES = [
    (1, "Northfield Hospitals NHS Foundation Trust", "RXX", "acute_trust", "north_west"),
    (2, "Riverside Community Health", "RYY", "community_provider", "london"),
    (3, "Hillside Medical Practice", None, "primary_care", "south_west"),
]
ADOPTIONS = [
    (1, 1, "live", "2023-09-01", None, "manual"), (1, 2, "piloting", "2024-11-15", None, "template import"),
    (2, 3, "exploring", None, None, "manual"), (3, 1, "discontinued", "2022-01-10", "2024-02-29", "manual"),
]
# The first release seeded every vocabulary; a lead then edited these three (relabel, retire,
# add, reorder). Other vocabularies are left out, so the upgrade's seeding has something to add.
VOCABULARY = [
    ("region", "london", "London (Pan-London)", None, 1, True), ("region", "north_west", "North West", None, 0, True),
    ("region", "south_west", "South West", None, 2, True),
    ("clinical_area", "radiology", "Radiology and imaging", None, 0, True),
    ("clinical_area", "ophthalmology", "Ophthalmology", None, 1, True),
    ("clinical_area", "administration", "Administration", None, 2, True),
    ("clinical_area", "vascular", "Vascular surgery", None, 3, True),
    ("clinical_area", "dermatology", "Dermatology", None, 4, False),
    ("technology_type", "diagnostics", "Diagnostics", None, 0, True),
    ("technology_type", "automation", "Automation & admin", None, 1, True),
    ("technology_subtype", "imaging", "Imaging", "diagnostics", 0, True),
]
CROSSWALK = [("Radiology", "radiology"), ("Ophthalmic", "ophthalmology")]


def insert_first_release_data(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO technology (id, name, company, short_description, long_description, type_code, subtype_code, "
            "ai_technique, input_data_type, time_to_deployment, impact_workforce, impact_pathway, impact_system, "
            "ukca_ce_class, ukca_ce_regime, fda_pathway, fda_submission_number, fda_decision_date, nice_esf_tier, "
            "evidence_level, source, source_detail, needs_classification, is_demo, last_reviewed, created_at, updated_at) "
            "VALUES (:id, :name, :company, :short_description, :long_description, :type_code, :subtype_code, "
            ":ai_technique, :input_data_type, :time_to_deployment, :impact_workforce, :impact_pathway, :impact_system, "
            ":ukca_ce_class, :ukca_ce_regime, :fda_pathway, :fda_submission_number, :fda_decision_date, :nice_esf_tier, "
            ":evidence_level, :source, :source_detail, :needs_classification, :is_demo, :last_reviewed, :stamp, :stamp)"),
            [{**row, "fda_decision_date": _date(row["fda_decision_date"]), "last_reviewed": _date(row["last_reviewed"]),
              "stamp": STAMP} for row in TECHNOLOGIES])
        connection.execute(text("INSERT INTO technology_link (technology_id, kind, code, is_primary) "
                                "VALUES (:t, :kind, :code, :primary)"),
                           [{"t": t, "kind": k, "code": c, "primary": p} for t, k, c, p in LINKS])
        connection.execute(text("INSERT INTO external_id (technology_id, scheme, value) VALUES (:t, :scheme, :value)"),
                           [{"t": t, "scheme": s, "value": v} for t, s, v in EXTERNAL_IDS])
        connection.execute(text("INSERT INTO site (id, name, ods_code, site_type, region, is_demo, created_at, updated_at) "
                                "VALUES (:id, :name, :ods, :type, :region, false, :stamp, :stamp)"),
                           [{"id": i, "name": n, "ods": o, "type": t, "region": r, "stamp": STAMP} for i, n, o, t, r in SITES])
        connection.execute(text("INSERT INTO adoption_record (technology_id, site_id, status, start_date, end_date, source, "
                                "is_demo, updated_at) VALUES (:t, :s, :status, :start, :end, :source, false, :stamp)"),
                           [{"t": t, "s": s, "status": st, "start": _date(a), "end": _date(b), "source": src, "stamp": STAMP}
                            for t, s, st, a, b, src in ADOPTIONS])
        connection.execute(text("INSERT INTO vocabulary_term (vocabulary, code, label, parent_code, sort_order, active) "
                                "VALUES (:v, :code, :label, :parent, :sort, :active)"),
                           [{"v": v, "code": c, "label": lab, "parent": p, "sort": o, "active": a} for v, c, lab, p, o, a in VOCABULARY])
        connection.execute(text("INSERT INTO fda_panel_crosswalk (panel, clinical_area) VALUES (:panel, :area)"),
                           [{"panel": p, "area": a} for p, a in CROSSWALK])
        connection.execute(text("INSERT INTO data_version (id, version, changed_at) VALUES (1, 42, :stamp)"), {"stamp": STAMP})
        if engine.dialect.name == "postgresql":
            # Rows were inserted with explicit ids, as a restore would; move the sequences on past them.
            for table in ("technology", "site"):
                connection.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def snapshot(engine: Engine, columns: dict[str, list[str]]) -> dict[str, list[tuple]]:
    """Every row of each table (only the given columns), ordered by primary key."""
    with engine.connect() as connection:
        return {table: [tuple(row) for row in connection.execute(
                    text(f"SELECT {', '.join(names)} FROM {table} ORDER BY {names[0]}"))]
                for table, names in columns.items()}


@pytest.fixture(params=BACKENDS)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a database with no tables at all."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'first-release.db'}")
        yield engine
        engine.dispose()
        return
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need ROADMAP_TEST_POSTGRES_URL")
    name = f"roadmap_upgrade_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(POSTGRES_URL.rsplit("/", 1)[0] + "/" + name)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_upgrading_a_first_release_database_loses_nothing(empty_database: Engine):
    engine = empty_database
    assert upgrade_to_head(engine, revision=FIRST_RELEASE) == FIRST_RELEASE
    inspector = inspect(engine)
    first_release_columns = {table: ["id", *sorted(c["name"] for c in inspector.get_columns(table) if c["name"] != "id")]
                             for table in inspector.get_table_names() if table != "alembic_version"}
    assert set(first_release_columns) == {"technology", "technology_link", "external_id", "site", "adoption_record",
                                          "vocabulary_term", "fda_panel_crosswalk", "data_version"}
    insert_first_release_data(engine)
    before = snapshot(engine, first_release_columns)
    assert [len(before[t]) for t in ("technology", "technology_link", "external_id", "site", "adoption_record")] == [3, 9, 3, 3, 4]

    assert upgrade_to_head(engine) == head_revision() == current_revision(engine)
    after = snapshot(engine, first_release_columns)
    edited = len(VOCABULARY)
    assert {table: rows for table, rows in after.items() if table != "vocabulary_term"} == \
           {table: rows for table, rows in before.items() if table != "vocabulary_term"}
    # Vocabulary rows: the lead's edits are untouched, and seeding only added whole vocabularies
    # that had no terms (never a term to a vocabulary the lead had edited).
    assert after["vocabulary_term"][:edited] == before["vocabulary_term"]
    vocabulary_column = first_release_columns["vocabulary_term"].index("vocabulary")
    added_to = {row[vocabulary_column] for row in after["vocabulary_term"][edited:]}
    assert added_to.isdisjoint({"region", "clinical_area", "technology_type", "technology_subtype"})
    assert {"staff_group", "site_type", "adoption_status", "workforce_group"} <= added_to
    with read_session(engine) as session:
        assert labels(session, "region") == {"north_west": "North West", "london": "London (Pan-London)", "south_west": "South West"}
        assert [t.code for t in terms(session, "clinical_area")] == ["radiology", "ophthalmology", "administration", "vascular"]
        assert labels(session, "technology_type")["automation"] == "Automation & admin"

    # The app reads the upgraded data the way it always did...
    frames = load_frames(engine)
    technologies = frames["technologies"].set_index("technology_id")
    assert technologies.loc[1, "name"] == "Chest X-ray triage “Lumen”"
    assert technologies.loc[3, "needs_classification"]
    assert len(frames["adoption"]) == 4
    # ...and keeps writing to it.
    with write_session(engine) as session:
        upsert_adoptions(session, [{"technology_id": 2, "site_id": 3, "status": "live", "start_date": date(2025, 6, 1),
                                    "end_date": None, "source": "manual", "is_demo": False}])
    with read_session(engine) as session:
        statuses = dict(session.execute(select(AdoptionRecord.site_id, AdoptionRecord.status).where(AdoptionRecord.technology_id == 2)).all())
    assert statuses == {3: "live"}
