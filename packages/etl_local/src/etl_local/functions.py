"""The function host: runs the real Lambda handlers in this process, each under its own environment.

On Lambda each function reads its settings from its own sandbox's environment. Here every function shares
one process, so each invocation runs inside `etl_aws.config.using(...)` with the settings built from that
function's `ETL_*` variables alone; `os.environ` is never changed (other threads read it). Invocations run
concurrently, as on Lambda: each function has a concurrency limit (like reserved concurrency), and the
settings and the request metering are carried by context variables, so they stay per invocation.
"""

from __future__ import annotations

import importlib
import json
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aws_durable_execution_sdk_python import durable_execution

from etl_aws import config
from etl_aws import contract as C
from etl_local import metering


@dataclass
class LambdaContext:
    """The parts of the Lambda context that Powertools and the handlers read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 1024
    function_version: str = "1"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = ""

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


@dataclass(frozen=True)
class HostedFunction:
    """One deployed function: contract key, function name, the ARN it is invoked by, its variables."""

    key: str
    name: str
    arn: str
    env: Mapping[str, str]

    @property
    def handler_path(self) -> str:
        return C.FUNCTIONS_BY_KEY[self.key].handler


def lambda_error(exc: BaseException) -> dict[str, Any]:
    """The payload the Lambda Python runtime returns for an exception the handler did not catch."""
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": str(uuid.uuid4()),
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


def load_handler(path: str) -> Callable[..., Any]:
    module_name, _, attribute = path.rpartition(".")
    return getattr(importlib.import_module(module_name), attribute)


DEFAULT_CONCURRENCY = 8  # concurrent invocations per function


class FunctionHost:
    """Runs hosted functions by key or by name; counts invocations and errors per function key."""

    def __init__(self, concurrency: int = DEFAULT_CONCURRENCY) -> None:
        self._functions: dict[str, HostedFunction] = {}
        self._by_name: dict[str, HostedFunction] = {}
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self.concurrency = concurrency
        self._state = threading.Condition()
        self._running = 0
        self.invocations: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.seconds: Counter[str] = Counter()  # wall time in the handler: a local estimate of duration
        self._closed = False

    def add(self, function: HostedFunction) -> None:
        self._functions[function.key] = function
        self._by_name[function.name] = function
        self._slots[function.key] = threading.BoundedSemaphore(self.concurrency)

    def function(self, key: str) -> HostedFunction:
        return self._functions[key]

    def by_name(self, name: str) -> HostedFunction | None:
        """The function a name, a (qualified) ARN or `name:qualifier` designates."""
        if name.startswith("arn:"):
            name = name.split(":")[6]
        return self._by_name.get(name.split(":", 1)[0])

    def __contains__(self, key: str) -> bool:
        return key in self._functions

    def invoke(self, key: str, event: Any, handler: Callable[..., Any] | None = None) -> Any:
        """Run the function's handler (or `handler`, for a wrapped one) with its environment; re-raises."""
        function = self._functions[key]
        target = handler or load_handler(function.handler_path)
        context = LambdaContext(function.name, function.arn)
        with self._slots[key]:
            with self._state:
                if self._closed:
                    raise RuntimeError("the local runtime has stopped")
                self._running += 1
                self.invocations[key] += 1
            began = time.perf_counter()
            errored = False
            try:
                with config.using(settings_of(function)), metering.attributed_to(key):
                    return target(event, context)
            except Exception:
                errored = True
                raise
            finally:
                with self._state:
                    self.seconds[key] += time.perf_counter() - began
                    if errored:
                        self.errors[key] += 1
                    self._running -= 1
                    self._state.notify_all()

    def invoke_payload(self, name: str, event: Any) -> tuple[str, bool]:
        """Invoke as the Lambda service does: (JSON payload, function error?). An uncaught exception
        becomes the runtime's error payload, so Step Functions sees its class name as the error type."""
        function = self.by_name(name)
        if function is None:
            return json.dumps({"errorType": "ResourceNotFound", "errorMessage": f"no function {name}"}), True
        try:
            result = self.invoke(function.key, event)
        except Exception as exc:
            return json.dumps(lambda_error(exc)), True
        return json.dumps(result), False

    def wrapped(self, key: str, handler: Callable[..., Any] | None = None) -> Callable[[Any, Any], Any]:
        """The function's handler (or `handler` in its place) as a callable for an engine that invokes it
        itself (the durable engine)."""
        handler = handler or load_handler(self._functions[key].handler_path)
        workflow = getattr(handler, "__wrapped__", None)
        if workflow is not None:
            # A durable handler: the SDK runs the workflow in a worker thread of its own, which does not
            # inherit this thread's context, so the settings are entered again inside it.
            cfg = settings_of(self._functions[key])

            @durable_execution
            def handler(event: Any, context: Any) -> Any:
                with config.using(cfg), metering.attributed_to(key):
                    return workflow(event, context)

        def invoke(event: Any, _context: Any) -> Any:
            return self.invoke(key, event, handler=lambda e, _c: handler(e, _context))

        return invoke

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait (up to `timeout` s) until no handler runs, refusing nothing; True if it became idle."""
        with self._state:
            return self._state.wait_for(lambda: self._running == 0, timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Refuse any later invocation, then wait (up to `timeout` s) for running handlers to return."""
        with self._state:
            self._closed = True
            self._state.wait_for(lambda: self._running == 0, timeout)


def settings_of(function: HostedFunction) -> config.FunctionSettings:
    """The function's own settings, from its environment variables alone (as in its own sandbox).

    Functions share this process, so nothing here touches os.environ: other threads read it."""
    return config.for_function(function.key, function.env)
