"""Resume a waiting workflow of either kind with a decision, and read back whether it was resumed.

Sending a callback is at-least-once: a send whose answer is lost (a timeout, a crash) may or may not
have resumed the workflow, and a second send of the same decision is refused as "the workflow no longer
waits" whether the first one succeeded or the approval timed out. So after any send whose outcome is not
a plain success, the truth is read from the orchestrator (`delivery_state`): Step Functions' execution
history, or the durable execution's history.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError

from etl_aws import clients
from etl_aws import contract as C
from etl_aws.errors import DecisionGone, TransientError, is_transient
from etl_aws.models import Decision

_DURABLE_GONE = {"CallbackTimeoutException", "ResourceNotFoundException"}
_SFN_GONE = {"TaskTimedOut", "TaskDoesNotExist"}


def decision_payload(decision: Decision) -> str:
    """What the waiting workflow is sent: the decision and the staged-data hashes it was made on (a few
    hundred bytes, far under the 256 KB a callback result or task output may carry)."""
    payload: dict[str, object] = {
        "approved": decision.approved,
        "reviewer": decision.reviewer,
        "reason": decision.reason,
        "decided_at": decision.decided_at,
    }
    if decision.staged:
        payload["staged"] = decision.staged
    return json.dumps(payload, separators=(",", ":"))


def send_decision(workflow: str, callback_token: str, decision: Decision) -> None:
    """Deliver the decision as callback *success* (a rejection is a normal outcome, not a failure).

    Raises DecisionGone when the workflow no longer waits (timed out or finished), TransientError on
    throttling or service errors.
    """
    payload = decision_payload(decision)
    try:
        if workflow == C.DURABLE:
            lam: Any = clients.client("lambda")
            lam.send_durable_execution_callback_success(CallbackId=callback_token, Result=payload.encode())
        elif workflow == C.STEP_FUNCTIONS:
            sfn: Any = clients.client("stepfunctions")
            sfn.send_task_success(taskToken=callback_token, output=payload)
        else:
            raise ValueError(f"unknown workflow {workflow!r}")
    except Exception as exc:
        if _code(exc) in _DURABLE_GONE or _code(exc) in _SFN_GONE:
            raise DecisionGone("the workflow no longer waits for this decision") from None
        if is_transient(exc):  # a read timeout included: the decision may have arrived
            raise TransientError(
                f"callback delivery failed or its outcome is unknown ({_describe(exc)})"
            ) from None
        raise


class Delivery(StrEnum):
    DELIVERED = "delivered"  # the workflow took a decision and moved on
    WAITING = "waiting"  # the workflow still waits (or will ask again: a retried approval request)
    GONE = "gone"  # the approval timed out, or the execution ended without a decision


_SFN_APPROVAL_RESOURCE = "invoke.waitForTaskToken"
_SFN_ENDED = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
_DURABLE_ENDED = {"ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut", "ExecutionStopped"}
APPROVAL_CALLBACK = "approval"  # the durable orchestrator's callback operation


def delivery_state(workflow: str, execution_arn: str) -> Delivery:
    """Whether the execution took its approval decision, still waits for one, or never will.

    Raises TransientError when the orchestrator cannot be read right now."""
    try:
        if workflow == C.STEP_FUNCTIONS:
            return _sfn_delivery(execution_arn)
        if workflow == C.DURABLE:
            return _durable_delivery(execution_arn)
    except Exception as exc:
        if _code(exc) in ("ExecutionDoesNotExist", "ResourceNotFoundException"):
            return Delivery.GONE
        if is_transient(exc):
            raise TransientError(f"the workflow's state could not be read ({_describe(exc)})") from None
        raise
    raise ValueError(f"unknown workflow {workflow!r}")


def _code(exc: BaseException) -> str:
    return str(exc.response.get("Error", {}).get("Code", "")) if isinstance(exc, ClientError) else ""


def _describe(exc: BaseException) -> str:
    return _code(exc) or type(exc).__name__


def _sfn_delivery(execution_arn: str) -> Delivery:
    sfn: Any = clients.client("stepfunctions")
    status = sfn.describe_execution(executionArn=execution_arn)["status"]
    # A job's history is a few dozen events: read it whole (not every implementation honours
    # reverseOrder) and look at the approval task's latest outcome.
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
    events = [event for page in pages for event in page["events"]]
    for event in reversed(events):
        details = next((v for k, v in event.items() if k.endswith("EventDetails")), None) or {}
        if details.get("resource") != _SFN_APPROVAL_RESOURCE:
            continue
        if event["type"] == "TaskSucceeded":
            return Delivery.DELIVERED
        if event["type"] == "TaskTimedOut":
            return Delivery.GONE
        break  # scheduled, started, submitted or failed (a retry follows): not answered
    return Delivery.GONE if status in _SFN_ENDED else Delivery.WAITING


def _durable_delivery(execution_arn: str) -> Delivery:
    lam: Any = clients.client("lambda")
    marker, ended = None, False
    while True:
        args: dict[str, Any] = {"DurableExecutionArn": execution_arn, "IncludeExecutionData": False}
        if marker:
            args["Marker"] = marker
        page = lam.get_durable_execution_history(**args)
        for event in page.get("Events", []):
            kind = event.get("EventType", "")
            if event.get("Name") == APPROVAL_CALLBACK and kind == "CallbackSucceeded":
                return Delivery.DELIVERED
            if event.get("Name") == APPROVAL_CALLBACK and kind in ("CallbackTimedOut", "CallbackFailed"):
                return Delivery.GONE
            ended = ended or kind in _DURABLE_ENDED
        marker = page.get("NextMarker")
        if not marker:
            return Delivery.GONE if ended else Delivery.WAITING
