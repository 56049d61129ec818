"""Responses as REDCap-style flat tables: export to a DataFrame, import from CSV (all or nothing).

Export layout (:func:`export_flat`), one row per record for the non-repeated sections plus one
row per (repeated section, technology) — REDCap's repeating-instrument layout:

=============================  ==================================================================
column                         content
=============================  ==================================================================
``record_id``                  the record (respondent) id; pseudonymised when ``pseudonymise`` is given
``redcap_repeat_instrument``   empty on the record's main row; the repeated section id otherwise
``redcap_repeat_instance``     empty on the main row; 1, 2, ... per technology within the record
``technology_id``              empty on the main row; the catalogue technology id otherwise
``submitted_at``               ISO timestamp on the main row (date only when de-identified)
``<variable>``                 one column per answer variable, in instrument order; matrix items
                               are their own variables; descriptive fields have none
``<variable>___<code>``        a multiple-choice question gives one column per option: ``1``
                               chosen, ``0`` not chosen, empty when the question was not answered
=============================  ==================================================================

Numeric answers have numeric dtypes (integer and rating questions ``Int64``, decimal and slider
questions ``Float64``), so negative numbers survive the spreadsheet-formula guard of the CSV
writer; every other column has pandas' ``str`` dtype. A missing answer is NA. Raw values are
codes (yes/no as REDCap's ``1``/``0``) and ISO dates. ``labels=True`` writes choice labels
instead (``Yes``/``No``, ``Checked``/``Unchecked``, and the anchor label of a labelled rating).

``deidentify=True`` drops identifier fields and every free-text field (short and long text) and
requires ``pseudonymise`` (for example a keyed HMAC) to replace record ids.

:func:`import_flat` reads that layout back (codes or labels), validates every record with
:func:`survey.validation.validate_submission` and either returns every record or raises
:class:`ResponsesImportError` listing every problem as ``(row_number, column, message)``, where
row 1 is the header row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field as dataclass_field
from datetime import datetime
from typing import Any

import pandas as pd

from survey.imports import InstrumentImportError, decode_text
from survey.instrument import TEXT_TYPES, AnswerSlot, FieldType, Instrument, Section
from survey.validation import format_value, validate_submission

__all__ = [
    "FIXED_COLUMNS",
    "FlatRecord",
    "ImportedRecord",
    "ResponsesImportError",
    "export_flat",
    "flat_columns",
    "import_flat",
]

RECORD_ID = "record_id"
REPEAT_INSTRUMENT = "redcap_repeat_instrument"
REPEAT_INSTANCE = "redcap_repeat_instance"
TECHNOLOGY_ID = "technology_id"
SUBMITTED_AT = "submitted_at"
FIXED_COLUMNS = (RECORD_ID, REPEAT_INSTRUMENT, REPEAT_INSTANCE, TECHNOLOGY_ID, SUBMITTED_AT)
_CHECKED = {"1", "checked", "yes", "true"}
_UNCHECKED = {"0", "unchecked", "no", "false", ""}
_IGNORED_COLUMNS = {"redcap_survey_identifier", "redcap_data_access_group"}


@dataclass(frozen=True)
class FlatRecord:
    """One stored response to export: its id, cleaned document and submission time."""

    record_id: str
    document: Mapping[str, Any]
    submitted_at: datetime | None = None


@dataclass(frozen=True)
class ImportedRecord:
    """One validated record read from a flat file; ``row_number`` is its first row in the file."""

    record_id: str
    document: dict[str, Any]
    submitted_at: datetime | None
    row_number: int


class ResponsesImportError(ValueError):
    """The responses file has problems; nothing was imported. ``errors`` lists them all."""

    def __init__(self, errors: list[tuple[int, str, str]]) -> None:
        self.errors = sorted(errors, key=lambda error: error[0])
        first = self.errors[0] if self.errors else (0, "", "no details")
        where = f"row {first[0]}" + (f", column {first[1]!r}" if first[1] else "")
        super().__init__(f"{len(self.errors)} problem(s) in the responses file; first: {where}: {first[2]}")


@dataclass(frozen=True)
class _Column:
    name: str
    section: Section
    slot: AnswerSlot
    code: str | None = None  # set for a multiple-choice option column


def flat_columns(instrument: Instrument, deidentify: bool = False) -> list[_Column]:
    """The answer columns of the flat layout, in order (without the fixed columns)."""
    columns: list[_Column] = []
    for section, slot in instrument.answer_slots():
        if deidentify and (slot.field.identifier or slot.type in TEXT_TYPES):
            continue
        if slot.type is FieldType.MULTIPLE_CHOICE:
            columns.extend(_Column(f"{slot.variable}___{choice.code}", section, slot, choice.code)
                           for choice in slot.field.choices)
        else:
            columns.append(_Column(slot.variable, section, slot))
    return columns


# --------------------------------------------------------------------------- export


def _cell(column: _Column, values: Mapping[str, Any], labels: bool) -> str | None:
    value = values.get(column.slot.variable)
    if value is None:
        return None
    field = column.slot.field
    if column.code is not None:
        chosen = column.code in value
        if labels:
            return "Checked" if chosen else "Unchecked"
        return "1" if chosen else "0"
    if field.type is FieldType.YES_NO and not labels:
        return {"yes": "1", "no": "0"}.get(value, format_value(value))
    if labels and (field.type is FieldType.YES_NO or field.effective_choices()):
        return field.choice_label(format_value(value))
    return format_value(value)


def _timestamp(value: datetime | None, deidentify: bool) -> str | None:
    if value is None:
        return None
    if deidentify:
        return value.date().isoformat()
    return value.isoformat(timespec="seconds")


def export_flat(instrument: Instrument, records: Iterable[FlatRecord], labels: bool = False,
                deidentify: bool = False, pseudonymise: Callable[[str], str] | None = None) -> pd.DataFrame:
    """Responses as a REDCap-style flat DataFrame (layout in the module docstring)."""
    if deidentify and pseudonymise is None:
        raise ValueError("a de-identified export needs a pseudonymise function to replace record ids")
    columns = flat_columns(instrument, deidentify)
    shared = [column for column in columns if not column.section.repeat_per_technology]
    repeated = [section for section in instrument.sections if section.repeat_per_technology]
    rows: list[dict[str, str | None]] = []
    for record in records:
        record_id = pseudonymise(record.record_id) if pseudonymise is not None else record.record_id
        answers = record.document.get("answers", {})
        main = {RECORD_ID: record_id, SUBMITTED_AT: _timestamp(record.submitted_at, deidentify)}
        main.update({column.name: _cell(column, answers, labels) for column in shared})
        rows.append(main)
        technologies = record.document.get("technologies", {})
        for section in repeated:
            section_columns = [column for column in columns if column.section.id == section.id]
            for instance, (technology_id, values) in enumerate(technologies.items(), start=1):
                row = {RECORD_ID: record_id, REPEAT_INSTRUMENT: section.id, REPEAT_INSTANCE: str(instance),
                       TECHNOLOGY_ID: technology_id}
                row.update({column.name: _cell(column, values, labels) for column in section_columns})
                rows.append(row)
    names = list(FIXED_COLUMNS) + [column.name for column in columns]
    frame = pd.DataFrame(rows, columns=names, dtype="str")
    for column in columns:
        dtype = _numeric_dtype(column, labels)
        if dtype is not None:
            frame[column.name] = pd.to_numeric(frame[column.name]).astype(dtype)
    return frame


def _numeric_dtype(column: _Column, labels: bool) -> str | None:
    kind = column.slot.type
    if kind in (FieldType.RATING_5, FieldType.RATING_9):
        return None if labels and column.slot.field.choices else "Int64"
    if kind is FieldType.INTEGER:
        return "Int64"
    if kind in (FieldType.DECIMAL, FieldType.SLIDER):
        return "Float64"
    return None


# --------------------------------------------------------------------------- import


@dataclass
class _RecordRows:
    first_row: int
    main_row: int | None = None
    submitted_at: datetime | None = None
    answers: dict[str, Any] = dataclass_field(default_factory=dict)
    technologies: dict[str, dict[str, Any]] = dataclass_field(default_factory=dict)
    technology_rows: dict[tuple[str, str], int] = dataclass_field(default_factory=dict)


class _FlatReader:
    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument
        self.errors: list[tuple[int, str, str]] = []
        self.by_name = {column.name: column for column in flat_columns(instrument)}
        self.repeated = {section.id for section in instrument.sections if section.repeat_per_technology}
        self.records: dict[str, _RecordRows] = {}

    def error(self, row: int, column: str, message: str) -> None:
        self.errors.append((row, column, message))

    def read_header(self, header: list[str]) -> dict[int, _Column | str]:
        """Map column positions to answer columns or fixed column names; report unknown columns."""
        mapping: dict[int, _Column | str] = {}
        seen: set[str] = set()
        for position, raw in enumerate(header[1:], start=1):
            name = raw.strip().lower()
            if name in seen:
                self.error(1, raw, "this column appears twice")
                continue
            seen.add(name)
            if name in self.by_name:
                mapping[position] = self.by_name[name]
            elif name in FIXED_COLUMNS:
                mapping[position] = name
            elif name == "redcap_event_name":
                self.error(1, raw, "longitudinal (event) data is not supported")
            elif name in _IGNORED_COLUMNS or name.endswith(("_complete", "_timestamp")):
                continue
            elif "___" in name and name.split("___", 1)[0] in {c.slot.variable for c in self.by_name.values()}:
                self.error(1, raw, f"{name.split('___', 1)[1]!r} is not an option of {name.split('___', 1)[0]!r}")
            elif any(column.slot.variable == name and column.code is not None for column in self.by_name.values()):
                self.error(1, raw, f"multiple-choice answers need one column per option, named {name}___<code>")
            else:
                self.error(1, raw, f"not a variable of instrument {self.instrument.name!r}")
        return mapping

    def read_row(self, number: int, cells: list[str], header: list[str], mapping: dict[int, _Column | str]) -> None:
        record_id = cells[0].strip()
        if not record_id:
            self.error(number, header[0], "the record id is empty")
            return
        fixed = {name: cells[position].strip() for position, name in mapping.items()
                 if isinstance(name, str) and position < len(cells)}
        record = self.records.setdefault(record_id, _RecordRows(number))
        section_id = fixed.get(REPEAT_INSTRUMENT, "")
        if not section_id:
            values = self.main_row(number, record, fixed.get(SUBMITTED_AT, ""))
        else:
            values = self.repeat_row(number, record, section_id, fixed)
        if values is None:
            return
        for position, column in mapping.items():
            if isinstance(column, str) or position >= len(cells):
                continue
            self.read_cell(number, column, cells[position].strip(), section_id or None, values)

    def main_row(self, number: int, record: _RecordRows, submitted: str) -> dict[str, Any] | None:
        if record.main_row is not None:
            self.error(number, REPEAT_INSTRUMENT, f"the record already has a main row (row {record.main_row})")
            return None
        record.main_row = number
        if submitted:
            try:
                record.submitted_at = datetime.fromisoformat(submitted)
            except ValueError:
                self.error(number, SUBMITTED_AT, f"{submitted!r} is not an ISO date-time")
        return record.answers

    def repeat_row(self, number: int, record: _RecordRows, section_id: str,
                   fixed: dict[str, str]) -> dict[str, Any] | None:
        if section_id not in self.repeated:
            self.error(number, REPEAT_INSTRUMENT, f"{section_id!r} is not a section repeated per technology")
            return None
        technology_id = fixed.get(TECHNOLOGY_ID, "")
        if not technology_id:
            self.error(number, TECHNOLOGY_ID, "a repeat row needs a technology id")
            return None
        instance = fixed.get(REPEAT_INSTANCE, "")
        if instance and not (instance.isdigit() and int(instance) >= 1):
            self.error(number, REPEAT_INSTANCE, f"{instance!r} is not a positive whole number")
        key = (section_id, technology_id)
        if key in record.technology_rows:
            self.error(number, TECHNOLOGY_ID, f"technology {technology_id!r} already has a {section_id!r} row "
                                              f"(row {record.technology_rows[key]})")
            return None
        record.technology_rows[key] = number
        return record.technologies.setdefault(technology_id, {})

    def read_cell(self, number: int, column: _Column, text: str, row_section: str | None,
                  values: dict[str, Any]) -> None:
        expected = column.section.id if column.section.repeat_per_technology else None
        if expected != row_section:
            # REDCap writes 0 into every checkbox column of every row; only real answers are misplaced.
            harmless = not text or (column.code is not None and text.lower() in ("0", "unchecked"))
            if not harmless:
                where = f"a {expected!r} repeat row" if expected else "the record's main row"
                self.error(number, column.name, f"this answer belongs on {where}")
            return
        if column.code is not None:
            word = text.lower()
            if word in _CHECKED:
                values.setdefault(column.slot.variable, []).append(column.code)
            elif word in _UNCHECKED:
                if text:
                    values.setdefault(column.slot.variable, [])
            else:
                self.error(number, column.name, f"{text[:40]!r} is not 1 or 0 (Checked or Unchecked)")
            return
        if text:
            values[column.slot.variable] = _code_from_label(column, text)

    def validate(self) -> list[ImportedRecord]:
        imported: list[ImportedRecord] = []
        for record_id, record in self.records.items():
            result = validate_submission(self.instrument, record.answers, record.technologies)
            for problem in result.errors:
                self.errors.append((self.row_of(record, problem.section_id, problem.technology_id),
                                    problem.variable, problem.message))
            imported.append(ImportedRecord(record_id, result.document, record.submitted_at, record.first_row))
        return imported

    @staticmethod
    def row_of(record: _RecordRows, section_id: str | None, technology_id: str | None) -> int:
        if technology_id is None:
            return record.main_row or record.first_row
        if (section_id, technology_id) in record.technology_rows:
            return record.technology_rows[(section_id, technology_id)]
        rows = [row for (_, tid), row in record.technology_rows.items() if tid == technology_id]
        return min(rows, default=record.first_row)


def _code_from_label(column: _Column, text: str) -> str:
    """Accept a choice label where a code is expected (exports with labels=True), if it is unambiguous."""
    field = column.slot.field
    choices = field.effective_choices()
    if not choices or any(choice.code == text for choice in choices):
        return text
    matches = [choice.code for choice in choices if choice.label.strip().lower() == text.lower()]
    return matches[0] if len(matches) == 1 else text


def import_flat(instrument: Instrument, data: bytes | str) -> list[ImportedRecord]:
    """Read REDCap-style flat CSV responses; every record is validated and all must pass."""
    try:
        text = decode_text(data)
    except InstrumentImportError as error:
        raise ResponsesImportError([(1, "", str(error))]) from None
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=False))
    except csv.Error as error:
        raise ResponsesImportError([(1, "", f"the file is not readable as CSV: {error}")]) from None
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise ResponsesImportError([(1, "", "the file is empty or has no header row")])
    header = [cell.strip() for cell in rows[0]]
    reader = _FlatReader(instrument)
    mapping = reader.read_header(header)
    for number, cells in enumerate(rows[1:], start=2):
        if any(cell.strip() for cell in cells):
            reader.read_row(number, cells, header, mapping)
    if not reader.records and not reader.errors:
        reader.error(2, "", "the file has a header row but no records")
    imported = reader.validate()
    if reader.errors:
        raise ResponsesImportError(reader.errors)
    return imported
