"""Fixtures for the approval service tests (load with `pytest_plugins`); helpers are in approval_support."""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Iterator
from functools import cache
from typing import Any

import botocore.loaders
import botocore.session
import pytest

from etl_aws.observability import logger as powertools_logger
from tests.integration.approval_support import ApprovalEnv, CallbackRecorder


class _UniquePaths(list):
    """boto3 appends its data path to the loader on every new session; with one loader, add it once."""

    def append(self, path: Any) -> None:
        if path not in self:
            super().append(path)


@cache
def _shared_loader(search_path_string: str | None = None) -> botocore.loaders.Loader:
    loader = botocore.loaders.create_loader(search_path_string)
    loader._search_paths = _UniquePaths(loader.search_paths)
    return loader


@pytest.fixture
def shared_botocore_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every boto3 session parses botocore's service models and endpoints afresh (seconds per test, as
    each test gets new clients); share one loader so that happens once per run."""
    monkeypatch.setattr(botocore.session, "create_loader", _shared_loader)


@pytest.fixture
def approval_env(shared_botocore_loader: None, aws: Any) -> ApprovalEnv:
    recorder = CallbackRecorder()
    recorder.install()
    return ApprovalEnv(aws, recorder)


@pytest.fixture
def atomic_dynamodb(monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB applies each request atomically. moto checks a condition, writes, then serializes the
    live item without a lock, so racing threads could both pass a condition or read a half-made answer
    (which botocore then retries). Serialize moto's DynamoDB requests to restore the service's guarantee."""
    from moto.dynamodb.responses import DynamoHandler

    lock = threading.Lock()
    original = DynamoHandler.call_action

    def call_action(self: Any) -> Any:
        with lock:
            return original(self)

    monkeypatch.setattr(DynamoHandler, "call_action", call_action)


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """Everything the Powertools logger writes, at DEBUG, for the duration of a test."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(powertools_logger.registered_formatter)
    inner = logging.getLogger(powertools_logger.name)
    previous = inner.level
    inner.addHandler(handler)
    inner.setLevel(logging.DEBUG)
    yield stream
    inner.removeHandler(handler)
    inner.setLevel(previous)
