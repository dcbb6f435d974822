"""Constant memory: the peak traced while processing does not depend on how long the file is.

Sizes are chosen so the module runs in seconds under tracemalloc: a 4x step in rows is enough to show
growth, since anything kept per row would add hundreds of KB at these sizes.
"""

from __future__ import annotations

import io
import os
import tracemalloc
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from etl_core import process, synth

MB = 1024 * 1024
PEAK_LIMIT = 16 * MB
GROWTH_MARGIN = MB // 4  # allowed rise of the peak when the file gets 4x longer

pytestmark = pytest.mark.slow


def traced_peak(path: Path) -> int:
    """Peak memory traced while processing `path` into sinks that keep nothing."""
    with open(path, "rb") as source, open(os.devnull, "wb") as records, open(os.devnull, "wb") as rejects:
        tracemalloc.start()
        try:
            process(source, records, rejects)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()


def write_lines(path: Path, header: bytes, lines: Iterable[bytes]) -> Path:
    with open(path, "wb") as out:
        out.write(header)
        out.writelines(lines)
    return path


@pytest.fixture(scope="module", autouse=True)
def _warm_up() -> None:
    # lazy imports and one-off caches (strptime, codecs) must not be counted as per-file memory
    process(io.BytesIO(synth_bytes(500)), io.BytesIO(), io.BytesIO())


def synth_bytes(count: int) -> bytes:
    buffer = io.BytesIO()
    synth.write_csv(buffer, count)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def synth_peak(tmp_path_factory: pytest.TempPathFactory) -> Callable[[int], int]:
    """`synth_peak(rows)`: traced peak for a synthetic file of that many rows (measured once per size)."""
    directory = tmp_path_factory.mktemp("synth")
    peaks: dict[int, int] = {}

    def measure(count: int) -> int:
        if count not in peaks:
            path = directory / f"rows-{count}.csv"
            with open(path, "wb") as out:
                synth.write_csv(out, count)
            peaks[count] = traced_peak(path)
        return peaks[count]

    return measure


def test_peak_memory_for_200k_rows_stays_under_16mb(synth_peak: Callable[[int], int]) -> None:
    assert synth_peak(200_000) < PEAK_LIMIT


def test_peak_memory_does_not_grow_with_the_number_of_rows(synth_peak: Callable[[int], int]) -> None:
    small, large = synth_peak(50_000), synth_peak(200_000)

    assert large <= small + GROWTH_MARGIN, f"peak {small / MB:.2f} MB -> {large / MB:.2f} MB"


def test_peak_memory_stays_flat_when_every_row_is_rejected(tmp_path: Path) -> None:
    def bad_numbers(count: int) -> Path:
        rows = (b"%d,Ana,n/a\n" % i for i in range(count))
        return write_lines(tmp_path / f"bad-{count}.csv", b"id,name,amount\n", rows)

    small, large = traced_peak(bad_numbers(5_000)), traced_peak(bad_numbers(20_000))

    assert large <= small + GROWTH_MARGIN, f"peak {small / MB:.2f} MB -> {large / MB:.2f} MB"
    assert large < PEAK_LIMIT


def test_peak_memory_stays_flat_with_many_long_distinct_invalid_dates(tmp_path: Path) -> None:
    # 3,000 distinct 9 KB values in a date column: about 27 MB of text that must not be remembered
    rows = (b"%d,Ana,%s\n" % (i, (b"%09d" % i) * 1000) for i in range(3000))
    path = write_lines(tmp_path / "long-dates.csv", b"id,name,date\n", rows)

    assert traced_peak(path) < PEAK_LIMIT // 2
