"""Request and response bodies of the approval API. None of them has a field for a secret."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from etl_aws.jobs import Job
from etl_aws.models import DecisionRecord, JobStatus

JOB_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


class StagedHashes(BaseModel):
    """SHA-256 (hex) of each staged object a decision is made on, as the review page and the job show."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    records: str = Field(default="", pattern=r"^([0-9a-fA-F]{64})?$")
    rejects: str = Field(default="", pattern=r"^([0-9a-fA-F]{64})?$")
    manifest: str = Field(default="", pattern=r"^([0-9a-fA-F]{64})?$")

    def presented(self) -> dict[str, str]:
        """The hashes given (none given: an empty map, the decision is then bound to the recorded ones)."""
        return {name: value for name, value in self.model_dump().items() if value}


class DecisionRequest(BaseModel):
    """An operator's decision body. `comment` and `reviewer` are the seed article's field names, accepted so
    its calls work; the reviewer recorded is always the IAM principal that signed the request."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(default="", max_length=1000)
    comment: str = Field(default="", max_length=1000, description="Taken as the reason when none is given.")
    reviewer: str = Field(
        default="",
        max_length=256,
        description="Who the caller says decided: logged, never the recorded reviewer.",
    )
    staged_sha256: StagedHashes | None = Field(
        default=None,
        description="The staged data's hashes the decision is made on (GET /jobs/{id} `staged`): refused "
        "(409) unless they are the recorded ones. Omitted: the decision is bound to the recorded ones.",
    )

    @property
    def why(self) -> str:
        """The reason given, under either name."""
        return self.reason or self.comment


class ApproveRequest(DecisionRequest):
    """Approve: every field optional."""


class RejectRequest(DecisionRequest):
    """Reject: a reason (or comment) is required unless the function's settings say otherwise."""


class UnpublishRequest(BaseModel):
    """Unpublish a COMPLETED job: why (recorded with the principal that signed the request)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(default="", max_length=1000)  # required: checked after the caller's identity


class UnpublishResponse(BaseModel):
    """The retraction: the audit record of the request that made it (a repeat returns the same one)."""

    job_id: str
    status: JobStatus
    retraction: dict[str, Any]
    created: bool = Field(description="True for the request that retracted the output, False for a repeat.")

    @classmethod
    def of(cls, job: Job, created: bool) -> UnpublishResponse:
        assert job.retraction is not None, "a retracted job has its retraction record"
        return cls(job_id=job.job_id, status=job.status, retraction=job.retraction, created=created)


class JobListItem(BaseModel):
    job_id: str
    workflow: str
    status: JobStatus
    file_name: str
    counts: dict[str, int]
    created_at: str
    updated_at: str
    approval_expires_at: str | None = None

    @classmethod
    def of(cls, job: Job) -> JobListItem:
        return cls.model_validate(job.model_dump(include=set(cls.model_fields)))


class JobsPage(BaseModel):
    jobs: list[JobListItem]
    next_cursor: str | None = None


class DecisionResponse(BaseModel):
    """The outcome of a decision request: the recorded decision (the first one) and its delivery."""

    job_id: str
    status: JobStatus
    decision: DecisionRecord | None = Field(description="None while more approvals are needed (N-of-M).")
    created: bool = Field(description="True for the request that recorded the decision, False for a repeat.")
    callback_sent: bool = Field(description="True once the waiting workflow has been given the decision.")
    approvals: list[str] = Field(default_factory=list, description="Who approved so far (N-of-M).")
    approvals_required: int = 1

    @classmethod
    def of(cls, job: Job, created: bool) -> DecisionResponse:
        return cls(
            job_id=job.job_id,
            status=job.status,
            decision=job.decision,
            created=created,
            callback_sent=job.callback_sent_at is not None,
            approvals=sorted(job.approvals),
            approvals_required=job.approvals_required,
        )


class ReviewDecisionResponse(BaseModel):
    """The JSON answer to a review-link decision: no reviewer identity (the link holder is no operator)."""

    job_id: str
    status: JobStatus
    approved: bool
    decided_at: str
    created: bool
    callback_sent: bool
    approvals: int = 0  # approvals recorded so far (N-of-M; the job is decided once they reach the required)
    approvals_required: int = 1

    @classmethod
    def of(cls, job: Job, created: bool) -> ReviewDecisionResponse:
        decision = job.decision
        latest = max((a.get("at", "") for a in job.approvals.values()), default="")
        return cls(
            job_id=job.job_id,
            status=job.status,
            approved=decision.approved if decision else True,
            decided_at=decision.decided_at if decision else latest,
            created=created,
            callback_sent=job.callback_sent_at is not None,
            approvals=len(job.approvals),
            approvals_required=job.approvals_required,
        )
