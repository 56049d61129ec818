"""The survey form's own words (buttons, headings, messages) in each language.

Each language is one JSON file named by its ISO 639-1 code (``en.json``, ``cy.json``) in
``survey/locales/`` or in the folder the ``ROADMAP_LOCALE_DIR`` environment variable names, so
adding a language is a matter of dropping in a translated copy of ``en.json``. English is always
complete; a key missing from another language falls back to English. Placeholders such as
``{count}`` must be kept as they are.
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

from survey.instrument import Field, FieldType

__all__ = ["LOCALE_DIR_VARIABLE", "app_languages", "app_text", "choice_text"]

LOCALE_DIR_VARIABLE = "ROADMAP_LOCALE_DIR"
_FILE_NAME = re.compile(r"^([a-z]{2})\.json$")


def _folders() -> list[Path]:
    folders = [Path(str(resources.files("survey") / "locales"))]
    extra = os.environ.get(LOCALE_DIR_VARIABLE, "").strip()
    if extra:
        folders.append(Path(extra))
    return folders


def _locale_files() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder in _folders():
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                match = _FILE_NAME.match(path.name)
                if match:
                    found[match.group(1)] = path
    return found


@lru_cache(maxsize=32)
def _read(path: str, modified: float) -> dict[str, str]:
    # Keyed by modification time, so an edited file is read again without a restart.
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a locale file must be a JSON object of key: text")
    return {str(key): str(value) for key, value in data.items()}


def _strings(code: str) -> dict[str, str]:
    path = _locale_files().get(code)
    if path is None:
        return {}
    if code == "en":
        return _read(str(path), path.stat().st_mtime)
    try:
        return _read(str(path), path.stat().st_mtime)
    except (OSError, ValueError):  # a damaged translation must not break the form: English is used
        return {}


def app_languages() -> frozenset[str]:
    """The codes of the languages the form's own words are available in."""
    return frozenset(_locale_files())


def app_text(language: str | None, key: str, **values: object) -> str:
    """The form's text ``key`` in ``language`` (English where that language lacks it), filled in."""
    english = _strings("en")[key]
    text = _strings(language).get(key, english) if language and language != "en" else english
    try:
        return text.format(**values)
    except (KeyError, IndexError, ValueError):  # a translation with a mistyped placeholder
        return english.format(**values)


def choice_text(field: Field, code: str, language: str | None) -> str:
    """An option's label in ``language``: yes/no in the form's own words, other options as the instrument has them."""
    if field.type is FieldType.YES_NO and code in ("yes", "no"):
        return app_text(language, code)
    return field.choice_label(code, language)
