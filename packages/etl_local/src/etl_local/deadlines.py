"""Actions due at a moment of the shared clock (`etl_aws.clock`), not after a number of real seconds.

A test that moves the clock with `clock.shifted(...)` makes every deadline it passes fire at once, and a
deadline re-armed after a restart from its stored moment fires at once when that moment has passed.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections.abc import Callable
from datetime import datetime

from etl_aws import clock

log = logging.getLogger(__name__)


class Deadline:
    """One armed action; `cancel()` keeps it from running (a no-op once it ran)."""

    def __init__(self, moment: datetime, action: Callable[[], None]) -> None:
        self.moment = moment
        self.action = action
        self.cancelled = False

    def cancel(self) -> bool:
        self.cancelled = True
        return True


class Deadlines:
    """One thread that runs each action when the clock reaches its moment (each in a thread of its own,
    so a slow action delays no other); it wakes early whenever the clock is moved."""

    def __init__(self, name: str = "deadlines") -> None:
        self._heap: list[tuple[datetime, int, Deadline]] = []
        self._order = itertools.count()
        self._changed = threading.Condition()
        self._closed = False
        self._unsubscribe = clock.subscribe(lambda _offset: self._wake())
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def at(self, moment: datetime, action: Callable[[], None]) -> Deadline:
        """Run `action` when `clock.now()` reaches `moment` (at once if it has already)."""
        deadline = Deadline(moment, action)
        with self._changed:
            heapq.heappush(self._heap, (moment, next(self._order), deadline))
            self._changed.notify_all()
        return deadline

    def pending(self) -> int:
        """Armed actions not yet run nor cancelled."""
        with self._changed:
            return sum(1 for _, _, d in self._heap if not d.cancelled)

    def close(self) -> None:
        """Stop the thread; actions not yet due never run."""
        self._unsubscribe()
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        self._thread.join(5)

    def _wake(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def _run(self) -> None:
        while True:
            with self._changed:
                due = self._next_due()
                if due is None:
                    return
            if not due.cancelled:
                threading.Thread(target=self._fire, args=(due,), daemon=True).start()

    def _next_due(self) -> Deadline | None:
        """Wait (holding the condition) for the next due deadline; None once closed."""
        while not self._closed:
            if not self._heap:
                self._changed.wait()
                continue
            moment, _, deadline = self._heap[0]
            left = (moment - clock.now()).total_seconds()
            if left <= 0:
                heapq.heappop(self._heap)
                return deadline
            self._changed.wait(left)
        return None

    @staticmethod
    def _fire(deadline: Deadline) -> None:
        try:
            deadline.action()
        except Exception:
            log.exception("a deadline's action failed")
