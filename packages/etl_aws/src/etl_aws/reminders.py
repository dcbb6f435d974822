"""One reminder per waiting job, shortly before its approval expires, to its reviewers and escalation list.

The approval API's function runs every few minutes on an EventBridge schedule (etl_aws.job_ages); the same
run reads the jobs waiting for a decision (one Query of the status index) and, for each whose dataset has
`remind_before_minutes` (etl_aws.reviewers) and which entered that window, claims the reminder with a
conditional write (`reminded_at`, set once) and publishes it: one message per named reviewer who has not
approved yet and per escalation address, each with the `recipient` attribute their subscription filters
on; without named reviewers one message to the shared subscription. A publish that fails gives the claim
back, so the next run tries again.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from boto3.dynamodb.conditions import Key

from etl_aws import clock, notify, review_requests
from etl_aws import contract as C
from etl_aws.config import ApprovalApiSettings
from etl_aws.jobs import Job, JobsRepository
from etl_aws.models import JobStatus
from etl_aws.observability import logger, metrics
from etl_aws.reviewers import ReviewPolicy
from etl_aws.step_support import dataset_of_job


class ReminderJobs(JobsRepository):
    """The reads and writes reminders need."""

    def waiting(self) -> Iterator[Job]:
        """Every job waiting for a decision (all pages of the status index)."""
        kwargs: dict[str, Any] = {
            "IndexName": C.JOBS_STATUS_INDEX,
            "KeyConditionExpression": Key("status").eq(JobStatus.PENDING_APPROVAL.value),
        }
        while True:
            page = self._table.query(**kwargs)
            yield from (Job.from_item(item) for item in page.get("Items", []))
            if not page.get("LastEvaluatedKey"):
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def claim_reminder(self, job_id: str) -> bool:
        """Mark the job reminded; False when it already was, or no longer waits."""
        taken = self._conditional_update(
            job_id,
            "SET reminded_at = :now",
            "#status = :pending AND attribute_not_exists(reminded_at)",
            {":now": clock.now_iso(), ":pending": JobStatus.PENDING_APPROVAL.value},
            {"#status": "status"},
            new_item=False,
        )
        return taken is not None

    def release_reminder(self, job_id: str) -> None:
        """Give the claim back after a failed publish (the next run sends it)."""
        self._table.update_item(Key={"job_id": job_id}, UpdateExpression="REMOVE reminded_at")


def due(job: Job, policy: ReviewPolicy) -> bool:
    """Whether the job entered its reminder window and was not reminded yet."""
    if not policy.remind_before_minutes or job.reminded_at or not job.approval_expires_at:
        return False
    now = clock.now_iso()
    return clock.iso_in(policy.remind_before_minutes * 60) >= job.approval_expires_at > now


def recipients(job: Job, policy: ReviewPolicy) -> list[str]:
    """Who is reminded: named reviewers yet to approve, then the escalation list (the shared "" without
    named reviewers)."""
    reviewers = (
        [r for r in job.reviewers if r not in job.approvals] if job.reviewers else [review_requests.SHARED]
    )
    return list(dict.fromkeys([*reviewers, *policy.escalation]))


def sweep(cfg: ApprovalApiSettings, repo: ReminderJobs | None = None) -> int:
    """Send the reminders that are due; the number of jobs reminded."""
    if not cfg.review.reminds:
        return 0
    repo = repo or ReminderJobs(cfg.jobs_table)
    reminded = 0
    for job in repo.waiting():
        policy = cfg.review.for_dataset(dataset_of_job(job))
        if not due(job, policy) or not repo.claim_reminder(job.job_id):
            continue
        try:
            _send(cfg.topic_arn, job, recipients(job, policy))
        except Exception as exc:
            repo.release_reminder(job.job_id)
            logger.warning(
                "reminder not sent", extra={"job_id": job.job_id, "error_type": type(exc).__name__}
            )
            continue
        reminded += 1
    if reminded:
        metrics.add_metric(name="RemindersSent", unit="Count", value=reminded)
    return reminded


def _send(topic_arn: str, job: Job, to: list[str]) -> None:
    subject, body = notify.reminder_message(
        job.job_id,
        job.file_name,
        job.approval_expires_at or "",
        sorted(job.approvals),
        job.approvals_required,
    )
    for recipient in to:
        notify.publish(topic_arn, subject, body, review_requests.attributes(job.job_id, recipient))
    logger.info("reminder sent", extra={"job_id": job.job_id, "messages": len(to)})
