"""The instrument model: a versioned, declarative survey definition validated by pydantic.

An :class:`Instrument` has sections (pages); a section has fields (questions). Every answer is
stored under a stable ``variable`` name. A section with ``repeat_per_technology`` is asked once
for each catalogue technology the respondent picks; its answers are stored per technology.

Load-time checks (every problem names the section and field):

- variables are unique across the instrument, matrix item variables included;
- choice types (single/multiple choice, dropdown, matrix) have choices, and codes are unique;
- ``show_if`` expressions parse, read only variables answered *earlier* (a repeated section may
  also read earlier fields of the same section; a non-repeated section may not read a repeated
  section's answers), use choice codes that exist, and use ``selected()`` rather than ``=`` for
  multiple-choice answers.
- a ``calculated`` field has a ``calculation`` (see :func:`survey.expressions.parse_calculation`)
  that reads only variables answered earlier, under the same rules as ``show_if``, and never a
  multiple-choice or yes/no answer in arithmetic (their values are codes, not numbers). It is
  computed on the server when a response is validated, never taken from the respondent, and
  stored like any other answer; later ``show_if`` conditions may read it.

Answer values (what :mod:`survey.validation` produces): choice codes as strings, yes/no as
``"yes"``/``"no"``, multiple choice as a list of codes, integers and ratings as ``int``, decimals
and sliders as numbers, dates as ISO ``YYYY-MM-DD`` strings, text as strings. A matrix stores one
code per item under the item's own variable.

Languages: the plain text of every label, hint, choice label, section title and validation
message is in the instrument's ``default_language`` (English unless set). Each of those elements
may carry ``translations``: ``{language code: {attribute: text}}`` for the ``other_languages``;
:meth:`_Translatable.text` falls back to the default text where a translation is missing, so
stored instruments without translations load unchanged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, ClassVar

import yaml
from pydantic import BaseModel, ConfigDict, Field as ModelField, ValidationError, field_validator, model_validator

from survey.expressions import (
    Arithmetic,
    Comparison,
    ExpressionError,
    Function,
    Literal,
    Negate,
    Selected,
    Variable,
    parse,
    parse_calculation,
)

__all__ = [
    "CHOICE_TYPES",
    "EMAIL_PATTERN",
    "NUMERIC_TYPES",
    "PHONE_PATTERN",
    "TEXT_TYPES",
    "AnswerSlot",
    "Choice",
    "Field",
    "FieldType",
    "Instrument",
    "InstrumentError",
    "Language",
    "MatrixItem",
    "Section",
    "Validation",
    "YES_NO_CHOICES",
    "builtin_instruments",
    "calculation_problems",
    "expression_problems",
    "instrument_from_dict",
    "instrument_to_dict",
    "load_instrument_yaml",
]

IDENTIFIER_PATTERN = r"^[a-z][a-z0-9_]*$"
CODE_PATTERN = r"^-?[A-Za-z0-9_][A-Za-z0-9_.\-]*$"
EMAIL_PATTERN = r"[^@\s]+@[^@\s]+\.[^@\s]+"
"""The pattern used for e-mail address fields (and mapped to REDCap's ``email`` validation)."""
PHONE_PATTERN = r"(?:\+|00)?[0-9][0-9 ()\-]{6,18}[0-9]"
"""The pattern of an imported XLSForm ``phone number``: UK (``020 7946 0018``, ``07700 900123``)
or international (``+44 20 7946 0018``, ``0044 ...``) numbers, 8 to 20 characters of digits,
spaces, brackets and hyphens."""

Identifier = Annotated[str, ModelField(pattern=IDENTIFIER_PATTERN, max_length=100)]
LANGUAGE_CODE_PATTERN = r"^[a-z]{2}$"
"""An ISO 639-1 language code (two lower-case letters)."""


class InstrumentError(ValueError):
    """An instrument definition is invalid; the message names the section and field."""


class FieldType(StrEnum):
    SINGLE_CHOICE = "single_choice"
    MULTIPLE_CHOICE = "multiple_choice"
    DROPDOWN = "dropdown"
    YES_NO = "yes_no"
    INTEGER = "integer"
    DECIMAL = "decimal"
    SHORT_TEXT = "short_text"
    LONG_TEXT = "long_text"
    DATE = "date"
    RATING_5 = "rating_5"
    RATING_9 = "rating_9"
    SLIDER = "slider"
    MATRIX = "matrix"
    DESCRIPTIVE = "descriptive"
    CALCULATED = "calculated"


CHOICE_TYPES = frozenset({FieldType.SINGLE_CHOICE, FieldType.MULTIPLE_CHOICE, FieldType.DROPDOWN, FieldType.MATRIX})
"""Types whose ``choices`` are required."""
NUMERIC_TYPES = frozenset({FieldType.INTEGER, FieldType.DECIMAL, FieldType.SLIDER})
TEXT_TYPES = frozenset({FieldType.SHORT_TEXT, FieldType.LONG_TEXT})
RATING_POINTS = {FieldType.RATING_5: 5, FieldType.RATING_9: 9}
DEFAULT_MAX_LENGTH = {FieldType.SHORT_TEXT: 255, FieldType.LONG_TEXT: 10_000}
"""Upper bound on text length when a field sets no ``max_length``."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Language(_Strict):
    """A language an instrument is offered in: its ISO 639-1 code and the name shown to respondents."""

    code: Annotated[str, ModelField(pattern=LANGUAGE_CODE_PATTERN)]
    name: Annotated[str, ModelField(min_length=1, max_length=100)]

    @property
    def label(self) -> str:
        """``Name (code)``, the XLSForm spelling."""
        return f"{self.name} ({self.code})"


ENGLISH = Language(code="en", name="English")


class _Translatable(_Strict):
    """An element whose ``TRANSLATABLE`` text attributes may hold text per language."""

    TRANSLATABLE: ClassVar[tuple[str, ...]] = ()
    translations: dict[Annotated[str, ModelField(pattern=LANGUAGE_CODE_PATTERN)], dict[str, str]] = {}

    @field_validator("translations")
    @classmethod
    def _known_attributes(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for language, texts in value.items():
            unknown = sorted(set(texts) - set(cls.TRANSLATABLE))
            if unknown:
                raise ValueError(f"translations[{language!r}]: {', '.join(unknown)} cannot be translated here "
                                 f"(only {', '.join(cls.TRANSLATABLE)})")
        # Empty texts mean "not translated": dropping them keeps stored definitions canonical.
        return {language: {key: text for key, text in texts.items() if text.strip()}
                for language, texts in value.items() if any(text.strip() for text in texts.values())}

    def __hash__(self) -> int:
        # Frozen models stay hashable although translations is a dict; leaving it out of the hash
        # only makes elements that differ in translation alone collide, which is allowed.
        return hash((type(self), *(value for key, value in self.__dict__.items() if key != "translations")))

    def text(self, attribute: str, language: str | None = None) -> str:
        """The text of ``attribute`` in ``language``; the default-language text where it is not translated."""
        if language is not None:
            translated = self.translations.get(language, {}).get(attribute)
            if translated:
                return translated
        return getattr(self, attribute)


class Choice(_Translatable):
    """One answer option. ``exclusive`` options (e.g. "None of these") cannot be combined with others."""

    TRANSLATABLE: ClassVar[tuple[str, ...]] = ("label",)
    code: Annotated[str, ModelField(pattern=CODE_PATTERN, max_length=100)]
    label: Annotated[str, ModelField(min_length=1)]
    exclusive: bool = False

    @field_validator("code", mode="before")
    @classmethod
    def _code_as_text(cls, value: Any) -> Any:
        # YAML reads codes such as 1 or A as numbers/strings; codes are always text.
        if isinstance(value, bool):
            raise ValueError("a choice code must be text or a number, not true/false")
        return str(value) if isinstance(value, (int, float)) else value


YES_NO_CHOICES = (Choice(code="yes", label="Yes"), Choice(code="no", label="No"))


class MatrixItem(_Translatable):
    """One row of a matrix: its own variable, answered on the matrix's shared scale."""

    TRANSLATABLE: ClassVar[tuple[str, ...]] = ("label",)
    variable: Identifier
    label: Annotated[str, ModelField(min_length=1)]


Bound = int | float | date


class Validation(_Strict):
    """Answer constraints. ``min``/``max`` are numbers (dates for date fields); ``step`` is for sliders."""

    min: Bound | None = None
    max: Bound | None = None
    step: Annotated[float, ModelField(gt=0)] | None = None
    pattern: str | None = None
    max_length: Annotated[int, ModelField(ge=1)] | None = None

    @field_validator("min", "max", mode="before")
    @classmethod
    def _bound_from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                return date.fromisoformat(text)
            try:
                number = float(text)
            except ValueError:
                raise ValueError(f"{value!r} is neither a number nor an ISO date (YYYY-MM-DD)") from None
            return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number
        return value

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as error:
                raise ValueError(f"pattern {value!r} is not a valid regular expression: {error}") from None
        return value

    @model_validator(mode="after")
    def _bounds_in_order(self) -> "Validation":
        if self.min is not None and self.max is not None:
            if isinstance(self.min, date) != isinstance(self.max, date):
                raise ValueError("min and max must both be dates or both be numbers")
            if self.min > self.max:
                raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


@dataclass(frozen=True)
class AnswerSlot:
    """One stored answer: a field's variable, or one matrix item of a matrix field."""

    variable: str
    label: str
    field: "Field"

    @property
    def type(self) -> FieldType:
        return self.field.type

    def text(self, language: str | None = None) -> str:
        """The slot's label in ``language`` (a matrix item's own label for a matrix slot)."""
        for item in self.field.items:
            if item.variable == self.variable:
                return item.text("label", language)
        return self.field.text("label", language)


class Field(_Translatable):
    """A question (or, for ``descriptive``, a block of text with no answer).

    ``constraint_message`` / ``required_message`` replace the standard message when an answer
    breaks the validation rules / is missing.
    """

    TRANSLATABLE: ClassVar[tuple[str, ...]] = ("label", "help", "constraint_message", "required_message")
    variable: Identifier
    label: Annotated[str, ModelField(min_length=1)]
    help: str = ""
    type: FieldType
    required: bool = False
    choices: tuple[Choice, ...] = ()
    validation: Validation = Validation()
    unit: str | None = None
    identifier: bool = False
    show_if: str | None = None
    items: tuple[MatrixItem, ...] = ()
    constraint_message: str = ""
    required_message: str = ""
    calculation: str | None = None

    @field_validator("show_if")
    @classmethod
    def _show_if_parses(cls, value: str | None) -> str | None:
        return _checked_expression(value)

    @field_validator("calculation")
    @classmethod
    def _calculation_parses(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            parse_calculation(value)
        except ExpressionError as error:
            raise ValueError(f"calculation {value!r} is not a valid calculation: {error}") from None
        return value.strip()

    @model_validator(mode="after")
    def _consistent_with_type(self) -> "Field":
        problems = _field_type_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def effective_choices(self) -> tuple[Choice, ...]:
        """The answer options, including the implicit yes/no of a ``yes_no`` field."""
        return YES_NO_CHOICES if self.type is FieldType.YES_NO else self.choices

    def choice_codes(self) -> frozenset[str]:
        return frozenset(choice.code for choice in self.effective_choices())

    def choice_label(self, code: str, language: str | None = None) -> str:
        for choice in self.effective_choices():
            if choice.code == code:
                return choice.text("label", language)
        return code

    def answer_slots(self) -> tuple[AnswerSlot, ...]:
        """The variables this field stores: none for descriptive, one per item for a matrix."""
        if self.type is FieldType.DESCRIPTIVE:
            return ()
        if self.type is FieldType.MATRIX:
            return tuple(AnswerSlot(item.variable, item.label, self) for item in self.items)
        return (AnswerSlot(self.variable, self.label, self),)

    def bounds(self) -> tuple[Bound | None, Bound | None]:
        """Effective (min, max): ratings are 1..5 or 1..9."""
        if self.type in RATING_POINTS:
            return 1, RATING_POINTS[self.type]
        return self.validation.min, self.validation.max

    def max_length(self) -> int | None:
        if self.type not in TEXT_TYPES:
            return None
        return self.validation.max_length or DEFAULT_MAX_LENGTH[self.type]


def _checked_expression(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    try:
        parse(text)
    except ExpressionError as error:
        raise ValueError(f"show_if {text!r} is not a valid expression: {error}") from None
    return text.strip()


def _field_type_problems(field: Field) -> list[str]:
    problems: list[str] = []
    kind = field.type
    codes = [choice.code for choice in field.choices]
    if kind in CHOICE_TYPES and not field.choices:
        problems.append(f"a {kind.value} field needs choices")
    if field.choices and kind not in CHOICE_TYPES and kind not in RATING_POINTS:
        problems.append(f"a {kind.value} field cannot have choices")
    duplicates = sorted({code for code in codes if codes.count(code) > 1})
    if duplicates:
        problems.append(f"duplicate choice codes: {', '.join(duplicates)}")
    if kind in RATING_POINTS:
        allowed = {str(point) for point in range(1, RATING_POINTS[kind] + 1)}
        stray = [code for code in codes if code not in allowed]
        if stray:
            problems.append(f"rating labels must use the codes 1..{RATING_POINTS[kind]}, not {', '.join(stray)}")
    if any(choice.exclusive for choice in field.choices) and kind is not FieldType.MULTIPLE_CHOICE:
        problems.append("only multiple-choice options can be exclusive")
    if kind is FieldType.MATRIX and not field.items:
        problems.append("a matrix field needs items")
    if field.items and kind is not FieldType.MATRIX:
        problems.append(f"a {kind.value} field cannot have matrix items")
    rules = field.validation
    if (rules.pattern is not None or rules.max_length is not None) and kind not in TEXT_TYPES:
        problems.append("pattern and max_length apply only to short_text and long_text fields")
    has_bounds = rules.min is not None or rules.max is not None
    if has_bounds and kind not in NUMERIC_TYPES and kind is not FieldType.DATE:
        problems.append("min and max apply only to integer, decimal, slider and date fields")
    if kind is FieldType.DATE and any(b is not None and not isinstance(b, date) for b in (rules.min, rules.max)):
        problems.append("min and max of a date field must be dates (YYYY-MM-DD)")
    if kind in NUMERIC_TYPES and any(isinstance(b, date) for b in (rules.min, rules.max)):
        problems.append("min and max of a numeric field must be numbers")
    if rules.step is not None and kind is not FieldType.SLIDER:
        problems.append("step applies only to slider fields")
    if kind is FieldType.SLIDER and (rules.min is None or rules.max is None):
        problems.append("a slider needs both min and max")
    if kind is FieldType.DESCRIPTIVE and field.required:
        problems.append("a descriptive field cannot be required")
    if field.unit is not None and kind not in NUMERIC_TYPES and kind is not FieldType.CALCULATED:
        problems.append("unit applies only to integer, decimal, slider and calculated fields")
    if kind is FieldType.CALCULATED and field.calculation is None:
        problems.append("a calculated field needs a calculation")
    if field.calculation is not None and kind is not FieldType.CALCULATED:
        problems.append(f"a {kind.value} field cannot have a calculation (use the type calculated)")
    if kind is FieldType.CALCULATED and field.required:
        problems.append("a calculated field cannot be required (it is computed, not answered)")
    return problems


class Section(_Translatable):
    """A page of the form. ``repeat_per_technology`` sections are asked once per chosen technology."""

    TRANSLATABLE: ClassVar[tuple[str, ...]] = ("title", "description")
    id: Identifier
    title: Annotated[str, ModelField(min_length=1)]
    description: str = ""
    show_if: str | None = None
    repeat_per_technology: bool = False
    fields: tuple[Field, ...] = ModelField(min_length=1)

    @field_validator("show_if")
    @classmethod
    def _show_if_parses(cls, value: str | None) -> str | None:
        return _checked_expression(value)

    def answer_slots(self) -> Iterator[AnswerSlot]:
        for field in self.fields:
            yield from field.answer_slots()


class Instrument(_Translatable):
    """A whole survey definition. ``name`` + ``version`` identify it.

    The plain text is in ``default_language``; ``other_languages`` are those translations may use.
    """

    TRANSLATABLE: ClassVar[tuple[str, ...]] = ("title", "description")
    name: Identifier
    version: Annotated[int, ModelField(ge=1)]
    title: Annotated[str, ModelField(min_length=1)]
    description: str = ""
    sections: tuple[Section, ...] = ModelField(min_length=1)
    default_language: Language = ENGLISH
    other_languages: tuple[Language, ...] = ()
    record_id: Identifier | None = None
    """The record-id field name of the REDCap project the instrument came from (the REDCap
    export writes it back under this name); None for instruments written here."""

    @model_validator(mode="after")
    def _cross_checks(self) -> "Instrument":
        problems = _identity_problems(self.sections) + [
            text for _, _, text in expression_problems(self.sections) + calculation_problems(self.sections)]
        problems += _language_problems(self)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def languages(self) -> tuple[Language, ...]:
        """Every language the instrument is offered in, the default first."""
        return (self.default_language, *self.other_languages)

    def language(self, code: str | None) -> Language:
        """The language with this code; the default language for None or an unknown code."""
        return next((language for language in self.languages if language.code == code), self.default_language)

    def translatable_elements(self) -> Iterator[tuple[str, _Translatable]]:
        """Every element that holds translatable text, with a stable key naming it.

        Keys: ``instrument``, ``section:ID``, ``field:VAR``, ``choice:VAR:CODE``, ``item:VAR``.
        """
        yield "instrument", self
        for section in self.sections:
            yield f"section:{section.id}", section
            for field in section.fields:
                yield f"field:{field.variable}", field
                for choice in field.choices:
                    yield f"choice:{field.variable}:{choice.code}", choice
                for item in field.items:
                    yield f"item:{item.variable}", item

    def section(self, section_id: str) -> Section:
        for section in self.sections:
            if section.id == section_id:
                return section
        raise KeyError(f"instrument {self.name!r} has no section {section_id!r}")

    def answer_slots(self) -> Iterator[tuple[Section, AnswerSlot]]:
        for section in self.sections:
            for slot in section.answer_slots():
                yield section, slot

    def slot(self, variable: str) -> tuple[Section, AnswerSlot]:
        for section, slot in self.answer_slots():
            if slot.variable == variable:
                return section, slot
        raise KeyError(f"instrument {self.name!r} has no variable {variable!r}")

    @property
    def has_technology_sections(self) -> bool:
        return any(section.repeat_per_technology for section in self.sections)

    def calculated_from(self, variables: set[str] | frozenset[str]) -> frozenset[str]:
        """The calculated fields that read any of ``variables``, directly or through another
        calculated field: what must go wherever those answers go (a de-identified export, a purge
        of free text), since a calculation such as ``coalesce(comments, '')`` can copy them."""
        tainted = set(variables)
        found: set[str] = set()
        for _, slot in self.answer_slots():  # in order: a calculation reads only earlier fields
            if slot.field.calculation and parse_calculation(slot.field.calculation).variables & tainted:
                found.add(slot.variable)
                tainted.add(slot.variable)
        return frozenset(found)


def _language_problems(instrument: Instrument) -> list[str]:
    codes = [language.code for language in instrument.languages]
    problems = [f"language {code!r} is listed twice" for code in sorted({c for c in codes if codes.count(c) > 1})]
    for key, element in instrument.translatable_elements():
        stray = sorted(set(element.translations) - set(codes[1:]))
        if stray:
            problems.append(f"{key.replace(':', ' ', 1)}: translations into {', '.join(stray)}, which is not "
                            f"one of the instrument's other languages ({', '.join(codes[1:]) or 'none'})")
    return problems


def _identity_problems(sections: tuple[Section, ...]) -> list[str]:
    problems: list[str] = []
    seen_sections: set[str] = set()
    seen_variables: dict[str, str] = {}
    for section in sections:
        if section.id in seen_sections:
            problems.append(f"section {section.id!r} is defined twice")
        seen_sections.add(section.id)
        for field in section.fields:
            names = [field.variable] + [item.variable for item in field.items]
            for name in names:
                where = f"section {section.id!r}, field {field.variable!r}"
                if name in seen_variables:
                    problems.append(f"{where}: variable {name!r} is already used ({seen_variables[name]})")
                else:
                    seen_variables[name] = where
    return problems


def expression_problems(sections: tuple[Section, ...] | list[Section]) -> list[tuple[int, str | None, str]]:
    """Check every ``show_if`` against the variables in scope at that point.

    Returns ``(section_index, field_variable_or_None, message)`` for each problem, so importers
    can drop an untranslatable condition with a warning instead of failing the whole import.
    """
    return _scoped_problems(sections, calculations=False)


def calculation_problems(sections: tuple[Section, ...] | list[Section]) -> list[tuple[int, str, str]]:
    """Check every calculated field's ``calculation`` as :func:`expression_problems` checks
    conditions (importers skip such a field with a warning)."""
    return _scoped_problems(sections, calculations=True)  # type: ignore[return-value]


def _scoped_problems(sections: tuple[Section, ...] | list[Section], calculations: bool) -> list[tuple[int, str | None, str]]:
    problems: list[tuple[int, str | None, str]] = []
    shared_scope: dict[str, AnswerSlot] = {}  # answers of non-repeated sections seen so far
    for index, section in enumerate(sections):
        where = f"section {section.id!r}"
        if section.show_if and not calculations:
            for message in _check_condition(section.show_if, shared_scope):
                problems.append((index, None, f"{where}: show_if {message}"))
        local_scope: dict[str, AnswerSlot] = {}
        for field in section.fields:
            scope = {**shared_scope, **local_scope}
            if field.show_if and not calculations:
                for message in _check_condition(field.show_if, scope):
                    problems.append((index, field.variable, f"{where}, field {field.variable!r}: show_if {message}"))
            if field.calculation and calculations:
                for message in _check_calculation(field.calculation, scope):
                    problems.append((index, field.variable, f"{where}, field {field.variable!r}: calculation {message}"))
            for slot in field.answer_slots():
                (local_scope if section.repeat_per_technology else shared_scope)[slot.variable] = slot
    return problems


def _check_condition(text: str, scope: dict[str, AnswerSlot]) -> list[str]:
    return _check_tree(parse(text), scope)  # already known to parse (checked by the field validator)


def _check_calculation(text: str, scope: dict[str, AnswerSlot]) -> list[str]:
    calculation = parse_calculation(text)
    messages = _check_tree(calculation, scope)
    for node in calculation.nodes():
        numeric = (node.operands if isinstance(node, Arithmetic) else (node.operand,) if isinstance(node, Negate)
                   else node.arguments if isinstance(node, Function) and node.name != "coalesce" else ())
        for operand in numeric:
            if isinstance(operand, Variable) and operand.name in scope and scope[operand.name].type in (
                    FieldType.MULTIPLE_CHOICE, FieldType.YES_NO):
                kind = scope[operand.name].type
                instead = (f"if({operand.name} = 'yes', 1, 0)" if kind is FieldType.YES_NO
                           else f"if(selected({operand.name}, 'code'), 1, 0)")
                messages.append(f"does arithmetic on the {kind.value} answer {operand.name!r}, whose values are "
                                f"codes, not numbers; use {instead}")
    return messages


def _check_tree(expression, scope: dict[str, AnswerSlot]) -> list[str]:
    messages = [
        f"reads {name!r}, which is not a question answered before this point"
        for name in sorted(expression.variables)
        if name not in scope
    ]
    for node in expression.nodes():
        if isinstance(node, Selected) and node.variable in scope:
            messages.extend(_code_problems(scope[node.variable], node.code, "selected()"))
        elif isinstance(node, Comparison):
            messages.extend(_comparison_problems(node, scope))
    return messages


def _comparison_problems(node: Comparison, scope: dict[str, AnswerSlot]) -> list[str]:
    messages: list[str] = []
    for side, other in ((node.left, node.right), (node.right, node.left)):
        if not isinstance(side, Variable) or side.name not in scope:
            continue
        slot = scope[side.name]
        if slot.type is FieldType.MULTIPLE_CHOICE:
            messages.append(f"compares the multiple-choice answer {side.name!r} with {node.operator!r}; "
                            f"use selected({side.name}, 'code')")
        elif isinstance(other, Literal) and isinstance(other.value, str) and not other.value.strip():
            messages.append(f"compares {side.name!r} with an empty string; use answered({side.name})")
        elif (isinstance(other, Literal) and node.operator in ("=", "!=") and not isinstance(other.value, bool)
              and (slot.type in CHOICE_TYPES or slot.type is FieldType.YES_NO)):
            messages.extend(_code_problems(slot, other.text, f"the comparison with {side.name!r}"))
    return messages


def _code_problems(slot: AnswerSlot, code: str, context: str) -> list[str]:
    field = slot.field
    if field.type not in CHOICE_TYPES and field.type is not FieldType.YES_NO:
        return [f"uses {context} on {slot.variable!r}, which is a {field.type.value} question, not a choice"]
    if code not in field.choice_codes():
        known = ", ".join(sorted(field.choice_codes()))
        return [f"uses code {code!r} in {context}, but {slot.variable!r} has only the codes {known}"]
    return []


# --------------------------------------------------------------------------- loading and storing


def _readable_error(error: ValidationError, data: dict[str, Any]) -> InstrumentError:
    lines = []
    for detail in error.errors():
        location = _describe_location(detail.get("loc", ()), data)
        message = str(detail.get("msg", "")).removeprefix("Value error, ")
        lines.append(f"{location}: {message}" if location else message)
    return InstrumentError(f"instrument {str(data.get('name', '?'))!r} is invalid:\n- " + "\n- ".join(lines))


_NAMING_KEYS = {"sections": ("section", "id"), "fields": ("field", "variable"), "items": ("item", "variable"),
                "choices": ("choice", "code")}


def _describe_location(location: tuple, data: Any) -> str:
    """Turn pydantic's ('sections', 2, 'fields', 4) into "section 'profile' > field 'region'"."""
    parts: list[str] = []
    node = data
    index = 0
    while index < len(location):
        key = location[index]
        node = node.get(key) if isinstance(node, dict) else None
        if key in _NAMING_KEYS and index + 1 < len(location) and isinstance(location[index + 1], int):
            position = location[index + 1]
            node = node[position] if isinstance(node, list) and position < len(node) else None
            noun, name_key = _NAMING_KEYS[key]
            name = node.get(name_key) if isinstance(node, dict) else None
            parts.append(f"{noun} {name!r}" if name is not None else f"{noun} {position + 1}")
            index += 2
        else:
            parts.append(str(key))
            index += 1
    return " > ".join(parts)


def instrument_from_dict(data: dict[str, Any]) -> Instrument:
    """Build an instrument from plain data (as stored in JSON or read from YAML)."""
    if not isinstance(data, dict):
        raise InstrumentError(f"an instrument must be a mapping, got {type(data).__name__}")
    try:
        return Instrument.model_validate(data)
    except ValidationError as error:
        raise _readable_error(error, data) from None


def instrument_to_dict(instrument: Instrument) -> dict[str, Any]:
    """JSON-storable plain data; ``instrument_from_dict`` of it gives an equal instrument."""
    return instrument.model_dump(mode="json", exclude_defaults=True)


def load_instrument_yaml(path_or_text: str | Path) -> Instrument:
    """Load an instrument from a YAML file path or from YAML text."""
    if isinstance(path_or_text, Path) or (
        isinstance(path_or_text, str) and "\n" not in path_or_text and path_or_text.endswith((".yaml", ".yml"))
    ):
        text = Path(path_or_text).read_text(encoding="utf-8")
    else:
        text = path_or_text
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InstrumentError(f"the instrument is not valid YAML: {error}") from None
    return instrument_from_dict(data)


def builtin_instruments() -> dict[str, Instrument]:
    """The instruments shipped in ``survey/builtin/``, keyed by name."""
    found: dict[str, Instrument] = {}
    folder = resources.files("survey") / "builtin"
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if entry.name.endswith(".yaml"):
            instrument = load_instrument_yaml(entry.read_text(encoding="utf-8"))
            found[instrument.name] = instrument
    return found


def instrument_json(instrument: Instrument) -> str:
    """The instrument as a compact, stable JSON string (sorted keys) for storage."""
    return json.dumps(instrument_to_dict(instrument), sort_keys=True, ensure_ascii=False)
