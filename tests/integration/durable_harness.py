"""Run the durable orchestrator in the local runtime's durable engine, against moto, with guards.

The harness is the local runtime's own parts (`etl_local`), wired to moto in this process:
- `etl_local.functions.FunctionHost` runs the handler under the function's settings (read from the
  environment now, as a deployed function's are fixed) and attributes its AWS calls to it (faults,
  metering);
- `etl_local.durable.DurableEngine` is the durable testing SDK's engine: executions named by job id, run
  once per name, checkpoints over 256 KB refused as the Lambda service refuses them;
- `etl_local.lambda_api.LambdaEndpoint` serves the durable Lambda APIs on 127.0.0.1 (moto implements none
  of them), and the handlers' shared Lambda client is pointed at it, so the starter's
  Invoke and the approval service's SendDurableExecutionCallbackSuccess take their production code path.

The engine does not say how large each checkpoint was: `PayloadGuard` records every checkpoint update's
payload size so tests can hold them to a budget far below AWS's.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from etl_aws import clients
from etl_aws.models import ObjectRef, StartRequest
from etl_local.durable import DurableEngine
from etl_local.functions import FunctionHost, HostedFunction
from etl_local.http import LoopbackServer
from etl_local.lambda_api import LambdaEndpoint

AWS_PAYLOAD_LIMIT = 256 * 1024
DURABLE_KEY = "durable-orchestrator"  # the function its AWS calls are attributed to (faults, metering)
FUNCTION_NAME = "test-durable-orchestrator"
ORCHESTRATOR_ALIAS = f"arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION_NAME}:live"
EXECUTION_TIMEOUT = 3600


@dataclass
class PayloadGuard:
    """Sizes of every payload the handler checkpointed, by operation name."""

    sizes: list[tuple[str, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, updates: list[Any]) -> None:
        with self.lock:
            for update in updates:
                payload = getattr(update, "payload", None)
                if payload is not None:
                    self.sizes.append((update.name or update.operation_id, len(payload.encode())))

    @property
    def largest(self) -> int:
        return max((size for _, size in self.sizes), default=0)

    def check(self, limit: int = AWS_PAYLOAD_LIMIT) -> None:
        over = [(name, size) for name, size in self.sizes if size > limit]
        assert not over, f"checkpointed payloads over {limit} bytes: {over}"

    def install(self, service: Any) -> None:
        """Record what the engine's service client is asked to checkpoint."""
        original = service.checkpoint

        def checkpoint(*args: Any, **kwargs: Any) -> Any:
            self.record(kwargs["updates"] if "updates" in kwargs else args[2])
            return original(*args, **kwargs)

        service.checkpoint = checkpoint


class DurableHarness:
    """One engine and Lambda endpoint per test; `start` starts an execution as the starter does."""

    def __init__(self, handler: Any, monkeypatch: Any, skip_time: bool = False) -> None:
        self.host = FunctionHost()
        self.host.add(HostedFunction(DURABLE_KEY, FUNCTION_NAME, ORCHESTRATOR_ALIAS, dict(os.environ)))
        self._store = Path(tempfile.mkdtemp(prefix="durable-harness-"))
        self.engine = DurableEngine(
            self.host.wrapped(DURABLE_KEY, handler),
            FUNCTION_NAME,
            self._store / "durable.sqlite",
            poll_interval=0.05,
            skip_time=skip_time,
        )
        self.runner = self.engine.runner
        self.guard = PayloadGuard()
        self.guard.install(self.runner._service_client)
        self.endpoint = LambdaEndpoint(self.engine, FUNCTION_NAME, EXECUTION_TIMEOUT)
        self.endpoint.start()
        _lambda_on(self.endpoint.url, monkeypatch)
        self._results: dict[str, Any] = {}

    def start(self, ref: ObjectRef, job_id: str) -> str:
        """Start the execution named `job_id` as the starter does (async invoke of the alias)."""
        payload = StartRequest(job_id=job_id, object=ref).model_dump_json().encode()
        clients.client("lambda").invoke(
            FunctionName=ORCHESTRATOR_ALIAS,
            InvocationType="Event",
            DurableExecutionName=job_id,
            Payload=payload,
        )
        return self.execution_arn(job_id)

    def execution_arn(self, job_id: str) -> str:
        arn = self.engine.arn(job_id)
        assert arn is not None, f"no durable execution named {job_id}"
        return arn

    def callback_id(self, arn: str, timeout: int = 60) -> str:
        return self.runner.wait_for_callback(arn, name="approval", timeout=timeout)

    def result(self, arn: str, timeout: int = 120) -> Any:
        """The finished execution (the engine reports completion once, so keep it)."""
        if arn not in self._results:
            self._results[arn] = self.runner.wait_for_result(arn, timeout=timeout)
        return self._results[arn]

    def operations(self, arn: str) -> list[Any]:
        return self.result(arn).get_all_operations()

    def operation_counts(self, arn: str) -> Counter:
        return Counter(op.operation_type.value for op in self.operations(arn))

    def close(self) -> None:
        LoopbackServer.stop(self.endpoint)  # the server's stop (the endpoint's own `stop` is the API's)
        self.host.close()
        self.engine.close()
        clients.reset()
        shutil.rmtree(self._store, ignore_errors=True)


def _lambda_on(url: str, monkeypatch: Any) -> None:
    """The handlers' shared Lambda client, on the local endpoint (what `AWS_ENDPOINT_URL_LAMBDA` does in
    the local runtime; the variable itself would move the test's own moto Lambda client too)."""
    made = clients._client.__wrapped__  # uncached: `clients.reset()` clears the one cache, this one

    @functools.cache
    def client(service: str) -> Any:
        if service != "lambda":
            return made(service)
        return boto3.session.Session().client(service, endpoint_url=url, config=clients._CONFIG)

    monkeypatch.setattr(clients, "_client", client)
    clients.reset()


def wait_for(predicate: Any, timeout: float = 30.0, interval: float = 0.05) -> Any:
    """Poll until `predicate()` is truthy; fail with a clear message otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except RuntimeError as exc:
            # In-process moto is not thread-safe: a read racing the workflow thread's write of the same
            # item can see its dict mid-update. Over HTTP that is a 500 the client retries; here, poll again.
            if "changed size during iteration" not in str(exc):
                raise
            value = None
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")
