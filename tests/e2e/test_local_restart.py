"""The local stack stopped while jobs wait for a decision and started again: nothing is lost.

S3 objects, the jobs table, queues, subscriptions and both orchestrators' waiting executions come back
from the state directory; the approval deadline is the one set before the stop, so an approval that
expired while the stack was down ends EXPIRED at start. Time is moved with `clock.shifted`, not waited.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from botocore.credentials import Credentials

from etl_aws import clock
from etl_aws import contract as C
from etl_aws.models import TERMINAL, JobStatus
from etl_core import synth
from etl_local.runtime import ACCESS_KEY, SECRET_KEY, LocalRuntime, available_workflows
from etl_ops.api import ApprovalApi

APPROVAL_TIMEOUT = 600
WAITING = frozenset({JobStatus.PENDING_APPROVAL, *TERMINAL})


def csv_file(seed: int) -> bytes:
    out = io.BytesIO()
    synth.write_csv(out, 30, bad_ratio=0.1, seed=seed)
    return out.getvalue()


def published_keys(runtime: LocalRuntime, workflow: str, job_id: str) -> list[str]:
    listed = runtime.client("s3").list_objects_v2(
        Bucket=runtime.output_bucket(workflow), Prefix=f"{C.PROCESSED_PREFIX}{job_id}/"
    )
    return [o["Key"] for o in listed.get("Contents", [])]


def stack(root: Path, fresh: bool) -> LocalRuntime:
    """The local stack on `root` (started by `with`)."""
    return LocalRuntime(root=root, approval_timeout_seconds=APPROVAL_TIMEOUT, fresh=fresh)


@pytest.fixture
def stopped_with_jobs_waiting(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A stack that ran one job per pipeline up to its approval, then stopped; yields (root, jobs)."""
    root = tmp_path / "local"
    with stack(root, fresh=True) as runtime:
        jobs = {w: runtime.upload(w, f"uploads/{w}-waits.csv", csv_file(5)) for w in available_workflows()}
        for job_id in jobs.values():
            assert runtime.wait_for(job_id, WAITING).status == JobStatus.PENDING_APPROVAL
    return root, jobs


def test_jobs_waiting_at_a_stop_are_approved_after_a_start_and_complete(
    stopped_with_jobs_waiting: tuple[Path, dict[str, str]],
) -> None:
    root, jobs = stopped_with_jobs_waiting

    with stack(root, fresh=False) as runtime:
        api = ApprovalApi(runtime.api_url, Credentials(ACCESS_KEY, SECRET_KEY))
        for job_id in jobs.values():
            assert runtime.job(job_id).status == JobStatus.PENDING_APPROVAL
            response = api.approve(job_id, reason="approved after a restart")
            assert response.status == 200, response.text
        done = {workflow: runtime.wait_for(job_id, TERMINAL) for workflow, job_id in jobs.items()}

        for workflow, job in done.items():
            assert job.status == JobStatus.COMPLETED, (workflow, job)
            assert published_keys(runtime, workflow, job.job_id), f"{workflow}: nothing published"
        if C.DURABLE in jobs:
            assert runtime.durable is not None
            assert runtime.durable.status(jobs[C.DURABLE]) == "SUCCEEDED"


def test_an_approval_that_expired_while_stopped_ends_expired_at_start(
    stopped_with_jobs_waiting: tuple[Path, dict[str, str]],
) -> None:
    root, jobs = stopped_with_jobs_waiting

    with clock.shifted(APPROVAL_TIMEOUT + 60), stack(root, fresh=False) as runtime:
        done = {workflow: runtime.wait_for(job_id, TERMINAL) for workflow, job_id in jobs.items()}

        for workflow, job in done.items():
            assert job.status == JobStatus.EXPIRED, (workflow, job)
            assert not published_keys(runtime, workflow, job.job_id)
