"""Resume a waiting workflow of either kind with a decision."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from etl_aws import clients
from etl_aws import contract as C
from etl_aws.errors import DecisionGone, TransientError
from etl_aws.models import Decision

_DURABLE_GONE = {"CallbackTimeoutException", "ResourceNotFoundException"}
_SFN_GONE = {"TaskTimedOut", "TaskDoesNotExist"}
_TRANSIENT = {"TooManyRequestsException", "ServiceException", "ThrottlingException", "KmsThrottlingException"}


def decision_payload(decision: Decision) -> str:
    return json.dumps(
        {
            "approved": decision.approved,
            "reviewer": decision.reviewer,
            "reason": decision.reason,
            "decided_at": decision.decided_at,
        },
        separators=(",", ":"),
    )


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
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in _DURABLE_GONE or code in _SFN_GONE:
            raise DecisionGone("the workflow no longer waits for this decision") from None
        if code in _TRANSIENT:
            raise TransientError(f"callback delivery failed temporarily ({code})") from None
        raise
