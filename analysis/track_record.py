"""The roadmap's own track record: did its calls on time to deployment come true?
(docs/method.md, "Track record"). Pure pandas.

Each month-end D gives a call per technology: its blended time to deployment as of D. What
happened next is read from the adoption records: the first day the technology *reached scale*
under :class:`ScaleRule`. A call is then:

* at scale: came true if it was at scale on D, else missed;
* within 1 year: came true if scale came by D + 1 year (came early if it already had it on D);
  missed once that day has passed without it; open before;
* 1–3 years: came early by D + 1 year, came true by D + 3 years, missed after, open before;
* over 3 years: came early if scale came by D + 3 years, came true once that day has passed
  without it, open before.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from analysis import schemas as s

OUTCOMES: tuple[str, ...] = ("came true", "came early", "missed", "open")
# Years after the call by which each horizon band's window closes (lower, upper).
BAND_WINDOWS: dict[str, tuple[float, float]] = {
    "at_scale": (0.0, 0.0), "within_1y": (0.0, 1.0), "1_3y": (1.0, 3.0), "over_3y": (3.0, math.inf),
}
RELIABILITY_BINS = 5


class ScaleRule(BaseModel):
    """When a technology has reached scale (a setting, stated on the page and in the report).

    Reached on the first day on which at least ``scaled_sites`` sites report it *scaled*, or it is
    live or scaled at ``live_share`` of the sites in the register and at least ``min_live_sites``
    of them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scaled_sites: int = Field(1, ge=1, description="Sites reporting it scaled that count as reaching scale.")
    live_share: float = Field(0.25, gt=0, le=1, description="Share of the register's sites where it is live or scaled.")
    min_live_sites: int = Field(3, ge=1, description="Fewest live or scaled sites for the share to count.")

    def describe(self) -> str:
        return (f"a technology reaches scale on the first day at least {self.scaled_sites} site(s) report it scaled, "
                f"or it is live or scaled at {self.live_share:.0%} of the sites in the register (and at least "
                f"{self.min_live_sites} sites)")


def scale_dates(adoption: pd.DataFrame, rule: ScaleRule) -> pd.Series:
    """The first day each technology reached scale (NaT if not yet), from today's adoption records.

    A site counts from its record's start date (when it was last changed, if it has none);
    discontinued sites do not count. The register is every site with an adoption record.
    """
    adoption = s.validate_frame(adoption, "adoption")
    sites = adoption["site_id"].nunique()
    needed_live = max(rule.min_live_sites, math.ceil(rule.live_share * sites))
    since = adoption["start_date"].fillna(adoption["updated_at"])
    status = adoption["status"].astype(object)
    result = pd.Series(pd.NaT, index=pd.Index(sorted(adoption["technology_id"].unique()), name="technology_id"),
                       dtype="datetime64[ns]")
    for nth, mask in ((rule.scaled_sites, status == "scaled"), (needed_live, status.isin(s.LIVE_STATUSES))):
        chosen = pd.DataFrame({"technology_id": adoption.loc[mask.to_numpy(), "technology_id"].to_numpy(),
                               "since": since[mask.to_numpy()].to_numpy()}).sort_values(["technology_id", "since"])
        # The n-th site of each technology, in order of arrival.
        nth_site = chosen[chosen.groupby("technology_id").cumcount() == nth - 1].set_index("technology_id")["since"]
        dates = nth_site.reindex(result.index)
        earlier = dates.notna() & (result.isna() | (dates < result))
        result = result.mask(earlier, dates)
    return result


def classify_calls(calls: pd.DataFrame, reached: pd.Series, today: pd.Timestamp | str) -> pd.DataFrame:
    """Outcome of each call. ``calls``: day, technology_id, horizon (blended point as of the day),
    p_within_year (predicted probability of scale within a year: p_at_scale + p_within_1y).
    Adds reached (scale date), outcome (OUTCOMES) and, for the reliability diagram,
    within_year_known / within_year (scale within a year of the call, once it can be told)."""
    today = pd.Timestamp(today).normalize()
    table = calls.copy()
    table["reached"] = pd.to_datetime(pd.Series(reached, dtype="datetime64[ns]").reindex(
        table["technology_id"].to_numpy()).to_numpy())
    day, when = pd.to_datetime(table["day"]), table["reached"]
    outcomes = []
    for call_day, band, scaled in zip(day, table["horizon"], when, strict=True):
        outcomes.append(_outcome(call_day, band, scaled, today))
    table["outcome"] = outcomes
    year_later = day + pd.DateOffset(years=1)
    table["within_year"] = when.notna() & (when <= year_later)
    table["within_year_known"] = table["within_year"] | (year_later <= today)
    return table


def _outcome(day: pd.Timestamp, band: object, scaled: pd.Timestamp, today: pd.Timestamp) -> str | None:
    if not isinstance(band, str) or band not in BAND_WINDOWS:
        return None
    low, high = BAND_WINDOWS[band]
    has = not pd.isna(scaled)
    if band == "at_scale":
        return "came true" if has and scaled <= day else "missed"
    opens = day + pd.DateOffset(years=int(low))
    closes = day + pd.DateOffset(years=int(high)) if math.isfinite(high) else None
    if band == "over_3y":
        if has and scaled <= opens:
            return "came early"
        return "came true" if opens <= today else "open"
    if has and (scaled <= day or (low > 0 and scaled <= opens)):
        return "came early"
    if has and scaled <= closes:
        return "came true"
    return "missed" if closes <= today else "open"


def track_record_table(classified: pd.DataFrame) -> pd.DataFrame:
    """Per horizon band: calls, and the share of them that came true, came early, were missed or
    are still open. Columns: horizon, calls, then one count and one share column per outcome."""
    table = classified.dropna(subset=["outcome"])
    counts = table.groupby(["horizon", "outcome"]).size().unstack(fill_value=0)
    counts = counts.reindex(index=list(s.HORIZONS), columns=list(OUTCOMES), fill_value=0)
    result = pd.DataFrame({"horizon": list(s.HORIZONS), "calls": counts.sum(axis=1).to_numpy()})
    for outcome in OUTCOMES:
        result[outcome] = counts[outcome].to_numpy()
        result[f"share {outcome}"] = np.divide(result[outcome], result["calls"], out=np.full(len(result), np.nan),
                                               where=result["calls"] > 0)
    return result


def reliability(classified: pd.DataFrame, bins: int = RELIABILITY_BINS) -> pd.DataFrame:
    """Predicted probability of scale within a year against how often it happened, for calls whose
    year has passed (or that reached scale). Columns: bin (e.g. "0–20%"), calls, predicted (mean),
    observed (share reached within a year)."""
    known = classified[classified["within_year_known"] & classified["p_within_year"].notna()]
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(known["p_within_year"].to_numpy(), edges[1:-1]), 0, bins - 1)
    rows = []
    for index in range(bins):
        chosen = known[which == index]
        rows.append({"bin": f"{edges[index]:.0%}–{edges[index + 1]:.0%}", "calls": len(chosen),
                     "predicted": chosen["p_within_year"].mean() if len(chosen) else np.nan,
                     "observed": chosen["within_year"].mean() if len(chosen) else np.nan})
    return pd.DataFrame(rows)


def month_ends(first: pd.Timestamp | str, today: pd.Timestamp | str) -> list[pd.Timestamp]:
    """The last day of every month from ``first``'s month to the month before ``today``."""
    start = pd.Timestamp(first).to_period("M")
    stop = pd.Timestamp(today).to_period("M") - 1
    if stop < start:
        return []
    return [period.end_time.normalize() for period in pd.period_range(start, stop, freq="M")]
