"""Per-item and per-group summaries: hand-computed examples for every rule and the edge cases.

Percentiles are linear interpolation between order statistics: with the n ratings sorted as
x0..x(n-1), the q-th quantile sits at position h = (n - 1) * q and equals
x[floor(h)] + (h - floor(h)) * (x[floor(h) + 1] - x[floor(h)]).
"""

import math

import numpy as np
import pandas as pd
import pytest

from analysis.consensus import (
    COMET_EVERY_GROUP_RULE,
    COMET_RULE,
    RAM_RULE,
    ConsensusRule,
    RatingsError,
    Scale,
    interpercentile_statistics,
    summarise_by_group,
    summarise_items,
)
from tests.fixtures.consensus import item_ratings, ratings_table

FIVE_POINT = Scale(min=1, max=5, low=(1, 2), mid=(3, 3), high=(4, 5))


def only_row(summary: pd.DataFrame) -> pd.Series:
    assert len(summary) == 1
    return summary.iloc[0]


def single_item(ratings, rule=COMET_RULE, scale=None) -> pd.Series:
    table = item_ratings({"panel": ratings})
    return only_row(summarise_items(table, rule) if scale is None else summarise_items(table, rule, scale))


def test_summary_has_documented_columns_in_order():
    summary = summarise_items(item_ratings({"panel": [7, 8]}), COMET_RULE)
    assert list(summary.columns) == [
        "item", "round", "n", "n_low", "n_mid", "n_high", "median", "q1", "q3", "iqr",
        "pct_low", "pct_mid", "pct_high", "consensus",
        "p30", "p70", "ipr", "iprcp", "asymmetry_index", "ipras", "disagreement", "appropriateness",
    ]  # fmt: skip


def test_distribution_statistics_by_hand():
    # sorted: 2 5 5 7 7 7 8 8 9 9 (n = 10)
    # median: h = 4.5 -> (7 + 7) / 2 = 7; q1: h = 2.25 -> 5 + 0.25 * (7 - 5) = 5.5; q3: h = 6.75 -> 8
    # bands: low {2} = 1, mid {5, 5} = 2, high = 7
    # p30: h = 2.7 -> 5 + 0.7 * 2 = 6.4; p70: h = 6.3 -> 8 + 0.3 * 0 = 8
    # ipr = 1.6, iprcp = 7.2, AI = 2.2, ipras = 2.35 + 1.5 * 2.2 = 5.65 -> no disagreement
    row = single_item([7, 7, 7, 8, 8, 9, 9, 5, 5, 2])
    assert (row["n"], row["n_low"], row["n_mid"], row["n_high"]) == (10, 1, 2, 7)
    assert (row["median"], row["q1"], row["q3"], row["iqr"]) == pytest.approx((7, 5.5, 8, 2.5))
    assert (row["pct_low"], row["pct_mid"], row["pct_high"]) == pytest.approx((10, 20, 70))
    assert (row["p30"], row["p70"], row["ipr"], row["iprcp"]) == pytest.approx((6.4, 8, 1.6, 7.2))
    assert (row["asymmetry_index"], row["ipras"]) == pytest.approx((2.2, 5.65))
    assert not row["disagreement"]
    assert row["appropriateness"] == "appropriate"
    # exactly 70% high meets ">= 70", and 10% low is below 15 -> consensus in
    assert row["consensus"] == "in"


@pytest.mark.parametrize(
    ("high", "mid", "low", "expected"),
    [
        (14, 4, 2, "in"),  # 70% high, 10% low
        (14, 3, 3, "none"),  # 70% high but exactly 15% low, which is not "< 15"
        (13, 7, 0, "none"),  # 65% high
        (2, 4, 14, "out"),  # mirror: 70% low, 10% high
        (3, 3, 14, "none"),  # 70% low but exactly 15% high
    ],
)
def test_comet_ties_at_exactly_70_and_15_percent(high, mid, low, expected):
    row = single_item([8] * high + [5] * mid + [2] * low)
    assert row["n"] == 20
    assert row["consensus"] == expected


