"""The Summary of a run: counts that add up, per-reason counts, columns, a few samples, always small."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from etl_core import Summary
from etl_core.schema import MAX_SAMPLES
from etl_core.summary import MAX_SUMMARY_BYTES

RunCsv = Callable[..., Any]
MakeCsv = Callable[..., bytes]

MIXED = (
    b"id,name,date,amount\n"
    b"1,Ana,2024-01-01,1\n"
    b"2,,2024-01-01,1\n"
    b"3,Cy,2025-02-30,1\n"
    b"4,Dee,2024-01-01,nan\n"
    b"5,Eli,2024-01-01\n"
    b"6,Fay,2024-01-01,1_0\n"
    b"7,   ,2024-01-01,1\n"
    b"8,Hana,01/02/2024,2.5\n"
)


def test_rows_is_valid_plus_rejected(run_csv: RunCsv) -> None:
    summary = run_csv(MIXED).summary

    assert (summary.rows, summary.valid, summary.rejected) == (8, 2, 6)


def test_reasons_count_each_rejection_code(run_csv: RunCsv) -> None:
    summary = run_csv(MIXED).summary

    assert summary.reasons == {
        "missing_required": 2,
        "bad_date": 1,
        "non_finite_number": 1,
        "wrong_field_count": 1,
        "bad_number": 1,
    }


def test_reason_counts_add_up_to_rejected(run_csv: RunCsv) -> None:
    summary = run_csv(MIXED).summary

    assert sum(summary.reasons.values()) == summary.rejected


def test_columns_are_the_trimmed_header_names(run_csv: RunCsv) -> None:
    summary = run_csv(b" id ,name,  Amount\n").summary

    assert summary.columns == ["id", "name", "Amount"]


def test_samples_are_the_first_valid_records_at_most_five(run_csv: RunCsv) -> None:
    data = b"id,name\n" + b"".join(b"%d,n%d\n" % (i, i) for i in range(20))

    summary = run_csv(data).summary

    assert len(summary.samples) == MAX_SAMPLES == 5
    assert [s["id"] for s in summary.samples] == ["0", "1", "2", "3", "4"]


def test_samples_are_normalized_records(run_csv: RunCsv) -> None:
    summary = run_csv(MIXED).summary

    assert summary.samples == [
        {"id": "1", "name": "Ana", "date": "2024-01-01", "amount": 1},
        {"id": "8", "name": "Hana", "date": "2024-01-02", "amount": 2.5},
    ]


def test_bytes_read_is_the_size_of_the_input(run_csv: RunCsv) -> None:
    summary = run_csv(MIXED).summary

    assert summary.bytes_read == len(MIXED)


def test_summary_json_has_the_counts_reasons_columns_and_samples(run_csv: RunCsv) -> None:
    data = json.loads(run_csv(MIXED).summary.to_json())

    assert data["rows"] == 8
    assert data["valid"] == 2
    assert data["rejected"] == 6
    assert data["reasons"]["missing_required"] == 2
    assert data["columns"] == ["id", "name", "date", "amount"]
    assert len(data["samples"]) == 2


def test_summary_json_stays_under_4kb_with_huge_values(run_csv: RunCsv, make_csv: MakeCsv) -> None:
    header = ["id", "name", *(f"note{i}" for i in range(10))]
    rows = [[str(i), "N" * 50_000, *("v" * 10_000 for _ in range(10))] for i in range(5)]

    summary = run_csv(make_csv(header, rows)).summary

    assert summary.valid == 5
    assert len(summary.to_json()) < MAX_SUMMARY_BYTES <= 4096


def test_summary_json_stays_under_4kb_with_many_long_columns(run_csv: RunCsv, make_csv: MakeCsv) -> None:
    header = ["id", "name", *(f"column_{i}_{'x' * 200}" for i in range(2000))]
    rows = [["1", "Ana", *("value" for _ in range(2000))]]

    summary = run_csv(make_csv(header, rows)).summary

    assert summary.valid == 1
    assert len(summary.to_json()) < 4096


def test_summary_json_stays_under_4kb_when_built_directly_from_big_parts() -> None:
    summary = Summary(
        rows=10**12,
        valid=10**12,
        rejected=0,
        reasons={f"reason_{i}": i for i in range(8)},
        columns=[f"c{i}" * 100 for i in range(500)],
        samples=[{f"c{i}" * 100: "v" * 10_000 for i in range(100)} for _ in range(5)],
    )

    assert len(summary.to_json()) < 4096


def test_summary_json_keeps_the_counts_when_it_trims(run_csv: RunCsv, make_csv: MakeCsv) -> None:
    header = ["id", "name", *(f"column_{i}_{'x' * 200}" for i in range(2000))]
    rows = [["1", "Ana", *("value" for _ in range(2000))], ["2", ""] + ["v"] * 2000]

    data = json.loads(run_csv(make_csv(header, rows)).summary.to_json())

    assert (data["rows"], data["valid"], data["rejected"]) == (2, 1, 1)
    assert data["reasons"] == {"missing_required": 1}
