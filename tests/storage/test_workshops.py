"""Workshop repository on SQLite and PostgreSQL: set-up rules, rounds, ratings, isolation, evidence."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select

from analysis.consensus_rules import COMET_RULE, RAM_RULE, ConsensusRule
from storage.db import read_session, write_session
from storage.models.catalogue import Technology
from storage.models.workshop import Participant, Rating
from storage.workshops import (
    Actor,
    analyse_workshop,
    attrition,
    close_round,
    close_workshop,
    create_workshop,
    drop_item,
    find_workshop_by_code,
    get_workshop,
    join_workshop,
    list_workshops,
    live_progress,
    load_workshop_ratings,
    load_workshop_results,
    open_round,
    participant_ratings,
    participant_session,
    save_ratings,
    take_seat,
    update_workshop,
)
from survey.workshop_rules import (
    HORIZON_SCALE,
    IMPACT_SCALE,
    NINE_POINT_SCALE,
    RESULT_COLUMNS,
    JoinError,
    RatingError,
    RatingInput,
    WorkshopError,
    WorkshopNotFound,
    WorkshopScales,
    custom_scale,
    format_join_code,
    median_category,
    normalise_join_code,
    parse_workshop_input,
)

ALICE = Actor("alice", "facilitator")
BOB = Actor("bob", "facilitator")
LEAD = Actor("lena", "lead")
START = datetime(2030, 5, 1, 9, 0, tzinfo=UTC)


def add_technologies(engine: Engine, count: int) -> list[int]:
    with write_session(engine) as session:
        rows = [Technology(name=f"Tool {i}", company="Test Co") for i in range(count)]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def setup_values(technology_ids: list[int], **overrides) -> dict:
    values = {
        "title": "Imaging AI workshop",
        "purpose": "Agree impact",
        "workshop_date": date(2030, 5, 1),
        "scales": WorkshopScales(default=IMPACT_SCALE, by_question={"time_to_deployment": HORIZON_SCALE}),
        "rule": COMET_RULE,
        "n_rounds": 2,
        "expires_at": START + timedelta(days=2),
        "items": [{"technology_id": t, "question": "impact_workforce"} for t in technology_ids],
        "groups": [{"name": "Clinicians", "invited": 4}, {"name": "Managers", "invited": 3}],
    }
    values.update(overrides)
    return values


@pytest.fixture
def workshop(engine: Engine) -> int:
    technologies = add_technologies(engine, 2)
    return create_workshop(engine, parse_workshop_input(setup_values(technologies)), now=START, actor=ALICE)


def join(engine: Engine, workshop_id: int, group_index: int = 0) -> str:
    view = get_workshop(engine, workshop_id)
    token, _alias = join_workshop(engine, view.join_code, view.groups[group_index].id, now=START)
    return token


def rate_all(engine: Engine, workshop_id: int, token: str, round_number: int, values: list[int], reason: str = "") -> int:
    view = get_workshop(engine, workshop_id)
    ratings = [RatingInput(item_id=item.id, value=value, reason=reason)
               for item, value in zip(view.items_in(round_number), values, strict=True)]
    return save_ratings(engine, token, round_number, ratings, now=START)


# --- set-up validation and the frozen rule -------------------------------------------------------


def test_rule_can_change_in_draft_but_is_frozen_once_round_one_opens(engine: Engine, workshop: int) -> None:
    view = get_workshop(engine, workshop, actor=ALICE)
    values = view.as_input_values()
    ram = RAM_RULE
    update_workshop(engine, workshop, parse_workshop_input({**values, "rule": ram}), actor=ALICE)
    assert get_workshop(engine, workshop, actor=ALICE).rule == ram

    open_round(engine, workshop, now=START, actor=ALICE)
    stricter = ConsensusRule(kind="custom", in_pct=80, out_pct=10)
    with pytest.raises(WorkshopError, match="consensus rule is frozen"):
        update_workshop(engine, workshop, parse_workshop_input({**values, "rule": stricter}), actor=ALICE)
    assert get_workshop(engine, workshop, actor=ALICE).rule == ram
    # Details other than the rule may still change.
    update_workshop(engine, workshop, parse_workshop_input({**values, "rule": ram, "title": "Renamed"}), actor=ALICE)
    assert get_workshop(engine, workshop, actor=ALICE).title == "Renamed"
    with pytest.raises(WorkshopError, match="frozen since round 1"):
        update_workshop(engine, workshop, parse_workshop_input({**values, "rule": ram, "items": values["items"][:1]}), actor=ALICE)


def test_setup_validation_names_every_problem() -> None:
    with pytest.raises(WorkshopError) as error:
        parse_workshop_input(setup_values(
            [1], rule=RAM_RULE,
            items=[{"technology_id": 1, "question": "time_to_deployment"}, {"question": "custom", "custom_question": ""}],
            groups=[{"name": "Nurses"}, {"name": " nurses "}],
        ))  # fmt: skip
    message = str(error.value)
    assert "a custom question needs its text" in message
    # The rule and group checks run once the items are valid:
    with pytest.raises(WorkshopError) as error:
        parse_workshop_input(setup_values([1], rule=RAM_RULE, items=[{"technology_id": 1, "question": "time_to_deployment"}],
                                          groups=[{"name": "Nurses"}, {"name": " nurses "}]))
    message = str(error.value)
    assert "stakeholder group names must differ" in message
    assert "RAND/UCLA rule needs the 1-9 scale" in message and "Time to deployment at scale" in message
    with pytest.raises(WorkshopError, match="must use the deployment horizon scale"):
        parse_workshop_input(setup_values([1], scales=WorkshopScales(default=NINE_POINT_SCALE),
                                          items=[{"technology_id": 1, "question": "time_to_deployment"}]))


def test_custom_scale_builds_three_bands_or_explains() -> None:
    scale = custom_scale(["None", "Small", "Some", "Large", "Huge"], low_end=2, high_start=4, band_labels=("low", "mid", "high"))
    assert scale.values == [1, 2, 3, 4, 5]
    assert [scale.band_of(v) for v in scale.values] == ["low", "low", "mid", "high", "high"]
    assert scale.value_label(4) == "Large"
    with pytest.raises(WorkshopError, match="no middle band"):
        custom_scale(["a", "b", "c", "d"], low_end=3, high_start=3, band_labels=("l", "m", "h"))
    with pytest.raises(WorkshopError, match="at least 3 points"):
        custom_scale(["a", " "], low_end=1, high_start=2, band_labels=("l", "m", "h"))
    with pytest.raises(WorkshopError, match="every band needs a label"):
        custom_scale(["a", "b", "c"], low_end=1, high_start=3, band_labels=("l", " ", "h"))


def test_unknown_technology_is_refused(engine: Engine) -> None:
    with pytest.raises(WorkshopError, match="not in the catalogue"):
        create_workshop(engine, parse_workshop_input(setup_values([999_999])), now=START, actor=ALICE)


# --- join codes ---------------------------------------------------------------------------------


def test_join_code_format_and_normalisation() -> None:
    assert format_join_code("K7QM4T") == "K7Q-M4T"
    assert normalise_join_code(" k7q-m4t ") == "K7QM4T"


def test_join_code_expires_with_the_workshop(engine: Engine, workshop: int) -> None:
    view = get_workshop(engine, workshop, actor=ALICE)
    assert len(view.join_code) == 6 and not set(view.join_code) & set("0O1IL")
    assert find_workshop_by_code(engine, format_join_code(view.join_code).lower(), now=START).id == workshop
    after_expiry = view.expires_at + timedelta(seconds=1)
    with pytest.raises(JoinError, match="expired"):
        find_workshop_by_code(engine, view.join_code, now=after_expiry)
    with pytest.raises(JoinError, match="expired"):
        join_workshop(engine, view.join_code, view.groups[0].id, now=after_expiry)
    with pytest.raises(WorkshopError, match="expired"):
        open_round(engine, workshop, now=after_expiry, actor=ALICE)
    with pytest.raises(JoinError, match="No workshop has this code"):
        find_workshop_by_code(engine, "ZZZZZZ", now=START)
    with pytest.raises(JoinError, match="6 letters and digits"):
        find_workshop_by_code(engine, "K0Q-M4", now=START)


def test_closed_workshop_refuses_joins(engine: Engine, workshop: int) -> None:
    close_workshop(engine, workshop, now=START, actor=ALICE)
    view = get_workshop(engine, workshop, actor=ALICE)
    with pytest.raises(JoinError, match="closed"):
        find_workshop_by_code(engine, view.join_code, now=START)


def test_participants_get_sequential_aliases_and_only_a_hashed_token_is_stored(engine: Engine, workshop: int) -> None:
    view = get_workshop(engine, workshop, actor=ALICE)
    first_token, first_alias = join_workshop(engine, view.join_code, view.groups[0].id, now=START)
    _second_token, second_alias = join_workshop(engine, view.join_code, view.groups[1].id, now=START)
    assert (first_alias, second_alias) == ("P01", "P02")
    with read_session(engine) as session:
        hashes = list(session.scalars(select(Participant.token_hash)))
    assert first_token not in hashes and all(len(h) == 64 for h in hashes)
    seat = participant_session(engine, first_token)
    assert seat is not None and seat.alias == "P01" and seat.group_name == "Clinicians"
    assert participant_session(engine, "not-a-token") is None
    with pytest.raises(JoinError, match="stakeholder groups"):
        join_workshop(engine, view.join_code, 987_654, now=START)


def test_a_room_joining_at_once_gets_distinct_aliases_without_gaps(engine: Engine, workshop: int) -> None:
    # The join page's snapshot is read once and every joiner takes a seat from it, as a room does.
    view = find_workshop_by_code(engine, get_workshop(engine, workshop, actor=ALICE).join_code, now=START)
    barrier = threading.Barrier(24)
    seats: list[tuple[str, object]] = []
    errors: list[BaseException] = []

    def join_now(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            seats.append(take_seat(engine, view, view.groups[index % 2].id, now=START))
        except BaseException as error:  # noqa: BLE001 - collected and reported below
            errors.append(error)

    threads = [threading.Thread(target=join_now, args=(index,)) for index in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors[:3]
    assert sorted(seat.alias for _token, seat in seats) == [f"P{n:02d}" for n in range(1, 25)]
    for token, seat in seats:  # what the page shows at once is what a later visit reads back
        again = participant_session(engine, token)
        assert again is not None
        assert (again.participant_id, again.alias, again.group_id, again.group_name) == (
            seat.participant_id, seat.alias, seat.group_id, seat.group_name)
        assert again.workshop == seat.workshop


def test_a_seat_is_refused_when_the_workshop_changed_after_the_join_page_was_drawn(engine: Engine, workshop: int) -> None:
    view = find_workshop_by_code(engine, get_workshop(engine, workshop, actor=ALICE).join_code, now=START)
    same_items = [item.technology_id for item in view.items]
    other = create_workshop(engine, parse_workshop_input(setup_values(same_items)), now=START, actor=ALICE)
    with pytest.raises(JoinError, match="stakeholder groups"):  # a group of another workshop
        take_seat(engine, view, get_workshop(engine, other, actor=ALICE).groups[0].id, now=START)
    with pytest.raises(JoinError, match="expired"):
        take_seat(engine, view, view.groups[0].id, now=view.expires_at + timedelta(seconds=1))
    close_workshop(engine, workshop, now=START, actor=ALICE)
    with pytest.raises(JoinError, match="closed"):  # closed by the facilitator while the page was open
        take_seat(engine, view, view.groups[0].id, now=START)
    with read_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Participant)) == 0


# --- ratings ------------------------------------------------------------------------------------


def test_one_rating_per_participant_item_round_replaced_before_close_refused_after(engine: Engine, workshop: int) -> None:
    token = join(engine, workshop)
    with pytest.raises(RatingError, match="Round 1 is closed"):
        rate_all(engine, workshop, token, 1, [5, 5])  # not opened yet
    open_round(engine, workshop, now=START, actor=ALICE)
    assert rate_all(engine, workshop, token, 1, [3, 4], reason="first thoughts") == 2
    assert rate_all(engine, workshop, token, 1, [8, 9], reason="  changed my mind ") == 2  # a second click / edit
    item_ids = [item.id for item in get_workshop(engine, workshop, actor=ALICE).items]
    assert participant_ratings(engine, token, 1) == {item_ids[0]: (8, "changed my mind"), item_ids[1]: (9, "changed my mind")}
    with read_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Rating)) == 2

    with pytest.raises(RatingError, match="Item 1: 10 is outside the scale 1-9"):
        rate_all(engine, workshop, token, 1, [10, 5])
    with pytest.raises(RatingError, match="reason: String should have at most 500 characters"):
        save_ratings(engine, token, 1, [{"item_id": item_ids[0], "value": 5, "reason": "x" * 501}], now=START)
    with pytest.raises(RatingError, match="once per save"):
        save_ratings(engine, token, 1, [RatingInput(item_id=item_ids[0], value=5)] * 2, now=START)
    with pytest.raises(RatingError, match="join again"):
        rate_all(engine, workshop, "forged", 1, [5, 5])

    close_round(engine, workshop, now=START, actor=ALICE)
    with pytest.raises(RatingError, match="Round 1 is closed"):
        rate_all(engine, workshop, token, 1, [1, 1])
    assert participant_ratings(engine, token, 1)[item_ids[0]] == (8, "changed my mind")


def test_dropped_item_is_not_rated_in_later_rounds(engine: Engine, workshop: int) -> None:
    token = join(engine, workshop)
    open_round(engine, workshop, now=START, actor=ALICE)
    with pytest.raises(WorkshopError, match="between rounds"):
        drop_item(engine, workshop, get_workshop(engine, workshop, actor=ALICE).items[0].id, "consensus", actor=ALICE)
    rate_all(engine, workshop, token, 1, [9, 5])
    close_round(engine, workshop, now=START, actor=ALICE)
    first = get_workshop(engine, workshop, actor=ALICE).items[0]
    with pytest.raises(WorkshopError, match="reason"):
        drop_item(engine, workshop, first.id, "  ", actor=ALICE)
    assert drop_item(engine, workshop, first.id, "consensus in after round 1", actor=ALICE) == 1
    open_round(engine, workshop, now=START, actor=ALICE)
    view = get_workshop(engine, workshop, actor=ALICE)
    assert [item.id for item in view.items_in(2)] == [view.items[1].id]
    with pytest.raises(RatingError, match="not rated in round 2"):
        save_ratings(engine, token, 2, [RatingInput(item_id=first.id, value=9)], now=START)


@pytest.mark.slow
def test_sixty_participants_submitting_at_once_store_every_rating_once(engine: Engine) -> None:
    technologies = add_technologies(engine, 6)
    workshop_id = create_workshop(engine, parse_workshop_input(setup_values(technologies)), now=START, actor=ALICE)
    open_round(engine, workshop_id, now=START, actor=ALICE)
    view = get_workshop(engine, workshop_id, actor=ALICE)
    tokens = [join_workshop(engine, view.join_code, view.groups[i % 2].id, now=START)[0] for i in range(60)]
    expected = {
        (token, item.id): (index + position) % 9 + 1
        for index, token in enumerate(tokens) for position, item in enumerate(view.items)
    }  # fmt: skip
    barrier = threading.Barrier(len(tokens))
    errors: list[BaseException] = []

    def submit(token: str) -> None:
        ratings = [RatingInput(item_id=item.id, value=expected[(token, item.id)]) for item in view.items]
        try:
            barrier.wait(timeout=30)
            save_ratings(engine, token, 1, ratings, now=START)
            save_ratings(engine, token, 1, ratings, now=START)  # the double click
        except BaseException as error:  # noqa: BLE001 - collected and reported below
            errors.append(error)

    threads = [threading.Thread(target=submit, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors[:3]
    with read_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Rating)) == 60 * 6
    for token in tokens:
        stored = participant_ratings(engine, token, 1)
        assert {item_id: value for item_id, (value, _reason) in stored.items()} == {
            item.id: expected[(token, item.id)] for item in view.items
        }
    progress = live_progress(engine, workshop_id, actor=ALICE)
    assert progress.by_item["responses"].tolist() == [60] * 6
    assert progress.by_group.set_index("group")["completed"].to_dict() == {"Clinicians": 30, "Managers": 30}


# --- facilitator isolation ------------------------------------------------------------------------


def test_a_facilitator_cannot_reach_another_facilitators_workshop(engine: Engine, workshop: int) -> None:
    for attempt in (
        lambda: get_workshop(engine, workshop, actor=BOB),
        lambda: open_round(engine, workshop, now=START, actor=BOB),
        lambda: close_workshop(engine, workshop, now=START, actor=BOB),
        lambda: live_progress(engine, workshop, actor=BOB),
        lambda: analyse_workshop(engine, workshop, actor=BOB),
        lambda: load_workshop_ratings(engine, workshop, actor=BOB),
        lambda: attrition(engine, workshop, actor=BOB),
        lambda: update_workshop(engine, workshop, parse_workshop_input(get_workshop(engine, workshop, actor=ALICE).as_input_values()), actor=BOB),
    ):
        with pytest.raises(WorkshopNotFound, match="not found, or you are not its facilitator"):
            attempt()
    assert list_workshops(engine, actor=BOB).empty
    assert list_workshops(engine, actor=ALICE)["workshop_id"].tolist() == [workshop]
    assert list_workshops(engine, actor=LEAD)["workshop_id"].tolist() == [workshop]
    assert get_workshop(engine, workshop, actor=LEAD).owner_user_id == "alice"
    assert get_workshop(engine, workshop, actor=ALICE).status == "draft"  # Bob's attempts changed nothing


# --- analysis frames and evidence ---------------------------------------------------------------------


def test_median_category_for_impact_bands_and_horizon_points() -> None:
    assert median_category("impact_workforce", IMPACT_SCALE, 8.0, pd.Series([7.0, 8, 9])) == "high"
    assert median_category("impact_system", IMPACT_SCALE, 3.5, pd.Series([3.0, 4])) == "medium"  # between bands
    assert median_category("impact_pathway", IMPACT_SCALE, 2.0, pd.Series([1.0, 2, 3])) == "low"
    # Horizon ratings 2, 3: the lower ordinal median is 2 = within 1 year.
    assert median_category("time_to_deployment", HORIZON_SCALE, 2.5, pd.Series([3.0, 2])) == "within_1y"
    assert median_category("time_to_deployment", HORIZON_SCALE, 4.0, pd.Series([4.0, 4, 1])) == "over_3y"
    assert median_category("custom", IMPACT_SCALE, 5.0, pd.Series([5.0])) is None


def test_load_workshop_results_maps_the_last_closed_round_of_each_item(engine: Engine) -> None:
    tech_a, tech_b = add_technologies(engine, 2)
    values = setup_values([], items=[
        {"technology_id": tech_a, "question": "impact_workforce"},
        {"technology_id": tech_a, "question": "time_to_deployment"},
        {"technology_id": tech_b, "question": "impact_system"},
        {"question": "custom", "custom_question": "Should we fund training?"},
    ])  # fmt: skip
    workshop_id = create_workshop(engine, parse_workshop_input(values), now=START, actor=ALICE)
    running_id = create_workshop(engine, parse_workshop_input(values), now=START, actor=ALICE)
    tokens = [join(engine, workshop_id, i % 2) for i in range(10)]
    open_round(engine, workshop_id, now=START, actor=ALICE)
    # Round 1. Impact workforce: eight 7-9, one 5, one 2 -> 80% high, 10% low -> in; median 8 -> high.
    # Time: 2,2,2,3,3,3,3,4,4,4 -> lower median 3 -> 1_3y. Impact system: all 5 -> none, medium.
    impact = [7, 8, 9, 9, 8, 7, 9, 8, 5, 2]
    horizon = [2, 2, 2, 3, 3, 3, 3, 4, 4, 4]
    for token, a, h in zip(tokens, impact, horizon, strict=True):
        rate_all(engine, workshop_id, token, 1, [a, h, 5, 6])
    close_round(engine, workshop_id, now=START + timedelta(hours=1), actor=ALICE)
    drop_item(engine, workshop_id, get_workshop(engine, workshop_id, actor=ALICE).items[0].id, "consensus in", actor=ALICE)
    open_round(engine, workshop_id, now=START + timedelta(hours=2), actor=ALICE)
    # Round 2 (8 participants): time all 4 -> 100% high band -> in, over_3y; impact system 1,1,1,1,1,1,2,3 -> out, low.
    for token, system in zip(tokens[:8], [1, 1, 1, 1, 1, 1, 2, 3], strict=True):
        rate_all(engine, workshop_id, token, 2, [4, system, 6])
    assert load_workshop_results(engine).empty  # not closed yet: no evidence
    close_workshop(engine, workshop_id, now=START + timedelta(hours=3), actor=ALICE)

    results = load_workshop_results(engine)
    assert list(results.columns) == RESULT_COLUMNS
    assert set(results["workshop_id"]) == {workshop_id}  # the running workshop is not evidence
    rows = results.set_index(["technology_id", "quantity"])
    assert rows.loc[(tech_a, "impact_workforce")].to_dict() == {
        "workshop_id": workshop_id, "round": 1, "category": "high", "consensus": "in", "n_participants": 10,
        "rule": "comet (in >= 70%, out < 15%)", "closed_at": pd.Timestamp(START + timedelta(hours=1)),
    }
    assert rows.loc[(tech_a, "time_to_deployment"), ["round", "category", "consensus", "n_participants"]].tolist() == [2, "over_3y", "in", 8]
    assert rows.loc[(tech_b, "impact_system"), ["round", "category", "consensus", "n_participants"]].tolist() == [2, "low", "out", 8]
    assert len(results) == 3  # the custom question is not evidence
    assert str(results["closed_at"].dt.tz) == "UTC"
    assert running_id not in set(results["workshop_id"])


def test_ratings_frame_attrition_and_accord(engine: Engine, workshop: int) -> None:
    tokens = [join(engine, workshop, 0), join(engine, workshop, 0), join(engine, workshop, 1)]
    open_round(engine, workshop, now=START, actor=ALICE)
    rate_all(engine, workshop, tokens[0], 1, [9, 8])
    rate_all(engine, workshop, tokens[2], 1, [7, 7])
    save_ratings(engine, tokens[1], 1, [RatingInput(item_id=get_workshop(engine, workshop, actor=ALICE).items[0].id, value=2)], now=START)
    hidden = analyse_workshop(engine, workshop, actor=ALICE)
    assert hidden.summary.empty  # nothing shown while the round is open
    close_round(engine, workshop, now=START + timedelta(minutes=30), actor=ALICE)

    ratings = load_workshop_ratings(engine, workshop, actor=ALICE)
    assert list(ratings.columns) == ["participant", "group", "item", "round", "rating"]
    assert sorted(ratings["participant"].unique()) == ["P01", "P02", "P03"]
    assert ratings.groupby("participant")["group"].first().to_dict() == {"P01": "Clinicians", "P02": "Clinicians", "P03": "Managers"}
    assert ratings["item"].iloc[0].startswith("01 Tool 0: Impact on the primary workforce group")

    table = attrition(engine, workshop, actor=ALICE).set_index("group")
    assert table.loc["Clinicians", ["invited", "joined", "responded", "completed"]].tolist() == [4, 2, 2, 1]
    assert table.loc["Managers", ["invited", "joined", "responded", "completed"]].tolist() == [3, 1, 1, 1]

    result = analyse_workshop(engine, workshop, actor=ALICE)
    first = result.summary.iloc[0]
    assert (first["n"], first["median"], first["consensus"]) == (3, 7.0, "none")  # 2 of 3 high = 66.7% < 70%
    accord = result.accord.iloc[0]
    assert (accord["invited"], accord["responded"], accord["responded_Clinicians"], accord["items_rated"]) == (7, 3, 2, 2)
    assert accord["items_consensus_in"] == 1  # item 2: 8 and 7 -> 100% high
    assert "Consensus in if at least 70%" in accord["rule"]
    assert set(result.sensitivity.columns) >= {"comet_70_15", "ram", "workshop", "depends_on_rule"}


def test_a_waiting_participant_polls_only_the_round_state(engine: Engine, workshop: int) -> None:
    from storage.workshops import participant_round_state, participant_session

    view = get_workshop(engine, workshop, actor=ALICE)
    token, _alias = join_workshop(engine, view.join_code, view.groups[0].id, now=START)
    assert participant_round_state(engine, token) == ("draft", ())
    assert participant_round_state(engine, "not-a-token") is None
    open_round(engine, workshop, actor=ALICE)
    assert participant_round_state(engine, token) == ("running", ((1, True),))
    close_round(engine, workshop, actor=ALICE)
    state = participant_round_state(engine, token)
    assert state == ("running", ((1, False),))
    # The page compares it with the signature of the full view it rendered.
    seat = participant_session(engine, token)
    assert state == (seat.workshop.status, tuple((r.number, r.closed_at is None) for r in seat.workshop.rounds))
