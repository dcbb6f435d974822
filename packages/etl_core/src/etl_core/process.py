"""Stream a CSV into JSONL records and JSONL rejects in constant memory.

`process` reads a binary stream once, front to back. Every data row ends in exactly one of the two
outputs; a problem with the file as a whole raises `FileError` instead.
"""

from __future__ import annotations

import codecs
import csv
import io
from typing import Any, BinaryIO

import orjson

from etl_core import errors as E
from etl_core.dates import DateNormalizer
from etl_core.profile import Profiler
from etl_core.rowcode import compile_converter
from etl_core.rowcode import short as _short
from etl_core.schema import DEFAULT_SCHEMA, MAX_RAW_CHARS, MAX_SAMPLES, Schema
from etl_core.summary import Summary

_READ_SIZE = 1 << 18  # 256 KiB reads from the source
_FLUSH_ROWS = 64  # rows buffered before one write (orjson's buffers recycle best in small batches)
_SNIFF_BYTES = 1 << 16
_DUMPS = orjson.dumps
_NEWLINE = orjson.OPT_APPEND_NEWLINE


class _Source(io.RawIOBase):
    """Wraps any readable binary stream: replays the sniffed head, counts bytes, notices NUL bytes."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest
        self.bytes_read = len(head)
        self.saw_nul = b"\x00" in head

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            chunk, self._head = self._head[: len(buffer)], self._head[len(buffer) :]
        else:
            chunk = self._rest.read(len(buffer))
            if not chunk:
                return 0
            self.bytes_read += len(chunk)
            if not self.saw_nul and b"\x00" in chunk:
                self.saw_nul = True
        buffer[: len(chunk)] = chunk
        return len(chunk)


def process(
    source: BinaryIO,
    records_out: BinaryIO,
    rejects_out: BinaryIO,
    schema: Schema = DEFAULT_SCHEMA,
) -> Summary:
    """Validate and normalize `source` (CSV bytes) into `records_out` and `rejects_out` (JSONL bytes)."""
    head = _read_head(source)
    raw = _Source(head, source)
    text = io.TextIOWrapper(
        io.BufferedReader(raw, buffer_size=_READ_SIZE), encoding="utf-8-sig", errors="strict", newline=""
    )
    csv.field_size_limit(schema.max_field_chars)  # process-wide; the same for every schema in practice
    reader = csv.reader(text, strict=False)
    try:
        header = _read_header(reader, schema)
        summary = _rows(reader, header, raw, records_out, rejects_out, schema)
    except UnicodeDecodeError as exc:
        raise E.FileError(
            E.NOT_UTF8, f"file is not valid UTF-8 (first bad byte near line {reader.line_num + 1})"
        ) from exc
    finally:
        text.detach()  # never close the caller's stream
    summary.bytes_read = raw.bytes_read
    return summary


def _read_head(source: BinaryIO) -> bytes:
    head = source.read(_SNIFF_BYTES)
    if not head or head == codecs.BOM_UTF8:
        raise E.FileError(E.EMPTY, "file is empty")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError as exc:
        if b"\x00" in head:
            raise E.FileError(E.NOT_CSV, "file is binary, not CSV text") from exc
        raise E.FileError(E.NOT_UTF8, "file is not valid UTF-8 (it may be Latin-1 or UTF-16)") from exc
    return head


def _read_header(reader: Any, schema: Schema) -> list[str]:
    names = _first_row(reader)
    if names is not None:
        if any("\x00" in name for name in names):
            raise E.FileError(E.NOT_CSV, "header contains NUL bytes: this is not a CSV file")
        if not all(names):
            raise E.FileError(
                E.EMPTY_HEADER, f"header has an empty column name at position {names.index('') + 1}"
            )
        seen: dict[str, str] = {}
        for name in names:
            if name.lower() in seen:
                raise E.FileError(E.DUPLICATE_HEADER, f"duplicate column name in header: {name!r}")
            seen[name.lower()] = name
        missing = [c for c in schema.required if c.lower() not in seen]
        if missing:
            if len(names) == 1 or names[0].startswith(("{", "[")):  # plain text or a JSON document
                raise E.FileError(
                    E.NOT_CSV, f"no comma-separated header found (first line is {_short(names[0])!r})"
                )
            raise E.FileError(
                E.MISSING_COLUMN, f"required column(s) missing from header: {', '.join(missing)}"
            )
        return names
    raise E.FileError(E.NO_HEADER, "file has no header row")


def _first_row(reader: Any) -> list[str] | None:
    """The first row with any non-blank field, trimmed; None when there is none."""
    try:
        for row in reader:
            names = [name.strip() for name in row]
            if any(names):
                return names
    except csv.Error as exc:  # e.g. a field past the size limit: no header can be read at all
        raise E.FileError(E.NOT_CSV, f"first row cannot be parsed as CSV ({exc})") from exc
    return None


def _rows(
    reader: Any,
    header: list[str],
    raw: _Source,
    records_out: BinaryIO,
    rejects_out: BinaryIO,
    schema: Schema,
) -> Summary:
    keys = tuple(header)
    width = len(keys)
    index = {name.lower(): i for i, name in enumerate(keys)}
    dates = {index[c.lower()] for c in schema.dates if c.lower() in index}
    numbers = {index[c.lower()] for c in schema.numbers if c.lower() in index}
    profiler = Profiler(keys, dates, numbers)
    observe = profiler.observe
    convert = compile_converter(
        keys,
        required={index[c.lower()] for c in schema.required},
        dates=dates,
        numbers=numbers,
        normalize_date=DateNormalizer(schema.date_formats),
        include_line=schema.include_line,
    )
    summary = Summary(columns=list(keys))
    reasons = summary.reasons
    samples = summary.samples
    records: list[bytes] = []
    rejects: list[bytes] = []
    add_record = records.append
    valid = 0
    rejected = 0
    last_line = reader.line_num

    def reject(line: int, code: str, message: str, row: list[str] | None) -> None:
        nonlocal rejected
        rejected += 1
        reasons[code] = reasons.get(code, 0) + 1
        entry = {"line": line, "reason": code, "message": message, "raw": _raw(row)}
        rejects.append(_DUMPS(entry, option=_NEWLINE))
        if len(rejects) >= _FLUSH_ROWS:  # a file of nothing but rejects must not pile up in memory
            rejects_out.write(b"".join(rejects))
            rejects.clear()

    while True:
        try:
            for row in reader:
                line = last_line + 1
                last_line = reader.line_num
                if len(row) != width:
                    if not row:
                        continue  # blank line: not a data row
                    reject(line, E.WRONG_FIELD_COUNT, f"expected {width} fields, found {len(row)}", row)
                    continue
                if raw.saw_nul and any("\x00" in v for v in row):
                    reject(line, E.NUL_BYTE, "row contains a NUL byte", row)
                    continue
                record = convert(row, line)
                if record.__class__ is tuple:
                    reject(line, record[0], record[1], row)
                    continue
                add_record(_DUMPS(record, option=_NEWLINE))
                observe(record)
                valid += 1
                if valid <= MAX_SAMPLES:
                    samples.append(record)
                if len(records) >= _FLUSH_ROWS:
                    records_out.write(b"".join(records))
                    records.clear()
                    if rejects:
                        rejects_out.write(b"".join(rejects))
                        rejects.clear()
            break
        except csv.Error as exc:
            line = last_line + 1
            last_line = reader.line_num
            if "field larger than field limit" in str(exc):
                reject(
                    line,
                    E.FIELD_TOO_LARGE,
                    f"a field is longer than {schema.max_field_chars} characters",
                    None,
                )
            else:
                reject(line, E.MALFORMED, f"row cannot be parsed as CSV: {exc}", None)

    if records:
        records_out.write(b"".join(records))
    if rejects:
        rejects_out.write(b"".join(rejects))
    summary.valid = valid
    summary.rejected = rejected
    summary.rows = valid + rejected
    summary.profile = profiler.to_dict()
    return summary


def _raw(row: list[str] | None) -> str:
    if row is None:
        return ""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(row)
    text = buffer.getvalue()
    return text if len(text) <= MAX_RAW_CHARS else text[:MAX_RAW_CHARS] + "…"
