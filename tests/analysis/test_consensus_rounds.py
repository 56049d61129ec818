"""Across rounds and rules: stability, sensitivity, the ACCORD round summary and the CLI report."""

import math

import pandas as pd
import pytest

from analysis.consensus import (
    ALL_GROUPS_LABEL,
    COMET_EVERY_GROUP_RULE,
    COMET_RULE,
    RAM_RULE,
    ConsensusRule,
    RatingsError,
    Scale,
    accord_round_summary,
    consensus_report,
    read_ratings_csv,
    sensitivity,
    stability,
    summarise_items,
)
from tests.fixtures.consensus import FIXTURES_DIR, item_ratings, ratings_table

FIVE_POINT = Scale(min=1, max=5, low=(1, 2), mid=(3, 3), high=(4, 5))


def rating_rows(rows: list[tuple[str, str, int, float | None]], group: str = "panel") -> pd.DataFrame:
    """(participant, item, round, rating) tuples, all in one group."""
    return pd.DataFrame(
        [
            {"participant": participant, "group": group, "item": item, "round": round_number,
             "rating": math.nan if rating is None else rating}
            for participant, item, round_number, rating in rows
        ]
    )  # fmt: skip


def test_stability_between_consecutive_rounds_by_hand():
    ratings = rating_rows(
        [
            # item A round 1: 7 5 9 3 -> sorted 3 5 7 9; q1 h = 0.75 -> 4.5; q3 h = 2.25 -> 7.5; iqr 3
            ("p1", "A", 1, 7), ("p2", "A", 1, 5), ("p3", "A", 1, 9), ("p4", "A", 1, 3),
            # round 2: p1 7 (same), p2 6 (changed), p3 9 (same), p4 blank, p5 new
            # sorted 6 7 8 9; q1 h = 0.75 -> 6.75; q3 h = 2.25 -> 8.25; iqr 1.5
            ("p1", "A", 2, 7), ("p2", "A", 2, 6), ("p3", "A", 2, 9), ("p4", "A", 2, None), ("p5", "A", 2, 8),
            # round 3: p1 8 (changed), p2 6 (same); sorted 6 8; q1 6.5; q3 7.5; iqr 1
            ("p1", "A", 3, 8), ("p2", "A", 3, 6),
            # item B only in round 1 -> no stability row; item C first appears in round 2
            ("p1", "B", 1, 4), ("p1", "C", 2, 4), ("p2", "C", 2, 6),
        ]
    )  # fmt: skip
    table = stability(ratings)
    assert list(table.columns) == [
        "item", "round", "previous_round", "n_both_rounds", "n_changed", "share_changed",
        "iqr_previous", "iqr_current", "iqr_change",
    ]  # fmt: skip
    assert list(zip(table["item"], table["round"], table["previous_round"])) == [("A", 2, 1), ("A", 3, 2), ("C", 2, 1)]
    rows = table.set_index(["item", "round"])
    # A round 2: p1, p2, p3 rated both rounds (p4 left round 2 blank); only p2 changed
    assert rows.loc[("A", 2), ["n_both_rounds", "n_changed"]].tolist() == [3, 1]
    assert rows.loc[("A", 2), "share_changed"] == pytest.approx(1 / 3)
    assert rows.loc[("A", 2), ["iqr_previous", "iqr_current", "iqr_change"]].tolist() == pytest.approx([3, 1.5, -1.5])
    # A round 3: p1 and p2 rated rounds 2 and 3; p1 changed 7 -> 8
    assert rows.loc[("A", 3), ["n_both_rounds", "n_changed", "share_changed"]].tolist() == pytest.approx([2, 1, 0.5])
    assert rows.loc[("A", 3), ["iqr_previous", "iqr_current", "iqr_change"]].tolist() == pytest.approx([1.5, 1, -0.5])
    # C round 2: nobody rated it in round 1
    assert rows.loc[("C", 2), "n_both_rounds"] == 0
    assert math.isnan(rows.loc[("C", 2), "share_changed"])
    assert math.isnan(rows.loc[("C", 2), "iqr_previous"])
    # C round 2: 4 6 -> q1 4.5, q3 5.5 -> iqr 1
    assert rows.loc[("C", 2), "iqr_current"] == pytest.approx(1)


def test_stability_of_a_single_round_is_empty():
    table = stability(item_ratings({"panel": [7, 8]}))
    assert table.empty
    assert "share_changed" in table.columns


def sensitivity_example() -> pd.DataFrame:
    return ratings_table(
        # X: clinicians 7 8 9 9 9, managers 7 8 5 5 5 -> 70% high overall, 0% low -> comet in;
        # managers alone 40% -> every-group none; ram: sorted 5 5 5 7 7 8 8 9 9 9, median 7.5,
        # p30 h = 2.7 -> 6.4, p70 h = 6.3 -> 8.3, ipr 1.9, iprcp 7.35, AI 2.35, ipras 5.875 -> appropriate
        item_ratings({"clinicians": [7, 8, 9, 9, 9], "managers": [7, 8, 5, 5, 5]}, item="X"),
        # Y: everyone rates 8 -> in under every rule
        item_ratings({"clinicians": [8, 8, 8, 8, 8], "managers": [8, 8, 8, 8, 8]}, item="Y"),
    )


