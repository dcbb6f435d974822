"""A delivered decision is never reported as expired: after a send whose outcome is unknown, the approval
service reads the truth from the orchestrator instead of guessing.

The orchestrators are stood for at the AWS boundary (approval_support.CallbackRecorder): a callback or
task token completes once, and the execution's history says whether the approval was answered.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from etl_aws import approval
from etl_aws import contract as C
from etl_aws.errors import DecisionConflict
from etl_aws.jobs import JobsRepository
from etl_aws.models import JobStatus
from etl_local.calls import RECORDER
from etl_local.metering import attributed_to
from tests.integration.approval_support import ApprovalEnv

pytest_plugins = ["tests.integration.approval_fixtures"]

WORKFLOWS = [C.DURABLE, C.STEP_FUNCTIONS]


class Crash(Exception):
    """The approval function dying between two actions."""


@pytest.mark.parametrize("workflow", WORKFLOWS)
def test_a_decision_reads_the_job_once(approval_env: ApprovalEnv, workflow: str) -> None:
    """Recording, claiming the send and noting it sent each answer the item as written: a decision reads
    the job once, before it is recorded, and the token it sends to comes with the claim."""
    job = approval_env.pending(workflow)

    with RECORDER.recording() as calls, attributed_to("approval-api"):
        response = approval_env.operator("approve", job.job_id)

    assert response.status == 200
    assert approval_env.recorder.approvals == [True]
    table = [c.operation for c in calls if c.service == "dynamodb"]
    assert table == ["GetItem", "UpdateItem", "UpdateItem", "UpdateItem"]


@pytest.mark.parametrize("workflow", WORKFLOWS)
def test_a_send_whose_answer_was_lost_is_settled_as_delivered(
    approval_env: ApprovalEnv, workflow: str
) -> None:
    job = approval_env.pending(workflow)
    approval_env.recorder.lose_next()  # the callback resumes the workflow; its answer never arrives

    response = approval_env.operator("approve", job.job_id)

    assert response.status == 200
    assert approval_env.recorder.approvals == [True]
    assert approval_env.repo.get(job.job_id).callback_sent_at is not None


@pytest.mark.parametrize("workflow", WORKFLOWS)
def test_a_crash_between_send_and_mark_is_settled_by_the_next_repeat(
    approval_env: ApprovalEnv, workflow: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = approval_env.pending(workflow)
    real_mark = JobsRepository.mark_callback_sent
    crashes = [Crash("the function died after sending")]

    def mark_once(self: JobsRepository, job_id: str) -> Any:
        if crashes:
            raise crashes.pop()
        return real_mark(self, job_id)

    monkeypatch.setattr(JobsRepository, "mark_callback_sent", mark_once)
    with pytest.raises(Crash):  # a claim that lapses at once: the dead function's lease has run out
        approval.decide(job.job_id, True, "arn:aws:iam::123456789012:user/ops", lease_seconds=0)

    response = approval_env.operator("approve", job.job_id)

    assert response.status == 200, response.body  # not 410: the decision did reach the workflow
    assert approval_env.recorder.approvals == [True]  # the repeat's send was refused: delivered once
    assert approval_env.repo.get(job.job_id).callback_sent_at is not None


@pytest.mark.parametrize("workflow", WORKFLOWS)
def test_a_claim_that_lapses_during_a_slow_send_never_turns_into_410(
    approval_env: ApprovalEnv, workflow: str
) -> None:
    """The first sender is slow past its lease; a repeat claims and delivers; the slow send then
    arrives at a workflow that no longer waits. Both callers hear 200."""
    job = approval_env.pending(workflow)
    release = approval_env.recorder.hold_next()
    first: list[Any] = []
    slow = threading.Thread(
        target=lambda: first.append(approval.decide(job.job_id, True, "ops-1", lease_seconds=0)),
        daemon=True,
    )
    slow.start()
    approval_env_wait_for_claim(approval_env, job.job_id)

    second = approval_env.operator("approve", job.job_id)
    release.set()
    slow.join(30)

    assert second.status == 200
    assert first, "the slow sender raised"  # DecisionGone, before the fix
    assert first[0][0].status == JobStatus.APPROVED
    assert approval_env.recorder.approvals == [True]
    assert approval_env.repo.get(job.job_id).callback_sent_at is not None


@pytest.mark.parametrize("workflow", WORKFLOWS)
def test_a_second_decision_during_the_first_ones_send(approval_env: ApprovalEnv, workflow: str) -> None:
    job = approval_env.pending(workflow)
    release = approval_env.recorder.hold_next()
    slow = threading.Thread(target=lambda: approval.decide(job.job_id, True, "ops-1"), daemon=True)
    slow.start()
    approval_env_wait_for_claim(approval_env, job.job_id)

    with pytest.raises(DecisionConflict):
        approval.decide(job.job_id, False, "ops-2", "wrong file")
    same, created = approval.decide(job.job_id, True, "ops-2")
    release.set()
    slow.join(30)

    assert created is False
    assert same.status == JobStatus.APPROVED
    assert approval_env.recorder.approvals == [True]  # the repeat did not send while the first held it


@pytest.mark.parametrize("workflow", WORKFLOWS)
def test_a_decision_after_the_workflow_timed_out_is_410(approval_env: ApprovalEnv, workflow: str) -> None:
    job = approval_env.pending(workflow)
    approval_env.recorder.expire(job.callback_token)

    response = approval_env.operator("approve", job.job_id)

    assert response.status == 410
    assert approval_env.recorder.approvals == []


def test_a_stale_task_token_leaves_the_decision_recorded_for_the_retried_request(
    approval_env: ApprovalEnv,
) -> None:
    """The approval task was retried: the stored token's task is gone but the execution still waits
    (its new request delivers the recorded decision itself). The decision stands: 200, not 410."""
    job = approval_env.pending(C.STEP_FUNCTIONS)
    approval_env.recorder.fail_next("TaskDoesNotExist", 400)

    response = approval_env.operator("approve", job.job_id)

    assert response.status == 200
    recorded = approval_env.repo.get(job.job_id)
    assert (recorded.status, recorded.callback_sent_at) == (JobStatus.APPROVED, None)


def approval_env_wait_for_claim(env: ApprovalEnv, job_id: str, timeout: float = 10) -> None:
    """Until a sender holds the job's callback claim (it is then inside its send)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "callback_claim" in env.raw_item(job_id):
            return
        time.sleep(0.01)
    raise AssertionError(f"nobody claimed the callback of {job_id}")
