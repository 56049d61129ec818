"""Property tests over random valid rating tables, and the speed budget for a full workshop."""

import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis import synthetic
from analysis.consensus import (
    COMET_EVERY_GROUP_RULE,
    COMET_RULE,
    RAM_RULE,
    ConsensusRule,
    accord_round_summary,
    consensus_report,
    read_ratings_csv,
    sensitivity,
    stability,
    summarise_by_group,
    summarise_items,
)

GROUPS = ["clinicians", "managers", "patients"]
RULES = [
    COMET_RULE,
    COMET_EVERY_GROUP_RULE,
    RAM_RULE,
    ConsensusRule(kind="ram", require_every_group=True),
    ConsensusRule(kind="custom", in_pct=60, out_pct=20, in_bands=("mid", "high"), require_every_group=True),
]


@st.composite
def rating_tables(draw) -> pd.DataFrame:
    """Up to 8 participants (each in one group) x 4 items x 3 rounds, cells present or not,
    ratings whole or half points on 1-9, or missing."""
    participant_groups = draw(st.lists(st.sampled_from(GROUPS), min_size=1, max_size=8))
    cells = st.tuples(
        st.integers(0, len(participant_groups) - 1),
        st.sampled_from(["A", "B", "C", "D"]),
        st.integers(1, 3),
    )
    rating = st.one_of(st.none(), st.integers(1, 9).map(float), st.integers(2, 18).map(lambda half: half / 2))
    ratings = draw(st.dictionaries(cells, rating, min_size=1, max_size=60))
    return pd.DataFrame(
        [
            {
                "participant": f"p{person}",
                "group": participant_groups[person],
                "item": item,
                "round": round_number,
                "rating": np.nan if value is None else value,
            }
            for (person, item, round_number), value in ratings.items()
        ]
    )


# Each example runs several pandas pipelines (~40 ms each); keep the suite to a few seconds.
property_settings = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@property_settings
@given(table=rating_tables(), rule=st.sampled_from(RULES))
def test_random_tables_summarise_without_error_and_band_shares_add_up(table, rule):
    summary = summarise_items(table, rule)
    rated = summary[summary["n"] > 0]
    assert np.allclose(rated[["pct_low", "pct_mid", "pct_high"]].sum(axis=1), 100)
    assert (summary["n"] == summary[["n_low", "n_mid", "n_high"]].sum(axis=1)).all()
    expected_n = table.groupby(["item", "round"])["rating"].count()
    assert summary.set_index(["item", "round"])["n"].equals(expected_n.rename("n"))
    assert set(summary["consensus"]) <= {"in", "out", "none"}
    assert set(rated["appropriateness"]) <= {"appropriate", "uncertain", "inappropriate"}
    assert (rated["q1"] <= rated["median"]).all() and (rated["median"] <= rated["q3"]).all()
    assert (rated["ipr"] >= 0).all()

    by_group = summarise_by_group(table, rule)
    assert by_group.groupby(["item", "round"])["n"].sum().equals(summary.set_index(["item", "round"])["n"])
    if rule.require_every_group:
        # consensus under the every-group rule implies the same result without the requirement
        plain = summarise_items(table, rule.model_copy(update={"require_every_group": False}))
        reached = summary["consensus"] != "none"
        assert (summary.loc[reached, "consensus"] == plain.loc[reached, "consensus"]).all()


@settings(property_settings, max_examples=15)
@given(table=rating_tables())
def test_random_tables_through_every_round_level_function(table):
    changes = stability(table)
    assert ((changes["n_changed"] <= changes["n_both_rounds"]) & (changes["round"] >= 2)).all()
    compared = sensitivity(table, rules={"workshop": RULES[-1]})
    rule_columns = ["comet_70_15", "comet_every_group", "ram", "workshop"]
    assert (compared["depends_on_rule"] == (compared[rule_columns].nunique(axis=1) > 1)).all()
    accord = accord_round_summary(table, COMET_RULE)
    outcomes = accord[["items_consensus_in", "items_consensus_out", "items_no_consensus"]].sum(axis=1)
    assert (outcomes == accord["items_rated"]).all()
    assert len(consensus_report(table, RAM_RULE, by_group=True)) >= len(summarise_items(table, RAM_RULE))


@property_settings
@given(table=rating_tables())
def test_ratings_written_to_csv_read_back_unchanged(table):
    text = table.to_csv(index=False)
    assert read_ratings_csv(io.BytesIO(text.encode("utf-8"))).equals(
        table.astype({"participant": "str", "group": "str", "item": "str", "round": "int64", "rating": "float64"})
    )


@pytest.mark.parametrize("rule", [COMET_EVERY_GROUP_RULE, RAM_RULE])
def test_sixty_participants_two_hundred_items_three_rounds_summarise_every_item_and_round(rule):
    """A full regional workshop summarises whole (its speed is scripts/bench_consensus.py's figure)."""
    ratings = synthetic.workshop_ratings()
    assert len(ratings) == 36_000
    summary = summarise_items(ratings, rule)
    assert len(summary) == 600
    first = ratings[(ratings["item"] == "item-000") & (ratings["round"] == 1)]["rating"].dropna()
    row = summary[(summary["item"] == "item-000") & (summary["round"] == 1)].iloc[0]
    assert row["n"] == len(first) and row["median"] == first.median()
