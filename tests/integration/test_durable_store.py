"""The durable engine's store keeps one sqlite connection and still commits every write."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from aws_durable_execution_sdk_python_testing.execution import Execution
from aws_durable_execution_sdk_python_testing.model import StartDurableExecutionInput

from etl_local.durable_store import KeptOpenSQLiteStore


def _execution(name: str) -> Execution:
    start = StartDurableExecutionInput(
        account_id="123456789012",
        function_name="csv-etl-durable-orchestrator",
        function_qualifier="live",
        execution_name=name,
        execution_timeout_seconds=3600,
        execution_retention_period_days=1,
        input="{}",
        invocation_id=f"invocation-{name}",
    )
    execution = Execution.new(start)
    execution.start()
    return execution


def test_many_writes_open_one_connection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []
    connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: opened.append(str(a[0])) or connect(*a, **k))
    store = KeptOpenSQLiteStore.open(tmp_path / "durable.sqlite")

    for index in range(20):
        store.save(_execution(f"job-{index}"))
    found, _ = store.query(execution_name="job-7")

    assert len(opened) == 1
    assert [e.start_input.execution_name for e in found] == ["job-7"]
    store.close()


def test_what_was_saved_is_read_by_a_new_store(tmp_path: Path) -> None:
    path = tmp_path / "durable.sqlite"
    store = KeptOpenSQLiteStore.open(path)
    execution = _execution("job-1")
    store.save(execution)

    reopened = KeptOpenSQLiteStore.open(path)  # the first one still open, as after a crash

    assert reopened.load(execution.durable_execution_arn).start_input.execution_name == "job-1"
    store.close()
    reopened.close()
