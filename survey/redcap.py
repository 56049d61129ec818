"""REDCap Data Dictionary import and export (DESIGN.md section 4).

Import maps each dictionary row to a field; each Form Name becomes a section. What REDCap can say
but we cannot (file uploads, SQL fields, action tags such as ``@HIDDEN``, logic or calculations
with functions or events we do not have) is reported as an :class:`ImportWarning` naming the row
and variable. The first row is REDCap's record identifier field and is not a question; its name
is kept as the instrument's ``record_id`` and the export writes it back under that name.

Mapping, both ways:

============================  ===============================================
REDCap                        ours
============================  ===============================================
text (no validation)          short_text (``email`` -> e-mail pattern)
text + integer                integer
text + number, number_Ndp     decimal
text + date_ymd/dmy/mdy       date (answers are always ISO YYYY-MM-DD)
notes                         long_text
radio / dropdown / checkbox   single_choice / dropdown / multiple_choice
yesno, truefalse              yes_no (REDCap's 1/0 become 'yes'/'no')
slider                        slider (min/max default 0/100)
descriptive                   descriptive
calc                          calculated (equation translated: ``[x]`` -> ``x``, ``/`` ->
                              ``div``, ``datediff(a, b, "d")`` -> ``abs(days_between(a, b))``,
                              a yes/no as 1/0, a checkbox option ``[x(c)]`` as 1/0)
rows sharing a Matrix Group   one matrix field with one item per row
============================  ===============================================

Things REDCap has no column for travel in Field Annotation as tags of our own, which REDCap
ignores: ``@ROADMAP-TYPE="rating_5"``, ``@ROADMAP-UNIT="minutes"``, ``@ROADMAP-STEP="5"``,
``@ROADMAP-PATTERN="..."``, ``@ROADMAP-REPEAT`` (the form is repeated per technology) and
``@ROADMAP-CALC="..."`` (a calculation in our syntax, written where REDCap's equation can only
approximate it: ``mod``, ``int()``, ``coalesce()``, date subtraction). The
REDCap tags ``@CHARLIMIT=n`` (max length) and ``@NONEOFTHEABOVE='code'`` (exclusive options) are
read and written as REDCap defines them.

Export is lossless for imported instruments (import -> export -> import gives an equal
instrument). For instruments written here, a section's description is not exported, a
section's condition is folded into each of its fields' branching logic, and a section title is
lost when the section starts with a matrix (REDCap shows the matrix header there).
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from survey.expressions import (
    CONDITION_FUNCTIONS,
    VALUE_FUNCTIONS,
    And,
    Answered,
    Arithmetic,
    BooleanConstant,
    Comparison,
    ExpressionError,
    Function,
    If,
    Literal,
    Negate,
    Node,
    Not,
    Or,
    Selected,
    Variable,
    iter_nodes,
    parse,
    parse_calculation,
    quoted,
)
from survey.imports import (
    DraftField,
    DraftSection,
    ImportResult,
    ImportWarning,
    InstrumentImportError,
    build_instrument,
    calculation_or_warning,
    decode_text,
    translate_calculation,
    expression_or_warning,
    humanise,
    normalise_quotes,
    read_csv_rows,
    slugify,
    strip_html,
    unsupported_function_check,
)
from survey.instrument import EMAIL_PATTERN, IDENTIFIER_PATTERN, Field, FieldType, Instrument

__all__ = [
    "COLUMNS",
    "ImportResult",
    "ImportWarning",
    "InstrumentImportError",
    "export_data_dictionary",
    "import_data_dictionary",
]

COLUMNS = (
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
)
"""The 18 Data Dictionary columns, in REDCap's order."""

_KEYS = ("variable", "form", "section_header", "field_type", "label", "choices", "note", "validation",
         "min", "max", "identifier", "branching", "required", "alignment", "question_number",
         "matrix_group", "matrix_ranking", "annotation")

# Header spellings seen in the wild (UI download, API names, hand-made files), compared after
# lower-casing and removing everything but a-z and 0-9.
_HEADER_SPELLINGS = {
    "variable": ("variablefieldname", "fieldname", "variable", "variablename", "field"),
    "form": ("formname", "form", "instrument", "instrumentname"),
    "section_header": ("sectionheader",),
    "field_type": ("fieldtype", "type"),
    "label": ("fieldlabel", "label"),
    "choices": ("choicescalculationsorsliderlabels", "selectchoicesorcalculations", "choices",
                "choicesorcalculations", "selectchoices"),
    "note": ("fieldnote", "note"),
    "validation": ("textvalidationtypeorshowslidernumber", "textvalidationtype", "validationtype", "validation"),
    "min": ("textvalidationmin", "validationmin", "min"),
    "max": ("textvalidationmax", "validationmax", "max"),
    "identifier": ("identifier",),
    "branching": ("branchinglogicshowfieldonlyif", "branchinglogic"),
    "required": ("requiredfield", "required"),
    "alignment": ("customalignment",),
    "question_number": ("questionnumbersurveysonly", "questionnumber"),
    "matrix_group": ("matrixgroupname", "matrixgroup"),
    "matrix_ranking": ("matrixranking",),
    "annotation": ("fieldannotation", "annotation"),
}
_REQUIRED_KEYS = ("variable", "form", "field_type", "label")