def test_two_of_three_is_not_seventy_percent():
    # 2 / 3 = 66.7% < 70 -> no consensus, whatever the rounding of the shown percentage
    row = single_item([9, 9, 5])
    assert row["pct_high"] == pytest.approx(200 / 3)
    assert row["consensus"] == "none"


def test_custom_rule_counts_the_chosen_bands_with_its_own_thresholds():
    # in-bands mid + high: 4 5 6 7 8 9 9 9 5 = 9 of 10 = 90% >= 80; low {2} = 10%
    ratings = [4, 5, 6, 7, 8, 9, 9, 9, 2, 5]
    strict = ConsensusRule(kind="custom", in_pct=80, out_pct=10, in_bands=("mid", "high"))
    lenient = ConsensusRule(kind="custom", in_pct=80, out_pct=20, in_bands=("mid", "high"))
    assert single_item(ratings, strict)["consensus"] == "none"  # 10% low is not < 10
    assert single_item(ratings, lenient)["consensus"] == "in"  # 10% low < 20
    # the standard rule on the same ratings: high 7, 8, 9, 9, 9 = 50% -> none
    assert single_item(ratings, COMET_RULE)["consensus"] == "none"


def test_custom_rule_out_uses_the_out_bands_against_in_pct():
    # out-bands low + mid: 1 2 3 4 5 6 1 2 = 8 of 10 = 80% >= 75; in-band high {9} = 10% < 15
    rule = ConsensusRule(kind="custom", in_pct=75, out_pct=15, in_bands=("high",), out_bands=("low", "mid"))
    assert single_item([1, 2, 3, 4, 5, 6, 1, 2, 9, 7], rule)["consensus"] == "none"  # 20% high
    assert single_item([1, 2, 3, 4, 5, 6, 1, 2, 9, 5], rule)["consensus"] == "out"


@pytest.mark.parametrize(
    ("ratings", "p30", "p70", "ipr", "iprcp", "asymmetry", "ipras", "disagreement", "median", "verdict"),
    [
        # 1..9: p30 h = 2.4 -> 3 + 0.4 = 3.4; p70 h = 5.6 -> 6 + 0.6 = 6.6; ipr 3.2; iprcp 5; AI 0;
        # ipras 2.35; 3.2 > 2.35 -> disagreement; median 5 -> uncertain
        ([1, 2, 3, 4, 5, 6, 7, 8, 9], 3.4, 6.6, 3.2, 5.0, 0.0, 2.35, True, 5.0, "uncertain"),
        # 7 7 8 8 8 9 9 9 9 9: p30 h = 2.7 -> 8 + 0.7 * 0 = 8; p70 h = 6.3 -> 9; ipr 1; iprcp 8.5;
        # AI 3.5; ipras 2.35 + 5.25 = 7.6; median (8 + 9) / 2 = 8.5 -> appropriate
        ([7, 7, 8, 8, 8, 9, 9, 9, 9, 9], 8.0, 9.0, 1.0, 8.5, 3.5, 7.6, False, 8.5, "appropriate"),
        # 1 1 1 1 7 7 8 8 9 9 9 (n = 11): p30 h = 3 -> 1; p70 h = 7 -> 8; ipr 7; iprcp 4.5; AI 0.5;
        # ipras 2.35 + 0.75 = 3.1; 7 > 3.1 -> disagreement, so a median of 7 is still uncertain
        ([1, 1, 1, 1, 7, 7, 8, 8, 9, 9, 9], 1.0, 8.0, 7.0, 4.5, 0.5, 3.1, True, 7.0, "uncertain"),
        # 1 1 1 2 2 3 3 4 5: p30 h = 2.4 -> 1 + 0.4 * 1 = 1.4; p70 h = 5.6 -> 3; ipr 1.6; iprcp 2.2;
        # AI 2.8; ipras 2.35 + 4.2 = 6.55; median 2 -> inappropriate
        ([1, 1, 1, 2, 2, 3, 3, 4, 5], 1.4, 3.0, 1.6, 2.2, 2.8, 6.55, False, 2.0, "inappropriate"),
        # 1 1 1 2 2 8 8 9 9 9 (polarised): p30 h = 2.7 -> 1 + 0.7 = 1.7; p70 h = 6.3 -> 8 + 0.3 = 8.3;
        # ipr 6.6; iprcp 5; AI 0; ipras 2.35 -> disagreement; median (2 + 8) / 2 = 5
        ([1, 1, 1, 2, 2, 8, 8, 9, 9, 9], 1.7, 8.3, 6.6, 5.0, 0.0, 2.35, True, 5.0, "uncertain"),
        # 6 7: median 6.5 lies below the high band 7-9 -> uncertain although nobody disagrees
        # p30 h = 0.3 -> 6.3; p70 h = 0.7 -> 6.7; ipr 0.4; iprcp 6.5; AI 1.5; ipras 4.6
        ([6, 7], 6.3, 6.7, 0.4, 6.5, 1.5, 4.6, False, 6.5, "uncertain"),
    ],
)
def test_rand_ucla_worked_examples(ratings, p30, p70, ipr, iprcp, asymmetry, ipras, disagreement, median, verdict):
    row = single_item(ratings, RAM_RULE)
    assert (row["p30"], row["p70"], row["ipr"], row["iprcp"]) == pytest.approx((p30, p70, ipr, iprcp))
    assert (row["asymmetry_index"], row["ipras"], row["median"]) == pytest.approx((asymmetry, ipras, median))
    assert bool(row["disagreement"]) is disagreement
    assert row["appropriateness"] == verdict
    assert row["consensus"] == {"appropriate": "in", "inappropriate": "out", "uncertain": "none"}[verdict]


