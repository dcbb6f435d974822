"""Decisions on different jobs arriving together through the local gateway are each answered for their own
job, as on Lambda, where each execution environment runs one invocation at a time
(https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html).

The approval function keeps Powertools' resolver at module level; while it resolves a request it holds the
request's route and arguments (and the library holds the current event). The interleaving is made certain:
the first request to reach the resolver's request validation, its route already held, is paused there until
another decision has been answered (up to PAUSE seconds). Where the host lets invocations share the
resolver, the others run through it meanwhile; where it runs them one at a time (one per execution
environment), the first goes on alone after the pause and the others follow. The pause point is the
validation middleware's debug line: a filter on that logger holds it, and drops the line.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from botocore.credentials import Credentials

from etl_aws import contract as C
from etl_aws.models import TERMINAL, JobStatus
from etl_local.runtime import ACCESS_KEY, OPERATOR_ARN, SECRET_KEY, LocalRuntime
from etl_ops.api import ApprovalApi, Response
from tests.e2e.test_local_runtime import WAITING, csv_file

DECISIONS = 6  # sent at once
PAUSE = 5.0  # seconds
VALIDATION_LOGGER = "aws_lambda_powertools.event_handler.middlewares.openapi_validation"
VALIDATION_LINE = "OpenAPIRequestValidationMiddleware handler"


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    root: Path = tmp_path_factory.mktemp("local")
    with LocalRuntime(root=root, approval_timeout_seconds=120) as rt:
        yield rt


def pending_jobs(runtime: LocalRuntime, count: int, prefix: str) -> list[str]:
    job_ids = [runtime.upload(C.DURABLE, f"uploads/{prefix}-{i}.csv", csv_file(seed=i)) for i in range(count)]
    for job_id in job_ids:
        assert runtime.wait_for(job_id, WAITING).status == JobStatus.PENDING_APPROVAL
    return job_ids


@contextlib.contextmanager
def first_request_paused_in_validation(answered: threading.Event) -> Iterator[None]:
    """The first request to reach the resolver's request validation waits until `answered`, or PAUSE s."""
    log = logging.getLogger(VALIDATION_LOGGER)
    reached = itertools.count()

    def pause(record: logging.LogRecord) -> bool:
        if record.getMessage().startswith(VALIDATION_LINE) and next(reached) == 0:
            answered.wait(PAUSE)
        return False

    level = log.level
    log.setLevel(logging.DEBUG)
    log.addFilter(pause)
    try:
        yield
    finally:
        log.removeFilter(pause)
        log.setLevel(level)


def decide_at_once(api: ApprovalApi, job_ids: list[str], answered: threading.Event) -> list[Response]:
    """Approve the even jobs and reject the odd ones, each with a reason naming its own job, all at once;
    `answered` is set as each answer comes back."""

    def decide(i: int, job_id: str) -> Response:
        if i % 2 == 0:
            response = api.approve(job_id, reason=f"approve {job_id}")
        else:
            response = api.reject(job_id, reason=f"reject {job_id}")
        answered.set()
        return response

    with ThreadPoolExecutor(len(job_ids)) as pool:
        return list(pool.map(decide, range(len(job_ids)), job_ids))


def test_concurrent_decisions_on_different_jobs_are_each_answered_for_their_own_job(
    runtime: LocalRuntime,
) -> None:
    api = ApprovalApi(runtime.api_url, Credentials(ACCESS_KEY, SECRET_KEY))
    job_ids = pending_jobs(runtime, DECISIONS, "together")
    answered = threading.Event()

    with first_request_paused_in_validation(answered):
        responses = decide_at_once(api, job_ids, answered)

    assert [r.status for r in responses] == [200] * DECISIONS, [r.text[:200] for r in responses]
    for i, (job_id, response) in enumerate(zip(job_ids, responses, strict=True)):
        body = response.json()
        assert body["job_id"] == job_id
        assert body["decision"]["approved"] is (i % 2 == 0)
        assert body["decision"]["reason"].endswith(job_id)
        assert body["decision"]["reviewer"] == OPERATOR_ARN
    finished = [runtime.wait_for(job_id, TERMINAL) for job_id in job_ids]
    expected = [JobStatus.COMPLETED if i % 2 == 0 else JobStatus.REJECTED for i in range(DECISIONS)]
    assert [job.status for job in finished] == expected
    assert [job.decision.reason for job in finished if job.decision] == [
        f"{'approve' if i % 2 == 0 else 'reject'} {job_id}" for i, job_id in enumerate(job_ids)
    ]
