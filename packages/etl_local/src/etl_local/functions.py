"""The function host: runs the real Lambda handlers in this process, each under its own environment.

On Lambda each function reads its settings from its own sandbox's environment. Here every function shares
one process, so each invocation runs inside `etl_aws.config.using(...)` with the settings built from that
function's `ETL_*` variables alone; `os.environ` is never changed (other threads read it). Invocations run
concurrently, as on Lambda: each function has a concurrency limit (like reserved concurrency), and the
settings and the request metering are carried by context variables, so they stay per invocation.

Execution environments are modelled as Lambda has them: an environment runs one invocation at a time and
keeps its module state between invocations (https://docs.aws.amazon.com/lambda/latest/dg/
lambda-runtime-environment.html), so a handler may keep per-request state at module level. Each
concurrent slot of a function is an `ExecutionEnvironment` of its own, started when no idle one is left;
the first one runs the imported handler module, each further one a separate copy of it (what the module
imports is shared). The request state Powertools' event resolver keeps on its library's class is made
per invocation (etl_local.router_state), so the approval API runs in several environments too.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from aws_durable_execution_sdk_python import durable_execution

from etl_aws import config
from etl_aws import contract as C
from etl_local import metering, router_state


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
    """The handler `module.attribute` names, from the imported module."""
    module_name, _, attribute = path.rpartition(".")
    return getattr(importlib.import_module(module_name), attribute)


def load_module_afresh(name: str) -> ModuleType:
    """A separate copy of module `name`, executed anew with globals of its own (not in sys.modules).

    The module is imported first, so what it imports is loaded once and shared by every copy."""
    importlib.import_module(name)
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ImportError(f"no module {name}", name=name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class ExecutionEnvironment:
    """One execution environment of a function: its own handler module, one invocation at a time."""

    def __init__(self, module: ModuleType, attribute: str) -> None:
        self.module = module
        self.handler: Callable[..., Any] = getattr(module, attribute)
        self.durable: Callable[..., Any] | None = None  # the handler as a durable engine runs it, once built

    @classmethod
    def start(cls, path: str, fresh: bool) -> ExecutionEnvironment:
        """Load the handler: the imported module, or (`fresh`) a copy of its own."""
        module_name, _, attribute = path.rpartition(".")
        module = load_module_afresh(module_name) if fresh else importlib.import_module(module_name)
        return cls(module, attribute)


class Environments:
    """A function's execution environments: an idle one is reused (the most recently used first, as
    warm), a new one is started while fewer than `limit` exist, otherwise the invocation waits."""

    def __init__(self, function: HostedFunction, limit: int) -> None:
        self.function = function
        self.limit = limit
        self._idle: list[ExecutionEnvironment] = []
        self._started = 0
        self._first_starting = False  # the first imports the module; copies start once it is there
        self._state = threading.Condition()

    def acquire(self) -> ExecutionEnvironment:
        """An environment for one invocation, to be given back with `release`."""
        with self._state:
            self._state.wait_for(self._can_acquire)
            if self._idle:
                return self._idle.pop()
            self._started += 1
            first = self._started == 1
            self._first_starting = first
        try:
            environment = ExecutionEnvironment.start(self.function.handler_path, fresh=not first)
        except BaseException:
            with self._state:
                self._started -= 1
                self._first_starting = False
                self._state.notify_all()
            raise
        with self._state:
            self._first_starting = False
            self._state.notify_all()
        return environment

    def release(self, environment: ExecutionEnvironment) -> None:
        with self._state:
            self._idle.append(environment)
            self._state.notify()

    def _can_acquire(self) -> bool:
        return bool(self._idle) or (not self._first_starting and self._started < self.limit)


DEFAULT_CONCURRENCY = 8  # concurrent invocations per function


class FunctionHost:
    """Runs hosted functions by key or by name; counts invocations and errors per function key."""

    def __init__(self, concurrency: int = DEFAULT_CONCURRENCY) -> None:
        router_state.install()  # Powertools' resolver state per invocation, as per process on Lambda
        self._functions: dict[str, HostedFunction] = {}
        self._by_name: dict[str, HostedFunction] = {}
        self._slots: dict[str, threading.BoundedSemaphore] = {}  # for handlers a caller supplies
        self._environments: dict[str, Environments] = {}
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
        self._environments[function.key] = Environments(function, self.concurrency)

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
        """Run the function's handler in one of its environments (or `handler`, for a wrapped one, which
        is the caller's to make safe to run concurrently) with its settings; re-raises."""
        function = self._functions[key]
        context = LambdaContext(function.name, function.arn)
        with self._target(key, handler) as target:
            return self._run(key, lambda: target(event, context))

    @contextmanager
    def _target(self, key: str, handler: Callable[..., Any] | None) -> Iterator[Callable[..., Any]]:
        """The handler to run, holding its concurrency slot (its execution environment) meanwhile."""
        if handler is not None:
            with self._slots[key]:
                yield handler
            return
        environments = self._environments[key]
        environment = environments.acquire()
        try:
            yield environment.handler
        finally:
            environments.release(environment)

    def _run(self, key: str, call: Callable[[], Any]) -> Any:
        with self._state:
            if self._closed:
                raise RuntimeError("the local runtime has stopped")
            self._running += 1
            self.invocations[key] += 1
        began = time.perf_counter()
        errored = False
        try:
            with config.using(settings_of(self._functions[key])), metering.attributed_to(key):
                return call()
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
        itself (the durable engine); the function's own handler runs in its execution environments."""
        if handler is not None:
            supplied = self._engine_handler(key, handler)

            def invoke_supplied(event: Any, context: Any) -> Any:
                return self.invoke(key, event, handler=lambda e, _c: supplied(e, context))

            return invoke_supplied

        def invoke(event: Any, context: Any) -> Any:
            environments = self._environments[key]
            environment = environments.acquire()
            try:
                if environment.durable is None:
                    environment.durable = self._engine_handler(key, environment.handler)
                target = environment.durable
                return self._run(key, lambda: target(event, context))
            finally:
                environments.release(environment)

        return invoke

    def _engine_handler(self, key: str, handler: Callable[..., Any]) -> Callable[..., Any]:
        workflow = getattr(handler, "__wrapped__", None)
        if workflow is None:
            return handler
        # A durable handler: the SDK runs the workflow in a worker thread of its own, which does not
        # inherit this thread's context, so the settings are entered again inside it.
        cfg = settings_of(self._functions[key])

        @durable_execution
        def durable(event: Any, context: Any) -> Any:
            with config.using(cfg), metering.attributed_to(key):
                return workflow(event, context)

        return durable

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