def test_ipr_equal_to_ipras_is_not_disagreement_despite_floating_point_noise():
    # p30 1.9, p70 5.9: ipr = 4.0; iprcp = 3.9; AI = 1.1; ipras = 2.35 + 1.65 = 4.0 -> a tie.
    # In binary floating point ipras comes out as 3.9999999999999996, so a naive ">" says yes.
    p30, p70 = pd.Series([1.9, 1.9]), pd.Series([5.9, 5.95])
    assert (p70 - p30).iloc[0] > 2.35 + 1.5 * abs(5 - (p30 + p70).iloc[0] / 2)
    statistics = interpercentile_statistics(p30, p70)
    assert statistics["ipr"].iloc[0] == pytest.approx(4.0)
    assert statistics["ipras"].iloc[0] == pytest.approx(4.0)
    assert not statistics["disagreement"].iloc[0]
    # p70 5.95: ipr 4.05; iprcp 3.925; AI 1.075; ipras 3.9625 -> disagreement
    assert statistics["ipras"].iloc[1] == pytest.approx(3.9625)
    assert statistics["disagreement"].iloc[1]


def test_require_every_group_refuses_consensus_one_group_lacks():
    # clinicians 7 8 9 9 9 (100% high); managers 7 8 5 5 5 (40% high)
    # overall: 7 of 10 high = 70%, 0 low -> in; managers alone -> none
    table = item_ratings({"clinicians": [7, 8, 9, 9, 9], "managers": [7, 8, 5, 5, 5]})
    assert only_row(summarise_items(table, COMET_RULE))["consensus"] == "in"
    assert only_row(summarise_items(table, COMET_EVERY_GROUP_RULE))["consensus"] == "none"


def test_require_every_group_skips_a_group_without_ratings():
    # patients joined but left the item blank: their group has no ratings and is skipped
    table = item_ratings({"clinicians": [7, 8, 9, 7, 8], "managers": [9, 9, 8, 7, 7], "patients": [None, None]})
    assert only_row(summarise_items(table, COMET_EVERY_GROUP_RULE))["consensus"] == "in"
    by_group = summarise_by_group(table, COMET_EVERY_GROUP_RULE).set_index("group")
    assert by_group.loc["patients", "n"] == 0
    assert math.isnan(by_group.loc["patients", "pct_high"])
    assert by_group.loc["patients", "consensus"] == "none"
    assert by_group.loc[["clinicians", "managers"], "consensus"].tolist() == ["in", "in"]


