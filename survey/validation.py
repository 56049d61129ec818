"""Server-side validation of answers against an instrument (the same rules the form applies).

Input answers are what a form or an import delivers: ``answers`` maps variable -> raw value for
the non-repeated sections, ``technology_answers`` maps technology id -> {variable: raw value}
for the sections repeated per technology. Raw values may be strings (``"12"`` is a fine
integer, ``"12.5"`` is not), numbers, booleans (for yes/no), lists (multiple choice) or dates.

Branching is applied with :mod:`survey.expressions` over the *cleaned* answers given so far, in
instrument order, so a hidden field is never validated or stored, even if the raw input has a
value for it. Within a repeated section the scope is that technology's answers on top of the
shared answers.

A ``calculated`` field is computed here, from the cleaned answers before it, whenever it is
shown; a value the input gives for it is ignored (a respondent or a file cannot set it). An
empty result (a missing input, a division by zero) stores nothing, like an unanswered question.

The cleaned document has the shape::

    {"answers": {variable: value}, "technologies": {technology_id: {variable: value}}}

with values typed as described in :mod:`survey.instrument`. Every technology passed in appears
in ``technologies`` (possibly with no answers, when its sections are hidden).
"""

from __future__ import annotations

import math
import re
import threading
from collections import ChainMap, OrderedDict
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field as dataclass_field
from datetime import date, datetime
from functools import lru_cache, partial
from typing import Any

from survey.app_text import app_text
from survey.expressions import Calculation, Expression, is_unanswered, parse, parse_calculation
from survey.instrument import EMAIL_PATTERN, PHONE_PATTERN, AnswerSlot, Field, FieldType, Instrument, Section

__all__ = [
    "FieldError",
    "ValidationResult",
    "answer_rows",
    "coerce_answer",
    "format_value",
    "validate_section",
    "validate_submission",
    "visible_fields",
]

REQUIRED_MESSAGE = "This question needs an answer."


class Worded(str):
    """A validation message in English (it is a ``str``: imports and the CLI print it as it is) that
    also carries its locale key and values, so the survey form can word it in the respondent's
    language (survey/locales/*.json, keys ``v_...``)."""

    key: str
    values: dict[str, str]

    def __new__(cls, key: str, **values: object) -> Worded:
        shown = {name: str(value) for name, value in values.items()}
        message = super().__new__(cls, app_text("en", key, **shown))
        message.key, message.values = key, shown
        return message

    def __reduce__(self) -> tuple:
        return _reworded, (self.key, self.values)


def _reworded(key: str, values: dict[str, str]) -> Worded:
    return Worded(key, **values)
MAX_TECHNOLOGY_ID_LENGTH = 200
_INTEGER_TEXT = re.compile(r"[+-]?\d{1,15}")
_DECIMAL_TEXT = re.compile(r"[+-]?(?:\d{1,15}(?:\.\d{0,12})?|\.\d{1,12})")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_FORBIDDEN_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@lru_cache(maxsize=2048)
def _condition(text: str) -> Expression:
    # Instruments are immutable and their conditions already parsed once at load time; cache the trees.
    return parse(text)


@dataclass(frozen=True)
class FieldError:
    """One problem with one answer. ``section_id`` is None for variables the instrument lacks."""

    section_id: str | None
    technology_id: str | None
    variable: str
    message: str
    # "required" (no answer) or "invalid" (an answer that breaks the rules), so a form can word it
    # in the respondent's language.
    kind: str = "invalid"


@dataclass
class ValidationResult:
    errors: list[FieldError]
    document: dict[str, Any]

    @property
    def ok(self) -> bool:
        return not self.errors

    def errors_for(self, variable: str, technology_id: str | None = None) -> list[FieldError]:
        return [e for e in self.errors if e.variable == variable and e.technology_id == technology_id]


# --------------------------------------------------------------------------- coercion


