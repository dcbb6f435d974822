"""`etl jobs cancel ID` and `etl jobs cancel --all-waiting`: stop a job before a decision is published.

A cancel, in this order (each part idempotent, so running it again finishes one that was cut short):

1. The job becomes CANCELLED by a conditional write, only from RECEIVED … PENDING_APPROVAL
   (etl_aws.models.CANCELLABLE). This is the cancel's commit point: from then on no decision can be
   recorded (the review link answers 410 `cancelled`) and finalize cannot publish, so a job that was
   approved, completed or ended any other way meanwhile keeps its ending and the cancel is refused.
2. The execution is stopped: Step Functions `StopExecution`
   (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StopExecution.html) or Lambda
   `StopDurableExecution` (https://docs.aws.amazon.com/lambda/latest/api/API_StopDurableExecution.html).
   An execution that no longer exists or already ended is no error.
3. Nothing is published; the staged outputs (`staging/<job_id>/`) are deleted.
4. The source is archived as a rejected or expired job's is: the exact version moves to
   `archive/<job_id>/<file name>` in the raw bucket, so `uploads/` holds only files still to be processed
   and the file stays at hand. (A FAILED job keeps its source in place, because it may be retried; a
   cancelled one was stopped on purpose.)

A step already running when the execution is stopped finishes its Lambda invocation: its status write is
refused (the job is CANCELLED), so it changes no job record, but it may write a staged file after step 3;
cancelling the job again removes it.

The operator's own credentials do all of this (no approval-API route): they need dynamodb:GetItem,
UpdateItem and Query on the jobs table, s3:DeleteObject on the output bucket, s3:GetObject(Version),
PutObject and DeleteObject(Version) on the raw bucket, and states:StopExecution or
lambda:StopDurableExecution with lambda:ListDurableExecutionsByFunction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from etl_ops.target import Target, TargetError

_STOPPED_BY = "JobCancelled"
_GONE = {"ExecutionDoesNotExist", "ResourceNotFoundException"}


@dataclass(frozen=True)
class Cancelled:
    """What one cancel did."""

    job_id: str
    workflow: str
    already: bool  # the job was CANCELLED before this call (the rest was done again)
    execution: str  # "stopped" or "none" (no execution of the job exists)
    archive: str | None  # s3:// URI of the archived source, None when the source was gone

    def line(self) -> str:
        """One line for the operator."""
        what = "was already cancelled" if self.already else "cancelled"
        source = f"source archived to {self.archive}" if self.archive else "source no longer in the bucket"
        return (
            f"{self.job_id} ({self.workflow}) {what}: execution {self.execution}, nothing published, "
            f"staging removed, {source}"
        )


def repository(where: Target) -> Any:
    """The jobs table of the target, read and written with the operator's credentials."""
    from etl_aws.jobs import JobsRepository

    if not where.jobs_table:
        raise TargetError("the jobs table is unknown: pass --outputs (it names jobs_table_name)")
    return JobsRepository(where.jobs_table, where.resource("dynamodb"))