def test_require_every_group_also_applies_to_out_and_to_ram():
    # clinicians 1 1 2 and managers 2 3 3 are all in the low band: out overall and in each group
    table = item_ratings({"clinicians": [1, 1, 2], "managers": [2, 3, 3]})
    assert only_row(summarise_items(table, COMET_EVERY_GROUP_RULE))["consensus"] == "out"
    # ram overall 1 1 2 2 3 3: median 2; p30 h = 1.5 -> 1.5; p70 h = 3.5 -> 2.5; ipr 1; iprcp 2; AI 3;
    # ipras 6.85 -> inappropriate. clinicians 1 1 2: median 1, ipr 0.4 -> inappropriate.
    # managers 2 3 3: median 3; p30 h = 0.6 -> 2.6; p70 h = 1.4 -> 3; ipr 0.4 -> inappropriate.
    every_group_ram = ConsensusRule(kind="ram", require_every_group=True)
    assert only_row(summarise_items(table, every_group_ram))["consensus"] == "out"
    # add industry 5 5: overall 1 1 2 2 3 3 5 5 has median 2.5; p30 h = 2.1 -> 2; p70 h = 4.9 -> 3;
    # ipr 1; iprcp 2.5; AI 2.5; ipras 6.1 -> still inappropriate overall, but industry's median 5
    # is uncertain, so the every-group rule gives no consensus
    with_industry = ratings_table(table, item_ratings({"industry": [5, 5]}))
    assert only_row(summarise_items(with_industry, RAM_RULE))["consensus"] == "out"
    assert only_row(summarise_items(with_industry, every_group_ram))["consensus"] == "none"
    # comet overall: 6 of 8 low = 75%, none high -> out; industry has 0% low -> none with every group
    assert only_row(summarise_items(with_industry, COMET_RULE))["consensus"] == "out"
    assert only_row(summarise_items(with_industry, COMET_EVERY_GROUP_RULE))["consensus"] == "none"


def test_all_identical_ratings():
    # eight 5s: every percentile is 5, ipr 0, iprcp 5, AI 0, ipras 2.35, no disagreement,
    # median 5 in the mid band -> uncertain; 100% mid -> no consensus
    row = single_item([5] * 8, RAM_RULE)
    assert (row["n"], row["median"], row["iqr"], row["pct_mid"]) == (8, 5, 0, 100)
    assert (row["p30"], row["p70"], row["ipr"], row["ipras"]) == pytest.approx((5, 5, 0, 2.35))
    assert not row["disagreement"]
    assert row["appropriateness"] == "uncertain"
    assert single_item([5] * 8)["consensus"] == "none"
    assert single_item([8] * 8)["consensus"] == "in"
    assert single_item([8] * 8, RAM_RULE)["appropriateness"] == "appropriate"


def test_single_participant_reaches_consensus_on_their_own():
    # n = 1: 100% of the panel rates 9; the n column lets the write-up flag it
    row = single_item([9], RAM_RULE)
    assert (row["n"], row["median"], row["q1"], row["q3"], row["iqr"]) == (1, 9, 9, 9, 0)
    assert (row["p30"], row["p70"], row["ipr"]) == (9, 9, 0)
    assert row["appropriateness"] == "appropriate"
    assert single_item([9])["consensus"] == "in"


def test_missing_ratings_are_excluded_from_every_count():
    # 7 7 7 8 and three blanks: n = 4, 100% high -> in (counting blanks would give 4 / 7 = 57%)
    row = single_item([7, None, 7, None, 7, 8, None])
    assert (row["n"], row["n_high"], row["pct_high"]) == (4, 4, 100)
    assert row["median"] == 7
    assert row["consensus"] == "in"


