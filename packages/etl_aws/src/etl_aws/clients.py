"""boto3 clients, created once per process with timeouts and standard retries.

Endpoints come from the standard `AWS_ENDPOINT_URL_<SERVICE>` variables, so the same code runs against
AWS, moto or the local runtime unchanged.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=60,
    max_pool_connections=32,
)


@cache
def _client(service: str) -> Any:
    return boto3.session.Session().client(service, config=_CONFIG)


@cache
def _resource_class(service: str) -> Any:
    return type(boto3.session.Session().resource(service, config=_CONFIG))


_threads = threading.local()


def client(service: str) -> Any:
    """The process-wide client of `service` (thread-safe, as boto3 clients are)."""
    return _client(service)


def resource(service: str) -> Any:
    """This thread's resource of `service`, over the shared client.

    boto3 resources are not thread-safe, clients are: each thread gets its own resource object (cheap:
    it wraps the process-wide client), so handlers may run concurrently where functions share a process.
    """
    found = _this_thread().get(service)
    if found is None:
        found = _this_thread()[service] = _resource_class(service)(client=_client(service))
    return found


def table(name: str) -> Any:
    """This thread's DynamoDB `Table` resource of `name`, kept for the next call: boto3 builds a resource
    class for every `Table(...)` (milliseconds of botocore model work), which every step would pay again
    on every invocation of a warm function."""
    key = f"dynamodb-table:{name}"
    found = _this_thread().get(key)
    if found is None:
        found = _this_thread()[key] = resource("dynamodb").Table(name)
    return found


def _this_thread() -> dict[str, Any]:
    cached = getattr(_threads, "resources", None)
    if cached is None or cached[0] != _generation[0]:
        cached = (_generation[0], {})
        _threads.resources = cached
    return cached[1]


_generation = [0]


def reset() -> None:
    """Forget cached clients (tests switch endpoints and credentials)."""
    _client.cache_clear()
    _generation[0] += 1
