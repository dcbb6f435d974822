"""The durable engine across a restart, and on the shared clock.

The testing engine keeps executions in its sqlite store but arms its timers in memory, as real-second
delays. Here its clock becomes `etl_aws.clock` and its callback timeouts become deadlines on that clock
(`etl_local.deadlines`), so a test moves time instead of sleeping. At start, every execution the store
holds unfinished is taken up again: a callback still waiting gets its timeout re-armed from the stored
moment it began (an approval that expired while the stack was down times out at once), the execution
timeout is re-armed from the execution's start, and an execution that was not waiting (stopped mid-step)
is invoked again, replaying from its checkpoints as Lambda would after a lost invocation.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timedelta
from typing import Any

from aws_durable_execution_sdk_python.lambda_service import ErrorObject

from etl_aws import clock
from etl_local.deadlines import Deadlines

log = logging.getLogger(__name__)


class SharedClock:
    """The engine's Clock protocol on `etl_aws.clock`: timestamps and timers follow `clock.shifted`."""

    def now(self) -> datetime:
        return clock.now()

    def arm(self, wake: datetime) -> float:
        return max((wake - clock.now()).total_seconds(), 0.0)


def on_shared_clock(runner: Any, deadlines: Deadlines) -> None:
    """Give the runner's engine the shared clock, and arm its callback timeouts as `deadlines`."""
    shared = SharedClock()
    executor = runner._executor
    owners = (runner, executor, runner._checkpoint_processor, getattr(executor, "_child_dispatcher", None))
    for owner in owners:
        if owner is not None and hasattr(owner, "_clock"):
            owner._clock = shared
    original = executor._schedule_callback_timeouts

    def schedule_callback_timeouts(execution_arn: str, options: Any, callback_id: str) -> None:
        if options is not None and options.timeout_seconds > 0:
            moment = clock.now() + timedelta(seconds=options.timeout_seconds)
            _arm_callback_timeout(executor, deadlines, execution_arn, callback_id, moment)
            options = dataclasses.replace(options, timeout_seconds=0)  # heartbeats stay the engine's
        original(execution_arn, options, callback_id)

    executor._schedule_callback_timeouts = schedule_callback_timeouts


def _arm_callback_timeout(
    executor: Any, deadlines: Deadlines, execution_arn: str, callback_id: str, moment: datetime
) -> None:
    armed = deadlines.at(moment, lambda: executor._on_callback_timeout(execution_arn, callback_id))
    # The engine cancels what it holds here when the callback completes.
    executor._callback_timeouts[callback_id] = armed


def resume(runner: Any, deadlines: Deadlines, function_name: str) -> dict[str, str]:
    """Take up every unfinished execution of `function_name` in the store; returns name → ARN of every
    execution the store holds (finished or not), so the engine answers for them by name again."""
    executor = runner._executor
    found, _ = runner._store.query(function_name=function_name)
    arns: dict[str, str] = {}
    for execution in found:
        arns[execution.start_input.execution_name] = execution.durable_execution_arn
        if not execution.is_complete:
            _resume_one(executor, deadlines, execution)
    return arns


def _resume_one(executor: Any, deadlines: Deadlines, execution: Any) -> None:
    arn = execution.durable_execution_arn
    executor._completion_events[arn] = executor._scheduler.create_event()
    timeout = execution.start_input.execution_timeout_seconds
    started = execution.get_operation_execution_started().start_timestamp
    if timeout and started is not None:
        error = ErrorObject.from_message(f"Execution timed out after {timeout} seconds.")
        moment = started + timedelta(seconds=timeout)
        executor._execution_timeouts[arn] = deadlines.at(moment, lambda: executor.on_timed_out(arn, error))
    waiting = _waiting_callbacks(execution)
    for callback_id, moment in waiting:
        if moment is not None:
            _arm_callback_timeout(executor, deadlines, arn, callback_id, moment)
    executor._schedule_earliest_pending(arn)
    if not waiting:
        executor._invoke_execution(arn)
    log.info("durable execution taken up after a restart", extra={"waiting_callbacks": len(waiting)})


def _waiting_callbacks(execution: Any) -> list[tuple[str, datetime | None]]:
    """(callback id, timeout moment or None) of each callback the execution still waits on."""
    timeouts = {
        update.operation_id: update.callback_options.timeout_seconds
        for update in execution.updates
        if update.callback_options is not None and update.action.value == "START"
    }
    waiting = []
    for op in execution.operations:
        waits = op.operation_type.value == "CALLBACK" and op.status.value == "STARTED"
        if not waits or op.callback_details is None:
            continue
        seconds = timeouts.get(op.operation_id, 0)
        moment = op.start_timestamp + timedelta(seconds=seconds) if seconds and op.start_timestamp else None
        waiting.append((op.callback_details.callback_id, moment))
    return waiting
