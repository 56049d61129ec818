"""What changed between two days: estimates that moved and the evidence that arrived in between
(docs/method.md, "What changed"). Pure pandas over estimate_all outputs and the input frames."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from analysis import schemas as s
from analysis.as_of import day_end
from analysis.disclosure import DEFAULT_THRESHOLD, suppress_small_counts

CHANGE_COLUMNS: tuple[str, ...] = (
    "technology_id", "quantity", "point_before", "point_after", "lower_before", "upper_before", "lower_after",
    "upper_after", "shift", "direction", "strength_before", "strength_after", "effective_n_before",
    "effective_n_after", "survey_added", "workshop_results_added", "sites_added", "catalogue_edits", "counts_note",
)
# How a move up the scale reads, per quantity (minutes: + saved, - added).
_UP = {"time_to_deployment": ("later", "sooner"), "impact_workforce": ("higher", "lower"),
       "impact_pathway": ("higher", "lower"), "impact_system": ("higher", "lower"),
       "adoption_stage": ("further", "back"), "minutes_per_case": ("more time saved", "less time saved")}
EVIDENCE_SOURCES: tuple[str, ...] = ("survey", "workshop", "sites", "catalogue edits")


def changed_estimates(before: pd.DataFrame, after: pd.DataFrame, evidence: pd.DataFrame,
                      threshold: int = DEFAULT_THRESHOLD) -> pd.DataFrame:
    """One row per technology and quantity whose point estimate or 90% interval moved between two
    ``estimate_all`` outputs (``before`` and ``after``), ranked by how far the point moved.

    ``evidence`` is :func:`evidence_between` for the same days. Survey counts are differences of
    estimates already released in steps of the threshold, so they are 0 or at least it. Where a
    technology gained between 1 and ``threshold`` - 1 evidence items in all, the counts are left
    out and only the direction shows (``counts_note`` says so).
    """
    keys = ["technology_id", "quantity"]
    kept = ["point", "point_index", "lower", "upper", "strength", "effective_n", "n_survey"]
    merged = before[keys + kept].merge(after[keys + kept], on=keys, how="inner", suffixes=("_before", "_after"))
    moved = ~(_same(merged["point_before"], merged["point_after"]) & _same(merged["lower_before"], merged["lower_after"])
              & _same(merged["upper_before"], merged["upper_after"]))
    merged = merged[moved].reset_index(drop=True)
    shift = merged["point_index_after"] - merged["point_index_before"]
    table = merged[keys].copy()
    for column in ("point", "lower", "upper", "strength", "effective_n"):
        for side in ("before", "after"):
            table[f"{column}_{side}"] = merged[f"{column}_{side}"]
    table["shift"] = shift
    table["direction"] = [_direction(quantity, value, point_before, point_after) for quantity, value, point_before, point_after
                          in zip(table["quantity"], shift, merged["point_before"], merged["point_after"], strict=True)]
    table["survey_added"] = (merged["n_survey_after"] - merged["n_survey_before"]).astype("Int64")
    added = evidence.set_index(keys).reindex(pd.MultiIndex.from_frame(table[keys])).fillna(0)
    for column in ("workshop_results_added", "sites_added", "catalogue_edits"):
        table[column] = added[column].to_numpy().astype("int64")
    table["survey_added"] = table["survey_added"].clip(lower=0)
    items = table.groupby("technology_id")[["survey_added", "workshop_results_added", "sites_added", "catalogue_edits"]].transform("sum").sum(axis=1)
    few = (items > 0) & (items < threshold)
    count_columns = ["survey_added", "workshop_results_added", "sites_added", "catalogue_edits"]
    for column in count_columns:
        table[column] = table[column].astype("Int64").mask(few.to_numpy())
    table["counts_note"] = np.where(few, f"fewer than {threshold} new evidence items: direction only", "")
    order = table["shift"].abs().fillna(0).sort_values(ascending=False, kind="stable").index
    return table.loc[order, list(CHANGE_COLUMNS)].reset_index(drop=True)


def _same(first: pd.Series, second: pd.Series) -> pd.Series:
    both_missing = first.isna() & second.isna()
    return both_missing | (first.astype(object) == second.astype(object)).fillna(False).astype(bool)


def _direction(quantity: str, shift: float, before: object, after: object) -> str:
    if pd.isna(shift):
        return "now estimated" if pd.isna(before) and not pd.isna(after) else "no longer estimated" if pd.isna(after) else "moved"
    if shift == 0:
        return "interval changed"
    up, down = _UP[quantity]
    return up if shift > 0 else down


def evidence_between(frames: Mapping[str, pd.DataFrame], history: pd.DataFrame | None, first_day: pd.Timestamp | str,
                     last_day: pd.Timestamp | str) -> pd.DataFrame:
    """Evidence (other than survey answers) that arrived after ``first_day`` and by ``last_day``,
    per technology and quantity: workshop_results_added (rounds closed), sites_added (adoption
    records coming into force; adoption stage), catalogue_edits (revisions changing the desk value)."""
    start, end = day_end(first_day), day_end(last_day)
    rows = []
    workshops = s.validate_frame(frames["workshop_results"], "workshop_results")
    arrived = workshops[((workshops["closed_at"] > start) & (workshops["closed_at"] <= end)).to_numpy()]
    for (technology_id, quantity), group in arrived.groupby(["technology_id", "quantity"], observed=True):
        rows.append((int(technology_id), str(quantity), "workshop_results_added", len(group)))
    adoption = s.validate_frame(frames["adoption"], "adoption")
    came = _adoption_dates(adoption)
    arrived = adoption[((came > start) & (came <= end)).to_numpy()]
    for technology_id, group in arrived.groupby("technology_id"):
        rows.append((int(technology_id), "adoption_stage", "sites_added", len(group)))
    if history is not None and not history.empty:
        history = s.validate_frame(history, "catalogue_history").sort_values(["technology_id", "recorded_at"], kind="stable")
        for quantity, column in s.CATALOGUE_COLUMN.items():
            previous = history.groupby("technology_id")[column].shift()
            changed = history[column].astype(object).ne(previous.astype(object)) & history[column].notna()
            within = (history["recorded_at"] > start) & (history["recorded_at"] <= end)
            edits = history[(changed & within & history["kind"].astype(object).isin(["update", "create"])).to_numpy()]
            for technology_id, group in edits.groupby("technology_id"):
                rows.append((int(technology_id), quantity, "catalogue_edits", len(group)))
    frame = pd.DataFrame(rows, columns=["technology_id", "quantity", "source", "items"])
    table = frame.pivot_table(index=["technology_id", "quantity"], columns="source", values="items", aggfunc="sum", fill_value=0)
    table = table.reindex(columns=["workshop_results_added", "sites_added", "catalogue_edits"], fill_value=0)
    return table.reset_index()


# Survey variables behind each quantity (minutes: the minutes and the saved/added answer).
_QUANTITY_VARIABLES = {**{q: (v,) for q, v in s.SURVEY_VARIABLE.items()},
                       "minutes_per_case": (s.VAR_MINUTES, s.VAR_TIME_EFFECT)}


def _responses_about(answers: pd.DataFrame, published: pd.DataFrame) -> np.ndarray:
    """Ids of the responses that answered (not "don't know") a question behind a published estimate."""
    answers = s.validate_frame(answers, "answers")
    variable_quantity = {variable: quantity for quantity, variables in _QUANTITY_VARIABLES.items() for variable in variables}
    quantity = answers["variable"].astype(object).map(variable_quantity)
    chosen = pd.MultiIndex.from_frame(published[["technology_id", "quantity"]].astype({"technology_id": "int64"}))
    keys = pd.MultiIndex.from_arrays([answers["technology_id"].fillna(-1).astype("int64"), quantity.fillna("")])
    about = keys.isin(chosen) & (answers["value"].astype(object) != s.DONT_KNOW).to_numpy()
    return answers.loc[about, "response_id"].unique()


def _adoption_dates(adoption: pd.DataFrame) -> pd.Series:
    """When each adoption record came into force (as analysis.as_of.adoption_as_of dates it)."""
    discontinued = (adoption["status"].astype(object) == "discontinued").to_numpy()
    effective = np.where(discontinued, adoption["end_date"].fillna(adoption["start_date"]), adoption["start_date"])
    return pd.Series(effective, index=adoption.index).astype("datetime64[ns]").fillna(adoption["updated_at"])


def evidence_by_month(frames: Mapping[str, pd.DataFrame], history: pd.DataFrame | None, first_day: pd.Timestamp | str,
                      last_day: pd.Timestamp | str, threshold: int = DEFAULT_THRESHOLD,
                      published: pd.DataFrame | None = None) -> pd.DataFrame:
    """Evidence arriving per month by source, for a timeline. Columns: month (YYYY-MM), survey
    (responses submitted whose answers the estimates use: those about a technology and quantity in
    ``published`` (technology_id, quantity: where survey evidence is shown), every response when
    it is None; counts from 1 to ``threshold`` - 1 suppressed, with what would reveal them),
    workshop (rounds closed), sites (adoption records coming into force), catalogue edits
    (revisions), plus survey_suppressed and suppression_note."""
    start, end = day_end(first_day), day_end(last_day)
    months = pd.period_range(start.to_period("M"), end.to_period("M"), freq="M")

    def per_month(dates: pd.Series) -> np.ndarray:
        dates = pd.to_datetime(dates)
        inside = dates[(dates >= months[0].start_time) & (dates <= end)]
        return inside.dt.to_period("M").value_counts().reindex(months, fill_value=0).to_numpy()

    responses = s.validate_frame(frames["responses"], "responses")
    if published is not None:
        responses = responses[responses["response_id"].isin(_responses_about(frames["answers"], published)).to_numpy()]
    workshops = s.validate_frame(frames["workshop_results"], "workshop_results")
    rounds = workshops.drop_duplicates(["workshop_id", "round"])["closed_at"]
    adoption = s.validate_frame(frames["adoption"], "adoption")
    edits = pd.Series([], dtype="datetime64[ns]")
    if history is not None and not history.empty:
        history = s.validate_frame(history, "catalogue_history")
        edits = history.loc[history["kind"].astype(object).isin(["create", "update", "delete"]).to_numpy(), "recorded_at"]
    table = pd.DataFrame({
        "month": [str(month) for month in months],
        "survey": per_month(responses["submitted_at"]),
        "workshop": per_month(rounds),
        "sites": per_month(_adoption_dates(adoption)),
        "catalogue edits": per_month(edits),
    })
    return suppress_small_counts(table, ["survey"], threshold=threshold)