_TEXT_VALIDATION = {
    "integer": FieldType.INTEGER,
    "int": FieldType.INTEGER,
    "number": FieldType.DECIMAL,
    "float": FieldType.DECIMAL,
    "date_ymd": FieldType.DATE,
    "date_dmy": FieldType.DATE,
    "date_mdy": FieldType.DATE,
    "date": FieldType.DATE,
}
_CHOICE_FIELD_TYPES = {"radio": FieldType.SINGLE_CHOICE, "dropdown": FieldType.DROPDOWN,
                       "select": FieldType.DROPDOWN, "checkbox": FieldType.MULTIPLE_CHOICE}
_UNSUPPORTED_TYPES = {
    "file": "file upload fields are not supported",
    "sql": "SQL fields are not supported",
}
_TAG = re.compile(r"@([A-Za-z][A-Za-z0-9_-]*)(?:\((?:[^()]|\([^()]*\))*\))?"
                  r"(?:\s*=\s*(\"(?:[^\"\\]|\\.)*\"|'[^']*'|[^\s@]+))?")
_CHECKBOX_REFERENCE = re.compile(
    r"\[\s*([A-Za-z][A-Za-z0-9_]*)\s*\(\s*([A-Za-z0-9_.\-]+)\s*\)\s*\]\s*(==|=|<>|!=)\s*(?:'([01])'|\"([01])\"|([01])(?![0-9.]))")
_FIELD_REFERENCE = re.compile(r"\[\s*([A-Za-z][A-Za-z0-9_]*)\s*\]")
_CHECKBOX_VALUE = re.compile(r"\[\s*([A-Za-z][A-Za-z0-9_]*)\s*\(\s*([A-Za-z0-9_.\-]+)\s*\)\s*\]")
_DATEDIFF = re.compile(r"datediff\s*\(\s*([^,()]+?)\s*,\s*([^,()]+?)\s*,\s*(['\"])(\w+)\3\s*((?:,\s*[^,()]+?\s*)*)\)",
                       re.IGNORECASE)
_DATEDIFF_DAYS_PER_UNIT = {"d": None, "y": "365.2425", "M": "30.44"}  # REDCap's own year and month lengths
_REDCAP_FUNCTIONS = frozenset(VALUE_FUNCTIONS) | frozenset(CONDITION_FUNCTIONS) | {"datediff"}


def _header_key(cell: str) -> str | None:
    compact = re.sub(r"[^a-z0-9]", "", cell.lower())
    for key, spellings in _HEADER_SPELLINGS.items():
        if compact in spellings:
            return key
    return None


@dataclass
class _Row:
    number: int
    cells: dict[str, str]

    def get(self, key: str) -> str:
        return self.cells.get(key, "").strip()


def _read_rows(data: bytes | str) -> list[_Row]:
    raw_rows = read_csv_rows(decode_text(data))
    header_index = next((index for index, row in enumerate(raw_rows) if row), None)
    if header_index is None:
        raise InstrumentImportError("the file is empty")
    header = raw_rows[header_index]
    columns: dict[int, str] = {}
    for position, cell in enumerate(header):
        key = _header_key(cell)
        if key is not None and key not in columns.values():
            columns[position] = key
    missing = [COLUMNS[_KEYS.index(key)] for key in _REQUIRED_KEYS if key not in columns.values()]
    if missing:
        raise InstrumentImportError(
            f"not a REDCap Data Dictionary: the header row (row {header_index + 1}) lacks the column(s) "
            + ", ".join(f"'{name}'" for name in missing))
    rows = []
    for index in range(header_index + 1, len(raw_rows)):
        cells = raw_rows[index]
        if cells:
            rows.append(_Row(index + 1, {key: cells[position] for position, key in columns.items() if position < len(cells)}))
    if not rows:
        raise InstrumentImportError("the Data Dictionary has a header row but no fields")
    return rows


# --------------------------------------------------------------------------- import


@dataclass
class _Tags:
    roadmap: dict[str, str]
    char_limit: int | None
    exclusive_codes: list[str]