def test_item_with_only_missing_ratings_is_listed_with_n_zero():
    table = ratings_table(item_ratings({"panel": [8, 9]}, item="A"), item_ratings({"panel": [None, None]}, item="B"))
    summary = summarise_items(table, RAM_RULE).set_index("item")
    row = summary.loc["B"]
    assert row["n"] == 0
    assert all(math.isnan(row[column]) for column in ("median", "iqr", "pct_low", "pct_mid", "pct_high", "ipr", "ipras"))
    assert pd.isna(row["disagreement"]) and pd.isna(row["appropriateness"])
    assert row["consensus"] == "none"
    assert summary.loc["A", "consensus"] == "in"


def test_rating_between_bands_counts_in_the_middle_band():
    # 3.5 is above the low band (1-3) and below the high band (7-9) -> mid; 6.5 likewise
    row = single_item([3, 3.5, 6.5, 7])
    assert (row["n_low"], row["n_mid"], row["n_high"]) == (1, 2, 1)


def test_rows_are_per_item_and_round_sorted():
    table = ratings_table(
        item_ratings({"panel": [9, 9]}, item="B", round_number=2),
        item_ratings({"panel": [1, 1]}, item="B", round_number=1),
        item_ratings({"panel": [5, 5]}, item="A", round_number=1),
    )
    summary = summarise_items(table, COMET_RULE)
    assert list(zip(summary["item"], summary["round"], summary["consensus"])) == [
        ("A", 1, "none"),
        ("B", 1, "out"),
        ("B", 2, "in"),
    ]


def test_custom_scale_uses_its_bands_and_leaves_rand_ucla_columns_empty():
    # 1-5 scale, high = 4-5: 4 5 5 4 3 -> 4 of 5 = 80% high, 0% low -> in
    table = item_ratings({"panel": [4, 5, 5, 4, 3]})
    row = only_row(summarise_items(table, COMET_RULE, FIVE_POINT))
    assert (row["n_low"], row["n_mid"], row["n_high"], row["pct_high"]) == (0, 1, 4, 80)
    assert row["consensus"] == "in"
    assert math.isnan(row["ipras"]) and pd.isna(row["disagreement"]) and pd.isna(row["appropriateness"])


def test_ram_rule_is_refused_on_a_scale_other_than_1_to_9():
    table = item_ratings({"panel": [4, 5]})
    with pytest.raises(ValueError, match=r"needs the 1-9 scale .* this scale is 1-5"):
        summarise_items(table, RAM_RULE, FIVE_POINT)
    with pytest.raises(ValueError, match="needs the 1-9 scale"):
        summarise_by_group(table, RAM_RULE, FIVE_POINT)


def test_summary_by_group_breaks_down_each_item_and_round():
    # clinicians 7 8 9 9 9 -> in; managers 7 8 5 5 5 -> median 5, 40% high -> none
    table = item_ratings({"clinicians": [7, 8, 9, 9, 9], "managers": [7, 8, 5, 5, 5]})
    by_group = summarise_by_group(table, COMET_EVERY_GROUP_RULE)
    assert list(by_group.columns[:3]) == ["item", "round", "group"]
    assert by_group["group"].tolist() == ["clinicians", "managers"]
    assert by_group["consensus"].tolist() == ["in", "none"]
    assert by_group["median"].tolist() == [9, 5]
    assert by_group["pct_high"].tolist() == pytest.approx([100, 40])


def test_invalid_ratings_frame_names_the_rows():
    table = item_ratings({"panel": [7, 8]})
    table.loc[1, "rating"] = 10
    with pytest.raises(RatingsError) as error:
        summarise_items(table, COMET_RULE)
    assert error.value.problems == ["row 1, column rating: 10 is outside the scale 1-9"]
    with pytest.raises(RatingsError, match="missing required column"):
        summarise_items(table.drop(columns="group"), COMET_RULE)


def test_ratings_frame_with_numeric_ids_and_text_ratings_is_accepted():
    table = pd.DataFrame(
        {"participant": [1, 2], "group": ["g", "g"], "item": ["A", "A"], "round": [1.0, 1.0], "rating": ["7", " 9 "]}
    )
    row = only_row(summarise_items(table, COMET_RULE))
    assert (row["n"], row["median"]) == (2, 8)
    assert np.issubdtype(summarise_items(table, COMET_RULE)["round"].dtype, np.integer)
