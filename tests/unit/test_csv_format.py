"""How the bytes of a file are read: line endings, quoting, ragged rows, encodings, NUL bytes, field sizes."""

from __future__ import annotations

import codecs
import random
from collections.abc import Callable
from typing import Any

import pytest

from etl_core import FileError, Schema
from etl_core.schema import MAX_FIELD_CHARS

RunCsv = Callable[..., Any]
MakeCsv = Callable[..., bytes]
CSV_DEFAULT_FIELD_LIMIT = 131072  # what Python's csv module accepts unless told otherwise


def test_crlf_line_endings_are_read_like_lf(run_csv: RunCsv) -> None:
    result = run_csv(b"id,name,amount\r\n1,Ana,3\r\n2,Bo,4\r\n")

    assert result.records == [
        {"id": "1", "name": "Ana", "amount": 3},
        {"id": "2", "name": "Bo", "amount": 4},
    ]


def test_crlf_does_not_leave_a_carriage_return_in_the_last_field(run_csv: RunCsv) -> None:
    result = run_csv(b"id,name,note\r\n1,Ana,hello\r\n")

    assert result.records[0]["note"] == "hello"


def test_quoted_field_keeps_newlines_commas_and_doubled_quotes(run_csv: RunCsv) -> None:
    result = run_csv(b'id,name,note\n1,Ana,"line one,\nshe said ""hi"""\n')

    assert result.records == [{"id": "1", "name": "Ana", "note": 'line one,\nshe said "hi"'}]


def test_last_row_without_a_trailing_newline_is_read(run_csv: RunCsv) -> None:
    result = run_csv(b"id,name\n1,Ana\n2,Bo")

    assert [r["id"] for r in result.records] == ["1", "2"]


def test_row_with_too_few_fields_is_rejected(run_csv: RunCsv) -> None:
    result = run_csv(b"id,name,amount\n1,Ana\n")

    assert [r["reason"] for r in result.rejects] == ["wrong_field_count"]
    assert result.records == []


def test_row_with_too_many_fields_is_rejected(run_csv: RunCsv) -> None:
    result = run_csv(b"id,name,amount\n1,Ana,3,extra\n")

    assert [r["reason"] for r in result.rejects] == ["wrong_field_count"]
    assert result.records == []


def test_ragged_row_does_not_affect_its_neighbours(run_csv: RunCsv) -> None:
    result = run_csv(b"id,name\n1,Ana\n2\n3,Cy\n")

    assert [r["id"] for r in result.records] == ["1", "3"]
    assert result.summary.rejected == 1


def test_blank_lines_are_skipped_not_counted(run_csv: RunCsv) -> None:
    result = run_csv(b"\n\nid,name\n\n1,Ana\n\r\n\n2,Bo\n\n")

    assert [r["id"] for r in result.records] == ["1", "2"]
    assert result.summary.rows == 2
    assert result.rejects == []


def test_utf8_bom_is_stripped_from_the_first_column_name(run_csv: RunCsv) -> None:
    result = run_csv(codecs.BOM_UTF8 + b"id,name\n1,Ana\n")

    assert result.summary.columns == ["id", "name"]
    assert result.records == [{"id": "1", "name": "Ana"}]


def test_latin1_bytes_are_refused_as_not_utf8(run_csv: RunCsv) -> None:
    data = "id,name\n1,José\n".encode("latin-1")

    with pytest.raises(FileError) as caught:
        run_csv(data)

    assert caught.value.code == "not_utf8"


def test_latin1_bytes_far_into_the_file_are_still_refused_as_not_utf8(run_csv: RunCsv) -> None:
    data = b"id,name\n" + b"1,Ana\n" * 50_000 + "2,José\n".encode("latin-1")

    with pytest.raises(FileError) as caught:
        run_csv(data)

    assert caught.value.code == "not_utf8"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_is_refused(run_csv: RunCsv, encoding: str) -> None:
    data = "id,name\r\n1,Ana\r\n".encode(encoding)

    with pytest.raises(FileError) as caught:
        run_csv(data)

    assert caught.value.code in {"not_utf8", "not_csv"}


def test_nul_byte_inside_a_row_rejects_only_that_row(run_csv: RunCsv) -> None:
    result = run_csv(b"id,name\n1,Ana\n2,B\x00o\n3,Cy\n")

    assert [r["id"] for r in result.records] == ["1", "3"]
    assert [(r["line"], r["reason"]) for r in result.rejects] == [(3, "nul_byte")]


def test_binary_garbage_is_a_file_error(run_csv: RunCsv) -> None:
    garbage = random.Random(0).randbytes(4096)

    with pytest.raises(FileError) as caught:
        run_csv(garbage)

    assert caught.value.code in {"not_utf8", "not_csv"}


def test_field_longer_than_the_csv_module_default_limit_is_accepted(run_csv: RunCsv) -> None:
    long_note = "x" * (CSV_DEFAULT_FIELD_LIMIT * 2)
    assert len(long_note) < MAX_FIELD_CHARS

    result = run_csv(f"id,name,note\n1,Ana,{long_note}\n")

    assert result.records == [{"id": "1", "name": "Ana", "note": long_note}]


def test_field_above_max_field_chars_rejects_its_row_and_later_rows_still_count(run_csv: RunCsv) -> None:
    huge = "x" * (MAX_FIELD_CHARS + 1)

    result = run_csv(f"id,name,note\n1,Ana,a\n2,Bo,{huge}\n3,Cy,c\n")

    assert [r["id"] for r in result.records] == ["1", "3"]
    assert [(r["line"], r["reason"]) for r in result.rejects] == [(3, "field_too_large")]


def test_field_of_exactly_max_field_chars_is_accepted(run_csv: RunCsv) -> None:
    schema = Schema(max_field_chars=1000)

    result = run_csv(f"id,name\n1,{'n' * 1000}\n", schema)

    assert result.summary.valid == 1


def test_field_one_over_a_custom_max_field_chars_is_rejected(run_csv: RunCsv) -> None:
    schema = Schema(max_field_chars=1000)

    result = run_csv(f"id,name\n1,{'n' * 1001}\n2,Bo\n", schema)

    assert [r["reason"] for r in result.rejects] == ["field_too_large"]
    assert [r["id"] for r in result.records] == ["2"]
