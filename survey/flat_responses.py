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
``response_language``          on the main row, the ISO 639-1 code of the language the response
                               was given in (empty when it was not recorded)
``<variable>``                 one column per answer variable, in instrument order; matrix items
                               are their own variables; descriptive fields have none
``<variable>___<code>``        a multiple-choice question gives one column per option: ``1``
                               chosen, ``0`` not chosen, empty when the question was not answered
=============================  ==================================================================

A calculated field is exported like any answer (its stored value). On import its column is
accepted but never read: the value is computed again on the server from the other answers
(:mod:`survey.validation`), so a file cannot set it.

Numeric answers have numeric dtypes (integer and rating questions ``Int64``, decimal and slider
questions ``Float64``), so negative numbers survive the spreadsheet-formula guard of the CSV
writer; every other column has pandas' ``str`` dtype. A missing answer is NA. Raw values are
codes (yes/no as REDCap's ``1``/``0``) and ISO dates. ``labels=True`` writes choice labels
instead (``Yes``/``No``, ``Checked``/``Unchecked``, and the anchor label of a labelled rating).

``deidentify=True`` drops identifier fields, every free-text field (short and long text) and
every calculated field that reads one of them, and requires ``pseudonymise`` (for example a keyed HMAC) to replace record ids.

Import reads that layout back (codes or labels) as a stream: :class:`FlatResponsesReader`
takes numbered rows (from :func:`survey.flat_csv.csv_rows`, or a spreadsheet's rows), validates
each record with :func:`survey.validation.validate_submission` as soon as its rows are read,
collects every problem as ``(row_number, column, message)`` (row 1 is the header row) and every
tolerant reading of a cell (``1.0``, ``TRUE``, Excel date serials, ``nan``: see
:mod:`survey.flat_coercions`). A record's rows must be consecutive. :func:`import_flat` does the
same for a whole file in memory and returns every record or raises
:class:`ResponsesImportError`.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field as dataclass_field
from datetime import datetime
from operator import itemgetter
from typing import Any, Generic, TypeVar

import pandas as pd

from survey.flat_coercions import EXCEL_SERIAL, CellKind, Coercion, excel_serial_datetime, tolerant_cell
from survey.flat_csv import FlatFileError, csv_rows
from survey.instrument import TEXT_TYPES, AnswerSlot, FieldType, Instrument, Section
from survey.validation import format_value, validate_submission

__all__ = [
    "FIXED_COLUMNS",
    "MAX_LISTED",
    "Capped",
    "CoercionCount",
    "FlatRecord",
    "FlatResponsesReader",
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
LANGUAGE = "response_language"
FIXED_COLUMNS = (RECORD_ID, REPEAT_INSTRUMENT, REPEAT_INSTANCE, TECHNOLOGY_ID, SUBMITTED_AT, LANGUAGE)
MAX_LISTED = 1000
"""Problems and coercions listed in full; beyond this many they are counted."""
_IGNORED_COLUMNS = {"redcap_survey_identifier", "redcap_data_access_group"}


@dataclass(frozen=True)
class FlatRecord:
    """One stored response to export: its id, cleaned document and submission time."""

    record_id: str
    document: Mapping[str, Any]
    submitted_at: datetime | None = None
    language: str | None = None


@dataclass(frozen=True)
class ImportedRecord:
    """One validated record read from a flat file; ``row_number`` is its first row in the file.
    ``language`` is one of the instrument's language codes, or None when the file gives none."""

    record_id: str
    document: dict[str, Any]
    submitted_at: datetime | None
    row_number: int
    language: str | None = None


_CELL_KINDS = {
    FieldType.YES_NO: CellKind.YES_NO, FieldType.INTEGER: CellKind.WHOLE, FieldType.RATING_5: CellKind.WHOLE,
    FieldType.RATING_9: CellKind.WHOLE, FieldType.SINGLE_CHOICE: CellKind.CHOICE, FieldType.DROPDOWN: CellKind.CHOICE,
    FieldType.MATRIX: CellKind.CHOICE, FieldType.DATE: CellKind.DATE, FieldType.DECIMAL: CellKind.NUMBER,
    FieldType.SLIDER: CellKind.NUMBER,
}
_CHECKBOX_WORDS = frozenset({"1", "0", "checked", "unchecked"})


@dataclass(frozen=True)
class _Column:
    name: str
    section: Section
    slot: AnswerSlot
    code: str | None = None  # set for a multiple-choice option column
    kind: CellKind = CellKind.TEXT
    codes: frozenset[str] = frozenset()  # the option codes, read as written
    labels: Mapping[str, str] = dataclass_field(default_factory=dict)  # lower-case label -> code, where unambiguous
    choices: frozenset[str] = frozenset()  # lower-case codes and labels: never reinterpreted


def _column(name: str, section: Section, slot: AnswerSlot, code: str | None = None) -> _Column:
    if code is not None:
        return _Column(name, section, slot, code, CellKind.CHECKBOX, frozenset({"1", "0"}), choices=_CHECKBOX_WORDS)
    options = slot.field.effective_choices()
    codes = frozenset(choice.code for choice in options)
    spelled = [choice.label.strip().lower() for choice in options]
    labels = {label: choice.code for label, choice in zip(spelled, options, strict=True) if spelled.count(label) == 1}
    choices = frozenset(code.lower() for code in codes) | frozenset(spelled)
    if slot.type is FieldType.YES_NO:
        choices |= {"1", "0", "y", "n"}
    return _Column(name, section, slot, None, _CELL_KINDS.get(slot.type, CellKind.TEXT), codes, labels, choices)


def flat_columns(instrument: Instrument, deidentify: bool = False) -> list[_Column]:
    """The answer columns of the flat layout, in order (without the fixed columns)."""
    columns: list[_Column] = []
    dropped = {slot.variable for _, slot in instrument.answer_slots() if slot.field.identifier or slot.type in TEXT_TYPES}
    dropped |= instrument.calculated_from(dropped)  # a calculation may copy what it reads
    for section, slot in instrument.answer_slots():
        if deidentify and slot.variable in dropped:
            continue
        if slot.type is FieldType.MULTIPLE_CHOICE:
            columns.extend(_column(f"{slot.variable}___{choice.code}", section, slot, choice.code)
                           for choice in slot.field.choices)
        else:
            columns.append(_column(slot.variable, section, slot))
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
        main = {RECORD_ID: record_id, SUBMITTED_AT: _timestamp(record.submitted_at, deidentify),
                LANGUAGE: record.language}
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


class ResponsesImportError(ValueError):
    """The responses file has problems; nothing was imported.

    ``errors`` lists them as ``(row, column, message)`` in row order: all of them, or the first
    :data:`MAX_LISTED` of a file with more; ``total`` counts every problem found.
    """

    def __init__(self, errors: list[tuple[int, str, str]], total: int | None = None) -> None:
        self.errors = sorted(errors, key=lambda error: error[0])
        self.total = max(total or 0, len(self.errors))
        first = self.errors[0] if self.errors else (0, "", "no details")
        where = f"row {first[0]}" + (f", column {first[1]!r}" if first[1] else "")
        super().__init__(f"{self.total} problem(s) in the responses file; first: {where}: {first[2]}")


T = TypeVar("T")


@dataclass
class Capped(Generic[T]):
    """The first ``limit`` items in full and a count of all of them (a large bad file has
    millions of problems; a person needs the first ones and the size of the rest)."""

    limit: int = MAX_LISTED
    items: list[T] = dataclass_field(default_factory=list)
    total: int = 0

    def add(self, item: T) -> None:
        self.total += 1
        if len(self.items) < self.limit:
            self.items.append(item)


@dataclass
class CoercionCount:
    """How often one kind of coercion happened in one column, with the first example."""

    column: str
    reason: str
    count: int
    first: Coercion

    def __str__(self) -> str:
        shown = repr(self.first.value) if self.first.value else "empty"
        return (f"column {self.column}: {self.count:,} cell(s) were {self.reason} (first in row {self.first.row}: "
                f"{self.first.original!r} read as {shown})")


@dataclass
class _RecordRows:
    record_id: str
    first_row: int
    last_row: int = 0
    main_row: int | None = None
    submitted_at: datetime | None = None
    language: str | None = None
    answers: dict[str, Any] = dataclass_field(default_factory=dict)
    technologies: dict[str, dict[str, Any]] = dataclass_field(default_factory=dict)
    technology_rows: dict[tuple[str, str], int] = dataclass_field(default_factory=dict)


@dataclass(frozen=True)
class _Layout:
    """Where one kind of row (main, or a repeated section's) keeps its answers, and where not."""

    own: tuple[_Column, ...]
    own_cells: Callable[[list[str]], tuple[str, ...]]  # the row's cells of ``own``, in order
    other: tuple[_Column, ...]
    other_cells: Callable[[list[str]], tuple[str, ...]]


def _layout(own: list[tuple[int, _Column]], other: list[tuple[int, _Column]]) -> _Layout:
    return _Layout(tuple(column for _, column in own), _cells_at([position for position, _ in own]),
                   tuple(column for _, column in other), _cells_at([position for position, _ in other]))


def _cells_at(positions: list[int]) -> Callable[[list[str]], tuple[str, ...]]:
    # itemgetter picks the cells in C: most of a row's cells are empty and need no Python-level look.
    if not positions:
        return lambda cells: ()
    if len(positions) == 1:
        return lambda cells: (cells[positions[0]],)
    return itemgetter(*positions)


class FlatResponsesReader:
    """Reads a flat responses file as a stream of rows and yields each record, validated, as
    soon as its last row has been read (a record's rows are consecutive, as REDCap, pandas and
    our own export write them), so memory does not grow with the file.

    Every problem is collected in :attr:`problems` (row, column, message) and every cell read
    as something other than what it says in :attr:`coercions` (see :mod:`survey.flat_coercions`);
    :attr:`technologies` maps each technology id to the first row naming it, for the caller to
    check against the catalogue. The file may be imported only when :attr:`ok` is true after
    :meth:`records` is exhausted.
    """

    def __init__(self, instrument: Instrument, *, limit: int = MAX_LISTED) -> None:
        self.instrument = instrument
        self.problems: Capped[tuple[int, str, str]] = Capped(limit)
        self.coercions: Capped[Coercion] = Capped(limit)
        self.coercion_counts: dict[tuple[str, str], CoercionCount] = {}
        self.technologies: dict[str, int] = {}
        self.records_read = 0
        self._columns = {column.name: column for column in flat_columns(instrument)}
        self._repeated = [section.id for section in instrument.sections if section.repeat_per_technology]
        self._section_names = frozenset(section_id.lower() for section_id in self._repeated)
        self._ended: dict[str, tuple[int, int | None]] = {}  # record id -> (its last row, its main row)

    @property
    def ok(self) -> bool:
        return self.problems.total == 0

    def problem(self, row: int, column: str, message: str) -> None:
        self.problems.add((row, column, message))

    def error(self) -> ResponsesImportError:
        return ResponsesImportError(self.problems.items, self.problems.total)

    def records(self, rows: Iterable[tuple[int, list[str]]]) -> Iterator[ImportedRecord]:
        """The validated records of ``rows`` (``(row number, cells)``, the header first)."""
        rows = iter(rows)
        current: _RecordRows | None = None
        try:
            first = next(rows, None)
            if first is None or not any(cell.strip() for cell in first[1]):
                self.problem(1, "", "the file is empty or has no header row")
                return
            self._read_header([cell.strip() for cell in first[1]])
            for number, cells in rows:
                record_id = cells[0].strip()
                if not record_id:
                    self.problem(number, self._header[0], "the record id is empty")
                    continue
                if current is None or record_id != current.record_id:
                    if current is not None:
                        yield self._finish(current)
                        current = None
                    if record_id in self._ended:
                        self._record_again(number, record_id, cells)
                        continue
                    current = _RecordRows(record_id, number)
                current.last_row = number
                self._read_row(current, number, cells)
        except FlatFileError as error:
            self.problem(error.row, "", error.message)
            return
        if current is not None:
            yield self._finish(current)
        if not self.records_read and self.ok:
            self.problem(2, "", "the file has a header row but no records")

    # ----------------------------------------------------------------------- header

    def _read_header(self, header: list[str]) -> None:
        """Map positions to answer columns and fixed columns; report unknown columns."""
        self._header = header
        self._width = len(header)
        mapping: dict[int, _Column] = {}
        self._fixed: dict[str, int] = {}
        seen: set[str] = set()
        variables = {column.slot.variable for column in self._columns.values()}
        for position, raw in enumerate(header[1:], start=1):
            name = raw.lower()
            if name in seen:
                self.problem(1, raw, "this column appears twice")
                continue
            seen.add(name)
            if name in self._columns:
                if self._columns[name].slot.type is not FieldType.CALCULATED:  # recomputed, never read
                    mapping[position] = self._columns[name]
            elif name in FIXED_COLUMNS:
                self._fixed[name] = position
            elif name == "redcap_event_name":
                self.problem(1, raw, "longitudinal (event) data is not supported")
            elif name in _IGNORED_COLUMNS or name.endswith(("_complete", "_timestamp")):
                continue
            elif "___" in name and name.split("___", 1)[0] in variables:
                self.problem(1, raw, f"{name.split('___', 1)[1]!r} is not an option of {name.split('___', 1)[0]!r}")
            elif any(column.slot.variable == name and column.code is not None for column in self._columns.values()):
                self.problem(1, raw, f"multiple-choice answers need one column per option, named {name}___<code>")
            else:
                self.problem(1, raw, f"not a variable of instrument {self.instrument.name!r}")
        self._layouts: dict[str | None, _Layout] = {}
        for section_id in (None, *self._repeated):
            own = [(p, c) for p, c in mapping.items() if _row_section(c) == section_id]
            other = [(p, c) for p, c in mapping.items() if _row_section(c) != section_id]
            self._layouts[section_id] = _layout(own, other)

    # ----------------------------------------------------------------------- rows

    def _fixed_cell(self, number: int, cells: list[str], name: str, kind: CellKind,
                    choices: frozenset[str] = frozenset()) -> str:
        position = self._fixed.get(name)
        text = cells[position].strip() if position is not None else ""
        if not text or text.isdigit() or text in choices:  # as written: the usual case
            return text
        return self._tolerant(number, name, text, kind, choices)

    def _tolerant(self, number: int, column: str, text: str, kind: CellKind, choices: frozenset[str]) -> str:
        read, reason = tolerant_cell(kind, text, choices)
        if reason is not None:
            self._note(Coercion(number, column, text, read, reason))
        return read

    def _note(self, coercion: Coercion) -> None:
        self.coercions.add(coercion)
        counted = self.coercion_counts.get((coercion.column, coercion.reason))
        if counted is None:
            self.coercion_counts[(coercion.column, coercion.reason)] = CoercionCount(coercion.column, coercion.reason, 1, coercion)
        else:
            counted.count += 1

    def _read_row(self, record: _RecordRows, number: int, cells: list[str]) -> None:
        if len(cells) != self._width:
            if any(cell.strip() for cell in cells[self._width:]):
                self.problem(number, "", f"this row has {len(cells)} cells but the header has {self._width} columns")
                return
            cells = (cells + [""] * self._width)[:self._width]
        section_id = self._fixed_cell(number, cells, REPEAT_INSTRUMENT, CellKind.CHOICE, self._section_names)
        if not section_id:
            values = self._main_row(number, record, cells)
            layout = self._layouts[None]
        else:
            values = self._repeat_row(number, record, section_id, cells)
            layout = self._layouts.get(section_id)
        if values is None or layout is None:
            return
        other = layout.other_cells(cells)
        if any(other):
            for column, text in zip(layout.other, other, strict=True):
                if text and (text := text.strip()) and not self._harmless(column, text):
                    section = _row_section(column)
                    where = f"a {section!r} repeat row" if section else "the record's main row"
                    self.problem(number, column.name, f"this answer belongs on {where}")
        for column, text in zip(layout.own, layout.own_cells(cells), strict=True):
            if text and (text := text.strip()):
                self._read_cell(number, column, text, values)

    @staticmethod
    def _harmless(column: _Column, text: str) -> bool:
        # REDCap writes 0 into every checkbox column of every row; only real answers are misplaced.
        read, _ = tolerant_cell(column.kind, text, column.choices)
        return not read or (column.code is not None and read.lower() in ("0", "unchecked"))

    def _main_row(self, number: int, record: _RecordRows, cells: list[str]) -> dict[str, Any] | None:
        if record.main_row is not None:
            self.problem(number, REPEAT_INSTRUMENT, f"the record already has a main row (row {record.main_row})")
            return None
        record.main_row = number
        position = self._fixed.get(SUBMITTED_AT)
        submitted = cells[position].strip() if position is not None else ""
        if submitted:
            record.submitted_at = self._submitted_at(number, submitted)
        record.language = self._language(number, cells)
        return record.answers

    def _language(self, number: int, cells: list[str]) -> str | None:
        position = self._fixed.get(LANGUAGE)
        code = cells[position].strip().lower() if position is not None and position < len(cells) else ""
        if not code:
            return None
        offered = [language.code for language in self.instrument.languages]
        if code not in offered:
            self.problem(number, LANGUAGE, f"{code[:20]!r} is not one of the instrument's languages ({', '.join(offered)})")
            return None
        return code

    def _submitted_at(self, number: int, text: str) -> datetime | None:
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            pass
        moment = excel_serial_datetime(text)
        if moment is not None:
            self._note(Coercion(number, SUBMITTED_AT, text, moment.isoformat(), EXCEL_SERIAL))
            return moment
        if not self._tolerant(number, SUBMITTED_AT, text, CellKind.NUMBER, frozenset()):
            return None  # a missing-value marker
        self.problem(number, SUBMITTED_AT, f"{text[:40]!r} is not an ISO date-time")
        return None

    def _repeat_row(self, number: int, record: _RecordRows, section_id: str, cells: list[str]) -> dict[str, Any] | None:
        if section_id not in self._repeated:
            self.problem(number, REPEAT_INSTRUMENT, f"{section_id[:40]!r} is not a section repeated per technology")
            return None
        technology_id = self._fixed_cell(number, cells, TECHNOLOGY_ID, CellKind.WHOLE)
        if not technology_id:
            self.problem(number, TECHNOLOGY_ID, "a repeat row needs a technology id")
            return None
        instance = self._fixed_cell(number, cells, REPEAT_INSTANCE, CellKind.WHOLE)
        if instance and not (instance.isascii() and instance.isdigit() and int(instance) >= 1):
            self.problem(number, REPEAT_INSTANCE, f"{instance[:40]!r} is not a positive whole number")
        key = (section_id, technology_id)
        if key in record.technology_rows:
            self.problem(number, TECHNOLOGY_ID, f"technology {technology_id[:50]!r} already has a {section_id!r} row "
                                                f"(row {record.technology_rows[key]})")
            return None
        record.technology_rows[key] = number
        self.technologies.setdefault(technology_id, number)
        return record.technologies.setdefault(technology_id, {})

    def _read_cell(self, number: int, column: _Column, text: str, values: dict[str, Any]) -> None:
        read = text
        if read not in column.codes:  # a code as written needs no second look
            read = self._tolerant(number, column.name, text, column.kind, column.choices)
            if not read:
                return
        if column.code is None:
            values[column.slot.variable] = read if read in column.codes else column.labels.get(read.lower(), read)
            return
        word = read.lower()
        if word in ("1", "checked"):
            values.setdefault(column.slot.variable, []).append(column.code)
        elif word in ("0", "unchecked"):
            values.setdefault(column.slot.variable, [])
        else:
            self.problem(number, column.name, f"{text[:40]!r} is not 1 or 0 (Checked or Unchecked)")

    def _record_again(self, number: int, record_id: str, cells: list[str]) -> None:
        last_row, main_row = self._ended[record_id]
        position = self._fixed.get(REPEAT_INSTRUMENT)
        is_main = position is None or not cells[position].strip()
        if is_main and main_row is not None:
            self.problem(number, REPEAT_INSTRUMENT, f"the record already has a main row (row {main_row})")
        else:
            self.problem(number, self._header[0], f"record {record_id[:50]!r} already ended at row {last_row}: keep each "
                                                  "record's rows together, one after another, as REDCap exports them")

    # ----------------------------------------------------------------------- records

    def _finish(self, record: _RecordRows) -> ImportedRecord:
        self._ended[record.record_id] = (record.last_row, record.main_row)
        self.records_read += 1
        result = validate_submission(self.instrument, record.answers, record.technologies)
        for problem in result.errors:
            self.problem(_row_of(record, problem.section_id, problem.technology_id), problem.variable, problem.message)
        return ImportedRecord(record.record_id, result.document, record.submitted_at, record.first_row, record.language)


def _row_section(column: _Column) -> str | None:
    """The repeated section whose rows carry this column (None: the record's main row)."""
    return column.section.id if column.section.repeat_per_technology else None


def _row_of(record: _RecordRows, section_id: str | None, technology_id: str | None) -> int:
    """The row to name for a validation problem: the technology's row, else the record's main row."""
    if technology_id is None:
        return record.main_row or record.first_row
    if (section_id, technology_id) in record.technology_rows:
        return record.technology_rows[(section_id, technology_id)]
    rows = [row for (_, tid), row in record.technology_rows.items() if tid == technology_id]
    return min(rows, default=record.first_row)


def import_flat(instrument: Instrument, data: bytes | str) -> list[ImportedRecord]:
    """Read a whole REDCap-style flat CSV (bytes or text) in memory; every record is validated and
    all must pass, else :class:`ResponsesImportError`. Large files: use :class:`FlatResponsesReader`."""
    stream = io.BytesIO(data.encode("utf-8") if isinstance(data, str) else data)
    reader = FlatResponsesReader(instrument)
    records = list(reader.records(csv_rows(stream)))
    if not reader.ok:
        raise reader.error()
    return records
