"""Cancelling a job in the jobs table: the conditional write that is `etl jobs cancel`'s commit point, and
what a cancelled job answers afterwards (a decision, a finalize that still runs, the review link)."""

from __future__ import annotations

from typing import Any

import pytest

from etl_aws import contract as C
from etl_aws import steps
from etl_aws.errors import DecisionGone, InvalidTransition, JobCancelled
from etl_aws.jobs import Job, JobsRepository, iso_in
from etl_aws.models import Decision, JobStatus, ObjectRef, Outcome

OPERATOR = "arn:aws:iam::123456789012:user/ops"


@pytest.fixture
def repo(aws: Any) -> JobsRepository:
    return JobsRepository(aws.resources["jobs_table"])


def pending(repo: JobsRepository, job_id: str) -> Job:
    repo.create(job_id, C.DURABLE, ObjectRef(bucket="raw", key=f"uploads/{job_id}.csv"), retention_days=30)
    for to in (JobStatus.EXTRACTED, JobStatus.TRANSFORMED, JobStatus.LOADED):
        repo.transition(job_id, [JobStatus(s) for s in JobStatus], to)
    return repo.store_approval(job_id, "callback-id", "ab" * 32, iso_in(3600))


def test_cancel_of_a_waiting_job_records_who_when_and_why(repo: JobsRepository) -> None:
    pending(repo, "job-1")

    job = repo.cancel("job-1", OPERATOR, "wrong month")

    assert job.status == JobStatus.CANCELLED
    assert job.terminal
    assert job.cancelled is not None
    assert (job.cancelled["by"], job.cancelled["reason"]) == (OPERATOR, "wrong month")
    assert job.finalized_at == job.cancelled["at"]
    assert job.history[-1].status == JobStatus.CANCELLED


def test_cancel_again_returns_the_cancelled_job_unchanged(repo: JobsRepository) -> None:
    pending(repo, "job-1")
    first = repo.cancel("job-1", OPERATOR, "first")

    again = repo.cancel("job-1", "someone-else", "second")

    assert (again.cancelled, again.history) == (first.cancelled, first.history)


@pytest.mark.parametrize("decided", [True, False], ids=["approved", "rejected"])
def test_a_job_decided_before_the_cancel_keeps_its_decision(repo: JobsRepository, decided: bool) -> None:
    pending(repo, "job-1")
    repo.record_decision("job-1", Decision(approved=decided, reviewer="r", reason="x"))

    with pytest.raises(InvalidTransition):
        repo.cancel("job-1", OPERATOR)

    assert repo.get("job-1").status == (JobStatus.APPROVED if decided else JobStatus.REJECTED)


def test_a_decision_after_the_cancel_is_gone_as_cancelled(repo: JobsRepository) -> None:
    pending(repo, "job-1")
    repo.cancel("job-1", OPERATOR)

    with pytest.raises(JobCancelled) as refused:
        repo.record_decision("job-1", Decision(approved=True, reviewer="r"))

    assert isinstance(refused.value, DecisionGone)
    assert refused.value.code == "cancelled"
    assert repo.get("job-1").decision is None


def test_a_finalize_still_running_after_the_cancel_leaves_the_job_cancelled(
    aws: Any, repo: JobsRepository
) -> None:
    pending(repo, "job-1")
    repo.cancel("job-1", OPERATOR)

    for outcome in (Outcome.EXPIRED, Outcome.FAILED):
        done = steps.finalize(
            "job-1", outcome, error={"code": "x", "message": "y"}, cfg=aws.settings("durable")
        )
        assert done.status == JobStatus.CANCELLED

    assert repo.get("job-1").status == JobStatus.CANCELLED
