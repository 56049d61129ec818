"""Tolerant reading of flat-file cells that spreadsheets and pandas rewrite.

A column that passes through a float (pandas does this to any number column with a gap)
comes back as ``1.0``; Excel and pandas write booleans as ``TRUE``/``FALSE``; a date column
that lost its format shows Excel's day count (``45444`` is 2024-06-01); ``df.astype(str)``
turns gaps into ``nan``. A cell is read back to what was meant only where that is
unambiguous for its column, and every such reading is reported as a :class:`Coercion`
(row, column, what the file says, what was read, why), so the person importing can check.

What is *not* taken: a decimal with a fraction (``4.5``) where a whole number is expected, a
day count with a time part (``45444.5``) or outside 1927-2173 where a date is expected (a
four-digit number is more likely a year), and ``nan`` in a text column or where ``nan`` is an
option's code or label.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import Enum

__all__ = ["CellKind", "Coercion", "excel_serial_datetime", "tolerant_cell", "whole_number"]

WHOLE_AS_DECIMAL = "a whole number written as a decimal"
BOOLEAN_WORD = "yes/no written as TRUE/FALSE"
EXCEL_SERIAL = "an Excel date serial number"
MISSING_MARKER = "an empty cell written as a missing-value marker"

_WHOLE_DECIMAL = re.compile(r"([+-]?[0-9]+)\.0+")
_SERIAL = re.compile(r"([0-9]{5})(?:\.0+)?")
_SERIAL_WITH_TIME = re.compile(r"[0-9]{5}(?:\.[0-9]+)?")
_MISSING_MARKERS = frozenset({"nan", "NaN", "<NA>", "NaT"})
_BOOLEANS = {"true": "1", "false": "0", "yes": "1", "no": "0"}
_EXCEL_EPOCH = datetime(1899, 12, 30)  # Excel's day 0 once its 1900 leap-year bug is allowed for
# Five-digit day counts only: 10000 is 1927-05-18, 99999 is 2173-10-14.
_FIRST_SERIAL, _LAST_SERIAL = 10_000, 99_999


class CellKind(Enum):
    """How a column's cells are read."""

    CHECKBOX = "checkbox"  # one option of a multiple-choice question: 1/0, Checked/Unchecked
    YES_NO = "yes_no"
    WHOLE = "whole"  # integers and ratings
    CHOICE = "choice"  # single choice, dropdown, matrix item
    DATE = "date"
    NUMBER = "number"  # decimals and sliders
    TEXT = "text"


@dataclass(frozen=True)
class Coercion:
    """One cell read as something other than what it says, and why."""

    row: int
    column: str
    original: str
    value: str
    reason: str

    def __str__(self) -> str:
        shown = repr(self.value) if self.value else "empty"
        return f"row {self.row}, column {self.column}: {self.original!r} read as {shown} ({self.reason})"


def whole_number(text: str) -> str | None:
    """``"4.0"`` -> ``"4"``; None for anything else."""
    match = _WHOLE_DECIMAL.fullmatch(text)
    return str(int(match.group(1))) if match else None


def excel_serial_datetime(text: str) -> datetime | None:
    """An Excel day count (with an optional time fraction) in the accepted range, as a date-time."""
    if not _SERIAL_WITH_TIME.fullmatch(text):
        return None
    days = float(text)
    if not _FIRST_SERIAL <= days < _LAST_SERIAL + 1:
        return None
    return (_EXCEL_EPOCH + timedelta(days=days)).replace(microsecond=0)


def _excel_serial_date(text: str) -> str | None:
    match = _SERIAL.fullmatch(text)
    if match is None or not _FIRST_SERIAL <= int(match.group(1)) <= _LAST_SERIAL:
        return None
    return (date(1899, 12, 30) + timedelta(days=int(match.group(1)))).isoformat()


def tolerant_cell(kind: CellKind, text: str, choices: frozenset[str] = frozenset()) -> tuple[str, str | None]:
    """``(text to read, reason)``: the cell as written with no reason, or its unambiguous reading.

    ``text`` is stripped and not empty; ``choices`` are the lower-case codes and labels of the
    column's options (a value that is one of them is never reinterpreted).
    """
    if kind is CellKind.TEXT or text.lower() in choices:
        return text, None
    if text in _MISSING_MARKERS:
        return "", MISSING_MARKER
    if kind is CellKind.CHECKBOX or kind is CellKind.YES_NO:
        word = text.lower()
        if word in _BOOLEANS and (kind is CellKind.CHECKBOX or word in ("true", "false")):
            return _BOOLEANS[word], BOOLEAN_WORD
        whole = whole_number(text)
        if whole in ("0", "1"):
            return whole, WHOLE_AS_DECIMAL
        return text, None
    if kind is CellKind.WHOLE or kind is CellKind.CHOICE:
        whole = whole_number(text)
        if whole is not None and (kind is CellKind.WHOLE or whole in choices):
            return whole, WHOLE_AS_DECIMAL
        return text, None
    if kind is CellKind.DATE:
        serial = _excel_serial_date(text)
        return (serial, EXCEL_SERIAL) if serial else (text, None)
    return text, None
