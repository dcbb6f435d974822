"""Strict number parsing: ASCII decimal or scientific notation, finite, returned as int or float."""

from __future__ import annotations

from typing import Final

INT64_MAX: Final = (1 << 63) - 1


class NumberError(ValueError):
    """A value that is not a finite number; `code` is the rejection reason."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


BAD: Final = NumberError("bad_number")
NON_FINITE: Final = NumberError("non_finite_number")


def parse_number(value: str) -> int | float:
    """Parse `value`; integers stay integers (within int64), everything else is a finite float."""
    if not value or not value.isascii() or "_" in value:
        raise BAD
    digits = value[1:] if value[0] in "+-" else value
    if digits.isdigit() and len(digits) <= 18:
        return int(value)
    try:
        number = float(value)
    except ValueError:
        raise BAD from None
    if number - number != 0.0:  # inf - inf and nan - nan are nan
        raise NON_FINITE
    if digits.isdigit() and abs(number) <= INT64_MAX:
        return int(value)
    return number
