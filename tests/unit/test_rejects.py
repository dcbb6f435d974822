"""The shape of a reject record: where the row was, why it failed, and what it looked like."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from etl_core import Schema
from etl_core.errors import ROW_REASONS
from etl_core.schema import MAX_RAW_CHARS

RunCsv = Callable[..., Any]


def test_reject_has_exactly_line_reason_message_and_raw(run_csv: RunCsv) -> None:
    result = run_csv(b"id,name,amount\n1,Ana,lots\n")

    assert set(result.rejects[0]) == {"line", "reason", "message", "raw"}


def test_reject_line_is_the_physical_line_of_the_row(run_csv: RunCsv) -> None:
    result = run_csv(b"id,name,amount\n1,Ana,1\n2,Bo,x\n")

    assert result.rejects[0]["line"] == 3


def test_reject_line_counts_the_lines_of_quoted_multiline_fields_before_it(run_csv: RunCsv) -> None:
    data = b'id,name,note\r\n1,Ana,"one\r\ntwo\r\nthree"\r\n2,Bo,"a\nb"\r\n3,,missing name\r\n'

    result = run_csv(data)

    assert [(r["line"], r["reason"]) for r in result.rejects] == [(7, "missing_required")]


def test_reject_line_is_where_a_multiline_row_starts(run_csv: RunCsv) -> None:
    data = b'id,name,amount\n1,Ana,1\n2,"Bo\nBerg",oops\n3,Cy,2\n'

    result = run_csv(data)

    assert [r["line"] for r in result.rejects] == [3]


def test_reject_line_counts_blank_lines_and_lines_before_the_header(run_csv: RunCsv) -> None:
    result = run_csv(b"\n\nid,name\n\n1,Ana\n\n2\n")

    assert [r["line"] for r in result.rejects] == [7]


def test_reject_lines_stay_right_after_an_oversized_field(run_csv: RunCsv) -> None:
    result = run_csv(f"id,name\n1,{'n' * 101}\n2,\n3,Cy\n", Schema(max_field_chars=100))

    assert [(r["line"], r["reason"]) for r in result.rejects] == [
        (2, "field_too_large"),
        (3, "missing_required"),
    ]


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (b"1,Ana,2024-01-01,1,2", "wrong_field_count"),
        (b"1,,2024-01-01,1", "missing_required"),
        (b"1,Ana,2025-02-30,1", "bad_date"),
        (b"1,Ana,2024-01-01,1_0", "bad_number"),
        (b"1,Ana,2024-01-01,nan", "non_finite_number"),
        (b"1,Ana\x00,2024-01-01,1", "nul_byte"),
    ],
)
def test_reason_is_a_stable_code_and_message_is_human_text(run_csv: RunCsv, row: bytes, reason: str) -> None:
    result = run_csv(b"id,name,date,amount\n" + row + b"\n")

    reject = result.rejects[0]
    assert reject["reason"] == reason
    assert reason in ROW_REASONS
    assert reject["message"]
    assert reject["message"] != reason


def test_reject_raw_is_the_row_written_back_as_csv(run_csv: RunCsv) -> None:
    result = run_csv(b'id,name,amount\n1,"Ana, Silva",  many \n')

    assert result.rejects[0]["raw"] == '1,"Ana, Silva",  many '


def test_reject_raw_of_a_huge_row_is_truncated(run_csv: RunCsv) -> None:
    result = run_csv(f"id,name,amount\n1,{'A' * 100_000},x\n")

    raw = result.rejects[0]["raw"]
    assert len(raw) <= MAX_RAW_CHARS + 1
    assert raw.startswith("1,AAAA")
    assert raw.endswith("…")


def test_reject_message_of_a_huge_value_stays_short(run_csv: RunCsv) -> None:
    result = run_csv(f"id,name,amount\n1,Ana,{'9x' * 50_000}\n")

    assert len(result.rejects[0]["message"]) < 200


def test_oversized_field_reject_keeps_no_raw_text(run_csv: RunCsv) -> None:
    result = run_csv(f"id,name\n1,{'n' * 101}\n", Schema(max_field_chars=100))

    assert result.rejects[0]["raw"] == ""
