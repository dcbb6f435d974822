"""The synthetic files used by benchmarks and demos: each kind of mess is rejected, the rest is valid."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from etl_core import synth

RunCsv = Callable[..., Any]

# The rejection each kind of mess must produce; a new kind has to be added here.
EXPECTED_REASON = {
    "missing_name": "missing_required",
    "blank_name": "missing_required",
    "bad_date": "bad_date",
    "impossible_date": "bad_date",
    "bad_amount": "bad_number",
    "nan_amount": "non_finite_number",
    "inf_price": "non_finite_number",
    "too_few_fields": "wrong_field_count",
    "too_many_fields": "wrong_field_count",
}
BAD_RATIO = 0.02
ONE_OF_EACH = len(synth.MESS_KINDS) * int(1 / BAD_RATIO)  # rows in which every kind occurs once


def synth_csv(count: int, bad_ratio: float = BAD_RATIO, seed: int = 7) -> bytes:
    buffer = io.BytesIO()
    synth.write_csv(buffer, count, bad_ratio=bad_ratio, seed=seed)
    return buffer.getvalue()


def damaged_lines(count: int, bad_ratio: float = BAD_RATIO) -> set[int]:
    """Physical lines (header is line 1) of the rows that differ from the clean file with the same seed."""
    messy = synth.rows(count, bad_ratio=bad_ratio)
    clean = synth.rows(count, bad_ratio=0)
    return {n + 2 for n, (a, b) in enumerate(zip(messy, clean, strict=True)) if a != b}


def test_every_mess_kind_has_an_expected_reason() -> None:
    assert set(EXPECTED_REASON) == set(synth.MESS_KINDS)


def test_every_damaged_row_is_rejected_and_every_clean_row_is_valid(run_csv: RunCsv) -> None:
    result = run_csv(synth_csv(ONE_OF_EACH))

    assert {r["line"] for r in result.rejects} == damaged_lines(ONE_OF_EACH)
    assert result.summary.valid == ONE_OF_EACH - len(synth.MESS_KINDS)


def test_each_mess_kind_is_rejected_with_its_reason(run_csv: RunCsv) -> None:
    result = run_csv(synth_csv(ONE_OF_EACH))

    assert result.summary.reasons == dict(Counter(EXPECTED_REASON.values()))


@pytest.mark.parametrize("count", [0, 1, 49, 50, 1000, 12_345])
def test_synth_counts_add_up(run_csv: RunCsv, count: int) -> None:
    summary = run_csv(synth_csv(count)).summary

    assert summary.rows == count
    assert summary.valid + summary.rejected == count
    assert summary.rejected == len(damaged_lines(count))


def test_clean_synth_file_is_entirely_valid(run_csv: RunCsv) -> None:
    summary = run_csv(synth_csv(2000, bad_ratio=0)).summary

    assert (summary.valid, summary.rejected) == (2000, 0)


def test_synth_has_the_documented_columns(run_csv: RunCsv) -> None:
    summary = run_csv(synth_csv(10)).summary

    assert tuple(summary.columns) == synth.COLUMNS


def test_write_csv_returns_the_number_of_bytes_written() -> None:
    buffer = io.BytesIO()

    written = synth.write_csv(buffer, 25_000)

    assert written == len(buffer.getvalue())


def test_same_seed_gives_the_same_file() -> None:
    assert synth_csv(500, seed=3) == synth_csv(500, seed=3)


def test_different_seeds_give_different_files() -> None:
    assert synth_csv(500, seed=3) != synth_csv(500, seed=4)