def format_value(value: object) -> str:
    """Canonical text of a cleaned scalar value: ``12``, ``12.5``, ``'2024-01-31'``, codes as-is."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _parse_number(raw: object, whole: bool) -> float | int | None:
    """A finite number from a number or its text; None if it is not one (or not whole when required)."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        if not math.isfinite(raw) or (whole and not raw.is_integer()):
            return None
        return int(raw) if whole else raw
    if isinstance(raw, str):
        text = raw.strip()
        if whole:
            return int(text) if _INTEGER_TEXT.fullmatch(text) else None
        return float(text) if _DECIMAL_TEXT.fullmatch(text) else None
    return None


def _range_message(value: float | date, field: Field) -> str | None:
    low, high = field.bounds()
    if low is not None and value < low:
        return Worded("v_at_least", value=format_value(low)) if not isinstance(low, date) else Worded("v_on_or_after", value=low)
    if high is not None and value > high:
        return Worded("v_at_most", value=format_value(high)) if not isinstance(high, date) else Worded("v_on_or_before", value=high)
    return None


def _coerce_choice(raw: object, field: Field, codes: frozenset[str]) -> tuple[object, str | None]:
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        return None, Worded("v_choose_one")
    code = raw.strip() if isinstance(raw, str) else format_value(raw).strip()
    if code not in codes:
        return None, Worded("v_not_an_option", value=repr(code[:50]))
    return code, None


def _coerce_yes_no(raw: object) -> tuple[object, str | None]:
    if isinstance(raw, bool):
        return ("yes" if raw else "no"), None
    text = format_value(raw).strip().lower() if isinstance(raw, (str, int, float)) else ""
    if text in ("yes", "y", "true", "1"):
        return "yes", None
    if text in ("no", "n", "false", "0"):
        return "no", None
    return None, Worded("v_yes_or_no")


def _coerce_multiple(raw: object, field: Field, known: frozenset[str]) -> tuple[object, str | None]:
    if not isinstance(raw, (list, tuple, set, frozenset)):
        return None, Worded("v_choose_some")
    codes: set[str] = set()
    for item in raw:
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            return None, Worded("v_choose_some")
        codes.add(format_value(item).strip())
    unknown = sorted(codes - known)
    if unknown:
        return None, Worded("v_not_among_option" if len(unknown) == 1 else "v_not_among_options",
                           values=", ".join(repr(code[:50]) for code in unknown))
    exclusive = [choice for choice in field.choices if choice.exclusive and choice.code in codes]
    if exclusive and len(codes) > 1:
        return None, Worded("v_exclusive", label=exclusive[0].label)
    return [choice.code for choice in field.choices if choice.code in codes], None


def _coerce_number(raw: object, field: Field) -> tuple[object, str | None]:
    whole = field.type in (FieldType.INTEGER, FieldType.RATING_5, FieldType.RATING_9)
    number = _parse_number(raw, whole)
    if number is None:
        return None, Worded("v_whole_number") if whole else Worded("v_number")
    message = _range_message(number, field)
    if message:
        return None, message
    if field.type is FieldType.SLIDER:
        step = field.validation.step
        if step is not None:
            steps = (number - field.validation.min) / step
            if abs(steps - round(steps)) > 1e-9:
                return None, Worded("v_multiple_of", step=format_value(step), start=format_value(field.validation.min))
        return (int(number) if float(number).is_integer() else float(number)), None
    if field.type is FieldType.DECIMAL:
        return float(number), None
    return number, None


def _coerce_date(raw: object, field: Field) -> tuple[object, str | None]:
    if isinstance(raw, datetime):
        return None, Worded("v_date_only")
    if isinstance(raw, date):
        value = raw
    elif isinstance(raw, str) and _ISO_DATE.fullmatch(raw.strip()):
        try:
            value = date.fromisoformat(raw.strip())
        except ValueError:
            return None, Worded("v_not_real_date", value=raw.strip())
    else:
        return None, Worded("v_date_format")
    message = _range_message(value, field)
    return (None, message) if message else (value.isoformat(), None)