def _read_annotation(row: _Row, variable: str, warnings: list[ImportWarning]) -> _Tags:
    text = normalise_quotes(row.get("annotation"))
    tags = _Tags({}, None, [])
    for match in _TAG.finditer(text):
        name, value = match.group(1).upper(), _tag_value(match.group(2))
        if name.startswith("ROADMAP-"):
            tags.roadmap[name.removeprefix("ROADMAP-")] = value
        elif name == "CHARLIMIT" and value.isdigit() and int(value) > 0:
            tags.char_limit = int(value)
        elif name == "NONEOFTHEABOVE":
            tags.exclusive_codes = [code.strip() for code in value.split(",") if code.strip()]
        else:
            warnings.append(ImportWarning(row.number, variable, f"action tag @{name} is not supported and was ignored"))
    leftover = _TAG.sub("", text).strip()
    if leftover:
        warnings.append(ImportWarning(row.number, variable, f"field annotation text ignored: {leftover[:80]!r}"))
    return tags


def _tag_value(raw: str | None) -> str:
    if raw is None:
        return ""
    if raw.startswith('"'):
        try:
            return str(json.loads(raw))
        except ValueError:
            return raw.strip('"')
    return raw.strip("'")


def _parse_choices(text: str, row: _Row, variable: str, warnings: list[ImportWarning]) -> list[dict[str, Any]]:
    choices = []
    for part in re.split(r"\||\\n|\n", text):
        if not part.strip():
            continue
        code, separator, label = part.partition(",")
        code, label = code.strip(), strip_html(label)
        if not separator:
            label = code
        if not re.fullmatch(r"-?[A-Za-z0-9_][A-Za-z0-9_.\-]*", code):
            warnings.append(ImportWarning(row.number, variable, f"choice {part.strip()[:60]!r} skipped: "
                                                                 f"the code must be letters, digits or underscores"))
            continue
        choices.append({"code": code, "label": label or code})
    return choices


def _bound(text: str, kind: FieldType, row: _Row, variable: str, warnings: list[ImportWarning]) -> Any:
    text = text.strip()
    if not text:
        return None
    if kind is FieldType.DATE:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            try:
                return date.fromisoformat(text).isoformat()
            except ValueError:
                pass
    elif re.fullmatch(r"-?\d+(\.\d+)?", text):
        return int(text) if "." not in text else float(text)
    warnings.append(ImportWarning(row.number, variable, f"validation limit {text!r} is not supported and was ignored"))
    return None


def _field_type(row: _Row, variable: str, warnings: list[ImportWarning]) -> FieldType | None:
    raw_type = row.get("field_type").lower()
    validation = row.get("validation").lower()
    if raw_type in _UNSUPPORTED_TYPES:
        warnings.append(ImportWarning(row.number, variable, f"field skipped: {_UNSUPPORTED_TYPES[raw_type]}"))
        return None
    if raw_type in _CHOICE_FIELD_TYPES:
        return _CHOICE_FIELD_TYPES[raw_type]
    simple = {"notes": FieldType.LONG_TEXT, "yesno": FieldType.YES_NO, "truefalse": FieldType.YES_NO,
              "slider": FieldType.SLIDER, "descriptive": FieldType.DESCRIPTIVE, "calc": FieldType.CALCULATED}
    if raw_type in simple:
        return simple[raw_type]
    if raw_type == "text":
        if not validation or validation == "email":
            return FieldType.SHORT_TEXT
        if validation in _TEXT_VALIDATION:
            return _TEXT_VALIDATION[validation]
        if re.fullmatch(r"number_\d+dp(_comma_decimal)?", validation):
            return FieldType.DECIMAL
        warnings.append(ImportWarning(row.number, variable,
                                      f"text validation {validation!r} is not supported; imported as plain text"))
        return FieldType.SHORT_TEXT
    warnings.append(ImportWarning(row.number, variable, f"field skipped: unknown field type {raw_type!r}"))
    return None


def _variable_name(row: _Row, renames: dict[str, str], warnings: list[ImportWarning]) -> str | None:
    original = row.get("variable")
    if not original:
        warnings.append(ImportWarning(row.number, None, "row skipped: it has no variable name"))
        return None
    name = original.lower()
    if not re.fullmatch(IDENTIFIER_PATTERN, name):
        name = slugify(name, fallback="v")
        warnings.append(ImportWarning(row.number, original, f"variable renamed to {name!r} (names must be "
                                                            f"lower-case letters, digits and underscores)"))
    renames[original.lower()] = name
    return name


def _translate_logic(text: str, renames: dict[str, str]) -> str:
    """REDCap logic -> our syntax (still to be parsed); unknown constructs are left to fail parsing."""
    text = normalise_quotes(text)

    def checkbox(match: re.Match[str]) -> str:
        variable = renames.get(match.group(1).lower(), match.group(1).lower())
        checked = (match.group(4) or match.group(5) or match.group(6)) == "1"
        if match.group(3) in ("<>", "!="):
            checked = not checked
        condition = f"selected({variable}, '{match.group(2)}')"
        return condition if checked else f"not {condition}"

    text = _CHECKBOX_REFERENCE.sub(checkbox, text)
    # A checkbox option on its own counts as 1 (checked) or 0, as REDCap computes with it.
    text = _CHECKBOX_VALUE.sub(lambda match: f"if(selected({renames.get(match.group(1).lower(), match.group(1).lower())}, "
                                             f"'{match.group(2)}'), 1, 0)", text)
    return _FIELD_REFERENCE.sub(lambda match: renames.get(match.group(1).lower(), match.group(1).lower()), text)


