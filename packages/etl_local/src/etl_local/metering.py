"""Counts every AWS request the hosted functions make, by function, service and operation.

The shared `etl_aws.clients` are process-wide; a botocore `before-call` hook on each of them counts the
request against the function whose invocation is running. The function host runs one invocation at a
time, so that function is known process-wide, including in the worker threads a handler may use (the
durable SDK runs the workflow in one).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from etl_aws import clients

SERVICES = ("s3", "dynamodb", "sns", "sqs", "stepfunctions", "lambda")


class _Current:
    key: str | None = None


_current = _Current()


@contextmanager
def attributed_to(key: str) -> Iterator[None]:
    """Requests made inside the block count for function `key` (callers hold the host's lock)."""
    previous = _current.key
    _current.key = key
    try:
        yield
    finally:
        _current.key = previous


class AwsRequestMeter:
    """(function key, service, operation) → requests made."""

    def __init__(self) -> None:
        self.requests: Counter[tuple[str, str, str]] = Counter()
        self._lock = threading.Lock()

    def install(self) -> None:
        """Hook the shared clients (and the DynamoDB resource's client) of this process."""
        targets = [clients.client(service) for service in SERVICES]
        targets.append(clients.resource("dynamodb").meta.client)
        for client in targets:
            service = client.meta.service_model.service_name
            client.meta.events.register("before-call", self._hook(service), unique_id=f"etl-meter-{service}")

    def _hook(self, service: str) -> Any:
        def count(model: Any = None, **_: Any) -> None:
            key = _current.key or "-"
            operation = getattr(model, "name", "?")
            with self._lock:
                self.requests[(key, service, operation)] += 1

        return count

    def by_function(self, key: str) -> Counter[tuple[str, str]]:
        with self._lock:
            return Counter({(s, o): n for (k, s, o), n in self.requests.items() if k == key})
