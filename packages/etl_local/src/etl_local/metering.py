"""Counts every AWS request the hosted functions make, by function, service and operation.

The shared `etl_aws.clients` are process-wide; a botocore `before-call` hook on each of them counts the
request against the function whose invocation made it: the function host marks each invocation's context
with its function key (a context variable, so concurrent invocations on other threads keep their own; a
handler that runs work in a thread of its own, as the durable SDK runs the workflow, marks it again).
"""

from __future__ import annotations

import contextvars
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from etl_aws import clients

SERVICES = ("s3", "dynamodb", "sns", "sqs", "stepfunctions", "lambda")


_current: ContextVar[str | None] = ContextVar("etl_metered_function", default=None)


@contextmanager
def attributed_to(key: str) -> Iterator[None]:
    """Requests made inside the block (in this thread or context) count for function `key`."""
    token = _current.set(key)
    try:
        yield
    finally:
        _current.reset(token)


class _InContext:
    """A transfer task that runs in the context it was submitted from."""

    def __init__(self, task: Any) -> None:
        self._context = contextvars.copy_context()
        self._task = task
        self.transfer_id = task.transfer_id

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._context.run(self._task, *args, **kwargs)


def follow_managed_transfers() -> None:
    """boto3's managed transfers (`s3.copy`, `upload_fileobj`) make their requests on worker threads,
    where the function's context variable is not set: run those tasks in the submitting context, so
    their requests count for the function that started the transfer, as they would in its Lambda
    sandbox (idempotent)."""
    from s3transfer.futures import BoundedExecutor

    original = BoundedExecutor.submit
    if getattr(original, "_etl_in_context", False):
        return

    def submit(self: Any, task: Any, tag: Any = None, block: bool = True) -> Any:
        return original(self, _InContext(task), tag=tag, block=block)

    submit._etl_in_context = True  # type: ignore[attr-defined]
    BoundedExecutor.submit = submit  # type: ignore[method-assign]


def current_function() -> str | None:
    """The function key the running code's requests count for (None outside a hosted invocation)."""
    return _current.get()


class AwsRequestMeter:
    """(function key, service, operation) → requests made."""

    def __init__(self) -> None:
        self.requests: Counter[tuple[str, str, str]] = Counter()
        self._lock = threading.Lock()

    def install(self) -> None:
        """Hook the shared clients (and the DynamoDB resource's client) of this process."""
        follow_managed_transfers()
        targets = [clients.client(service) for service in SERVICES]
        targets.append(clients.resource("dynamodb").meta.client)
        for client in targets:
            service = client.meta.service_model.service_name
            client.meta.events.register("before-call", self._hook(service), unique_id=f"etl-meter-{service}")

    def _hook(self, service: str) -> Any:
        def count(model: Any = None, **_: Any) -> None:
            key = _current.get() or "-"
            operation = getattr(model, "name", "?")
            with self._lock:
                self.requests[(key, service, operation)] += 1

        return count

    def by_function(self, key: str) -> Counter[tuple[str, str]]:
        with self._lock:
            return Counter({(s, o): n for (k, s, o), n in self.requests.items() if k == key})
