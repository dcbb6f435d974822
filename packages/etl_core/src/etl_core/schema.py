"""What a file must look like: required, date and numeric columns, and the limits that keep memory bounded."""

from __future__ import annotations

from dataclasses import dataclass

DATE_FORMATS: tuple[str, ...] = ("%Y-%m-%d", "%m/%d/%Y", "%d-%m-%Y", "%Y/%m/%d")

# A field longer than this (in characters) rejects its row; the csv module is configured to read up to it.
MAX_FIELD_CHARS = 1024 * 1024
# The `raw` text kept for a rejected row.
MAX_RAW_CHARS = 512
# Sample values in the summary are cut to this many characters so the summary stays small.
MAX_SAMPLE_VALUE_CHARS = 80
MAX_SAMPLES = 5


@dataclass(frozen=True, slots=True)
class Schema:
    """Column rules. Names match header names case-insensitively after trimming."""

    required: tuple[str, ...] = ("id", "name")
    dates: tuple[str, ...] = ("date",)
    numbers: tuple[str, ...] = ("amount", "quantity", "price")
    date_formats: tuple[str, ...] = DATE_FORMATS
    include_line: bool = False
    max_field_chars: int = MAX_FIELD_CHARS

    def __post_init__(self) -> None:
        overlap = {c.lower() for c in self.dates} & {c.lower() for c in self.numbers}
        if overlap:
            raise ValueError(f"columns cannot be both date and numeric: {sorted(overlap)}")
        if self.max_field_chars < 1:
            raise ValueError("max_field_chars must be positive")


DEFAULT_SCHEMA = Schema()
