"""The translator's workbook: every text of an instrument, a column per language.

:func:`translation_workbook` writes one row per text (``key`` and ``text`` name it, ``where``
describes it for the translator), then one column per language headed ``Name (code)``, the
default language first; a cell is empty where a translation is missing. A translator fills in
the empty cells, or adds a column for a new language.

:func:`apply_translation_workbook` reads it back into a new instrument. It is all-or-nothing:
every problem is collected and named by its row, and nothing is applied when there is any.
Each translation must keep the placeholders of the default text (``${name}`` and ``[name]``
references to answers), so piped answers and branching references stay the same in every
language. The default-language column must match the instrument: its text is changed in the
instrument itself, not here. An empty cell removes that translation; rows left out keep theirs.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from survey.instrument import Instrument, InstrumentError, Language, instrument_from_dict, instrument_to_dict
from survey.languages import parse_language
from survey.workbooks import workbook_bytes

__all__ = [
    "TranslationImportError",
    "TranslationRow",
    "apply_translation_workbook",
    "placeholders",
    "translation_rows",
    "translation_workbook",
]

SHEET = "translations"
KEY, TEXT, WHERE = "key", "text", "where"
_PIPED = re.compile(r"\$\{\s*([^}\s]*)\s*\}")
_BRACKETED = re.compile(r"\[([A-Za-z][A-Za-z0-9_]*)(?:\([^)\]]*\)|:[^\]]*)?\]")
_NOUNS = {"instrument": "instrument", "section": "section", "field": "question", "choice": "option", "item": "matrix row"}


class TranslationImportError(ValueError):
    """The workbook was refused; ``problems`` names every rejected row or column."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"nothing imported; {len(problems)} problem(s):\n- " + "\n- ".join(problems))


@dataclass(frozen=True)
class TranslationRow:
    key: str
    text: str  # the attribute: label, help, title, ...
    where: str
    default: str
    translations: dict[str, str]


def placeholders(text: str, variables: frozenset[str]) -> Counter[str]:
    """The answer references in a text: every ``${x}``, and ``[x]`` when ``x`` is a question."""
    found: Counter[str] = Counter("${" + name + "}" for name in _PIPED.findall(text))
    found.update(match.group(0) for match in _BRACKETED.finditer(text) if match.group(1) in variables)
    return found


def _where(key: str, attribute: str) -> str:
    kind, _, rest = key.partition(":")
    return f"{_NOUNS[kind]} {rest.replace(':', ' ')} — {attribute}".replace("instrument  — ", "instrument — ")


def translation_rows(instrument: Instrument) -> Iterator[TranslationRow]:
    """Every non-empty default-language text, in form order."""
    for key, element in instrument.translatable_elements():
        for attribute in element.TRANSLATABLE:
            default = getattr(element, attribute)
            if default:
                yield TranslationRow(key, attribute, _where(key, attribute), default,
                                     {code: texts[attribute] for code, texts in element.translations.items()
                                      if attribute in texts})


def translation_workbook(instrument: Instrument) -> bytes:
    """The translator's .xlsx workbook for this instrument."""
    languages = instrument.languages
    header = [KEY, TEXT, WHERE, *(language.label for language in languages)]
    rows = [[row.key, row.text, row.where, row.default, *(row.translations.get(language.code, "")
                                                           for language in languages[1:])]
            for row in translation_rows(instrument)]
    return workbook_bytes([(SHEET, header, rows)])


