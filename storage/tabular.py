"""Reading spreadsheet-like uploads (CSV in any common encoding, or XLSX) into rows of text.

Files from the outside world arrive with byte-order marks, Windows line ends, Windows-1252
accents, blank lines and quoted headers; this module absorbs all of that so importers only
see a header and rows of stripped strings. Structural problems raise :class:`TableReadError`
with a one-line reason.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

# Browser uploads are capped at this size by Streamlit (server.maxUploadSize); files the command
# line reads from disk have no limit.
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
_XLSX_MAGIC = b"PK\x03\x04"


class TableReadError(ValueError):
    """The file cannot be read as a table at all."""


@dataclass(frozen=True)
class Table:
    header: list[str]
    # (row number as a spreadsheet user sees it, header = row 1; cells aligned with header)
    rows: list[tuple[int, list[str]]]


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1252 as Excel writes it."""
    if data.startswith(b"\xff\xfe") or data.startswith(b"\xfe\xff"):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def normalise_header(name: str) -> str:
    """Compare headers loosely: case, quotes, BOMs, spacing and punctuation don't matter."""
    cleaned = name.replace("\ufeff", "").strip().strip('"').strip("'").strip().lower()
    return re.sub(r"[^a-z0-9]+", "_", cleaned).strip("_")


def is_xlsx(data: bytes) -> bool:
    return data.startswith(_XLSX_MAGIC)


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_table(data: bytes, *, max_bytes: int | None = None) -> Table:
    """Read the first sheet of an XLSX file, or a comma-separated file, into a :class:`Table`."""
    if not data:
        raise TableReadError("the file is empty")
    if max_bytes is not None and len(data) > max_bytes:
        raise TableReadError(f"the file is {len(data) // 1024} KB; the limit is {max_bytes // 1024} KB")
    raw_rows = _xlsx_rows(data) if is_xlsx(data) else _csv_rows(data)
    numbered = [(number, [cell.strip() for cell in row]) for number, row in enumerate(raw_rows, start=1)]
    numbered = [(number, row) for number, row in numbered if any(row)]
    if not numbered:
        raise TableReadError("the file has no header row")
    header = numbered[0][1]
    header = [h.replace("\ufeff", "").strip().strip('"').strip() for h in header]
    while header and header[-1] == "":
        header.pop()
    if not header:
        raise TableReadError("the header row is empty")
    width = len(header)
    rows = []
    for number, row in numbered[1:]:
        cells = (row + [""] * width)[:width]
        extra = [c for c in row[width:] if c]
        if extra:
            raise TableReadError(f"row {number} has {len(row)} cells but the header has {width} columns")
        rows.append((number, cells))
    return Table(header=header, rows=rows)


def _csv_rows(data: bytes) -> list[list[str]]:
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise TableReadError("this is not a text (CSV) file: it contains binary data")
    text = decode_text(data)
    try:
        return list(csv.reader(io.StringIO(text, newline=""), strict=False))
    except csv.Error as error:
        raise TableReadError(f"not a readable CSV file: {error}") from None


def _xlsx_rows(data: bytes) -> list[list[str]]:
    return list(xlsx_rows(io.BytesIO(data)))


def xlsx_rows(stream: BinaryIO) -> Iterator[list[str]]:
    """The first sheet's rows as text, one at a time (openpyxl's read-only mode keeps memory flat)."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(stream, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError, IndexError, AttributeError) as error:
        raise TableReadError(f"not a readable XLSX workbook ({type(error).__name__})") from None
    try:
        sheet = workbook.worksheets[0]
        for row in sheet.iter_rows(values_only=True):
            yield [_cell_text(value) for value in row]
    except Exception as error:  # openpyxl raises many types on damaged sheets
        raise TableReadError(f"the workbook's first sheet cannot be read ({type(error).__name__})") from None
    finally:
        workbook.close()
