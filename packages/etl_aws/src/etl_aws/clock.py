"""The one clock of the shared core: every timestamp and expiry the jobs table sees is read here.

Times are UTC, written as `2024-01-31T12:00:00.000000Z`: fixed width, so they compare as strings in a
DynamoDB condition expression. Tests move the clock with `shifted(seconds)` instead of waiting.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

ISO_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

_lock = threading.Lock()
_offset = timedelta(0)


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


@contextmanager
def shifted(seconds: float) -> Iterator[None]:
    """Run the block `seconds` later than the wall clock (for every thread of the process)."""
    global _offset
    delta = timedelta(seconds=seconds)
    with _lock:
        _offset += delta
    try:
        yield
    finally:
        with _lock:
            _offset -= delta
