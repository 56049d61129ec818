"""Disclosure control for tables that expose respondent counts.

Primary suppression hides every count below the threshold (but above zero). Secondary
suppression then protects those cells from being derived by subtraction from a row or column
total: in each row (across the count columns) and in each column (within ``by`` groups, or over
the whole column when ``by`` is not given), a line with exactly one suppressed cell also has its
next smallest unsuppressed cell suppressed. Both passes repeat until no line has exactly one
suppressed cell, since a secondary suppression can leave a new line with a single hidden cell.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_THRESHOLD = 5


def suppress_small_counts(table: pd.DataFrame, count_columns: Sequence[str], threshold: int = DEFAULT_THRESHOLD,
                          by: str | Sequence[str] | None = None,
                          also_hide: Mapping[str, np.ndarray] | None = None) -> pd.DataFrame:
    """Return a copy of ``table`` with small respondent counts and their complements suppressed.

    * ``count_columns``: the columns holding respondent counts.
    * ``threshold``: counts c with 0 < c < threshold are suppressed (zeros are shown).
    * ``by``: column(s) whose groups form the column lines for secondary suppression (e.g. the
      archetype in an archetype x training type table); without it each whole column is a line.
    * ``also_hide``: per count column, cells to hide whatever their value because comparing them
      with a neighbouring view would single out a few respondents (``differencing_guard``).

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
    singles_out = np.zeros_like(primary)
    for j, column in enumerate(columns):
        if also_hide is not None and column in also_hide:
            singles_out[:, j] = np.asarray(also_hide[column], dtype=bool) & ~primary[:, j] & (values[:, j] > 0)
    suppressed = primary | singles_out
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
            reason = (f"fewer than {threshold}" if primary[i, j] else
                      f"would single out fewer than {threshold} against a wider respondent filter" if singles_out[i, j]
                      else "hidden so a small count cannot be derived")
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


# --- differencing: views over a filtered set of respondents ---------------------------------------

# Respondent attributes a view can be filtered by (columns of the ``responses`` frame).
RESPONDENT_DIMENSIONS: tuple[str, ...] = ("region", "site_type", "staff_group", "language")
_MONTH = "%Y-%m"

# Why a key's evidence cannot be published (``GuardResult.reason``).
PUBLISHABLE = 0
TOO_FEW = 1  # fewer than the threshold of respondents in the view
SINGLES_OUT = 2  # comparing the view with a neighbouring one would single out fewer than the threshold


class RespondentFilter(BaseModel):
    """Which survey respondents a view counts: a box over their profile answers and submission month.

    Empty choices mean "everyone". Months are ``YYYY-MM`` and the range includes both ends.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    regions: tuple[str, ...] = ()
    site_types: tuple[str, ...] = ()
    staff_groups: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()  # ISO 639-1 codes of the language the response was given in
    submitted_from: str | None = Field(None, pattern=r"^\d{4}-\d{2}$")
    submitted_to: str | None = Field(None, pattern=r"^\d{4}-\d{2}$")

    @model_validator(mode="after")
    def _months_ordered(self) -> RespondentFilter:
        if self.submitted_from and self.submitted_to and self.submitted_from > self.submitted_to:
            raise ValueError(f"submitted_from ({self.submitted_from}) is after submitted_to ({self.submitted_to})")
        return self

    @property
    def choices(self) -> dict[str, tuple[str, ...]]:
        """The restricted categorical dimensions and the codes allowed in each."""
        chosen = {"region": self.regions, "site_type": self.site_types, "staff_group": self.staff_groups,
                  "language": self.languages}
        return {dimension: codes for dimension, codes in chosen.items() if codes}

    @property
    def restricts_months(self) -> bool:
        return bool(self.submitted_from or self.submitted_to)

    @property
    def active(self) -> bool:
        return bool(self.choices) or self.restricts_months


@dataclass(frozen=True)
class GuardResult:
    """Per key: respondents in the view (``n``), and whether their evidence may be published.

    ``reason`` is PUBLISHABLE, TOO_FEW or SINGLES_OUT. A key with no respondent in the view is
    publishable (there is nothing to hide in it).
    """

    n: np.ndarray
    reason: np.ndarray

    @property
    def publishable(self) -> np.ndarray:
        return self.reason == PUBLISHABLE


def in_respondent_view(response_ids: np.ndarray, responses: pd.DataFrame | None,
                       selection: RespondentFilter | None) -> np.ndarray:
    """Whether each response id is inside the filter's box (all True without an active filter)."""
    if selection is None or not selection.active:
        return np.ones(len(response_ids), dtype=bool)
    box, _restricted = _box_membership(response_ids, _require_responses(responses), selection)
    return box


