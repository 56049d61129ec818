"""Catalogue import (project template as CSV/XLSX, and the US FDA AI-enabled device list) and export.

Imports are all-or-nothing: every row is checked first and any problem aborts the whole
import with the full list of problems (row, column, reason); only a clean file is written,
in one transaction. Re-importing the same file changes nothing: rows are matched on their
external id (catalogue id or FDA submission number), else on name + company.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import pandas as pd
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from storage.audit import record_audit
from storage.catalogue import (
    SCALAR_FIELDS,
    TEXT_LIMITS,
    UKCA_CE_CLASSES,
    UKCA_CE_REGIMES,
    TechnologyInput,
    bulk_write,
    bump_data_version,
    fda_pathway_of_number,
    fda_submission,
    field_errors,
    stored_inputs,
)
from storage.change_log import CATALOGUE, note_change
from storage.db import read_session, write_session
from storage.exports import ExportFormat, table_bytes
from storage.permissions import guarded
from storage.tabular import Table, TableReadError, normalise_header, read_table
from storage.vocabularies import all_codes, fda_crosswalk, labels, subtype_parents

ImportFormat = Literal["auto", "template", "fda"]
MULTI_SEPARATOR = ";"

# Template columns in order: (column name, TechnologyInput field, vocabulary or None, multi-valued)
TEMPLATE_COLUMNS: list[tuple[str, str, str | None, bool]] = [
    ("catalogue_id", "catalogue_id", None, False),
    ("name", "name", None, False),
    ("company", "company", None, False),
    ("short_description", "short_description", None, False),
    ("long_description", "long_description", None, False),
    ("type", "type_code", "technology_type", False),
    ("subtype", "subtype_code", "technology_subtype", False),
    ("ai_technique", "ai_technique", None, False),
    ("input_data_type", "input_data_type", None, False),
    ("clinical_areas", "clinical_areas", "clinical_area", True),
    ("workforce_groups", "workforce_groups", "workforce_group", True),
    ("primary_workforce_group", "primary_workforce_group", "workforce_group", False),
    ("points_of_care", "points_of_care", "point_of_care", True),
    ("time_to_deployment", "time_to_deployment", "deployment_horizon", False),
    ("impact_workforce", "impact_workforce", "impact_level", False),
    ("impact_pathway", "impact_pathway", "impact_level", False),
    ("impact_system", "impact_system", "impact_level", False),
    ("ukca_ce_class", "ukca_ce_class", None, False),
    ("ukca_ce_regime", "ukca_ce_regime", None, False),
    ("fda_pathway", "fda_pathway", None, False),
    ("fda_submission_number", "fda_submission_number", None, False),
    ("nice_esf_tier", "nice_esf_tier", "nice_esf_tier", False),
    ("evidence_level", "evidence_level", "evidence_level", False),
    ("last_reviewed", "last_reviewed", None, False),
]
TEMPLATE_HEADER = [column for column, *_ in TEMPLATE_COLUMNS]
FDA_COLUMNS = {
    "date_of_final_decision": "decision_date",
    "submission_number": "submission_number",
    "device": "device",
    "company": "company",
    "panel_lead": "panel",
    "primary_product_code": "product_code",
}
FDA_REQUIRED = {"submission_number", "device", "company"}
# Fields an FDA import owns; everything a lead classified by hand is left alone on re-import.
FDA_OWNED_FIELDS = ("name", "company", "fda_pathway", "fda_submission_number", "fda_decision_date")


class _ParsedRow(NamedTuple):
    number: int
    item: TechnologyInput
    present: frozenset[str]  # template columns present in the file (absent ones keep stored values)


@dataclass(frozen=True)
class ImportProblem:
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column}: {self.message}" if self.row else f"{self.column}: {self.message}"


class CatalogueImportError(ValueError):
    """The file was refused; nothing was written. ``problems`` lists every reason."""

    def __init__(self, problems: list[ImportProblem]):
        self.problems = problems
        head = "; ".join(str(p) for p in problems[:3])
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        super().__init__(f"import refused, nothing changed: {head}{more}")


@dataclass
class PlannedRow:
    row: int
    action: Literal["create", "update", "unchanged"]
    name: str
    technology_id: int | None
    data: TechnologyInput
    changed_fields: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    format: str
    dry_run: bool
    rows: list[PlannedRow]

    def count(self, action: str) -> int:
        return sum(1 for r in self.rows if r.action == action)

    def summary(self) -> dict:
        return {
            "format": self.format,
            "dry_run": self.dry_run,
            "rows": len(self.rows),
            "created": self.count("create"),
            "updated": self.count("update"),
            "unchanged": self.count("unchanged"),
        }

    def preview_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            [{"row": r.row, "action": r.action, "name": r.name, "changed": ", ".join(r.changed_fields)} for r in self.rows],
            columns=["row", "action", "name", "changed"],
        )


ProgressCallback = Callable[[int, int], None]


def detect_format(table: Table) -> Literal["template", "fda"]:
    headers = {normalise_header(h) for h in table.header}
    if {"submission_number", "device"} <= headers:
        return "fda"
    if "name" in headers:
        return "template"
    raise CatalogueImportError([ImportProblem(1, "header", "not a catalogue template (needs a 'name' column) nor an FDA device list (needs 'Submission Number' and 'Device')")])


@guarded("catalogue.import")
def import_catalogue(
    engine: Engine,
    data: bytes,
    *,
    fmt: ImportFormat = "auto",
    dry_run: bool = False,
    source_name: str = "",
    progress: ProgressCallback | None = None,
    actor: Any = None,
) -> ImportReport:
    """Validate a whole file, then (unless ``dry_run``) apply it in one transaction, audited
    as ``catalogue_import`` with the counts (a refused file writes nothing, not even an event)."""
    try:
        table = read_table(data)
    except TableReadError as error:
        raise CatalogueImportError([ImportProblem(0, "file", str(error))]) from None
    resolved = detect_format(table) if fmt == "auto" else fmt
    with read_session(engine) as session:
        context = _ValidationContext.load(session)
        parsed = _parse_fda(table, context, source_name) if resolved == "fda" else _parse_template(table, context, source_name)
        plan = _plan(session, parsed, resolved, progress)
    report = ImportReport(format=resolved, dry_run=dry_run, rows=plan)
    if not dry_run:
        counts = report.summary()
        details = {"format": resolved, "created": counts["created"], "updated": counts["updated"], "unchanged": counts["unchanged"]}
        _apply(engine, plan, progress, lambda session: record_audit(session, actor, None, "catalogue_import", "catalogue", "success", details))
    return report


@dataclass
class _ValidationContext:
    codes: dict[str, set[str]]
    parents: dict[str, str]
    lookup: dict[str, dict[str, str]]  # vocabulary -> lower(code or label) -> code
    crosswalk: dict[str, str]

    @classmethod
    def load(cls, session: Session) -> _ValidationContext:
        codes = all_codes(session)
        lookup: dict[str, dict[str, str]] = {}
        for vocabulary in {v for _, _, v, _ in TEMPLATE_COLUMNS if v}:
            mapping = {}
            for code, label in labels(session, vocabulary).items():
                if code in codes.get(vocabulary, set()):
                    mapping[label.strip().lower()] = code
                    mapping[code.lower()] = code
            lookup[vocabulary] = mapping
        return cls(codes=codes, parents=subtype_parents(session), lookup=lookup, crosswalk=fda_crosswalk(session))

    def validation_context(self) -> dict:
        return {"codes": self.codes, "subtype_parents": self.parents}


def _resolve(context: _ValidationContext, vocabulary: str, raw: str, row: int, column: str, problems: list[ImportProblem]) -> str | None:
    code = context.lookup.get(vocabulary, {}).get(raw.strip().lower())
    if code is None:
        problems.append(ImportProblem(row, column, f"'{raw}' is not a known {vocabulary.replace('_', ' ')} (use a code or label from the vocabulary)"))
    return code


def parse_date(raw: str, *, us: bool = False) -> dt.date:
    """ISO dates always; otherwise day/month/year (UK), or month/day/year for FDA files."""
    raw = raw.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            raise ValueError(f"'{raw}' is not a valid date") from None
    match = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", raw)
    if match:
        first, second, year = (int(g) for g in match.groups())
        month, day = (first, second) if us else (second, first)
        try:
            return dt.date(year, month, day)
        except ValueError:
            raise ValueError(f"'{raw}' is not a valid date") from None
    raise ValueError(f"'{raw}' is not a date (use YYYY-MM-DD)")


def _validation_problems(error: ValidationError, row: int, column_for_field: dict[str, str]) -> list[ImportProblem]:
    return [ImportProblem(row, column_for_field.get(name, name or "row"), message) for name, message in field_errors(error)]


def _parse_template(table: Table, context: _ValidationContext, source_name: str) -> list[_ParsedRow]:
    known = {normalise_header(column): column for column in TEMPLATE_HEADER}
    known.update({"subtype_code": "subtype", "type_code": "type", "developer": "company"})
    positions: dict[str, int] = {}
    problems: list[ImportProblem] = []
    for index, raw in enumerate(table.header):
        key = normalise_header(raw)
        column = known.get(key)
        if column is None:
            problems.append(ImportProblem(1, raw or f"column {index + 1}", "unknown column (see the template's column list)"))
        elif column in positions:
            problems.append(ImportProblem(1, raw, "column appears twice"))
        else:
            positions[column] = index
    if problems:
        raise CatalogueImportError(problems)
    column_for_field = {fieldname: column for column, fieldname, _, _ in TEMPLATE_COLUMNS}
    parsed = []
    for number, cells in table.rows:
        values: dict = {"source": "template import", "source_detail": source_name[:300]}
        row_problems: list[ImportProblem] = []
        for column, fieldname, vocabulary, multi in TEMPLATE_COLUMNS:
            if column not in positions:
                continue
            raw = cells[positions[column]]
            if multi:
                items = [item.strip() for item in raw.split(MULTI_SEPARATOR) if item.strip()]
                values[fieldname] = [code for item in items if (code := _resolve(context, vocabulary, item, number, column, row_problems))]
            elif raw == "":
                values[fieldname] = None if fieldname not in ("name", "company", "short_description", "long_description", "ai_technique", "input_data_type") else ""
            elif vocabulary:
                values[fieldname] = _resolve(context, vocabulary, raw, number, column, row_problems)
            elif fieldname == "last_reviewed":
                try:
                    values[fieldname] = parse_date(raw)
                except ValueError as error:
                    row_problems.append(ImportProblem(number, column, str(error)))
            else:
                values[fieldname] = raw
        if row_problems:
            problems.extend(row_problems)
            continue
        try:
            item = TechnologyInput.model_validate(values, context=context.validation_context())
        except ValidationError as error:
            problems.extend(_validation_problems(error, number, column_for_field))
            continue
        parsed.append(_ParsedRow(number, item, frozenset(positions)))
    if problems:
        raise CatalogueImportError(problems)
    return parsed


def fda_pathway_for(submission_number: str) -> str | None:
    """The pathway of the one FDA submission number in a cell (``PMA P150043`` is a PMA)."""
    number = fda_submission(submission_number)
    return fda_pathway_of_number(number) if number else None


def _parse_fda(table: Table, context: _ValidationContext, source_name: str) -> list[_ParsedRow]:
    positions = {}
    for index, raw in enumerate(table.header):
        key = FDA_COLUMNS.get(normalise_header(raw))
        if key:
            positions[key] = index
    missing = FDA_REQUIRED - set(positions)
    if missing:
        raise CatalogueImportError([ImportProblem(1, "header", f"FDA list is missing column(s): {', '.join(sorted(missing))}")])
    problems: list[ImportProblem] = []
    parsed = []
    for number, cells in table.rows:
        cell = {key: cells[index] for key, index in positions.items()}
        row_problems = []
        submission = fda_submission(cell["submission_number"]) or cell["submission_number"].strip().upper()
        pathway = fda_pathway_of_number(submission)
        if pathway is None:
            row_problems.append(ImportProblem(number, "Submission Number", f"'{cell['submission_number']}' is not a 510(k) (K######), De Novo (DEN######) or PMA (P######[/S###]) number"))
        if not cell["device"]:
            row_problems.append(ImportProblem(number, "Device", "is empty"))
        decision = None
        if cell.get("decision_date"):
            try:
                decision = parse_date(cell["decision_date"], us=True)
            except ValueError as error:
                row_problems.append(ImportProblem(number, "Date of Final Decision", str(error)))
        if row_problems:
            problems.extend(row_problems)
            continue
        panel = cell.get("panel", "").strip()
        area = context.crosswalk.get(panel.lower())
        detail = f"FDA AI-enabled device list{f' ({source_name})' if source_name else ''}; panel: {panel or 'not given'}"
        if cell.get("product_code"):
            detail += f"; product code {cell['product_code']}"
        try:
            item = TechnologyInput.model_validate(
                {
                    "name": cell["device"],
                    "company": cell["company"],
                    "fda_pathway": pathway,
                    "fda_submission_number": submission,
                    "fda_decision_date": decision,
                    "clinical_areas": [area] if area and area in context.codes.get("clinical_area", set()) else [],
                    "source": "fda import",
                    "source_detail": detail[:300],
                    # No type: the FDA list cannot say the HEE taxonomy type, so it is "to classify".
                },
                context=context.validation_context(),
            )
        except ValidationError as error:
            problems.extend(_validation_problems(error, number, {"name": "Device", "company": "Company"}))
            continue
        parsed.append(_ParsedRow(number, item, frozenset()))
    if problems:
        raise CatalogueImportError(problems)
    return parsed


def _row_key(item: TechnologyInput) -> tuple[str, str]:
    return (item.name.strip().lower(), item.company.strip().lower())


def _plan(session: Session, parsed: list[_ParsedRow], fmt: str, progress: ProgressCallback | None) -> list[PlannedRow]:
    stored = stored_inputs(session)
    by_external = {("catalogue", data.catalogue_id): tid for tid, data in stored.items() if data.catalogue_id}
    by_external |= {("fda", data.fda_submission_number): tid for tid, data in stored.items() if data.fda_submission_number}
    by_name = {_row_key(data): tid for tid, data in stored.items()}
    problems = []
    seen: dict[object, int] = {}
    plan = []
    for position, (number, item, present) in enumerate(parsed):
        external = ("fda", item.fda_submission_number) if fmt == "fda" else (("catalogue", item.catalogue_id) if item.catalogue_id else None)
        for key in filter(None, (external, _row_key(item))):
            if key in seen:
                problems.append(ImportProblem(number, "row", f"same technology as row {seen[key]} ({' / '.join(map(str, key))})"))
            seen[key] = number
        existing_id = (by_external.get(external) if external else None) or by_name.get(_row_key(item))
        if existing_id is None:
            plan.append(PlannedRow(number, "create", item.name, None, item))
        else:
            current = stored[existing_id]
            merged = _merge(current, item, fmt, present)
            changed = [f for f in (*SCALAR_FIELDS, "clinical_areas", "workforce_groups", "primary_workforce_group", "points_of_care", "catalogue_id")
                       if f not in ("source", "source_detail") and _normal(getattr(merged, f)) != _normal(getattr(current, f))]
            plan.append(PlannedRow(number, "update" if changed else "unchanged", item.name, existing_id, merged, changed))
        if progress and position % 500 == 0:
            progress(position, len(parsed) * 2)
    if problems:
        raise CatalogueImportError(problems)
    return plan


def _normal(value: object) -> object:
    if isinstance(value, list):
        return sorted(value)
    if value == "":
        return None
    return value


def _merge(current: TechnologyInput, item: TechnologyInput, fmt: str, present: frozenset[str]) -> TechnologyInput:
    """What the record becomes: the file's values over the stored ones, for the columns the file owns."""
    if fmt == "fda":
        owned = set(FDA_OWNED_FIELDS)
        if not current.clinical_areas:
            owned.add("clinical_areas")
        updates = {f: getattr(item, f) for f in owned}
    else:
        fields = {fieldname for column, fieldname, _, _ in TEMPLATE_COLUMNS if column in present}
        updates = {f: getattr(item, f) for f in fields}
        if "workforce_groups" in fields and "primary_workforce_group" not in fields:
            updates["primary_workforce_group"] = item.primary_workforce_group
    merged = current.model_copy(update=updates)
    merged.needs_classification = merged.type_code is None
    merged.source, merged.source_detail = current.source, current.source_detail
    return merged


