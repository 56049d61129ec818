"""Responses in and out as REDCap-style flat files (layout: :mod:`survey.flat_responses`).

Export reads the stored documents of one instrument version; the de-identified export drops
identifier and free-text fields and replaces record ids with keyed HMAC pseudonyms.
Import streams the file: it validates every record first and stores all of them in one
transaction, or none.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from storage.audit import record_audit
from storage.bulk import large_write
from storage.catalogue import bump_data_version
from storage.db import read_session, write_session
from storage.exports import FORMULA_TRIGGERS, ExportFormat, table_bytes
from storage.models.catalogue import Technology
from storage.models.survey import SurveyResponse
from storage.permissions import guarded
from storage.security import PseudonymKeyRing, pseudonymise
from storage.survey_submit import apply_adoption_return, insert_responses, is_adoption_return, response_values
from storage.surveys import (
    StoredInstrument,
    SurveyError,
    as_utc,
    get_instrument,
    instrument_by_id,
    moment_or_now,
    next_instrument_version,
    save_instrument,
)
from storage.tabular import TableReadError, is_xlsx, xlsx_rows
from survey.flat_coercions import Coercion
from survey.flat_csv import CHUNK_BYTES, FlatFileError, csv_rows
from survey.flat_responses import TECHNOLOGY_ID, CoercionCount, FlatRecord, FlatResponsesReader, export_flat
from survey.imports import ImportResult
from survey.instrument import Instrument
from survey.redcap import export_data_dictionary, import_data_dictionary
from survey.translations import TranslationImportError, apply_translation_workbook, translation_workbook
from survey.xlsform import import_xlsform
from survey.xlsform_export import export_xlsform


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
    query = select(SurveyResponse.id, SurveyResponse.document, SurveyResponse.submitted_at, SurveyResponse.language).where(
        SurveyResponse.instrument_id == stored.id).order_by(SurveyResponse.id)
    if campaign_id is not None:
        query = query.where(SurveyResponse.campaign_id == campaign_id)
    with read_session(engine) as session:
        rows = session.execute(query).all()
    records = [FlatRecord(str(row.id), row.document, as_utc(row.submitted_at), row.language) for row in rows]
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
    """What an import stored, and every cell it read as something other than what it says."""

    instrument: str
    version: int
    records: int
    imported: int
    already_imported: int
    coercions: list[Coercion] = field(default_factory=list)  # the first MAX_LISTED
    coercion_counts: list[CoercionCount] = field(default_factory=list)  # per column and reason
    coercions_total: int = 0


# Records are validated into a spool file, then written in batches of this many.
WRITE_BATCH = 1000
FlatSource = bytes | str | os.PathLike


def _undo_formula_guard(cell: str) -> str:
    """Our exports prefix text that looks like a formula with an apostrophe; read such cells back as written."""
    return cell[1:] if cell.startswith("'") and cell[1:2] and cell[1] in FORMULA_TRIGGERS else cell


def _flat_rows(stream: BinaryIO) -> Iterator[tuple[int, list[str]]]:
    """Numbered rows of a flat CSV or XLSX file (first sheet), the formula guard undone, as a stream."""
    is_workbook = is_xlsx(stream.read(4))
    stream.seek(0)
    rows = _workbook_rows(stream) if is_workbook else csv_rows(stream)
    for number, cells in rows:
        if "'" in "".join(cells):  # a quick test first: most rows have no apostrophe at all
            cells = [_undo_formula_guard(cell) for cell in cells]
        yield number, cells


def _workbook_rows(stream: BinaryIO) -> Iterator[tuple[int, list[str]]]:
    number = 0
    try:
        for number, cells in enumerate(xlsx_rows(stream), start=1):
            if any(cells):
                yield number, cells
    except TableReadError as error:
        raise FlatFileError(number + 1, str(error)) from None


@contextmanager
def _opened(source: FlatSource) -> Iterator[BinaryIO]:
    if isinstance(source, bytes):
        yield io.BytesIO(source)
        return
    with open(source, "rb") as stream:
        yield stream


def _file_digest(stream: BinaryIO) -> str:
    digest = hashlib.sha256()
    while chunk := stream.read(CHUNK_BYTES):
        digest.update(chunk)
    stream.seek(0)
    return digest.hexdigest()[:32]


def _spool_records(reader: FlatResponsesReader, stream: BinaryIO, spool: BinaryIO) -> int:
    """Validate every record into ``spool`` (pickled batches) while the file is clean; returns the records read.
    The spool is our own unnamed temporary file, so pickle reads back only what this process wrote."""
    batch: list[tuple[str, datetime | None, dict, str | None]] = []
    for record in reader.records(_flat_rows(stream)):
        if not reader.ok:
            batch.clear()  # the file will be refused: stop keeping records, keep finding problems
            continue
        batch.append((record.record_id, record.submitted_at, record.document, record.language))
        if len(batch) == WRITE_BATCH:
            pickle.dump(batch, spool, protocol=pickle.HIGHEST_PROTOCOL)
            batch = []
    if batch and reader.ok:
        pickle.dump(batch, spool, protocol=pickle.HIGHEST_PROTOCOL)
    return reader.records_read


def _spooled(spool: BinaryIO) -> Iterator[list[tuple[str, datetime | None, dict, str | None]]]:
    spool.seek(0)
    while True:
        try:
            yield pickle.load(spool)
        except EOFError:
            return


def _check_technologies(engine: Engine, reader: FlatResponsesReader) -> None:
    """Report each technology id the file names that is not in the catalogue, at the first row naming it."""
    wanted = [int(key) for key in reader.technologies if key.isascii() and key.isdigit() and len(key) < 19]
    known: set[str] = set()
    with read_session(engine) as session:
        for start in range(0, len(wanted), WRITE_BATCH):
            chunk = wanted[start:start + WRITE_BATCH]
            known.update(str(i) for i in session.scalars(select(Technology.id).where(Technology.id.in_(chunk))))
    for key, row in reader.technologies.items():
        if key not in known:
            reader.problem(row, TECHNOLOGY_ID, f"technology {key[:50]!r} is not in the catalogue")


def _write_records(engine: Engine, stored: StoredInstrument, file_digest: str, spool: BinaryIO, records: int,
                   actor: Any) -> int:
    """Store every spooled record not imported before, in one transaction with its audit event and
    the data-version bump; returns how many were new. Each record's idempotency key comes from the
    file's digest and its record id, so importing the same file again stores nothing."""
    now = moment_or_now(None)
    adoption = is_adoption_return(stored)
    with write_session(engine) as session, large_write(session.connection()):
        imported = 0
        for batch in _spooled(spool):
            keys = [f"import:{file_digest}:{hashlib.sha256(record_id.encode()).hexdigest()[:32]}" for record_id, *_ in batch]
            present = set(session.scalars(select(SurveyResponse.idempotency_key).where(SurveyResponse.idempotency_key.in_(keys))))
            fresh = [(key, record) for key, record in zip(keys, batch, strict=True) if key not in present]
            if not fresh:
                continue
            insert_responses(session, [
                response_values(instrument_id=stored.id, campaign_id=None, document=document, idempotency_key=key,
                                receipt_code=secrets.token_urlsafe(16), respondent=None, source="import", is_demo=False,
                                submitted_at=as_utc(submitted_at) or now, language=language)
                for key, (_, submitted_at, document, language) in fresh])
            if adoption:
                for _, (_, _, document, _) in fresh:
                    apply_adoption_return(session, document, is_demo=False)
            imported += len(fresh)
        if imported:
            bump_data_version(session)
        record_audit(session, actor, None, "response_import", f"instrument:{stored.id}", "success",
                     {"records": records, "imported": imported, "already_imported": records - imported})
    return imported


