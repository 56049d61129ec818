"""The turn queue behind runtime.room_turn: slots, first come first served, urgent first, timeouts."""

from __future__ import annotations

import threading
import time

import pytest

from streamlit_app.turns import TurnQueue

WAIT_LIMIT = 10.0


def queue_waiter(turns: TurnQueue, name: str, served: list[str], *, urgent: bool = False) -> threading.Thread:
    """Start a thread that waits for a turn, notes its name when served and releases at once;
    returns once the thread is queued, so waiters queue in the order they are started."""
    before = turns.waiting

    def take_turn() -> None:
        assert turns.acquire(urgent=urgent, timeout=WAIT_LIMIT)
        served.append(name)
        turns.release()

    thread = threading.Thread(target=take_turn)
    thread.start()
    deadline = time.monotonic() + WAIT_LIMIT
    while turns.waiting == before:
        assert time.monotonic() < deadline, f"{name} never queued"
        time.sleep(0.001)
    return thread


def test_slots_are_taken_at_once_and_freed_slots_go_to_the_longest_waiter() -> None:
    turns = TurnQueue(2)
    assert turns.acquire(timeout=0) and turns.acquire(timeout=0)
    served: list[str] = []
    waiters = [queue_waiter(turns, name, served) for name in ("first", "second", "third")]
    assert served == [] and turns.waiting == 3
    turns.release()  # handed to "first", who releases to "second", and so on
    for waiter in waiters:
        waiter.join(WAIT_LIMIT)
    assert served == ["first", "second", "third"]
    assert turns.waiting == 0
    # One slot is still held by the test; the other is free again.
    assert turns.acquire(timeout=0)
    assert not turns.acquire(timeout=0)


def test_urgent_waiters_are_served_before_ordinary_ones() -> None:
    turns = TurnQueue(1)
    assert turns.acquire(timeout=0)
    served: list[str] = []
    waiters = [queue_waiter(turns, "page load", served),
               queue_waiter(turns, "join", served, urgent=True),
               queue_waiter(turns, "another page load", served),
               queue_waiter(turns, "save", served, urgent=True)]
    turns.release()
    for waiter in waiters:
        waiter.join(WAIT_LIMIT)
    assert served == ["join", "save", "page load", "another page load"]


def test_a_wait_that_runs_out_holds_nothing_and_leaves_the_queue() -> None:
    turns = TurnQueue(1)
    assert turns.acquire(timeout=0)
    started = time.monotonic()
    assert turns.acquire(timeout=0.05) is False
    assert time.monotonic() - started >= 0.05
    assert turns.waiting == 0
    turns.release()
    assert turns.acquire(timeout=0), "the slot is free again: the timed-out waiter did not take it"


def test_a_queue_needs_a_slot() -> None:
    with pytest.raises(ValueError, match="at least one slot"):
        TurnQueue(0)
