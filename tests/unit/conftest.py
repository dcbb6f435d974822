"""Helpers for the etl_core unit tests: run `process` on bytes and read both outputs back as JSON."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from etl_core import DEFAULT_SCHEMA, Schema, Summary, process


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"output contains the non-standard JSON constant {name}")


def _parse_jsonl(data: bytes) -> list[dict[str, Any]]:
    """Every line of `data` as strict JSON (NaN and Infinity are errors), one object a line."""
    if not data:
        return []
    assert data.endswith(b"\n"), "JSONL output must end with a newline"
    return [json.loads(line, parse_constant=_refuse_constant) for line in data[:-1].split(b"\n")]


@dataclass(frozen=True)
class Run:
    summary: Summary
    records: list[dict[str, Any]]
    rejects: list[dict[str, Any]]
    records_bytes: bytes
    rejects_bytes: bytes


def _run_csv(data: bytes | str, schema: Schema = DEFAULT_SCHEMA) -> Run:
    raw = data.encode() if isinstance(data, str) else data
    records, rejects = io.BytesIO(), io.BytesIO()
    summary = process(io.BytesIO(raw), records, rejects, schema)
    return Run(
        summary=summary,
        records=_parse_jsonl(records.getvalue()),
        rejects=_parse_jsonl(rejects.getvalue()),
        records_bytes=records.getvalue(),
        rejects_bytes=rejects.getvalue(),
    )


def _make_csv(header: Sequence[str], rows: Iterable[Sequence[str]] = (), newline: str = "\n") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=newline)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


@pytest.fixture(scope="session")
def parse_jsonl() -> Callable[[bytes], list[dict[str, Any]]]:
    """`parse_jsonl(data) -> list of objects`, refusing NaN and Infinity."""
    return _parse_jsonl


@pytest.fixture(scope="session")
def run_csv() -> Callable[..., Run]:
    """`run_csv(data, schema=DEFAULT_SCHEMA) -> Run`: process CSV bytes (or text, UTF-8 encoded)."""
    return _run_csv


@pytest.fixture(scope="session")
def make_csv() -> Callable[..., bytes]:
    """`make_csv(header, rows, newline="\\n") -> bytes`: a correctly quoted CSV file."""
    return _make_csv
