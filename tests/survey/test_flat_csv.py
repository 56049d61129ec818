"""Streaming CSV rows: numbering, and refusals (not UTF-8, broken quotes, truncation) naming the row."""

from __future__ import annotations

import io

import pytest

from survey import flat_csv
from survey.flat_csv import FlatFileError, csv_rows

HEADER = "record_id,consent,comments\r\n"


def rows(data: bytes, chunk: int | None = None, monkeypatch: pytest.MonkeyPatch | None = None) -> list[tuple[int, list[str]]]:
    if chunk is not None and monkeypatch is not None:
        monkeypatch.setattr(flat_csv, "CHUNK_BYTES", chunk)
    return list(csv_rows(io.BytesIO(data)))


def refusal(data: bytes) -> tuple[int, str]:
    with pytest.raises(FlatFileError) as caught:
        rows(data)
    return caught.value.row, caught.value.message


def test_rows_are_numbered_as_a_spreadsheet_shows_them() -> None:
    data = ("\ufeff" + HEADER + "r1,1,\"two\r\nlines\"\r\n\r\nr2,0,é\r\n").encode("utf-8")
    assert rows(data) == [(1, ["record_id", "consent", "comments"]), (2, ["r1", "1", "two\r\nlines"]), (4, ["r2", "0", "é"])]


def test_small_chunks_split_lines_and_characters_anywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    data = (HEADER + "r1,1,café au lait\r\n" * 50).encode("utf-8")
    assert rows(data, chunk=7, monkeypatch=monkeypatch) == rows(data)
    assert len(rows(data)) == 51


def test_old_mac_line_ends_and_a_missing_final_line_end() -> None:
    assert rows(b"record_id,consent\rr1,1\rr2,0") == [(1, ["record_id", "consent"]), (2, ["r1", "1"]), (3, ["r2", "0"])]


def test_windows_1252_text_is_refused_at_its_row() -> None:
    data = HEADER.encode() + b"r1,1,fine\r\nr2,1,caf\xe9\r\nr3,0,\r\n"
    assert refusal(data) == (3, "the file is not UTF-8 text (byte 0xE9 cannot be read); save it as CSV UTF-8")


def test_a_bad_byte_inside_a_multi_line_cell_names_the_row_the_cell_starts_in() -> None:
    data = HEADER.encode() + b'r1,1,"first line\r\nsecond \x92 line"\r\n'
    assert refusal(data)[0] == 2


def test_utf16_and_binary_files_are_refused_on_row_1() -> None:
    assert refusal(HEADER.encode("utf-16")) == (1, "the file is UTF-16 text; save it as CSV UTF-8")
    assert refusal(b"PK\x00\x01binary") == (1, "the file is binary, not text (it contains NUL bytes)")


def test_text_after_a_closing_quote_is_a_broken_quote() -> None:
    row, message = refusal((HEADER + 'r1,1,"said "hello" twice"\r\n').encode())
    assert row == 2 and "text after its closing quote" in message


def test_a_quote_never_closed_names_the_row_it_opens_in() -> None:
    row, message = refusal((HEADER + "r1,1,fine\r\nr2,1,\"never closed\r\nr3,0,\r\n").encode())
    assert row == 3 and "never closed" in message


def test_a_file_cut_off_mid_row_is_truncated() -> None:
    row, message = refusal((HEADER + "r1,1,fine\r\nr2,1").encode())
    assert (row, message) == (3, "the file ends part-way through this row (2 of 3 cells and no line end): it looks truncated")


def test_a_file_cut_off_inside_a_character_is_truncated() -> None:
    row, message = refusal(HEADER.encode() + "r1,1,café".encode()[:-1])
    assert row == 2 and "middle of a character" in message


def test_a_complete_last_row_without_a_line_end_is_fine() -> None:
    assert rows((HEADER + "r1,1,done").encode())[-1] == (2, ["r1", "1", "done"])
