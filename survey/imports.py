"""Shared machinery of the instrument importers (REDCap and XLSForm).

Importers read messy files into *draft* sections and fields (plain dictionaries plus the source
row), then :func:`build_instrument` turns the drafts into a validated :class:`Instrument`:
a field that cannot be represented is skipped with a warning, a condition that cannot be used is
dropped with a warning, and only a file that yields no usable instrument at all raises
:class:`InstrumentImportError`. Nothing is dropped silently.
"""

from __future__ import annotations

import codecs
import csv
import html
import io
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field as dataclass_field
from typing import Any

from pydantic import ValidationError

from survey.expressions import (
    Answered,
    Arithmetic,
    Calculation,
    Comparison,
    Expression,
    ExpressionError,
    Function,
    If,
    Literal,
    Negate,
    Node,
    Not,
    Variable,
    parse,
    parse_calculation,
    transform,
)
from survey.instrument import Field, FieldType, Instrument, Language, Section, calculation_problems, expression_problems

__all__ = [
    "DraftField",
    "DraftSection",
    "ImportResult",
    "ImportWarning",
    "InstrumentImportError",
    "build_instrument",
    "calculation_or_warning",
    "unsupported_function_check",
    "decode_text",
    "expression_or_warning",
    "humanise",
    "normalise_quotes",
    "read_csv_rows",
    "slugify",
    "strip_html",
    "translate_calculation",
    "translate_condition",
]

MAX_IMPORT_BYTES = 20 * 1024 * 1024


class InstrumentImportError(ValueError):
    """The file is not an instrument we can read at all; the message is one line saying why."""


@dataclass(frozen=True)
class ImportWarning:
    """Something in the file was not imported as written. ``row`` is the 1-based line/row in the file."""

    row: int | None
    variable: str | None
    message: str

    def __str__(self) -> str:
        where = ", ".join(part for part in (
            f"row {self.row}" if self.row is not None else "", f"field {self.variable!r}" if self.variable else "") if part)
        return f"{where}: {self.message}" if where else self.message


@dataclass
class ImportResult:
    instrument: Instrument
    warnings: list[ImportWarning]

    def __post_init__(self) -> None:
        # Report in file order, whichever pass of the importer found the problem.
        self.warnings = sorted(self.warnings, key=lambda warning: -1 if warning.row is None else warning.row)


@dataclass
class DraftField:
    row: int | None
    data: dict[str, Any]

    @property
    def variable(self) -> str:
        return str(self.data.get("variable", ""))


@dataclass
class DraftSection:
    id: str
    title: str
    row: int | None = None
    description: str = ""
    show_if: str | None = None
    repeat_per_technology: bool = False
    fields: list[DraftField] = dataclass_field(default_factory=list)
    translations: dict[str, dict[str, str]] = dataclass_field(default_factory=dict)


# --------------------------------------------------------------------------- text helpers

_CURLY_QUOTES = str.maketrans({"‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'",
                               "“": '"', "”": '"', "„": '"', "‟": '"', "″": '"'})
_BLOCK_TAGS = re.compile(r"<\s*(br|/p|/div|/li|/h[1-6])\b[^>]*>", re.IGNORECASE)
_TAGS = re.compile(r"<[^>]*>")


def normalise_quotes(text: str) -> str:
    """Replace typographic quotes (as word processors insert them) with plain ones."""
    return text.translate(_CURLY_QUOTES)


def strip_html(text: str) -> str:
    """Plain text of a label that may contain HTML tags and entities; whitespace collapsed."""
    without_tags = _TAGS.sub("", _BLOCK_TAGS.sub(" ", text))
    return " ".join(html.unescape(without_tags).split())


