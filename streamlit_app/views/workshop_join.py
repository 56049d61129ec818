"""Join a workshop (anonymous): enter the code, choose a stakeholder group, rate every item of the
open round. From round 2 each item shows the last round's ratings by group, the anonymised
reasons and the participant's own previous rating.

No sign-in: the join code admits, and a random token (kept in the session and in the URL as
``?p=``, so a refresh keeps the seat) identifies the participant; only its hash is stored.
"""

from __future__ import annotations

from contextlib import nullcontext

import pandas as pd
import streamlit as st
from sqlalchemy.exc import DBAPIError

from storage.workshops import (
    find_workshop_by_code,
    participant_ratings,
    participant_round_state,
    participant_session,
    round_distribution,
    round_reasons,
    save_ratings,
    take_seat,
)
from survey.workshop_rules import (
    JoinError,
    ParticipantView,
    WorkshopView,
    RatingError,
    RatingInput,
    format_join_code,
    normalise_join_code,
)
from streamlit_app.runtime import database_unreachable, get_engine, room_turn
from streamlit_app.widgets import database_errors, md_escape
from streamlit_app.workshop_widgets import distribution_figure

TOKEN_KEY = "workshop_token"
CODE_KEY = "workshop_join_code"
# Set by a full run of the page, which has just read the workshop's state: the polling
# fragments then skip their first check (a whole room's page runs at once when it joins).
STATE_JUST_READ_KEY = "workshop_state_just_read"
GROUP_KEY = "ws_join_group"
JOINED_KEY = "workshop_joined"  # (token, participant's view), left by the Join button's callback for its run
JOIN_PROBLEM_KEY = "workshop_join_problem"  # why the Join button's callback could not give a seat
REASON_MAX_CHARS = 500
SAVE_FAILED_MESSAGE = "Your ratings could not be saved just now — they are still on this page. Try again in a moment."
JOIN_FAILED_MESSAGE = "You could not be given a seat just now (the database did not answer). Press Join again in a moment."
engine = get_engine()
st.title("Join a workshop")


def remember_token(token: str) -> None:
    st.session_state[TOKEN_KEY] = token
    if st.query_params.get("p") != token:  # setting it again would send the browser a message each run
        st.query_params["p"] = token


def forget_seat() -> None:
    st.session_state.pop(TOKEN_KEY, None)
    st.query_params.pop("p", None)


def take_seat_on_join(workshop: WorkshopView) -> None:
    """The Join button's callback. It runs before the page, so the run the click starts draws the
    rating form straight away: a room joins at once, and drawing the join form again only to
    clear it, and reading the workshop once more, cost the server that much more per joiner.
    ``workshop`` is the snapshot the join form was drawn from; ``take_seat`` checks under a lock
    that the workshop still takes participants and that the group is still one of its own."""
    group_id = st.session_state.get(GROUP_KEY)
    if group_id is None:
        st.session_state[JOIN_PROBLEM_KEY] = "Choose your stakeholder group."
        return
    with room_turn(urgent=True):
        try:
            st.session_state[JOINED_KEY] = take_seat(engine, workshop, int(group_id))
        except JoinError as error:
            st.session_state[JOIN_PROBLEM_KEY] = str(error)
        except DBAPIError as error:
            if not database_unreachable(error):
                raise
            st.session_state[JOIN_PROBLEM_KEY] = JOIN_FAILED_MESSAGE


def join_flow() -> None:
    """Code, then group; the Join button's callback (``take_seat_on_join``) gives the seat."""
    prefilled = st.query_params.get("join", "")
    if prefilled and CODE_KEY not in st.session_state:
        st.session_state[CODE_KEY] = normalise_join_code(prefilled)
    code = st.session_state.get(CODE_KEY)
    if not code:
        with st.form("ws_join_code_form"):
            typed = st.text_input("Join code (shown on the facilitator's screen, like K7Q-M4T)", max_chars=12)
            if st.form_submit_button("Continue", type="primary"):
                st.session_state[CODE_KEY] = normalise_join_code(typed)
                st.rerun()
        return
    try:
        workshop = find_workshop_by_code(engine, code)
    except JoinError as error:
        st.error(str(error))
        if st.button("Enter another code"):
            st.session_state.pop(CODE_KEY, None)
            st.query_params.pop("join", None)
            st.rerun()
        return
    st.subheader(md_escape(workshop.title))
    if workshop.purpose:
        st.text(workshop.purpose)
    st.caption(f"Code {format_join_code(workshop.join_code)}. Your ratings are anonymous: the facilitator sees that "
               "you responded (as an alias such as P07), not what you answered.")
    groups = {group.id: group.name for group in workshop.groups}
    with st.form("ws_join_group_form"):
        st.radio("Which stakeholder group are you in?", list(groups), format_func=groups.get, index=None, key=GROUP_KEY)
        if problem := st.session_state.pop(JOIN_PROBLEM_KEY, None):
            st.error(problem)
        st.form_submit_button("Join", type="primary", on_click=take_seat_on_join, args=(workshop,))