def _apply(engine: Engine, plan: list[PlannedRow], progress: ProgressCallback | None, audit: Callable[[Session], object]) -> None:
    total = len(plan)
    with write_session(engine) as session:
        audit(session)
        if not any(r.action != "unchanged" for r in plan):
            return
        creates = [row.data for row in plan if row.action == "create"]
        updates = [(row.technology_id, row.data) for row in plan if row.action == "update"]
        # Set-based writes in chunks, so a 10,000-row file takes seconds and the UI can show progress.
        chunk = 1000
        for start in range(0, max(len(creates), len(updates)), chunk):
            bulk_write(session, creates[start:start + chunk], updates[start:start + chunk])
            if progress:
                progress(total + min(start + chunk, total), total * 2)
        note_change(session, CATALOGUE)
        bump_data_version(session)
    if progress:
        progress(total * 2, total * 2)


@guarded("catalogue.export")
def export_frame(engine: Engine, *, actor: Any = None) -> pd.DataFrame:
    """The catalogue in the template's columns (vocabulary fields as labels), one row per technology.
    A read: an export that leaves the server is audited by :func:`export_catalogue` or the download."""
    with read_session(engine) as session:
        vocab_labels = {v: labels(session, v) for v in {v for _, _, v, _ in TEMPLATE_COLUMNS if v}}
        rows = []
        for data in stored_inputs(session).values():
            row = {}
            for column, fieldname, vocabulary, multi in TEMPLATE_COLUMNS:
                value = getattr(data, fieldname)
                if multi:
                    row[column] = f"{MULTI_SEPARATOR} ".join(_label(vocab_labels[vocabulary], v) for v in value)
                elif value is None:
                    row[column] = ""
                elif vocabulary:
                    row[column] = _label(vocab_labels[vocabulary], value)
                else:
                    row[column] = value.isoformat() if isinstance(value, dt.date) else str(value)
            rows.append(row)
    return pd.DataFrame(rows, columns=TEMPLATE_HEADER)


