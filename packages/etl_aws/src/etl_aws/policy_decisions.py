"""Decisions a dataset's quality policy makes, recorded like a reviewer's (etl_aws.policy).

At load: a pass (with `on_pass: publish`) approves and a fail rejects, without asking anyone. At the approval
timeout: the policy's `on_timeout` says whether the job expires (as before), is rejected, or is approved when
its evaluation fired no threshold. Both orchestrators reach these through the shared steps (load, finalize).
Each decision is one conditional write, the same first-decision-wins record a reviewer's is, bound to the
staged data's recorded hashes (the data the policy evaluated).
"""

from __future__ import annotations

from etl_aws import staging
from etl_aws.clock import now_iso
from etl_aws.errors import InvalidTransition
from etl_aws.jobs import Job, JobsRepository
from etl_aws.models import Decision, JobStatus, Outcome
from etl_aws.observability import logger
from etl_aws.policy import Evaluation, reviewer

_REASON_LIMIT = 1000  # Decision.reason's bound
TIMEOUT_REJECT_REASON = "no reviewer decided before the approval timeout (policy on_timeout: reject)"
TIMEOUT_APPROVE_REASON = (
    "no reviewer decided before the approval timeout; every threshold passed "
    "(policy on_timeout: approve_if_policy_passes)"
)


def decision_at_load(evaluation: Evaluation) -> Decision:
    """The decision of an evaluation that decides by itself: publish (pass) or reject (fail)."""
    approved = evaluation.action == "publish"
    if approved:
        reason = f"every threshold of dataset {evaluation.dataset!r} passed"
    else:
        reason = "; ".join(evaluation.reasons("fail"))
    return _decision(evaluation, approved, reason)


def decide_at_load(repo: JobsRepository, job: Job) -> Job:
    """Record the policy's decision on a LOADED job whose evaluation decides: APPROVED or REJECTED."""
    assert job.policy is not None, "the load step stores an evaluation first"
    assert job.policy.decides, "only a deciding evaluation decides"
    decision = decision_at_load(job.policy).model_copy(update={"staged": staging.hashes(job.staged) or None})
    to = JobStatus.APPROVED if decision.approved else JobStatus.REJECTED
    done = repo.transition(job.job_id, [JobStatus.LOADED], to, {"decision": decision.model_dump(mode="json")})
    logger.info("decided by policy", extra={"band": job.policy.band, "policy_version": job.policy.version})
    return done


def policy_decision(job: Job) -> Decision | None:
    """The decision the job's policy recorded at load, if it made one (a re-run step returns it again)."""
    if job.decision is None or job.decision.via != "policy":
        return None
    return Decision.model_validate(job.decision.model_dump())


def at_timeout(repo: JobsRepository, job: Job) -> tuple[Job, Outcome]:
    """What the approval timeout does to a job still waiting, by its evaluation's `on_timeout`:
    expire (no policy, or as configured), reject, or approve when no threshold fired."""
    evaluation = job.policy
    decided = policy_decision(job)
    if decided is not None and job.status in (JobStatus.APPROVED, JobStatus.REJECTED):
        return job, Outcome.APPROVED if decided.approved else Outcome.REJECTED  # a re-run finalize
    if job.status != JobStatus.PENDING_APPROVAL or evaluation is None or evaluation.on_timeout == "expire":
        return job, Outcome.EXPIRED
    if evaluation.on_timeout == "reject":
        decision = _decision(evaluation, False, TIMEOUT_REJECT_REASON)
    elif not evaluation.fired:
        decision = _decision(evaluation, True, TIMEOUT_APPROVE_REASON)
    else:
        return job, Outcome.EXPIRED
    decision = decision.model_copy(update={"staged": staging.hashes(job.staged) or None})
    to = JobStatus.APPROVED if decision.approved else JobStatus.REJECTED
    # Reviewers' decisions are refused from the timeout on (record_decision); one recorded just before
    # it wins, and the job ends as an expiry with an undelivered decision always has.
    try:
        done = repo.transition(
            job.job_id, [JobStatus.PENDING_APPROVAL], to, {"decision": decision.model_dump(mode="json")}
        )
    except InvalidTransition:
        return repo.get(job.job_id), Outcome.EXPIRED
    logger.info("decided by policy at the approval timeout", extra={"on_timeout": evaluation.on_timeout})
    return done, Outcome.APPROVED if decision.approved else Outcome.REJECTED


def _decision(evaluation: Evaluation, approved: bool, reason: str) -> Decision:
    return Decision(
        approved=approved,
        reviewer=reviewer(evaluation.version),
        reason=reason[:_REASON_LIMIT],
        decided_at=now_iso(),
        via="policy",
    )
