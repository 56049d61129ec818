"""Taking turns: at most N holders at once, the rest served first come, first served, with an
urgent queue served before the ordinary one.

Used by ``runtime.room_turn`` for the page runs of a room that arrives at once. A plain
semaphore lets a newcomer take a slot that was just freed ahead of threads that have waited
longer, so an unlucky participant could wait for many others in turn; here a freed slot is
handed straight to the longest waiter. Urgent waiters (a participant already on their way, such
as the run started by their Join or Save) go before ordinary ones (a participant's first page
load), so people who started finish first instead of everyone finishing late together.
"""

from __future__ import annotations

import threading
from collections import deque


class TurnQueue:
    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError("a turn queue needs at least one slot")
        self._lock = threading.Lock()
        self._free = slots
        self._urgent: deque[threading.Event] = deque()
        self._ordinary: deque[threading.Event] = deque()

    def acquire(self, *, urgent: bool = False, timeout: float | None = None) -> bool:
        """Wait for a slot; False when ``timeout`` seconds passed without one (the caller then
        holds nothing and must not release)."""
        with self._lock:
            if self._free and not self._urgent and not self._ordinary:
                self._free -= 1
                return True
            turn = threading.Event()
            queue = self._urgent if urgent else self._ordinary
            queue.append(turn)
        if turn.wait(timeout):
            return True
        with self._lock:
            if turn.is_set():  # handed a slot just as the wait ran out
                return True
            queue.remove(turn)
            return False

    def release(self) -> None:
        """Give the slot to the longest-waiting urgent waiter, else ordinary one, else free it."""
        with self._lock:
            for queue in (self._urgent, self._ordinary):
                if queue:
                    queue.popleft().set()
                    return
            self._free += 1

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._urgent) + len(self._ordinary)
