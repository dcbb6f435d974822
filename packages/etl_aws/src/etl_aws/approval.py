"""The approval service: the one way a human decision reaches a waiting workflow.

A decision is recorded once (conditional write: the first wins), then delivered to the workflow it
belongs to, durable or Step Functions, through `callbacks`. A repeat of the recorded decision delivers it
again only if no earlier delivery completed, and a per-job claim keeps concurrent repeats from sending it
twice. Secrets (callback reference, review token and its hash) are read here and never leave: not in a
return value, an exception message or a log line.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import uuid
from typing import Literal

from botocore.exceptions import ClientError

from etl_aws import callbacks, staging, tokens
from etl_aws.config import settings
from etl_aws.decision_rules import NotAllowed, refuse_operator
from etl_aws.errors import (
    DecisionGone,
    JobCancelled,
    JobNotFound,
    NotAwaitingDecision,
    PipelineError,
    ReviewLinkSuperseded,
    StagedDataChanged,
    TransientError,
    transient_aware,
)
from etl_aws.jobs import ApprovalSecrets, Job, JobsRepository, now_iso
from etl_aws.models import Decision, DecisionRecord, JobStatus
from etl_aws.observability import bind_job, logger, metrics
from etl_aws.review_view import ReviewView, view_of

__all__ = ["NotAllowed"]  # raised by decide (etl_aws.decision_rules)

REVIEW_LINK_REVIEWER = "review-link"
# Without a caller's deadline: the longest any Lambda function runs (900 s), and a margin. A claim only
# keeps concurrent repeats from sending at once; exactly-once delivery is the orchestrator's (a callback
# or task token completes once) and an uncertain send is settled by reading the orchestrator.
CALLBACK_LEASE_SECONDS = 960

Via = Literal["iam", "review_link"]


class ReviewLinkInvalid(PipelineError):
    """The review token does not open this job: wrong, another job's, or the job is unknown.

    All of these look the same to the caller, so a link reveals nothing about other jobs.
    """

    code = "forbidden"


class ReviewLinkUsed(PipelineError):
    """The review link already made its decision (or an operator decided first)."""

    code = "already_decided"

    def __init__(self, message: str, decision: DecisionRecord) -> None:
        super().__init__(message)
        self.decision = decision


class ReasonRequired(PipelineError):
    """A rejection must say why."""

    code = "reason_required"


class InvalidCursor(PipelineError):
    code = "invalid_cursor"


def _repo() -> JobsRepository:
    return JobsRepository(settings().jobs_table)


# ---- reads ------------------------------------------------------------------------------------------


def get_job(job_id: str, repo: JobsRepository | None = None) -> Job:
    """One job (no secrets: `Job` has no fields for them). Raises JobNotFound."""
    return (repo or _repo()).get(job_id)


def list_jobs(
    status: JobStatus | None = None,
    limit: int = 50,
    cursor: str | None = None,
    repo: JobsRepository | None = None,
) -> tuple[list[Job], str | None]:
    """A page of jobs (by status when given) and an opaque cursor for the next page."""
    raw_cursor = None
    if cursor:
        try:
            raw_cursor = base64.urlsafe_b64decode(cursor.encode() + b"=" * (-len(cursor) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise InvalidCursor("the cursor is not one this API returned") from None
    try:
        jobs, next_raw = (repo or _repo()).list_jobs(status, limit, raw_cursor)
    except (ValueError, TypeError):  # not JSON, or not a key object
        raise InvalidCursor("the cursor is not one this API returned") from None
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ValidationException":
            raise
        raise InvalidCursor("the cursor is not one this API returned") from None
    next_cursor = base64.urlsafe_b64encode(next_raw.encode()).decode().rstrip("=") if next_raw else None
    return jobs, next_cursor


def review_view(job_id: str, token: str | None, repo: JobsRepository | None = None) -> ReviewView:
    """The review page's content for a valid link.

    Raises ReviewLinkInvalid (wrong token, another job's token, unknown job) and DecisionGone (expired, or
    the job no longer waits). A decided job is returned with its `decision` set.
    """
    repo = repo or _repo()
    secrets = _verified_secrets(repo, job_id, token)
    job = repo.get(job_id)
    view = view_of(job).model_copy(update={"viewer": secrets.reviewer_of(token)})
    if view.decision is not None:
        return view
    if job.status == JobStatus.CANCELLED:
        raise JobCancelled(f"job {job_id} was cancelled by an operator: nothing will be published")
    if job.status != JobStatus.PENDING_APPROVAL:
        raise DecisionGone(f"job {job_id} is {job.status}: it no longer waits for a decision")
    if _expired(job.approval_expires_at):
        raise DecisionGone(f"the approval of job {job_id} expired at {job.approval_expires_at}")
    return view


# ---- decisions --------------------------------------------------------------------------------------


@transient_aware
def decide(
    job_id: str,
    approved: bool,
    reviewer: str,
    reason: str = "",
    via: Via = "iam",
    token: str | None = None,
    repo: JobsRepository | None = None,
    lease_seconds: int | None = None,
    staged: dict[str, str] | None = None,
    principal_id: str | None = None,
) -> tuple[Job, bool]:
    """Record a decision (the first one wins) and deliver it to the waiting workflow.

    `staged`: the staged data's hashes (name → SHA-256) the decider was shown; they must equal the job's
    recorded ones (StagedDataChanged otherwise). Omitted (operators may), the decision is bound to the
    recorded ones. Either way the recorded decision carries them, and finalize publishes only that data.

    `lease_seconds`: how long this call may hold the right to send (at least the time the calling
    function has left to run, so a claim never lapses while its holder may still send).

    Returns (job, created): created is True for the call that recorded the decision. A repeat of the
    recorded decision returns (job, False) and re-sends the callback only if no send completed.
    Raises ReviewLinkInvalid / ReviewLinkUsed / ReviewLinkSuperseded (review links), ReasonRequired,
    StagedDataChanged, JobNotFound,
    DecisionConflict (a different decision came first), DecisionGone (expired, or the workflow no longer
    waits), NotAwaitingDecision (too early), TransientError (delivery failed; repeat to retry), NotAllowed
    (an operator off the dataset's allowlist, or the uploader approving: `principal_id` is the caller's).

    With N-of-M approvals (etl_aws.reviewers) an approval that does not complete the quorum is recorded
    (the job stays PENDING_APPROVAL, nothing is sent); a rejection decides at once.
    """
    repo = repo or _repo()
    bind_job(job_id)
    use_review_token = via == "review_link"
    link_hash = ""
    if use_review_token:
        secrets = _verified_secrets(repo, job_id, token)  # before anything else
        reviewer = secrets.reviewer_of(token) or REVIEW_LINK_REVIEWER
        if reviewer == REVIEW_LINK_REVIEWER:  # the shared link: the write holds only while it is current
            link_hash = secrets.review_token_hash or ""
    current = repo.get(job_id)
    if use_review_token:
        _refuse_spent_link(current, approved, reviewer)
    else:
        refuse_operator(current, approved, reviewer, principal_id)
    reason = reason.strip()
    if not approved and not reason:
        raise ReasonRequired("a rejection needs a reason")
    problem = staging.binding_problem(staged, current.staged)
    if problem:
        raise StagedDataChanged(problem)
    decision = Decision(
        approved=approved,
        reviewer=reviewer[:256],
        reason=reason,
        decided_at=now_iso(),
        via=via,
        staged=staging.hashes(current.staged) or None,
    )
    job, created = _record(repo, current, decision, use_review_token, link_hash)
    if created:
        metrics.add_metric(name="DecisionsRecorded", unit="Count", value=1)
    logger.info(
        "decision recorded" if created else "decision repeated",
        extra={"approved": job.decision is not None and job.decision.approved, "via": via},
    )
    lease = CALLBACK_LEASE_SECONDS if lease_seconds is None else lease_seconds
    if _needs_delivery(job):
        job = _deliver(repo, job, lease) or job
    return job, created


def _record(
    repo: JobsRepository, current: Job, decision: Decision, use_review_token: bool, link_hash: str = ""
) -> tuple[Job, bool]:
    """The decision, or (N-of-M: the number fixed when the approval was requested) the approval, written
    under its condition."""
    job_id, required = current.job_id, current.approvals_required
    if decision.approved and required > 1:
        job, created = repo.record_approval(job_id, decision, required)
        if created and job.decision is None:
            metrics.add_metric(name="ApprovalsRecorded", unit="Count", value=1)
            logger.info("approval recorded", extra={"approvals": len(job.approvals), "required": required})
        return job, created
    return repo.record_decision(
        job_id, decision, use_review_token=use_review_token, review_token_hash=link_hash
    )


def _refuse_spent_link(job: Job, approved: bool, reviewer: str = REVIEW_LINK_REVIEWER) -> None:
    """A link is spent once its job is decided (or its reviewer's approval recorded); it may only repeat
    that decision while undelivered.

    An undecided job whose approval window closed is gone, whatever the request says.
    """
    decided = job.decision
    if decided is None:
        if job.status == JobStatus.PENDING_APPROVAL and _expired(job.approval_expires_at):
            raise DecisionGone(f"the approval of job {job.job_id} expired at {job.approval_expires_at}")
        if not approved and reviewer in job.approvals:
            entry = job.approvals[reviewer]
            raise ReviewLinkUsed(
                f"{reviewer} already approved job {job.job_id}",
                DecisionRecord(
                    approved=True, reviewer=reviewer, decided_at=entry.get("at", ""), via="review_link"
                ),
            )
        return
    if decided.approved == approved and _needs_delivery(job):
        return
    outcome = "approved" if decided.approved else "rejected"
    raise ReviewLinkUsed(f"job {job.job_id} was already {outcome}", decided)


def _needs_delivery(job: Job) -> bool:
    """Decided, not known to be delivered, and the workflow has not moved on (finalize ran)."""
    return (
        job.decision is not None
        and job.callback_sent_at is None
        and job.finalized_at is None
        and job.status in (JobStatus.APPROVED, JobStatus.REJECTED)
    )


def _deliver(repo: JobsRepository, job: Job, lease_seconds: int) -> Job | None:
    """Send the recorded decision. None when another request holds the send, or when the workflow
    will take the decision from its own retried approval request; once it is known delivered, the job
    as that was noted.

    A send that fails, or whose answer is lost, is settled by reading the orchestrator (`_settle`):
    the same decision sent twice is refused by the workflow the second time, so "no longer waits" can
    mean "already delivered" as well as "expired"."""
    claim_id = uuid.uuid4().hex
    try:
        claimed = repo.claim_callback(job.job_id, lease_seconds, claim_id)
    except Exception:
        # The claim may have been taken with its answer lost: give it back, or a repeat would wait
        # for the whole lease.
        with contextlib.suppress(Exception):
            repo.release_callback(job.job_id, claim_id)
        raise
    if claimed is None:
        return None
    claim, secrets = claimed
    try:
        delivered = _send(job, secrets)
    except Exception as exc:
        repo.release_callback(job.job_id, claim)
        logger.warning("decision not delivered", extra={"error_type": type(exc).__name__})
        raise
    if not delivered:
        repo.release_callback(job.job_id, claim)
        return None
    sent = repo.mark_callback_sent(job.job_id)
    metrics.add_metric(name="CallbacksSent", unit="Count", value=1)
    logger.info("decision delivered", extra={"workflow": job.workflow})
    return sent


def _send(job: Job, secrets: ApprovalSecrets) -> bool:
    """Send the recorded decision under the caller's claim (`secrets`: as the claim's write read them —
    a retried Step Functions task may have stored a newer task token); settle an uncertain send (see
    `_settle`)."""
    if not secrets.callback_token:
        raise NotAwaitingDecision(f"job {job.job_id} has no waiting workflow to resume")
    try:
        callbacks.send_decision(secrets.workflow, secrets.callback_token, job.decision)
    except (DecisionGone, TransientError) as exc:
        return _settle(job, exc)
    return True


def _settle(job: Job, failure: DecisionGone | TransientError) -> bool:
    """After a send that failed or whose answer was lost: True when the orchestrator shows the decision
    delivered; False when it still waits and a retried approval request will deliver it. Raises
    DecisionGone when it will never take one, or the original error when the truth is unknown."""
    if not job.execution_arn:  # a job recorded before executions were tracked: nothing to read
        raise failure
    try:
        state = callbacks.delivery_state(job.workflow, job.execution_arn)
    except TransientError:
        raise failure from None
    logger.info("delivery settled from the orchestrator", extra={"delivery": state.value})
    if state == callbacks.Delivery.DELIVERED:
        return True
    if state == callbacks.Delivery.GONE:
        # The workflow timed out first: its own expiry path ends the job (EXPIRED), nothing to do here.
        logger.warning("decision not delivered: the workflow no longer waits")
        raise DecisionGone(f"the approval of job {job.job_id} is over: the workflow no longer waits")
    if isinstance(failure, TransientError):
        raise failure  # still waiting and nothing was delivered: the caller repeats the decision
    # The token was stale (the approval request was retried): the new request delivers the recorded
    # decision itself (steps.request_approval), so it stands as recorded.
    return False


# ---- helpers ----------------------------------------------------------------------------------------


def _verified_secrets(repo: JobsRepository, job_id: str, token: str | None) -> ApprovalSecrets:
    """The job's secrets when `token` is its current review token; ReviewLinkSuperseded when it is the
    token of an earlier approval request; ReviewLinkInvalid otherwise."""
    try:
        secrets = repo.approval_secrets(job_id)
    except JobNotFound:
        secrets = None
    current = secrets is not None and (
        tokens.verify(token, secrets.review_token_hash) or secrets.reviewer_of(token) is not None
    )
    if secrets is not None and not current:
        if tokens.verify_any(token, secrets.superseded_token_hashes):
            logger.info("superseded review link refused")
            metrics.add_metric(name="ReviewLinksSuperseded", unit="Count", value=1)
            raise ReviewLinkSuperseded(f"a newer review link was sent for job {job_id}")
        secrets = None
    if secrets is None:
        logger.warning("review link refused")
        metrics.add_metric(name="ReviewLinksRefused", unit="Count", value=1)
        raise ReviewLinkInvalid("this link is not valid")
    return secrets


def _expired(expires_at: str | None) -> bool:
    return (expires_at or "") <= now_iso()
