"""The analysis inputs of one database, kept in memory and brought up to date incrementally.

:meth:`EvidenceCache.current` is called on every render of an analysis page. It reads the data
stamp (storage/change_log.py: one small query); when it is the one the cache holds, the cached
inputs are returned as they are. Otherwise, in one read snapshot, it reads what the change log
says changed since the cached stamp and only that: the responses (with their answers) in the
logged id ranges, the answers of technologies deleted with them, the results of the workshops that
closed or were deleted, and the small catalogue frames when the catalogue changed. Rows that
were deleted (a withdrawn or erased response, a purged free-text answer, a deleted technology)
are dropped from memory in the same step, so nothing erased outlives the refresh.

The whole evidence is read again (column-wise, storage/survey_frames.py) only when the log
cannot bridge the gap: the first read, a writer that did not say what it changed, a history
that diverged (a restored backup or a reset database), or a cache older than the log keeps.

The result is exactly what a full read gives — same rows, same order (responses by id, answers
by answer id, workshop results by workshop), same dtypes and categories — which
tests/storage/test_evidence_cache.py checks over random sequences of writes. Each refresh also
says which technologies' evidence it touched (:meth:`Evidence.touched_since`), so what is computed
per technology (the estimates) can be brought up to date for those technologies alone. Caches are
only accelerators (DESIGN.md section 6): every process keeps its own and checks it against the
database on every call, so two app processes see each other's writes on their next render.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine

from analysis.schemas import VALIDATED_MARK, validate_frame
from storage.analysis_inputs import AnalysisInputs, assemble_inputs
from storage.catalogue import catalogue_frames
from storage.change_log import RESPONSES, TECHNOLOGIES, WORKSHOPS, ChangeSet, DataStamp, changes_between, read_stamp
from storage.column_reads import snapshot_connection
from storage.survey_frames import (
    analysis_answers,
    connection_runner,
    read_all_survey,
    read_survey_changes,
    read_survey_columns,
)
from storage.workshops import load_workshop_results

# Earlier stamps whose touched technologies a refresh keeps (a cache of results computed at one of
# them can be brought up to date from it).
TOUCHED_HISTORY = 8

# Attempts at a full read whose stamp the log can bring up to date before giving up and
# reading everything in one snapshot on a plain connection.
FULL_READ_ATTEMPTS = 3


@dataclass(frozen=True)
class Evidence:
    """Everything read from the database at one stamp, and the inputs assembled from it."""

    stamp: DataStamp
    catalogue: dict[str, pd.DataFrame]
    responses: pd.DataFrame
    answers: pd.DataFrame  # raw: with answer_id
    workshops: dict[int, pd.DataFrame]  # results per closed workshop
    inputs: AnalysisInputs | None  # None only while being assembled
    # (earlier stamp, technology ids whose evidence may differ since), newest first; only across
    # refreshes that removed no answer and left the catalogue (technologies, desk data) the same.
    touched: tuple[tuple[DataStamp, frozenset[int]], ...] = ()

    def touched_since(self, stamp: DataStamp) -> frozenset[int] | None:
        """The technologies whose answers or workshop results may have changed since ``stamp``
        (empty when ``stamp`` is this one), when the changes only added answers or changed workshop
        results; None when this cache cannot say or will not (answers were removed, the catalogue
        changed, everything was read again, or ``stamp`` is too old)."""
        if stamp == self.stamp:
            return frozenset()
        return next((technologies for earlier, technologies in self.touched if earlier == stamp), None)


def merge_ranges(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping or touching ranges joined, sorted."""
    merged: list[list[int]] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], last)
        else:
            merged.append([first, last])
    return [(first, last) for first, last in merged]


def in_ranges(values: np.ndarray, ranges: list[tuple[int, int]]) -> np.ndarray:
    """Which ``values`` fall in one of the (merged, sorted) inclusive ``ranges``."""
    if not ranges or len(values) == 0:
        return np.zeros(len(values), dtype=bool)
    starts = np.array([first for first, _ in ranges], dtype=np.int64)
    ends = np.array([last for _, last in ranges], dtype=np.int64)
    index = np.searchsorted(starts, values, side="right") - 1
    found = index >= 0
    return found & (values <= ends[np.clip(index, 0, None)])


