"""XLSForm import (ODK / KoboToolbox), from .xlsx or from the CSV form of XLSForm.

The CSV form puts every sheet in one file: a row whose first cell is ``survey``, ``choices`` or
``settings`` starts that sheet and holds its column names in the remaining cells; the sheet's
rows follow with an empty first cell.

Mapping:

- ``select_one L`` -> single_choice (``appearance`` minimal/autocomplete -> dropdown),
  ``select_multiple L`` -> multiple_choice, ``integer``, ``decimal``, ``text`` (``appearance``
  multiline -> long_text), ``date``, ``note`` -> descriptive, ``range`` -> slider,
  ``acknowledge`` -> yes_no, ``phone number`` -> short_text with a phone-number pattern,
  ``calculate`` -> calculated (its ``calculation`` translated: ``${x}`` -> ``x``, ``div``,
  ``mod``, ``if()``, ``round()``, ``int()``, ``abs()``, ``coalesce()``, ``sum()`` carry over and
  ``decimal-date-time(${b}) - decimal-date-time(${a})`` becomes the days from ``a`` to ``b``; a
  calculation with anything else, such as ``today()`` or ``concat()``, skips the row with a
  warning naming the function);
- ``select_one L or_other`` adds an ``other`` option and, as pyxform does, a text question
  ``<name>_other`` ("Specify other.") shown when it is chosen; a ``choice_filter`` is reported
  (every choice is offered);
- a top-level ``begin group`` starts a section (its ``relevant`` is the section's condition);
  a nested group's condition is joined onto each of its questions;
- ``relevant``: ``${x}`` -> ``x``; ``selected(${x}, 'a')``, ``not(...)``, ``and``/``or``,
  ``true()``/``false()`` carry over; ``${x} = ''`` means "not answered";
- ``constraint``: ``. >= a``, ``. <= b`` (joined by ``and``) -> min/max, ``regex(., 'p')`` ->
  pattern, ``string-length(.) <= n`` -> max length;
- ``settings``: ``form_id`` -> name, ``form_title`` -> title, ``version`` -> version.

Sheet and column names are case-insensitive. Languages: every translatable column (``label``,
``hint``, ``constraint_message``, ``required_message``, choice and group labels) may be written
per language as ``label::Welsh (cy)``, ``label::cy``, or the legacy ``label:Welsh`` / ``label:cy``.
The default language is the settings sheet's ``default_language``; else a plain ``label`` column
is English; else English if the form has it, else its first language. Legacy spellings
(``select one x``, ``select all that apply x``, ``begin_group``, ``list name``,
``jr:constraintMsg``) are accepted.
Everything else (repeats, GPS, media, metadata, other constraints) is reported as
a warning naming the row of the survey sheet. Warnings about the choices sheet name the list.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field as dataclass_field
from typing import Any

from survey.expressions import CONDITION_FUNCTIONS, VALUE_FUNCTIONS
from survey.imports import (
    DraftField,
    DraftSection,
    ImportResult,
    ImportWarning,
    InstrumentImportError,
    build_instrument,
    calculation_or_warning,
    decode_text,
    expression_or_warning,
    humanise,
    normalise_quotes,
    read_csv_rows,
    slugify,
    strip_html,
    unsupported_function_check,
)
from survey.instrument import CODE_PATTERN, ENGLISH, IDENTIFIER_PATTERN, PHONE_PATTERN, FieldType, Language
from survey.languages import parse_language
from survey.translations import placeholders

__all__ = ["ImportResult", "ImportWarning", "InstrumentImportError", "import_xlsform"]

_SHEETS = ("survey", "choices", "settings")
_UNSUPPORTED = {
    "hidden": "hidden values are not supported",
    "geopoint": "locations are not collected",
    "geotrace": "locations are not collected",
    "geoshape": "locations are not collected",
    "image": "media uploads are not supported",
    "audio": "media uploads are not supported",
    "video": "media uploads are not supported",
    "file": "file uploads are not supported",
    "background-audio": "recordings are not supported",
    "barcode": "barcodes are not supported",
    "time": "time-of-day questions are not supported",
    "datetime": "date-and-time questions are not supported",
    "rank": "ranking questions are not supported",
    "trigger": "triggers are not supported",
    "xml-external": "external data is not supported",
    "csv-external": "external data is not supported",
}
_METADATA = {"start", "end", "today", "deviceid", "subscriberid", "simserial", "phonenumber", "username",
             "email", "audit", "start-geopoint", "instanceid"}
_SIMPLE_TYPES = {"integer": FieldType.INTEGER, "int": FieldType.INTEGER, "decimal": FieldType.DECIMAL,
                 "text": FieldType.SHORT_TEXT, "string": FieldType.SHORT_TEXT, "date": FieldType.DATE,
                 "note": FieldType.DESCRIPTIVE, "range": FieldType.SLIDER, "acknowledge": FieldType.YES_NO}
_XPATH_FUNCTIONS = frozenset(VALUE_FUNCTIONS) | frozenset(CONDITION_FUNCTIONS) | {"true", "false", "decimal-date-time"}
_OTHER_LABEL = "Specify other."  # pyxform's label for the text question of or_other
_TRUE_WORDS = {"yes", "true", "true()", "1", "y"}
_FALSE_WORDS = {"", "no", "false", "false()", "0", "n"}


@dataclass
class _Sheet:
    columns: list[str]
    rows: list[tuple[int, list[str]]]  # (1-based row number in the file or sheet, cells)

    def records(self) -> list[tuple[int, dict[str, str]]]:
        return [(number, {column: (cells[index] if index < len(cells) else "")
                          for index, column in enumerate(self.columns) if column})
                for number, cells in self.rows]


_TRANSLATABLE_COLUMNS = ("label", "hint", "constraint_message", "required_message")
_COLUMN_ALIASES = {"jr:constraintmsg": "constraint_message", "jr:requiredmsg": "required_message"}


def _column_name(cell: str) -> str:
    """``Label::Welsh (cy)`` -> ``label::Welsh (cy)``: the column lower-cased, its language kept as written."""
    name = " ".join(cell.strip().split())
    base, separator, language = name.partition("::")
    if not separator:
        head, colon, rest = name.partition(":")
        if colon and head.strip().lower() in _TRANSLATABLE_COLUMNS:  # legacy ``label:Welsh``
            base, separator, language = head, "::", rest
    base = base.strip().lower().replace(" ", "_")
    base = _COLUMN_ALIASES.get(base, base)
    return f"{base}::{language.strip()}" if separator else base


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _read_workbook(data: bytes) -> dict[str, _Sheet]:
    import openpyxl  # imported here: only .xlsx uploads need it

    # openpyxl raises many unrelated exception types (zip, XML, KeyError...) for damaged files;
    # at this boundary every one of them means the same thing to the user.
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:
        raise InstrumentImportError(f"not a readable .xlsx workbook ({type(error).__name__})") from None
    sheets: dict[str, _Sheet] = {}
    try:
        for worksheet in workbook.worksheets:
            rows = [[_cell_text(value) for value in row] for row in worksheet.iter_rows(values_only=True)]
            numbered = [(number, row) for number, row in enumerate(rows, start=1) if any(row)]
            if numbered:
                header = numbered[0][1]
                sheets[worksheet.title.strip().lower()] = _Sheet([_column_name(c) for c in header], numbered[1:])
    except Exception as error:  # a corrupt sheet inside a valid zip
        raise InstrumentImportError(f"not a readable .xlsx workbook ({type(error).__name__})") from None
    finally:
        workbook.close()
    return sheets


def _read_csv_form(data: bytes | str, warnings: list[ImportWarning]) -> dict[str, _Sheet]:
    rows = read_csv_rows(decode_text(data))
    sheets: dict[str, _Sheet] = {}
    current: _Sheet | None = None
    for number, cells in enumerate(rows, start=1):
        if not cells:
            continue
        marker = cells[0].strip().lower()
        if marker:
            current = _Sheet([_column_name(cell) for cell in cells[1:]], [])
            if marker in _SHEETS:
                sheets[marker] = current
            else:
                warnings.append(ImportWarning(number, None, f"sheet {cells[0]!r} is not supported and was ignored"))
            continue
        if current is None:
            raise InstrumentImportError(f"not an XLSForm CSV: row {number} comes before any 'survey' sheet row")
        current.rows.append((number, cells[1:]))
    return sheets


def _pick(record: dict[str, str], base: str) -> str:
    """The value of ``base`` or of its language variants (``base::English (en)``), plain first."""
    if record.get(base):
        return record[base]
    variants = [key for key in record if key.startswith(base + "::")]
    english = [key for key in variants if "english" in key.lower() or "(en)" in key.lower()]
    for key in english + variants:
        if record[key]:
            return record[key]
    return ""


@dataclass
class _Languages:
    """Which language each column's language part means, and the form's default language."""

    default: Language
    others: tuple[Language, ...]
    codes: dict[str, str]  # language part as written -> code

    def texts(self, record: dict[str, str], base: str) -> tuple[str, dict[str, str]]:
        """(default-language text, {other language code: text}) of one translatable column."""
        default_text = ""
        translated: dict[str, str] = {}
        for key, value in record.items():
            column, separator, language = key.partition("::")
            code = self.codes.get(language) if separator and column == base else None
            text = strip_html(value)
            if code is None or not text:
                continue
            if code == self.default.code:
                default_text = default_text or text
            else:
                translated.setdefault(code, text)
        return default_text or strip_html(record.get(base, "")), translated

    def element(self, record: dict[str, str], columns: dict[str, str]) -> dict[str, Any]:
        """The model data of several columns (``{column: attribute}``): default texts plus translations."""
        data: dict[str, Any] = {}
        translations: dict[str, dict[str, str]] = {}
        for column, attribute in columns.items():
            text, translated = self.texts(record, column)
            data[attribute] = text
            for code, value in translated.items():
                translations.setdefault(code, {})[attribute] = value
        if translations:
            data["translations"] = translations
        return data


def _languages(sheets: list[_Sheet | None], default_setting: str, warnings: list[ImportWarning]) -> _Languages:
    found: dict[str, Language] = {}
    codes: dict[str, str] = {}
    plain = False
    for sheet in sheets:
        for column in sheet.columns if sheet is not None else ():
            base, separator, part = column.partition("::")
            if base not in _TRANSLATABLE_COLUMNS:
                continue
            if not separator:
                plain = plain or (base == "label" and any(record.get(base) for _, record in sheet.records()))
                continue
            language = parse_language(part)
            if language is None:
                warnings.append(ImportWarning(None, None, f"column {base}::{part} names no ISO 639-1 language; write it "
                                                          f"as '{base}::{part} (xx)' with the two-letter code; its text "
                                                          f"is ignored"))
                continue
            codes[part] = language.code
            found.setdefault(language.code, language)
    default = parse_language(default_setting) if default_setting else None
    if default_setting and default is None:
        warnings.append(ImportWarning(None, None, f"settings: default_language {default_setting!r} names no ISO 639-1 "
                                                  f"language; it is ignored"))
    if default is None:
        default = found.get("en", ENGLISH) if plain or not found else found.get("en", next(iter(found.values())))
    default = found.get(default.code, default)  # the name the columns give it
    return _Languages(default, tuple(language for code, language in found.items() if code != default.code), codes)


def _choice_lists(sheet: _Sheet | None, languages: _Languages,
                  warnings: list[ImportWarning]) -> dict[str, list[dict[str, Any]]]:
    lists: dict[str, list[dict[str, Any]]] = {}
    if sheet is None:
        return lists
    for number, record in sheet.records():
        list_name = record.get("list_name") or record.get("listname") or ""
        code = record.get("name") or record.get("value") or ""
        if not list_name and not code:
            continue
        texts = languages.element(record, {"label": "label"})
        if not re.fullmatch(CODE_PATTERN, code):
            warnings.append(ImportWarning(None, list_name or None, f"choices sheet row {number}: choice {code!r} "
                                                                   f"skipped (codes are letters, digits, _ . -)"))
            continue
        lists.setdefault(list_name, []).append({"code": code, **texts, "label": texts["label"] or code})
    return lists


def _settings(sheet: _Sheet | None, warnings: list[ImportWarning], filename_hint: str | None) -> tuple[str, str, int, str]:
    record = sheet.records()[0][1] if sheet is not None and sheet.rows else {}
    fallback = re.sub(r"\.(xlsx|xls|csv)$", "", (filename_hint or "xlsform").rsplit("/", 1)[-1], flags=re.IGNORECASE)
    name = slugify(record.get("form_id") or fallback, fallback="form")
    title = strip_html(_pick(record, "form_title")) or humanise(name)
    version_text = record.get("version", "").strip()
    version = 1
    if version_text:
        if version_text.isdigit() and 0 < int(version_text) < 10**12:
            version = int(version_text)
        else:
            warnings.append(ImportWarning(None, None, f"settings: version {version_text!r} is not a positive whole "
                                                      f"number; version 1 is used"))
    return name, title, version, record.get("default_language", "").strip()


# --------------------------------------------------------------------------- survey sheet


@dataclass
class _Group:
    name: str
    condition: str | None
    starts_section: bool


@dataclass
class _SurveyReader:
    choices: dict[str, list[dict[str, Any]]]
    title: str
    warnings: list[ImportWarning]
    languages: _Languages
    sections: list[DraftSection] = dataclass_field(default_factory=list)
    groups: list[_Group] = dataclass_field(default_factory=list)
    renames: dict[str, str] = dataclass_field(default_factory=dict)
    types: dict[str, FieldType] = dataclass_field(default_factory=dict)
    relevants: list[tuple[DraftField | DraftSection, list[str], str]] = dataclass_field(default_factory=list)
    calculations: list[tuple[DraftSection, DraftField, str]] = dataclass_field(default_factory=list)

    def warn(self, row: int | None, variable: str | None, message: str) -> None:
        self.warnings.append(ImportWarning(row, variable, message))

    def section_for_field(self, row: int) -> DraftSection:
        if self.sections and (self.groups or not self.sections[-1].row_is_group):
            return self.sections[-1]
        section_id = self.unique_section_id("survey")
        section = _DraftSection(section_id, self.title, row)
        self.sections.append(section)
        return section

    def unique_section_id(self, base: str) -> str:
        taken = {section.id for section in self.sections}
        candidate, counter = base, 2
        while candidate in taken:
            candidate, counter = f"{base}_{counter}", counter + 1
        return candidate

    def read(self, records: list[tuple[int, dict[str, str]]]) -> None:
        for number, record in records:
            raw_type = " ".join(record.get("type", "").lower().split())
            if not raw_type:
                if any(record.values()):
                    self.warn(number, record.get("name") or None, "row skipped: it has no type")
                continue
            self.read_row(number, record, _normalise_type(raw_type))
        for group in reversed(self.groups):
            self.warn(None, group.name, f"group {group.name!r} is never closed with 'end group'; closed at the end")

    def read_row(self, number: int, record: dict[str, str], type_text: str) -> None:
        parts = type_text.split(" ")
        kind = parts[0]
        if kind in ("begin_group", "begin_repeat"):
            self.begin_group(number, record, repeat=kind == "begin_repeat")
        elif kind in ("end_group", "end_repeat"):
            if not self.groups:
                self.warn(number, None, f"'{type_text}' without a matching begin; ignored")
            else:
                self.groups.pop()
        elif kind in ("select_one", "select_multiple"):
            self.add_select(number, record, parts)
        elif kind in _SIMPLE_TYPES:
            self.add_field(number, record, _SIMPLE_TYPES[kind], {})
        elif type_text == "phone number":
            self.add_field(number, record, FieldType.SHORT_TEXT, {"validation": {"pattern": PHONE_PATTERN}})
        elif kind == "calculate":
            self.add_calculation(number, record)
        elif kind in _METADATA:
            self.warn(number, record.get("name") or kind, f"metadata '{kind}' is not collected; row skipped")
        elif kind in _UNSUPPORTED:
            self.warn(number, record.get("name") or None, f"row skipped: {_UNSUPPORTED[kind]} (type '{kind}')")
        else:
            self.warn(number, record.get("name") or None, f"row skipped: unknown question type {type_text!r}")

    def begin_group(self, number: int, record: dict[str, str], repeat: bool) -> None:
        name = record.get("name") or f"group_{number}"
        relevant = record.get("relevant", "").strip()
        if repeat:
            self.warn(number, name, f"repeat {name!r} is not supported; its questions are imported once")
        if self.groups:
            self.groups.append(_Group(name, relevant or None, starts_section=False))
            return
        section_id = self.unique_section_id(slugify(name, fallback="section"))
        texts = self.languages.element(record, {"label": "title", "hint": "description"})
        section = _DraftSection(section_id, texts["title"] or humanise(section_id), number,
                                description=texts["description"], translations=texts.get("translations", {}))
        section.row_is_group = True
        self.sections.append(section)
        self.groups.append(_Group(name, None, starts_section=True))
        if relevant:
            self.relevants.append((section, [relevant], name))

    def add_select(self, number: int, record: dict[str, str], parts: list[str]) -> None:
        name = record.get("name") or None
        if len(parts) < 2:
            self.warn(number, name, f"row skipped: '{parts[0]}' needs a choice list name")
            return
        if parts[1] not in self.choices:
            self.warn(number, name, f"row skipped: choice list {parts[1]!r} is not on the choices sheet")
            return
        choices = [dict(choice) for choice in self.choices[parts[1]]]
        or_other = len(parts) > 2 and parts[2] == "or_other"
        if or_other and all(choice["code"] != "other" for choice in choices):
            choices.append({"code": "other", "label": "Other"})
        if record.get("choice_filter", "").strip():
            self.warn(number, name, f"choice filter {record['choice_filter'].strip()!r} is not supported; "
                                    f"every choice of {parts[1]!r} is offered")
        appearance = record.get("appearance", "").lower()
        if parts[0] == "select_multiple":
            kind = FieldType.MULTIPLE_CHOICE
        elif "minimal" in appearance or "autocomplete" in appearance or "search" in appearance:
            kind = FieldType.DROPDOWN
        else:
            kind = FieldType.SINGLE_CHOICE
        draft = self.add_field(number, record, kind, {"choices": choices})
        if or_other and draft is not None:
            other = {"type": "text", "name": f"{draft.variable}_other", "label": _OTHER_LABEL,
                     "relevant": f"selected(${{{draft.variable}}}, 'other')"}
            self.add_field(number, other, FieldType.SHORT_TEXT, {})

    def add_calculation(self, number: int, record: dict[str, str]) -> None:
        calculation = record.get("calculation", "").strip()
        if not calculation:
            self.warn(number, record.get("name") or None, "row skipped: a calculate row needs a calculation")
            return
        draft = self.add_field(number, {**record, "label": _pick(record, "label") or humanise(record.get("name", ""))},
                               FieldType.CALCULATED, {"calculation": calculation})
        if draft is not None:
            self.calculations.append((self.sections[-1], draft, calculation))

    def add_field(self, number: int, record: dict[str, str], kind: FieldType, extra: dict[str, Any]) -> DraftField | None:
        original = record.get("name", "")
        if not original:
            self.warn(number, None, "row skipped: it has no name")
            return None
        variable = original.lower().replace("-", "_").replace(".", "_")
        if not re.fullmatch(IDENTIFIER_PATTERN, variable):
            variable = slugify(variable, fallback="v")
        if variable != original:
            self.warn(number, original, f"variable renamed to {variable!r} (names must be lower-case letters, "
                                        f"digits and underscores)")
        self.renames[original] = variable
        if kind is FieldType.SHORT_TEXT and "multiline" in record.get("appearance", "").lower():
            kind = FieldType.LONG_TEXT
        texts = self.languages.element(record, _FIELD_TEXT_COLUMNS)
        self.check_references(number, variable, texts)
        if not texts["label"]:
            if kind is FieldType.DESCRIPTIVE:
                self.warn(number, variable, "row skipped: a note without a label shows nothing")
                return None
            self.warn(number, variable, "the question has no label; its name is used")
        data: dict[str, Any] = {"variable": variable, "type": kind.value, **texts,
                                "label": texts["label"] or humanise(variable), **extra}
        validation: dict[str, Any] = {}
        if kind is FieldType.SLIDER:
            validation.update(self.range_parameters(number, variable, record.get("parameters", "")))
        validation.update(_constraint(record.get("constraint", ""), kind, number, variable, self.warnings))
        if validation:
            data["validation"] = {**data.get("validation", {}), **validation}
        elif data["constraint_message"] or any("constraint_message" in texts
                                               for texts in data.get("translations", {}).values()):
            self.warn(number, variable, "constraint_message ignored: the question has no constraint that was imported")
            _drop_text(data, "constraint_message")
        if kind not in (FieldType.DESCRIPTIVE, FieldType.CALCULATED):
            data["required"] = self.required(number, variable, record.get("required", ""))
        section = self.section_for_field(number)
        draft = DraftField(number, data)
        section.fields.append(draft)
        self.types[variable] = kind
        conditions = [group.condition for group in self.groups if group.condition]
        if record.get("relevant", "").strip():
            conditions.append(record["relevant"].strip())
        if conditions:
            self.relevants.append((draft, conditions, variable))
        return draft

    def check_references(self, number: int, variable: str, texts: dict[str, Any]) -> None:
        """Warn where a translation pipes in other answers (``${x}``) than the default text does."""
        for code, translated in texts.get("translations", {}).items():
            for attribute, text in translated.items():
                expected, found = placeholders(texts[attribute], frozenset()), placeholders(text, frozenset())
                if found != expected:
                    self.warn(number, variable, f"the {code} {attribute} refers to {', '.join(sorted(found)) or 'no answer'} "
                                                f"but the default text to {', '.join(sorted(expected)) or 'no answer'}")

    def required(self, number: int, variable: str, text: str) -> bool:
        word = text.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word not in _FALSE_WORDS:
            self.warn(number, variable, f"conditional 'required' {text!r} is not supported; the question is optional")
        return False

    def range_parameters(self, number: int, variable: str, text: str) -> dict[str, Any]:
        values = {"start": 1.0, "end": 10.0, "step": 1.0}  # ODK's defaults
        for key, value in re.findall(r"(start|end|step)\s*=\s*(-?\d+(?:\.\d+)?)", text.lower()):
            values[key] = float(value)
        low, high = sorted((values["start"], values["end"]))
        if values["start"] > values["end"]:
            self.warn(number, variable, "a descending range is imported as ascending")
        return {"min": _tidy_number(low), "max": _tidy_number(high), "step": values["step"] if values["step"] > 0 else 1.0}

    def translate_conditions(self) -> None:
        for target, conditions, variable in self.relevants:
            originals = " and ".join(f"({condition})" for condition in conditions)
            translated = _xpath_to_expression(originals, self.renames)
            row = target.row
            result = expression_or_warning(translated, self.types, row, variable, originals
                                           if len(conditions) > 1 else conditions[0], self.warnings)
            if isinstance(target, DraftField):
                target.data["show_if"] = result
            else:
                target.show_if = result

    def translate_calculations(self) -> None:
        """Translate each calculation; a row whose calculation cannot be translated is skipped."""
        for section, draft, original in self.calculations:
            translated = calculation_or_warning(original, self.types, draft.row, draft.variable, original, self.warnings,
                                                prepare=lambda text: _xpath_calculation(text, self.renames))
            if translated is None:
                section.fields.remove(draft)
            else:
                draft.data["calculation"] = translated


@dataclass
class _DraftSection(DraftSection):
    row_is_group: bool = False


_FIELD_TEXT_COLUMNS = {"label": "label", "hint": "help", "constraint_message": "constraint_message",
                       "required_message": "required_message"}


def _drop_text(data: dict[str, Any], attribute: str) -> None:
    """Remove one text attribute from field data, in every language."""
    data[attribute] = ""
    for texts in data.get("translations", {}).values():
        texts.pop(attribute, None)


def _normalise_type(text: str) -> str:
    text = re.sub(r"^select all that apply( from)?\b", "select_multiple", text)
    text = re.sub(r"^select (one|multiple)( from)?\b", lambda m: f"select_{m.group(1)}", text)
    text = re.sub(r"^(begin|end)[ _](group|repeat)\b.*$", lambda m: f"{m.group(1)}_{m.group(2)}", text)
    return text


def _tidy_number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


_BOUND = re.compile(r"^\.\s*(>=|<=|>|<)\s*(-?\d+(?:\.\d+)?)$")
_REGEX = re.compile(r"^regex\(\s*\.\s*,\s*(['\"])(.*)\1\s*\)$")
_LENGTH = re.compile(r"^string-length\(\s*\.\s*\)\s*(<=|<)\s*(\d+)$")


def _constraint(text: str, kind: FieldType, number: int, variable: str, warnings: list[ImportWarning]) -> dict[str, Any]:
    text = normalise_quotes(text.strip())
    if not text:
        return {}
    parts = [text] if re.search(r"\bor\b", text) else re.split(r"\s+and\s+", text)
    found: dict[str, Any] = {}
    numeric = kind in (FieldType.INTEGER, FieldType.DECIMAL, FieldType.SLIDER)
    textual = kind in (FieldType.SHORT_TEXT, FieldType.LONG_TEXT)
    for part in parts:
        part = part.strip()
        bound, pattern, length = _BOUND.match(part), _REGEX.match(part), _LENGTH.match(part)
        if bound and numeric:
            operator, value = bound.group(1), float(bound.group(2))
            if operator in (">", "<"):
                if kind is FieldType.INTEGER and value.is_integer():
                    value += 1 if operator == ">" else -1
                else:
                    warnings.append(ImportWarning(number, variable, f"constraint {part!r} is imported as "
                                                                    f"'{operator}=' (strict limits are not supported)"))
            found["min" if operator.startswith(">") else "max"] = _tidy_number(value)
        elif pattern and textual:
            found["pattern"] = pattern.group(2)
        elif length and textual:
            limit = int(length.group(2)) - (1 if length.group(1) == "<" else 0)
            if limit > 0:
                found["max_length"] = limit
        else:
            warnings.append(ImportWarning(number, variable, f"constraint {part!r} is not supported and was ignored"))
    return found


def _xpath_to_expression(text: str, renames: dict[str, str]) -> str:
    text = normalise_quotes(text)
    text = re.sub(r"\$\{\s*([^}\s]+)\s*\}", lambda match: renames.get(match.group(1), match.group(1)), text)
    return re.sub(r"\b(true|false)\(\s*\)", lambda match: match.group(1), text)


def _xpath_calculation(text: str, renames: dict[str, str]) -> str:
    """An XLSForm calculation -> our syntax (still to be parsed); raises ExpressionError naming
    the first function we do not have."""
    text = normalise_quotes(text)
    masked = re.sub(r"\$\{[^}]*\}", lambda match: " " * len(match.group()), text)
    unsupported_function_check(masked, _XPATH_FUNCTIONS)
    # decimal-date-time() of a date counts days, so the difference of two is a number of days;
    # our subtraction of two dates gives the same number.
    text = re.sub(r"decimal-date-time\(\s*(\$\{[^}]*\})\s*\)", r"\1", text)
    return _xpath_to_expression(text, renames)


def import_xlsform(data: bytes, filename_hint: str | None = None) -> ImportResult:
    """Read an XLSForm (.xlsx bytes, or the CSV form as bytes) into an instrument plus warnings.

    ``filename_hint`` (for example ``"survey.csv"``) only chooses the reader when the bytes do
    not say (an .xlsx file is a zip starting with ``PK``) and names the instrument when the
    settings sheet has no ``form_id``.
    """
    warnings: list[ImportWarning] = []
    if not data:
        raise InstrumentImportError("the file is empty")
    is_zip = isinstance(data, bytes) and data[:4] == b"PK\x03\x04"
    if is_zip or (filename_hint or "").lower().endswith((".xlsx", ".xlsm")):
        if not is_zip:
            raise InstrumentImportError("the file is named .xlsx but is not an Excel workbook")
        sheets = _read_workbook(data)
    else:
        sheets = _read_csv_form(data, warnings)
    for extra in sorted(set(sheets) - set(_SHEETS)):
        warnings.append(ImportWarning(None, None, f"sheet {extra!r} is not supported and was ignored"))
    survey = sheets.get("survey")
    if survey is None:
        raise InstrumentImportError("not an XLSForm: there is no 'survey' sheet")
    if "type" not in survey.columns or "name" not in survey.columns:
        missing = [column for column in ("type", "name") if column not in survey.columns]
        raise InstrumentImportError(f"not an XLSForm: the survey sheet lacks the column(s) {', '.join(missing)}")
    name, title, version, default_language = _settings(sheets.get("settings"), warnings, filename_hint)
    languages = _languages([survey, sheets.get("choices")], default_language, warnings)
    reader = _SurveyReader(_choice_lists(sheets.get("choices"), languages, warnings), title, warnings, languages)
    reader.read(survey.records())
    reader.translate_conditions()
    reader.translate_calculations()
    instrument = build_instrument(name=name, version=version, title=title, description="",
                                  drafts=list(reader.sections), warnings=warnings,
                                  languages=(languages.default, *languages.others))
    return ImportResult(instrument, warnings)