def test_sensitivity_shows_each_rule_side_by_side():
    workshop_rule = ConsensusRule(kind="custom", in_pct=80, out_pct=10)  # X: 70% high < 80 -> none
    table = sensitivity(sensitivity_example(), rules={"workshop": workshop_rule})
    assert list(table.columns) == [
        "item", "round", "n", "comet_70_15", "comet_every_group", "ram", "workshop", "depends_on_rule"
    ]
    rows = table.set_index("item")
    assert rows.loc["X", ["comet_70_15", "comet_every_group", "ram", "workshop"]].tolist() == ["in", "none", "in", "none"]
    assert rows.loc["Y", ["comet_70_15", "comet_every_group", "ram", "workshop"]].tolist() == ["in"] * 4
    assert rows["depends_on_rule"].tolist() == [True, False]
    assert rows["n"].tolist() == [10, 10]


def test_sensitivity_without_extra_rules_and_on_a_custom_scale():
    assert list(sensitivity(sensitivity_example()).columns) == [
        "item", "round", "n", "comet_70_15", "comet_every_group", "ram", "depends_on_rule"
    ]
    # RAND/UCLA needs 1-9, so a 1-5 workshop is compared under the percentage rules only
    table = sensitivity(item_ratings({"panel": [4, 5, 5]}), FIVE_POINT)
    assert list(table.columns) == ["item", "round", "n", "comet_70_15", "comet_every_group", "depends_on_rule"]
    assert table[["comet_70_15", "comet_every_group"]].iloc[0].tolist() == ["in", "in"]


def test_sensitivity_accepts_the_workshop_rule_under_a_standard_name_only_if_identical():
    assert "ram" in sensitivity(sensitivity_example(), rules={"ram": RAM_RULE}).columns
    with pytest.raises(ValueError, match="rule name 'ram' is taken by a standard rule"):
        sensitivity(sensitivity_example(), rules={"ram": COMET_RULE})
    with pytest.raises(ValueError, match="rule name 'n' clashes with a column"):
        sensitivity(sensitivity_example(), rules={"n": COMET_RULE})
    with pytest.raises(ValueError, match="needs the 1-9 scale"):
        sensitivity(item_ratings({"panel": [4]}), FIVE_POINT, rules={"workshop": RAM_RULE})


def workshop_fixture() -> pd.DataFrame:
    return read_ratings_csv(FIXTURES_DIR / "two_round_workshop.csv")


def test_accord_round_summary_by_hand():
    # Round 1: triage-chatbot rated 8 9 7 8 (m2 blank) -> 100% high -> in;
    #          ambient-scribe 2 5 8 -> 33% low -> none. Responded: c1 c2 c3 m1 (m2 gave no rating).
    # Round 2: triage-chatbot 8 8 2 -> 66.7% high -> none; ambient-scribe 1 1 1 -> out;
    #          radiology-triage only blank -> not rated. Responded: c1 c2 m1.
    invited = pd.DataFrame(
        {
            "group": ["clinicians", "managers", "patients", "clinicians", "managers"],
            "round": [1, 1, 1, 2, 2],
            "invited": [4, 3, 2, 4, 3],
        }
    )
    summary = accord_round_summary(workshop_fixture(), COMET_RULE, invited)
    assert list(summary.columns) == [
        "round", "invited", "responded", "response_rate_pct",
        "invited_clinicians", "responded_clinicians", "invited_managers", "responded_managers",
        "invited_patients", "responded_patients",
        "items_rated", "items_consensus_in", "items_consensus_out", "items_no_consensus", "rule",
    ]  # fmt: skip
    first, second = (summary.iloc[0], summary.iloc[1])
    # round 1: invited 4 + 3 + 2 = 9; responded 4; 4 / 9 = 44.4%
    assert [first[c] for c in ("round", "invited", "responded")] == [1, 9, 4]
    assert first["response_rate_pct"] == pytest.approx(400 / 9)
    assert [first[f"responded_{g}"] for g in ("clinicians", "managers", "patients")] == [3, 1, 0]
    assert [first[f"invited_{g}"] for g in ("clinicians", "managers", "patients")] == [4, 3, 2]
    assert [first[c] for c in ("items_rated", "items_consensus_in", "items_consensus_out", "items_no_consensus")] == [2, 1, 0, 1]
    # round 2: patients were not listed, so invited = 4 + 3 = 7 and invited_patients is unknown
    assert [second[c] for c in ("round", "invited", "responded")] == [2, 7, 3]
    assert second["response_rate_pct"] == pytest.approx(300 / 7)
    assert pd.isna(second["invited_patients"])
    assert [second[f"responded_{g}"] for g in ("clinicians", "managers", "patients")] == [2, 1, 0]
    assert [second[c] for c in ("items_rated", "items_consensus_in", "items_consensus_out", "items_no_consensus")] == [2, 0, 1, 1]
    assert summary["rule"].tolist() == [COMET_RULE.describe()] * 2