def distinct_pairs(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each (first, second) pair once, sorted by first then second. One integer key per pair,
    sorted and de-duplicated by hand: ``np.unique`` (over rows, or its hash table over integers)
    took most of the guard's time at national scale."""
    low = int(second.min())
    span = int(second.max()) - low + 1
    # In place where possible: at a million responses each temporary is hundreds of megabytes.
    combined = first.astype(np.int64)
    combined *= span
    combined += second
    combined -= low
    combined.sort()
    keep = np.empty(len(combined), dtype=bool)
    keep[0] = True
    np.not_equal(combined[1:], combined[:-1], out=keep[1:])
    combined = combined[keep]
    del keep
    # Back in the callers' dtypes (narrow ones stay narrow), without int64 temporaries.
    keys = np.empty(len(combined), dtype=first.dtype)
    np.floor_divide(combined, span, out=keys, casting="unsafe")
    offsets = np.empty(len(combined), dtype=second.dtype)
    np.remainder(combined, span, out=offsets, casting="unsafe")
    del combined
    offsets += low
    return keys, offsets


def differencing_guard(member_response: np.ndarray, member_key: np.ndarray, n_keys: int,
                       responses: pd.DataFrame | None, selection: RespondentFilter | None,
                       threshold: int = DEFAULT_THRESHOLD, *, distinct: bool = False) -> GuardResult:
    """Which keys' respondent evidence a view over ``selection`` may publish.

    ``member_response`` / ``member_key`` pair each respondent with each key (a key is whatever is
    published from a group of respondents: a technology's answers to one question, a cell of a
    count table); duplicate pairs count once (``distinct``: the caller made each pair once, so the
    de-duplication, a sort of every pair, is skipped). ``responses`` supplies the attributes filtered on
    (``RESPONDENT_DIMENSIONS`` and ``submitted_at``).

    A key is publishable when its respondent count in the view is 0 or at least ``threshold`` and,
    for an active filter, no neighbouring view differs from this one by between 1 and
    ``threshold`` - 1 of its respondents. Neighbours (docs/method.md, "Disclosure control"):

    * every view that drops some of the restricted dimensions (down to no filter at all);
    * for each restricted dimension, the view without one of its chosen codes: so each chosen
      code's slab of the view holds 0 or at least ``threshold`` respondents;
    * for the month range, the view one month shorter at either end: the first and the last month
      holding respondents of the key hold at least ``threshold``.

    Together these make any two views whose boxes are nested differ by 0 or at least
    ``threshold`` respondents of every key both publish.
    """
    if threshold < 1:
        raise ValueError(f"differencing_guard: threshold must be at least 1, got {threshold}")
    # Any integer dtype: at national scale the members are tens of millions (int32 halves them).
    member_response = _integers(member_response)
    member_key = _integers(member_key)
    if len(member_key) and not distinct:
        member_key, member_response = distinct_pairs(member_key, member_response)

    def counts(mask: np.ndarray) -> np.ndarray:
        return np.bincount(member_key[mask], minlength=n_keys)

    def small(values: np.ndarray) -> np.ndarray:
        return (values > 0) & (values < threshold)

    if selection is None or not selection.active:
        n = np.bincount(member_key, minlength=n_keys)
        return GuardResult(n=n, reason=np.where(small(n), TOO_FEW, PUBLISHABLE))

    responses = _require_responses(responses)
    in_view, restricted = _box_membership(member_response, responses, selection)
    n = counts(in_view)
    singles_out = np.zeros(n_keys, dtype=bool)
    names = list(restricted)
    for size in range(1, len(names) + 1):
        for dropped in combinations(names, size):
            wider = np.logical_and.reduce([restricted[d] for d in names if d not in dropped] +
                                          [np.ones(len(member_key), dtype=bool)])
            singles_out |= small(counts(wider) - n)
    attributes = _attribute_codes(member_response, responses)
    for dimension in selection.choices:
        codes, n_codes = attributes[dimension]
        slabs = np.bincount(member_key[in_view].astype(np.int64) * n_codes + codes[in_view], minlength=n_keys * n_codes)
        singles_out |= small(slabs.reshape(n_keys, n_codes)).any(axis=1)
    if selection.restricts_months:
        months, n_months = attributes["month"]
        per_month = np.bincount(member_key[in_view].astype(np.int64) * n_months + months[in_view],
                                minlength=n_keys * n_months).reshape(n_keys, n_months)
        held = per_month > 0
        first = held.argmax(axis=1)
        last = n_months - 1 - held[:, ::-1].argmax(axis=1)
        rows = np.arange(n_keys)
        singles_out |= held.any(axis=1) & (small(per_month[rows, first]) | small(per_month[rows, last]))
    reason = np.where(small(n), TOO_FEW, np.where(singles_out & (n > 0), SINGLES_OUT, PUBLISHABLE))
    return GuardResult(n=n, reason=reason)


def _integers(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values)
    return values if values.dtype.kind in "iu" else values.astype(np.int64)


def submission_months(responses: pd.DataFrame) -> list[str]:
    """Every month (YYYY-MM) from the first to the last submission: the choices of a month filter."""
    submitted = pd.to_datetime(responses["submitted_at"], utc=True).dropna()
    if submitted.empty:
        return []
    first, last = (moment.tz_convert(None).to_period("M") for moment in (submitted.min(), submitted.max()))
    return [str(period) for period in pd.period_range(first, last, freq="M")]


def response_languages(responses: pd.DataFrame) -> list[str]:
    """The languages responses were given in (sorted codes): the choices of a language filter."""
    if "language" not in responses:
        return []
    return sorted({str(code) for code in responses["language"].dropna().unique()})


def _require_responses(responses: pd.DataFrame | None) -> pd.DataFrame:
    if responses is None:
        raise ValueError("a respondent filter needs the responses frame (the respondents' attributes)")
    return responses


def _attribute_codes(response_ids: np.ndarray, responses: pd.DataFrame) -> dict[str, tuple[np.ndarray, int]]:
    """Integer code of each respondent attribute (and submission month) per id; the last code is
    "unknown" (no answer, or a response not in the frame)."""
    position = pd.Index(responses["response_id"].to_numpy(dtype=np.int64)).get_indexer(response_ids)
    known = position >= 0
    columns = {dimension: responses[dimension] for dimension in RESPONDENT_DIMENSIONS}
    columns["month"] = pd.to_datetime(responses["submitted_at"], utc=True).dt.strftime(_MONTH)
    result = {}
    for name, column in columns.items():
        codes, uniques = pd.factorize(column.astype(object), sort=True)
        codes = np.where(codes < 0, len(uniques), codes)
        result[name] = (np.where(known, codes[np.maximum(position, 0)], len(uniques)), len(uniques) + 1)
    return result


def _box_membership(response_ids: np.ndarray, responses: pd.DataFrame,
                    selection: RespondentFilter) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Whether each id is inside the box, and inside each restricted dimension on its own."""
    position = pd.Index(responses["response_id"].to_numpy(dtype=np.int64)).get_indexer(response_ids)
    known = position >= 0
    at = np.maximum(position, 0)
    restricted: dict[str, np.ndarray] = {}
    for dimension, codes in selection.choices.items():
        allowed = responses[dimension].astype(object).isin(codes).to_numpy(bool)
        restricted[dimension] = known & allowed[at]
    if selection.restricts_months:
        month = pd.to_datetime(responses["submitted_at"], utc=True).dt.strftime(_MONTH)
        inside = month.notna()
        if selection.submitted_from:
            inside &= month.fillna("") >= selection.submitted_from
        if selection.submitted_to:
            inside &= month.fillna("") <= selection.submitted_to
        restricted["month"] = known & inside.to_numpy(bool)[at]
    box = np.logical_and.reduce([*restricted.values(), np.ones(len(response_ids), dtype=bool)])
    return box, restricted


# --- the roadmap as of a past day ------------------------------------------------------------------


def as_of_cutoffs(member_key: np.ndarray, member_time: np.ndarray, n_keys: int, day: pd.Timestamp | np.datetime64,
                  threshold: int = DEFAULT_THRESHOLD) -> np.ndarray:
    """For each key, the latest submission time whose evidence a view as of ``day`` may use.

    Members are (key, submission time) pairs, one per respondent. A key's evidence is released in
    steps counted back from today: today's count ``c``, then the largest count reachable (all
    respondents up to some moment) that is at least ``threshold`` below it, and so on down to 0;
    steps below the threshold are dropped. A view as of ``day`` uses the largest step not above
    the count submitted by then. So any two views of one key at any two days, today's included,
    differ by 0 or at least ``threshold`` respondents. Returns datetime64[ns] per key (NaT: none).
    """
    if threshold < 1:
        raise ValueError(f"as_of_cutoffs: threshold must be at least 1, got {threshold}")
    member_key = np.asarray(member_key, dtype=np.int64)
    member_time = np.asarray(member_time, dtype="datetime64[ns]")
    cutoffs = np.full(n_keys, np.datetime64("NaT"), dtype="datetime64[ns]")
    if len(member_key) == 0:
        return cutoffs
    # Times as ranks, so (key, time) pairs become one sortable integer.
    moments, time_rank = np.unique(member_time, return_inverse=True)
    width = len(moments) + 1
    pair = np.unique(member_key * width + time_rank, return_counts=True)
    group, size = pair  # one group per (key, moment), sorted by key then moment
    group_key = group // width
    segment_start = np.searchsorted(group_key, np.arange(n_keys), side="left")
    segment_end = np.searchsorted(group_key, np.arange(n_keys), side="right")
    # Respondents of the key up to and including each group: the counts a view can reach.
    running = np.cumsum(size)
    reached = running - np.r_[0, running][segment_start[group_key]]
    total = np.where(segment_end > segment_start, reached[np.maximum(segment_end - 1, 0)], 0)
    day_rank = np.searchsorted(moments, np.datetime64(_naive(day), "ns"), side="right") - 1
    last = np.searchsorted(group, np.arange(n_keys) * width + day_rank, side="right") - 1
    by_day = np.where((last >= segment_start) & (day_rank >= 0), reached[np.maximum(last, 0)], 0)
    # Walk each key's steps down from today's count to the one at or below its count by the day.
    scale = int(total.max()) + 1
    by_count = group_key * scale + reached  # sorted too: counts grow within a key
    step = total.copy()
    active = np.flatnonzero(step > by_day)
    while len(active):
        below = step[active] - threshold
        at = np.searchsorted(by_count, active * scale + below, side="right") - 1
        ok = (below >= 1) & (at >= segment_start[active])
        step[active] = np.where(ok, reached[np.maximum(at, 0)], 0)
        active = active[step[active] > by_day[active]]
    step[step < threshold] = 0
    at = np.searchsorted(by_count, np.arange(n_keys) * scale + step, side="left")
    hit = step > 0
    cutoffs[hit] = moments[group[at[hit]] % width]
    return cutoffs


def _naive(moment: pd.Timestamp | np.datetime64) -> pd.Timestamp:
    moment = pd.Timestamp(moment)
    return moment.tz_convert(None) if moment.tzinfo else moment
