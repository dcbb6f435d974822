"""Files refused as a whole: a FileError with a stable code, and no row processed."""

from __future__ import annotations

import codecs
import io
import json
from collections.abc import Callable
from typing import Any

import pytest

from etl_core import FileError, process
from etl_core.schema import MAX_FIELD_CHARS

RunCsv = Callable[..., Any]


def file_error_code(run_csv: RunCsv, data: bytes | str) -> str:
    with pytest.raises(FileError) as caught:
        run_csv(data)
    return caught.value.code


def test_empty_file_is_refused_as_empty_file(run_csv: RunCsv) -> None:
    assert file_error_code(run_csv, b"") == "empty_file"


def test_bom_only_file_is_refused_as_empty_file(run_csv: RunCsv) -> None:
    assert file_error_code(run_csv, codecs.BOM_UTF8) == "empty_file"


def test_header_only_file_is_accepted_with_zero_rows(run_csv: RunCsv) -> None:
    result = run_csv(b"id,name,amount\n")

    assert (result.summary.rows, result.summary.valid, result.summary.rejected) == (0, 0, 0)
    assert result.summary.columns == ["id", "name", "amount"]
    assert result.records_bytes == b""
    assert result.rejects_bytes == b""


@pytest.mark.parametrize(
    "blank", [b"\n", b"\n\n\n", b"   \n\t\n  ", b"\r\n \r\n", codecs.BOM_UTF8 + b"\n  \n"]
)
def test_whitespace_and_blank_lines_only_is_refused_as_no_header(run_csv: RunCsv, blank: bytes) -> None:
    assert file_error_code(run_csv, blank) == "no_header"


def test_duplicate_header_name_is_refused(run_csv: RunCsv) -> None:
    assert file_error_code(run_csv, b"id,name,amount,amount\n1,Ana,2,3\n") == "duplicate_header"


def test_header_names_differing_only_in_case_are_duplicates(run_csv: RunCsv) -> None:
    assert file_error_code(run_csv, b"id,name,Email,EMAIL\n") == "duplicate_header"


def test_header_names_differing_only_in_surrounding_spaces_are_duplicates(run_csv: RunCsv) -> None:
    assert file_error_code(run_csv, b"id,name,email, email \n") == "duplicate_header"


def test_missing_required_column_is_refused_and_named(run_csv: RunCsv) -> None:
    with pytest.raises(FileError) as caught:
        run_csv(b"id,email,amount\n1,a@example.com,3\n")

    assert caught.value.code == "missing_column"
    assert "name" in caught.value.message


@pytest.mark.parametrize(
    "document",
    [
        {"id": 1, "name": "Ana"},
        [{"id": 1, "name": "Ana"}, {"id": 2, "name": "Bo"}],
        {"rows": [{"id": 1, "name": "Ana", "amount": 3.5}]},
    ],
)
def test_compact_json_document_is_not_csv(run_csv: RunCsv, document: object) -> None:
    assert file_error_code(run_csv, json.dumps(document)) == "not_csv"


def test_pretty_printed_json_document_is_not_csv(run_csv: RunCsv) -> None:
    data = json.dumps([{"id": 1, "name": "Ana"}], indent=2)

    assert file_error_code(run_csv, data) == "not_csv"


def test_single_column_text_is_not_csv(run_csv: RunCsv) -> None:
    assert file_error_code(run_csv, "Dear team\nplease find the figures attached.\n") == "not_csv"


def test_one_word_lines_are_not_csv(run_csv: RunCsv) -> None:
    assert file_error_code(run_csv, "hello\nworld\n") == "not_csv"


@pytest.mark.parametrize("header", [b"id,,name\n", b"id,name,\n", b",id,name\n", b"id, ,name\n"])
def test_empty_header_name_is_refused(run_csv: RunCsv, header: bytes) -> None:
    assert file_error_code(run_csv, header + b"1,x,y\n") == "empty_header_name"


def test_header_with_a_field_over_max_field_chars_is_a_file_error(run_csv: RunCsv) -> None:
    data = b"id,name," + b"x" * (MAX_FIELD_CHARS + 1) + b"\n1,Ana,a\n"

    assert file_error_code(run_csv, data) == "not_csv"


def test_nul_bytes_in_the_header_are_not_csv(run_csv: RunCsv) -> None:
    assert file_error_code(run_csv, b"id,name,no\x00te\n1,Ana,x\n") == "not_csv"


def test_file_error_reads_as_code_then_message() -> None:
    error = FileError("empty_file", "file is empty")

    assert str(error) == "empty_file: file is empty"
    assert (error.code, error.message) == ("empty_file", "file is empty")


def test_file_error_leaves_the_callers_streams_open() -> None:
    source, records, rejects = io.BytesIO(b"id,id\n"), io.BytesIO(), io.BytesIO()

    with pytest.raises(FileError):
        process(source, records, rejects)

    assert [source.closed, records.closed, rejects.closed] == [False, False, False]


def test_successful_run_leaves_the_callers_streams_open() -> None:
    source, records, rejects = io.BytesIO(b"id,name\n1,Ana\n"), io.BytesIO(), io.BytesIO()

    process(source, records, rejects)

    assert [source.closed, records.closed, rejects.closed] == [False, False, False]
