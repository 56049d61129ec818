"""The roadmap as of a past day (analysis.as_of, the released steps of analysis.disclosure.as_of_cutoffs,
analysis.changes and the as-of path of streamlit_app.report): hand-computed cases and properties."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import schemas as s
from analysis.as_of import adoption_as_of, baseline_history, catalogue_as_of, day_end
from analysis.blending import BlendSettings
from analysis.changes import changed_estimates, evidence_between, evidence_by_month
from analysis.disclosure import as_of_cutoffs
from analysis.views import Filters
from storage.analysis_inputs import assemble_inputs
from streamlit_app.report import compare_days, estimates_on_day, roadmap_analysis

N = 5


# --- released steps ------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(times=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 40)), max_size=60),
       days=st.lists(st.integers(-1, 45), min_size=2, max_size=4))
def test_any_two_days_differ_by_none_or_at_least_the_threshold(times, days):
    keys = np.array([k for k, _ in times], dtype=np.int64)
    moments = np.array([np.datetime64("2025-01-01") + np.timedelta64(t, "D") for _, t in times], dtype="datetime64[ns]")
    counts = {}
    for day in [*days, 100]:  # 100: after everything, i.e. today's figures
        cutoff = as_of_cutoffs(keys, moments, 3, pd.Timestamp("2025-01-01") + pd.Timedelta(days=day), N)
        for key in range(3):
            mine = moments[keys == key]
            used = int((mine <= cutoff[key]).sum()) if not np.isnat(cutoff[key]) else 0
            submitted = int((mine <= np.datetime64(pd.Timestamp("2025-01-01") + pd.Timedelta(days=day))).sum())
            assert used <= submitted and (used == 0 or used >= N)
            counts.setdefault(key, {})[day] = used
    for key, by_day in counts.items():
        total = int((keys == key).sum())
        assert by_day[100] == (total if total >= N else 0)  # today: everything (unless too few at all)
        ordered = [by_day[day] for day in sorted(by_day)]
        assert ordered == sorted(ordered)  # never shrinks with time
        for first in by_day.values():
            for second in by_day.values():
                assert first == second or abs(first - second) >= N


def test_steps_are_counted_back_from_today():
    moments = np.array([np.datetime64("2025-01-01") + np.timedelta64(d, "D") for d in range(12)], dtype="datetime64[ns]")
    keys = np.zeros(12, dtype=np.int64)

    def used(day: str) -> int:
        cutoff = as_of_cutoffs(keys, moments, 1, pd.Timestamp(day), N)[0]
        return 0 if np.isnat(cutoff) else int((moments <= cutoff).sum())

    # 12 today, then 7, then 2 (too few: dropped): so a day with 5 to 11 answers shows 7 or 0.
    assert [used(day) for day in ("2025-01-04", "2025-01-06", "2025-01-07", "2025-01-11", "2025-01-12")] == [0, 0, 7, 7, 12]


# --- the catalogue and adoption as they stood ----------------------------------------------------------


def revision(technology_id, recorded, kind, horizon=None, created=None, **links):
    return {"technology_id": technology_id, "recorded_at": pd.Timestamp(recorded), "kind": kind,
            "created_at": pd.Timestamp(created) if created else None, "name": f"Tool {technology_id}",
            "type_code": "diagnostics", "subtype_code": None, "time_to_deployment": horizon, "impact_workforce": None,
            "impact_pathway": None, "impact_system": None, "last_reviewed": None, "is_demo": False,
            "links": json.dumps({"clinical_area": links.get("areas", []), "workforce_group": [], "primary_workforce_group": None,
                                 "point_of_care": []})}


def today_catalogue(*ids):
    return pd.DataFrame({"technology_id": list(ids), "name": [f"Tool {i} now" for i in ids], "type_code": "diagnostics",
                         "subtype_code": None, "time_to_deployment": None, "impact_workforce": None, "impact_pathway": None,
                         "impact_system": None, "last_reviewed": pd.NaT, "updated_at": pd.Timestamp("2025-06-01"),
                         "is_demo": False, "company": [f"Maker {i}" for i in ids]})


HISTORY = pd.DataFrame([
    # Tool 1: added 10 Jan (1-3 years), changed 20 Jan (within a year), deleted 30 Jan.
    revision(1, "2025-01-10", "create", "1_3y", created="2025-01-10", areas=["radiology"]),
    revision(1, "2025-01-20", "update", "within_1y", areas=["radiology", "oncology"]),
    revision(1, "2025-01-30", "delete"),
    # Tool 2: older than the history, found on 15 Jan ("baseline"), created 1 Jan.
    revision(2, "2025-01-15", "baseline", "over_3y", created="2025-01-01"),
])


@pytest.mark.parametrize(("day", "expected"), [
    ("2024-12-31", {}),
    ("2025-01-05", {2: "over_3y"}),
    ("2025-01-12", {1: "1_3y", 2: "over_3y"}),
    ("2025-01-25", {1: "within_1y", 2: "over_3y"}),
    ("2025-02-01", {2: "over_3y"}),
])
def test_the_catalogue_as_it_stood(day, expected):
    technologies, links, unknown = catalogue_as_of(HISTORY, today_catalogue(2), day_end(day))
    assert dict(zip(technologies["technology_id"], technologies["time_to_deployment"].astype(object), strict=True)) == expected
    if 1 in expected:
        areas = links.loc[links["technology_id"] == 1, "code"].tolist()
        assert areas == (["radiology"] if day < "2025-01-20" else ["radiology", "oncology"])
    # Before its baseline, tool 2's entry is taken as first recorded, and that is said.
    assert (2 in set(unknown["technology_id"])) == (day < "2025-01-15" and 2 in expected)
    if 2 in expected:
        assert technologies.set_index("technology_id").loc[2, "company"] == "Maker 2"  # not in the history: today's


def test_a_site_counts_at_the_record_in_force_that_day():
    adoption = pd.DataFrame({
        "technology_id": [1, 1, 1], "site_id": [10, 11, 12], "region": "london", "site_type": "acute_trust",
        "status": ["live", "discontinued", "piloting"],
        "start_date": pd.to_datetime(["2025-02-01", "2024-01-01", None]),
        "end_date": pd.to_datetime([None, "2025-03-01", None]),
        "updated_at": pd.to_datetime(["2025-02-01", "2025-03-01", "2025-04-01"]),
    })
    in_force, unknown = adoption_as_of(adoption, day_end("2025-02-15"))
    # site 10 live from 1 Feb; site 11 not discontinued until 1 Mar (its earlier status is unknown:
    # not counted); site 12 has no start date: counted from when it was reported (1 Apr).
    assert in_force["site_id"].tolist() == [10]
    in_force, unknown = adoption_as_of(adoption, day_end("2025-03-15"))
    assert in_force["site_id"].tolist() == [10, 11]
    assert unknown.empty
    in_force, unknown = adoption_as_of(adoption, day_end("2025-01-15"))
    assert in_force.empty


# --- whole analyses as of a day ---------------------------------------------------------------------------


def world(catalogue_edit_day: str | None = None) -> dict[str, pd.DataFrame]:
    """Tools 1 and 2 (desk: 1-3 years). Five users answer about tool 1 in January ("within a
    year"), five about tool 2 in March ("over 3 years")."""
    when = pd.Timestamp("2024-12-01")
    technologies = pd.DataFrame({"technology_id": [1, 2], "name": ["One", "Two"], "type_code": "diagnostics",
                                 "subtype_code": None, "time_to_deployment": "1_3y", "impact_workforce": None,
                                 "impact_pathway": None, "impact_system": None, "last_reviewed": pd.NaT,
                                 "updated_at": when, "is_demo": False})
    rows, responses = [], []
    for index, (technology_id, horizon, month) in enumerate([(1, "within_1y", "01")] * 5 + [(2, "over_3y", "03")] * 5, start=1):
        rows += [(index, technology_id, "tech_use_frequency", "daily"), (index, technology_id, "tech_time_to_scale", horizon)]
        responses.append((index, pd.Timestamp(f"2025-{month}-{10 + index:02d}")))
    empty = {name: pd.DataFrame(columns=[spec.name for spec in s.FRAME_SCHEMAS[name]])
             for name in ("technology_links", "adoption", "workshop_results")}
    return {**empty, "technologies": technologies,
            "answers": pd.DataFrame(rows, columns=["response_id", "technology_id", "variable", "value"]),
            "responses": pd.DataFrame({"response_id": [r for r, _ in responses], "instrument": "clinician_experience",
                                       "submitted_at": [d for _, d in responses], "region": None, "site_type": None,
                                       "staff_group": None, "is_demo": False})}


def history_of(frames: dict, edit_day: str | None = None) -> pd.DataFrame:
    history = baseline_history(frames["technologies"], frames["technology_links"], "2024-12-01")
    if edit_day:  # tool 1's desk value changed to "over 3 years"
        edited = history.iloc[[0]].assign(recorded_at=pd.Timestamp(edit_day), kind="update", time_to_deployment="over_3y")
        history = pd.concat([history.astype({"kind": object, "time_to_deployment": object}),
                             edited.astype({"kind": object, "time_to_deployment": object})], ignore_index=True)
    return history


def horizons(analysis) -> dict[int, str]:
    table = analysis.estimates[analysis.estimates["quantity"] == "time_to_deployment"]
    return dict(zip(table["technology_id"], table["point"], strict=True))


def test_evidence_in_two_periods_moves_exactly_the_technologies_it_should():
    frames = world()
    inputs = assemble_inputs(frames, 1)
    history = history_of(frames)
    settings = BlendSettings()
    # Jan answers move tool 1 (desk 3 on 1_3y + 5 on within_1y), March answers tool 2.
    assert horizons(roadmap_analysis(inputs, history, settings, Filters(), N, "2024-12-31")) == {1: "1_3y", 2: "1_3y"}
    assert horizons(roadmap_analysis(inputs, history, settings, Filters(), N, "2025-02-01")) == {1: "within_1y", 2: "1_3y"}
    assert horizons(roadmap_analysis(inputs, history, settings, Filters(), N, "2025-04-01")) == {1: "within_1y", 2: "over_3y"}
    first = compare_days(inputs, history, settings, N, "2024-12-31", "2025-02-01").changes
    assert set(first["technology_id"]) == {1}
    second = compare_days(inputs, history, settings, N, "2025-02-01", "2025-04-01").changes
    assert set(second["technology_id"]) == {2}
    row = second[second["quantity"] == "time_to_deployment"].iloc[0]
    assert (row["point_before"], row["point_after"], row["direction"], row["survey_added"]) == ("1_3y", "over_3y", "later", 5)


def test_a_catalogue_edit_after_the_day_does_not_change_it():
    frames = world()
    inputs = assemble_inputs(frames, 1)
    settings = BlendSettings()
    before = roadmap_analysis(inputs, history_of(frames), settings, Filters(), N, "2025-02-01")
    edited = roadmap_analysis(inputs, history_of(frames, edit_day="2025-03-01"), settings, Filters(), N, "2025-02-01")
    pd.testing.assert_frame_equal(before.estimates, edited.estimates)
    later = roadmap_analysis(inputs, history_of(frames, edit_day="2025-03-01"), settings, Filters(), N, "2025-03-05")
    desk = later.inputs.technologies.set_index("technology_id").loc[1, "time_to_deployment"]
    assert desk == "over_3y"
    changes = compare_days(inputs, history_of(frames, edit_day="2025-03-01"), settings, N, "2025-02-01", "2025-03-05").changes
    assert changes.loc[changes["technology_id"] == 1, "counts_note"].tolist() == [
        "fewer than 5 new evidence items: direction only"]  # one catalogue edit: counts left out


def test_an_erased_response_vanishes_from_every_day():
    frames = world()
    erased = {**frames, "answers": frames["answers"][frames["answers"]["response_id"] != 3],
              "responses": frames["responses"][frames["responses"]["response_id"] != 3]}
    settings = BlendSettings()
    for day in ("2025-02-01", "2025-04-01", None):
        kept = roadmap_analysis(assemble_inputs(erased, 1), history_of(erased), settings, Filters(), N, day)
        # Tool 1 keeps 4 respondents: withheld on every day, as if the fifth had never answered.
        row = kept.estimates[(kept.estimates["technology_id"] == 1) & (kept.estimates["quantity"] == "time_to_deployment")].iloc[0]
        assert row["survey_withheld"] and row["point"] == "1_3y"


def test_as_of_today_is_today_exactly():
    frames = world()
    inputs = assemble_inputs(frames, 1)
    settings = BlendSettings()
    today = roadmap_analysis(inputs, history_of(frames), settings, Filters(), N)
    same = roadmap_analysis(inputs, history_of(frames), settings, Filters(), N, dt.date.today())
    pd.testing.assert_frame_equal(today.estimates, same.estimates)
    pd.testing.assert_frame_equal(today.estimates_table, same.estimates_table)
    assert not same.is_past and same.as_of_text.startswith("today")


def test_the_export_table_is_the_analysis_table_without_filters_on_every_day():
    frames = world()
    inputs = assemble_inputs(frames, 1)
    # Entries of unknown creation: before the history starts they count with a note on each row.
    history = history_of(frames, edit_day="2025-03-01").assign(created_at=pd.NaT)
    settings = BlendSettings()
    assert estimates_on_day(inputs, history, settings, N, "2024-11-01").table["history_note"].str.startswith(
        "entry as first recorded on 2024-12-01").all()
    for day in ("2024-11-01", "2025-02-01", "2025-04-01", None):
        exported = estimates_on_day(inputs, history, settings, N, day)
        analysed = roadmap_analysis(inputs, history, settings, Filters(), N, day)
        pd.testing.assert_frame_equal(exported.table, analysed.estimates_table)
        assert (exported.as_of, exported.as_of_text) == (analysed.as_of, analysed.as_of_text)


def test_changed_estimates_show_direction_only_for_a_few_new_items():
    before = pd.DataFrame({"technology_id": [1, 2], "quantity": "impact_system", "point": ["low", "low"], "point_index": [0.0, 0.0],
                           "lower": "low", "upper": "medium", "strength": "thin", "effective_n": 3.0, "n_survey": 0})
    after = before.assign(point=["high", "medium"], point_index=[2.0, 1.0], n_survey=[0, 5], effective_n=[13.0, 8.0])
    evidence = pd.DataFrame({"technology_id": [1], "quantity": ["impact_system"], "workshop_results_added": [1],
                             "sites_added": [0], "catalogue_edits": [0]})
    table = changed_estimates(before, after, evidence, N).set_index("technology_id")
    assert list(table.index) == [1, 2]  # the bigger move first
    assert table.loc[1, "direction"] == "higher" and pd.isna(table.loc[1, "workshop_results_added"])
    assert table.loc[1, "counts_note"].startswith("fewer than 5")
    assert table.loc[2, "survey_added"] == 5 and table.loc[2, "counts_note"] == ""


def test_evidence_per_month_hides_few_survey_responses():
    frames = world()
    table = evidence_by_month(frames, history_of(frames), "2025-01-01", "2025-03-31", N).set_index("month")
    assert table.loc["2025-01", "survey"] == 5 and table.loc["2025-03", "survey"] == 5
    assert table.loc["2025-02", "survey"] == 0 and not table["survey_suppressed"].any()
    few = {**frames, "responses": frames["responses"].assign(submitted_at=pd.to_datetime(
        ["2025-01-10"] * 4 + ["2025-02-10"] * 1 + ["2025-03-10"] * 5))}
    table = evidence_by_month(few, None, "2025-01-01", "2025-03-31", N).set_index("month")
    assert table["survey_suppressed"].tolist() == [True, True, False]  # 4 and 1 hidden (each would reveal the other)
    between = evidence_between(few, history_of(few, edit_day="2025-02-02"), "2025-02-01", "2025-03-01")
    assert between.set_index(["technology_id", "quantity"]).loc[(1, "time_to_deployment"), "catalogue_edits"] == 1


def test_a_past_day_is_stamped_on_the_report_and_the_export(tmp_path):
    from streamlit_app.report import build_report

    frames = world()
    analysis = roadmap_analysis(assemble_inputs(frames, 1), history_of(frames), BlendSettings(), Filters(), N, "2025-02-01")
    assert analysis.is_past and analysis.as_of_text == "as of 01 February 2025"
    content = build_report(analysis, [], None, method_text="")
    assert "<td>The roadmap</td><td>as of 01 February 2025</td>" in content
    assert "released in steps of at least 5 respondents per technology" in content
    assert "History not known" in content
