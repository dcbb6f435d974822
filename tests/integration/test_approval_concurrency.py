"""Twenty decisions racing on one job: one wins, its repeats agree, the others conflict, one callback.

Each thread stands for one Lambda execution environment. Powertools' resolver keeps the current event in
class state (one request per process, as in Lambda), so the threads call the service the handler calls,
`etl_aws.approval.decide`, each with its own DynamoDB resource; each outcome is the refusal the service
raised (the API answers `DecisionConflict` and `ReviewLinkUsed` with 409, see test_approval_decisions.py).
`atomic_dynamodb` gives moto DynamoDB's atomic conditional writes.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import boto3
import pytest

from etl_aws import approval
from etl_aws import contract as C
from etl_aws.approval import ReviewLinkUsed
from etl_aws.errors import DecisionConflict
from etl_aws.jobs import JobsRepository
from tests.integration.approval_support import OPERATOR_ARN, ApprovalEnv

pytest_plugins = ["tests.integration.approval_fixtures"]

THREADS = 20
OK = "ok"  # the decision was recorded, or was a repeat of the recorded one (the API answers 200)


def _race(env: ApprovalEnv, job_id: str, decisions: list[tuple[bool, str, str | None]]) -> list[Any]:
    """Run each (approved, via, token) decision in its own thread, all released at once."""
    table = env.stack.resources["jobs_table"]
    repos = [JobsRepository(table, boto3.session.Session().resource("dynamodb")) for _ in decisions]
    barrier = threading.Barrier(len(decisions))
    results: list[Any] = [None] * len(decisions)

    def run(i: int, approved: bool, via: str, token: str | None) -> None:
        barrier.wait()
        try:
            _, created = approval.decide(
                job_id, approved, OPERATOR_ARN, "" if approved else "no", via=via, token=token, repo=repos[i]
            )
            results[i] = (OK, approved, created)
        except Exception as exc:
            results[i] = (type(exc).__name__, approved, None)

    threads = [threading.Thread(target=run, args=(i, *decision)) for i, decision in enumerate(decisions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.parametrize("workflow", [C.DURABLE, C.STEP_FUNCTIONS])
def test_concurrent_decisions_send_exactly_one_callback(
    approval_env: ApprovalEnv, atomic_dynamodb: None, workflow: str
) -> None:
    job = approval_env.pending(workflow)
    decisions = [(i % 2 == 0, "iam", None) for i in range(THREADS)]

    results = _race(approval_env, job.job_id, decisions)

    winner = approval_env.repo.get(job.job_id).decision.approved
    outcomes = Counter((outcome, approved == winner) for outcome, approved, _ in results)
    assert outcomes == {(OK, True): THREADS // 2, (DecisionConflict.__name__, False): THREADS // 2}, results
    assert [approved for _, approved, created in results if created is True] == [winner]
    assert len(approval_env.recorder.sent) == 1
    assert approval_env.recorder.approvals == [winner]
    assert approval_env.recorder.sent[0].token == job.callback_token


def test_concurrent_review_link_and_operator_decisions_send_one_callback(
    approval_env: ApprovalEnv, atomic_dynamodb: None
) -> None:
    job = approval_env.pending()
    decisions = [
        (i % 3 != 0, "review_link" if i % 2 else "iam", job.review_token if i % 2 else None)
        for i in range(THREADS)
    ]

    results = _race(approval_env, job.job_id, decisions)

    assert sum(1 for _, _, created in results if created is True) == 1
    refusals = {DecisionConflict.__name__, ReviewLinkUsed.__name__}
    assert {outcome for outcome, _, _ in results} <= {OK, *refusals}, results
    assert len(approval_env.recorder.sent) == 1
    assert approval_env.repo.get(job.job_id).callback_sent_at is not None


def test_concurrent_repeats_after_a_failed_send_resend_once(
    approval_env: ApprovalEnv, atomic_dynamodb: None
) -> None:
    job = approval_env.pending()
    approval_env.recorder.fail_next()
    assert approval_env.operator("approve", job.job_id).status == 503

    results = _race(approval_env, job.job_id, [(True, "iam", None)] * THREADS)

    assert [outcome for outcome, _, _ in results] == [OK] * THREADS
    assert approval_env.recorder.attempts == 2
    assert approval_env.recorder.approvals == [True]
