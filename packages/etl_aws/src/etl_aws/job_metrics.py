"""The job metrics both orchestrators emit alike: one definition for the code, the tests and the alarms.

Each data point is an EMF document of its own (Powertools `single_metric`), printed when the job event
happens, with the dimensions of the job rather than of the invocation:

- `Workflow`: durable or sfn, so a dashboard shows the two orchestrators side by side;
- `JobsTable`: the deployment's jobs table, so several deployments in one account never mix;
- `service`: the Powertools service name, which Powertools adds to every metric it emits.

The shared steps and the shared starter emit them, so neither orchestrator can forget one. Each is emitted
right after the conditional write that made the change, which a re-run does not repeat: a job that ends is
counted once. terraform/modules/monitoring alarms on these names; tests/terraform holds the two equal.
EMF: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
"""

from __future__ import annotations

from datetime import datetime

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from etl_aws import clock
from etl_aws.job_records import Job
from etl_aws.models import Counts, JobStatus
from etl_aws.observability import NAMESPACE, SERVICE

DIMENSION_WORKFLOW = "Workflow"
DIMENSION_JOBS_TABLE = "JobsTable"
DIMENSION_SERVICE = "service"

# The starter, once per SQS batch.
JOBS_STARTED = "JobsStarted"
START_FAILURES = "StartFailures"  # messages reported back to SQS (they end in the DLQ if they keep failing)
UNSUPPORTED_UPLOADS = "UnsupportedUploads"
# The transform, once per job.
ROWS_VALID = "RowsValid"
ROWS_REJECTED = "RowsRejected"
# Finalize, once per job: seconds from the reviewers' notification to the decision, and how the job ended.
APPROVAL_LATENCY = "ApprovalLatency"
# The endings the orchestrators reach through finalize.
ENDINGS = (JobStatus.COMPLETED, JobStatus.REJECTED, JobStatus.EXPIRED, JobStatus.FAILED)


def ended_metric(status: JobStatus) -> str:
    """The count metric of jobs that ended in `status`: JobsCompleted, JobsRejected, JobsExpired…"""
    return f"Jobs{status.value.title()}"


JOBS_ENDED = {status: ended_metric(status) for status in ENDINGS}
METRIC_NAMES = (
    JOBS_STARTED,
    START_FAILURES,
    UNSUPPORTED_UPLOADS,
    ROWS_VALID,
    ROWS_REJECTED,
    APPROVAL_LATENCY,
    *JOBS_ENDED.values(),
)


def dimensions(workflow: str, jobs_table: str) -> dict[str, str]:
    """The dimensions of every job metric (alarms must name exactly these)."""
    return {DIMENSION_SERVICE: SERVICE, DIMENSION_WORKFLOW: workflow, DIMENSION_JOBS_TABLE: jobs_table}


def emit(name: str, unit: MetricUnit, value: float, workflow: str, jobs_table: str) -> None:
    """Print one EMF data point now, in the metrics namespace, with the job dimensions."""
    dims = dimensions(workflow, jobs_table)
    with single_metric(name=name, unit=unit, value=value, namespace=NAMESPACE, default_dimensions=dims):
        pass


def batch_handled(workflow: str, jobs_table: str, started: int, unsupported: int, failures: int) -> None:
    """What the starter did with one SQS batch. Zeros are emitted too: an alarm then sees 0, not no data."""
    emit(JOBS_STARTED, MetricUnit.Count, started, workflow, jobs_table)
    emit(UNSUPPORTED_UPLOADS, MetricUnit.Count, unsupported, workflow, jobs_table)
    emit(START_FAILURES, MetricUnit.Count, failures, workflow, jobs_table)


def rows_transformed(workflow: str, jobs_table: str, counts: Counts) -> None:
    """The rows one job's transform kept and rejected."""
    emit(ROWS_VALID, MetricUnit.Count, counts.valid, workflow, jobs_table)
    emit(ROWS_REJECTED, MetricUnit.Count, counts.rejected, workflow, jobs_table)


def job_ended(job: Job, status: JobStatus, jobs_table: str) -> None:
    """Count the job's ending; when a reviewer decided it, how long the decision took."""
    emit(ended_metric(status), MetricUnit.Count, 1, job.workflow, jobs_table)
    latency = approval_latency_seconds(job)
    if latency is not None:
        emit(APPROVAL_LATENCY, MetricUnit.Seconds, latency, job.workflow, jobs_table)


def approval_latency_seconds(job: Job) -> float | None:
    """Seconds from the reviewers' notification to a reviewer's recorded decision; None without both."""
    decided_at = job.decision.decided_at if job.decision and job.decision.via != "policy" else None
    if not job.notified_at or not decided_at:  # a policy's decision is no reviewer's latency
        return None
    try:
        notified = datetime.strptime(job.notified_at, clock.ISO_FORMAT)
        decided = datetime.strptime(str(decided_at), clock.ISO_FORMAT)
    except ValueError:
        return None
    return max(0.0, (decided - notified).total_seconds())