def _translate_calculation(text: str, renames: dict[str, str]) -> str:
    """A REDCap calculation -> our syntax (still to be parsed); raises ExpressionError naming what
    has no equivalent (a function, datediff's units or 'today', round() without its places)."""
    text = normalise_quotes(text)
    event = re.search(r"\]\s*\[", text)
    if event:
        raise ExpressionError("[event][field] references to events or instances are not supported", event.start())
    masked = re.sub(r"\[[^\]]*\]", lambda match: " " * len(match.group()), text)  # [field(code)] is not a call
    unsupported_function_check(masked, _REDCAP_FUNCTIONS)
    translated = _DATEDIFF.sub(_datediff, _translate_logic(text, renames))
    for node in iter_nodes(parse_calculation(translated).root):
        if isinstance(node, Function) and node.name == "round" and len(node.arguments) == 1:
            raise ExpressionError("round() needs its number of decimal places in the calculation, as in round(x, 0)")
    return translated


def _datediff(match: re.Match[str]) -> str:
    start, end, unit, extra = match.group(1), match.group(2), match.group(4), match.group(5)
    for argument in (start, end):
        if not re.fullmatch(IDENTIFIER_PATTERN, argument):
            raise ExpressionError(f"datediff() with {argument!r} is not supported (only two date fields)", match.start())
    if unit not in _DATEDIFF_DAYS_PER_UNIT:
        raise ExpressionError(f"datediff() in units {unit!r} is not supported (only \"d\", \"M\" and \"y\")",
                              match.start())
    signed = any(part.strip().strip("'\"").lower() == "true" for part in extra.split(",")[1:])
    days = f"days_between({start}, {end})"
    per_unit = _DATEDIFF_DAYS_PER_UNIT[unit]
    value = f"{days} div {per_unit}" if per_unit else days
    return value if signed else f"abs({value})"


def _field_data(row: _Row, variable: str, kind: FieldType, warnings: list[ImportWarning]) -> dict[str, Any]:
    tags = _read_annotation(row, variable, warnings)
    label = strip_html(row.get("label"))
    help_text = strip_html(row.get("note"))
    data: dict[str, Any] = {"variable": variable, "type": kind.value, "label": label or humanise(variable),
                            "help": help_text, "required": row.get("required").lower() in ("y", "yes", "1"),
                            "identifier": row.get("identifier").lower() in ("y", "yes", "1")}
    if not label and kind is not FieldType.DESCRIPTIVE:
        warnings.append(ImportWarning(row.number, variable, "the field has no label; its variable name is used"))
    rating = tags.roadmap.get("TYPE")
    if rating in (FieldType.RATING_5.value, FieldType.RATING_9.value) and kind is FieldType.SINGLE_CHOICE:
        kind = FieldType(rating)
        data["type"] = rating
    validation: dict[str, Any] = {}
    if kind in (FieldType.SINGLE_CHOICE, FieldType.DROPDOWN, FieldType.MULTIPLE_CHOICE, FieldType.RATING_5,
                FieldType.RATING_9):
        choices = _parse_choices(row.get("choices"), row, variable, warnings)
        for choice in choices:
            choice["exclusive"] = choice["code"] in tags.exclusive_codes
        if kind in (FieldType.RATING_5, FieldType.RATING_9) and all(c["label"] == c["code"] for c in choices):
            choices = []
        data["choices"] = choices
    if kind is FieldType.SLIDER:
        labels = [strip_html(part) for part in row.get("choices").split("|") if strip_html(part)]
        if labels:
            scale = "Scale: " + " – ".join(labels)
            data["help"] = f"{help_text} ({scale})" if help_text else scale
        validation["min"], validation["max"] = 0, 100
    if kind in (FieldType.INTEGER, FieldType.DECIMAL, FieldType.SLIDER, FieldType.DATE):
        for key in ("min", "max"):
            value = _bound(row.get(key), kind, row, variable, warnings)
            if value is not None:
                validation[key] = value
    if kind is FieldType.SHORT_TEXT and row.get("validation").lower() == "email":
        validation["pattern"] = EMAIL_PATTERN
    if "PATTERN" in tags.roadmap and kind in (FieldType.SHORT_TEXT, FieldType.LONG_TEXT):
        validation["pattern"] = tags.roadmap["PATTERN"]
    if tags.char_limit is not None and kind in (FieldType.SHORT_TEXT, FieldType.LONG_TEXT):
        validation["max_length"] = tags.char_limit
    if "STEP" in tags.roadmap and kind is FieldType.SLIDER:
        validation["step"] = tags.roadmap["STEP"]
    if "UNIT" in tags.roadmap and kind in (FieldType.INTEGER, FieldType.DECIMAL, FieldType.SLIDER):
        data["unit"] = tags.roadmap["UNIT"]
    if validation:
        data["validation"] = validation
    if kind in (FieldType.DESCRIPTIVE, FieldType.CALCULATED):
        data.pop("required")
    if "UNIT" in tags.roadmap and kind is FieldType.CALCULATED:
        data["unit"] = tags.roadmap["UNIT"]
    data["_repeat"] = "REPEAT" in tags.roadmap
    # Our own exact text (kept by our export where REDCap's is approximate) wins over the equation.
    data["_calculation"] = ((tags.roadmap["CALC"], True) if tags.roadmap.get("CALC") else (row.get("choices"), False))
    return data


