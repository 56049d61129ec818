"""Reading and validating long-format ratings (participant, group, item, round, rating).

One validator serves both a CSV file (row numbers as in the file, header = row 1) and a
DataFrame handed over by the app or a notebook (row = index label), so the two report
problems in the same words.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from analysis.consensus_rules import DEFAULT_SCALE, Scale

RATING_COLUMNS: tuple[str, ...] = ("participant", "group", "item", "round", "rating")
IDENTIFIER_COLUMNS: tuple[str, ...] = ("participant", "group", "item")
MAX_REPORTED_PROBLEMS = 50
CANDIDATE_DELIMITERS = (",", ";", "\t")

RatingsSource = str | os.PathLike[str] | bytes | bytearray | IO[bytes] | IO[str]


class RatingsError(ValueError):
    """Ratings failed validation; `problems` holds one readable sentence per problem."""

    def __init__(self, problems: Sequence[str], what: str = "ratings") -> None:
        self.problems = list(problems)
        shown = self.problems[:MAX_REPORTED_PROBLEMS]
        hidden = len(self.problems) - len(shown)
        lines = [f"{len(self.problems)} problem(s) in the {what}:", *(f"- {p}" for p in shown)]
        if hidden:
            lines.append(f"- ... and {hidden} more")
        super().__init__("\n".join(lines))


class RatingsFileError(RatingsError):
    """A ratings file could not be read or failed validation."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__(problems, what="ratings file")


def _stripped_text(values: pd.Series) -> pd.Series:
    """Values as text without surrounding spaces; missing values stay missing."""
    return values.reset_index(drop=True).astype("str").str.strip()


def _blank(text: pd.Series) -> pd.Series:
    return text.isna() | (text == "")


def format_cell_value(value: object) -> str:
    """A cell as quoted in error messages: text in quotes, numbers plain."""
    return repr(value.strip()) if isinstance(value, str) else str(value)


def _row_list(labels: Sequence[object]) -> str:
    labels = [str(label) for label in labels]
    if len(labels) == 1:
        return f"row {labels[0]}"
    return f"rows {', '.join(labels[:-1])} and {labels[-1]}"


CellProblem = tuple[int, int, str]  # (row position in raw, column position, message)


def _validate_ratings(
    raw: pd.DataFrame, row_labels: Sequence[object], scale: Scale | None
) -> tuple[pd.DataFrame, list[CellProblem], list[str]]:
    """Check the five columns; return the typed frame, cell problems and cross-row problems.

    raw holds the required columns as given (text from a file or any dtype from a frame);
    row_labels[i] names raw's i-th row in messages. scale None skips the range check.
    """
    labels = np.asarray(row_labels, dtype=object)
    found: list[CellProblem] = []

    def report(mask: pd.Series, column: str, describe) -> None:
        column_position = RATING_COLUMNS.index(column)
        for position in np.flatnonzero(mask.to_numpy()):
            found.append((int(position), column_position, f"row {labels[position]}, column {column}: {describe(position)}"))

    originals = {column: raw[column].reset_index(drop=True) for column in RATING_COLUMNS}
    text = {column: _stripped_text(raw[column]) for column in RATING_COLUMNS}
    clean: dict[str, pd.Series] = {}
    for column in IDENTIFIER_COLUMNS:
        blank = _blank(text[column])
        report(blank, column, lambda _position: "is blank")
        clean[column] = text[column].fillna("")

    round_blank = _blank(text["round"])
    round_numbers = pd.to_numeric(text["round"], errors="coerce").astype(float)
    bad_round = ~round_blank & ~(
        np.isfinite(round_numbers) & (round_numbers >= 1) & (round_numbers == np.floor(round_numbers))
    )
    report(round_blank, "round", lambda _position: "is blank")
    report(
        bad_round,
        "round",
        lambda position: f"{format_cell_value(originals['round'].iloc[position])} is not a positive whole number",
    )
    clean["round"] = round_numbers.where(~(round_blank | bad_round), 0).astype("int64")

    rating_blank = _blank(text["rating"])
    rating_numbers = pd.to_numeric(text["rating"], errors="coerce").astype(float)
    not_number = ~rating_blank & ~np.isfinite(rating_numbers)
    report(
        not_number,
        "rating",
        lambda position: f"{format_cell_value(originals['rating'].iloc[position])} is not a number",
    )
    if scale is not None:
        outside = ~rating_blank & ~not_number & ((rating_numbers < scale.min) | (rating_numbers > scale.max))
        report(
            outside,
            "rating",
            lambda position: f"{rating_numbers.iloc[position]:g} is outside the scale {scale.range_text()}",
        )
    clean["rating"] = rating_numbers.where(~(rating_blank | not_number))

    frame = pd.DataFrame(clean, columns=list(RATING_COLUMNS))
    # Cross-row checks only on rows whose identifiers and round are usable.
    usable = ~(round_blank | bad_round)
    for column in IDENTIFIER_COLUMNS:
        usable &= frame[column] != ""
    cross_row = _duplicate_problems(frame[usable], labels[usable.to_numpy()])
    cross_row += _group_change_problems(frame[usable], labels[usable.to_numpy()])
    return frame, found, cross_row


def _in_reading_order(cell_problems: Sequence[CellProblem]) -> list[str]:
    return [message for *_position, message in sorted(cell_problems, key=lambda problem: problem[:2])]


def _duplicate_problems(frame: pd.DataFrame, labels: np.ndarray) -> list[str]:
    keys = ["participant", "item", "round"]
    duplicated = frame.duplicated(keys, keep=False).to_numpy()
    if not duplicated.any():
        return []
    repeated = frame[duplicated].assign(label=labels[duplicated])
    problems = []
    for (participant, item, round_number), rows in repeated.groupby(keys, sort=False):
        problems.append(
            f"{_row_list(rows['label'].tolist())}: participant {participant!r} rated item {item!r} "
            f"in round {round_number} more than once"
        )
    return problems


