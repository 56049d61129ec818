"""Writing plain-text .xlsx workbooks (XLSForm export, translation sheets).

Every string is stored as text, never as a formula, so a label such as ``=1+1`` or ``@cmd``
written by a user opens as exactly that text in a spreadsheet and reads back unchanged.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

__all__ = ["workbook_bytes"]


def workbook_bytes(sheets: Iterable[tuple[str, Sequence[str], Iterable[Sequence[object]]]]) -> bytes:
    """An .xlsx file of ``(sheet title, header, rows)``; cells that look like formulas stay text."""
    import openpyxl  # imported here: only the workbook exports need it

    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, header, rows in sheets:
        worksheet = workbook.create_sheet(title)
        for row in [list(header), *rows]:
            worksheet.append([None if value == "" else value for value in row])
            for cell in worksheet[worksheet.max_row]:
                if isinstance(cell.value, str) and cell.data_type == "f":
                    cell.data_type = "s"  # text that starts with "=": keep it text
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
