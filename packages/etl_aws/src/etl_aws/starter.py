"""SQS batch of S3 notifications → one orchestrator execution per uploaded object, named by job id."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from etl_aws import clients, events, identity
from etl_aws import contract as C
from etl_aws.config import Settings, settings
from etl_aws.models import StartRequest
from etl_aws.observability import logger
from etl_aws.steps import register

_ALREADY_STARTED = {"DurableExecutionAlreadyStartedException", "ExecutionAlreadyExists"}


def start_execution(request: StartRequest, cfg: Settings) -> bool:
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


def handle_batch(event: dict[str, Any], cfg: Settings | None = None) -> dict[str, Any]:
    """Start every object of the batch; report failed messages only (ReportBatchItemFailures)."""
    cfg = cfg or settings()
    failures: list[dict[str, str]] = []
    for message in events.queue_messages(event):
        if message.error:
            # A malformed message will never succeed: log and drop it rather than loop through the DLQ.
            logger.error("dropping unreadable message", extra={"message_id": message.message_id})
            continue
        try:
            for ref in events.uploads(message.objects):
                job_id = identity.job_id(ref)
                register(ref, job_id, cfg)
                started = start_execution(StartRequest(job_id=job_id, object=ref), cfg)
                logger.info(
                    "execution started" if started else "duplicate event: execution already exists",
                    extra={"job_id": job_id, "workflow": cfg.workflow},
                )
        except Exception:
            logger.exception("could not start", extra={"message_id": message.message_id})
            failures.append({"itemIdentifier": message.message_id})
    return {"batchItemFailures": failures}