def _group_change_problems(frame: pd.DataFrame, labels: np.ndarray) -> list[str]:
    """A participant belongs to one stakeholder group; otherwise group counts double-count."""
    group_counts = frame.groupby("participant", sort=False)["group"].nunique()
    movers = group_counts.index[group_counts > 1]
    if movers.empty:
        return []
    affected = frame.assign(label=labels)[frame["participant"].isin(movers)]
    problems = []
    for participant, rows in affected.groupby("participant", sort=False):
        parts = [
            f"{group!r} ({_row_list(group_rows['label'].tolist()[:5])}{', ...' if len(group_rows) > 5 else ''})"
            for group, group_rows in rows.groupby("group", sort=False)
        ]
        problems.append(f"participant {participant!r} is in more than one group: {', '.join(parts)}")
    return problems


def validate_ratings(ratings: pd.DataFrame, scale: Scale | None = DEFAULT_SCALE) -> pd.DataFrame:
    """Return a clean copy of a ratings frame or raise RatingsError naming each bad row.

    Result columns: participant, group, item (str, stripped), round (int64 >= 1),
    rating (float64; NaN = missing). Other columns are dropped. scale None skips the
    range check (stability does not depend on the scale).
    """
    if not isinstance(ratings, pd.DataFrame):
        raise TypeError(f"ratings must be a pandas DataFrame, not {type(ratings).__name__}")
    missing = [column for column in RATING_COLUMNS if column not in ratings.columns]
    if missing:
        raise RatingsError([f"missing required column(s): {', '.join(missing)}"])
    frame, cell_problems, cross_row = _validate_ratings(ratings[list(RATING_COLUMNS)], list(ratings.index), scale)
    problems = _in_reading_order(cell_problems) + cross_row
    if problems:
        raise RatingsError(problems)
    return frame


def _source_bytes(source: RatingsSource) -> bytes | str:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    if isinstance(source, (str, os.PathLike)):
        try:
            return Path(source).read_bytes()
        except OSError as error:
            raise RatingsFileError([f"cannot read {os.fspath(source)!r}: {error.strerror or error}"]) from None
    if hasattr(source, "read"):
        return source.read()
    raise TypeError(f"source must be a path, bytes or a file object, not {type(source).__name__}")


def _decode(content: bytes | str) -> str:
    if isinstance(content, str):
        return content.removeprefix("\ufeff")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Excel on Windows saves "CSV (Comma delimited)" as Windows-1252.
        try:
            return content.decode("cp1252")
        except UnicodeDecodeError:
            raise RatingsFileError(["the file is not text in UTF-8 or Windows-1252; save it as CSV UTF-8"]) from None


def _normalise_header(cell: str) -> str:
    return re.sub(r"[\s\-]+", "_", cell.strip().lower())


def _delimiter(header_line: str) -> str:
    # Excel in many European locales writes ';'; some tools write tabs.
    return max(CANDIDATE_DELIMITERS, key=header_line.count)


def read_ratings_csv(source: RatingsSource, scale: Scale = DEFAULT_SCALE) -> pd.DataFrame:
    """Read and validate a long-format ratings CSV.

    Accepts a path, bytes or a binary/text file object; tolerates a BOM, CRLF line ends,
    ';' or tab delimiters and header case/space variants ("Participant ", "ROUND").
    Extra columns are ignored; a blank rating means missing. Raises RatingsFileError listing
    every problem as "row N, column C: ..." with row numbers as in the file (header = row 1).
    """
    text = _decode(_source_bytes(source))
    first_line = text.split("\n", 1)[0]
    records = list(csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first_line)))
    if not records or not any(cell.strip() for cell in records[0]):
        raise RatingsFileError([f"the file is empty: expected a header row with {', '.join(RATING_COLUMNS)}"])

    header = [_normalise_header(cell) for cell in records[0]]
    problems = [
        f"row 1: column {name} appears more than once"
        for name in RATING_COLUMNS
        if header.count(name) > 1
    ]
    missing = [name for name in RATING_COLUMNS if name not in header]
    if missing:
        problems.append(
            f"row 1: missing required column(s) {', '.join(missing)} "
            f"(found: {', '.join(cell for cell in header if cell) or 'nothing'})"
        )
    if problems:
        raise RatingsFileError(problems)

    positions = [header.index(name) for name in RATING_COLUMNS]
    width = len(header)
    kept_rows: list[list[str]] = []
    row_numbers: list[int] = []
    field_count_problems: list[CellProblem] = []
    for row_number, record in enumerate(records[1:], start=2):
        if not any(cell.strip() for cell in record):
            continue
        if len(record) > width and not any(cell.strip() for cell in record[width:]):
            record = record[:width]  # trailing empty cells, as spreadsheets often write
        if len(record) != width:
            field_count_problems.append(
                (row_number, -1, f"row {row_number}: has {len(record)} fields but the header has {width}")
            )
            continue
        kept_rows.append([record[position] for position in positions])
        row_numbers.append(row_number)

    raw = pd.DataFrame(kept_rows, columns=list(RATING_COLUMNS), dtype=object)
    frame, cell_problems, cross_row = _validate_ratings(raw, row_numbers, scale)
    by_row_number = [(row_numbers[position], column, message) for position, column, message in cell_problems]
    problems = _in_reading_order(field_count_problems + by_row_number) + cross_row
    if problems:
        raise RatingsFileError(problems)
    return frame
