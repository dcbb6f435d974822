"""The one clock of the shared core: every timestamp and expiry the jobs table sees is read here.

Times are UTC, written as `2024-01-31T12:00:00.000000Z`: fixed width, so they compare as strings in a
DynamoDB condition expression. Tests move the clock with `shifted(seconds)` instead of waiting; timers that
wait on this clock (the local durable engine's, the local Step Functions approval wait) `subscribe` to hear
of a move, and a process that follows another's clock (the local moto server) sets its offset.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

ISO_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

_lock = threading.Lock()
_offset = timedelta(0)
_listeners: list[Callable[[float], None]] = []


def now() -> datetime:
    """The current time (UTC), moved by any `shifted` block in force."""
    return datetime.now(UTC) + _offset


def iso(moment: datetime) -> str:
    """`moment` in the table's fixed-width ISO form."""
    return moment.astimezone(UTC).strftime(ISO_FORMAT)


def now_iso() -> str:
    """The current time in the table's ISO form."""
    return iso(now())


def iso_in(seconds: float) -> str:
    """The time `seconds` from now in the table's ISO form."""
    return iso(now() + timedelta(seconds=seconds))


def epoch_seconds() -> int:
    """Whole seconds since the Unix epoch, the unit of a DynamoDB TTL attribute."""
    return int(now().timestamp())


def offset_seconds() -> float:
    """How far this clock runs ahead of the wall clock, in seconds."""
    return _offset.total_seconds()


def set_offset(seconds: float) -> None:
    """Run `seconds` ahead of the wall clock from now on (a process following another's clock)."""
    _move(timedelta(seconds=seconds) - _offset)


def subscribe(listener: Callable[[float], None]) -> Callable[[], None]:
    """Call `listener(offset seconds)` after every move of the clock; returns the unsubscribe function."""
    with _lock:
        _listeners.append(listener)

    def unsubscribe() -> None:
        with _lock:
            if listener in _listeners:
                _listeners.remove(listener)

    return unsubscribe


def _move(delta: timedelta) -> None:
    global _offset
    with _lock:
        _offset += delta
        offset, listeners = _offset.total_seconds(), list(_listeners)
    for listener in listeners:
        listener(offset)


@contextmanager
def shifted(seconds: float) -> Iterator[None]:
    """Run the block `seconds` later than the wall clock (for every thread of the process)."""
    delta = timedelta(seconds=seconds)
    _move(delta)
    try:
        yield
    finally:
        _move(-delta)
