"""Records every AWS request a hosted function makes: which function, service, operation and parameters.

The one recorder of the local stack's AWS calls: the fault matrix builds its fault sites from a
recording, and `tests/terraform` turns one into the inventory of calls it holds against botocore's models
and each function's IAM policy. It sits on botocore's `before-parameter-build` event of every client
created after `install()` (`etl_local.faults.install()` installs it too), so it sees each request once,
with the parameters the code passed, before they are serialized (botocore's retries of a request are not
repeated here). Each request is attributed to the function whose invocation made it
(`etl_local.metering`); requests made outside a hosted invocation (the tests' own set-up and checks) are
not recorded. boto3's managed transfers (`s3.copy`, `upload_fileobj`) make their requests on worker
threads, where the function's context variable is not set; `install()` makes those threads run in the
submitting context, so their requests count for the function that started the transfer (as on Lambda,
where they run in its sandbox).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from botocore import handlers

from etl_local import metering

# Parameters that carry data, not identity: left out so a recording stays small and holds no secrets.
_DATA_PARAMETERS = frozenset({"Body", "Payload", "Result", "output", "Message", "Item", "input"})


@dataclass(frozen=True)
class RecordedCall:
    """One request as the code made it (retries of the same request are not repeated here)."""

    function: str
    service: str  # botocore's service name: s3, dynamodb, sns, sqs, stepfunctions, lambda
    operation: str  # the API operation: GetObject, UpdateItem, Invoke...
    params: dict[str, Any]
    service_id: str  # botocore's service id, as fault rules name it: s3, dynamodb, sfn, lambda...


class CallRecorder:
    """Collects RecordedCalls while `recording()` is active."""

    def __init__(self) -> None:
        self._calls: list[RecordedCall] | None = None
        self._lock = threading.Lock()

    @contextmanager
    def recording(self) -> Iterator[list[RecordedCall]]:
        """Every request hosted functions make inside the block, in order."""
        with self._lock:
            self._calls = []
            calls = self._calls
        try:
            yield calls
        finally:
            with self._lock:
                self._calls = None

    def record(self, params: dict[str, Any], model: Any) -> None:
        function = metering.current_function()
        if function is None or self._calls is None:
            return
        kept = {k: v for k, v in params.items() if k not in _DATA_PARAMETERS}
        service = model.service_model
        call = RecordedCall(function, service.service_name, model.name, kept, service.service_id.hyphenize())
        with self._lock:
            if self._calls is not None:
                self._calls.append(call)


RECORDER = CallRecorder()


def _before_parameter_build(params: dict[str, Any], model: Any, **_: Any) -> None:
    RECORDER.record(params, model)


_installed = threading.Lock()


def install() -> None:
    """Record the requests of every botocore client created from now on in this process (idempotent)."""
    with _installed:
        metering.follow_managed_transfers()
        if any(spec[1] is _before_parameter_build for spec in handlers.BUILTIN_HANDLERS):
            return
        handlers.BUILTIN_HANDLERS.append(("before-parameter-build", _before_parameter_build))
