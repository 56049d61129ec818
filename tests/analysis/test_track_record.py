"""The roadmap's track record (analysis.track_record): when a technology reached scale, and what came
of each call; hand-computed."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.track_record import ScaleRule, classify_calls, month_ends, reliability, scale_dates, track_record_table


def adoption(rows: list[tuple[int, int, str, str]]) -> pd.DataFrame:
    """(technology, site, status, start date) rows."""
    return pd.DataFrame({
        "technology_id": [r[0] for r in rows], "site_id": [r[1] for r in rows], "region": "london",
        "site_type": "acute_trust", "status": [r[2] for r in rows], "start_date": pd.to_datetime([r[3] for r in rows]),
        "end_date": pd.NaT, "updated_at": pd.Timestamp("2026-01-01"),
    })


RECORDS = adoption([
    # Tool 1: scaled at one site from March 2025.
    (1, 1, "live", "2024-06-01"), (1, 2, "scaled", "2025-03-01"),
    # Tool 2: live at sites 1-4 (of 8 in the register) by May 2025: 25% of 8 is 2, but at least 3 sites.
    (2, 1, "live", "2025-01-01"), (2, 2, "live", "2025-02-01"), (2, 3, "live", "2025-05-01"), (2, 4, "live", "2025-07-01"),
    # Tool 3: piloting only; sites 5-8 exist in the register through it.
    (3, 5, "piloting", "2025-01-01"), (3, 6, "piloting", "2025-01-01"), (3, 7, "exploring", "2025-01-01"),
    (3, 8, "discontinued", "2025-01-01"),
])


def test_scale_dates_follow_the_rule():
    dates = scale_dates(RECORDS, ScaleRule())
    assert dates[1] == pd.Timestamp("2025-03-01")  # one site scaled
    assert dates[2] == pd.Timestamp("2025-05-01")  # the third live site (3 >= 25% of 8 = 2)
    assert pd.isna(dates[3])
    # Stricter: two scaled sites, or live at half the register (4 sites).
    strict = scale_dates(RECORDS, ScaleRule(scaled_sites=2, live_share=0.5))
    assert pd.isna(strict[1]) and strict[2] == pd.Timestamp("2025-07-01")
    assert "at least 2 site(s) report it scaled" in ScaleRule(scaled_sites=2).describe()


@pytest.mark.parametrize(("horizon", "day", "reached", "expected"), [
    ("at_scale", "2025-04-01", "2025-03-01", "came true"),
    ("at_scale", "2025-01-31", "2025-03-01", "missed"),
    ("within_1y", "2025-01-31", "2025-03-01", "came true"),
    ("within_1y", "2025-04-30", "2025-03-01", "came early"),  # already at scale when called
    ("within_1y", "2024-01-31", None, "missed"),  # the year passed (today is 2026-06-01)
    ("within_1y", "2025-12-31", None, "open"),
    ("1_3y", "2025-01-31", "2025-03-01", "came early"),
    ("1_3y", "2024-01-31", "2025-03-01", "came true"),
    ("1_3y", "2025-01-31", None, "open"),
    ("1_3y", "2022-01-31", None, "missed"),
    ("over_3y", "2024-01-31", "2025-03-01", "came early"),
    ("over_3y", "2022-05-31", None, "came true"),
    ("over_3y", "2024-01-31", None, "open"),
])
def test_each_call_is_judged_against_its_window(horizon, day, reached, expected):
    calls = pd.DataFrame({"day": [pd.Timestamp(day)], "technology_id": [9], "horizon": [horizon], "p_within_year": [0.5]})
    reached_at = pd.Series([pd.Timestamp(reached) if reached else pd.NaT], index=[9], dtype="datetime64[ns]")
    assert classify_calls(calls, reached_at, "2026-06-01")["outcome"].tolist() == [expected]


def test_bands_and_reliability_add_up():
    calls = pd.DataFrame({
        "day": pd.to_datetime(["2024-01-31"] * 4 + ["2026-04-30"]),
        "technology_id": [1, 2, 3, 4, 5],
        "horizon": ["within_1y", "within_1y", "1_3y", "over_3y", "within_1y"],
        "p_within_year": [0.9, 0.7, 0.3, 0.05, 0.8],
    })
    reached = pd.Series(pd.to_datetime(["2024-06-01", None, "2026-01-01", None, None]), index=[1, 2, 3, 4, 5])
    classified = classify_calls(calls, reached, "2026-06-01")
    assert classified["outcome"].tolist() == ["came true", "missed", "came true", "open", "open"]
    table = track_record_table(classified).set_index("horizon")
    assert table.loc["within_1y", ["calls", "came true", "missed", "open"]].tolist() == [3, 1, 1, 1]
    assert table.loc["within_1y", "share came true"] == pytest.approx(1 / 3)
    assert table.loc["at_scale", "calls"] == 0 and pd.isna(table.loc["at_scale", "share came true"])
    # The reliability diagram uses the four calls whose year has passed (the last is still open).
    bins = reliability(classified).set_index("bin")
    assert bins["calls"].sum() == 4
    assert bins.loc["80%–100%", "observed"] == 1.0 and bins.loc["60%–80%", "observed"] == 0.0


def test_month_ends_until_the_month_before_today():
    assert month_ends("2025-10-15", "2026-01-10") == [pd.Timestamp("2025-10-31"), pd.Timestamp("2025-11-30"),
                                                       pd.Timestamp("2025-12-31")]
    assert month_ends("2026-01-02", "2026-01-10") == []
