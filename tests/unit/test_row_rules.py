"""Each row rule of the default schema, one behaviour per test.

Default schema: `id` and `name` required; `date` a date column; `amount`, `quantity`, `price` numeric;
every other column a string.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

OneRow = Callable[..., Any]


@pytest.fixture
def one_row(run_csv: Callable[..., Any], make_csv: Callable[..., bytes]) -> OneRow:
    """Process a file of one data row: `id=1`, `name=Ana` unless overridden, plus the given columns."""

    def run(**values: str) -> Any:
        fields = {"id": "1", "name": "Ana", **values}
        return run_csv(make_csv(list(fields), [list(fields.values())]))

    return run


def record_of(result: Any) -> dict[str, Any]:
    assert result.rejects == [], result.rejects
    assert len(result.records) == 1
    return result.records[0]


def reason_of(result: Any) -> str:
    assert result.records == [], result.records
    assert len(result.rejects) == 1
    return result.rejects[0]["reason"]


# --- trimming and required values --------------------------------------------------------------------


def test_values_are_trimmed_of_surrounding_whitespace(one_row: OneRow) -> None:
    record = record_of(one_row(id="  7 ", name="\tAna Silva  ", email=" ana@example.com "))

    assert record == {"id": "7", "name": "Ana Silva", "email": "ana@example.com"}


def test_whitespace_inside_a_value_is_kept(one_row: OneRow) -> None:
    record = record_of(one_row(name="Ana   Maria  Silva"))

    assert record["name"] == "Ana   Maria  Silva"


def test_empty_required_value_rejects_the_row(one_row: OneRow) -> None:
    result = one_row(name="")

    assert reason_of(result) == "missing_required"


@pytest.mark.parametrize("blank", [" ", "   ", "\t", " \t  "])
def test_whitespace_only_required_value_counts_as_missing(one_row: OneRow, blank: str) -> None:
    result = one_row(id=blank)

    assert reason_of(result) == "missing_required"


def test_missing_required_message_names_the_column(one_row: OneRow) -> None:
    result = one_row(name="  ")

    assert "name" in result.rejects[0]["message"]


# --- dates -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("written", ["2024-03-07", "03/07/2024", "07-03-2024", "2024/03/07"])
def test_each_accepted_date_format_is_written_iso(one_row: OneRow, written: str) -> None:
    record = record_of(one_row(date=written))

    assert record["date"] == "2024-03-07"


def test_date_is_trimmed_before_parsing(one_row: OneRow) -> None:
    record = record_of(one_row(date="  2024/12/31 "))

    assert record["date"] == "2024-12-31"


@pytest.mark.parametrize("impossible", ["2025-02-30", "02/30/2025", "30-02-2025", "2025/02/30"])
def test_impossible_date_is_rejected_not_passed_through(one_row: OneRow, impossible: str) -> None:
    result = one_row(date=impossible)

    assert reason_of(result) == "bad_date"


@pytest.mark.parametrize("impossible", ["2024-13-01", "2024-00-10", "2024-04-31", "2024-01-00"])
def test_month_and_day_out_of_range_are_rejected(one_row: OneRow, impossible: str) -> None:
    result = one_row(date=impossible)

    assert reason_of(result) == "bad_date"


def test_leap_day_in_a_leap_year_is_accepted(one_row: OneRow) -> None:
    record = record_of(one_row(date="2024-02-29"))

    assert record["date"] == "2024-02-29"


def test_leap_day_in_a_common_year_is_rejected(one_row: OneRow) -> None:
    result = one_row(date="2023-02-29")

    assert reason_of(result) == "bad_date"


@pytest.mark.parametrize(
    "text", ["next tuesday", "2024-03-07T10:00", "7 March 2024", "20240307", "2024.03.07"]
)
def test_text_that_is_not_an_accepted_format_is_a_bad_date(one_row: OneRow, text: str) -> None:
    result = one_row(date=text)

    assert reason_of(result) == "bad_date"


def test_bad_date_message_names_the_column_and_the_value(one_row: OneRow) -> None:
    result = one_row(date="2025-02-30")

    message = result.rejects[0]["message"]
    assert "date" in message
    assert "2025-02-30" in message


@pytest.mark.parametrize("empty", ["", "   "])
def test_empty_optional_date_becomes_null(one_row: OneRow, empty: str) -> None:
    record = record_of(one_row(date=empty))

    assert record["date"] is None


# --- numbers -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "non_finite", ["nan", "NaN", "-nan", "inf", "-inf", "Infinity", "-Infinity", "1e400", "-1e400"]
)
def test_non_finite_number_is_rejected(one_row: OneRow, non_finite: str) -> None:
    result = one_row(amount=non_finite)

    assert reason_of(result) == "non_finite_number"


@pytest.mark.parametrize(
    "not_a_number",
    [
        "1_000",  # Python literal separators
        "1_000.5",
        "12,34",  # decimal comma
        "1,000",
        "0x10",  # hex
        "0b101",
        "١٢٣",  # Arabic-Indic digits
        "１２",  # fullwidth digits
        "12.5\u0663",
        "12abc",
        "1.2.3",
        "$5",
        "--5",
        "1e",
        "e3",
        ".",
        "-",
    ],
)
def test_anything_but_an_ascii_decimal_number_is_a_bad_number(one_row: OneRow, not_a_number: str) -> None:
    result = one_row(amount=not_a_number)

    assert reason_of(result) == "bad_number"


def test_scientific_notation_is_accepted_as_float(one_row: OneRow) -> None:
    amount = record_of(one_row(amount="1e3"))["amount"]

    assert amount == 1000.0
    assert type(amount) is float


def test_decimal_is_a_float_without_trailing_zeros(one_row: OneRow) -> None:
    amount = record_of(one_row(amount="12.50"))["amount"]

    assert amount == 12.5
    assert type(amount) is float


@pytest.mark.parametrize(("written", "expected"), [("3", 3), ("-5", -5), ("+7", 7), ("0", 0), (" 42 ", 42)])
def test_whole_number_stays_an_integer(one_row: OneRow, written: str, expected: int) -> None:
    quantity = record_of(one_row(quantity=written))["quantity"]

    assert quantity == expected
    assert type(quantity) is int


@pytest.mark.parametrize("bound", ["9223372036854775807", "-9223372036854775808"])
def test_integers_at_the_int64_bounds_stay_integers(one_row: OneRow, bound: str) -> None:
    quantity = record_of(one_row(quantity=bound))["quantity"]

    assert quantity == int(bound)
    assert type(quantity) is int


def test_integer_beyond_int64_becomes_a_float(one_row: OneRow) -> None:
    quantity = record_of(one_row(quantity="9223372036854775808"))["quantity"]

    assert quantity == 9223372036854775808.0
    assert type(quantity) is float


def test_integer_with_thousands_of_leading_zeros_is_parsed(one_row: OneRow) -> None:
    quantity = record_of(one_row(quantity="0" * 5000 + "42"))["quantity"]

    assert quantity == 42
    assert type(quantity) is int


@pytest.mark.parametrize(("written", "expected"), [(".5", 0.5), ("-0.25", -0.25), ("2.5E-3", 0.0025)])
def test_other_decimal_shapes_are_floats(one_row: OneRow, written: str, expected: float) -> None:
    price = record_of(one_row(price=written))["price"]

    assert price == expected


@pytest.mark.parametrize("empty", ["", "  "])
def test_empty_optional_number_becomes_null(one_row: OneRow, empty: str) -> None:
    record = record_of(one_row(amount=empty))

    assert record["amount"] is None


def test_bad_number_message_names_the_column_and_the_value(one_row: OneRow) -> None:
    result = one_row(price="12,34")

    message = result.rejects[0]["message"]
    assert "price" in message
    assert "12,34" in message


# --- strings -----------------------------------------------------------------------------------------


def test_string_columns_keep_numeric_and_date_looking_text_as_strings(one_row: OneRow) -> None:
    record = record_of(one_row(id="007", code="12.50", note="03/07/2024"))

    assert record == {"id": "007", "name": "Ana", "code": "12.50", "note": "03/07/2024"}


def test_empty_optional_string_stays_an_empty_string(one_row: OneRow) -> None:
    record = record_of(one_row(email="   "))

    assert record["email"] == ""


def test_unicode_text_is_kept_as_is(one_row: OneRow) -> None:
    record = record_of(one_row(name="Zoë Ōtsuka 東京 🚀"))

    assert record["name"] == "Zoë Ōtsuka 東京 🚀"
