"""Rows of a CSV file read as a stream, numbered as a spreadsheet numbers them (the header is row 1).

The file is read in chunks, so a file of any size takes the same memory. It must be UTF-8 (with
or without a byte-order mark), as REDCap, pandas and Excel's "CSV UTF-8" write it. Whatever
cannot be read raises :class:`FlatFileError` with the row and the reason, so an all-or-nothing
import can refuse the file:

* bytes that are not UTF-8 (a file saved as Windows-1252 or UTF-16), or NUL bytes (a binary file);
* a broken quote: text after a closing quote, or a quote that is never closed;
* a truncated file: it ends inside a quoted cell, inside a character, or part-way through its
  last row (fewer cells than the header and no line end).

Rows are lists of cell text (not stripped); blank lines are skipped but still counted.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import BinaryIO

__all__ = ["CHUNK_BYTES", "FlatFileError", "csv_rows"]

CHUNK_BYTES = 1 << 20
_BOM = b"\xef\xbb\xbf"


class FlatFileError(ValueError):
    """The file cannot be read past ``row``; ``message`` says why in words a user can act on."""

    def __init__(self, row: int, message: str) -> None:
        self.row = row
        self.message = message
        super().__init__(f"row {row}: {message}")


class _Undecodable(Exception):
    """Raised from inside the line feed; the row being read holds the offending bytes."""

    def __init__(self, message: str) -> None:
        self.message = message


def _lines(stream: BinaryIO, ending: list[bytes]) -> Iterator[str]:
    """Decoded lines with their line ends. UTF-8 never uses the line-end bytes inside a character,
    so lines are split as bytes and each is decoded strictly: a decoding error belongs to the
    line (and so to the row) that csv is reading when it is raised."""
    first = True
    carry = b""
    while True:
        chunk = stream.read(CHUNK_BYTES)
        if first:
            first = False
            if chunk.startswith((b"\xff\xfe", b"\xfe\xff")):
                raise _Undecodable("the file is UTF-16 text; save it as CSV UTF-8")
            if b"\x00" in chunk:
                raise _Undecodable("the file is binary, not text (it contains NUL bytes)")
            chunk = chunk.removeprefix(_BOM)
            # Old Mac CSV ends lines with a lone carriage return.
            separator = b"\r" if b"\n" not in chunk and b"\r" in chunk else b"\n"
        if not chunk:
            break
        pieces = (carry + chunk).split(separator)
        carry = pieces.pop()
        for piece in pieces:
            yield _decoded(piece + separator)
    if carry:
        ending.append(carry[-1:])
        yield _decoded(carry)


def _decoded(line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.reason == "unexpected end of data" and error.end == len(line.rstrip(b"\r\n")):
            raise _Undecodable("the file ends in the middle of a character: it looks truncated") from None
        byte = line[error.start]
        raise _Undecodable(f"the file is not UTF-8 text (byte 0x{byte:02X} cannot be read); save it as CSV UTF-8") from None


def csv_rows(stream: BinaryIO, *, delimiter: str = ",") -> Iterator[tuple[int, list[str]]]:
    """``(row number, cells)`` of every non-blank row; raises :class:`FlatFileError`."""
    ending: list[bytes] = []  # the last line's final byte when the file does not end with a line end
    reader = csv.reader(_lines(stream, ending), delimiter=delimiter, strict=True)
    width = None
    pending: tuple[int, list[str]] | None = None
    row = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except _Undecodable as problem:
            raise FlatFileError(row + 1, problem.message) from None
        except csv.Error as error:
            raise FlatFileError(row + 1, _quote_problem(str(error))) from None
        row += 1
        if not any(cells):
            continue
        if pending is not None:
            yield pending
        if width is None:
            width = len(cells)
        pending = (row, cells)
    if pending is not None:
        number, cells = pending
        if ending and width is not None and number > 1 and len(cells) < width:
            raise FlatFileError(number, f"the file ends part-way through this row ({len(cells)} of {width} cells and no "
                                        "line end): it looks truncated")
        yield pending


def _quote_problem(reason: str) -> str:
    if "unexpected end of data" in reason:
        return "a quoted cell that starts in this row is never closed: a quote is missing, or the file is truncated"
    if "expected after" in reason:
        return 'a quoted cell has text after its closing quote: double a quote inside a quoted cell ("")'
    return f"the row cannot be read as CSV ({reason})"