def _cell(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _read_sheet(data: bytes) -> list[tuple[int, list[str]]]:
    import openpyxl  # imported here: only the workbook import needs it

    # openpyxl raises many unrelated exception types for a damaged file; to the user they all
    # mean the same thing.
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:
        raise TranslationImportError([f"not a readable .xlsx workbook ({type(error).__name__})"]) from None
    try:
        worksheet = workbook[SHEET] if SHEET in workbook.sheetnames else workbook.worksheets[0]
        return [(number, [_cell(value) for value in row])
                for number, row in enumerate(worksheet.iter_rows(values_only=True), start=1) if any(row)]
    finally:
        workbook.close()


def _header_languages(header: list[str], instrument: Instrument,
                      problems: list[str]) -> tuple[dict[int, Language], dict[str, int]]:
    columns = {name.lower(): index for index, name in enumerate(header) if name.lower() in (KEY, TEXT, WHERE)}
    for required in (KEY, TEXT):
        if required not in columns:
            problems.append(f"row 1: there is no {required!r} column")
    languages: dict[int, Language] = {}
    for index, name in enumerate(header):
        if not name or name.lower() in columns:
            continue
        language = parse_language(name)
        if language is None:
            problems.append(f"row 1: column {name!r} names no language; head it 'Name (code)' with the "
                            f"two-letter ISO 639-1 code, e.g. 'Cymraeg (cy)'")
        elif language.code in {known.code for known in languages.values()}:
            problems.append(f"row 1: column {name!r} repeats the language {language.code!r}")
        else:
            known = next((item for item in instrument.languages if item.code == language.code), None)
            languages[index] = known or language
    return languages, columns


def apply_translation_workbook(instrument: Instrument, data: bytes) -> Instrument:
    """The instrument with the workbook's translations (same name and version; the caller publishes it)."""
    rows = _read_sheet(data)
    if not rows:
        raise TranslationImportError(["the workbook is empty"])
    problems: list[str] = []
    languages, columns = _header_languages(rows[0][1], instrument, problems)
    if problems:
        raise TranslationImportError(problems)
    default_code = instrument.default_language.code
    known = {(row.key, row.text): row for row in translation_rows(instrument)}
    variables = frozenset(slot.variable for _, slot in instrument.answer_slots())
    seen: dict[tuple[str, str], int] = {}
    changes: dict[str, dict[str, dict[str, str]]] = {}  # key -> language -> attribute -> text ("" removes)
    for number, cells in rows[1:]:
        cells = cells + [""] * (len(rows[0][1]) - len(cells))
        ident = (cells[columns[KEY]], cells[columns[TEXT]])
        row = known.get(ident)
        if row is None:
            problems.append(f"row {number}: {ident[0]!r} {ident[1]!r} is not a text of {instrument.name} "
                            f"version {instrument.version}")
            continue
        if ident in seen:
            problems.append(f"row {number}: repeats row {seen[ident]} ({row.where})")
            continue
        seen[ident] = number
        expected = placeholders(row.default, variables)
        for index, language in languages.items():
            text = cells[index]
            if language.code == default_code:
                if text and " ".join(text.split()) != " ".join(row.default.split()):
                    problems.append(f"row {number} ({row.where}): the {language.name} text differs from the "
                                    f"instrument's; change it in the instrument, not in the translations")
                continue
            found = placeholders(text, variables) if text else expected
            if found != expected:
                problems.append(f"row {number} ({row.where}): the {language.label} text has the references "
                                f"{_listed(found)} but the {instrument.default_language.name} text has "
                                f"{_listed(expected)}; they must be the same in every language")
                continue
            changes.setdefault(row.key, {}).setdefault(language.code, {})[row.text] = text
    if problems:
        raise TranslationImportError(problems)
    used = {code for texts_by_code in changes.values() for code, texts in texts_by_code.items() if any(texts.values())}
    others = [*instrument.other_languages]
    others += [language for language in languages.values() if language.code in used
               and language.code != default_code and language.code not in {item.code for item in others}]
    keys = {id(element): key for key, element in instrument.translatable_elements()}
    translated = _retranslated(instrument, keys, changes)
    data_out = instrument_to_dict(translated)
    data_out["other_languages"] = [language.model_dump() for language in others]
    try:
        return instrument_from_dict(data_out)
    except InstrumentError as error:
        raise TranslationImportError([str(error)]) from None


def _listed(found: Counter[str]) -> str:
    return ", ".join(sorted(found.elements())) or "none"


def _retranslated(model: BaseModel, keys: dict[int, str], changes: dict[str, dict[str, dict[str, str]]]) -> Any:
    """A copy of ``model`` (and of the elements inside it) with the changed translations merged in."""
    update: dict[str, Any] = {}
    for name, value in model:
        if isinstance(value, tuple) and value and isinstance(value[0], BaseModel):
            update[name] = tuple(_retranslated(item, keys, changes) for item in value)
    key = keys.get(id(model))
    if key in changes:
        merged = {code: dict(texts) for code, texts in model.translations.items()}
        for code, texts in changes[key].items():
            merged.setdefault(code, {}).update(texts)
        update["translations"] = {code: {attribute: text for attribute, text in texts.items() if text}
                                  for code, texts in merged.items()}
    return model.model_copy(update=update) if update else model
