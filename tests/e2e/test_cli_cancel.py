"""`etl jobs cancel ID` and `etl jobs cancel --all-waiting` on the local runtime, on both pipelines.

A cancelled job ends CANCELLED with its execution stopped (Step Functions ABORTED, durable STOPPED),
nothing under processed/, its staging removed and its source archived; its review link then answers 410
`cancelled`. A job that has ended is never cancelled.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.credentials import Credentials

from etl_aws import contract as C
from etl_aws.layout import OUTPUT_FILES, archive_key, processed_key
from etl_aws.models import TERMINAL, JobStatus
from etl_local.runtime import ACCESS_KEY, SECRET_KEY, LocalRuntime
from etl_ops.api import ApprovalApi
from tests.e2e.test_cli_operations import WAITING, csv_bytes, etl, workflows


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    with LocalRuntime(root=tmp_path_factory.mktemp("local"), approval_timeout_seconds=300) as rt:
        yield rt


@pytest.fixture(scope="module")
def api(runtime: LocalRuntime) -> ApprovalApi:
    return ApprovalApi(runtime.api_url, Credentials(ACCESS_KEY, SECRET_KEY))


def waiting_job(runtime: LocalRuntime, workflow: str, name: str, seed: int) -> str:
    job_id = runtime.upload(workflow, f"uploads/{name}.csv", csv_bytes(seed))
    assert runtime.wait_for(job_id, WAITING).status == JobStatus.PENDING_APPROVAL
    return job_id


def keys(runtime: LocalRuntime, bucket: str, prefix: str) -> list[str]:
    found = runtime.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
    return [item["Key"] for item in found.get("Contents", [])]


def execution_status(runtime: LocalRuntime, job: Any, timeout: float = 30) -> str:
    """The orchestrator's status of the job's execution, once it left RUNNING or after `timeout` s (moto's
    interpreter ends a stopped execution on its own thread, just after StopExecution answers)."""
    deadline = time.monotonic() + timeout
    while True:
        if job.workflow == C.STEP_FUNCTIONS:
            sfn = runtime.client("stepfunctions")
            status = str(sfn.describe_execution(executionArn=job.execution_arn)["status"])
        else:
            assert runtime.durable is not None
            status = str(runtime.durable.status(job.job_id))
        if status != "RUNNING" or time.monotonic() > deadline:
            return status
        time.sleep(0.1)


@pytest.mark.parametrize("workflow", workflows())
def test_cancel_of_a_waiting_job_stops_it_publishes_nothing_and_archives_the_source(
    runtime: LocalRuntime, api: ApprovalApi, capsys: pytest.CaptureFixture[str], workflow: str
) -> None:
    job_id = waiting_job(runtime, workflow, f"cancel-me-{workflow}", 41)
    assert runtime.outbox is not None
    link = runtime.outbox.wait_for(job_id, timeout=30).review_link
    output = runtime.output_bucket(workflow)
    assert keys(runtime, output, f"{C.STAGING_PREFIX}{job_id}/")

    code, out = etl(runtime, capsys, "jobs", "cancel", job_id, "--reason", "wrong file")

    assert code == 0, out
    job = runtime.job(job_id)
    assert job is not None
    assert job.status == JobStatus.CANCELLED
    assert job.cancelled is not None
    caller = runtime.client("sts").get_caller_identity()["Arn"]
    assert (job.cancelled["by"], job.cancelled["reason"]) == (caller, "wrong file")
    assert "execution stopped" in out
    assert execution_status(runtime, job) == ("ABORTED" if workflow == C.STEP_FUNCTIONS else "STOPPED")
    if workflow == C.STEP_FUNCTIONS:  # stopped while waiting: no later state ran
        events = runtime.client("stepfunctions").get_execution_history(executionArn=job.execution_arn)
        entered = [
            e["stateEnteredEventDetails"]["name"] for e in events["events"] if "stateEnteredEventDetails" in e
        ]
        assert entered[-1] == "RequestApproval"
    assert keys(runtime, output, f"{C.PROCESSED_PREFIX}{job_id}/") == []
    assert keys(runtime, output, f"{C.STAGING_PREFIX}{job_id}/") == []
    raw = runtime.raw_bucket(workflow)
    assert keys(runtime, raw, f"uploads/cancel-me-{workflow}.csv") == []
    assert keys(runtime, raw, archive_key(job_id, job.source["key"])) == [job.outputs["archive"]]
    page = api.review_page(link)
    assert (page.status, "This file was cancelled" in page.text) == (410, True)
    decided = api.approve(job_id)
    assert (decided.status, decided.json()["error"]) == (410, "cancelled")


def test_cancel_of_a_completed_job_is_refused_and_changes_nothing(
    runtime: LocalRuntime, api: ApprovalApi, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id = waiting_job(runtime, C.DURABLE, "finished", 42)
    assert api.approve(job_id).status == 200
    done = runtime.wait_for(job_id, TERMINAL)
    assert done.status == JobStatus.COMPLETED

    with pytest.raises(SystemExit, match=f"job {job_id} is COMPLETED: its output is published"):
        etl(runtime, capsys, "jobs", "cancel", job_id)

    after = runtime.job(job_id)
    assert after is not None
    assert (after.status, after.history, after.outputs) == (done.status, done.history, done.outputs)
    published = keys(runtime, runtime.output_bucket(C.DURABLE), f"{C.PROCESSED_PREFIX}{job_id}/")
    assert sorted(published) == sorted(processed_key(job_id, name) for name in OUTPUT_FILES)


def test_cancel_again_finishes_the_first_cancel_and_reports_it(
    runtime: LocalRuntime, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id = waiting_job(runtime, C.DURABLE, "cancel-twice", 43)
    etl(runtime, capsys, "jobs", "cancel", job_id)
    # A step still running when the execution stopped may stage a file after the first clean-up.
    output = runtime.output_bucket(C.DURABLE)
    late = f"{C.STAGING_PREFIX}{job_id}/{C.RECORDS_FILE}"
    runtime.client("s3").put_object(Bucket=output, Key=late, Body=b"{}\n")

    code, out = etl(runtime, capsys, "jobs", "cancel", job_id)

    assert code == 0, out
    assert "was already cancelled" in out
    assert keys(runtime, output, f"{C.STAGING_PREFIX}{job_id}/") == []


def test_cancel_all_waiting_of_one_pipeline_leaves_the_other_pipeline_waiting(
    runtime: LocalRuntime, capsys: pytest.CaptureFixture[str]
) -> None:
    if len(workflows()) < 2:
        pytest.skip("needs both pipelines (the Step Functions handlers are not installed)")
    durable = [waiting_job(runtime, C.DURABLE, f"teardown-{n}", 50 + n) for n in range(2)]
    other = waiting_job(runtime, C.STEP_FUNCTIONS, "teardown-sfn", 53)

    code, out = etl(runtime, capsys, "jobs", "cancel", "--all-waiting", "--pipeline", C.DURABLE)

    assert code == 0, out
    for job_id in durable:
        job = runtime.job(job_id)
        assert job is not None
        assert job.status == JobStatus.CANCELLED
        assert execution_status(runtime, job) == "STOPPED"
    kept = runtime.job(other)
    assert kept is not None
    assert kept.status == JobStatus.PENDING_APPROVAL


def test_cancel_needs_a_job_id_or_all_waiting(
    runtime: LocalRuntime, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit, match="name one job id, or pass --all-waiting"):
        etl(runtime, capsys, "jobs", "cancel")