def _coerce_text(raw: object, field: Field) -> tuple[object, str | None]:
    if not isinstance(raw, str):
        return None, Worded("v_text")
    text = raw.replace("\r\n", "\n").strip()
    if field.type is FieldType.SHORT_TEXT:
        text = " ".join(text.split("\n"))
    if _FORBIDDEN_CONTROL.search(text):
        return None, Worded("v_control_characters")
    limit = field.max_length()
    if limit is not None and len(text) > limit:
        return None, Worded("v_too_long", limit=limit, length=len(text))
    pattern = field.validation.pattern
    if pattern is not None and not re.fullmatch(pattern, text):
        if pattern == EMAIL_PATTERN:
            return None, Worded("v_email")
        if pattern == PHONE_PATTERN:
            return None, Worded("v_phone")
        return None, Worded("v_format")
    return text, None


Coercer = Callable[[object], tuple[object, str | None]]


def _coercer(field: Field) -> Coercer:
    """The function that turns a raw answer to ``field`` into its stored value (not called for unanswered)."""
    kind = field.type
    if kind in (FieldType.SINGLE_CHOICE, FieldType.DROPDOWN, FieldType.MATRIX):
        return partial(_coerce_choice, field=field, codes=field.choice_codes())
    if kind is FieldType.YES_NO:
        return _coerce_yes_no
    if kind is FieldType.MULTIPLE_CHOICE:
        return partial(_coerce_multiple, field=field, known=field.choice_codes())
    if kind in (FieldType.INTEGER, FieldType.DECIMAL, FieldType.SLIDER, FieldType.RATING_5, FieldType.RATING_9):
        return partial(_coerce_number, field=field)
    if kind is FieldType.DATE:
        return partial(_coerce_date, field=field)
    return partial(_coerce_text, field=field)


def coerce_answer(slot: AnswerSlot, raw: object) -> tuple[object, str | None]:
    """Turn a raw answer into its stored value. Returns (value, None), (None, message) or (None, None) if unanswered."""
    if is_unanswered(raw):
        return None, None
    return _coercer(slot.field)(raw)


# --------------------------------------------------------------------------- the plan


@lru_cache(maxsize=512)
def _calculation(text: str) -> Calculation:
    return parse_calculation(text)


@dataclass(frozen=True)
class _FieldPlan:
    field: Field
    condition: Expression | None
    slots: tuple[tuple[str, Coercer], ...]  # (variable, coercer) per answer slot
    calculation: Calculation | None = None


@dataclass(frozen=True)
class _SectionPlan:
    section: Section
    condition: Expression | None
    fields: tuple[_FieldPlan, ...]


@dataclass(frozen=True)
class _Plan:
    """An instrument prepared for validation once: conditions parsed, answer slots and coercers built,
    variable names collected. Validating a response then does no per-field set-up (what an import of
    100,000 responses would otherwise repeat millions of times)."""

    sections: tuple[_SectionPlan, ...]
    shared_names: frozenset[str]
    repeated_names: frozenset[str]
    silent: frozenset[str]  # descriptive and matrix-group names: never answers, ignored


_PLANS: OrderedDict[int, tuple[Instrument, _Plan]] = OrderedDict()
_PLANS_LOCK = threading.Lock()
_PLANS_KEPT = 32


def _plan(instrument: Instrument) -> _Plan:
    # Keyed by identity, holding the instrument itself so its id cannot be reused while cached.
    key = id(instrument)
    with _PLANS_LOCK:
        cached = _PLANS.get(key)
        if cached is not None and cached[0] is instrument:
            _PLANS.move_to_end(key)
            return cached[1]
    plan = _make_plan(instrument)
    with _PLANS_LOCK:
        _PLANS[key] = (instrument, plan)
        while len(_PLANS) > _PLANS_KEPT:
            _PLANS.popitem(last=False)
    return plan