def state_signature(seat: ParticipantView) -> tuple:
    workshop = seat.workshop
    return workshop.status, tuple((r.number, r.closed_at is None) for r in workshop.rounds)


def _rerun_on_round_change(token: str, signature: tuple) -> None:
    if st.session_state.pop(STATE_JUST_READ_KEY, False):
        return
    try:
        state = participant_round_state(engine, token)
    except DBAPIError as error:
        if not database_unreachable(error):
            raise
        return  # the database is down: ask again at the next tick, without a message every few seconds
    if state is not None and state != signature:
        st.rerun(scope="app")


@st.fragment(run_every=4)
def wait_for_round(token: str, signature: tuple) -> None:
    """Between rounds: show the next round within seconds of the facilitator opening it."""
    _rerun_on_round_change(token, signature)


@st.fragment(run_every=12)
def watch_for_round_close(token: str, signature: tuple) -> None:
    """While rating: notice the facilitator closing the round. Less often than between rounds: a
    whole room polls at once, and a save after the close is refused with its own message anyway."""
    _rerun_on_round_change(token, signature)


def feedback(seat: ParticipantView, item_id: int, previous_round: int, distribution: pd.DataFrame,
             reasons: pd.DataFrame, own_previous: dict[int, tuple[int, str]]) -> None:
    """The last round's distribution by group, the participant's own rating, and the reasons."""
    item = next(i for i in seat.workshop.items if i.id == item_id)
    scale = seat.workshop.scale_for(item)
    own = own_previous.get(item_id)
    counts = distribution[distribution["item_id"] == item_id]
    st.plotly_chart(distribution_figure(counts, scale, f"Round {previous_round} ratings by group",
                                        own_value=own[0] if own else None),
                    width="stretch", key=f"ws_feedback_{item_id}", config={"displayModeBar": False})
    if own:
        st.info(f"Your rating in round {previous_round}: **{md_escape(scale.value_label(own[0]))}**")
    item_reasons = reasons[reasons["item_id"] == item_id]
    if not item_reasons.empty:
        with st.expander(f"Reasons given in round {previous_round} ({len(item_reasons)})"):
            for rating, reason in zip(item_reasons["rating"], item_reasons["reason"], strict=True):
                st.text(f"[{scale.value_label(int(rating))}] {reason}")


# A fragment: pressing Save reruns only this form, not the whole app, which keeps the server's
# work per save small when a whole room saves at once.
@st.fragment
def rating_form(seat: ParticipantView, token: str, new_seat: bool = False) -> None:
    with room_turn(urgent=True):
        _rating_form(seat, token, new_seat)


