"""Run the durable orchestrator in the durable testing SDK's engine, against moto, with guards.

- The engine does not enforce the 256 KB limit on checkpointed payloads: `PayloadGuard` records every
  checkpoint update's payload size so tests can fail on it.
- moto does not implement SendDurableExecutionCallbackSuccess: `EngineLambdaClient` stands in for the
  Lambda client at the AWS boundary and routes callbacks to the engine, so the approval service's real
  code path (etl_aws.callbacks) delivers decisions.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aws_durable_execution_sdk_python import durable_execution
from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner
from botocore.exceptions import ClientError

from etl_aws import clients, config
from etl_aws.models import ObjectRef, StartRequest
from etl_local import limits, metering
from etl_local.durable import aws_shaped_execution_arns

AWS_PAYLOAD_LIMIT = 256 * 1024
DURABLE_KEY = "durable-orchestrator"  # the function its AWS calls are attributed to (faults, metering)
ORCHESTRATOR_ALIAS = "arn:aws:lambda:us-east-1:123456789012:function:test-durable-orchestrator:live"


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


class EngineLambdaClient:
    """The Lambda client as far as callbacks go, backed by the engine; anything else is refused."""

    def __init__(self, runner: DurableFunctionTestRunner) -> None:
        self._runner = runner
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.started: dict[str, str] = {}

    def send_durable_execution_callback_success(self, CallbackId: str, Result: bytes) -> dict:
        try:
            self._runner.send_callback_success(CallbackId, Result)
        except Exception as exc:  # the engine's own error types, mapped as the service maps them
            code = type(exc).__name__
            raise ClientError({"Error": {"Code": code, "Message": str(exc)}}, "SendCallbackSuccess") from None
        self.sent.append((CallbackId, json.loads(Result)))
        return {}

    def get_durable_execution_history(self, DurableExecutionArn: str, **_: Any) -> dict[str, Any]:
        """GetDurableExecutionHistory from the engine (one page: the engine keeps a short history)."""
        events = self._runner.get_execution_history(DurableExecutionArn).events
        return {"Events": [event.to_dict() for event in events]}

    def invoke(
        self, FunctionName: str, InvocationType: str, DurableExecutionName: str, Payload: bytes
    ) -> dict:
        """An asynchronous Invoke of the durable function's alias, named: a name runs only once,
        as the service guarantees (a second start raises DurableExecutionAlreadyStartedException)."""
        assert InvocationType == "Event", "the starter invokes asynchronously"
        assert ":" in FunctionName.rsplit("function:", 1)[-1], (
            "durable functions are invoked through an alias"
        )
        if DurableExecutionName in self.started:
            raise ClientError(
                {"Error": {"Code": "DurableExecutionAlreadyStartedException", "Message": "already started"}},
                "Invoke",
            )
        self.started[DurableExecutionName] = self._runner.run_async(
            input=Payload.decode(), execution_name=DurableExecutionName, execution_timeout=3600
        )
        return {"StatusCode": 202}


class DurableHarness:
    """One engine per test; `start` runs the handler asynchronously like an async Invoke would."""

    def __init__(self, handler: Any, monkeypatch: Any, skip_time: bool = False) -> None:
        # The function's settings are fixed now (as a deployed function's environment is), so other
        # functions run in this process by other harnesses cannot change them mid-execution.
        cfg = config.DurableOrchestratorSettings.from_env()
        workflow = handler.__wrapped__  # the undecorated function: the SDK runs it in a worker thread

        @durable_execution
        def function(event: Any, context: Any) -> Any:
            with config.using(cfg), metering.attributed_to(DURABLE_KEY):
                return workflow(event, context)

        aws_shaped_execution_arns()  # the service's ARN shape, which the durable APIs check
        self.runner = DurableFunctionTestRunner(handler=function, skip_time=skip_time, poll_interval=0.05)
        self.guard = PayloadGuard()
        service = self.runner._service_client
        limits.guard_durable_checkpoints(service)  # refuses what the service refuses (> 256 KB)
        original = service.checkpoint

        def checkpoint(*args: Any, **kwargs: Any) -> Any:
            updates = kwargs["updates"] if "updates" in kwargs else args[2]
            self.guard.record(updates)
            return original(*args, **kwargs)

        service.checkpoint = checkpoint
        self.lambda_client = EngineLambdaClient(self.runner)
        real_client = clients.client

        def client(service_name: str) -> Any:
            return self.lambda_client if service_name == "lambda" else real_client(service_name)

        monkeypatch.setattr(clients, "client", client)
        self._results: dict[str, Any] = {}

    def start(self, ref: ObjectRef, job_id: str) -> str:
        """Start the execution named `job_id` as the starter does (async invoke of the alias)."""
        payload = StartRequest(job_id=job_id, object=ref).model_dump_json().encode()
        self.lambda_client.invoke(
            FunctionName=ORCHESTRATOR_ALIAS,
            InvocationType="Event",
            DurableExecutionName=job_id,
            Payload=payload,
        )
        return self.lambda_client.started[job_id]

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
        self.runner.close()


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
