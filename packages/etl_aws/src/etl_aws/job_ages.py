"""How long jobs have waited, read from the jobs table on a schedule: what alarms need to see a stuck job.

A job that stops moving emits nothing, so no event-driven metric can show it. Every few minutes an
EventBridge schedule invokes the approval API's function (it already reads the jobs table through the
status index), which publishes, per deployment (`JobsTable`):

- `OldestJobAge{Status}`: seconds since the least recently changed job in each processing status
  (RECEIVED … APPROVED, where no human is waited for) last changed; 0 when none is in it;
- `JobsInState{Status}`: how many jobs are in each status that has not ended;
- `ApprovalTimeLeft`: seconds until the earliest approval deadline of the jobs waiting for a decision;
  not published when none waits.

terraform/modules/monitoring alarms on the first and the last, with the schedule that drives them.
Schedule events: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-run-lambda-schedule.html
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from boto3.dynamodb.conditions import Key

from etl_aws import clock
from etl_aws import contract as C
from etl_aws.jobs import JobsRepository
from etl_aws.models import JobStatus
from etl_aws.observability import NAMESPACE, SERVICE

OLDEST_JOB_AGE = "OldestJobAge"
JOBS_IN_STATE = "JobsInState"
APPROVAL_TIME_LEFT = "ApprovalTimeLeft"
METRIC_NAMES = (OLDEST_JOB_AGE, JOBS_IN_STATE, APPROVAL_TIME_LEFT)
DIMENSION_STATUS = "Status"
DIMENSION_JOBS_TABLE = "JobsTable"
DIMENSION_SERVICE = "service"

# Statuses a job passes through without waiting for anyone: a job that stays in one has stopped.
PROCESSING = (
    JobStatus.RECEIVED,
    JobStatus.EXTRACTED,
    JobStatus.TRANSFORMED,
    JobStatus.LOADED,
    JobStatus.APPROVED,
)
WAITING = (*PROCESSING, JobStatus.PENDING_APPROVAL)


def is_schedule(event: Mapping[str, Any]) -> bool:
    """An EventBridge scheduled event (not an API Gateway request)."""
    return event.get("source") == "aws.events" and event.get("detail-type") == "Scheduled Event"


def dimensions(jobs_table: str, status: JobStatus | None = None) -> dict[str, str]:
    """The dimensions of the age metrics (alarms must name exactly these)."""
    dims = {DIMENSION_SERVICE: SERVICE, DIMENSION_JOBS_TABLE: jobs_table}
    if status is not None:
        dims[DIMENSION_STATUS] = status.value
    return dims


class JobAges(JobsRepository):
    """The three reads the ages need, each one Query of the status index (hash status, range updated_at)."""

    def _pages(self, status: JobStatus, **kwargs: Any) -> Iterator[dict[str, Any]]:
        kwargs = {
            "IndexName": C.JOBS_STATUS_INDEX,
            "KeyConditionExpression": Key("status").eq(status.value),
            **kwargs,
        }
        while True:
            page = self._table.query(**kwargs)
            yield page
            if not page.get("LastEvaluatedKey"):
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def count(self, status: JobStatus) -> int:
        """How many jobs are in `status` (every page counted, no item read)."""
        return sum(int(page.get("Count", 0)) for page in self._pages(status, Select="COUNT"))

    def oldest_update(self, status: JobStatus) -> str | None:
        """`updated_at` of the job in `status` that changed least recently; None when none is in it."""
        page = next(self._pages(status, ScanIndexForward=True, Limit=1))
        items = page.get("Items", [])
        return str(items[0]["updated_at"]) if items else None

    def approval_deadlines(self) -> list[str]:
        """The approval deadline of every job waiting for a decision."""
        projection = {"ProjectionExpression": "approval_expires_at"}
        pages = self._pages(JobStatus.PENDING_APPROVAL, **projection)
        return [
            str(i["approval_expires_at"])
            for p in pages
            for i in p.get("Items", [])
            if i.get("approval_expires_at")
        ]


def publish(jobs_table: str, reader: JobAges | None = None) -> dict[str, Any]:
    """Read the waiting jobs, print the metrics (EMF), and return what was published."""
    reader = reader or JobAges(jobs_table)
    now = clock.now()
    published: dict[str, Any] = {OLDEST_JOB_AGE: {}, JOBS_IN_STATE: {}}
    for status in WAITING:
        count = reader.count(status)
        published[JOBS_IN_STATE][status.value] = count
        _emit(JOBS_IN_STATE, MetricUnit.Count, count, dimensions(jobs_table, status))
    for status in PROCESSING:
        oldest = reader.oldest_update(status)
        age = max(0.0, _seconds_between(oldest, now)) if oldest else 0.0
        published[OLDEST_JOB_AGE][status.value] = age
        _emit(OLDEST_JOB_AGE, MetricUnit.Seconds, age, dimensions(jobs_table, status))
    deadlines = reader.approval_deadlines()
    if deadlines:
        left = max(0.0, -_seconds_between(min(deadlines), now))
        published[APPROVAL_TIME_LEFT] = left
        _emit(APPROVAL_TIME_LEFT, MetricUnit.Seconds, left, dimensions(jobs_table))
    return published


def _seconds_between(iso: str, now: datetime) -> float:
    """Seconds from the table timestamp `iso` to `now` (negative when `iso` is later)."""
    moment = datetime.strptime(iso, clock.ISO_FORMAT).replace(tzinfo=now.tzinfo)
    return round((now - moment).total_seconds(), 3)


def _emit(name: str, unit: MetricUnit, value: float, dims: dict[str, str]) -> None:
    with single_metric(name=name, unit=unit, value=value, namespace=NAMESPACE, default_dimensions=dims):
        pass
