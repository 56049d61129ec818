"""analysis.labelling.for_people: the one function that makes a table readable."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from analysis.labelling import for_people, heading, label_codes

LABELS = {"technology_type": {"diagnostics": "Diagnostics"}, "deployment_horizon": {"1_3y": "1–3 years", "over_3y": "More than 3 years"},
          "impact_level": {"low": "Low", "high": "High"}, "region": {"london": "London"}, "site_type": {"icb": "Integrated care board"}}


def test_codes_become_labels_headings_become_words_and_shares_percentages() -> None:
    table = pd.DataFrame({"type_code": ["diagnostics", "unknown_code", None], "technologies": [11, 2, 1],
                          "share": [0.06875, 0.5, np.nan], "tile_row": [1, 2, 3]})
    shown = for_people(table, LABELS)
    assert list(shown.columns) == ["Type", "Technologies", "Share"]  # the chart position is dropped
    assert shown["Type"].tolist() == ["Diagnostics", "unknown_code", None]
    assert shown["Share"].tolist()[:2] == ["6.9%", "50.0%"] and pd.isna(shown["Share"].iloc[2])


def test_a_cell_read_by_its_row_and_intervals_from_two_columns() -> None:
    changes = pd.DataFrame({"quantity": ["time_to_deployment", "impact_workforce", "minutes_per_case"],
                            "point_before": ["1_3y", "low", 5.0], "lower_before": ["1_3y", "low", -2.5],
                            "upper_before": ["over_3y", "high", np.nan]})
    shown = for_people(changes, LABELS, intervals={"interval_before": ("lower_before", "upper_before")})
    assert shown["Quantity"].tolist() == ["Time to deployment at scale", "Impact on the primary workforce group",
                                          "Staff minutes per case (+ saved, − added)"]
    assert shown["Estimate before"].tolist() == ["1–3 years", "Low", 5.0]
    assert shown["90% interval before"].tolist() == ["1–3 years – More than 3 years", "Low – High", "-2.5 – –"]
    gaps = pd.DataFrame({"dimension": ["region", "site_type"], "code": ["london", "icb"]})
    assert for_people(gaps, LABELS).to_dict("list") == {"Dimension": ["NHS region", "Site type"],
                                                        "Where": ["London", "Integrated care board"]}


def test_dates_flags_and_words_already_in_cells() -> None:
    table = pd.DataFrame({"last_reviewed": pd.to_datetime(["2025-03-01", None]), "stale": [True, False],
                          "survey_answers": ["withheld (<5)", 7], "came true": [1, 2]})
    shown = for_people(table, LABELS)
    assert shown["Last reviewed"].tolist() == [dt.date(2025, 3, 1), None]
    assert shown["Stale"].tolist() == ["yes", "no"]
    unknown = for_people(pd.DataFrame({"disagreement": pd.array([True, None], dtype="boolean")}), LABELS)
    assert unknown["Disagreement"].tolist() == ["yes", None]
    assert shown["Survey respondents"].tolist() == ["withheld (<5)", 7]
    assert "Came true" in shown.columns
    timed = for_people(pd.DataFrame({"date": pd.to_datetime(["2026-03-10 11:40", "2026-03-11 00:00"])}), LABELS)
    assert timed["Date"].tolist() == ["2026-03-10 11:40", "2026-03-11 00:00"]
    to_the_second = for_people(pd.DataFrame({"occurred_at": pd.to_datetime(["2026-03-10 11:40:05+00:00"])}), LABELS)
    assert to_the_second["Occurred at"].tolist() == ["2026-03-10 11:40:05"]


def test_options_override_the_defaults_and_choose_the_columns() -> None:
    cells = pd.DataFrame({"row": ["london"], "column": ["1_3y"], "technologies": [3], "other": [1]})
    shown = for_people(cells, LABELS, vocabularies={"row": "region", "column": "deployment_horizon"},
                       headings={"row": "NHS region"}, columns=["row", "column", "technologies"])
    assert shown.to_dict("list") == {"NHS region": ["London"], "Time to deployment": ["1–3 years"], "Technologies": [3]}
    assert heading("n_survey") == "Survey respondents" and heading("catalogue edits") == "Catalogue edits"
    assert label_codes(pd.Series(["diagnostics", None]), LABELS["technology_type"], "To classify").tolist() == [
        "Diagnostics", "To classify"]
