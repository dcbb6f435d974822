"""What a jobs-table item is read as: `Job` for the API and operators, `ApprovalSecrets` for the
approval service only.

`Job` is built from an allow-list of attributes: the callback id / task token and the review token hash
are stored on the same item but can only be read through `ApprovalSecrets`, which no API response or log
line ever sees.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from etl_aws import tokens
from etl_aws.dynamo import plain
from etl_aws.models import TERMINAL, DecisionRecord, JobStatus
from etl_aws.policy import Evaluation

SECRET_ATTRIBUTES = ("callback_token", "review_token_hash", "review_token_hashes", "superseded_token_hashes")
_JSON_FIELDS = ("summary", "profile", "changes", "policy")


class HistoryEntry(BaseModel):
    status: JobStatus
    at: str


class Job(BaseModel):
    """A job as the API and operators see it. No secrets: they are not even fields."""

    model_config = ConfigDict(extra="ignore")

    job_id: str
    workflow: str
    status: JobStatus
    file_name: str = ""
    source: dict[str, Any] = Field(default_factory=dict)
    counts: dict[str, int] = Field(default_factory=dict)
    reasons: dict[str, int] = Field(default_factory=dict)
    summary: dict[str, Any] = Field(default_factory=dict)
    dataset: str | None = None  # the upload's folder (layout.dataset_of): versions of it are compared
    profile: dict[str, Any] = Field(default_factory=dict)  # etl_core.profile, from the transform's pass
    changes: dict[str, Any] | None = None  # the profile's diff against the last published version
    policy: Evaluation | None = None  # the quality band its dataset's policy gave the staged result
    outputs: dict[str, str] = Field(default_factory=dict)
    # Each staged object as written: key, sha256, bytes, etag, version_id (etl_aws.staging).
    staged: dict[str, dict[str, Any]] | None = None
    output_bucket: str | None = None  # where `outputs` were published (set by finalize)
    retraction: dict[str, Any] | None = None  # who took the output back, when, why (`etl jobs unpublish`)
    error: dict[str, str] | None = None
    decision: DecisionRecord | None = None
    # Named reviewers (etl_aws.reviewers): who was asked, how many approvals publish, the ones recorded so
    # far (reviewer → {at, via}), who uploaded the file (S3 principal id) and when the reminder went.
    reviewers: list[str] = Field(default_factory=list)
    approvals_required: int = 1
    approvals: dict[str, dict[str, str]] = Field(default_factory=dict)
    uploaded_by: str | None = None
    reminded_at: str | None = None
    cancelled: dict[str, str] | None = None  # who cancelled the job, when and why (`etl jobs cancel`)
    history: list[HistoryEntry] = Field(default_factory=list)
    execution_arn: str | None = None
    created_at: str = ""
    updated_at: str = ""
    approval_expires_at: str | None = None
    # How many times approval was requested: each request issues a new review link, and the earlier ones
    # answer "superseded" (410).
    approval_generation: int = 0
    notified_at: str | None = None
    callback_sent_at: str | None = None
    finalized_at: str | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Job:
        """The job an item holds, secrets left out."""
        data = {k: plain(item[k]) for k in cls.model_fields if k in item and k not in _JSON_FIELDS}
        for name in _JSON_FIELDS:  # kept as JSON: floats are not DynamoDB numbers
            if f"{name}_json" in item:
                data[name] = json.loads(item[f"{name}_json"])
        return cls.model_validate(data)


@dataclass(frozen=True)
class PublishedVersion:
    """The last published (COMPLETED) job of a dataset, as its pointer item in the jobs table holds it."""

    job_id: str
    finalized_at: str
    profile: dict[str, Any]


@dataclass(frozen=True)
class ApprovalSecrets:
    """Stored secrets of a waiting job, for the approval service only. Never log or return this."""

    workflow: str
    callback_token: str | None
    review_token_hash: str | None
    review_token_hashes: dict[str, str]  # reviewer → hash of their own link's token
    superseded_token_hashes: tuple[str, ...]
    review_token_used_at: str | None
    approval_expires_at: str | None
    callback_sent_at: str | None

    def __repr__(self) -> str:  # keep secrets out of tracebacks and debug output
        return f"ApprovalSecrets(workflow={self.workflow!r}, callback_token=***, review_token_hash=***)"

    def reviewer_of(self, token: str | None) -> str | None:
        """The named reviewer whose link `token` is (every hash compared, in constant time each)."""
        found = None
        for reviewer, stored in self.review_token_hashes.items():
            if tokens.verify(token, stored):
                found = reviewer
        return found

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> ApprovalSecrets:
        """The approval secrets an item holds."""
        return cls(
            workflow=item.get("workflow", ""),
            callback_token=item.get("callback_token"),
            review_token_hash=item.get("review_token_hash"),
            review_token_hashes=dict(item.get("review_token_hashes") or {}),
            superseded_token_hashes=tuple(item.get("superseded_token_hashes") or ()),
            review_token_used_at=item.get("review_token_used_at"),
            approval_expires_at=item.get("approval_expires_at"),
            callback_sent_at=item.get("callback_sent_at"),
        )


assert not set(SECRET_ATTRIBUTES) & set(Job.model_fields), "secrets must never be Job fields"
