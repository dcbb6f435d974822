"""Step Functions executions on moto across a restart, and the approval wait on the shared clock.

Runs inside the moto process. Moto's interpreter runs each execution in threads, which a pickle cannot
hold, so (with `etl_local.moto_state`):
- a finished execution is saved with its description and history;
- a running execution is saved as a re-drive: at the next start it is started again under the same name
  and input, so the same ARN. Its steps are idempotent (each checks the job's recorded state), so it
  runs through them to the approval again, where `request_approval` points the job at the new task token
  and sends no second e-mail. Its approval wait ends at the moment the first wait would have ended, not a
  full `TimeoutSeconds` later: an approval that expired while the stack was down times out at once, and
  the execution takes its expiry path (States.Timeout caught → finalize EXPIRED).

The `waitForTaskToken` wait follows `etl_aws.clock` (its offset set by the runtime that started this
process), so a test moves time instead of sleeping through the approval timeout.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Any

from etl_aws import clock
from etl_local import moto_state
from etl_local import sfn as sfn_pipeline

log = logging.getLogger(__name__)

_lock = threading.Lock()
_deadlines: dict[str, datetime] = {}  # execution ARN → when its approval wait times out
_carried: dict[str, datetime] = {}  # execution ARN → the deadline its re-drive's first wait keeps
_waiting: set[Any] = set()  # callback endpoints being waited on
_redrives: list[tuple[Any, dict[str, Any]]] = []  # (backend, saved execution) to start once serving


class _StoredPool:
    """A finished execution's callback pool: it holds no task token any more."""

    def notify(self, *_args: Any) -> bool:
        return False

    def heartbeat(self, *_args: Any) -> bool:
        return False

    def get(self, *_args: Any) -> None:
        return None


class _StoredEnv:
    def __init__(self, history: list[Any]) -> None:
        self.history = history
        self.callback_pool_manager = _StoredPool()
        self.event_manager = self

    def get_event_history(self) -> list[Any]:
        return list(self.history)


class StoredWorker:
    """What a finished execution keeps of its worker across a restart: its history."""

    def __init__(self, history: list[Any]) -> None:
        self.env = _StoredEnv(history)

    def stop(self, **_kwargs: Any) -> None:
        return None


# ---- the approval wait on the shared clock --------------------------------------------------------


def follow_clock() -> None:
    """moto's `waitForTaskToken` waits `TimeoutSeconds` of real time; make it wait until a moment of
    `etl_aws.clock`, woken when the clock moves (idempotent)."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_callback as module,
    )
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackOutcomeTimedOut

    cls = module.StateTaskServiceCallback
    original = cls.__dict__["_eval_wait_for_task_token"]
    if getattr(original, "_etl_on_clock", False):
        return

    def wait_for_task_token(
        self: Any, env: Any, timeout_seconds: int, callback_endpoint: Any, heartbeat_endpoint: Any
    ) -> Any:
        if heartbeat_endpoint is not None:
            return original(self, env, timeout_seconds, callback_endpoint, heartbeat_endpoint)
        arn = env.states.context_object.context_object_data["Execution"]["Id"]
        with _lock:
            deadline = _carried.pop(arn, None) or clock.now() + timedelta(seconds=timeout_seconds)
            _deadlines[arn] = deadline
        outcome = _wait_until(callback_endpoint, deadline)
        with _lock:
            _deadlines.pop(arn, None)
        return outcome or CallbackOutcomeTimedOut(callback_id=callback_endpoint.callback_id)

    wait_for_task_token._etl_on_clock = True  # type: ignore[attr-defined]
    cls._eval_wait_for_task_token = wait_for_task_token  # type: ignore[method-assign]
    clock.subscribe(lambda _offset: _wake_all())


def _wait_until(endpoint: Any, deadline: datetime) -> Any:
    """The endpoint's outcome, or None once the clock reaches `deadline`."""
    with _lock:
        _waiting.add(endpoint)
    try:
        while True:
            outcome = endpoint.get_outcome()
            left = (deadline - clock.now()).total_seconds()
            if outcome is not None or left <= 0:
                return outcome
            endpoint._notify_event.clear()  # set again by an outcome or a move of the clock
            if endpoint.get_outcome() is None:
                endpoint._notify_event.wait(left)
    finally:
        with _lock:
            _waiting.discard(endpoint)


def _wake_all() -> None:
    with _lock:
        endpoints = list(_waiting)
    for endpoint in endpoints:
        endpoint._notify_event.set()


# ---- saving and re-driving -------------------------------------------------------------------------


@moto_state.before_save("stepfunctions")
def _prepare(backend: Any) -> None:
    """Keep finished executions (history only), turn running ones into re-drives."""
    redrives = []
    for machine in getattr(backend, "state_machines", []):
        kept = []
        for execution in machine.executions:
            if not hasattr(execution, "exec_worker"):  # moto's plain (non-executing) model
                kept.append(execution)
            elif execution.exec_status is not None and execution.exec_status.value == "RUNNING":
                redrives.append(_redrive_of(execution))
            else:
                execution.exec_worker = StoredWorker(_history(execution))
                kept.append(execution)
        machine.executions = kept
    backend._etl_redrives = redrives
    # A token issued before the stop answers TaskTimedOut after it, as a closed task's token does on AWS:
    # the approval service then reads the re-driven execution and leaves the decision to its new request.
    backend._etl_issued_tokens = set(sfn_pipeline.ISSUED_TOKENS)


def _history(execution: Any) -> list[Any]:
    worker = execution.exec_worker
    if worker is None or getattr(worker, "env", None) is None:
        return []
    return list(worker.env.event_manager.get_event_history())


def _redrive_of(execution: Any) -> dict[str, Any]:
    with _lock:
        deadline = _deadlines.get(execution.exec_arn)
    return {
        "state_machine_arn": execution.state_machine_arn,
        "name": execution.name,
        "input": execution.execution_input,
        "approval_deadline": deadline.isoformat() if deadline else None,
    }


@moto_state.after_load("stepfunctions")
def _collect(backend: Any) -> None:
    for saved in getattr(backend, "_etl_redrives", []):
        _redrives.append((backend, saved))
    backend._etl_redrives = []
    sfn_pipeline.ISSUED_TOKENS.update(getattr(backend, "_etl_issued_tokens", ()))


def redrive() -> int:
    """Start again every execution that was running at the last stop; call once the server serves
    (their tasks call back into it). Returns how many were started."""
    started = 0
    while _redrives:
        backend, saved = _redrives.pop(0)
        machine = next((m for m in backend.state_machines if m.arn == saved["state_machine_arn"]), None)
        if machine is None:
            continue
        arn = f"{machine.arn.replace(':stateMachine:', ':execution:')}:{saved['name']}"
        if saved["approval_deadline"]:
            with _lock:
                _carried[arn] = datetime.fromisoformat(saved["approval_deadline"])
        try:
            backend.start_execution(machine.arn, name=saved["name"], execution_input=saved["input"])
        except Exception:
            log.exception("could not re-drive %s", arn)
            continue
        started += 1
    return started