def _present_categories(categorical: pd.Categorical) -> set[str]:
    codes = categorical.codes
    used = np.bincount(codes[codes >= 0], minlength=len(categorical.categories)) > 0
    return set(np.asarray(categorical.categories, dtype=object)[used].tolist())


def _recoded(categorical: pd.Categorical, categories: pd.Index) -> np.ndarray:
    positions = np.append(categories.get_indexer(categorical.categories), -1)
    return positions[categorical.codes]  # code -1 (missing) picks the appended -1


def combine_categoricals(kept: pd.Series, added: pd.Series, *, kept_complete: bool = False) -> pd.Categorical:
    """``kept`` then ``added`` as one categorical whose categories are the codes present, sorted
    (what a full read gives). ``kept_complete``: every category of ``kept`` is present in it (a
    cached column nothing was dropped from), so when ``added`` brings no new code the categories
    stay as they are and only the added rows are recoded."""
    left, right = kept.array, added.array
    if kept_complete and _present_categories(right) <= set(left.categories):
        codes = np.concatenate([left.codes, _recoded(right, left.categories)])
        return pd.Categorical.from_codes(codes, dtype=left.dtype)
    categories = pd.Index(sorted(_present_categories(left) | _present_categories(right)), dtype="str")
    codes = np.concatenate([_recoded(left, categories), _recoded(right, categories)])
    return pd.Categorical.from_codes(codes, categories=categories)


def replace_rows(frame: pd.DataFrame, drop: np.ndarray, added: pd.DataFrame, key: str,
                 categorical: tuple[str, ...]) -> pd.DataFrame:
    """``frame`` without the ``drop`` rows, plus ``added``, in ``key`` order, categorical columns
    recoded to the codes present. New rows only (the usual refresh) copy each column once."""
    dropping = bool(drop.any())
    if added.empty and not dropping:
        return frame
    kept = frame[~drop] if dropping else frame
    columns = {}
    for column in frame.columns:
        if column in categorical:
            columns[column] = combine_categoricals(kept[column], added[column], kept_complete=not dropping)
        else:
            columns[column] = pd.concat([kept[column], added[column]], ignore_index=True).array
    result = pd.DataFrame(columns, copy=False)
    if not result[key].is_monotonic_increasing:
        result = result.sort_values(key, kind="stable", ignore_index=True)
    return result


def _workshops_frame(workshops: dict[int, pd.DataFrame], empty: pd.DataFrame) -> pd.DataFrame:
    frames = [workshops[key] for key in sorted(workshops)]
    return pd.concat(frames, ignore_index=True) if frames else empty


class EvidenceCache:
    """The analysis inputs of one database, refreshed incrementally (see the module docstring).
    Thread-safe: one refresh at a time; readers get immutable snapshots."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._evidence: Evidence | None = None

    @property
    def stamp(self) -> DataStamp | None:
        evidence = self._evidence
        return evidence.stamp if evidence is not None else None

    @property
    def evidence(self) -> Evidence | None:
        return self._evidence

    def forget(self) -> None:
        with self._lock:
            self._evidence = None

    def current_evidence(self, engine: Engine) -> Evidence:
        """Everything as the database holds it now (its ``inputs`` are the analysis inputs)."""
        with self._lock:
            self._evidence = self._refreshed(engine, self._evidence)
            return self._evidence

    def current(self, engine: Engine) -> AnalysisInputs:
        """The analysis inputs as the database holds them now."""
        return self.current_evidence(engine).inputs

    # --- refreshing -----------------------------------------------------------------------

    def _refreshed(self, engine: Engine, evidence: Evidence | None) -> Evidence:
        if evidence is not None:
            with snapshot_connection(engine) as connection:
                now = read_stamp(connection)
                if now == evidence.stamp:
                    return evidence
                changes = changes_between(connection, evidence.stamp, now)
                if changes is not None:
                    return _apply(connection, evidence, changes, now)
        # Nothing usable in memory: read the survey evidence in bulk, then the small frames
        # (and whatever changed since the bulk read) in one snapshot.
        for _attempt in range(FULL_READ_ATTEMPTS):
            self._evidence = None  # the old frames can go before the new ones are read
            stamp, responses, answers = read_all_survey(engine)
            base = Evidence(stamp, {}, responses, answers, {}, None)
            with snapshot_connection(engine) as connection:
                now = read_stamp(connection)
                changes = changes_between(connection, stamp, now)
                if changes is not None:
                    return _apply(connection, base, changes, now, everything_small=True)
        return read_everything(engine)


def read_everything(engine: Engine) -> Evidence:
    """Every frame read on one snapshot connection of the engine's own driver (no ADBC)."""
    with snapshot_connection(engine) as connection:
        return _read_everything(connection)


