"""Who may decide a job, beyond holding a valid link or an IAM identity: the dataset's review policy
(etl_aws.reviewers) applied to the operator routes, and a recorded approval that may not turn into a
rejection."""

from __future__ import annotations

from etl_aws.config import ReviewSettings, settings
from etl_aws.errors import DecisionConflict, PipelineError
from etl_aws.jobs import Job
from etl_aws.reviewers import ReviewPolicy
from etl_aws.step_support import dataset_of_job


class NotAllowed(PipelineError):
    """The operator may not make this decision: not on the dataset's allowlist, or the file's uploader."""

    code = "forbidden"


def review_policy(job: Job) -> ReviewPolicy:
    """The review policy of the job's dataset (the default one where the function has no review settings)."""
    cfg = settings()
    review = cfg.review if isinstance(cfg, ReviewSettings) else None
    return review.for_dataset(dataset_of_job(job)) if review else ReviewPolicy()


def refuse_operator(job: Job, approved: bool, principal_arn: str, principal_id: str | None) -> None:
    """An operator route's decision: the dataset's allowlist, and the uploader never approves their file."""
    policy = review_policy(job)
    if not policy.may_operate(principal_arn) and not policy.may_operate(role_of(principal_arn)):
        raise NotAllowed(f"{principal_arn} is not on the allowlist of reviewers of this dataset")
    uploader = (job.uploaded_by or "").removeprefix("AWS:")
    if approved and not policy.uploader_may_approve and uploader and uploader == principal_id:
        raise NotAllowed(
            "the uploader of a file may not approve it: another reviewer must (a rejection is allowed)"
        )
    refuse_changed_mind(job, approved, principal_arn)


def role_of(principal_arn: str) -> str:
    """The IAM role of an assumed-role session ARN (arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION), so an
    allowlist can name the role; any other ARN as it is."""
    parts = principal_arn.split(":", 5)
    if len(parts) == 6 and parts[2] == "sts" and parts[5].startswith("assumed-role/"):
        role = parts[5].split("/")[1]
        return f"{parts[0]}:{parts[1]}:iam::{parts[4]}:role/{role}"
    return principal_arn


def refuse_changed_mind(job: Job, approved: bool, reviewer: str) -> None:
    """A reviewer whose approval is recorded (N-of-M, job still undecided) may not reject it afterwards."""
    if not approved and job.decision is None and reviewer in job.approvals:
        raise DecisionConflict(f"job {job.job_id}: {reviewer} already approved it")
