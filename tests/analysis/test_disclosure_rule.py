"""Hand-computed tests of the one disclosure rule (analysis.blending.published_survey): survey answers
enter an estimate only from enough respondents, each respondent class on its own or weighted alike,
and never where a respondent filter would single a few out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import synthetic
from analysis.blending import BlendSettings, estimate_all, evidence_for
from analysis.disclosure import RespondentFilter

DESK = {"technology_id": 1, "impact_workforce": "medium", "last_reviewed": "2024-03-01"}


def answer(response_id, variable, value, technology_id=1):
    return {"response_id": response_id, "technology_id": technology_id, "variable": variable, "value": value}


def frames_with(respondents: list[tuple[str, str]], *, regions: list[str] | None = None,
                months: list[str] | None = None) -> dict[str, pd.DataFrame]:
    """Technology 1 (desk impact "medium") and one respondent per (use frequency, impact answer)."""
    answers, responses = [], []
    for response_id, (frequency, impact) in enumerate(respondents, start=1):
        answers += [answer(response_id, "tech_use_frequency", frequency), answer(response_id, "tech_impact_workforce", impact)]
        responses.append({"response_id": response_id, "staff_group": "nurse",
                          "region": regions[response_id - 1] if regions else "london",
                          "submitted_at": f"{months[response_id - 1]}-15" if months else "2025-01-15"})
    return synthetic.build_frames([DESK], responses=responses, answers=answers)


def impact(frames, settings=None, **options) -> pd.Series:
    estimates = estimate_all(frames["technologies"], frames["technology_links"], frames["adoption"], frames["answers"],
                             frames["workshop_results"], settings, responses=frames["responses"], **options)
    return estimates[(estimates["technology_id"] == 1) & (estimates["quantity"] == "impact_workforce")].iloc[0]


PROBABILITIES = ["p_low", "p_medium", "p_high"]


def test_four_respondents_are_withheld_and_the_estimate_is_the_desk_alone():
    frames = frames_with([("daily", "high")] * 3 + [("not_used", "low")])
    row = impact(frames)
    # alpha: 0.5 each + 3 on medium (the desk value) -> 0.5, 3.5, 0.5 of 4.5
    assert [row[p] for p in PROBABILITIES] == pytest.approx([0.5 / 4.5, 3.5 / 4.5, 0.5 / 4.5])
    assert (row["n_survey"], row["effective_n"], row["strength"]) == (0, 3.0, "thin")
    assert row["survey_withheld"] and row["survey_note"] == "survey evidence withheld: fewer than 5 respondents"
    assert row["newest_evidence"] == pd.Timestamp("2024-03-01")  # the respondents' dates are withheld too
    # Exactly what the estimate would be if they had never answered.
    nobody = synthetic.build_frames([DESK])
    bare = impact(nobody)
    assert [row[p] for p in PROBABILITIES] == [bare[p] for p in PROBABILITIES]
    # A "don't know" does not count towards the threshold.
    assert impact(frames_with([("daily", "high")] * 4 + [("daily", "dont_know")]))["survey_withheld"]


def test_users_and_non_users_each_of_five_keep_their_own_weights():
    frames = frames_with([("daily", "high")] * 5 + [("not_used", "low")] * 5)
    row = impact(frames)
    # alpha: low 0.5 + 5 x 0.4 = 2.5, medium 3.5, high 0.5 + 5 = 5.5; total 11.5
    assert [row[p] for p in PROBABILITIES] == pytest.approx([2.5 / 11.5, 3.5 / 11.5, 5.5 / 11.5])
    assert (row["n_survey"], row["survey_withheld"], row["survey_note"]) == (10, False, "")


def test_a_small_group_of_non_users_makes_everyone_count_alike():
    # 6 users say high, 2 non-users say low. With their own weights the fractional 0.8 on "low"
    # would tell two non-users answered low; weighted alike at (1 + 0.4) / 2 = 0.7 it cannot.
    frames = frames_with([("daily", "high")] * 6 + [("not_used", "low")] * 2)
    row = impact(frames)
    # alpha: low 0.5 + 2 x 0.7 = 1.9, medium 3.5, high 0.5 + 6 x 0.7 = 4.7; total 10.1
    assert [row[p] for p in PROBABILITIES] == pytest.approx([1.9 / 10.1, 3.5 / 10.1, 4.7 / 10.1])
    assert row["effective_n"] == pytest.approx(3 + 8 * 0.7) and row["n_survey"] == 8
    assert row["survey_note"] == ("users and non-users weighted alike (0.7): telling them apart would single out fewer "
                                  "than 5 respondents")
    # Who is a user no longer matters: the same answers with the roles swapped give the same estimate.
    swapped = impact(frames_with([("not_used", "high")] * 6 + [("daily", "low")] * 2))
    assert [swapped[p] for p in PROBABILITIES] == [row[p] for p in PROBABILITIES]


def test_moving_a_weight_slider_reveals_no_small_group():
    # Setting the aware weight to 0 would show the six users alone next to the default view of
    # all eight; weighted alike, both views depend only on the eight answers together.
    frames = frames_with([("daily", "high")] * 6 + [("not_used", "low")] * 2)
    moved = impact(frames, BlendSettings(aware_weight=0.0))
    # weighted alike at (1 + 0) / 2 = 0.5: low 0.5 + 1, medium 3.5, high 0.5 + 3; total 8.5
    assert [moved[p] for p in PROBABILITIES] == pytest.approx([1.5 / 8.5, 3.5 / 8.5, 3.5 / 8.5])
    # A slider never brings back withheld answers.
    few = frames_with([("daily", "high")] * 4)
    for settings in (BlendSettings(user_weight=3.0), BlendSettings(aware_weight=3.0, prior_strength=0.0)):
        assert impact(few, settings)["survey_withheld"]
        assert impact(few, settings)["effective_n"] == impact(synthetic.build_frames([DESK]), settings)["effective_n"]


def test_minutes_from_fewer_than_five_are_withheld():
    def minutes(count: int) -> pd.Series:
        answers = []
        for response_id in range(1, count + 1):
            answers += [answer(response_id, "tech_time_effect", "saved"),
                        answer(response_id, "tech_minutes_per_case", str(2 * response_id))]
        frames = synthetic.build_frames([DESK], answers=answers)
        estimates = estimate_all(frames["technologies"], frames["technology_links"], frames["adoption"],
                                 frames["answers"], frames["workshop_results"])
        return estimates[estimates["quantity"] == "minutes_per_case"].iloc[0]

    four = minutes(4)
    assert pd.isna(four["point"]) and pd.isna(four["lower"]) and four["n_survey"] == 0 and four["survey_withheld"]
    five = minutes(5)
    assert five["point"] == 6.0 and five["n_survey"] == 5 and not five["survey_withheld"]


def test_a_respondent_filter_that_would_single_out_two_people_withholds():
    # 7 London respondents and 2 in the Midlands. "London only" has 7 (enough), but next to the
    # unfiltered view (9) it would give away the two Midlands answers.
    respondents = [("daily", "high")] * 7 + [("daily", "low")] * 2
    frames = frames_with(respondents, regions=["london"] * 7 + ["midlands"] * 2)
    london = impact(frames, respondent_filter=RespondentFilter(regions=("london",)))
    assert london["survey_withheld"] and london["n_survey"] == 0
    assert london["survey_note"] == ("survey evidence withheld: with the respondent filters it would single out fewer "
                                     "than 5 respondents")
    assert london["effective_n"] == 3.0
    # With 5 in the Midlands both views can be shown: they differ by 5.
    frames = frames_with([("daily", "high")] * 7 + [("daily", "low")] * 5, regions=["london"] * 7 + ["midlands"] * 5)
    london = impact(frames, respondent_filter=RespondentFilter(regions=("london",)))
    assert not london["survey_withheld"] and london["n_survey"] == 7
    assert london["effective_n"] == pytest.approx(3 + 7)
    # Choosing both regions covers everyone: the Midlands slab (5) is safe, so is London's (7).
    both = impact(frames, respondent_filter=RespondentFilter(regions=("london", "midlands")))
    assert both["n_survey"] == 12 and both["survey_note"] == ""


def test_a_month_range_must_start_and_end_on_enough_respondents():
    # January 5, February 2, March 6 respondents.
    months = ["2025-01"] * 5 + ["2025-02"] * 2 + ["2025-03"] * 6
    frames = frames_with([("daily", "high")] * 13, months=months)
    # January-February ends on February's 2: withheld (against January alone it gives them away).
    early = impact(frames, respondent_filter=RespondentFilter(submitted_from="2025-01", submitted_to="2025-02"))
    assert early["survey_withheld"]
    # February-March starts on February's 2: withheld.
    assert impact(frames, respondent_filter=RespondentFilter(submitted_from="2025-02"))["survey_withheld"]
    # January alone (5), and from January to March (everyone): shown.
    assert impact(frames, respondent_filter=RespondentFilter(submitted_to="2025-01"))["n_survey"] == 5
    assert impact(frames, respondent_filter=RespondentFilter(submitted_from="2025-01", submitted_to="2025-03"))["n_survey"] == 13


def test_the_drill_down_follows_the_estimate():
    frames = frames_with([("daily", "high")] * 6 + [("not_used", "low")] * 2)
    rows = evidence_for(1, "impact_workforce", frames["technologies"], frames["adoption"], frames["answers"],
                        frames["workshop_results"], frames["responses"])
    survey = rows[rows["source"] == "survey"]
    assert len(survey) == 8 and np.allclose(survey["weight"], 0.7)
    assert survey["note"].str.startswith("users and non-users weighted alike").all()  # no user / non-user per row
    few = frames_with([("daily", "high")] * 3)
    rows = evidence_for(1, "impact_workforce", few["technologies"], few["adoption"], few["answers"],
                        few["workshop_results"], few["responses"])
    survey = rows[rows["source"] == "survey"]
    assert survey[["reference", "used", "note"]].values.tolist() == [
        ["withheld", False, "survey evidence withheld: fewer than 5 respondents"]]
    assert survey["value"].isna().all() and survey["date"].isna().all()