def import_data_dictionary(text_or_bytes: bytes | str, *, name: str = "redcap_import",
                           title: str | None = None, version: int = 1) -> ImportResult:
    """Read a REDCap Data Dictionary CSV into an instrument plus warnings for what was not imported.

    The dictionary carries no instrument name or title, so the caller may give them.
    """
    rows = _read_rows(text_or_bytes)
    warnings: list[ImportWarning] = []
    renames: dict[str, str] = {}
    first = rows[0]
    record_id = None
    if first.get("field_type").lower() == "text":
        warnings.append(ImportWarning(first.number, first.get("variable"), "the first field is REDCap's record "
                                                                             "identifier; it is not imported as a question"))
        rows = rows[1:]
        original = first.get("variable").lower()
        # REDCap's default name is our export's default too: only another name needs keeping.
        keep = original != "record_id" and re.fullmatch(IDENTIFIER_PATTERN, original) and len(original) <= 100
        record_id = original if keep else None
    sections: dict[str, DraftSection] = {}
    types: dict[str, FieldType] = {}
    logic: dict[int, tuple[str, str]] = {}  # row number -> (variable, REDCap logic)
    calculations: dict[int, tuple[str, str, bool]] = {}  # row number -> (variable, equation, in our syntax?)
    pending_matrix: list[tuple[_Row, dict[str, Any]]] = []

    def flush_matrix() -> None:
        if pending_matrix:
            _add_matrix(pending_matrix, sections, types, warnings)
            pending_matrix.clear()

    for row in rows:
        variable = _variable_name(row, renames, warnings)
        kind = _field_type(row, variable, warnings) if variable else None
        if variable is None or kind is None:
            continue
        form = row.get("form") or "form"
        section_id = slugify(form, fallback="form")
        section = sections.setdefault(section_id, DraftSection(section_id, humanise(section_id), row.number))
        data = _field_data(row, variable, kind, warnings)
        repeated = data.pop("_repeat")
        calculation = data.pop("_calculation")
        if kind is FieldType.CALCULATED:
            calculations[row.number] = (variable, *calculation)
        section.repeat_per_technology = section.repeat_per_technology or repeated
        if row.get("branching"):
            logic[row.number] = (variable, row.get("branching"))
        group = row.get("matrix_group")
        if pending_matrix and (group != pending_matrix[0][0].get("matrix_group") or section_id != slugify(
                pending_matrix[0][0].get("form") or "form", fallback="form")):
            flush_matrix()
        if group:
            if kind in (FieldType.SINGLE_CHOICE, FieldType.DROPDOWN):
                pending_matrix.append((row, data))
                continue
            warnings.append(ImportWarning(row.number, variable, f"matrix group {group!r}: only single-answer "
                                                                f"(radio) rows form a matrix; imported as its own question"))
        header = strip_html(row.get("section_header"))
        if header:
            _place_header(section, header, row, variable)
        types[variable] = FieldType(data["type"])
        section.fields.append(DraftField(row.number, data))
    flush_matrix()
    _apply_logic(sections, logic, renames, types, warnings)
    _apply_calculations(sections, calculations, renames, types, warnings)
    instrument = build_instrument(name=slugify(name, fallback="redcap"), version=version,
                                  title=title or humanise(slugify(name, fallback="redcap")), description="",
                                  drafts=list(sections.values()), warnings=warnings, record_id=record_id)
    return ImportResult(instrument, warnings)


def _place_header(section: DraftSection, header: str, row: _Row, variable: str) -> None:
    """A header on a form's first field titles the section; a later one becomes descriptive text."""
    if not section.fields and section.title == humanise(section.id):
        section.title = header
        return
    section.fields.append(DraftField(row.number, {"variable": f"{variable}_header", "type": "descriptive",
                                                  "label": header}))


