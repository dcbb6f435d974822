"""Strict number parsing: ASCII decimal or scientific notation, finite, returned as int or float."""

from __future__ import annotations

from typing import Final

from etl_core import errors as E

INT64_MAX: Final = (1 << 63) - 1
INT64_MIN: Final = -(1 << 63)


class NumberError(ValueError):
    """A value that is not a finite number; `code` is the rejection reason."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


# Every rejection raises a fresh NumberError: re-raising one shared instance chains each new traceback
# onto the old ones, which keeps every converter frame (and the row it held) alive for the whole run.


def parse_number(value: str) -> int | float:
    """Parse `value`; integers stay integers (within int64), everything else is a finite float."""
    if not value or not value.isascii() or "_" in value:
        raise NumberError(E.BAD_NUMBER)
    digits = value[1:] if value[0] in "+-" else value
    if digits.isdigit() and len(digits) <= 18:
        return int(value)
    try:
        number = float(value)
    except ValueError:
        raise NumberError(E.BAD_NUMBER) from None
    if number - number != 0.0:  # inf - inf and nan - nan are nan
        raise NumberError(E.NON_FINITE)
    if digits.isdigit():
        # Leading zeros do not count: they could push a small integer past int()'s digit limit.
        significant = digits.lstrip("0") or "0"
        if len(significant) <= 19:
            integer = -int(significant) if value[0] == "-" else int(significant)
            if INT64_MIN <= integer <= INT64_MAX:
                return integer
    return number