def _read_everything(connection: Connection) -> Evidence:
    """Every frame on one snapshot connection (the fallback when writes keep outrunning the bulk read)."""
    now = read_stamp(connection)
    responses, answers = read_survey_columns(connection_runner(connection))
    return _apply(connection, Evidence(now, {}, responses, answers, {}, None), ChangeSet(), now, everything_small=True)


def _apply(connection: Connection, evidence: Evidence, changes: ChangeSet, now: DataStamp, *,
           everything_small: bool = False) -> Evidence:
    """``evidence`` brought to ``now`` by re-reading what ``changes`` names, on ``connection``
    (a snapshot at ``now``). ``everything_small``: read the catalogue and all workshop results."""
    response_ranges = merge_ranges(changes.ranges[RESPONSES])
    technology_ranges = merge_ranges(changes.ranges[TECHNOLOGIES])
    responses, answers = evidence.responses, evidence.answers
    touched: set[int] = set()
    removed = False  # answers withdrawn, erased, purged or replaced by an edit
    added: dict[str, pd.DataFrame] = {}
    if response_ranges or technology_ranges:
        new_responses, new_answers = read_survey_changes(connection, response_ranges, technology_ranges)
        added = {"responses": new_responses, "answers": analysis_answers(new_answers)}
        drop_answers = (in_ranges(answers["response_id"].to_numpy(), response_ranges)
                        | in_ranges(answers["technology_id"].to_numpy(dtype=np.int64, na_value=0), technology_ranges))
        removed = bool(drop_answers.any())
        touched |= _technology_ids(new_answers["technology_id"])
        answers = replace_rows(answers, drop_answers, new_answers, "answer_id", ("variable", "value"))
        drop_responses = in_ranges(responses["response_id"].to_numpy(), response_ranges)
        responses = replace_rows(responses, drop_responses, new_responses, "response_id", ("staff_group", "language"))
    catalogue = evidence.catalogue
    if everything_small or changes.catalogue or technology_ranges:
        catalogue = catalogue_frames(connection)
    workshops = dict(evidence.workshops)
    if everything_small:
        workshops = _per_workshop(load_workshop_results(connection))
    elif changes.ranges[WORKSHOPS]:
        wanted = [i for first, last in merge_ranges(changes.ranges[WORKSHOPS]) for i in range(first, last + 1)]
        for workshop_id in wanted:
            if workshop_id in workshops:
                touched |= _technology_ids(workshops.pop(workshop_id)["technology_id"])
        changed_workshops = _per_workshop(load_workshop_results(connection, wanted))
        for results in changed_workshops.values():
            touched |= _technology_ids(results["technology_id"])
        workshops.update(changed_workshops)
    empty_results = load_workshop_results(connection, []) if not workshops else None
    frames = {**catalogue, "responses": responses, "answers": analysis_answers(answers),
              "workshop_results": _workshops_frame(workshops, empty_results)}
    if evidence.inputs is not None:
        # The cached rows were validated when the previous inputs were assembled: only the rows
        # read now need checking, not millions of them again on every refresh.
        for name in ("responses", "answers"):
            if name in added:
                validate_frame(added[name], name)
            frames[name].attrs[VALIDATED_MARK] = name
    inputs = assemble_inputs(frames, now.version)
    history: tuple[tuple[DataStamp, frozenset[int]], ...] = ()
    # Results computed before answers were removed are not carried forward at all (whatever was
    # derived from an erased answer goes with it), nor across a catalogue change.
    if not (everything_small or removed or changes.catalogue or technology_ranges):
        history = ((evidence.stamp, frozenset(touched)),
                   *((earlier, ids | touched) for earlier, ids in evidence.touched[:TOUCHED_HISTORY - 1]))
    return Evidence(now, catalogue, responses, answers, workshops, inputs, history)


def _technology_ids(column: pd.Series) -> set[int]:
    return {int(value) for value in pd.unique(column.dropna())}


def _per_workshop(results: pd.DataFrame) -> dict[int, pd.DataFrame]:
    return {int(key): group.reset_index(drop=True) for key, group in results.groupby("workshop_id", sort=True)}
