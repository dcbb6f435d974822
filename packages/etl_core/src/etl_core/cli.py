"""Dry-run a file before uploading it: `python -m etl_core INPUT.csv --records OUT --rejects OUT`."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from etl_core.errors import FileError
from etl_core.process import process
from etl_core.schema import DEFAULT_SCHEMA, Schema


def _columns(value: str) -> tuple[str, ...]:
    return tuple(c.strip() for c in value.split(",") if c.strip())


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m etl_core", description=__doc__)
    p.add_argument("input", type=Path, help="CSV file to check")
    p.add_argument("--records", type=Path, help="where to write valid records (JSONL)")
    p.add_argument("--rejects", type=Path, help="where to write rejected rows (JSONL)")
    p.add_argument("--required", type=_columns, default=DEFAULT_SCHEMA.required, help="comma-separated")
    p.add_argument("--dates", type=_columns, default=DEFAULT_SCHEMA.dates, help="comma-separated")
    p.add_argument("--numbers", type=_columns, default=DEFAULT_SCHEMA.numbers, help="comma-separated")
    p.add_argument("--line", action="store_true", help="add `_line` (source line) to each record")
    return p


@contextlib.contextmanager
def _atomic(path: Path | None) -> Iterator[BinaryIO]:
    """A file written whole or not at all: a temp file beside `path`, renamed into place on success."""
    if path is None:
        with open(os.devnull, "wb") as sink:
            yield sink
        return
    fd, tmp = tempfile.mkstemp(dir=path.parent or Path("."), prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        schema = Schema(
            required=args.required, dates=args.dates, numbers=args.numbers, include_line=args.line
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        with (
            open(args.input, "rb") as source,
            _atomic(args.records) as records,
            _atomic(args.rejects) as rejects,
        ):
            summary = process(source, records, rejects, schema)
    except FileError as exc:
        print(f"error: {args.input}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc.filename or args.input}: {exc.strerror}", file=sys.stderr)
        return 2
    sys.stdout.buffer.write(summary.to_json() + b"\n")
    return 0