@guarded("survey.responses")
def import_responses(engine: Engine, name: str, source: FlatSource, *, version: int | None = None,
                     actor: Any = None) -> ResponsesImportSummary:
    """Import a flat responses file (CSV or XLSX: its bytes, or a path) for a published instrument, all or nothing.

    The file is read as a stream, so its size does not matter: every record is validated into a
    temporary spool first, outside any transaction; a file with any problem raises
    :class:`ResponsesImportError` listing them (the first :data:`~survey.flat_responses.MAX_LISTED`
    in full, all counted) and nothing is written. A clean file is then stored in one short write
    transaction, in multi-row batches, with its audit event (``response_import``) and the
    data-version bump. Importing the same file again stores nothing new. Cells read tolerantly
    (``1.0``, ``TRUE``, Excel date serials) are listed in the summary. If another import of the same
    file commits first, the write is retried once and stores only what is still missing.
    """
    stored = _instrument(engine, name, version)
    reader = FlatResponsesReader(stored.instrument)
    with _opened(source) as stream, tempfile.TemporaryFile() as spool:
        file_digest = _file_digest(stream)
        records = _spool_records(reader, stream, spool)
        _check_technologies(engine, reader)
        if not reader.ok:
            raise reader.error()
        try:
            imported = _write_records(engine, stored, file_digest, spool, records, actor)
        except IntegrityError:
            imported = _write_records(engine, stored, file_digest, spool, records, actor)
    return ResponsesImportSummary(stored.name, stored.version, records, imported, records - imported,
                                  reader.coercions.items, list(reader.coercion_counts.values()), reader.coercions.total)


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


