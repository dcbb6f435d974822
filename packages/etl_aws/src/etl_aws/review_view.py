"""What a review link's page shows of a job: enough to decide, nothing secret."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from etl_aws.jobs import Job
from etl_aws.models import DecisionRecord, JobStatus
from etl_aws.policy import Evaluation
from etl_core.schema import MAX_SAMPLES


class ReviewView(BaseModel):
    """What the review page shows: enough to decide, nothing secret."""

    job_id: str
    file_name: str
    status: JobStatus
    counts: dict[str, int] = Field(default_factory=dict)
    reasons: list[tuple[str, int]] = Field(default_factory=list)
    columns: list[str] = Field(default_factory=list)
    samples: list[dict[str, Any]] = Field(default_factory=list)
    expires_at: str | None = None
    decision: DecisionRecord | None = None
    changes: dict[str, Any] | None = None  # what changed since the dataset's last published version
    policy: Evaluation | None = None  # the quality band and the thresholds that fired
    # Each staged object the decision is bound to: key, sha256, bytes, etag, version_id (etl_aws.staging).
    staged: dict[str, dict[str, Any]] = Field(default_factory=dict)
    generation: int = 0  # which approval request this link belongs to
    viewer: str | None = None  # the named reviewer whose link opened the page
    approvals: dict[str, dict[str, str]] = Field(default_factory=dict)  # recorded so far (N-of-M)
    approvals_required: int = 1


def view_of(job: Job) -> ReviewView:
    """The page's content for `job` (the caller has checked the link)."""
    summary = job.summary or {}
    reasons = sorted((job.reasons or summary.get("reasons") or {}).items(), key=lambda kv: (-kv[1], kv[0]))
    samples = [s for s in summary.get("samples", []) if isinstance(s, dict)][:MAX_SAMPLES]
    return ReviewView(
        job_id=job.job_id,
        file_name=job.file_name,
        status=job.status,
        counts=job.counts,
        reasons=reasons,
        columns=[str(c) for c in summary.get("columns", [])],
        samples=samples,
        expires_at=job.approval_expires_at,
        decision=job.decision,
        changes=job.changes,
        policy=job.policy,
        staged=job.staged or {},
        generation=job.approval_generation,
        approvals=job.approvals,
        approvals_required=job.approvals_required,
    )
