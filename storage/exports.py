"""The one way tables leave the application as CSV or XLSX files.

Spreadsheet programs execute a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and some
treat a leading tab or carriage return the same way), so a respondent's free text could
become a formula on an analyst's machine. Every export goes through
:func:`neutralise_formulas`, which prefixes such text cells with an apostrophe. Numbers stay
numbers: only text is touched.
"""

from __future__ import annotations

import io
from typing import Literal

import pandas as pd

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
ExportFormat = Literal["csv", "xlsx"]


def neutralise_cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` where no text cell (or header) can be read as a formula."""
    safe = frame.copy()
    for column in safe.columns:
        series = safe[column]
        if series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
            safe[column] = series.astype(object).map(neutralise_cell)
    safe.columns = [neutralise_cell(str(c)) for c in safe.columns]
    return safe


def table_bytes(frame: pd.DataFrame, fmt: ExportFormat = "csv", *, sheet_name: str = "data") -> bytes:
    """Serialise a table safely: UTF-8 CSV with a BOM (Excel reads the accents right) or XLSX."""
    safe = neutralise_formulas(frame)
    if fmt == "csv":
        return safe.to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")
    if fmt == "xlsx":
        # Excel has no time zones: write UTC wall-clock times (the column headers say UTC where it matters).
        for column in safe.columns:
            if isinstance(safe[column].dtype, pd.DatetimeTZDtype):
                safe[column] = safe[column].dt.tz_convert("UTC").dt.tz_localize(None)
        buffer = io.BytesIO()
        with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
            safe.to_excel(writer, index=False, sheet_name=sheet_name[:31])
        return buffer.getvalue()
    raise ValueError(f"unknown export format {fmt!r}; use csv or xlsx")


def format_from_path(path: str) -> ExportFormat:
    lower = path.lower()
    if lower.endswith(".xlsx"):
        return "xlsx"
    if lower.endswith(".csv"):
        return "csv"
    raise ValueError(f"cannot tell the format of {path!r}: name it .csv or .xlsx")


MIME_TYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
