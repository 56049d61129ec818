"""Catalogue import and export: template (CSV/XLSX), FDA list, all-or-nothing, re-import, dry run, encodings."""

from __future__ import annotations

import io

import openpyxl
import pytest
from sqlalchemy import func, select

from storage.catalogue_io import CatalogueImportError, export_frame, fda_pathway_for, import_catalogue
from storage.db import read_session
from storage.exports import table_bytes
from storage.models import ExternalId, Technology

TEMPLATE = (
    "catalogue_id,name,company,type,subtype,clinical_areas,workforce_groups,points_of_care,time_to_deployment,impact_workforce,last_reviewed\n"
    "C-1,Chest X-ray triage,Acme,Diagnostics,Imaging,Radiology,\"Medic, Radiology; ahp:radiology\",secondary;Primary care,Within 1 year,high,2025-03-01\n"
    "C-2,Clinic letter drafting,Beta,automation,,Administration,\"Non-clinical, Administration\",Secondary care,1_3y,Medium,\n"
)
FDA = (
    "Date of Final Decision,Submission Number,Device,Company,Panel (Lead),Primary Product Code\n"
    "05/30/2024,K240001,LungSeer,Alpha Imaging,Radiology,QIH\n"
    "11/02/2023,DEN230002,RhythmWatch,Beta Cardio,Cardiovascular,QDA\n"
    "01/15/2022,P130020/S005,ScreenPath,Gamma Dx,Pathology,PZZ\n"
    "02/01/2021,K210003,Panel-less Tool,Delta,Some New Panel,ABC\n"
)


def count(engine) -> int:
    with read_session(engine) as session:
        return session.scalar(select(func.count()).select_from(Technology))


def technology(engine, name: str) -> Technology:
    from sqlalchemy.orm import selectinload

    with read_session(engine) as session:
        return session.scalar(select(Technology).where(Technology.name == name).options(selectinload(Technology.links), selectinload(Technology.external_ids)))


def test_template_import_accepts_codes_and_labels(engine) -> None:
    report = import_catalogue(engine, TEMPLATE.encode())
    assert report.summary() == {"format": "template", "dry_run": False, "rows": 2, "created": 2, "updated": 0, "unchanged": 0}
    xray = technology(engine, "Chest X-ray triage")
    assert xray.type_code == "diagnostics" and xray.subtype_code == "imaging" and xray.time_to_deployment == "within_1y"
    assert sorted(l.code for l in xray.links if l.kind == "point_of_care") == ["primary", "secondary"]
    assert [l.code for l in xray.links if l.kind == "workforce_group" and l.is_primary] == ["medic:radiology"]
    assert str(xray.last_reviewed) == "2025-03-01"
    assert technology(engine, "Clinic letter drafting").impact_workforce == "medium"


def test_reimporting_the_same_file_changes_nothing(engine) -> None:
    import_catalogue(engine, TEMPLATE.encode())
    report = import_catalogue(engine, TEMPLATE.encode())
    assert (report.count("create"), report.count("update"), report.count("unchanged")) == (0, 0, 2)
    assert count(engine) == 2


def test_changed_row_is_an_update_matched_on_catalogue_id(engine) -> None:
    import_catalogue(engine, TEMPLATE.encode())
    changed = TEMPLATE.replace("Chest X-ray triage,Acme", "Chest X-ray triage v2,Acme").replace("Within 1 year", "1–3 years")
    report = import_catalogue(engine, changed.encode())
    rows = {r.name: r for r in report.rows}
    assert rows["Chest X-ray triage v2"].action == "update"
    assert set(rows["Chest X-ray triage v2"].changed_fields) == {"name", "time_to_deployment"}
    assert count(engine) == 2


def test_dry_run_reports_without_writing(engine) -> None:
    report = import_catalogue(engine, TEMPLATE.encode(), dry_run=True)
    assert report.count("create") == 2
    assert count(engine) == 0


def test_any_bad_row_refuses_the_whole_file_and_lists_every_problem(engine) -> None:
    bad = TEMPLATE + "C-3,,Zeta,Diagnostics,,,,,,,\nC-4,Bad codes,Eta,Diagnostics,Pathology,Astrology,,nowhere,Soon,huge,31/02/2025\n"
    with pytest.raises(CatalogueImportError) as error:
        import_catalogue(engine, bad.encode())
    problems = [str(p) for p in error.value.problems]
    assert "row 4, column name: a name is required" in problems
    assert "row 5, column clinical_areas: 'Astrology' is not a known clinical area (use a code or label from the vocabulary)" in problems
    assert "row 5, column points_of_care: 'nowhere' is not a known point of care (use a code or label from the vocabulary)" in problems
    assert "row 5, column time_to_deployment: 'Soon' is not a known deployment horizon (use a code or label from the vocabulary)" in problems
    assert "row 5, column impact_workforce: 'huge' is not a known impact level (use a code or label from the vocabulary)" in problems
    assert "row 5, column last_reviewed: '31/02/2025' is not a valid date" in problems
    assert count(engine) == 0


def test_subtype_of_another_type_is_refused(engine) -> None:
    bad = "name,type,subtype\nThing,Automation and service efficiency,Imaging\n"
    with pytest.raises(CatalogueImportError) as error:
        import_catalogue(engine, bad.encode())
    assert [str(p) for p in error.value.problems] == ["row 2, column subtype: 'imaging' is not a subtype of 'automation'"]


