"""Properties over generated input: any bytes are handled cleanly; valid rows round-trip exactly."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl_core import FileError, process
from etl_core import errors as E
from etl_core.errors import ROW_REASONS

PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
FILE_ERROR_CODES = {
    E.EMPTY,
    E.NO_HEADER,
    E.NOT_UTF8,
    E.NOT_CSV,
    E.DUPLICATE_HEADER,
    E.EMPTY_HEADER,
    E.MISSING_COLUMN,
}
HEADER = b"id,name,date,amount,quantity,price,note\n"


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def strict_lines(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line, parse_constant=_refuse_constant) for line in data.splitlines()]


def assert_consistent_or_file_error(data: bytes) -> None:
    records, rejects = io.BytesIO(), io.BytesIO()
    try:
        summary = process(io.BytesIO(data), records, rejects)
    except FileError as exc:
        file_error = exc.code
    else:
        file_error = None
    if file_error is not None:
        assert file_error in FILE_ERROR_CODES
        return
    assert summary.rows == summary.valid + summary.rejected
    assert sum(summary.reasons.values()) == summary.rejected
    assert set(summary.reasons) <= set(ROW_REASONS)
    assert len(strict_lines(records.getvalue())) == summary.valid
    assert len(strict_lines(rejects.getvalue())) == summary.rejected
    assert summary.to_json()


@PROPERTY_SETTINGS
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_give_a_file_error_or_a_consistent_summary(data: bytes) -> None:
    assert_consistent_or_file_error(data)


CSV_ISH = st.text(alphabet=st.sampled_from(list(',"\r\n \t\x00ab1.-e/\ufeff9é')), max_size=400)


@PROPERTY_SETTINGS
@given(st.one_of(CSV_ISH.map(str.encode), st.binary(max_size=400)))
def test_arbitrary_bytes_after_a_valid_header_give_a_consistent_summary(body: bytes) -> None:
    assert_consistent_or_file_error(HEADER + body)


# --- valid rows round-trip ---------------------------------------------------------------------------

TEXT = st.text(alphabet=st.characters(exclude_categories=("Cc", "Cs")), max_size=30)
REQUIRED_TEXT = TEXT.filter(lambda s: s.strip() != "")
FORMATS = (
    lambda d: f"{d.year:04d}-{d.month:02d}-{d.day:02d}",
    lambda d: f"{d.month:02d}/{d.day:02d}/{d.year:04d}",
    lambda d: f"{d.day:02d}-{d.month:02d}-{d.year:04d}",
    lambda d: f"{d.year:04d}/{d.month:02d}/{d.day:02d}",
)
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
FINITE_FLOATS = st.floats(allow_nan=False, allow_infinity=False)
INT64 = st.integers(min_value=INT64_MIN, max_value=INT64_MAX)


@st.composite
def optional_date(draw: st.DrawFn) -> tuple[str, str | None]:
    if draw(st.integers(min_value=0, max_value=4)) > 0:  # mostly present, sometimes empty
        day: date = draw(st.dates())
        return draw(st.sampled_from(FORMATS))(day), day.isoformat()
    return draw(st.sampled_from(["", " "])), None


@st.composite
def optional_number(draw: st.DrawFn) -> tuple[str, int | float | None]:
    kind = draw(st.sampled_from(["int", "float", "empty"]))
    if kind == "int":
        value: int = draw(INT64)
        return str(value), value
    if kind == "float":
        number: float = draw(FINITE_FLOATS)
        return repr(number), number
    return "", None


def padded(text: str) -> st.SearchStrategy[str]:
    return st.sampled_from(["", " ", "  "]).map(lambda pad: pad + text + pad)


@st.composite
def valid_row(draw: st.DrawFn) -> tuple[list[str], dict[str, Any]]:
    id_, name, note = draw(REQUIRED_TEXT), draw(REQUIRED_TEXT), draw(TEXT)
    date_text, date_value = draw(optional_date())
    numbers = [draw(optional_number()) for _ in range(3)]
    written = [id_, name, date_text, *(text for text, _ in numbers), note]
    written = [draw(padded(value)) for value in written]
    expected = {
        "id": id_.strip(),
        "name": name.strip(),
        "date": date_value,
        "amount": numbers[0][1],
        "quantity": numbers[1][1],
        "price": numbers[2][1],
        "note": note.strip(),
    }
    return written, expected


def as_csv(rows: list[list[str]], newline: str) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=newline)
    writer.writerow(["id", "name", "date", "amount", "quantity", "price", "note"])
    writer.writerows(rows)
    return buffer.getvalue().encode()


@PROPERTY_SETTINGS
@given(st.lists(valid_row(), min_size=1, max_size=20), st.sampled_from(["\n", "\r\n"]))
def test_generated_valid_rows_round_trip_to_their_normalized_values(
    rows: list[tuple[list[str], dict[str, Any]]], newline: str
) -> None:
    data = as_csv([written for written, _ in rows], newline)
    records, rejects = io.BytesIO(), io.BytesIO()

    summary = process(io.BytesIO(data), records, rejects)

    assert rejects.getvalue() == b""
    assert summary.valid == len(rows)
    got = strict_lines(records.getvalue())
    for record, (_, expected) in zip(got, rows, strict=True):
        assert record == expected
        for key in ("amount", "quantity", "price"):
            assert type(record[key]) is type(expected[key])
