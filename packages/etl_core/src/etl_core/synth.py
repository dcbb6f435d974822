"""Deterministic synthetic CSV files with realistic mess, for benchmarks, tests and demos."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta
from functools import cache
from typing import BinaryIO

COLUMNS = ("id", "name", "email", "date", "amount", "quantity", "price")
_FIRST = ("Ana", "Bo", "Chen", "Dee", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lea", "Mo", "Noor")
_LAST = ("Smith", "Ng", "Okafor", "Silva", "Kowalski", "Haddad", "Ito", "Moreau", "Berg", "Costa")
_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%d-%m-%Y", "%Y/%m/%d")

# Each kind of messy row etl_core rejects, with how to damage a clean row into it.
MESS_KINDS = (
    "missing_name",
    "blank_name",
    "bad_date",
    "impossible_date",
    "bad_amount",
    "nan_amount",
    "inf_price",
    "too_few_fields",
    "too_many_fields",
)


@cache
def _date_strings() -> tuple[tuple[str, ...], ...]:
    """Two years of days, each written in every accepted format (made once: strftime is slow)."""
    base = date(2024, 1, 1)
    days = [base + timedelta(days=i) for i in range(730)]
    return tuple(tuple(d.strftime(f) for f in _FORMATS) for d in days)


def rows(count: int, bad_ratio: float = 0.02, seed: int = 7, start_id: int = 1) -> Iterator[list[str]]:
    """Yield `count` data rows (no header); about `bad_ratio` of them damaged, each kind in turn."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not security
    dates = _date_strings()
    bad_every = int(1 / bad_ratio) if bad_ratio > 0 else 0
    kinds = len(MESS_KINDS)
    for n in range(count):
        i = start_id + n
        first = _FIRST[i % len(_FIRST)]
        last = _LAST[(i // 7) % len(_LAST)]
        row = [
            str(i),
            f"{first} {last}",
            f"{first.lower()}.{last.lower()}{i % 97}@example.com",
            dates[rng.randrange(730)][i & 3],
            f"{rng.randrange(1, 100000) / 100:.2f}",
            str(rng.randrange(1, 50)),
            f"{rng.randrange(100, 99999) / 100:.2f}",
        ]
        if bad_every and n % bad_every == bad_every - 1:
            _damage(row, MESS_KINDS[(n // bad_every) % kinds])
        yield row


def _damage(row: list[str], kind: str) -> None:
    if kind == "missing_name":
        row[1] = ""
    elif kind == "blank_name":
        row[1] = "   "
    elif kind == "bad_date":
        row[3] = "next tuesday"
    elif kind == "impossible_date":
        row[3] = "2025-02-30"
    elif kind == "bad_amount":
        row[4] = "12,34"
    elif kind == "nan_amount":
        row[4] = "nan"
    elif kind == "inf_price":
        row[6] = "inf"
    elif kind == "too_few_fields":
        del row[5:]
    elif kind == "too_many_fields":
        row.append("extra")


def _quote(value: str) -> str:
    if any(c in value for c in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value


def write_csv(out: BinaryIO, count: int, bad_ratio: float = 0.02, seed: int = 7) -> int:
    """Write a header and `count` rows to `out`; return the bytes written."""
    written = out.write((",".join(COLUMNS) + "\n").encode())
    batch: list[str] = []
    for row in rows(count, bad_ratio, seed):
        batch.append(",".join(_quote(v) for v in row))
        if len(batch) == 10000:
            written += out.write(("\n".join(batch) + "\n").encode())
            batch.clear()
    if batch:
        written += out.write(("\n".join(batch) + "\n").encode())
    return written
