"""The workshop rules on their own (no database): who may join, which ratings a save may hold,
and live progress counted from who joined and how many items each rated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from analysis.consensus_rules import COMET_RULE, ConsensusRule
from survey.workshop_rules import (
    HORIZON_SCALE,
    GroupView,
    ItemView,
    RatedItem,
    RatingError,
    RatingInput,
    RoundView,
    WorkshopScales,
    WorkshopView,
    check_ratings,
    join_code_problem,
    join_refusal,
    parse_ratings,
    participant_alias,
    progress_of,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_join_codes_are_checked_before_any_lookup():
    assert join_code_problem("k7q-m4t") is None
    assert join_code_problem("K7Q M4T") is None
    for bad in ("K7Q-M4", "K7Q-M4T9", "K0Q-M4T", "KIQ-M4T"):
        assert "6 letters and digits" in join_code_problem(bad)


def test_who_may_join():
    later = NOW + timedelta(hours=1)
    assert join_refusal("running", later, NOW) is None
    assert join_refusal("draft", later, NOW) is None, "joining before round 1 means waiting for it"
    assert join_refusal(None, None, NOW).startswith("No workshop has this code")
    assert join_refusal("closed", later, NOW).startswith("This workshop has closed")
    assert join_refusal("running", NOW, NOW).startswith("This join code has expired")
    # SQLite hands back naive times: they are UTC.
    assert join_refusal("running", later.replace(tzinfo=None), NOW) is None


def test_aliases_number_the_seats():
    assert [participant_alias(n) for n in (0, 8, 99)] == ["P01", "P09", "P100"]


def test_a_save_is_all_or_nothing_and_names_the_item():
    items = {11: RatedItem(11, 1, "impact_workforce", None), 12: RatedItem(12, 2, "time_to_deployment", 1)}
    scales = WorkshopScales(by_question={"time_to_deployment": HORIZON_SCALE})
    check_ratings(parse_ratings([{"item_id": 11, "value": 9}, {"item_id": 12, "value": 4}]), items, scales, 1)
    with pytest.raises(RatingError, match="Item 2: 5 is outside the scale 1-4"):
        check_ratings(parse_ratings([{"item_id": 12, "value": 5}]), items, scales, 1)
    with pytest.raises(RatingError, match="Item 12 is not rated in round 2"):
        check_ratings(parse_ratings([{"item_id": 12, "value": 2}]), items, scales, 2)
    with pytest.raises(RatingError, match="Item 99 is not rated in round 1"):
        check_ratings(parse_ratings([RatingInput(item_id=99, value=1)]), items, scales, 1)
    with pytest.raises(RatingError, match="once per save"):
        parse_ratings([{"item_id": 11, "value": 1}, {"item_id": 11, "value": 2}])
    with pytest.raises(RatingError, match="nothing to save"):
        parse_ratings([])
    with pytest.raises(RatingError, match="reason"):
        parse_ratings([{"item_id": 11, "value": 1, "reason": "x" * 501}])


def view(rounds: tuple[RoundView, ...]) -> WorkshopView:
    items = tuple(ItemView(id=i, position=i, technology_id=i, technology_name=f"Tool {i}", question="impact_workforce",
                           custom_question="", dropped_after_round=1 if i == 3 else None, drop_reason="")
                  for i in (1, 2, 3))
    return WorkshopView(id=1, title="W", purpose="", workshop_date=None, owner_user_id="user:1", scales=WorkshopScales(),
                        rule=ConsensusRule.model_validate(COMET_RULE), hide_results_until_close=True, n_rounds=2,
                        join_code="K7QM4T", expires_at=NOW + timedelta(days=1), status="running", is_demo=False,
                        items=items, groups=(GroupView(1, "Nurses", 10), GroupView(2, "Doctors", 5)), rounds=rounds)


def test_progress_counts_who_responded_and_completed_in_the_current_round():
    rounds = (RoundView(1, NOW - timedelta(hours=1), NOW - timedelta(minutes=30)), RoundView(2, NOW, None))
    participants = pd.DataFrame({"participant_id": [1, 2, 3], "alias": ["P01", "P02", "P03"],
                                 "group": ["Nurses", "Nurses", "Doctors"], "joined_at": [NOW] * 3})
    # Round 2 rates items 1 and 2 (item 3 was dropped after round 1).
    rated = pd.DataFrame({"round": [1, 2, 2], "participant_id": [3, 1, 2], "items_rated": [3, 2, 1]})
    progress = progress_of(view(rounds), participants, rated, {1: 2, 2: 1})
    assert (progress.round_number, progress.items_in_round) == (2, 2)
    assert progress.by_item["responses"].tolist() == [2, 1]
    assert progress.by_group.to_dict("records") == [
        {"group": "Nurses", "joined": 2, "responded": 2, "completed": 1},
        {"group": "Doctors", "joined": 1, "responded": 0, "completed": 0},
    ]
    assert progress.responders["alias"].tolist() == ["P01", "P02", "P03"]
    assert progress.responders["completed"].tolist() == [True, False, False]


def test_a_reason_fits_its_column():
    from storage.models.workshop import REASON_COLUMN_LENGTH
    from survey.workshop_rules import REASON_MAX_LENGTH

    assert REASON_MAX_LENGTH == REASON_COLUMN_LENGTH
