"""`python -m etl_core INPUT --records R --rejects J`, run as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ParseJsonl = Callable[[bytes], list[dict[str, Any]]]

MIXED = b"id,name,amount\n1,Ana,1.5\n2,,3\n3,Cy,nan\n4,Dee,4\n"


def etl_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "etl_core", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "in.csv").write_bytes(MIXED)
    return tmp_path


def run_on(workdir: Path, data: bytes | None = None, *extra: str) -> subprocess.CompletedProcess[str]:
    if data is not None:
        (workdir / "in.csv").write_bytes(data)
    return etl_cli(
        workdir / "in.csv", "--records", workdir / "r.jsonl", "--rejects", workdir / "j.jsonl", *extra
    )


def test_cli_prints_one_json_summary_and_exits_zero_despite_rejects(workdir: Path) -> None:
    done = run_on(workdir)

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1
    summary = json.loads(lines[0])
    assert (summary["rows"], summary["valid"], summary["rejected"]) == (4, 2, 2)
    assert summary["reasons"] == {"missing_required": 1, "non_finite_number": 1}


def test_cli_writes_records_and_rejects_as_jsonl(workdir: Path, parse_jsonl: ParseJsonl) -> None:
    run_on(workdir)

    records = parse_jsonl((workdir / "r.jsonl").read_bytes())
    rejects = parse_jsonl((workdir / "j.jsonl").read_bytes())
    assert records == [{"id": "1", "name": "Ana", "amount": 1.5}, {"id": "4", "name": "Dee", "amount": 4}]
    assert [(r["line"], r["reason"]) for r in rejects] == [(3, "missing_required"), (4, "non_finite_number")]


def test_cli_leaves_only_the_input_and_the_two_outputs(workdir: Path) -> None:
    run_on(workdir)

    assert sorted(p.name for p in workdir.iterdir()) == ["in.csv", "j.jsonl", "r.jsonl"]


def test_cli_file_error_exits_2_with_one_clear_line_on_stderr(workdir: Path) -> None:
    done = run_on(workdir, b"id,email\n1,a@example.com\n")

    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1
    assert "missing_column" in lines[0]
    assert "in.csv" in lines[0]


def test_cli_file_error_leaves_no_output_files_behind(workdir: Path) -> None:
    run_on(workdir, b"id,id\n")

    assert sorted(p.name for p in workdir.iterdir()) == ["in.csv"]


def test_cli_error_deep_in_the_file_leaves_no_partial_outputs(workdir: Path) -> None:
    # many valid rows get written before the bad byte is reached
    data = b"id,name\n" + b"1,Ana\n" * 100_000 + b"2,Jos\xe9\n"

    done = run_on(workdir, data)

    assert done.returncode == 2
    assert "not_utf8" in done.stderr
    assert sorted(p.name for p in workdir.iterdir()) == ["in.csv"]


def test_cli_file_error_keeps_existing_outputs_untouched(workdir: Path) -> None:
    (workdir / "r.jsonl").write_bytes(b"previous\n")

    run_on(workdir, b"")

    assert (workdir / "r.jsonl").read_bytes() == b"previous\n"


def test_cli_missing_input_exits_2(tmp_path: Path) -> None:
    done = etl_cli(
        tmp_path / "nope.csv", "--records", tmp_path / "r.jsonl", "--rejects", tmp_path / "j.jsonl"
    )

    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1
    assert "nope.csv" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_cli_takes_a_custom_schema_and_line_option(workdir: Path, parse_jsonl: ParseJsonl) -> None:
    data = b"sku,qty,shipped\nS1,3,03/07/2024\nS2,x,03/07/2024\n"

    done = run_on(workdir, data, "--required", "sku", "--numbers", "qty", "--dates", "shipped", "--line")

    assert done.returncode == 0, done.stderr
    records = parse_jsonl((workdir / "r.jsonl").read_bytes())
    assert records == [{"sku": "S1", "qty": 3, "shipped": "2024-03-07", "_line": 2}]


def test_cli_refuses_a_column_both_date_and_numeric(workdir: Path) -> None:
    done = run_on(workdir, None, "--dates", "amount")

    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1
    assert "both date and numeric" in done.stderr