def operator(where: Target) -> str:
    """Who cancels: the caller's IAM ARN (sts:GetCallerIdentity needs no permission)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return str(where.client("sts").get_caller_identity()["Arn"])
    except (BotoCoreError, ClientError, KeyError):
        return "operator"


def refusal(job: Any) -> str:
    """Why a job in this status cannot be cancelled; nothing was changed."""
    from etl_aws.models import JobStatus

    if job.status == JobStatus.APPROVED:
        return f"job {job.job_id} is APPROVED: its output is being published and cannot be cancelled"
    if job.status == JobStatus.COMPLETED:
        return f"job {job.job_id} is COMPLETED: its output is published; a finished job cannot be cancelled"
    return f"job {job.job_id} already ended {job.status}: only a job that has not ended can be cancelled"


def cancel(where: Target, repo: Any, job_id: str, by: str, reason: str = "") -> Cancelled:
    """Cancel one job (see the module docstring); TargetError, with nothing changed, when it cannot be."""
    from etl_aws.errors import InvalidTransition
    from etl_aws.models import CANCELLABLE, JobStatus

    job = repo.find(job_id)
    if job is None:
        raise TargetError(f"no job {job_id}")
    if job.status not in CANCELLABLE and job.status != JobStatus.CANCELLED:
        raise TargetError(refusal(job))
    output_bucket = _output_bucket(where, job.workflow)
    _check_stoppable(where, job)
    try:
        done = repo.cancel(job_id, by, reason)
    except InvalidTransition:  # it moved on between the read and the write: that ending stands
        raise TargetError(refusal(repo.get(job_id))) from None
    execution = "stopped" if stop_execution(where, done, reason) else "none"
    archive = _clean_up(where, repo, done, output_bucket)
    return Cancelled(job_id, done.workflow, job.status == JobStatus.CANCELLED, execution, archive)


def waiting_jobs(repo: Any, workflow: str | None) -> list[Any]:
    """Every job waiting for a decision (PENDING_APPROVAL), of one pipeline when named."""
    from etl_aws.models import JobStatus

    found: list[Any] = []
    cursor = None
    while True:
        jobs, cursor = repo.list_jobs(JobStatus.PENDING_APPROVAL, limit=100, cursor=cursor)
        found.extend(j for j in jobs if workflow is None or j.workflow == workflow)
        if not cursor:
            return found


def stop_execution(where: Target, job: Any, reason: str = "") -> bool:
    """Stop the job's execution; False when there is none. Stopping an ended execution is no error."""
    from botocore.exceptions import ClientError

    from etl_aws import contract as C

    cause = (f"cancelled: {reason}" if reason else "cancelled by an operator")[:256]
    try:
        if job.workflow == C.STEP_FUNCTIONS:
            arn = job.execution_arn or _sfn_arn(where, job.job_id)
            where.client("stepfunctions").stop_execution(executionArn=arn, error=_STOPPED_BY, cause=cause)
            return True
        arn = job.execution_arn or _durable_arn(where, job.job_id)
        if arn is None:
            return False
        where.client("lambda").stop_durable_execution(
            DurableExecutionArn=arn, Error={"ErrorType": _STOPPED_BY, "ErrorMessage": cause}
        )
        return True
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in _GONE:
            return False
        raise


def _sfn_arn(where: Target, job_id: str) -> str:
    from etl_ops.histories import sfn_execution_arn

    assert where.state_machine_arn  # _check_stoppable
    return sfn_execution_arn(where.state_machine_arn, job_id)


def _durable_arn(where: Target, job_id: str) -> str | None:
    from etl_ops.histories import durable_execution_arn

    assert where.durable_function  # _check_stoppable
    return durable_execution_arn(where.client("lambda"), where.durable_function, job_id)


def _check_stoppable(where: Target, job: Any) -> None:
    """Refuse before any change when the job's execution could not be found to be stopped."""
    from etl_aws import contract as C

    if job.execution_arn:
        return
    if job.workflow == C.STEP_FUNCTIONS and not where.state_machine_arn:
        raise TargetError("the state machine is unknown: pass --outputs (it names state_machine_arn)")
    if job.workflow == C.DURABLE and not where.durable_function:
        raise TargetError("the durable orchestrator is unknown: pass --outputs")


def _output_bucket(where: Target, workflow: str) -> str:
    pipeline = where.pipelines.get(workflow)
    if pipeline is None or not pipeline.output_bucket:
        raise TargetError(f"the {workflow} output bucket is unknown: pass --outputs (output_bucket_names)")
    return pipeline.output_bucket


def _clean_up(where: Target, repo: Any, job: Any, output_bucket: str) -> str | None:
    """Delete the staged outputs and archive the source version; returns the archive's s3:// URI."""
    from etl_aws import s3io
    from etl_aws.layout import OUTPUT_FILES, archive_key, staging_key
    from etl_aws.models import JobStatus

    s3 = where.client("s3")
    s3io.delete_keys(output_bucket, [staging_key(job.job_id, n) for n in OUTPUT_FILES], s3=s3)
    source = job.source
    if not source.get("bucket") or not source.get("key"):
        return None
    key = archive_key(job.job_id, source["key"])
    moved = s3io.move_version(
        source["bucket"], source["key"], source.get("version_id"), source.get("etag"), key, s3=s3
    )
    if not moved:
        return None
    if job.outputs.get("archive") != key:
        repo.update(job.job_id, {"outputs": {"archive": key}}, only_if=[JobStatus.CANCELLED])
    return f"s3://{source['bucket']}/{key}"
