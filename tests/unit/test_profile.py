"""The per-column profile built in the transform's one pass, and the diff of two profiles."""

from __future__ import annotations

import io
import math
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from etl_core import process
from etl_core.profile import (
    MAX_NAME_CHARS,
    MAX_PROFILE_BYTES,
    MAX_PROFILE_COLUMNS,
    describe_changes,
    diff_profiles,
)
from tests.unit.test_properties import PROPERTY_SETTINGS, as_csv, valid_row


def profile_of(data: bytes) -> dict[str, Any]:
    return process(io.BytesIO(data), io.BytesIO(), io.BytesIO()).profile


FIRST = (
    b"id,name,date,amount,note\n"
    b"1,a,2024-01-03,10,x\n"
    b"2,b,01/01/2024,20,\n"
    b"3,c,,30.5,y\n"
    b"4,,2024-01-02,1,z\n"  # rejected: name is required, so not profiled
)
SECOND = (
    b"id,name,date,amount,note,region\n"
    b"1,a,2024-01-03,10,x,eu\n"
    b"2,b,2024-01-01,20,,us\n"
    b"3,c,2024-02-10,40,y,eu\n"
    b"4,d,2024-01-05,,y,eu\n"
    b"5,e,2024-01-06,50,,eu\n"
)


def test_profile_counts_valid_records_null_rates_numbers_and_date_range() -> None:
    profile = profile_of(FIRST)

    assert profile["records"] == 3
    assert list(profile["columns"]) == ["id", "name", "date", "amount", "note"]
    assert profile["columns"]["note"]["null_rate"] == round(1 / 3, 4)
    assert profile["columns"]["date"]["null_rate"] == round(1 / 3, 4)
    amount = profile["columns"]["amount"]
    assert (amount["min"], amount["max"], amount["mean"]) == (10, 30.5, 20.1667)
    assert profile["dates"] == {"date": ["2024-01-01", "2024-01-03"]}


def test_a_column_of_numbers_outside_the_schema_is_profiled_as_numeric_and_text_is_not() -> None:
    columns = profile_of(FIRST)["columns"]

    assert (columns["id"]["min"], columns["id"]["max"], columns["id"]["mean"]) == (1, 3, 2)
    assert "mean" not in columns["name"]
    assert "mean" not in columns["date"]


def test_one_non_number_makes_an_untyped_column_non_numeric() -> None:
    columns = profile_of(b"id,name,code\n1,a,5\n2,b,x7\n3,c,9\n")["columns"]

    assert "min" not in columns["code"]


def test_file_with_only_rejected_rows_has_an_empty_profile() -> None:
    profile = profile_of(b"id,name,date\n1,,2024-01-01\n")

    assert profile["records"] == 0
    assert profile["columns"]["id"] == {"null_rate": 0.0}
    assert profile["dates"] == {}


def test_profile_of_a_very_wide_file_with_long_names_stays_under_its_bound() -> None:
    names = [f"{'n' * 500}{i}" for i in range(400)]
    header = ",".join(["id", "name", *names]).encode()
    row = ",".join(["1", "a", *("-1.2345678901e300" for _ in names)]).encode()
    profile = profile_of(header + b"\n" + row + b"\n" + row + b"\n")

    assert len(profile["columns"]) == MAX_PROFILE_COLUMNS
    assert profile["columns_total"] == 402
    assert all(len(name) <= MAX_NAME_CHARS for name in profile["columns"])
    assert f"{'n' * 56}…#32" in profile["columns"]  # cut names stay distinct
    assert len(orjson.dumps(profile)) < MAX_PROFILE_BYTES


def test_diff_of_two_wide_profiles_stays_under_the_bound() -> None:
    names = [f"{'c' * 200}{i}" for i in range(100)]
    header = ",".join(["id", "name", "date", *names]).encode()
    before = profile_of(header + b"\n" + ",".join(["1", "a", "2024-01-01", *("1" for _ in names)]).encode())
    after = profile_of(
        header + b"\n" + ",".join(["1", "a", "2025-01-01", *("-9.87e300" for _ in names)]).encode()
    )

    diff = diff_profiles(before, after)

    assert len(diff["numbers"]) == MAX_PROFILE_COLUMNS - 3  # every profiled numeric column shifted
    assert len(orjson.dumps(diff)) < MAX_PROFILE_BYTES


def test_diff_reports_record_delta_added_column_shifts_and_date_ranges() -> None:
    diff = diff_profiles(profile_of(FIRST), profile_of(SECOND))

    assert diff["first"] is False
    assert diff["records"] == {"before": 3, "after": 5, "delta": 2}
    assert diff["columns_added"] == ["region"]
    assert diff["columns_removed"] == []
    assert diff["null_rate"]["date"] == [round(1 / 3, 4), 0.0]
    assert diff["numbers"]["amount"]["max"] == [30.5, 50]
    assert diff["dates"]["date"] == {
        "before": ["2024-01-01", "2024-01-03"],
        "after": ["2024-01-01", "2024-02-10"],
    }


def test_diff_reports_a_removed_column() -> None:
    diff = diff_profiles(profile_of(SECOND), profile_of(FIRST))

    assert diff["columns_removed"] == ["region"]
    assert diff["records"]["delta"] == -2


def test_first_publication_says_so_with_its_date_range() -> None:
    diff = diff_profiles(None, profile_of(FIRST))

    assert diff["first"] is True
    assert diff["records"] == {"after": 3}
    assert describe_changes(diff)[0] == "First publication of this dataset: 3 records."
    assert "2024-01-01 to 2024-01-03" in describe_changes(diff)[1]


def test_description_names_delta_added_column_and_range_and_is_capped() -> None:
    lines = describe_changes(diff_profiles(profile_of(FIRST), profile_of(SECOND)), limit=4)

    assert lines[0] == "Records: 3 → 5 (+2)"
    assert lines[1] == "Columns added: region"
    assert lines[2] == "Date range of date: 2024-01-01 to 2024-01-03 → 2024-01-01 to 2024-02-10"
    assert len(lines) == 4
    assert lines[3].startswith("… and ")


def test_identical_files_show_no_shift() -> None:
    diff = diff_profiles(profile_of(SECOND), profile_of(SECOND))

    assert diff["records"]["delta"] == 0
    assert diff["columns_added"] == diff["columns_removed"] == []
    assert diff["null_rate"] == {}
    assert diff["numbers"] == {}


@PROPERTY_SETTINGS
@given(st.lists(valid_row(), max_size=30))
def test_profile_matches_the_records_written(rows: list[tuple[list[str], dict[str, Any]]]) -> None:
    data = as_csv([written for written, _ in rows], "\n")
    expected = [record for _, record in rows]

    profile = profile_of(data)

    assert profile["records"] == len(expected)
    for column in ("date", "amount", "note"):
        nulls = sum(1 for r in expected if r[column] in (None, ""))
        assert profile["columns"][column]["null_rate"] == (
            round(nulls / len(expected), 4) if expected else 0.0
        )
    amounts = [r["amount"] for r in expected if r["amount"] is not None]
    if amounts and math.isfinite(sum(amounts)) and "min" in profile["columns"]["amount"]:
        assert profile["columns"]["amount"]["min"] == float(f"{min(amounts):.6g}")
        assert profile["columns"]["amount"]["max"] == float(f"{max(amounts):.6g}")
    dates = sorted(r["date"] for r in expected if r["date"])
    assert profile["dates"].get("date") == ([dates[0], dates[-1]] if dates else None)
    assert len(orjson.dumps(profile)) < MAX_PROFILE_BYTES
    assert diff_profiles(profile, profile)["numbers"] == {}
