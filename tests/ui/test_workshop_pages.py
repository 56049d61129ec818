"""AppTest: the facilitator pages (set-up, run, presenter, results) and the anonymous participant page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from analysis.consensus_rules import COMET_RULE
from storage.db import make_engine, read_session, write_session
from storage.demo import load_demo_catalogue
from storage.demo_workshop import load_demo_workshop
from storage.models.catalogue import Technology
from storage.models.workshop import Rating
from storage.workshops import (
    Actor,
    close_round,
    close_workshop,
    create_workshop,
    get_workshop,
    join_workshop,
    list_workshops,
    open_round,
    save_ratings,
)
from survey.workshop_rules import IMPACT_SCALE, RatingInput, WorkshopScales, parse_workshop_input
from tests.ui.helpers import open_app, prepare_environment, texts

FACILITATOR = Actor("dev-facilitator", "facilitator")


@pytest.fixture
def engine(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Engine:
    prepare_environment(monkeypatch, sqlite_url)
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()


@pytest.fixture
def demo_engine(engine: Engine) -> Engine:
    load_demo_catalogue(engine, only_if_empty=False, count=30)
    load_demo_workshop(engine)
    return engine


def own_workshop(engine: Engine, *, hide: bool = True, title: str = "Ward AI workshop") -> int:
    with write_session(engine) as session:
        tools = [Technology(name=f"Triage tool {i}", company="Co") for i in range(2)]
        session.add_all(tools)
        session.flush()
        ids = [tool.id for tool in tools]
    data = parse_workshop_input({
        "title": title, "scales": WorkshopScales(default=IMPACT_SCALE), "rule": COMET_RULE,
        "hide_results_until_close": hide, "expires_at": datetime.now(UTC) + timedelta(days=1),
        "items": [{"technology_id": i, "question": "impact_workforce"} for i in ids],
        "groups": [{"name": "Nurses"}, {"name": "Managers"}],
    })  # fmt: skip
    return create_workshop(engine, data, actor=FACILITATOR)


def button(at, label: str):
    return next(b for b in at.button if b.label == label)


# --- facilitator pages ------------------------------------------------------------------------------


@pytest.mark.parametrize("page", ["workshop_run.py", "workshop_presenter.py", "workshop_results.py"])
def test_without_a_workshop_the_pages_link_to_creating_one(demo_engine: Engine, page: str) -> None:
    at = open_app("facilitator", page)
    assert "You have no workshops yet: create one on the Workshops page." in texts(at)
    [link] = at.get("page_link")
    assert link.proto.label == "Create a workshop" and link.proto.page.endswith("workshops")


def test_facilitator_creates_a_workshop_and_sees_only_their_own(demo_engine: Engine) -> None:
    at = open_app("facilitator", "workshop_setup.py")
    assert "You have no workshops yet" in texts(at)  # the demo workshop belongs to someone else
    at.text_input[0].set_value("Stroke pathway workshop")
    technologies = at.multiselect[0]
    technologies.set_value(technologies.options[:2])
    button(at, "Save workshop").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert "Workshop #" in texts(at) and "created" in texts(at)
    mine = list_workshops(demo_engine, actor=FACILITATOR)
    assert mine["title"].tolist() == ["Stroke pathway workshop"]
    assert mine.iloc[0][["items", "groups", "status"]].tolist() == [2, 5, "draft"]
    assert "Consensus in if at least 70%" in texts(at)  # the pre-registration text of the saved rule


def test_custom_questions_can_be_asked_about_each_technology(demo_engine: Engine) -> None:
    at = open_app("facilitator", "workshop_setup.py")
    at.text_input[0].set_value("Custom question workshop")
    technologies = at.multiselect[0]
    technologies.set_value(technologies.options[:2])
    next(t for t in at.text_area if t.label.startswith("Custom questions")).set_value("Will patients accept it?\nIs training adequate?")
    next(c for c in at.checkbox if c.label.startswith("Ask each custom question")).check()
    button(at, "Save workshop").click().run()
    assert not at.exception, [e.message for e in at.exception]
    workshop_id = int(list_workshops(demo_engine, actor=FACILITATOR).iloc[0]["workshop_id"])
    items = get_workshop(demo_engine, workshop_id, actor=FACILITATOR).items
    custom = [(item.technology_id is not None, item.question_text) for item in items if item.question == "custom"]
    # 2 technologies x 2 custom questions, each about a technology; plus the default question per technology.
    assert sorted(custom) == [(True, "Is training adequate?")] * 2 + [(True, "Will patients accept it?")] * 2
    assert len(items) == 6


def test_setup_shows_problems_instead_of_saving(engine: Engine) -> None:
    at = open_app("facilitator", "workshop_setup.py")
    next(t for t in at.text_area if t.label.startswith("Stakeholder groups")).set_value("Clinicians, lots")
    button(at, "Save workshop").click().run()
    shown = texts(at) + "\n".join(str(v) for frame in at.dataframe for v in frame.value.to_numpy().ravel())
    assert "The workshop was not saved" in shown
    assert "line 1: 'lots' is not a whole number" in shown
    assert list_workshops(engine, actor=FACILITATOR).empty


def test_rule_change_after_round_one_is_refused_on_the_page(engine: Engine) -> None:
    workshop_id = own_workshop(engine)
    open_round(engine, workshop_id, actor=FACILITATOR)
    at = open_app("facilitator", "workshop_setup.py")
    at.selectbox(key="ws_setup_choice").set_value(workshop_id).run()
    assert "frozen: round 1 has opened" in texts(at)
    next(r for r in at.radio if r.label == "Rule").set_value("ram")
    button(at, "Save workshop").click().run()
    shown = "\n".join(str(v) for frame in at.dataframe for v in frame.value.to_numpy().ravel())
    assert "The consensus rule is frozen" in shown
    assert get_workshop(engine, workshop_id, actor=FACILITATOR).rule == COMET_RULE


def test_run_page_shows_the_join_code_and_opens_a_round(engine: Engine) -> None:
    workshop_id = own_workshop(engine)
    code = get_workshop(engine, workshop_id, actor=FACILITATOR).join_code
    at = open_app("facilitator", "workshop_run.py")
    assert f"{code[:3]}-{code[3:]}" in texts(at)
    assert len(at.get("image")) == 1  # the QR code
    button(at, "Open round 1").click().run()
    assert not at.exception
    assert "Round 1 is open. The consensus rule is now frozen." in texts(at)
    assert get_workshop(engine, workshop_id, actor=FACILITATOR).open_round is not None
    assert "Round 1: responses so far" in texts(at)


def test_presenter_view_steps_through_items_of_the_closed_round(demo_engine: Engine) -> None:
    at = open_app("lead", "workshop_presenter.py")
    assert not at.exception
    assert "Item 1 of 23" in texts(at)  # round 2 of the demo: 24 items, one dropped after round 1
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Participants"] == "18" and metrics["Consensus"] in {"Consensus IN", "Consensus OUT", "No consensus"}
    button(at, "Next ▶").click().run()
    assert "Item 2 of 23" in texts(at)
    at.segmented_control(key="ws_presenter_round").set_value(1).run()
    assert "Item 1 of 24" in texts(at)
    assert {m.label: m.value for m in at.metric}["Participants"] == "20"


def test_presenter_view_hides_an_open_round(engine: Engine) -> None:
    workshop_id = own_workshop(engine, hide=True)
    open_round(engine, workshop_id, actor=FACILITATOR)
    at = open_app("facilitator", "workshop_presenter.py")
    assert "No round has closed yet" in texts(at)
    assert not at.get("plotly_chart")


def test_results_page_shows_tables_and_exports(demo_engine: Engine) -> None:
    at = open_app("lead", "workshop_results.py")
    assert not at.exception, [e.message for e in at.exception]
    assert "Per item and round" in texts(at)
    summary = at.dataframe[0].value
    assert len(summary) == 24 + 23 and set(summary["Consensus"]) <= {"in", "out", "none"}
    assert not set(summary["Band"]) & {"1_3y", "over_3y", "within_1y", "at_scale"}  # bands read as labels
    assert "1–3 years" in set(summary["Band"])
    labels = [b.label for b in at.get("download_button")]
    assert "Raw ratings (CSV)" in labels and "ACCORD per-round summary (XLSX)" in labels


def test_facilitator_pages_refuse_respondents(engine: Engine) -> None:
    at = open_app("respondent")
    for page in ("workshop_setup.py", "workshop_run.py", "workshop_presenter.py", "workshop_results.py"):
        with pytest.raises(ValueError, match="Could not find a navigation page"):  # not in a respondent's navigation
            at.switch_page(f"views/{page}")
    at.switch_page("views/workshop_join.py").run()  # the participant page is open to everyone
    assert "Join code" in at.text_input[0].label


# --- participant page ------------------------------------------------------------------------------------


def test_participant_joins_rates_and_sees_round_two_feedback(engine: Engine) -> None:
    workshop_id = own_workshop(engine)
    workshop = get_workshop(engine, workshop_id, actor=FACILITATOR)
    open_round(engine, workshop_id, actor=FACILITATOR)

    at = open_app(None, "workshop_join.py", query={"join": workshop.join_code.lower()})
    assert "Ward AI workshop" in texts(at)
    at.radio[0].set_value(workshop.groups[1].id)
    button(at, "Join").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert "Round 1 of 2" in texts(at)
    token = at.session_state["workshop_token"]
    assert at.query_params["p"] == [token] or at.query_params["p"] == token

    first, second = workshop.items
    button(at, "Save ratings").click().run()
    assert "Rate every item before saving; still to rate: items 1, 2" in texts(at)
    at.radio(key=f"ws_rate_1_{first.id}").set_value(8)
    at.radio(key=f"ws_rate_1_{second.id}").set_value(3)
    at.text_input(key=f"ws_reason_1_{first.id}").set_value("<b>Saves</b> triage time")
    button(at, "Save ratings").click().run()
    assert "Saved 2 ratings for round 1" in texts(at)
    button(at, "Save ratings").click().run()  # a second click stores nothing new
    with read_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Rating)) == 2

    # Another participant rates, the facilitator closes round 1 and opens round 2.
    other, _ = join_workshop(engine, workshop.join_code, workshop.groups[0].id)
    save_ratings(engine, other, 1, [RatingInput(item_id=first.id, value=9, reason="Strong evidence"),
                                    RatingInput(item_id=second.id, value=2)])
    close_round(engine, workshop_id, actor=FACILITATOR)
    at.run()
    assert "Round 1 has closed. Please wait for the facilitator to open round 2." in texts(at)
    open_round(engine, workshop_id, actor=FACILITATOR)
    at.run()
    shown = texts(at)
    assert "Round 2 of 2" in shown
    assert "Your rating in round 1: **8 \\(high impact\\)**" in shown
    assert "[8 (high impact)] <b>Saves</b> triage time" in shown  # the reason as plain text, never HTML
    assert "[9 (high impact)] Strong evidence" in shown
    assert len(at.get("plotly_chart")) == 2  # the round-1 distribution beside each item


def test_join_button_explains_a_missing_group_a_closed_workshop_and_an_unreachable_database(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    import storage.workshops as workshops
    from sqlalchemy.exc import OperationalError

    workshop_id = own_workshop(engine)
    workshop = get_workshop(engine, workshop_id, actor=FACILITATOR)
    open_round(engine, workshop_id, actor=FACILITATOR)

    def unreachable(*_args, **_kwargs):
        raise OperationalError("SELECT", {}, ConnectionRefusedError("connection refused"))

    # The Join button's callback is the one drawn by the previous run: patch before drawing it.
    real_take_seat = workshops.take_seat
    monkeypatch.setattr(workshops, "take_seat", unreachable)
    at = open_app(None, "workshop_join.py", query={"join": workshop.join_code})
    button(at, "Join").click().run()
    assert "Choose your stakeholder group." in texts(at)
    assert "workshop_token" not in at.session_state

    at.radio[0].set_value(workshop.groups[0].id)
    button(at, "Join").click().run()
    assert not at.exception
    assert "You could not be given a seat just now" in texts(at)
    assert at.radio[0].value == workshop.groups[0].id  # the choice stays for the next try
    monkeypatch.setattr(workshops, "take_seat", real_take_seat)
    at.run()

    close_workshop(engine, workshop_id, actor=FACILITATOR)  # closed while the join page was open
    button(at, "Join").click().run()
    assert "This workshop has closed; thank you for taking part." in texts(at)
    assert "workshop_token" not in at.session_state and "Round 1 of" not in texts(at)


def test_a_returning_participant_sees_their_saved_ratings_and_can_change_them(engine: Engine) -> None:
    workshop_id = own_workshop(engine)
    workshop = get_workshop(engine, workshop_id, actor=FACILITATOR)
    open_round(engine, workshop_id, actor=FACILITATOR)
    first, second = workshop.items
    token, _ = join_workshop(engine, workshop.join_code, workshop.groups[0].id)
    save_ratings(engine, token, 1, [RatingInput(item_id=first.id, value=4, reason="early days"),
                                    RatingInput(item_id=second.id, value=6)])
    at = open_app(None, "workshop_join.py", query={"p": token})  # a reload, or the link on another device
    assert "Saved: 2 of 2 items rated in this round." in texts(at)
    assert at.radio(key=f"ws_rate_1_{first.id}").value == 4 and at.radio(key=f"ws_rate_1_{second.id}").value == 6
    assert at.text_input(key=f"ws_reason_1_{first.id}").value == "early days"
    at.radio(key=f"ws_rate_1_{second.id}").set_value(2)
    button(at, "Save ratings").click().run()
    assert "Saved 2 ratings for round 1" in texts(at)
    assert at.radio(key=f"ws_rate_1_{first.id}").value == 4 and at.radio(key=f"ws_rate_1_{second.id}").value == 2
    with read_session(engine) as session:
        stored = dict(session.execute(select(Rating.item_id, Rating.value)).all())
    assert stored == {first.id: 4, second.id: 2}


def test_participant_refresh_keeps_the_seat_and_closed_workshop_is_explained(engine: Engine) -> None:
    workshop_id = own_workshop(engine)
    workshop = get_workshop(engine, workshop_id, actor=FACILITATOR)
    token, _ = join_workshop(engine, workshop.join_code, workshop.groups[0].id)
    at = open_app(None, "workshop_join.py", query={"p": token})
    assert "Please wait for the facilitator to open round 1" in texts(at)
    close_workshop(engine, workshop_id, actor=FACILITATOR)
    at.run()
    assert "This workshop has closed" in texts(at)
    fresh = open_app(None, "workshop_join.py", query={"join": workshop.join_code})
    assert "This workshop has closed; thank you for taking part." in texts(fresh)
    bad = open_app(None, "workshop_join.py", query={"p": "stale-token"})
    assert "no longer valid" in texts(bad)


def test_run_page_drops_an_item_between_rounds_and_records_invited(engine: Engine) -> None:
    workshop_id = own_workshop(engine)
    workshop = get_workshop(engine, workshop_id, actor=FACILITATOR)
    token, _ = join_workshop(engine, workshop.join_code, workshop.groups[0].id)
    open_round(engine, workshop_id, actor=FACILITATOR)
    save_ratings(engine, token, 1, [RatingInput(item_id=item.id, value=9) for item in workshop.items])
    close_round(engine, workshop_id, actor=FACILITATOR)

    at = open_app("facilitator", "workshop_run.py")
    assert "Between rounds: drop items that reached consensus in round 1" in texts(at)
    at.selectbox[1].set_value(workshop.items[1].id)
    button(at, "Drop from later rounds").click().run()
    assert "Item dropped from later rounds." in texts(at)
    dropped = get_workshop(engine, workshop_id, actor=FACILITATOR).items[1]
    assert (dropped.dropped_after_round, dropped.drop_reason) == (1, "Consensus reached in round 1")

    at.number_input(key=f"ws_invited_{workshop.groups[0].id}").set_value(12)
    button(at, "Save invited numbers").click().run()
    assert [g.invited for g in get_workshop(engine, workshop_id, actor=FACILITATOR).groups] == [12, 0]
    attrition_table = at.dataframe[-1].value
    assert attrition_table.loc[attrition_table["Group"] == "Nurses", ["Invited", "Joined", "Completed"]].values.tolist() == [[12, 1, 1]]


def test_ratings_stay_on_screen_when_the_database_is_briefly_unreachable(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    import storage.workshops as workshops
    from sqlalchemy.exc import OperationalError

    workshop_id = own_workshop(engine)
    workshop = get_workshop(engine, workshop_id, actor=FACILITATOR)
    open_round(engine, workshop_id, actor=FACILITATOR)
    at = open_app(None, "workshop_join.py", query={"join": workshop.join_code})
    at.radio[0].set_value(workshop.groups[0].id)
    button(at, "Join").click().run()
    first, second = workshop.items
    at.radio(key=f"ws_rate_1_{first.id}").set_value(7)
    at.radio(key=f"ws_rate_1_{second.id}").set_value(2)

    def unreachable(*_args, **_kwargs):
        raise OperationalError("INSERT", {}, ConnectionRefusedError("connection refused"))

    real_save = workshops.save_ratings
    monkeypatch.setattr(workshops, "save_ratings", unreachable)
    button(at, "Save ratings").click().run()
    assert not at.exception
    assert "could not be saved just now — they are still on this page" in texts(at)
    assert at.radio(key=f"ws_rate_1_{first.id}").value == 7 and at.radio(key=f"ws_rate_1_{second.id}").value == 2
    with read_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Rating)) == 0

    monkeypatch.setattr(workshops, "save_ratings", real_save)  # the database is back
    button(at, "Save ratings").click().run()
    assert "Saved 2 ratings for round 1" in texts(at)
