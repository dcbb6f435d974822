"""The two JSONL outputs: strict JSON, header order, optional `_line`, every row in exactly one of them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from etl_core import Schema

RunCsv = Callable[..., Any]

NUMBERS_GOOD_AND_BAD = (
    b"id,name,amount,quantity,price\n"
    b"1,Ana,1e308,3,0.1\n"
    b"2,Bo,nan,1,1\n"
    b"3,Cy,-1e308,-0,5e-324\n"
    b"4,Dee,1,inf,1\n"
    b"5,Eli,1e400,1,1\n"
    b"6,Fay,1,2,-Infinity\n"
)


def test_records_and_rejects_never_contain_nan_or_infinity(run_csv: RunCsv) -> None:
    # run_csv parses every line with json.loads(parse_constant=...) that raises on NaN/Infinity
    result = run_csv(NUMBERS_GOOD_AND_BAD)

    assert result.summary.valid == 2
    assert result.summary.rejected == 4


def test_output_bytes_have_no_nan_or_infinity_tokens(run_csv: RunCsv) -> None:
    result = run_csv(NUMBERS_GOOD_AND_BAD)

    for token in (b"NaN", b"Infinity"):
        assert token not in result.records_bytes


def test_each_output_line_is_one_json_object(run_csv: RunCsv) -> None:
    result = run_csv(b'id,name,note\n1,Ana,"two\nlines"\n2,,x\n')

    for line in (result.records_bytes + result.rejects_bytes).splitlines():
        assert isinstance(json.loads(line), dict)


def test_record_keys_follow_the_header_order(run_csv: RunCsv) -> None:
    result = run_csv(b"price,name,zeta,id,alpha\n1.5,Ana,z,7,a\n")

    assert list(result.records[0]) == ["price", "name", "zeta", "id", "alpha"]


def test_record_keys_keep_the_header_spelling(run_csv: RunCsv) -> None:
    result = run_csv(b" ID , Name ,Amount\n1,Ana,2\n")

    assert result.records == [{"ID": "1", "Name": "Ana", "Amount": 2}]


def test_records_have_no_line_by_default(run_csv: RunCsv) -> None:
    result = run_csv(b"id,name\n1,Ana\n")

    assert "_line" not in result.records[0]


def test_records_carry_their_source_line_when_the_schema_asks(run_csv: RunCsv) -> None:
    result = run_csv(b'id,name\n1,"Ana\nSilva"\n\n2,Bo\n', Schema(include_line=True))

    assert [(r["id"], r["_line"]) for r in result.records] == [("1", 2), ("2", 5)]


def test_line_comes_after_the_header_columns(run_csv: RunCsv) -> None:
    result = run_csv(b"id,name\n1,Ana\n", Schema(include_line=True))

    assert list(result.records[0]) == ["id", "name", "_line"]


def test_every_data_row_lands_in_exactly_one_output(run_csv: RunCsv) -> None:
    data = b"id,name,amount\n1,Ana,1\n2,,1\n3,Cy\n4,Dee,x\n5,Eli,5\n"

    result = run_csv(data, Schema(include_line=True))

    valid_lines = {r["_line"] for r in result.records}
    rejected_lines = {r["line"] for r in result.rejects}
    assert valid_lines | rejected_lines == {2, 3, 4, 5, 6}
    assert valid_lines & rejected_lines == set()


def test_many_rows_are_all_written_in_order(run_csv: RunCsv) -> None:
    data = b"id,name\n" + b"".join(b"%d,n%d\n" % (i, i) for i in range(1000))

    result = run_csv(data)

    assert [r["id"] for r in result.records] == [str(i) for i in range(1000)]