def _rating_form(seat: ParticipantView, token: str, new_seat: bool) -> None:
    workshop = seat.workshop
    current = workshop.open_round
    assert current is not None
    items = workshop.items_in(current.number)
    previous_round = current.number - 1 if current.number > 1 else None
    save_key = f"ws_save_{workshop.id}_{current.number}"
    # The stored ratings only fill the form's first drawing: a seat taken in this run has none,
    # and while Save is being handled the form's widgets hold what was sent.
    read_saved = not new_seat and not st.session_state.get(save_key)
    try:
        saved = participant_ratings(engine, token, current.number) if read_saved else {}
        if previous_round:
            distribution = round_distribution(engine, workshop, previous_round)
            reasons = round_reasons(engine, workshop, previous_round)
            own_previous = participant_ratings(engine, token, previous_round) if not new_seat else {}
        live = None if workshop.hide_results_until_close else round_distribution(engine, workshop, current.number)
        reachable = True
    except DBAPIError as error:
        if not database_unreachable(error):
            raise
        # The form stays (its widgets keep what was chosen); last round's feedback waits.
        reachable, saved, previous_round, live = False, {}, None, None

    st.markdown(f"### Round {current.number} of {workshop.n_rounds}")
    st.caption(f"You are {seat.alias} ({md_escape(seat.group_name)}). Rate every item; you can change your ratings "
               "until the facilitator closes the round." + (" From round 2 you see how everyone rated last round."
                                                            if current.number == 1 else ""))
    progress = st.empty()  # updated in this same run after a save (no second script run)
    if saved:
        progress.success(f"Saved: {len(saved)} of {len(items)} items rated in this round.")
    with st.form(f"ws_rate_form_{workshop.id}_{current.number}"):
        choices: dict[int, tuple[int | None, str]] = {}
        for item in items:
            scale = workshop.scale_for(item)
            # The item itself is the rating's label, and a rule drawn by the app's style sheet
            # (not a bordered box) separates the items: every element costs the server work on
            # each save, and a whole room saves at once.
            with_feedback = bool(previous_round) or live is not None
            rate_column, feedback_column = st.columns([3, 2]) if with_feedback else (nullcontext(), None)
            with rate_column:
                value, reason = saved.get(item.id, (None, ""))
                chosen = st.radio(
                    f"**{item.position}. {md_escape(item.label)}**", scale.values, format_func=scale.value_label,
                    horizontal=True, index=scale.values.index(value) if value in scale.values else None,
                    key=f"ws_rate_{current.number}_{item.id}",
                )  # fmt: skip
                typed = st.text_input(f"Reason for item {item.position} (optional, up to {REASON_MAX_CHARS} characters)",
                                      value=reason, max_chars=REASON_MAX_CHARS, key=f"ws_reason_{current.number}_{item.id}")
                choices[item.id] = (chosen, typed)
            if feedback_column is not None:
                with feedback_column:
                    if previous_round and item.active_in(previous_round):
                        feedback(seat, item.id, previous_round, distribution, reasons, own_previous)
                    if live is not None:
                        counts = live[live["item_id"] == item.id]
                        st.plotly_chart(distribution_figure(counts, scale, "This round so far"), width="stretch",
                                        key=f"ws_live_{item.id}", config={"displayModeBar": False})
        submitted = st.form_submit_button("Save ratings", type="primary", key=save_key)
    if submitted:
        missing = [str(item.position) for item in items if choices[item.id][0] is None]
        if missing:
            st.error(f"Rate every item before saving; still to rate: item{'s' if len(missing) > 1 else ''} {', '.join(missing)}.")
            return
        # An unreachable database shows a message and keeps the ratings on screen to try again.
        if not reachable:
            st.error(SAVE_FAILED_MESSAGE, icon=":material/cloud_off:")
            return
        count = None
        with database_errors(SAVE_FAILED_MESSAGE):
            try:
                count = save_ratings(engine, token, current.number,
                                     [RatingInput(item_id=item_id, value=int(value), reason=reason)
                                      for item_id, (value, reason) in choices.items()])
            except RatingError as error:
                st.error(str(error))
                return
        if count is None:
            return
        # Confirm in this run: a rerun would cost a second full page run per save, which
        # matters when a whole room presses Save together.
        progress.success(f"Saved: {len(items)} of {len(items)} items rated in this round.")
        st.success(f"Saved {count} ratings for round {current.number}. Thank you!")


def participant_page() -> None:
    joined = st.session_state.pop(JOINED_KEY, None)
    if joined is not None:  # the Join button's callback has just given this seat
        (token, seat), new_seat = joined, True
    else:
        token = st.session_state.get(TOKEN_KEY) or st.query_params.get("p")
        seat = participant_session(engine, token) if token else None
        new_seat = False
    if seat is None:
        if token:
            forget_seat()
            st.warning("That participant link is no longer valid; join again with the code.")
        join_flow()
        return

    remember_token(token)
    workshop = seat.workshop
    st.subheader(md_escape(workshop.title))
    if workshop.status == "closed":
        st.info("This workshop has closed. Thank you for taking part.")
        return
    if workshop.is_expired():
        st.info("This workshop has ended: its join code has expired. Thank you for taking part.")
        return
    if workshop.open_round is None:
        done = len(workshop.rounds)
        st.info(f"Round {done} has closed. Please wait for the facilitator to open round {done + 1}."
                if done else "You have joined. Please wait for the facilitator to open round 1.")
        st.caption("This page updates by itself.")
        st.session_state[STATE_JUST_READ_KEY] = True
        wait_for_round(token, state_signature(seat))
        return
    rating_form(seat, token, new_seat)
    st.session_state[STATE_JUST_READ_KEY] = True
    watch_for_round_close(token, state_signature(seat))


participant_page()  # in the turn app.py takes for the pages a room opens at once