def _add_matrix(rows: list[tuple[_Row, dict[str, Any]]], sections: dict[str, DraftSection],
                types: dict[str, FieldType], warnings: list[ImportWarning]) -> None:
    first_row, first = rows[0]
    group = first_row.get("matrix_group")
    section = sections[slugify(first_row.get("form") or "form", fallback="form")]
    variable = slugify(group, fallback="matrix")
    if first_row.get("matrix_ranking").lower() in ("y", "yes", "1"):
        warnings.append(ImportWarning(first_row.number, variable, "matrix ranking is not supported and was ignored"))
    for row, data in rows[1:]:
        if data.get("choices") != first.get("choices"):
            warnings.append(ImportWarning(row.number, data["variable"], f"matrix {group!r}: this row's choices differ "
                                                                         f"from the first row's; the first row's are used"))
        if row.get("branching") != first_row.get("branching"):
            warnings.append(ImportWarning(row.number, data["variable"], f"matrix {group!r}: this row's branching "
                                                                         f"logic differs; the first row's is used"))
    header = strip_html(first_row.get("section_header"))
    data = {"variable": variable, "type": FieldType.MATRIX.value, "label": header or humanise(variable),
            "help": first.get("help", ""), "required": any(item.get("required") for _, item in rows),
            "identifier": any(item.get("identifier") for _, item in rows), "choices": first.get("choices", []),
            "items": [{"variable": item["variable"], "label": item["label"]} for _, item in rows]}
    for _, item in rows:
        types[item["variable"]] = FieldType.MATRIX
    section.fields.append(DraftField(first_row.number, data))


def _apply_logic(sections: dict[str, DraftSection], logic: dict[int, tuple[str, str]], renames: dict[str, str],
                 types: dict[str, FieldType], warnings: list[ImportWarning]) -> None:
    for section in sections.values():
        for draft in section.fields:
            if draft.row not in logic:
                continue
            variable, original = logic[draft.row]
            if re.search(r"\]\s*\[", original):
                warnings.append(ImportWarning(draft.row, variable, f"branching logic {original!r} refers to events "
                                                                   f"or instances, which are not supported; the field is always shown"))
                continue
            draft.data["show_if"] = expression_or_warning(
                original, types, draft.row, variable, original, warnings,
                prepare=lambda text: _DATEDIFF.sub(_datediff, _translate_logic(text, renames)))


def _apply_calculations(sections: dict[str, DraftSection], calculations: dict[int, tuple[str, str, bool]],
                        renames: dict[str, str], types: dict[str, FieldType], warnings: list[ImportWarning]) -> None:
    """Translate each calc field's equation; a field whose equation cannot be translated is skipped."""
    for section in sections.values():
        kept = []
        for draft in section.fields:
            if draft.row in calculations and draft.data.get("type") == FieldType.CALCULATED.value:
                variable, original, ours = calculations[draft.row]
                if not original.strip():
                    warnings.append(ImportWarning(draft.row, variable, "field skipped: the calc field has no equation"))
                    continue
                translated = calculation_or_warning(original, types, draft.row, variable, original, warnings,
                                                    prepare=None if ours else lambda text: _translate_calculation(text, renames))
                if translated is None:
                    continue
                draft.data["calculation"] = translated
            kept.append(draft)
        section.fields = kept


# --------------------------------------------------------------------------- export


def _negate(node: Node) -> Node:
    """Push a negation inwards, because REDCap logic has no 'not'."""
    if isinstance(node, Not):
        return node.operand
    if isinstance(node, BooleanConstant):
        return BooleanConstant(not node.value)
    if isinstance(node, Comparison):
        opposite = {"=": "!=", "!=": "=", "<": ">=", ">=": "<", ">": "<=", "<=": ">"}
        return Comparison(node.left, opposite[node.operator], node.right)
    if isinstance(node, And):
        return Or(tuple(_negate(operand) for operand in node.operands))
    if isinstance(node, Or):
        return And(tuple(_negate(operand) for operand in node.operands))
    return Not(node)


