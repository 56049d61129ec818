"""Disclosure control for tables that expose respondent counts.

Primary suppression hides every count below the threshold (but above zero). Secondary
suppression then protects those cells from being derived by subtraction from a row or column
total: in each row (across the count columns) and in each column (within ``by`` groups, or over
the whole column when ``by`` is not given), a line with exactly one suppressed cell also has its
next smallest unsuppressed cell suppressed. Both passes repeat until no line has exactly one
suppressed cell, since a secondary suppression can leave a new line with a single hidden cell.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

DEFAULT_THRESHOLD = 5


def suppress_small_counts(table: pd.DataFrame, count_columns: Sequence[str], threshold: int = DEFAULT_THRESHOLD,
                          by: str | Sequence[str] | None = None) -> pd.DataFrame:
    """Return a copy of ``table`` with small respondent counts and their complements suppressed.

    * ``count_columns``: the columns holding respondent counts.
    * ``threshold``: counts c with 0 < c < threshold are suppressed (zeros are shown).
    * ``by``: column(s) whose groups form the column lines for secondary suppression (e.g. the
      archetype in an archetype x training type table); without it each whole column is a line.

    Suppressed cells become NA (count columns become nullable ``Int64``). For each count column a
    boolean ``<col>_suppressed`` column is added, and a ``suppression_note`` column explains each
    row in words ("" when nothing in the row is hidden). ``attrs['suppression_note']`` describes
    the rule for captions.
    """
    columns = list(count_columns)
    missing = [c for c in columns + _as_list(by) if c not in table.columns]
    if missing:
        raise ValueError(f"suppress_small_counts: column(s) {', '.join(map(repr, missing))} not in the table")
    if threshold < 1:
        raise ValueError(f"suppress_small_counts: threshold must be at least 1, got {threshold}")
    values = np.column_stack([pd.to_numeric(table[c], errors="raise").to_numpy(dtype=float, na_value=np.nan)
                              for c in columns]) if columns else np.zeros((len(table), 0))
    primary = (values > 0) & (values < threshold)
    suppressed = primary.copy()
    groups = _group_positions(table, by)
    changed = True
    while changed:
        changed = _protect_lines(values, suppressed, [np.arange(len(columns))], axis=1)
        changed |= _protect_lines(values, suppressed, groups, axis=0)

    result = table.copy()
    notes = [[] for _ in range(len(table))]
    for j, column in enumerate(columns):
        counts = pd.array(np.where(suppressed[:, j], np.nan, values[:, j]), dtype="Float64")
        if np.all(np.isnan(values[:, j]) | (values[:, j] == np.round(values[:, j]))):
            counts = counts.astype("Int64")
        result[column] = counts
        result[f"{column}_suppressed"] = suppressed[:, j]
        for i in np.flatnonzero(suppressed[:, j]):
            reason = f"fewer than {threshold}" if primary[i, j] else "hidden so a small count cannot be derived"
            notes[i].append(f"{column}: {reason}")
    result["suppression_note"] = ["; ".join(n) for n in notes]
    result.attrs["suppression_note"] = (
        f"Counts of respondents below {threshold} are suppressed, and so is the next smallest cell in the "
        "same row or group wherever a total would otherwise reveal them."
    )
    return result


def _as_list(columns: str | Sequence[str] | None) -> list[str]:
    if columns is None:
        return []
    return [columns] if isinstance(columns, str) else list(columns)


def _group_positions(table: pd.DataFrame, by: str | Sequence[str] | None) -> list[np.ndarray]:
    if by is None or len(table) == 0:
        return [np.arange(len(table))]
    grouped = table.reset_index(drop=True).groupby(_as_list(by), sort=False, dropna=False, observed=True)
    return [np.asarray(positions) for positions in grouped.indices.values()]


def _protect_lines(values: np.ndarray, suppressed: np.ndarray, lines: list[np.ndarray], axis: int) -> bool:
    """Suppress the next smallest cell in every line holding exactly one suppressed cell.

    axis=1: each line is a set of column positions applied to every row; axis=0: each line is a
    set of row positions applied to every column. Returns whether anything changed.
    """
    changed = False
    for line in lines:
        if len(line) < 2:
            continue
        block_values = values[:, line] if axis == 1 else values[line, :].T
        block = suppressed[:, line] if axis == 1 else suppressed[line, :].T
        candidates = np.where(block | np.isnan(block_values), np.inf, block_values)
        needs = (block.sum(axis=1) == 1) & np.isfinite(candidates).any(axis=1)
        for row in np.flatnonzero(needs):
            target = int(np.argmin(candidates[row]))
            if axis == 1:
                suppressed[row, line[target]] = True
            else:
                suppressed[line[target], row] = True
            changed = True
    return changed
