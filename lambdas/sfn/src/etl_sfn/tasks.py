"""Step Functions task handlers: parse the task's payload, run one shared step, return its small result.

An exception propagates to Lambda, which reports its class name as the error type: the state machine
retries `TransientError` (and Lambda service errors) and catches everything else into its failed path.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from etl_aws import steps
from etl_aws.config import SfnApprovalTaskSettings, SfnLoadTaskSettings, SfnTaskSettings, settings
from etl_aws.handler import lambda_handler
from etl_aws.models import Decision, Extracted, Loaded, Outcome, StartRequest, Transformed, small


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class ApprovalTask(_Event):
    """RequestApproval's payload: the loaded result and the task token the decision must be sent to."""

    loaded: Loaded
    task_token: str = Field(min_length=1, repr=False)
    execution_arn: str | None = None


class TaskError(_Event):
    """What a Catch puts at `$.error`: the error name and its cause (a Lambda error's JSON, or text)."""

    error: str = Field(alias="Error", default="States.TaskFailed")
    cause: str = Field(alias="Cause", default="")

    def as_job_error(self) -> dict[str, str]:
        """The job's `error`: code = the error name, message = the Lambda error message when there is one."""
        message = self.cause
        try:
            parsed = json.loads(self.cause)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and parsed.get("errorMessage"):
            message = str(parsed["errorMessage"])
        return {"code": self.error, "message": message or self.error}


class FinalizeTask(_Event):
    """Publish, Discard, Expire and RecordFailure all call finalize with the outcome they stand for."""

    job_id: str
    outcome: Outcome
    decision: Decision | None = None
    error: TaskError | None = None


@lambda_handler
def extract_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """StartRequest → Extracted."""
    return small(steps.extract(StartRequest.model_validate(event), settings(SfnTaskSettings)))


@lambda_handler
def transform_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Extracted → Transformed."""
    return small(steps.transform(Extracted.model_validate(event), settings(SfnTaskSettings)))


@lambda_handler
def load_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Transformed → Loaded (with the quality policy's decision when it needs no reviewer)."""
    return small(steps.load(Transformed.model_validate(event), settings(SfnLoadTaskSettings)))


@lambda_handler
def request_approval_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Store the task token and notify; the state machine then waits for the decision (SendTaskSuccess).
    A job its quality policy decided at load gets that decision sent to the token at once instead."""
    task = ApprovalTask.model_validate(event)
    return small(
        steps.request_approval(
            task.loaded, task.task_token, settings(SfnApprovalTaskSettings), execution_arn=task.execution_arn
        )
    )


@lambda_handler
def finalize_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """End the job with the outcome of the state that called: COMPLETED, REJECTED, EXPIRED or FAILED."""
    task = FinalizeTask.model_validate(event)
    error = task.error.as_job_error() if task.error else None
    done = steps.finalize(task.job_id, task.outcome, task.decision, error, settings(SfnTaskSettings))
    return small(done)