class _LogicWriter:
    def __init__(self, instrument: Instrument) -> None:
        self.types = {slot.variable: slot.type for _, slot in instrument.answer_slots()}

    def _lower(self, node: Node) -> Node:
        """Remove a 'not' REDCap cannot write directly by pushing it inwards."""
        while isinstance(node, Not):
            inner = node.operand
            if isinstance(inner, Answered) or (
                    isinstance(inner, Selected) and self.types.get(inner.variable) is FieldType.MULTIPLE_CHOICE):
                return node
            if isinstance(inner, Selected):  # on a single choice, selected() is equality
                return Comparison(Variable(inner.variable), "!=", Literal(inner.code, inner.code))
            node = _negate(inner)
        return node

    def write(self, node: Node) -> str:
        node = self._lower(node)
        if isinstance(node, Not):
            inner = node.operand
            if isinstance(inner, Answered):
                return f"[{inner.variable}] = ''"
            return f"[{inner.variable}({inner.code})] = '0'"
        if isinstance(node, Selected):
            if self.types.get(node.variable) is FieldType.MULTIPLE_CHOICE:
                return f"[{node.variable}({node.code})] = '1'"
            return f"[{node.variable}] = '{self._code(node.variable, node.code)}'"
        if isinstance(node, Answered):
            return f"[{node.variable}] <> ''"
        if isinstance(node, BooleanConstant):
            return "true" if node.value else "false"
        if isinstance(node, Comparison):
            operator = "<>" if node.operator == "!=" else node.operator
            left, right = self._operand(node.left, node.right), self._operand(node.right, node.left)
            return f"{left} {operator} {right}"
        joiner = " and " if isinstance(node, And) else " or "
        parts = [self._lower(part) for part in node.operands]
        return joiner.join(f"({self.write(part)})" if isinstance(part, (And, Or)) else self.write(part)
                           for part in parts)

    def _code(self, variable: str, code: str) -> str:
        if self.types.get(variable) is FieldType.YES_NO:
            return {"yes": "1", "no": "0"}.get(code, code)
        return code

    def _operand(self, operand: Any, other: Any) -> str:
        if isinstance(operand, Literal) and isinstance(operand.value, str):
            return quoted(self._code(other.name, operand.value) if isinstance(other, Variable) else operand.value)
        return self.value(operand)

    def value(self, node: Any) -> str:
        """A value (a calculation or a comparison side) in REDCap's calculation syntax. ``mod``
        and ``int()`` have no REDCap function: they are written with rounddown() (exact for
        values that are not negative) and the export keeps the exact text in @ROADMAP-CALC."""
        if isinstance(node, Variable):
            return f"[{node.name}]"
        if isinstance(node, Negate):
            return f"-({self.value(node.operand)})"
        if isinstance(node, Arithmetic):
            text = self._shown(node.operands[0], node)
            for position, (operator, operand) in enumerate(zip(node.operators, node.operands[1:])):
                right = self._shown(operand, node)
                if operator == "-" and position == 0 and self._is_date(node.operands[0]) and self._is_date(operand):
                    text = f'datediff({right}, {text}, "d", true)'  # REDCap cannot subtract dates
                elif operator == "mod":
                    text = f"({text} - {right} * rounddown({text} / {right}, 0))"
                else:
                    text = f"{text} {'/' if operator == 'div' else operator} {right}"
            return text
        if isinstance(node, If):
            return f"if({self.write(node.condition)}, {self.value(node.then)}, {self.value(node.otherwise)})"
        if isinstance(node, Function):
            arguments = [self.value(argument) for argument in node.arguments]
            if node.name == "days_between":
                return f'datediff({arguments[0]}, {arguments[1]}, "d", true)'
            if node.name == "round":
                return f"round({arguments[0]}, {arguments[1] if len(arguments) > 1 else 0})"
            if node.name == "int":
                return f"rounddown({arguments[0]}, 0)"
            if node.name == "coalesce":
                text = arguments[-1]
                for argument in reversed(arguments[:-1]):
                    text = f"if({argument} <> '', {argument}, {text})"
                return text
            return f"{node.name}({', '.join(arguments)})"
        return node.to_text()  # a literal: REDCap quotes strings as we do

    def _is_date(self, node: Any) -> bool:
        return isinstance(node, Variable) and self.types.get(node.name) is FieldType.DATE

    def _shown(self, operand: Any, chain: Arithmetic) -> str:
        text = self.value(operand)
        additive = chain.operators[0] in ("+", "-")
        if isinstance(operand, Arithmetic) and not (additive and operand.operators[0] not in ("+", "-")):
            return f"({text})"
        return text

    def calculation(self, text: str) -> tuple[str, bool]:
        """REDCap's text of a calculation, and whether importing it would not give the same
        calculation back (``mod``, ``int()``, ``coalesce()`` and date subtraction are written
        with other functions): the export then keeps the exact text in @ROADMAP-CALC."""
        ours = parse_calculation(text)
        redcap = self.value(ours.root)
        try:
            back = translate_calculation(_translate_calculation(redcap, {}), self.types).to_text()
        except ExpressionError:
            back = None
        return redcap, back != ours.to_text()


def _combined_condition(section_condition: str | None, field_condition: str | None) -> Node | None:
    parts = [parse(text).root for text in (section_condition, field_condition) if text]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else And(tuple(parts))


def _annotation(tags: list[tuple[str, str | None]]) -> str:
    return " ".join(f"@{name}" if value is None else f"@{name}={value}" for name, value in tags)