@guarded("catalogue.export")
def export_catalogue(engine: Engine, fmt: ExportFormat, *, actor: Any = None) -> bytes:
    """The whole catalogue as a formula-safe CSV or XLSX file, audited as ``export``."""
    frame = export_frame(engine, actor=actor)
    content = table_bytes(frame, fmt, sheet_name="catalogue")
    with write_session(engine) as session:
        record_audit(session, actor, None, "export", "catalogue", "success", {"format": fmt, "rows": len(frame)})
    return content


def _label(mapping: dict[str, str], code: str) -> str:
    label = mapping.get(code, code)
    # A label containing the separator could not be read back: fall back to the code.
    return code if MULTI_SEPARATOR in label else label


def template_notes() -> list[str]:
    """What the template's cells accept beyond codes and labels, and the longest text each takes
    (shown beside the template download; the README's *Catalogue files* says the same)."""
    limit = {column: f"{TEXT_LIMITS[column]:,}" for column in TEXT_LIMITS}
    return [
        f"Text: name, company, ai_technique and input_data_type up to {limit['name']} characters each; short_description "
        f"up to {limit['short_description']} and long_description up to {limit['long_description']}; catalogue_id up to "
        f"{limit['catalogue_id']} and fda_submission_number up to {limit['fda_submission_number']}.",
        "fda_pathway: 510(k), De Novo or PMA, as registers write them (510(k) cleared, De novo 510(k) cleared, PMA approved, "
        "any case and spacing). Left empty, it is read from the submission number: K… 510(k), DEN… De Novo, P… PMA. "
        "A cell such as PMA P150043 is read as the number P150043.",
        f"ukca_ce_class: {', '.join(UKCA_CE_CLASSES)}, with or without the word Class (Class IIa); ukca_ce_regime: "
        f"{', '.join(UKCA_CE_REGIMES)}.",
        f"Several values in one cell are separated by {MULTI_SEPARATOR}; vocabulary cells take the code or the label.",
    ]


def template_frame() -> pd.DataFrame:
    """An empty template with one worked example row, for download."""
    example = {column: "" for column in TEMPLATE_HEADER}
    example.update({
        "catalogue_id": "EXAMPLE-1", "name": "Example chest X-ray triage", "company": "Example Ltd",
        "short_description": "Flags abnormal chest X-rays for priority reporting", "type": "Diagnostics", "subtype": "Imaging",
        "clinical_areas": "Radiology", "workforce_groups": "Medic, Radiology; Radiographer, Radiology", "points_of_care": "Secondary care",
        "time_to_deployment": "Within 1 year", "impact_workforce": "High", "ukca_ce_class": "IIa", "ukca_ce_regime": "MDR",
    })
    return pd.DataFrame([example], columns=TEMPLATE_HEADER)
