"""Custom schemas: other required, date and numeric columns; names matched case-insensitively."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from etl_core import DEFAULT_SCHEMA, FileError, Schema

RunCsv = Callable[..., Any]

ORDERS = Schema(required=("order_id", "sku"), dates=("shipped_on",), numbers=("qty", "unit_cost"))


def test_default_schema_requires_id_and_name() -> None:
    assert DEFAULT_SCHEMA.required == ("id", "name")
    assert DEFAULT_SCHEMA.dates == ("date",)
    assert DEFAULT_SCHEMA.numbers == ("amount", "quantity", "price")


def test_custom_schema_applies_its_own_column_rules(run_csv: RunCsv) -> None:
    data = b"order_id,sku,shipped_on,qty,unit_cost,amount\nA1,SKU-9,07-03-2024,3,1.25,not checked\n"

    result = run_csv(data, ORDERS)

    assert result.records == [
        {
            "order_id": "A1",
            "sku": "SKU-9",
            "shipped_on": "2024-03-07",
            "qty": 3,
            "unit_cost": 1.25,
            "amount": "not checked",
        }
    ]


def test_custom_schema_does_not_require_the_default_columns(run_csv: RunCsv) -> None:
    result = run_csv(b"order_id,sku\nA1,S\n", ORDERS)

    assert result.summary.valid == 1


def test_custom_schema_rejects_by_its_own_required_columns(run_csv: RunCsv) -> None:
    result = run_csv(b"order_id,sku,name\nA1,,Ana\n", ORDERS)

    assert [r["reason"] for r in result.rejects] == ["missing_required"]


def test_custom_schema_missing_its_required_column_is_refused(run_csv: RunCsv) -> None:
    with pytest.raises(FileError) as caught:
        run_csv(b"order_id,name\nA1,Ana\n", ORDERS)

    assert caught.value.code == "missing_column"
    assert "sku" in caught.value.message


def test_header_names_match_schema_names_case_insensitively(run_csv: RunCsv) -> None:
    data = b"Order_ID, SKU ,Shipped_On,QTY\nA1,S,2024/01/31,7\n"

    result = run_csv(data, ORDERS)

    assert result.records == [{"Order_ID": "A1", "SKU": "S", "Shipped_On": "2024-01-31", "QTY": 7}]


def test_schema_names_match_header_names_case_insensitively(run_csv: RunCsv) -> None:
    schema = Schema(required=("ID", "Name"), dates=("DATE",), numbers=("Amount",))

    result = run_csv(b"id,name,date,amount\n1,Ana,2024-01-31,x\n", schema)

    assert [r["reason"] for r in result.rejects] == ["bad_number"]


def test_optional_date_and_numeric_columns_may_be_absent_from_the_header(run_csv: RunCsv) -> None:
    result = run_csv(b"id,name\n1,Ana\n")

    assert result.records == [{"id": "1", "name": "Ana"}]


def test_custom_date_formats_replace_the_default_ones(run_csv: RunCsv) -> None:
    schema = Schema(date_formats=("%d.%m.%Y",))

    result = run_csv(b"id,name,date\n1,Ana,07.03.2024\n2,Bo,2024-03-07\n", schema)

    assert result.records == [{"id": "1", "name": "Ana", "date": "2024-03-07"}]
    assert [(r["line"], r["reason"]) for r in result.rejects] == [(3, "bad_date")]


def test_a_column_cannot_be_both_date_and_numeric() -> None:
    with pytest.raises(ValueError, match="both date and numeric"):
        Schema(dates=("when",), numbers=("when", "qty"))


def test_date_and_numeric_overlap_is_detected_regardless_of_case() -> None:
    with pytest.raises(ValueError, match="both date and numeric"):
        Schema(dates=("When",), numbers=("WHEN",))


@pytest.mark.parametrize("limit", [0, -1])
def test_max_field_chars_must_be_positive(limit: int) -> None:
    with pytest.raises(ValueError, match="max_field_chars"):
        Schema(max_field_chars=limit)


def test_schema_is_immutable() -> None:
    with pytest.raises(AttributeError):
        DEFAULT_SCHEMA.required = ("x",)  # type: ignore[misc]
