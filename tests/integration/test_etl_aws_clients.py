"""Shared boto3 objects: one client per process, resources and tables per thread, rebuilt after reset."""

from __future__ import annotations

import threading
from typing import Any

from moto import mock_aws

from etl_aws import clients
from etl_aws.jobs import JobsRepository


def _in_thread(make: Any) -> Any:
    made: list[Any] = []
    worker = threading.Thread(target=lambda: made.append(make()))
    worker.start()
    worker.join()
    return made[0]


@mock_aws
def test_a_table_is_built_once_per_thread_and_name() -> None:
    clients.reset()
    first = clients.table("jobs")
    assert clients.table("jobs") is first
    assert JobsRepository("jobs")._table is first  # a repository per invocation reuses it
    assert clients.table("other") is not first
    assert _in_thread(lambda: clients.table("jobs")) is not first  # resources are not thread-safe
    assert first.meta.client is clients.client("dynamodb")


@mock_aws
def test_reset_forgets_tables() -> None:
    clients.reset()
    before = clients.table("jobs")
    clients.reset()
    assert clients.table("jobs") is not before
    assert clients.table("jobs").meta.client is clients.client("dynamodb")