def _make_plan(instrument: Instrument) -> _Plan:
    sections = []
    shared: set[str] = set()
    repeated: set[str] = set()
    silent: set[str] = set()
    for section in instrument.sections:
        names = repeated if section.repeat_per_technology else shared
        fields = []
        for field in section.fields:
            slots = field.answer_slots()
            names.update(slot.variable for slot in slots)
            if field.type in (FieldType.DESCRIPTIVE, FieldType.MATRIX):
                silent.add(field.variable)
            coerce = _coercer(field)
            fields.append(_FieldPlan(field, _condition(field.show_if) if field.show_if else None,
                                     tuple((slot.variable, coerce) for slot in slots),
                                     _calculation(field.calculation) if field.calculation else None))
        sections.append(_SectionPlan(section, _condition(section.show_if) if section.show_if else None, tuple(fields)))
    return _Plan(tuple(sections), frozenset(shared), frozenset(repeated), frozenset(silent))


# --------------------------------------------------------------------------- the walk


@dataclass
class _Walk:
    """One pass over the instrument in order, applying branching and validating visible answers."""

    instrument: Instrument
    errors: list[FieldError] = dataclass_field(default_factory=list)
    shared: dict[str, object] = dataclass_field(default_factory=dict)
    per_technology: dict[str, dict[str, object]] = dataclass_field(default_factory=dict)
    visible: dict[tuple[str, str | None], list[Field]] = dataclass_field(default_factory=dict)

    def run(self, answers: Mapping[str, object], technology_answers: Mapping[str, Mapping[str, object]]) -> None:
        plan = _plan(self.instrument)
        self._check_unknown(plan, answers, technology_answers)
        for technology_id in technology_answers:
            if isinstance(technology_id, str) and 0 < len(technology_id.strip()) <= MAX_TECHNOLOGY_ID_LENGTH:
                self.per_technology[technology_id] = {}
        for section in plan.sections:
            if not section.section.repeat_per_technology:
                self._visit(section, answers, self.shared, self.shared, None)
                continue
            for technology_id, store in self.per_technology.items():
                raw = technology_answers[technology_id]
                raw = raw if isinstance(raw, Mapping) else {}
                self._visit(section, raw, ChainMap(store, self.shared), store, technology_id)

    def _visit(self, plan: _SectionPlan, raw: Mapping[str, object], scope: Mapping[str, object],
               store: MutableMapping[str, object], technology_id: str | None) -> None:
        shown: list[Field] = []
        section_id = plan.section.id
        self.visible[(section_id, technology_id)] = shown
        if plan.condition is not None and not plan.condition.evaluate(scope):
            return
        for field_plan in plan.fields:
            if field_plan.condition is not None and not field_plan.condition.evaluate(scope):
                continue
            field = field_plan.field
            shown.append(field)
            if field_plan.calculation is not None:
                value = field_plan.calculation.compute(scope)
                if value is not None:
                    store[field.variable] = value
                continue
            for variable, coerce in field_plan.slots:
                given = raw.get(variable)
                value, message = (None, None) if given is None or is_unanswered(given) else coerce(given)
                if message is None and value is None and field.required:
                    self.errors.append(FieldError(section_id, technology_id, variable,
                                                  field.required_message or REQUIRED_MESSAGE, "required"))
                elif message is not None:
                    self.errors.append(FieldError(section_id, technology_id, variable,
                                                  field.constraint_message or message))
                elif value is not None:
                    store[variable] = value

    def _check_unknown(self, plan: _Plan, answers: Mapping[str, object], technology_answers: Mapping[str, object]) -> None:
        shared_names, repeated_names, silent = plan.shared_names, plan.repeated_names, plan.silent
        for name in answers:
            if name in shared_names or name in silent:
                continue
            hint = ("is asked per technology; give it in the technology answers" if name in repeated_names
                    else "is not a question of this instrument")
            self.errors.append(FieldError(None, None, str(name)[:100], f"{str(name)[:100]!r} {hint}."))
        for technology_id, raw in technology_answers.items():
            label = str(technology_id)[:100]
            if not self.instrument.has_technology_sections:
                self.errors.append(FieldError(None, label, "technology_id",
                                              "This instrument has no questions asked per technology."))
                continue
            if not isinstance(technology_id, str) or not technology_id.strip() or len(technology_id) > MAX_TECHNOLOGY_ID_LENGTH:
                self.errors.append(FieldError(None, label, "technology_id",
                                              f"A technology id must be text of 1 to {MAX_TECHNOLOGY_ID_LENGTH} characters."))
                continue
            if not isinstance(raw, Mapping):
                self.errors.append(FieldError(None, technology_id, "technology_id",
                                              "The answers for a technology must be a mapping of variable to value."))
                continue
            for name in raw:
                if name in repeated_names or name in silent:
                    continue
                hint = ("is not asked per technology" if name in shared_names
                        else "is not a question of this instrument")
                self.errors.append(FieldError(None, technology_id, str(name)[:100], f"{str(name)[:100]!r} {hint}."))

    def document(self) -> dict[str, Any]:
        return {"answers": dict(self.shared), "technologies": {tid: dict(values) for tid, values in self.per_technology.items()}}


