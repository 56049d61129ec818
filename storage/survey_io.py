"""Responses in and out as REDCap-style flat files (layout: :mod:`survey.flat_responses`).

Export reads the stored documents of one instrument version; the de-identified export drops
identifier and free-text fields and replaces record ids with keyed HMAC pseudonyms.
Import validates every record first and stores all of them in one transaction, or none.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from typing import Any

from sqlalchemy import Engine, select

from storage.audit import record_audit
from storage.catalogue import bump_data_version
from storage.db import read_session, write_session
from storage.exports import FORMULA_TRIGGERS, ExportFormat, table_bytes
from storage.models.catalogue import Technology
from storage.models.survey import SurveyResponse
from storage.permissions import guarded
from storage.security import PseudonymKeyRing, pseudonymise
from storage.survey_codes import new_code
from storage.survey_submit import apply_adoption_return, insert_response, is_adoption_return
from storage.surveys import StoredInstrument, SurveyError, as_utc, get_instrument, moment_or_now
from storage.tabular import TableReadError, read_table
from survey.flat_responses import TECHNOLOGY_ID, FlatRecord, ResponsesImportError, export_flat, import_flat
from survey.imports import ImportResult
from survey.redcap import export_data_dictionary, import_data_dictionary
from survey.xlsform import import_xlsform


def _instrument(engine: Engine, name: str, version: int | None) -> StoredInstrument:
    stored = get_instrument(engine, name, version)
    if stored is None:
        what = f"{name!r}" + (f" version {version}" if version is not None else "")
        raise SurveyError(f"no published instrument {what}")
    return stored


@guarded("survey.responses")
def export_responses(engine: Engine, name: str, version: int | None = None, *, labels: bool = False,
                     deidentified: bool = False, keyring: PseudonymKeyRing | None = None,
                     campaign_id: int | None = None, actor: Any = None) -> pd.DataFrame:
    """All responses to one instrument version (latest by default) as a flat REDCap-style table.

    Record ids are the response ids; ``deidentified`` needs ``keyring`` and replaces them with
    keyed pseudonyms (current key), drops identifier and free-text fields and keeps dates only.
    """
    stored = _instrument(engine, name, version)
    if deidentified and keyring is None:
        raise SurveyError("a de-identified export needs the pseudonym key (ROADMAP_PSEUDONYM_KEY)")
    query = select(SurveyResponse.id, SurveyResponse.document, SurveyResponse.submitted_at).where(
        SurveyResponse.instrument_id == stored.id).order_by(SurveyResponse.id)
    if campaign_id is not None:
        query = query.where(SurveyResponse.campaign_id == campaign_id)
    with read_session(engine) as session:
        rows = session.execute(query).all()
    records = [FlatRecord(str(row.id), row.document, as_utc(row.submitted_at)) for row in rows]
    rename = (lambda record_id: pseudonymise(record_id, keyring, purpose="export-record")) if deidentified else None
    return export_flat(stored.instrument, records, labels=labels, deidentify=deidentified, pseudonymise=rename)


@dataclass(frozen=True)
class ResponsesFile:
    content: bytes
    records: int
    rows: int


@guarded("survey.responses")
def export_responses_file(engine: Engine, name: str, fmt: ExportFormat, version: int | None = None, *, labels: bool = False,
                          deidentified: bool = False, keyring: PseudonymKeyRing | None = None,
                          campaign_id: int | None = None, actor: Any = None) -> ResponsesFile:
    """:func:`export_responses` written as a formula-safe CSV or XLSX file, audited (``export``)."""
    frame = export_responses(engine, name, version, labels=labels, deidentified=deidentified, keyring=keyring,
                             campaign_id=campaign_id, actor=actor)
    content = table_bytes(frame, fmt, sheet_name="responses")
    records = int(frame["redcap_repeat_instrument"].isna().sum())
    stored = _instrument(engine, name, version)
    with write_session(engine) as session:
        record_audit(session, actor, None, "export", f"responses:instrument:{stored.id}", "success",
                     {"format": fmt, "records": records, "rows": len(frame), "deidentified": deidentified,
                      "labels": labels, "campaign_id": campaign_id})
    return ResponsesFile(content, records, len(frame))


@dataclass(frozen=True)
class ResponsesImportSummary:
    instrument: str
    version: int
    records: int
    imported: int
    already_imported: int


def _undo_formula_guard(cell: str) -> str:
    """Our exports prefix text that looks like a formula with an apostrophe; read such cells back as written."""
    return cell[1:] if cell.startswith("'") and cell[1:2] and cell[1] in FORMULA_TRIGGERS else cell


def _csv_text(data: bytes) -> str:
    """The file (CSV, or an XLSX first sheet) as CSV text with the same row numbers and the formula guard undone."""
    try:
        table = read_table(data)
    except TableReadError as error:
        raise ResponsesImportError([(1, "", str(error))]) from None
    lines: list[list[str]] = [table.header]
    for number, cells in table.rows:
        lines.extend([[]] * (number - len(lines) - 1))  # keep the spreadsheet's row numbers
        lines.append([_undo_formula_guard(cell) for cell in cells])
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(lines)
    return buffer.getvalue()


@guarded("survey.responses")
def import_responses(engine: Engine, name: str, data: bytes, *, version: int | None = None, actor: Any = None) -> ResponsesImportSummary:
    """Import a flat responses file (CSV or XLSX) for a published instrument, all or nothing.

    Raises :class:`ResponsesImportError` listing every problem with its row number. Importing the
    same file again stores nothing new (each record's key is derived from the file and record id).
    """
    stored = _instrument(engine, name, version)
    records = import_flat(stored.instrument, _csv_text(data))
    wanted = {key for record in records for key in record.document.get("technologies", {})}
    numeric = sorted({int(key) for key in wanted if key.isdigit()})
    with read_session(engine) as session:
        known = {str(i) for i in session.scalars(select(Technology.id).where(Technology.id.in_(numeric)))} if numeric else set()
    problems = [(record.row_number, TECHNOLOGY_ID, f"record {record.record_id!r}: technology {key!r} is not in the catalogue")
                for record in records for key in record.document.get("technologies", {}) if key not in known]
    if problems:
        raise ResponsesImportError(problems)
    file_digest = hashlib.sha256(data).hexdigest()[:32]
    keys = [f"import:{file_digest}:{hashlib.sha256(record.record_id.encode()).hexdigest()[:32]}" for record in records]
    now = moment_or_now(None)
    adoption = is_adoption_return(stored)
    with write_session(engine) as session:
        present = set(session.scalars(select(SurveyResponse.idempotency_key).where(SurveyResponse.idempotency_key.in_(keys))))
        imported = 0
        for record, key in zip(records, keys, strict=True):
            if key in present:
                continue
            insert_response(session, instrument_id=stored.id, campaign_id=None, document=record.document, idempotency_key=key,
                            receipt_code=new_code(), respondent=None, source="import", is_demo=False,
                            submitted_at=as_utc(record.submitted_at) or now)
            if adoption:
                apply_adoption_return(session, record.document, is_demo=False)
            imported += 1
        if imported:
            bump_data_version(session)
        record_audit(session, actor, None, "response_import", f"instrument:{stored.id}", "success",
                     {"records": len(records), "imported": imported, "already_imported": len(records) - imported})
    return ResponsesImportSummary(stored.name, stored.version, len(records), imported, len(records) - imported)


@guarded("survey.manage")
def export_instrument_dictionary(engine: Engine, name: str, version: int | None = None, *, actor: Any = None) -> tuple[StoredInstrument, str]:
    """A published instrument as REDCap data dictionary text, audited (``export``).

    The text is REDCap's own interchange format (its ``@`` action tags must stay as written), so it
    is deliberately not passed through the spreadsheet formula guard used for data tables.
    """
    stored = _instrument(engine, name, version)
    text = export_data_dictionary(stored.instrument)
    with write_session(engine) as session:
        record_audit(session, actor, None, "export", f"instrument:{stored.id}", "success",
                     {"format": "redcap_dictionary", "questions": sum(1 for _ in stored.instrument.answer_slots())})
    return stored, text


INSTRUMENT_FORMATS = ("auto", "redcap", "xlsform")


def detect_instrument_format(path: str, data: bytes) -> str:
    """xlsform for workbooks and for the CSV form of XLSForm (its first cell is ``survey``), redcap otherwise."""
    if data[:4] == b"PK\x03\x04" or path.lower().endswith((".xlsx", ".xlsm")):
        return "xlsform"
    text = data[:4096].decode("utf-8", errors="replace").lstrip("\ufeff")
    first_row = next((line for line in text.splitlines() if line.strip(" ,\t\r")), "")
    first_cell = first_row.split(",", 1)[0].strip().strip('"').strip().lower()
    return "xlsform" if first_cell == "survey" else "redcap"


def read_instrument_file(path: str, data: bytes, fmt: str, *, name: str | None = None, version: int | None = None) -> ImportResult:
    """Import an instrument file in ``fmt`` (auto-detected when "auto"); raises InstrumentImportError."""
    chosen = detect_instrument_format(path, data) if fmt == "auto" else fmt
    stem = Path(path).stem
    if chosen == "redcap":
        return import_data_dictionary(data, name=name or stem, version=version or 1)
    return import_xlsform(data, filename_hint=Path(path).name)