def slugify(text: str, fallback: str = "item") -> str:
    """A valid identifier (``^[a-z][a-z0-9_]*$``) made from any text."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "_", ascii_text.strip().lower()).strip("_")
    if not slug:
        return fallback
    if not slug[0].isalpha():
        slug = f"{fallback}_{slug}"
    return slug[:100]


def humanise(identifier: str) -> str:
    """``clinician_profile`` -> ``Clinician profile``."""
    words = identifier.replace("_", " ").strip()
    return words[:1].upper() + words[1:] if words else identifier


def decode_text(data: bytes | str) -> str:
    """Text of an uploaded file: UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1252."""
    if isinstance(data, str):
        text = data
    else:
        if len(data) > MAX_IMPORT_BYTES:
            raise InstrumentImportError(f"the file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB")
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            try:
                text = data.decode("utf-16")
            except UnicodeDecodeError:
                raise InstrumentImportError("the file claims to be UTF-16 but is not valid UTF-16") from None
        else:
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError:
                # Excel on Windows saves CSV as Windows-1252; five byte values are undefined there.
                text = data.decode("cp1252", errors="replace")
    text = text.removeprefix("\ufeff")
    if "\x00" in text:
        raise InstrumentImportError("the file is binary, not text (it contains NUL bytes)")
    return text


def read_csv_rows(text: str) -> list[list[str]]:
    """All rows of CSV text (comma, semicolon or tab separated), cells stripped; blank rows kept as []."""
    first_line = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first_line.count)
    if first_line.count(delimiter) == 0:
        delimiter = ","
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False))
    except csv.Error as error:
        raise InstrumentImportError(f"the file is not readable as CSV: {error}") from None
    return [[cell.strip() for cell in row] if any(cell.strip() for cell in row) else [] for row in rows]


# --------------------------------------------------------------------------- conditions


def _import_comparison_rule(field_types: Mapping[str, FieldType]) -> Callable[[Comparison], Node]:
    yes_no_codes = {"1": "yes", "0": "no", "true": "yes", "false": "no"}

    def rule(node: Comparison) -> Node:
        variable, literal = (node.left, node.right) if isinstance(node.left, Variable) else (node.right, node.left)
        if not isinstance(variable, Variable) or not isinstance(literal, Literal):
            return node
        # Source tools write "is empty" as x = '' (and "is answered" as x <> '').
        if isinstance(literal.value, str) and not literal.value.strip() and node.operator in ("=", "!="):
            answered = Answered(variable.name)
            return Not(answered) if node.operator == "=" else answered
        # REDCap stores yes/no and true/false as 1/0; our yes_no codes are 'yes'/'no'.
        if field_types.get(variable.name) is FieldType.YES_NO:
            code = yes_no_codes.get(literal.text.lower()) if not isinstance(literal.value, bool) else (
                "yes" if literal.value else "no")
            if code is not None:
                return Comparison(variable, node.operator, Literal(code, code))
        return node

    return rule


def _import_rule(field_types: Mapping[str, FieldType]) -> Callable[[Any], Any]:
    comparison = _import_comparison_rule(field_types)

    def yes_no_number(operand: Any) -> Any:
        # Source tools count a yes/no answer as 1/0 in arithmetic (blank stays blank); ours stores 'yes'/'no'.
        if isinstance(operand, Variable) and field_types.get(operand.name) is FieldType.YES_NO:
            return If(Answered(operand.name), If(Comparison(operand, "=", Literal("yes", "yes")), Literal(1, "1"),
                                                  Literal(0, "0")), Literal("", ""))
        return operand

    def rule(node: Any) -> Any:
        if isinstance(node, Comparison):
            return comparison(node)
        if isinstance(node, Arithmetic):
            return Arithmetic(tuple(yes_no_number(operand) for operand in node.operands), node.operators)
        if isinstance(node, Negate):
            return Negate(yes_no_number(node.operand))
        if isinstance(node, Function) and node.name != "coalesce":
            return Function(node.name, tuple(yes_no_number(argument) for argument in node.arguments))
        return node

    return rule


def translate_condition(text: str, field_types: Mapping[str, FieldType]) -> Expression:
    """Parse condition text already rewritten into our syntax, normalising the idioms source tools use.

    Raises :class:`ExpressionError` when the text is not expressible in our language.
    """
    expression = parse(text)
    rewritten = transform(expression.root, _import_rule(field_types))
    return parse(rewritten.to_text())


def translate_calculation(text: str, field_types: Mapping[str, FieldType]) -> Calculation:
    """Parse calculation text already rewritten into our syntax, with the idioms of
    :func:`translate_condition` and yes/no answers counted as 1/0 in arithmetic.

    Raises :class:`ExpressionError` when the text is not expressible in our language.
    """
    calculation = parse_calculation(text)
    rewritten = transform(calculation.root, _import_rule(field_types))
    return parse_calculation(rewritten.to_text())


# --------------------------------------------------------------------------- building


def _validation_summary(error: ValidationError) -> str:
    messages = []
    for detail in error.errors():
        location = ".".join(str(part) for part in detail.get("loc", ()))
        message = str(detail.get("msg", "")).removeprefix("Value error, ")
        messages.append(f"{location}: {message}" if location else message)
    return "; ".join(messages)


def _build_field(draft: DraftField, warnings: list[ImportWarning]) -> Field | None:
    try:
        return Field.model_validate(draft.data)
    except ValidationError as error:
        if draft.data.get("show_if") and any("show_if" in detail.get("loc", ()) for detail in error.errors()):
            warnings.append(ImportWarning(draft.row, draft.variable, "branching logic dropped: "
                                          + _validation_summary(error)))
            return _build_field(DraftField(draft.row, {**draft.data, "show_if": None}), warnings)
        warnings.append(ImportWarning(draft.row, draft.variable or None, "field skipped: " + _validation_summary(error)))
        return None


def build_instrument(*, name: str, version: int, title: str, description: str,
                     drafts: list[DraftSection], warnings: list[ImportWarning],
                     languages: tuple[Language, ...] = (), record_id: str | None = None) -> Instrument:
    """Validate drafts into an instrument, skipping what cannot be represented (with warnings).

    ``languages``: the default language first, then the others the drafts' translations use.
    ``record_id``: the record-id field name of the REDCap project the drafts came from.
    """
    seen: set[str] = set()
    sections: list[Section] = []
    rows: dict[tuple[str, str | None], int | None] = {}
    for draft in drafts:
        fields: list[Field] = []
        for draft_field in draft.fields:
            built = _build_field(draft_field, warnings)
            if built is None:
                continue
            names = [built.variable] + [item.variable for item in built.items]
            clash = [name for name in names if name in seen]
            if clash:
                warnings.append(ImportWarning(draft_field.row, built.variable,
                                              f"field skipped: variable {clash[0]!r} is already used"))
                continue
            seen.update(names)
            fields.append(built)
            rows[(draft.id, built.variable)] = draft_field.row
        if not fields:
            warnings.append(ImportWarning(draft.row, None, f"section {draft.id!r} skipped: it has no importable fields"))
            continue
        section_data = {"id": draft.id, "title": draft.title or humanise(draft.id), "description": draft.description,
                        "show_if": draft.show_if, "repeat_per_technology": draft.repeat_per_technology,
                        "fields": fields, "translations": draft.translations}
        try:
            sections.append(Section.model_validate(section_data))
        except ValidationError as error:
            warnings.append(ImportWarning(draft.row, None, f"condition of section {draft.id!r} dropped: "
                                          + _validation_summary(error)))
            sections.append(Section.model_validate({**section_data, "show_if": None}))
        rows[(draft.id, None)] = draft.row
    if not sections:
        raise InstrumentImportError("no questions could be imported from the file")
    sections = _drop_unusable_calculations(sections, rows, warnings)
    sections = _drop_unusable_conditions(sections, rows, warnings)
    try:
        return Instrument(name=name, version=version, title=title, description=description, sections=tuple(sections),
                          record_id=record_id,
                          **({"default_language": languages[0], "other_languages": languages[1:]} if languages else {}))
    except ValidationError as error:
        raise InstrumentImportError("the imported instrument is invalid: " + _validation_summary(error)) from None


def _drop_unusable_calculations(sections: list[Section], rows: Mapping[tuple[str, str | None], int | None],
                                warnings: list[ImportWarning]) -> list[Section]:
    """Skip calculated fields that read unknown or later variables (a skipped one may leave
    another without its input, hence the loop), warning for each."""
    result = list(sections)
    while problems := calculation_problems(result):
        by_section: dict[int, dict[str, list[str]]] = {}
        for index, variable, message in problems:
            by_section.setdefault(index, {}).setdefault(variable, []).append(message)
        emptied: set[int] = set()
        for index, per_field in by_section.items():
            section = result[index]
            for variable, messages in per_field.items():
                warnings.append(ImportWarning(rows.get((section.id, variable)), variable,
                                              "field skipped: " + "; ".join(messages)))
            fields = tuple(field for field in section.fields if field.variable not in per_field)
            if fields:
                result[index] = section.model_copy(update={"fields": fields})
            else:
                emptied.add(index)
                warnings.append(ImportWarning(rows.get((section.id, None)), None,
                                              f"section {section.id!r} skipped: it has no importable fields"))
        result = [section for index, section in enumerate(result) if index not in emptied]
    if not result:
        raise InstrumentImportError("no questions could be imported from the file")
    return result


def _drop_unusable_conditions(sections: list[Section], rows: Mapping[tuple[str, str | None], int | None],
                              warnings: list[ImportWarning]) -> list[Section]:
    """Remove conditions that read unknown or later variables or unknown codes, warning for each."""
    problems = expression_problems(sections)
    by_section: dict[int, dict[str | None, list[str]]] = {}
    for index, variable, message in problems:
        by_section.setdefault(index, {}).setdefault(variable, []).append(message)
    result = list(sections)
    for index, per_field in by_section.items():
        section = result[index]
        for variable, messages in per_field.items():
            warnings.append(ImportWarning(rows.get((section.id, variable)), variable,
                                          "branching logic dropped: " + "; ".join(messages)))
        fields = tuple(field.model_copy(update={"show_if": None}) if field.variable in per_field else field
                       for field in section.fields)
        update: dict[str, Any] = {"fields": fields}
        if None in per_field:
            update["show_if"] = None
        result[index] = section.model_copy(update=update)
    return result


def expression_or_warning(text: str, field_types: Mapping[str, FieldType], row: int | None, variable: str | None,
                          original: str, warnings: list[ImportWarning],
                          prepare: Callable[[str], str] | None = None) -> str | None:
    """Translate a condition, or record a warning naming the original logic and return None
    (``prepare`` as in :func:`calculation_or_warning`)."""
    try:
        return translate_condition(prepare(text) if prepare else text, field_types).to_text()
    except ExpressionError as error:
        warnings.append(ImportWarning(row, variable, f"branching logic {original!r} could not be translated "
                                                     f"({error}); the field is always shown"))
        return None


_FUNCTION_CALL = re.compile(r"""(['"])(?:(?!\1).)*\1|([A-Za-z_][A-Za-z0-9_.:-]*)\s*\(""")
_LANGUAGE_WORDS = frozenset({"and", "or", "not", "div", "mod"})


def unsupported_function_check(text: str, known: frozenset[str]) -> None:
    """Raise :class:`ExpressionError` naming the first function call in ``text`` (outside quoted
    strings) that is not in ``known``; a source tool's own functions (``today()``,
    ``decimal-date-time()``, ``sqrt()``) are then reported by their own name."""
    for match in _FUNCTION_CALL.finditer(text):
        name = match.group(2)
        if name and name.lower() not in known and name.lower() not in _LANGUAGE_WORDS:
            raise ExpressionError(f"the function {name}() is not supported", match.start(2))


def calculation_or_warning(text: str, field_types: Mapping[str, FieldType], row: int | None, variable: str,
                           original: str, warnings: list[ImportWarning],
                           prepare: Callable[[str], str] | None = None) -> str | None:
    """Translate a calculation, or record a warning naming the original and what is outside our
    language (the function or operator, and where) and return None: the field is then skipped.

    ``prepare`` rewrites the source tool's syntax into ours first and may itself raise
    :class:`ExpressionError` for what it cannot rewrite.
    """
    try:
        return translate_calculation(prepare(text) if prepare else text, field_types).to_text()
    except ExpressionError as error:
        warnings.append(ImportWarning(row, variable, f"field skipped: calculation {original!r} could not be "
                                                     f"translated ({error})"))
        return None