def _walk(instrument: Instrument, answers: Mapping[str, object] | None,
          technology_answers: Mapping[str, Mapping[str, object]] | None) -> _Walk:
    walk = _Walk(instrument)
    walk.run(answers or {}, technology_answers or {})
    return walk


def validate_submission(instrument: Instrument, answers: Mapping[str, object],
                        technology_answers: Mapping[str, Mapping[str, object]] | None = None) -> ValidationResult:
    """Validate a whole submission; returns every error and the cleaned document. Never raises on bad answers."""
    walk = _walk(instrument, answers, technology_answers)
    return ValidationResult(errors=walk.errors, document=walk.document())


def validate_section(instrument: Instrument, section: Section | str, answers: Mapping[str, object],
                     technology_answers: Mapping[str, Mapping[str, object]] | None = None,
                     technology_id: str | None = None) -> list[FieldError]:
    """Errors on one page: the section's own questions (for one technology if ``technology_id`` is given).

    Earlier pages' answers are used for branching exactly as in :func:`validate_submission`;
    their errors (and later pages' missing answers) are not reported here.
    """
    section_id = section if isinstance(section, str) else section.id
    instrument.section(section_id)  # KeyError for an unknown section
    walk = _walk(instrument, answers, technology_answers)
    return [error for error in walk.errors
            if error.section_id == section_id and (technology_id is None or error.technology_id == technology_id)]


def visible_fields(instrument: Instrument, answers: Mapping[str, object], section: Section | str,
                   technology_answers: Mapping[str, object] | None = None) -> list[Field]:
    """The fields of ``section`` to show now, given the answers so far.

    For a repeated section, ``technology_answers`` are the answers for the one technology being
    shown (variable -> value). A hidden section gives an empty list.
    """
    section_id = section if isinstance(section, str) else section.id
    target = instrument.section(section_id)
    if not target.repeat_per_technology:
        return _walk(instrument, answers, None).visible.get((section_id, None), [])
    walk = _walk(instrument, answers, {"current": technology_answers or {}})
    return walk.visible.get((section_id, "current"), [])


# --------------------------------------------------------------------------- long format


def answer_rows(document: Mapping[str, Any]) -> list[tuple[str | None, str, str]]:
    """Long-format rows ``(technology_id or None, variable, value)`` of a cleaned document.

    One row per answered variable; a multiple-choice answer gives one row per selected code;
    numbers are canonical text (``12``, ``12.5``).
    """
    rows: list[tuple[str | None, str, str]] = []
    blocks = [(None, document.get("answers", {}))]
    blocks += list(document.get("technologies", {}).items())
    for technology_id, values in blocks:
        for variable, value in values.items():
            if type(value) is str:  # most answers are codes: no conversion
                rows.append((technology_id, variable, value))
            elif isinstance(value, (list, tuple)):
                rows.extend((technology_id, variable, item if type(item) is str else format_value(item)) for item in value)
            else:
                rows.append((technology_id, variable, format_value(value)))
    return rows