def test_accord_round_summary_without_invitations():
    summary = accord_round_summary(workshop_fixture(), COMET_EVERY_GROUP_RULE)
    assert summary["invited"].isna().all()
    assert summary["response_rate_pct"].isna().all()
    assert summary["responded"].tolist() == [4, 3]
    # every-group rule: round 1 triage-chatbot is in for clinicians (8 9 7) and managers (8)
    assert summary["items_consensus_in"].tolist() == [1, 0]
    assert "every stakeholder group" in summary["rule"].iloc[0]


@pytest.mark.parametrize(
    ("invited", "message"),
    [
        (pd.DataFrame({"group": ["g"], "round": [1]}), "missing column(s): invited"),
        (pd.DataFrame({"group": ["g"], "round": [1], "invited": [-2]}), "row 0, column invited: -2 is not a non-negative whole number"),
        (pd.DataFrame({"group": ["g"], "round": [0], "invited": [2]}), "row 0, column round: 0 is not a positive whole number"),
        (pd.DataFrame({"group": ["g", "g"], "round": [1, 1], "invited": [2, 3]}), "lists a group more than once in a round: 'g' in round 1"),
    ],
)
def test_accord_round_summary_rejects_a_bad_invited_table(invited, message):
    with pytest.raises(ValueError) as error:
        accord_round_summary(workshop_fixture(), COMET_RULE, invited)
    assert message in str(error.value)


def test_consensus_report_for_a_percentage_rule():
    report = consensus_report(workshop_fixture(), COMET_RULE)
    assert list(report.columns) == ["item", "round", "n", "median", "iqr", "pct_low", "pct_mid", "pct_high", "consensus"]
    row = report.set_index(["item", "round"]).loc[("triage-chatbot", 2)]
    # 8 8 2: 2 of 3 high = 66.666..% shown as 66.7; 1 low = 33.3%; median 8; q1 h = 0.5 -> 5; q3 8; iqr 3
    assert row[["n", "median", "iqr", "pct_low", "pct_mid", "pct_high"]].tolist() == [3, 8, 3, 33.3, 0, 66.7]
    assert row["consensus"] == "none"
    assert report.attrs["rule"] == COMET_RULE.describe()


def test_consensus_report_for_ram_by_group():
    report = consensus_report(workshop_fixture(), RAM_RULE, by_group=True)
    assert list(report.columns) == [
        "item", "round", "group", "n", "median", "p30", "p70", "ipr", "ipras", "disagreement", "appropriateness", "consensus"
    ]
    chatbot_round_1 = report[(report["item"] == "triage-chatbot") & (report["round"] == 1)]
    # overall row first, then each group; m2's blank leaves managers with n = 1
    assert chatbot_round_1["group"].tolist() == [ALL_GROUPS_LABEL, "clinicians", "managers"]
    assert chatbot_round_1["n"].tolist() == [4, 3, 1]
    # overall 7 8 8 9: median 8; p30 h = 0.9 -> 7.9; p70 h = 2.1 -> 8.1; ipr 0.2; iprcp 8; AI 3; ipras 6.85
    overall = chatbot_round_1.iloc[0]
    assert overall[["median", "p30", "p70", "ipr", "ipras"]].tolist() == pytest.approx([8, 7.9, 8.1, 0.2, 6.85])
    assert overall["appropriateness"] == "appropriate"
    # radiology-triage round 2 has only a blank rating: listed with n = 0 for the group that saw it
    radiology = report[report["item"] == "radiology-triage"]
    assert radiology["group"].tolist() == [ALL_GROUPS_LABEL, "clinicians"]
    assert radiology["n"].tolist() == [0, 0]
    assert radiology["consensus"].tolist() == ["none", "none"]


def test_report_functions_validate_their_input():
    with pytest.raises(RatingsError, match="column round: '0' is not a positive whole number"):
        consensus_report(item_ratings({"panel": [7]}).assign(round="0"), COMET_RULE)


def test_every_function_accepts_a_table_without_ratings():
    empty = read_ratings_csv(b"participant,group,item,round,rating\n")
    assert summarise_items(empty, RAM_RULE).empty
    assert stability(empty).empty
    assert list(sensitivity(empty).columns) == ["item", "round", "n", "comet_70_15", "comet_every_group", "ram", "depends_on_rule"]
    assert consensus_report(empty, COMET_EVERY_GROUP_RULE, by_group=True).empty
    assert accord_round_summary(empty, COMET_RULE).empty
