"""Hand-computed tests of the blending engine (analysis.blending).

The model's arithmetic is checked with disclosure control off (``MODEL_ONLY``: threshold 1), on
a handful of answers; what disclosure control changes is checked in test_disclosure_rule.py.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analysis import blending, schemas, synthetic
from analysis.blending import BlendSettings, compare_estimates, estimate_all, evidence_for

MODEL_ONLY = {"disclosure_threshold": 1}  # every answer enters: the model's own arithmetic


def answer(response_id, technology_id, variable, value):
    return {"response_id": response_id, "technology_id": technology_id, "variable": variable, "value": value}


def estimate(frames, technology_id, quantity, settings=None):
    estimates = estimate_all(frames["technologies"], frames["technology_links"], frames["adoption"],
                             frames["answers"], frames["workshop_results"], settings,
                             responses=frames["responses"], **MODEL_ONLY)
    row = estimates[(estimates["technology_id"] == technology_id) & (estimates["quantity"] == quantity)]
    assert len(row) == 1
    return row.iloc[0]


@pytest.fixture
def impact_frames():
    # Technology 1: desk impact on the workforce "medium"; two users say "high", one aware-only
    # respondent says "low", one user says dont_know (ignored).
    return synthetic.build_frames(
        [{"technology_id": 1, "impact_workforce": "medium", "last_reviewed": "2024-03-01"}],
        technology_links=[{"technology_id": 1, "kind": "workforce_group", "code": "medic:radiology", "is_primary": True},
                          {"technology_id": 1, "kind": "workforce_group", "code": "ahp:radiology"}],
        responses=[{"response_id": r, "submitted_at": f"2024-0{r}-15"} for r in (1, 2, 3, 4)],
        answers=[
            answer(1, 1, "tech_use_frequency", "daily"), answer(1, 1, "tech_impact_workforce", "high"),
            answer(2, 1, "tech_use_frequency", "weekly"), answer(2, 1, "tech_impact_workforce", "high"),
            answer(3, 1, "tech_use_frequency", "not_used"), answer(3, 1, "tech_impact_workforce", "low"),
            answer(4, 1, "tech_use_frequency", "daily"), answer(4, 1, "tech_impact_workforce", "dont_know"),
            answer(4, None, "staff_group", "medic"),
        ],
    )


def test_dirichlet_update_with_catalogue_prior_users_and_aware_respondents(impact_frames):
    row = estimate(impact_frames, 1, "impact_workforce")
    # alpha = background 0.5 + prior 3 x [medium] + users 1 + 1 on high + aware 0.4 on low
    #   low 0.9, medium 3.5, high 2.5; total 6.9
    assert row["p_low"] == pytest.approx(0.9 / 6.9)
    assert row["p_medium"] == pytest.approx(3.5 / 6.9)
    assert row["p_high"] == pytest.approx(2.5 / 6.9)
    assert np.isnan(row["p_at_scale"])
    # cumulative 0.1304, 0.6377, 1 -> median category medium; 5% falls in low, 95% in high
    assert (row["point"], row["lower"], row["upper"]) == ("medium", "low", "high")
    assert (row["point_index"], row["lower_index"], row["upper_index"]) == (1.0, 0.0, 2.0)
    # latent scale: low spans [0,1): 0.05 / 0.1304 = 0.3833; 0.5 -> 1 + (0.5 - 0.1304) / 0.5072
    assert row["latent_lower"] == pytest.approx(0.05 / (0.9 / 6.9))
    assert row["latent_point"] == pytest.approx(1 + (0.5 - 0.9 / 6.9) / (3.5 / 6.9))
    assert row["latent_upper"] == pytest.approx(2 + (0.95 - 4.4 / 6.9) / (2.5 / 6.9))
    # evidence: 3 (desk) + 2 (users) + 0.4 (aware) = 5.4 -> moderate (5 <= n < 20)
    assert row["effective_n"] == pytest.approx(5.4)
    assert row["strength"] == "moderate"
    assert (row["n_catalogue"], row["n_survey"], row["n_workshop"]) == (1, 3, 0)
    # agreement = 1 - H(0.4/5.4, 3/5.4, 2/5.4) / ln 3
    shares = np.array([0.4, 3.0, 2.0]) / 5.4
    assert row["agreement"] == pytest.approx(1 + (shares * np.log(shares)).sum() / math.log(3))
    # newest evidence: response 3 (2024-03-15) beats the desk review (2024-03-01); response 4 was dont_know
    assert row["newest_evidence"] == pd.Timestamp("2024-03-15")
    assert row["primary_workforce_group"] == "medic:radiology"


def test_weights_come_from_settings(impact_frames):
    settings = BlendSettings(prior_strength=0, aware_weight=1.0, background_alpha=1.0)
    row = estimate(impact_frames, 1, "impact_workforce", settings)
    # alpha: low 1 + 1 = 2, medium 1, high 1 + 2 = 3; total 6 -> cumulative 1/3, 1/2, 1
    assert (row["p_low"], row["p_medium"], row["p_high"]) == pytest.approx((2 / 6, 1 / 6, 3 / 6))
    assert row["point"] == "medium"  # cumulative reaches exactly 0.5 at medium
    assert row["effective_n"] == pytest.approx(3.0)
    assert row["strength"] == "thin"


def test_no_evidence_gives_the_background_only():
    frames = synthetic.build_frames([{"technology_id": 7}])
    row = estimate(frames, 7, "time_to_deployment")
    # alpha = 0.5 each of 4 horizons: p = 0.25; cumulative 0.25, 0.5 -> point within_1y
    assert row["p_at_scale"] == pytest.approx(0.25)
    assert (row["point"], row["lower"], row["upper"]) == ("within_1y", "at_scale", "over_3y")
    assert row["effective_n"] == 0 and row["strength"] == "thin"
    assert np.isnan(row["agreement"]) and pd.isna(row["newest_evidence"])


def test_workshop_consensus_counts_as_pseudo_responses_and_later_rounds_supersede():
    frames = synthetic.build_frames(
        [{"technology_id": 1, "time_to_deployment": "over_3y", "last_reviewed": "2024-01-10"}],
        workshop_results=[
            # workshop 1: round 1 agreed 1_3y but round 2 ended without consensus -> no weight
            {"workshop_id": 1, "round": 1, "technology_id": 1, "quantity": "time_to_deployment",
             "category": "1_3y", "consensus": "in", "closed_at": "2024-02-01"},
            {"workshop_id": 1, "round": 2, "technology_id": 1, "quantity": "time_to_deployment",
             "category": None, "consensus": "none", "closed_at": "2024-03-01"},
            # workshop 2: consensus in on within_1y -> 10 pseudo-responses
            {"workshop_id": 2, "round": 1, "technology_id": 1, "quantity": "time_to_deployment",
             "category": "within_1y", "consensus": "in", "closed_at": "2024-05-01"},
            # a consensus on another quantity does not touch time to deployment
            {"workshop_id": 2, "round": 1, "technology_id": 1, "quantity": "impact_system",
             "category": "high", "consensus": "in", "closed_at": "2024-06-01"},
        ],
    )
    row = estimate(frames, 1, "time_to_deployment")
    # alpha: at_scale 0.5, within_1y 0.5 + 10, 1_3y 0.5, over_3y 0.5 + 3; total 15
    assert (row["p_at_scale"], row["p_within_1y"], row["p_1_3y"], row["p_over_3y"]) == pytest.approx(
        (0.5 / 15, 10.5 / 15, 0.5 / 15, 3.5 / 15))
    # cumulative 0.033, 0.733, 0.767, 1 -> point within_1y, lower within_1y, upper over_3y
    assert (row["point"], row["lower"], row["upper"]) == ("within_1y", "within_1y", "over_3y")
    assert (row["n_catalogue"], row["n_workshop"]) == (1, 1)
    assert row["effective_n"] == pytest.approx(13.0) and row["strength"] == "moderate"
    assert row["newest_evidence"] == pd.Timestamp("2024-05-01")


def test_adoption_stage_uses_current_site_status_and_reports_discontinued():
    frames = synthetic.build_frames(
        [{"technology_id": 1}],
        adoption=[
            # site 1 explored, then went live (current); site 2 scaled; site 3 discontinued
            {"technology_id": 1, "site_id": 1, "status": "exploring", "start_date": "2023-01-01",
             "end_date": "2023-06-01", "updated_at": "2023-06-01"},
            {"technology_id": 1, "site_id": 1, "status": "live", "start_date": "2023-06-01", "updated_at": "2024-02-01"},
            {"technology_id": 1, "site_id": 2, "status": "scaled", "updated_at": "2024-03-01"},
            {"technology_id": 1, "site_id": 3, "status": "discontinued", "updated_at": "2024-04-01"},
        ],
        answers=[answer(1, 1, "tech_use_frequency", "daily"), answer(1, 1, "tech_stage", "piloting"),
                 answer(2, 1, "tech_use_frequency", "not_used"), answer(2, 1, "tech_stage", "discontinued")],
    )
    row = estimate(frames, 1, "adoption_stage")
    # alpha: exploring 0.5, piloting 0.5 + 1 (user), live 0.5 + 1 (site 1), scaled 0.5 + 1 (site 2); total 5
    assert (row["p_exploring"], row["p_piloting"], row["p_live"], row["p_scaled"]) == pytest.approx(
        (0.1, 0.3, 0.3, 0.3))
    # cumulative 0.1, 0.4, 0.7, 1 -> point live, interval exploring..scaled
    assert (row["point"], row["lower"], row["upper"]) == ("live", "exploring", "scaled")
    # discontinued: site 3 (1) + aware respondent (0.4) = 1.4 of 3 + 1.4 evidence
    assert row["discontinued_share"] == pytest.approx(1.4 / 4.4)
    assert (row["n_catalogue"], row["n_survey"]) == (3, 2)
    assert row["effective_n"] == pytest.approx(3.0) and row["strength"] == "thin"
    assert row["newest_evidence"] == pd.Timestamp("2024-04-01")


@pytest.fixture
def minutes_frames():
    return synthetic.build_frames(
        [{"technology_id": 1}, {"technology_id": 2}],
        answers=[
            answer(1, 1, "tech_time_effect", "saved"), answer(1, 1, "tech_minutes_per_case", "10"),
            answer(2, 1, "tech_time_effect", "added"), answer(2, 1, "tech_minutes_per_case", "4"),
            # no_change wins over the minutes given with it -> 0
            answer(3, 1, "tech_time_effect", "no_change"), answer(3, 1, "tech_minutes_per_case", "7"),
            # saved without minutes, minutes without an effect, dont_know: no value
            answer(4, 1, "tech_time_effect", "saved"),
            answer(5, 1, "tech_minutes_per_case", "3"),
            answer(6, 1, "tech_time_effect", "dont_know"), answer(6, 1, "tech_minutes_per_case", "5"),
            # technology 2 has two values only
            answer(7, 2, "tech_time_effect", "saved"), answer(7, 2, "tech_minutes_per_case", "2.5"),
            answer(8, 2, "tech_time_effect", "saved"), answer(8, 2, "tech_minutes_per_case", "6"),
        ],
    )


def test_minutes_median_sign_rules_and_bootstrap_interval(minutes_frames):
    row = estimate(minutes_frames, 1, "minutes_per_case")
    # values: +10 (saved), -4 (added), 0 (no_change) -> median 0
    assert row["point"] == 0.0 and row["n_survey"] == 3
    # resample medians of 3 values: P(min) = P(max) = 7/27 > 5%, so the 90% percentile interval
    # runs from the smallest to the largest value
    assert (row["lower"], row["upper"]) == (-4.0, 10.0)
    # one of three values on the median's side (0)
    assert row["agreement"] == pytest.approx(1 / 3)
    assert row["strength"] == "thin"  # 3 values < moderate_from 5
    assert np.isnan(row["p_low"]) and np.isnan(row["latent_point"])


def test_minutes_with_fewer_than_three_values_has_no_interval(minutes_frames):
    row = estimate(minutes_frames, 2, "minutes_per_case")
    assert row["point"] == pytest.approx((2.5 + 6) / 2)
    assert pd.isna(row["lower"]) and pd.isna(row["upper"]) and row["strength"] == "thin"


def test_median_ranks_follow_the_resampling_distribution():
    # n = 3: the resample median is the smallest value when >= 2 of 3 draws pick it: 7/27
    ranks = blending._median_ranks(3, 200_000, seed=11)
    assert ranks.shape == (200_000, 1)
    assert (ranks[:, 0] == 0).mean() == pytest.approx(7 / 27, abs=0.004)
    assert (ranks[:, 0] == 1).mean() == pytest.approx(13 / 27, abs=0.004)
    # n = 4: both middle order statistics are the smallest value when >= 3 of 4 draws pick it:
    # 4 (1/4)^3 (3/4) + (1/4)^4 = 13/256
    ranks = blending._median_ranks(4, 200_000, seed=11)
    assert ranks.shape == (200_000, 2)
    assert ((ranks[:, 0] == 0) & (ranks[:, 1] == 0)).mean() == pytest.approx(13 / 256, abs=0.003)
    assert (ranks[:, 0] <= ranks[:, 1]).all()


@pytest.mark.parametrize("size", [25, 24])  # odd and even sizes take different paths
def test_bootstrap_matches_naive_resampling(size):
    rng = np.random.default_rng(3)
    values = np.sort(rng.normal(0, 5, size))
    lower, upper = blending.bootstrap_median_intervals(values, np.array([0]), np.array([size]), 20_000, 0.9, seed=5)
    naive = np.median(values[rng.integers(0, size, (20_000, size))], axis=1)
    expected = np.quantile(naive, [0.05, 0.95])
    gap = np.diff(values).max()
    assert abs(lower[0] - expected[0]) <= gap and abs(upper[0] - expected[1]) <= gap


def test_bootstrap_groups_of_one_size_match_one_at_a_time():
    # two groups of 5 values and one of 4, flat and sorted within groups
    values = np.array([1.0, 2, 3, 4, 50, -3, -2, 0, 7, 9, 10, 11, 12, 13])
    offsets, counts = np.array([0, 5, 10]), np.array([5, 5, 4])
    together = blending.bootstrap_median_intervals(values, offsets, counts, 2000, 0.9, seed=9)
    for group in range(3):
        part = values[offsets[group]:offsets[group] + counts[group]]
        alone = blending.bootstrap_median_intervals(part, np.array([0]), counts[group:group + 1], 2000, 0.9, seed=9)
        assert (together[0][group], together[1][group]) == (alone[0][0], alone[1][0])


def test_estimates_are_deterministic_and_ordered():
    data = synthetic.generate(30, 400, seed=4)
    args = (data.technologies, data.technology_links, data.adoption, data.answers, data.workshop_results)
    first = estimate_all(*args, responses=data.responses)
    second = estimate_all(*args, responses=data.responses)
    pd.testing.assert_frame_equal(first, second)
    assert list(first.columns) == list(blending.ESTIMATE_COLUMNS)
    assert len(first) == 30 * len(schemas.QUANTITIES)
    assert list(first["quantity"].iloc[:6]) == list(schemas.QUANTITIES)
    assert first["technology_id"].is_monotonic_increasing
    ordinal = first[first["quantity"] != "minutes_per_case"]
    assert (ordinal["lower_index"] <= ordinal["point_index"]).all()
    assert (ordinal["point_index"] <= ordinal["upper_index"]).all()


def test_bad_answer_code_names_the_row_and_variable(impact_frames):
    answers = pd.concat([impact_frames["answers"], pd.DataFrame(
        [answer(9, 1, "tech_impact_system", "huge")], index=[99])])
    with pytest.raises(schemas.FrameValidationError, match=r"answers row 99.*tech_impact_system.*'huge'"):
        estimate_all(impact_frames["technologies"], impact_frames["technology_links"], impact_frames["adoption"],
                     answers, impact_frames["workshop_results"])


def test_unknown_technology_and_duplicate_use_answers_are_rejected(impact_frames):
    args = (impact_frames["technologies"], impact_frames["technology_links"], impact_frames["adoption"])
    unknown = pd.concat([impact_frames["answers"], pd.DataFrame([answer(9, 42, "tech_stage", "live")], index=[50])])
    with pytest.raises(schemas.FrameValidationError, match=r"answers row 50, field 'technology_id': 42"):
        estimate_all(*args, unknown, impact_frames["workshop_results"])
    twice = pd.concat([impact_frames["answers"],
                       pd.DataFrame([answer(1, 1, "tech_use_frequency", "rarely")], index=[60])])
    with pytest.raises(schemas.FrameValidationError, match=r"answers row 60: response 1 answers tech_use_frequency twice"):
        estimate_all(*args, twice, impact_frames["workshop_results"])


def test_workshop_band_must_belong_to_its_quantity():
    frames = synthetic.build_frames([{"technology_id": 1}], workshop_results=[
        {"workshop_id": 1, "technology_id": 1, "quantity": "impact_pathway", "category": "within_1y"}])
    with pytest.raises(schemas.FrameValidationError, match=r"workshop_results row 0, field 'category'.*low, medium, high"):
        estimate(frames, 1, "impact_pathway")


def test_settings_are_validated():
    with pytest.raises(ValueError, match="strong_from"):
        BlendSettings(moderate_from=10, strong_from=5)
    with pytest.raises(ValueError):
        BlendSettings(aware_weight=-1)


def test_evidence_for_lists_every_row_without_identity(impact_frames):
    frames = {**impact_frames, "workshop_results": synthetic.build_frames([{"technology_id": 1}], workshop_results=[
        {"workshop_id": 3, "round": 2, "technology_id": 1, "quantity": "impact_workforce", "category": "high",
         "closed_at": "2024-07-01"}])["workshop_results"]}
    evidence = evidence_for(1, "impact_workforce", frames["technologies"], frames["adoption"], frames["answers"],
                            frames["workshop_results"], frames["responses"], **MODEL_ONLY)
    assert list(evidence.columns) == list(blending.EVIDENCE_COLUMNS)
    assert list(evidence["source"]) == ["catalogue", "workshop", "survey", "survey", "survey"]
    assert evidence.loc[0, "reference"] == "catalogue entry 1" and evidence.loc[0, "weight"] == 3.0
    assert evidence.loc[1, "reference"] == "workshop 3 round 2" and evidence.loc[1, "weight"] == 10.0
    survey = evidence[evidence["source"] == "survey"].set_index("reference")
    assert survey.loc["survey response 3", "weight"] == pytest.approx(0.4)
    assert survey.loc["survey response 3", "note"] == "knows of it (not a user)"
    # response 4 said "don't know": it carries no weight and is not listed; newest first
    assert list(survey.index) == ["survey response 3", "survey response 2", "survey response 1"]
    # no profile answers (staff group "medic") anywhere
    assert not evidence.astype(str).isin(["medic"]).any().any()
    # the weights used add up to the estimate's effective n (+10 for the workshop here)
    assert evidence["weight"].sum() == pytest.approx(5.4 + 10)


def test_evidence_for_minutes_and_unknown_inputs(minutes_frames):
    evidence = evidence_for(1, "minutes_per_case", minutes_frames["technologies"], minutes_frames["adoption"],
                            minutes_frames["answers"], minutes_frames["workshop_results"], **MODEL_ONLY)
    assert sorted(evidence["value"]) == [-4.0, 0.0, 10.0]
    with pytest.raises(ValueError, match="unknown quantity"):
        evidence_for(1, "cost", minutes_frames["technologies"], minutes_frames["adoption"],
                     minutes_frames["answers"], minutes_frames["workshop_results"])
    with pytest.raises(ValueError, match="technology_id 99"):
        evidence_for(99, "minutes_per_case", minutes_frames["technologies"], minutes_frames["adoption"],
                     minutes_frames["answers"], minutes_frames["workshop_results"])


def test_compare_estimates_flags_changes(impact_frames):
    args = (impact_frames["technologies"], impact_frames["technology_links"], impact_frames["adoption"],
            impact_frames["answers"], impact_frames["workshop_results"])
    default = estimate_all(*args, **MODEL_ONLY)
    # without the desk prior the two users' "high" dominate: alpha low 0.9, medium 0.5, high 2.5
    # -> cumulative 0.23, 0.36, 1 -> point high
    changed = estimate_all(*args, BlendSettings(prior_strength=0), **MODEL_ONLY)
    comparison = compare_estimates(default, changed).set_index("quantity")
    row = comparison.loc["impact_workforce"]
    assert (row["point_default"], row["point_new"], row["shift"]) == ("medium", "high", 1.0)
    assert row["changed"]
    # minutes have no evidence in either run: unchanged
    assert not comparison.loc["minutes_per_case", "changed"]
