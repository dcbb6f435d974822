"""The shared clock: fixed-width UTC timestamps that order as strings, and a seam tests move it through."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from etl_aws import clock


def parse(value: str) -> datetime:
    return datetime.strptime(value, clock.ISO_FORMAT).replace(tzinfo=UTC)


def test_timestamps_are_fixed_width_utc_and_order_as_strings() -> None:
    early, late = clock.iso(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)), clock.iso_in(0)

    assert early == "2024-01-02T03:04:05.000000Z"
    assert len(early) == len(late)
    assert early < late


def test_iso_in_is_that_many_seconds_after_now() -> None:
    before = clock.now()
    later = parse(clock.iso_in(90))

    assert before + timedelta(seconds=90) <= later <= clock.now() + timedelta(seconds=90)


def test_shifted_moves_the_clock_for_the_block_only() -> None:
    wall = datetime.now(UTC)
    with clock.shifted(3600):
        inside = parse(clock.now_iso())
        inside_epoch = clock.epoch_seconds()
    after = clock.now()

    assert inside >= wall + timedelta(seconds=3600)
    assert inside_epoch >= int(wall.timestamp()) + 3600
    assert after < wall + timedelta(seconds=3600)


def test_shifts_nest_and_undo_in_order() -> None:
    wall = datetime.now(UTC)
    with clock.shifted(100):
        with clock.shifted(50):
            both = clock.now()
        one = clock.now()

    assert both >= wall + timedelta(seconds=150)
    assert wall + timedelta(seconds=100) <= one < wall + timedelta(seconds=150)
