"""boto3 clients, created once per process with timeouts and standard retries.

Endpoints come from the standard `AWS_ENDPOINT_URL_<SERVICE>` variables, so the same code runs against
AWS, moto or the local runtime unchanged.
"""

from __future__ import annotations

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
def _resource(service: str) -> Any:
    return boto3.session.Session().resource(service, config=_CONFIG)


def client(service: str) -> Any:
    """The process-wide client of `service` (thread-safe, as boto3 clients are)."""
    return _client(service)


def resource(service: str) -> Any:
    """The process-wide resource of `service`. Resources are not thread-safe: use from one thread."""
    return _resource(service)


def reset() -> None:
    """Forget cached clients (tests switch endpoints and credentials)."""
    _client.cache_clear()
    _resource.cache_clear()
