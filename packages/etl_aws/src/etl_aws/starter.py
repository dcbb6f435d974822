"""SQS batch of S3 notifications → one orchestrator execution per uploaded object, named by job id.

Each message is read, and each of its objects handled, on its own: a message that fails is reported back
(ReportBatchItemFailures) and only that one returns to the queue, so SQS's redrive policy moves nothing but
the poison message to the dead-letter queue once it has been received maxReceiveCount times.
https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html#services-sqs-batchfailurereporting
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError

from etl_aws import clients, events, identity, job_metrics
from etl_aws import contract as C
from etl_aws.config import StarterSettings, settings
from etl_aws.jobs import JobsRepository, now_iso
from etl_aws.models import ObjectRef, StartRequest
from etl_aws.observability import logger
from etl_aws.steps import refuse, register

_ALREADY_STARTED = {"DurableExecutionAlreadyStartedException", "ExecutionAlreadyExists"}


class Outcome(StrEnum):
    """What the starter did with one object of a notification."""

    STARTED = "started"
    DUPLICATE = "duplicate"  # the execution already exists: a redelivered event
    UNSUPPORTED = "unsupported"  # under uploads/ but not a CSV: job recorded FAILED, nothing started
    SKIPPED = "skipped"  # a folder placeholder or an object outside uploads/


def start_execution(request: StartRequest, cfg: StarterSettings) -> bool:
    """Start the orchestrator for one job. Returns False when it was already started (a duplicate)."""
    payload = request.model_dump_json()
    try:
        if cfg.workflow == C.DURABLE:
            # Always through the alias (a qualified ARN), asynchronously, named by the job id.
            clients.client("lambda").invoke(
                FunctionName=cfg.orchestrator_arn,
                InvocationType="Event",
                DurableExecutionName=request.job_id,
                Payload=payload.encode(),
            )
        else:
            clients.client("stepfunctions").start_execution(
                stateMachineArn=cfg.orchestrator_arn, name=request.job_id, input=payload
            )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in _ALREADY_STARTED:
            return False
        raise
    return True


def refuse_unsupported(ref: ObjectRef, job_id: str, cfg: StarterSettings) -> None:
    """Record the upload as a job that ended FAILED (unsupported_file_type); the object stays in place.

    Idempotent: a redelivered event finds the job already FAILED."""
    register(ref, job_id, cfg)
    message = f"only CSV files (a name ending in {C.UPLOAD_SUFFIX}, any casing) are processed"
    repo = JobsRepository(cfg.jobs_table)
    refuse(repo, job_id, C.UNSUPPORTED_FILE_TYPE, message, {"finalized_at": now_iso()})


def handle_object(ref: ObjectRef, cfg: StarterSettings) -> Outcome:
    """Start a job for a CSV upload; give every other object a defined, logged outcome."""
    if events.is_upload(ref):
        job_id = identity.job_id(ref)
        register(ref, job_id, cfg)
        started = start_execution(StartRequest(job_id=job_id, object=ref), cfg)
        logger.info(
            "execution started" if started else "duplicate event: execution already exists",
            extra={"job_id": job_id, "workflow": cfg.workflow},
        )
        return Outcome.STARTED if started else Outcome.DUPLICATE
    if events.is_unsupported_upload(ref):
        job_id = identity.job_id(ref)
        refuse_unsupported(ref, job_id, cfg)
        logger.warning(
            "upload is not a CSV: job recorded as FAILED, nothing started",
            extra={"job_id": job_id, "key": ref.key, "reason": C.UNSUPPORTED_FILE_TYPE},
        )
        return Outcome.UNSUPPORTED
    logger.info("not a file to process: skipped", extra={"key": ref.key})
    return Outcome.SKIPPED


def handle_batch(event: dict[str, Any], cfg: StarterSettings | None = None) -> dict[str, Any]:
    """Handle every message of the batch on its own; report the failed ones (ReportBatchItemFailures).

    A message that cannot be read is reported too, not dropped: SQS redelivers it until its receive count
    reaches the queue's maxReceiveCount, then moves it to the dead-letter queue, where an operator sees it.
    """
    cfg = cfg or settings(StarterSettings)
    failures: list[dict[str, str]] = []
    outcomes = dict.fromkeys(Outcome, 0)
    for message in events.queue_messages(event):
        try:
            if message.error:
                raise events.EventError(message.error)
            for ref in message.objects:
                outcomes[handle_object(ref, cfg)] += 1
        except Exception as exc:  # whatever went wrong, it is this message's failure only
            logger.error(
                "message not handled: reported as a batch item failure",
                extra={"message_id": message.message_id, "error_type": type(exc).__name__, "error": str(exc)},
            )
            failures.append({"itemIdentifier": message.message_id})
    job_metrics.batch_handled(
        cfg.workflow,
        cfg.jobs_table,
        started=outcomes[Outcome.STARTED],
        unsupported=outcomes[Outcome.UNSUPPORTED],
        failures=len(failures),
    )
    return {"batchItemFailures": failures}
