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
def client(service: str) -> Any:
    return boto3.session.Session().client(service, config=_CONFIG)


@cache
def resource(service: str) -> Any:
    return boto3.session.Session().resource(service, config=_CONFIG)


def reset() -> None:
    """Forget cached clients (tests switch endpoints and credentials)."""
    client.cache_clear()
    resource.cache_clear()
