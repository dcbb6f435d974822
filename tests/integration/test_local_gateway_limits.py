"""The local API gateway keeps API Gateway's integration timeout and payload limit."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from etl_local import limits
from etl_local.gateway import Gateway


@pytest.fixture
def slow_gateway() -> Iterator[tuple[Gateway, threading.Event]]:
    release = threading.Event()

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        release.wait(10)
        return {"statusCode": 200, "body": "late"}

    gateway = Gateway(invoke, {}, host="127.0.0.1")
    gateway.start()
    yield gateway, release
    release.set()
    gateway.stop()


def status_of(request: urllib.request.Request) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_the_limits_are_api_gateways() -> None:
    assert limits.API_GATEWAY_TIMEOUT == 29.0
    assert limits.API_GATEWAY_PAYLOAD == 10 * 1024 * 1024


def test_an_integration_slower_than_the_timeout_is_a_504(
    slow_gateway: tuple[Gateway, threading.Event],
) -> None:
    gateway, _ = slow_gateway
    gateway.timeout = 0.2  # the 29 s limit, scaled down: the behaviour is the same
    status, body = status_of(urllib.request.Request(f"{gateway.url}/review/job-1?token=t"))
    assert status == 504
    assert b"Endpoint request timed out" in body


def test_a_request_body_over_10_mb_is_refused_before_the_function(
    slow_gateway: tuple[Gateway, threading.Event],
) -> None:
    gateway, _ = slow_gateway
    body = b"x" * (limits.API_GATEWAY_PAYLOAD + 1)
    status, answer = status_of(
        urllib.request.Request(f"{gateway.url}/review/job-1", data=body, method="POST")
    )
    assert status == 413
    assert b"Request Too Long" in answer