def _field_rows(field: Field, section_id: str, logic: str, header: str, writer: _LogicWriter) -> list[dict[str, str]]:
    """The dictionary rows (as column-key -> text) for one field."""
    base = {"form": section_id, "section_header": header, "label": field.label, "note": field.help,
            "branching": logic, "required": "y" if field.required else "",
            "identifier": "y" if field.identifier else ""}
    tags: list[tuple[str, str | None]] = []
    kind = field.type
    rules = field.validation
    row: dict[str, str] = {"variable": field.variable}
    if kind is FieldType.MATRIX:
        choices = " | ".join(f"{choice.code}, {choice.label}" for choice in field.choices)
        return [{**base, "variable": item.variable, "field_type": "radio", "label": item.label, "choices": choices,
                 "matrix_group": field.variable, "section_header": field.label if position == 0 else "",
                 "note": field.help if position == 0 else ""}
                for position, item in enumerate(field.items)]
    if kind in (FieldType.SINGLE_CHOICE, FieldType.DROPDOWN, FieldType.MULTIPLE_CHOICE):
        row["field_type"] = {FieldType.SINGLE_CHOICE: "radio", FieldType.DROPDOWN: "dropdown",
                             FieldType.MULTIPLE_CHOICE: "checkbox"}[kind]
        row["choices"] = " | ".join(f"{choice.code}, {choice.label}" for choice in field.choices)
        exclusive = [choice.code for choice in field.choices if choice.exclusive]
        if exclusive:
            tags.append(("NONEOFTHEABOVE", "'" + ",".join(exclusive) + "'"))
    elif kind in (FieldType.RATING_5, FieldType.RATING_9):
        points = 5 if kind is FieldType.RATING_5 else 9
        labels = {choice.code: choice.label for choice in field.choices}
        row["field_type"] = "radio"
        row["choices"] = " | ".join(f"{point}, {labels.get(str(point), str(point))}" for point in range(1, points + 1))
        tags.append(("ROADMAP-TYPE", json.dumps(kind.value)))
    elif kind in (FieldType.INTEGER, FieldType.DECIMAL, FieldType.DATE):
        row["field_type"] = "text"
        row["validation"] = {FieldType.INTEGER: "integer", FieldType.DECIMAL: "number", FieldType.DATE: "date_ymd"}[kind]
    elif kind is FieldType.SLIDER:
        row["field_type"] = "slider"
        row["validation"] = "number"
        if rules.step is not None:
            tags.append(("ROADMAP-STEP", json.dumps(_number_text(rules.step))))
    elif kind is FieldType.SHORT_TEXT:
        row["field_type"] = "text"
        if rules.pattern == EMAIL_PATTERN:
            row["validation"] = "email"
        elif rules.pattern is not None:
            tags.append(("ROADMAP-PATTERN", json.dumps(rules.pattern)))
    elif kind is FieldType.LONG_TEXT:
        row["field_type"] = "notes"
        if rules.pattern is not None:
            tags.append(("ROADMAP-PATTERN", json.dumps(rules.pattern)))
    elif kind is FieldType.CALCULATED and field.calculation is not None:
        row["field_type"] = "calc"
        row["choices"], approximate = writer.calculation(field.calculation)
        if approximate:
            tags.append(("ROADMAP-CALC", json.dumps(field.calculation)))
    else:
        row["field_type"] = {FieldType.YES_NO: "yesno", FieldType.DESCRIPTIVE: "descriptive"}[kind]
    if kind in (FieldType.INTEGER, FieldType.DECIMAL, FieldType.SLIDER, FieldType.DATE):
        row["min"] = _bound_text(rules.min)
        row["max"] = _bound_text(rules.max)
    if rules.max_length is not None:
        tags.append(("CHARLIMIT", str(rules.max_length)))
    if field.unit:
        tags.append(("ROADMAP-UNIT", json.dumps(field.unit)))
    row["annotation"] = _annotation(tags)
    return [{**base, **row}]


def _number_text(value: float | int) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _bound_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return _number_text(value)


def _record_id_name(instrument: Instrument) -> str:
    """The record-id field: the REDCap project's own name when the instrument came from one."""
    taken = {slot.variable for _, slot in instrument.answer_slots()}
    taken |= {field.variable for section in instrument.sections for field in section.fields}
    name = instrument.record_id or "record_id"
    while name in taken:
        name += "_"
    return name


def export_data_dictionary(instrument: Instrument) -> str:
    """The instrument as REDCap Data Dictionary CSV text (18 columns, REDCap's order, CRLF line ends)."""
    writer_logic = _LogicWriter(instrument)
    rows: list[dict[str, str]] = [{"variable": _record_id_name(instrument), "form": instrument.sections[0].id,
                                   "field_type": "text", "label": "Record ID"}]
    for section in instrument.sections:
        header = section.title if section.title != humanise(section.id) else ""
        for position, field in enumerate(section.fields):
            condition = _combined_condition(section.show_if, field.show_if)
            logic = writer_logic.write(condition) if condition is not None else ""
            field_rows = _field_rows(field, section.id, logic, header if position == 0 else "", writer_logic)
            if position == 0 and section.repeat_per_technology:
                first = field_rows[0]
                first["annotation"] = _annotation([("ROADMAP-REPEAT", None)]) + (
                    " " + first["annotation"] if first.get("annotation") else "")
            rows.extend(field_rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([row.get(key, "") for key in _KEYS])
    return buffer.getvalue()
