"""Language names and codes, and reading the language part of a column header.

Headers name a language as ``Name (code)`` (XLSForm's recommended spelling), as a bare ISO 639-1
code (``cy``) or as a bare name (``Welsh``, ``english``); :func:`parse_language` reads all three.
A bare name is looked up in :data:`LANGUAGE_NAMES`, which holds the languages most often met in
NHS surveys; any other language is written with its code.
"""

from __future__ import annotations

import re

from survey.instrument import LANGUAGE_CODE_PATTERN, Language

__all__ = ["LANGUAGE_NAMES", "accepted_languages", "language_name", "parse_language", "starting_language"]

LANGUAGE_NAMES: dict[str, tuple[str, ...]] = {
    # code: (English name, other names it is written as)
    "ar": ("Arabic", "العربية"),
    "bn": ("Bengali", "Bangla", "বাংলা"),
    "bg": ("Bulgarian", "Български"),
    "cs": ("Czech", "Čeština"),
    "cy": ("Welsh", "Cymraeg"),
    "da": ("Danish", "Dansk"),
    "de": ("German", "Deutsch"),
    "el": ("Greek", "Ελληνικά"),
    "en": ("English",),
    "es": ("Spanish", "Español"),
    "et": ("Estonian", "Eesti"),
    "fa": ("Persian", "Farsi", "فارسی"),
    "fi": ("Finnish", "Suomi"),
    "fr": ("French", "Français"),
    "ga": ("Irish", "Gaeilge"),
    "gd": ("Scottish Gaelic", "Gaelic", "Gàidhlig"),
    "gu": ("Gujarati", "ગુજરાતી"),
    "he": ("Hebrew", "עברית"),
    "hi": ("Hindi", "हिन्दी"),
    "hr": ("Croatian", "Hrvatski"),
    "hu": ("Hungarian", "Magyar"),
    "it": ("Italian", "Italiano"),
    "ja": ("Japanese", "日本語"),
    "ko": ("Korean", "한국어"),
    "ku": ("Kurdish", "Kurdî"),
    "lt": ("Lithuanian", "Lietuvių"),
    "lv": ("Latvian", "Latviešu"),
    "ml": ("Malayalam", "മലയാളം"),
    "ne": ("Nepali", "नेपाली"),
    "nl": ("Dutch", "Nederlands"),
    "no": ("Norwegian", "Norsk"),
    "pa": ("Punjabi", "Panjabi", "ਪੰਜਾਬੀ"),
    "pl": ("Polish", "Polski"),
    "ps": ("Pashto", "پښتو"),
    "pt": ("Portuguese", "Português"),
    "ro": ("Romanian", "Română"),
    "ru": ("Russian", "Русский"),
    "sk": ("Slovak", "Slovenčina"),
    "so": ("Somali", "Soomaali"),
    "sq": ("Albanian", "Shqip"),
    "sv": ("Swedish", "Svenska"),
    "sw": ("Swahili", "Kiswahili"),
    "ta": ("Tamil", "தமிழ்"),
    "th": ("Thai", "ไทย"),
    "ti": ("Tigrinya", "ትግርኛ"),
    "tl": ("Tagalog", "Filipino"),
    "tr": ("Turkish", "Türkçe"),
    "uk": ("Ukrainian", "Українська"),
    "ur": ("Urdu", "اردو"),
    "vi": ("Vietnamese", "Tiếng Việt"),
    "yo": ("Yoruba", "Yorùbá"),
    "zh": ("Chinese", "中文"),
}
_CODE_BY_NAME = {name.casefold(): code for code, names in LANGUAGE_NAMES.items() for name in names}
_NAME_WITH_CODE = re.compile(r"^(?P<name>.*?)\s*\(\s*(?P<code>[A-Za-z]{2})\s*\)$")


def language_name(code: str) -> str:
    """The English name of a known code; the code itself otherwise."""
    return LANGUAGE_NAMES.get(code, (code,))[0]


def parse_language(text: str) -> Language | None:
    """The language a header names (``Welsh (cy)``, ``cy``, ``Welsh``); None if it names none we can code."""
    text = " ".join(text.split())
    if not text:
        return None
    match = _NAME_WITH_CODE.match(text)
    if match:
        code = match.group("code").lower()
        return Language(code=code, name=match.group("name") or language_name(code))
    if re.fullmatch(LANGUAGE_CODE_PATTERN, text.lower()) and text.lower() in LANGUAGE_NAMES:
        return Language(code=text.lower(), name=language_name(text.lower()))
    code = _CODE_BY_NAME.get(text.casefold())
    if code is not None:
        # Keep the spelling the form uses when it is a proper name ("Cymraeg"); tidy lower-case headers.
        return Language(code=code, name=text if not text.islower() else language_name(code))
    return None


def accepted_languages(header: str | None) -> list[str]:
    """The two-letter language codes of an HTTP ``Accept-Language`` header, most wanted first.

    ``cy-GB,cy;q=0.9,en;q=0.8`` -> ``["cy", "en"]``; malformed parts are skipped.
    """
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate((header or "")[:1000].split(",")):
        tag, _, parameters = part.strip().partition(";")
        code = tag.strip().split("-", 1)[0].lower()
        if not re.fullmatch(LANGUAGE_CODE_PATTERN, code):
            continue
        quality = 1.0
        match = re.fullmatch(r"\s*q\s*=\s*([0-9.]+)\s*", parameters) if parameters else None
        if parameters and match is None:
            continue
        if match:
            try:
                quality = float(match.group(1))
            except ValueError:
                continue
        if quality > 0:
            weighted.append((-quality, position, code))
    codes: list[str] = []
    for _, _, code in sorted(weighted):
        if code not in codes:
            codes.append(code)
    return codes


def starting_language(offered: list[str], campaign_default: str | None, accept_language: str | None) -> str:
    """The language a form opens in: the campaign's default, else the browser's first offered
    language, else the first offered (the instrument's default)."""
    if campaign_default in offered:
        return campaign_default
    return next((code for code in accepted_languages(accept_language) if code in offered), offered[0])


def parse_titles(text: str) -> dict[str, str]:
    """Titles per language from lines of ``language: title`` (the language as a code, ``cy``, or a
    name, ``Welsh``, ``Cymraeg``); blank lines are skipped. Raises ValueError naming every bad line."""
    titles: dict[str, str] = {}
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        named, separator, title = line.partition(":")
        language = parse_language(named) if separator else None
        code = language.code if language else named.strip().lower()
        if not separator or not re.fullmatch(LANGUAGE_CODE_PATTERN, code):
            problems.append(f"line {number}: write the language, a colon, then the title (for example cy: Arolwg y staff)")
        elif not title.strip():
            problems.append(f"line {number}: the title in {language_name(code)} is empty")
        elif code in titles:
            problems.append(f"line {number}: a second title in {language_name(code)}")
        else:
            titles[code] = title.strip()
    if problems:
        raise ValueError("; ".join(problems))
    return titles
