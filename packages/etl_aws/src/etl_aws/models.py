"""Small pydantic models that cross boundaries: events, step inputs and outputs, decisions.

Step results are checkpointed (durable) or carried in state (Step Functions): they hold references and
summaries only, never data, and each serializes to well under 4 KB.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ObjectRef(Model):
    """One uploaded object, as an S3 event names it."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    size: int | None = None
    sequencer: str | None = None
    # Who uploaded it: the S3 event's userIdentity.principalId ("AWS:AIDA…", "AWS:AROA…:session"); not
    # part of the object's identity (etl_aws.identity), kept on the job as `uploaded_by`.
    uploader: str | None = None

    @property
    def file_name(self) -> str:
        return self.key.rsplit("/", 1)[-1]


class JobStatus(StrEnum):
    RECEIVED = "RECEIVED"
    EXTRACTED = "EXTRACTED"
    TRANSFORMED = "TRANSFORMED"
    LOADED = "LOADED"
    PENDING_APPROVAL = "PENDING_APPROVAL"
    APPROVED = "APPROVED"
    COMPLETED = "COMPLETED"
    # A COMPLETED job whose published output an operator took back (`etl jobs unpublish`): nothing under
    # processed/, the output kept under retracted/. A status, not a flag on COMPLETED, so "COMPLETED has
    # exactly one published copy" stays true and `jobs list --status RETRACTED` finds them.
    RETRACTED = "RETRACTED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"  # an operator stopped the job before a decision (`etl jobs cancel`)


TERMINAL = frozenset(
    {
        JobStatus.COMPLETED,
        JobStatus.REJECTED,
        JobStatus.EXPIRED,
        JobStatus.FAILED,
        JobStatus.CANCELLED,
        JobStatus.RETRACTED,
    }
)
# Statuses an operator may cancel from: the job has not ended and no decision is being published.
CANCELLABLE = frozenset(
    {
        JobStatus.RECEIVED,
        JobStatus.EXTRACTED,
        JobStatus.TRANSFORMED,
        JobStatus.LOADED,
        JobStatus.PENDING_APPROVAL,
    }
)


class Source(Model):
    """The pinned source object: the exact version the job reads, whatever is uploaded later."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    size: int = 0


class Counts(Model):
    rows: int = 0
    valid: int = 0
    rejected: int = 0


class StartRequest(Model):
    """What a starter hands an orchestrator: the job id (also the execution name) and the object."""

    job_id: str
    object: ObjectRef


class Extracted(Model):
    job_id: str
    source: Source


class Transformed(Model):
    job_id: str
    source: Source
    counts: Counts
    reasons: dict[str, int] = Field(default_factory=dict)
    records_key: str
    rejects_key: str


class Loaded(Model):
    job_id: str
    counts: Counts
    manifest_key: str
    # The quality policy's own decision (publish or reject), when it needs no reviewer: the durable
    # orchestrator then goes straight to finalize (etl_aws.policy).
    decided: Decision | None = None


class ApprovalRequested(Model):
    job_id: str
    approval_expires_at: str
    notified: bool = True


class Outcome(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    FAILED = "failed"


class Decision(Model):
    """The payload a reviewer's decision carries back to the waiting workflow."""

    approved: bool
    reviewer: str = Field(default="unknown", max_length=256)
    reason: str = Field(default="", max_length=1000)
    decided_at: str = ""
    # policy: the dataset's quality policy decided (reviewer "policy:<version>"), no person did
    via: Literal["iam", "review_link", "direct", "policy"] = "direct"
    # The staged data's hashes (records, rejects, manifest → SHA-256) the decision was made on.
    staged: dict[str, str] | None = None


class DecisionRecord(Decision):
    """A decision as its job stores it (the jobs table's `decision`, written once, by the first decision)
    and as the API shows it: the payload the waiting workflow was, or is being, sent."""


class Finalized(Model):
    job_id: str
    status: JobStatus
    outputs: dict[str, str] = Field(default_factory=dict)


class JobError(Model):
    code: str
    message: str


def small(model: BaseModel) -> dict[str, Any]:
    """JSON-ready dict of a step result."""
    return model.model_dump(mode="json")
