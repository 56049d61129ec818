"""Hand-computed tests of the roadmap view tables (analysis.views) on a four-technology catalogue.

    id  type               horizon (lower..upper)     strength  impact_workforce  minutes
    1   diagnostics/imaging within_1y (at_scale..1_3y) strong   high              +5.0
    2   diagnostics/pathology 1_3y (within_1y..over_3y) moderate medium          (none)
    3   automation          at_scale (at_scale..within_1y) thin  low               -2.0
    4   remote_monitoring   over_3y (1_3y..over_3y)    moderate  high              (none)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import synthetic, views
from analysis.views import Filters

LINKS = [
    (1, "clinical_area", "radiology", False), (1, "workforce_group", "medic:radiology", True),
    (1, "workforce_group", "ahp:radiology", False), (1, "point_of_care", "secondary", False),
    (1, "point_of_care", "primary", False),
    (2, "clinical_area", "pathology", False), (2, "workforce_group", "healthcare_scientist:pathology", True),
    (2, "point_of_care", "secondary", False),
    (3, "clinical_area", "administration", False), (3, "clinical_area", "general_practice", False),
    (3, "workforce_group", "non_clinical:administration", True), (3, "workforce_group", "medic:general_practice", False),
    (3, "point_of_care", "primary", False),
    (4, "clinical_area", "cardiology", False), (4, "workforce_group", "medic:cardiology", True),
    (4, "point_of_care", "community", False), (4, "point_of_care", "self_care", False),
]


@pytest.fixture
def frames():
    return synthetic.build_frames(
        [
            {"technology_id": 1, "type_code": "diagnostics", "subtype_code": "imaging", "last_reviewed": "2024-06-01"},
            {"technology_id": 2, "type_code": "diagnostics", "subtype_code": "pathology"},
            {"technology_id": 3, "type_code": "automation", "last_reviewed": "2023-01-01"},
            {"technology_id": 4, "type_code": "remote_monitoring", "last_reviewed": "2024-12-01"},
        ],
        technology_links=[{"technology_id": t, "kind": k, "code": c, "is_primary": p} for t, k, c, p in LINKS],
        adoption=[
            {"technology_id": 1, "site_id": 1, "region": "london", "site_type": "acute_trust", "status": "live"},
            {"technology_id": 1, "site_id": 2, "region": "midlands", "site_type": "acute_trust", "status": "scaled"},
            # site 3 was live, ended, and is piloting again: only the current record counts
            {"technology_id": 1, "site_id": 3, "region": "london", "site_type": "primary_care", "status": "live",
             "start_date": "2023-01-01", "end_date": "2023-12-31"},
            {"technology_id": 1, "site_id": 3, "region": "london", "site_type": "primary_care", "status": "piloting",
             "start_date": "2024-01-01"},
            {"technology_id": 2, "site_id": 4, "region": "north_west", "site_type": "acute_trust", "status": "live"},
            {"technology_id": 2, "site_id": 6, "region": "london", "site_type": "acute_trust", "status": "live"},
            {"technology_id": 3, "site_id": 5, "region": "london", "site_type": "icb", "status": "exploring"},
        ],
    )


def estimate_rows(technology_id, quantity, point, lower, upper, strength="moderate", effective_n=10.0,
                  n_survey=0, n_workshop=0, withheld=False):
    return {"technology_id": technology_id, "quantity": quantity, "point": point, "lower": lower, "upper": upper,
            "strength": strength, "effective_n": effective_n, "n_survey": n_survey, "survey_withheld": withheld,
            "survey_note": "survey evidence withheld: fewer than 5 respondents" if withheld else "",
            "n_workshop": n_workshop, "agreement": 0.5}


@pytest.fixture
def estimates():
    rows = [
        estimate_rows(1, "time_to_deployment", "within_1y", "at_scale", "1_3y", "strong", 25.0, 12, 1),
        estimate_rows(2, "time_to_deployment", "1_3y", "within_1y", "over_3y", "moderate", 8.0, 0),
        estimate_rows(3, "time_to_deployment", "at_scale", "at_scale", "within_1y", "thin", 3.0, 0, withheld=True),
        estimate_rows(4, "time_to_deployment", "over_3y", "1_3y", "over_3y", "moderate", 6.0, 0),
        estimate_rows(1, "impact_workforce", "high", "medium", "high", n_survey=11),
        estimate_rows(2, "impact_workforce", "medium", "low", "high"),
        estimate_rows(3, "impact_workforce", "low", "low", "medium", withheld=True),
        estimate_rows(4, "impact_workforce", "high", "medium", "high"),
        estimate_rows(1, "minutes_per_case", 5.0, 2.0, 8.0, n_survey=9),
        estimate_rows(2, "minutes_per_case", np.nan, np.nan, np.nan, "thin", 0.0, 0),
        estimate_rows(3, "minutes_per_case", -2.0, -4.0, 1.0, n_survey=5),
        estimate_rows(4, "minutes_per_case", np.nan, np.nan, np.nan, "thin", 0.0, 0),
    ]
    return pd.DataFrame(rows)


ALL = [1, 2, 3, 4]


def test_apply_filters(frames, estimates):
    def ids(**filters):
        return list(views.apply_filters(Filters(**filters), frames["technologies"], frames["technology_links"],
                                        frames["adoption"], estimates))

    assert ids() == ALL
    assert ids(type_codes=["diagnostics"]) == [1, 2]
    # current records in London: 1 (sites 1, 3), 2 (site 6), 3 (site 5)
    assert ids(regions=["london"]) == [1, 2, 3]
    assert ids(horizons=["at_scale", "within_1y"]) == [1, 3]
    assert ids(min_strength="moderate") == [1, 2, 4]
    assert ids(type_codes=["diagnostics"], min_strength="strong") == [1]
    assert ids(points_of_care=["community"], clinical_areas=["cardiology", "radiology"]) == [4]
    assert ids(workforce_groups=["medic:general_practice"]) == [3]
    with pytest.raises(ValueError):
        Filters(min_strength="excellent")


def test_taxonomy_distribution_and_headline(frames, estimates):
    table = views.taxonomy_distribution(frames["technologies"], ALL)
    rows = {(r.type_code, None if pd.isna(r.subtype_code) else r.subtype_code): r for r in table.itertuples()}
    # 4 technologies: diagnostics 2 (imaging 1, pathology 1), automation 1, remote monitoring 1
    assert rows[("diagnostics", "imaging")].technologies == 1
    assert rows[("diagnostics", "imaging")].share == 0.25
    assert rows[("diagnostics", "pathology")].type_technologies == 2
    assert rows[("diagnostics", "pathology")].type_share == 0.5
    assert rows[("automation", None)].share == 0.25
    assert table["share"].sum() == pytest.approx(1.0)
    assert table.iloc[0]["type_code"] == "diagnostics"
    # filtered: shares are of the filtered total (2)
    filtered = views.taxonomy_distribution(frames["technologies"], [1, 3])
    assert list(filtered["share"]) == [0.5, 0.5]

    figures = views.headline_figures(frames["technologies"], frames["technology_links"], estimates, ALL)
    # within a year: 1 (within_1y) and 3 (at_scale); 6 distinct workforce groups; 5 clinical areas
    assert figures == {"technologies": 4, "deployable_within_year": 2, "workforce_groups_affected": 6,
                       "clinical_areas_affected": 5}


def test_use_case_profile_with_multi_valued_shares(frames, estimates):
    profile = views.use_case_profile("diagnostics", frames["technologies"], frames["technology_links"],
                                     frames["adoption"], estimates, ALL)
    care = profile["points_of_care"].set_index("point_of_care")
    # 2 diagnostics technologies: secondary 2/2, primary 1/2 -> shares add up to 150%
    assert care.loc["secondary", "technologies"] == 2 and care.loc["secondary", "share"] == 1.0
    assert care.loc["primary", "share"] == 0.5
    assert care["share"].sum() == 1.5
    assert (care["denominator"] == 2).all() and care["shares_can_exceed_100"].all()
    groups = profile["workforce_groups"]
    assert len(groups) == 3 and (groups["share"] == 0.5).all()
    assert set(profile["clinical_areas"]["clinical_area"]) == {"radiology", "pathology"}
    horizons = profile["time_to_deployment"].set_index("horizon")
    assert list(horizons["technologies"]) == [0, 1, 1, 0]
    assert horizons.loc["1_3y", "share"] == 0.5
    regions = profile["regions"]
    # live/scaled sites: London 2 (tech 1 site 1, tech 2 site 6), Midlands 1, North West 1
    assert regions.iloc[0]["region"] == "london"
    assert regions.iloc[0]["live_or_scaled_sites"] == 2 and regions.iloc[0]["technologies"] == 2
    assert len(regions) == 3
    top = views.use_case_profile("diagnostics", frames["technologies"], frames["technology_links"],
                                 frames["adoption"], estimates, ALL, top_n=1)
    assert len(top["workforce_groups"]) == 1


def test_adoption_by_region_and_heatmap(frames):
    table = views.adoption_by_region(frames["adoption"], ALL).set_index(["region", "status"])
    assert len(table) == 7 * 5
    # London: live sites 1 and 6; piloting site 3 (its ended live record is not counted); exploring site 5
    assert table.loc[("london", "live"), "sites"] == 2
    assert table.loc[("london", "live"), "technologies"] == 2
    assert table.loc[("london", "piloting"), "sites"] == 1
    assert table.loc[("london", "exploring"), "sites"] == 1
    assert table.loc[("midlands", "scaled"), "sites"] == 1
    assert table.loc[("south_west", "live"), "sites"] == 0
    assert tuple(table.loc[("london", "live"), ["tile_row", "tile_col"]]) == views.REGION_TILE_GRID["london"]
    assert len(set(views.REGION_TILE_GRID.values())) == 7

    heat = views.adoption_heatmap(frames["adoption"], [1]).set_index(["status", "region", "site_type"])["sites"]
    assert len(heat) == 5 * 7 * 7
    assert heat[("piloting", "london", "primary_care")] == 1
    assert heat[("live", "london", "primary_care")] == 0
    assert heat.sum() == 3


def test_equity_gaps(frames):
    gaps = views.equity_gaps(frames["adoption"], ALL)
    regions = gaps.counts[gaps.counts["dimension"] == "region"].set_index("code")
    # live somewhere: tech 1 (London, Midlands), tech 2 (North West, London)
    assert (regions["live_elsewhere"] == 2).all()
    assert regions.loc["london", "gap"] == 0 and regions.loc["london", "live_here"] == 2
    assert regions.loc["midlands", "gap"] == 1 and regions.loc["north_west", "gap"] == 1
    assert regions.loc["south_west", "gap"] == 2 and regions.loc["south_west", "gap_share"] == 1.0
    assert list(regions["gap"]) == sorted(regions["gap"], reverse=True)
    site_types = gaps.counts[gaps.counts["dimension"] == "site_type"].set_index("code")
    # both are live in acute trusts; tech 1 is only piloting in primary care
    assert site_types.loc["acute_trust", "gap"] == 0 and site_types.loc["primary_care", "gap"] == 2
    members = gaps.members
    assert list(members[(members["dimension"] == "region") & (members["code"] == "midlands")]["technology_id"]) == [2]


def test_overview_matrix(frames, estimates):
    by_area = views.overview_matrix("clinical_area", frames["technologies"], frames["technology_links"], estimates, ALL)
    assert set(by_area.counts["column"]) == {"all"}
    assert dict(zip(by_area.counts["row"], by_area.counts["technologies"])) == {
        "administration": 1, "cardiology": 1, "general_practice": 1, "pathology": 1, "radiology": 1}
    care = views.overview_matrix("point_of_care", frames["technologies"], frames["technology_links"], estimates,
                                 ALL, across="time_to_deployment")
    cells = {(r.row, r.column): r.technologies for r in care.counts.itertuples()}
    assert cells == {("secondary", "within_1y"): 1, ("secondary", "1_3y"): 1, ("primary", "within_1y"): 1,
                     ("primary", "at_scale"): 1, ("community", "over_3y"): 1, ("self_care", "over_3y"): 1}
    members = care.members
    assert list(members[(members["row"] == "primary") & (members["column"] == "at_scale")]["technology_id"]) == [3]
    by_type = views.overview_matrix("workforce_group", frames["technologies"], frames["technology_links"], estimates,
                                    [1, 2], across="type_code")
    assert set(by_type.counts["column"]) == {"diagnostics"} and by_type.counts["technologies"].sum() == 3
    with pytest.raises(ValueError, match="dimension"):
        views.overview_matrix("region", frames["technologies"], frames["technology_links"], estimates, ALL)


def test_roadmap_timeline(frames, estimates):
    table = views.roadmap_timeline(frames["technologies"], estimates, ALL)
    # lanes in type order: automation (3), diagnostics (1 at 0.5 years, 2 at 2), remote monitoring (4)
    assert list(table["technology_id"]) == [3, 1, 2, 4]
    first = table.set_index("technology_id").loc[1]
    assert (first["years"], first["years_lower"], first["years_upper"]) == (0.5, 0.0, 2.0)
    assert first["type_code"] == "diagnostics" and first["strength"] == "strong"
    assert table.set_index("technology_id").loc[4, "years"] == 4.0
    custom = views.roadmap_timeline(frames["technologies"], estimates, [2],
                                    horizon_years={"at_scale": 0, "within_1y": 1, "1_3y": 3, "over_3y": 5})
    assert (custom.loc[0, "years_lower"], custom.loc[0, "years"], custom.loc[0, "years_upper"]) == (1, 3, 5)
    with pytest.raises(ValueError, match="over_3y"):
        views.roadmap_timeline(frames["technologies"], estimates, ALL, horizon_years={"at_scale": 0})


def test_workforce_impact(frames, estimates):
    table = views.workforce_impact(frames["technology_links"], estimates, ALL).set_index("workforce_group")
    # medic:radiology <- tech 1: within_1y, high (3), +5 minutes
    radiology = table.loc["medic:radiology"]
    assert (radiology["technologies_within_1y"], radiology["weighted_within_1y"]) == (1, 3.0)
    assert radiology["weighted_within_5y"] == 3.0 and radiology["median_minutes_per_case"] == 5.0
    # medic:general_practice <- tech 3: at_scale, low (1), -2 minutes
    assert table.loc["medic:general_practice", "weighted_within_1y"] == 1.0
    assert table.loc["medic:general_practice", "median_minutes_per_case"] == -2.0
    # healthcare_scientist:pathology <- tech 2: 1_3y, medium (2), no minutes evidence
    pathology = table.loc["healthcare_scientist:pathology"]
    assert (pathology["weighted_within_1y"], pathology["weighted_within_3y"], pathology["weighted_within_5y"]) == (
        0.0, 2.0, 2.0)
    assert np.isnan(pathology["median_minutes_per_case"]) and pathology["technologies_with_minutes"] == 0
    # medic:cardiology <- tech 4: over_3y counts only within 5 years
    cardiology = table.loc["medic:cardiology"]
    assert (cardiology["technologies_within_3y"], cardiology["technologies_within_5y"]) == (0, 1)
    assert len(table) == 6


def test_workforce_impact_median_across_technologies(frames, estimates):
    # put techs 1 and 3 in one group: median of +5 and -2 minutes = 1.5
    links = synthetic.build_frames([{"technology_id": t} for t in ALL], technology_links=[
        {"technology_id": 1, "kind": "workforce_group", "code": "nurse:general_practice"},
        {"technology_id": 3, "kind": "workforce_group", "code": "nurse:general_practice"},
        {"technology_id": 2, "kind": "workforce_group", "code": "nurse:general_practice"}])["technology_links"]
    row = views.workforce_impact(links, estimates, ALL).iloc[0]
    assert row["median_minutes_per_case"] == 1.5 and row["technologies_with_minutes"] == 2
    # weighted within 3 years: high 3 + low 1 + medium 2
    assert row["weighted_within_3y"] == 6.0 and row["technologies"] == 3


def training_frames():
    # respondents 1-7 hold "user"; 1-3 also "driver". Needed: 1-6 foundational, 7 product.
    # Received: 1-5 product (twice for respondent 1, for two technologies: counted once).
    answers = []
    for r in range(1, 8):
        answers.append({"response_id": r, "variable": "archetypes", "value": "user"})
        answers.append({"response_id": r, "technology_id": 1, "variable": "tech_training_needed",
                        "value": "foundational" if r <= 6 else "product"})
    for r in (1, 2, 3):
        answers.append({"response_id": r, "variable": "archetypes", "value": "driver"})
    for r in range(1, 6):
        answers.append({"response_id": r, "technology_id": 1, "variable": "tech_training_received", "value": "product"})
    answers.append({"response_id": 1, "technology_id": 2, "variable": "tech_training_received", "value": "product"})
    # respondent 8 is not in the responses frame (e.g. filtered out as demo): ignored
    answers.append({"response_id": 8, "variable": "archetypes", "value": "user"})
    return synthetic.build_frames([{"technology_id": 1}, {"technology_id": 2}],
                                  responses=[{"response_id": r} for r in range(1, 8)], answers=answers)


def test_training_needs_counts():
    frames = training_frames()
    table = views.training_needs(frames["answers"], frames["responses"], threshold=1)
    cell = table.set_index(["archetype", "training_type"])
    assert len(table) == 5 * 4
    assert cell.loc[("user", "foundational"), "needed"] == 6
    assert cell.loc[("user", "product"), "needed"] == 1
    assert cell.loc[("user", "product"), "received"] == 5
    assert cell.loc[("user", "foundational"), "respondents"] == 7
    assert cell.loc[("driver", "foundational"), "needed"] == 3
    assert cell.loc[("driver", "product"), "received"] == 3
    assert cell.loc[("shaper", "none"), "respondents"] == 0


def test_training_needs_suppression():
    frames = training_frames()
    cell = views.training_needs(frames["answers"], frames["responses"]).set_index(["archetype", "training_type"])
    # driver: every positive count is 3 < 5 -> hidden; respondents 3 -> hidden
    assert cell.loc[("driver", "foundational"), ["needed", "respondents"]].isna().all()
    assert cell.loc[("driver", "product"), "received_suppressed"]
    # user/product: needed 1 hidden; row -> received 5 hidden too
    assert pd.isna(cell.loc[("user", "product"), "needed"]) and pd.isna(cell.loc[("user", "product"), "received"])
    # column "needed" within user: a second cell is hidden so the total cannot reveal the 1
    assert cell.loc["user", "needed_suppressed"].sum() >= 2
    assert cell.loc[("user", "foundational"), "respondents"] == 7


def test_evidence_gaps_ranked_and_suppressed(frames, estimates):
    table = views.evidence_gaps(frames["technologies"], estimates, ALL, as_of="2025-01-01")
    # scores: 1 -> 0 (reviewed 214 days ago, survey 12, workshop 1); 2 -> 3 (never reviewed);
    # 3 -> 2 (no workshop, reviewed 731 days ago); 4 -> 2 (no survey, no workshop).
    # Tie 3 vs 4 broken by fewer survey answers -> 4 first.
    assert list(table["technology_id"]) == [2, 4, 3, 1]
    assert list(table["missing_score"]) == [3, 2, 2, 0]
    assert list(table["rank"]) == [1, 2, 3, 4]
    row = table.set_index("technology_id")
    assert row.loc[1, "days_since_review"] == 214 and not row.loc[1, "stale"]
    assert row.loc[3, "stale"] and row.loc[2, "stale"]
    # tech 3: its best-covered estimate used 5 respondents, and part of its survey evidence was withheld
    assert row.loc[3, "survey_answers"] == 5 and row.loc[3, "survey_withheld"] and not row.loc[3, "no_survey"]
    assert row.loc[2, "no_survey"] and not row.loc[2, "survey_withheld"] and row.loc[2, "survey_answers"] == 0
    assert row.loc[1, "survey_answers"] == 12 and not row.loc[1, "survey_withheld"]
    assert not row["survey_answers_suppressed"].any()  # the estimates already use 0 or at least 5
    shorter = views.evidence_gaps(frames["technologies"], estimates, ALL, as_of="2025-01-01", stale_after_days=100)
    assert shorter.set_index("technology_id").loc[1, "stale"]


def test_estimates_table_names_the_filtered_technologies_and_keeps_their_disclosure_notes(frames, estimates):
    table = views.estimates_table(frames["technologies"], estimates, [1, 3])
    assert sorted(table["technology_id"].unique()) == [1, 3]
    horizon = table[table["quantity"] == "time_to_deployment"].set_index("technology_id")
    assert horizon.loc[1, "name"] == "Technology 1" and horizon.loc[1, "n_survey"] == 12
    assert horizon.loc[3, "survey_withheld"] and horizon.loc[3, "survey_note"].startswith("survey evidence withheld")
    assert list(table.columns[:3]) == ["technology_id", "name", "type_code"]
