"""Whole-file errors and the stable codes of row rejections."""

from __future__ import annotations


class FileError(Exception):
    """The whole file is refused: nothing in it can be trusted row by row."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


# File-level error codes.
EMPTY = "empty_file"
NO_HEADER = "no_header"
NOT_UTF8 = "not_utf8"
NOT_CSV = "not_csv"
DUPLICATE_HEADER = "duplicate_header"
EMPTY_HEADER = "empty_header_name"
MISSING_COLUMN = "missing_column"

# Row rejection codes: stable, machine-readable; the human text goes in `message`.
WRONG_FIELD_COUNT = "wrong_field_count"
MISSING_REQUIRED = "missing_required"
BAD_DATE = "bad_date"
BAD_NUMBER = "bad_number"
NON_FINITE = "non_finite_number"
FIELD_TOO_LARGE = "field_too_large"
NUL_BYTE = "nul_byte"
MALFORMED = "malformed_row"

ROW_REASONS = (
    WRONG_FIELD_COUNT,
    MISSING_REQUIRED,
    BAD_DATE,
    BAD_NUMBER,
    NON_FINITE,
    FIELD_TOO_LARGE,
    NUL_BYTE,
    MALFORMED,
)