@dataclass(frozen=True)
class InstrumentFile:
    """An exported instrument file and what the format could not hold."""

    stored: StoredInstrument
    content: bytes
    warnings: tuple[str, ...]


def dropped_languages_warning(instrument: Instrument) -> str | None:
    """Why a single-language export leaves out the instrument's other languages (None if it has none)."""
    if not instrument.other_languages:
        return None
    dropped = ", ".join(language.label for language in instrument.other_languages)
    return (f"a REDCap data dictionary holds one language: {instrument.default_language.label} is exported and "
            f"{dropped} is dropped (export as xlsform to keep every language)")


def export_instrument_file(engine: Engine, name: str, fmt: str, version: int | None = None, *,
                           actor: Any = None) -> InstrumentFile:
    """A published instrument as a REDCap dictionary (``redcap``, default language only) or an
    XLSForm workbook with every language (``xlsform``); audited (``export``)."""
    if fmt == "redcap":
        stored, text = export_instrument_dictionary(engine, name, version, actor=actor)
        warning = dropped_languages_warning(stored.instrument)
        return InstrumentFile(stored, text.encode("utf-8"), (warning,) if warning else ())
    stored = _instrument(engine, name, version)
    exported = export_xlsform(stored.instrument)
    with write_session(engine) as session:
        record_audit(session, actor, None, "export", f"instrument:{stored.id}", "success",
                     {"format": "xlsform", "questions": sum(1 for _ in stored.instrument.answer_slots()),
                      "languages": [language.code for language in stored.instrument.languages]})
    return InstrumentFile(stored, exported.content, tuple(exported.warnings))


def export_translations(engine: Engine, name: str, version: int | None = None, *, actor: Any = None) -> InstrumentFile:
    """The translator's workbook of a published instrument (see :mod:`survey.translations`); audited."""
    stored = _instrument(engine, name, version)
    content = translation_workbook(stored.instrument)
    with write_session(engine) as session:
        record_audit(session, actor, None, "export", f"instrument:{stored.id}", "success",
                     {"format": "translations", "languages": [language.code for language in stored.instrument.languages]})
    return InstrumentFile(stored, content, ())


def import_translations(engine: Engine, name: str, data: bytes, *, actor: Any = None) -> StoredInstrument:
    """Publish the next version of ``name`` with the workbook's translations, or nothing.

    Raises :class:`survey.translations.TranslationImportError` naming every rejected row.
    """
    current = _instrument(engine, name, None)
    translated = apply_translation_workbook(current.instrument, data)
    if translated == current.instrument:
        raise TranslationImportError(["the workbook changes no translation; no new version was published"])
    translated = translated.model_copy(update={"version": next_instrument_version(engine, name)})
    instrument_id = save_instrument(engine, translated, current.source,
                                    [f"translations imported onto version {current.version}"], actor=actor)
    return instrument_by_id(engine, instrument_id)


INSTRUMENT_FORMATS = ("auto", "redcap", "xlsform")
INSTRUMENT_EXPORT_FORMATS = ("redcap", "xlsform")


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
