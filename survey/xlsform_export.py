"""XLSForm export: an instrument as an .xlsx XLSForm with every language.

Each translatable column is written once per language as ``label::Name (code)`` and the
settings sheet names the ``default_language``, so ODK/Kobo (and pyxform) read every language
and :func:`survey.xlsform.import_xlsform` reads the file back to the same instrument.

Every section becomes a group (its condition the group's ``relevant``). What XLSForm cannot say
is exported as near as it can be, with a warning naming the field: yes/no and ratings become
``select_one`` lists, a matrix becomes one question per item, and units, identifier flags,
exclusive options and per-technology repetition are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field as dataclass_field
from datetime import date
from typing import Any

from survey.app_text import app_text
from survey.instrument import Field, FieldType, Instrument, Language
from survey.workbooks import workbook_bytes
from survey.expressions import quoted
from survey.xpath import xpath_calculation, xpath_condition

__all__ = ["XLSFormExport", "export_xlsform"]

# (XLSForm column, model attribute) of a question's translatable texts, in column order.
_FIELD_TEXTS = (("label", "label"), ("hint", "help"))
_MESSAGE_TEXTS = (("constraint_message", "constraint_message"), ("required_message", "required_message"))
_SELECT_TYPES = frozenset({FieldType.SINGLE_CHOICE, FieldType.DROPDOWN, FieldType.MULTIPLE_CHOICE, FieldType.YES_NO,
                           FieldType.RATING_5, FieldType.RATING_9})
_SIMPLE_TYPES = {FieldType.INTEGER: "integer", FieldType.DECIMAL: "decimal", FieldType.SHORT_TEXT: "text",
                 FieldType.LONG_TEXT: "text", FieldType.DATE: "date", FieldType.DESCRIPTIVE: "note",
                 FieldType.SLIDER: "range"}


@dataclass
class XLSFormExport:
    content: bytes
    warnings: list[str] = dataclass_field(default_factory=list)


def _number(value: float | int) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _bound(value: Any) -> str:
    return f"date('{value.isoformat()}')" if isinstance(value, date) else _number(value)


def _constraint(field: Field) -> str:
    rules = field.validation
    parts: list[str] = []
    if field.type is not FieldType.SLIDER:  # a range's limits are its parameters
        if rules.min is not None:
            parts.append(f". >= {_bound(rules.min)}")
        if rules.max is not None:
            parts.append(f". <= {_bound(rules.max)}")
    if rules.pattern is not None:
        parts.append(f"regex(., {quoted(rules.pattern)})")
    if rules.max_length is not None:
        parts.append(f"string-length(.) <= {rules.max_length}")
    return " and ".join(parts)


class _Writer:
    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument
        self.languages = instrument.languages
        self.survey: list[dict[str, str]] = []
        self.choices: list[dict[str, str]] = []
        self.warnings: list[str] = []
        # Variable -> type: date differences are written with decimal-date-time().
        self.types = {field.variable: field.type for section in instrument.sections for field in section.fields}

    def texts(self, element: Any, pairs: tuple[tuple[str, str], ...]) -> dict[str, str]:
        row: dict[str, str] = {}
        for column, attribute in pairs:
            if not getattr(element, attribute):
                continue
            for language in self.languages:
                translated = element.translations.get(language.code, {}).get(attribute, "")
                row[f"{column}::{language.label}"] = (getattr(element, attribute) if language.code == self.languages[0].code
                                                      else translated)
        return row

    def choice_list(self, name: str, choices: list[tuple[str, dict[str, str]]]) -> None:
        for code, labels in choices:
            self.choices.append({"list_name": name, "name": code, **labels})

    def group_name(self, section_id: str) -> str:
        # XLSForm names must be unique across the whole form, groups included.
        variables = {field.variable for section in self.instrument.sections for field in section.fields}
        variables |= {slot.variable for _, slot in self.instrument.answer_slots()}
        if section_id not in variables:
            return section_id
        taken = variables | {section.id for section in self.instrument.sections}
        name = f"{section_id}_section"
        while name in taken:
            name += "_"
        return name

    def write(self) -> None:
        if self.instrument.translations:
            self.warnings.append("the translations of the instrument's own title and description have no XLSForm "
                                 "column and are not exported")
        for section in self.instrument.sections:
            if section.repeat_per_technology:
                self.warnings.append(f"section {section.id!r}: asked once per chosen technology here; exported as "
                                     f"an ordinary group, asked once")
            group = {"type": "begin group", "name": self.group_name(section.id),
                     **self.texts(section, (("label", "title"), ("hint", "description")))}
            if section.show_if:
                group["relevant"] = self.relevant(section.show_if, f"section {section.id!r}")
            self.survey.append(group)
            for field in section.fields:
                self.field(field)
            self.survey.append({"type": "end group"})

    def relevant(self, condition: str, where: str) -> str:
        try:
            return xpath_condition(condition, self.types)
        except ValueError as error:
            self.warnings.append(f"{where}: its condition is not exported ({error}); it is always shown")
            return ""

    def field(self, field: Field) -> None:
        where = f"field {field.variable!r}"
        row: dict[str, str] = {"name": field.variable, **self.texts(field, _FIELD_TEXTS)}
        if field.required:
            row["required"] = "yes"
        if field.show_if:
            row["relevant"] = self.relevant(field.show_if, where)
        constraint = _constraint(field)
        if constraint:
            row["constraint"] = constraint
        row.update(self.texts(field, _MESSAGE_TEXTS))
        if field.unit:
            self.warnings.append(f"{where}: the unit {field.unit!r} has no XLSForm column and is not exported")
        if field.identifier:
            self.warnings.append(f"{where}: XLSForm cannot mark an answer as identifying; the flag is not exported")
        kind = field.type
        if kind in _SIMPLE_TYPES:
            row["type"] = _SIMPLE_TYPES[kind]
            if kind is FieldType.LONG_TEXT:
                row["appearance"] = "multiline"
            if kind is FieldType.SLIDER:
                rules = field.validation
                row["parameters"] = f"start={_number(rules.min)} end={_number(rules.max)} step={_number(rules.step or 1)}"
            self.survey.append(row)
        elif kind is FieldType.MATRIX:
            self.warnings.append(f"{where}: the matrix is exported as a note and one question per item")
            self.survey.append({"type": "note", "name": field.variable, **self.texts(field, _FIELD_TEXTS)})
            self.choice_list(field.variable, [(c.code, self.texts(c, (("label", "label"),))) for c in field.choices])
            for item in field.items:
                self.survey.append({**{k: v for k, v in row.items() if not k.startswith(("label", "hint"))},
                                    "type": f"select_one {field.variable}", "name": item.variable,
                                    **self.texts(item, (("label", "label"),))})
        elif kind is FieldType.CALCULATED:
            row["type"] = "calculate"
            row["calculation"] = xpath_calculation(field.calculation, self.types)
            self.survey.append(row)
        elif kind in _SELECT_TYPES:
            self.select(field, row)
        else:
            self.warnings.append(f"{where}: {kind.value} questions have no XLSForm export; the question is left out")

    def select(self, field: Field, row: dict[str, str]) -> None:
        kind = field.type
        if kind is FieldType.YES_NO:
            self.warnings.append(f"field {field.variable!r}: yes/no is exported as a single choice of yes and no")
            labels = [(code, {f"label::{language.label}": app_text(language.code, code) for language in self.languages})
                      for code in ("yes", "no")]
        elif kind in (FieldType.RATING_5, FieldType.RATING_9):
            self.warnings.append(f"field {field.variable!r}: the rating is exported as a single choice of its points")
            named = {choice.code: choice for choice in field.choices}
            points = [str(point) for point in range(1, (5 if kind is FieldType.RATING_5 else 9) + 1)]
            labels = [(point, self.texts(named[point], (("label", "label"),)) if point in named
                       else {f"label::{language.label}": point for language in self.languages}) for point in points]
        else:
            exclusive = [choice.code for choice in field.choices if choice.exclusive]
            if exclusive:
                self.warnings.append(f"field {field.variable!r}: XLSForm has no exclusive options; "
                                     f"{', '.join(exclusive)} exported as ordinary options")
            labels = [(choice.code, self.texts(choice, (("label", "label"),))) for choice in field.choices]
        self.choice_list(field.variable, labels)
        row["type"] = f"{'select_multiple' if kind is FieldType.MULTIPLE_CHOICE else 'select_one'} {field.variable}"
        if kind is FieldType.DROPDOWN:
            row["appearance"] = "minimal"
        self.survey.append(row)


def _header(rows: list[dict[str, str]], leading: list[str]) -> list[str]:
    columns = list(leading)
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    return columns


def export_xlsform(instrument: Instrument) -> XLSFormExport:
    """The instrument as XLSForm .xlsx bytes plus warnings for what XLSForm cannot hold.

    Yes/no questions get the form's own words for yes and no in each language (English where a
    language has no locale file).
    """
    writer = _Writer(instrument)
    writer.write()
    languages: tuple[Language, ...] = instrument.languages
    label_columns = [f"label::{language.label}" for language in languages]
    survey_header = _header(writer.survey, ["type", "name", *label_columns])
    choices_header = _header(writer.choices, ["list_name", "name", *label_columns])
    settings_header = ["form_id", "form_title", "version", "default_language"]
    settings = [[instrument.name, instrument.title, str(instrument.version), languages[0].label]]
    content = workbook_bytes([
        ("survey", survey_header, [[row.get(column, "") for column in survey_header] for row in writer.survey]),
        ("choices", choices_header, [[row.get(column, "") for column in choices_header] for row in writer.choices]),
        ("settings", settings_header, settings),
    ])
    return XLSFormExport(content, writer.warnings)
