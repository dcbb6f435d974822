"""Durable executions on one machine: the durable testing SDK's engine with its sqlite store, its timers
on the shared clock, its unfinished executions taken up again after a restart (etl_local.durable_restart)."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from aws_durable_execution_sdk_python_testing.exceptions import ResourceNotFoundException
from aws_durable_execution_sdk_python_testing.model import Execution as ExecutionSummary
from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner

from etl_local import durable_restart, limits
from etl_local.deadlines import Deadlines
from etl_local.durable_store import KeptOpenSQLiteStore
from etl_local.resources import ACCOUNT, REGION


def aws_shaped_execution_arns() -> None:
    """Name executions as the service does (idempotent).

    The testing engine names an execution `<uuid>/<uuid>`; the service names it
    `arn:aws:lambda:REGION:ACCOUNT:function:NAME:VERSION/durable-execution/NAME/ID`, the pattern every durable
    API checks its DurableExecutionArn against (see botocore's lambda model). Code that stores an execution's
    ARN and reads its history later must see the real shape here too."""
    from aws_durable_execution_sdk_python_testing import execution as engine

    original = engine.Execution.__dict__["new"]
    if getattr(original.__func__, "_etl_aws_shaped", False):
        return

    def new(input: Any) -> Any:  # the engine passes it by this name
        version = engine.executed_version(input.function_qualifier)
        name = input.execution_name or str(uuid.uuid4())
        function = f"arn:aws:lambda:{REGION}:{input.account_id}:function:{input.function_name}:{version}"
        arn = f"{function}/durable-execution/{name}/{input.invocation_id or uuid.uuid4()}"
        return engine.Execution(durable_execution_arn=arn, start_input=input, operations=[])

    new._etl_aws_shaped = True  # type: ignore[attr-defined]
    engine.Execution.new = staticmethod(new)  # type: ignore[method-assign]


class AlreadyStarted(Exception):
    """An execution with this name exists (the service answers DurableExecutionAlreadyStartedException)."""


class ExecutionNotFound(Exception):
    """No durable execution has this ARN (the service answers ResourceNotFoundException)."""


class CallbackNotFound(Exception):
    """The callback does not exist or no longer waits (timed out, or the execution ended)."""


class DurableEngine:
    """Starts named executions of one durable function and delivers callbacks to them."""

    def __init__(
        self,
        handler: Callable[[Any, Any], Any],
        function_name: str,
        store_path: Path,
        poll_interval: float,
        skip_time: bool = False,
    ) -> None:
        """`skip_time`: waits and retry back-offs take no time (for tests of many retries)."""
        self.function_name = function_name
        aws_shaped_execution_arns()
        self.store = KeptOpenSQLiteStore.open(store_path)
        self.runner = DurableFunctionTestRunner(
            handler=handler,
            skip_time=skip_time,
            store=self.store,
            poll_interval=poll_interval,
            region=REGION,
        )
        # The engine accepts checkpoints of any size; the Lambda service refuses those over 256 KB.
        limits.guard_durable_checkpoints(self.runner._service_client)
        self.deadlines = Deadlines("durable-deadlines")
        if not skip_time:  # skipped time is the engine's own clock; the shared one runs in real time
            durable_restart.on_shared_clock(self.runner, self.deadlines)
        self._lock = threading.Lock()
        self._arns: dict[str, str] = {}

    def start(self, name: str, payload: str, execution_timeout: int) -> str:
        """Start the execution `name` asynchronously; a name runs only once, as the service guarantees."""
        with self._lock:
            if name in self._arns or self.store.query(execution_name=name)[0]:
                raise AlreadyStarted(f"a durable execution named {name} already exists")
            arn = self.runner.run_async(
                input=payload,
                execution_timeout=execution_timeout,
                function_name=self.function_name,
                execution_name=name,
                account_id=ACCOUNT,
            )
            self._arns[name] = arn
            return arn

    def send_callback_success(self, callback_id: str, result: bytes) -> None:
        try:
            self.runner.send_callback_success(callback_id, result)
        except Exception as exc:  # the engine reports every refusal as one error type
            raise CallbackNotFound(str(exc)) from None

    def stop(self, arn: str, error: dict[str, Any] | None = None) -> datetime:
        """StopDurableExecution: the execution ends STOPPED (a pending callback or wait with it) and its
        stop time is returned; stopping an ended execution returns its end time, as the service does.
        Raises ExecutionNotFound for an unknown ARN."""
        from aws_durable_execution_sdk_python.lambda_service import ErrorObject

        stop_error = ErrorObject.from_dict(error) if error else None
        try:
            return self.runner._executor.stop_execution(arn, stop_error).stop_timestamp
        except ResourceNotFoundException as exc:
            raise ExecutionNotFound(str(exc)) from None

    def resume(self) -> int:
        """Take up the executions the store holds unfinished (after a restart): re-arm their timeouts from
        the stored moments, invoke those not waiting. Returns how many executions the store holds."""
        arns = durable_restart.resume(self.runner, self.deadlines, self.function_name)
        with self._lock:
            self._arns.update(arns)
        return len(arns)

    def arn(self, name: str) -> str | None:
        with self._lock:
            return self._arns.get(name)

    def status(self, name: str) -> str | None:
        arn = self.arn(name)
        if arn is None:
            return None
        return self.store.load(arn).current_status().value

    def operations(self, name: str) -> Counter[str]:
        """Durable operations of the execution by type (STEP, CALLBACK, ...), as billed."""
        arn = self.arn(name)
        if arn is None:
            return Counter()
        operations = self.store.load(arn).operations
        return Counter(op.operation_type.value for op in operations if op.operation_type.value != "EXECUTION")

    def data_written(self, name: str) -> int:
        """Bytes of checkpointed data of the execution (input, step and callback results, errors):
        what durable functions bill as data written and then retain."""
        arn = self.arn(name)
        if arn is None:
            return 0
        size = 0
        for op in self.store.load(arn).operations:
            for details in (op.execution_details, op.step_details, op.callback_details, op.context_details):
                for field in ("input_payload", "result", "error"):
                    value = getattr(details, field, None)
                    if isinstance(value, str):
                        size += len(value.encode())
                    elif value is not None and field == "error":
                        size += len(str(value).encode())
        return size

    def executions(self, execution_name: str | None = None) -> list[dict[str, Any]]:
        """Summaries of this function's executions (named `execution_name`, when given), in the
        ListDurableExecutionsByFunction shape; timestamps are datetimes."""
        found, _ = self.store.query(function_name=self.function_name, execution_name=execution_name)
        return [
            ExecutionSummary.from_execution(execution, execution.current_status().value, REGION).to_dict()
            for execution in found
        ]

    def history(self, arn: str) -> list[dict[str, Any]] | None:
        """The execution's history events in the GetDurableExecutionHistory shape, without execution
        data (inputs and results); None when no such execution exists."""
        try:
            response = self.runner.get_execution_history(arn)
        except ResourceNotFoundException:
            return None
        return [event.to_dict() for event in response.events]

    def close(self) -> None:
        self.deadlines.close()
        self.runner.close()
        self.store.close()
