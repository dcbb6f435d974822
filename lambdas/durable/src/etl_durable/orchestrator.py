"""Durable orchestrator: sequences the shared steps; every side effect lives inside a checkpointed step.

Operations per workflow a reviewer decides: extract, transform, load, approval (callback),
request-approval, finalize = 6; one the dataset's quality policy decides at load: extract, transform, load,
finalize = 4. The approval waits at zero compute cost until a decision arrives or the callback times
out (set shorter than the execution timeout, so expiry is handled here rather than killed).
"""

from __future__ import annotations

from typing import Any

from aws_durable_execution_sdk_python import (
    CallbackTimeoutError,
    DurableContext,
    DurableOperationError,
    ExecutionError,
    durable_execution,
)
from aws_durable_execution_sdk_python.config import CallbackConfig, Duration, StepConfig
from aws_durable_execution_sdk_python.retries import (
    JitterStrategy,
    RetryStrategyConfig,
    create_retry_strategy,
)

from etl_aws import steps
from etl_aws.config import DurableOrchestratorSettings, settings
from etl_aws.errors import STEP_RETRY, TransientError
from etl_aws.handler import lambda_handler
from etl_aws.models import (
    Decision,
    Extracted,
    Loaded,
    Outcome,
    StartRequest,
    Transformed,
    small,
)
from etl_aws.observability import logger

# Only transient AWS failures are retried, as the state machine retries them (etl_aws.errors.STEP_RETRY);
# a refused file or a programming error fails at once.
STEP = StepConfig(
    retry_strategy=create_retry_strategy(
        RetryStrategyConfig(
            max_attempts=STEP_RETRY.attempts,
            initial_delay=Duration.from_seconds(STEP_RETRY.initial_delay_seconds),
            backoff_rate=STEP_RETRY.backoff_rate,
            max_delay=Duration.from_seconds(STEP_RETRY.max_delay_seconds),
            jitter_strategy=JitterStrategy.FULL,
            retryable_error_types=[TransientError],
        )
    )
)


def parse_decision(raw: Any) -> Decision:
    """The callback result arrives as the raw JSON the approval service sent."""
    if isinstance(raw, bytes | bytearray):
        raw = raw.decode()
    if isinstance(raw, str):
        return Decision.model_validate_json(raw)
    return Decision.model_validate(raw)


def run(request: StartRequest, context: DurableContext) -> dict[str, Any]:
    """The workflow. Returns the final job status; a failed job fails the execution."""
    cfg = settings(DurableOrchestratorSettings)
    job_id = request.job_id
    context.set_logger(logger)
    context.logger.info("workflow started", extra={"job_id": job_id})
    try:
        extracted = Extracted.model_validate(
            context.step(lambda _: small(steps.extract(request)), name="extract", config=STEP)
        )
        transformed = Transformed.model_validate(
            context.step(lambda _: small(steps.transform(extracted)), name="transform", config=STEP)
        )
        loaded = Loaded.model_validate(
            context.step(lambda _: small(steps.load(transformed)), name="load", config=STEP)
        )
        # The dataset's quality policy decided at load (a pass it publishes, or a fail): nobody is asked,
        # nothing waits; the approval callback and request are skipped (4 operations instead of 6).
        decision = loaded.decided or _wait_for_reviewer(context, loaded, cfg.approval_timeout_seconds)
        outcome = Outcome.EXPIRED if decision is None else _outcome(decision)
        final = context.step(
            lambda _: small(steps.finalize(job_id, outcome, decision)), name="finalize", config=STEP
        )
    except DurableOperationError as exc:
        error = {"code": _error_name(exc), "message": exc.message or "step failed"}
        context.step(
            lambda _: small(steps.finalize(job_id, Outcome.FAILED, error=error)), name="fail", config=STEP
        )
        context.logger.error("workflow failed", extra={"job_id": job_id, "error": error["code"]})
        raise ExecutionError(f"job {job_id} failed: {error['message']}") from None
    context.logger.info("workflow ended", extra={"job_id": job_id, "status": final["status"]})
    return {"job_id": job_id, "status": final["status"], "outputs": final.get("outputs", {})}


def _wait_for_reviewer(context: DurableContext, loaded: Loaded, timeout_seconds: int) -> Decision | None:
    """Ask the reviewers and wait at no compute cost: their decision, or None when the callback timed out
    (finalize then applies the dataset's on_timeout)."""
    callback = context.create_callback(
        name="approval", config=CallbackConfig(timeout=Duration.from_seconds(timeout_seconds))
    )
    execution_arn = context.state.durable_execution_arn
    context.step(
        lambda _: small(steps.request_approval(loaded, callback.callback_id, execution_arn=execution_arn)),
        name="request-approval",
        config=STEP,
    )
    try:
        return parse_decision(callback.result())
    except CallbackTimeoutError:
        return None


def _outcome(decision: Decision) -> Outcome:
    return Outcome.APPROVED if decision.approved else Outcome.REJECTED


def _error_name(exc: DurableOperationError) -> str:
    return (exc.error_type or "error").rsplit(".", 1)[-1]


@lambda_handler
@durable_execution
def handler(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    return run(StartRequest.model_validate(event), context)