def test_duplicate_rows_in_one_file_are_refused(engine) -> None:
    bad = "name,company\nSame,Co\nOther,Co\nsame,co\n"
    with pytest.raises(CatalogueImportError) as error:
        import_catalogue(engine, bad.encode())
    assert str(error.value.problems[0]) == "row 4, column row: same technology as row 2 (same / co)"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "file: the file is empty"),
        (b"\n\n\n", "file: the file has no header row"),
        (b"colour,size\nred,big\n", "not a catalogue template"),
        (b"name,flavour\nX,sweet\n", "row 1, column flavour: unknown column"),
        (b"PK\x03\x04not really a workbook", "not a readable XLSX workbook"),
        (b"\x00\x01\x02binary", "contains binary data"),
        (b"name\nA,extra,cells\n", "row 2 has 3 cells but the header has 1 columns"),
    ],
)
def test_unreadable_files_get_a_clear_reason(engine, content: bytes, message: str) -> None:
    with pytest.raises(CatalogueImportError) as error:
        import_catalogue(engine, content)
    assert message in str(error.value)
    assert count(engine) == 0


def test_messy_but_valid_files_still_import(engine) -> None:
    # BOM + CRLF + quoted headers + blank lines + Windows-1252 accents.
    text = '\r\n\r\n"Name","Company","Type"\r\n"Détecteur d’AVC","Société Générale Santé","Diagnostics"\r\n\r\n'
    report = import_catalogue(engine, b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert report.count("create") == 1
    cp1252 = 'name,company\r\n"Café triage",Crème Ltd\r\n'.encode("cp1252")
    import_catalogue(engine, cp1252)
    assert technology(engine, "Détecteur d’AVC").company == "Société Générale Santé"
    assert technology(engine, "Café triage").company == "Crème Ltd"


def test_xlsx_template_imports(engine) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["name", "company", "type", "points_of_care", "last_reviewed"])
    import datetime as dt

    sheet.append(["Sepsis alert", "Risk Co", "P4 medicine (predictive, preventive, personalised, participatory)", "secondary", dt.datetime(2024, 5, 6)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    report = import_catalogue(engine, buffer.getvalue())
    assert report.count("create") == 1
    stored = technology(engine, "Sepsis alert")
    assert stored.type_code == "p4_medicine" and str(stored.last_reviewed) == "2024-05-06"


def test_fda_list_import_maps_pathways_panels_and_flags_classification(engine) -> None:
    report = import_catalogue(engine, FDA.encode(), source_name="ai-devices.csv")
    assert report.format == "fda" and report.count("create") == 4
    lung = technology(engine, "LungSeer")
    assert (lung.fda_pathway, lung.fda_submission_number, str(lung.fda_decision_date)) == ("510k", "K240001", "2024-05-30")
    assert [l.code for l in lung.links if l.kind == "clinical_area"] == ["radiology"]
    assert lung.needs_classification and lung.type_code is None
    assert [(e.scheme, e.value) for e in lung.external_ids] == [("fda", "K240001")]
    assert technology(engine, "RhythmWatch").fda_pathway == "de_novo"
    assert technology(engine, "ScreenPath").fda_pathway == "pma"
    assert [l for l in technology(engine, "Panel-less Tool").links if l.kind == "clinical_area"] == []


def test_fda_reimport_keeps_a_leads_classification(engine) -> None:
    import_catalogue(engine, FDA.encode())
    classified = "name,company,type,subtype\nLungSeer,Alpha Imaging,Diagnostics,Imaging\n"
    import_catalogue(engine, classified.encode())
    report = import_catalogue(engine, FDA.encode())
    assert report.count("unchanged") == 4
    lung = technology(engine, "LungSeer")
    assert (lung.type_code, lung.subtype_code, lung.needs_classification) == ("diagnostics", "imaging", False)


def test_fda_bad_submission_number_is_refused(engine) -> None:
    bad = FDA + "03/03/2023,X999,Oddity,Omega,Radiology,ZZZ\n"
    with pytest.raises(CatalogueImportError) as error:
        import_catalogue(engine, bad.encode())
    assert str(error.value.problems[0]).startswith("row 6, column Submission Number: 'X999' is not a 510(k)")
    assert count(engine) == 0


@pytest.mark.parametrize(("number", "pathway"), [("K123456", "510k"), ("DEN200011", "de_novo"), ("P130020", "pma"), ("P130020/S005", "pma"), ("k123456", "510k"), ("Q123", None)])
def test_fda_pathway_from_submission_prefix(number: str, pathway: str | None) -> None:
    assert fda_pathway_for(number) == pathway


def test_export_then_import_round_trips_in_both_formats(engine) -> None:
    import_catalogue(engine, TEMPLATE.encode())
    import_catalogue(engine, FDA.encode())
    frame = export_frame(engine)
    assert len(frame) == 6
    for fmt in ("csv", "xlsx"):
        report = import_catalogue(engine, table_bytes(frame, fmt))
        assert report.count("unchanged") == 6, fmt


def test_export_neutralises_formulas(engine) -> None:
    import_catalogue(engine, b'name,company\n"=HYPERLINK(""http://x"",""y"")",@SUM(A1)\n')
    frame = export_frame(engine)
    content = table_bytes(frame, "csv").decode("utf-8-sig")
    assert "'=HYPERLINK" in content and "'@SUM(A1)" in content
    # ...and the neutralised file imports back as the same text plus the apostrophe guard only once.
    with read_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(ExternalId)) == 0
