"""`etl jobs unpublish ID --reason`: a COMPLETED job's published output taken back through the signed
approval API, on both pipelines and the local runtime."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from etl_aws import contract as C
from etl_aws.layout import OUTPUT_FILES, processed_key, retracted_key
from etl_aws.models import TERMINAL, JobStatus
from etl_local.runtime import OPERATOR_ARN, LocalRuntime
from tests.e2e.test_cli_operations import WAITING, cli_json, csv_bytes, etl, workflows


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    with LocalRuntime(root=tmp_path_factory.mktemp("local"), approval_timeout_seconds=300) as rt:
        yield rt


def output_objects(runtime: LocalRuntime, workflow: str, prefix: str) -> dict[str, bytes]:
    s3, bucket = runtime.client("s3"), runtime.output_bucket(workflow)
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}


def published_job(runtime: LocalRuntime, capsys: pytest.CaptureFixture[str], workflow: str, seed: int) -> str:
    job_id = runtime.upload(workflow, f"uploads/publish-{workflow}-{seed}.csv", csv_bytes(seed))
    assert runtime.wait_for(job_id, WAITING).status == JobStatus.PENDING_APPROVAL
    code, out = etl(runtime, capsys, "jobs", "approve", job_id, "--reason", "looks right")
    assert code == 0, out
    assert runtime.wait_for(job_id, TERMINAL).status == JobStatus.COMPLETED
    return job_id


@pytest.mark.parametrize("workflow", workflows())
def test_unpublish_moves_the_output_under_retracted_and_records_who_when_why(
    runtime: LocalRuntime, capsys: pytest.CaptureFixture[str], workflow: str
) -> None:
    job_id = published_job(runtime, capsys, workflow, 41)
    published = output_objects(runtime, workflow, f"{C.PROCESSED_PREFIX}{job_id}/")
    assert set(published) == {processed_key(job_id, name) for name in OUTPUT_FILES}

    code, out = etl(runtime, capsys, "jobs", "unpublish", job_id, "--reason", "approved the wrong month")

    assert code == 0, out
    answer = cli_json(out)
    assert (answer["status"], answer["created"]) == ("RETRACTED", True)
    assert output_objects(runtime, workflow, f"{C.PROCESSED_PREFIX}{job_id}/") == {}
    retracted = output_objects(runtime, workflow, f"{C.RETRACTED_PREFIX}{job_id}/")
    for name in OUTPUT_FILES:
        assert retracted[retracted_key(job_id, name)] == published[processed_key(job_id, name)]
    audit = json.loads(retracted[retracted_key(job_id, C.RETRACTION_FILE)])
    assert (audit["by"], audit["reason"]) == (OPERATOR_ARN, "approved the wrong month")
    job = runtime.job(job_id)
    assert job is not None
    assert job.status == JobStatus.RETRACTED
    assert job.retraction is not None
    assert (job.retraction["by"], job.retraction["at"]) == (OPERATOR_ARN, audit["at"])


@pytest.mark.parametrize("workflow", workflows())
def test_unpublish_repeated_is_idempotent(
    runtime: LocalRuntime, capsys: pytest.CaptureFixture[str], workflow: str
) -> None:
    job_id = published_job(runtime, capsys, workflow, 42)
    first = cli_json(etl(runtime, capsys, "jobs", "unpublish", job_id, "--reason", "wrong file")[1])
    stored = output_objects(runtime, workflow, f"{C.RETRACTED_PREFIX}{job_id}/")

    code, out = etl(runtime, capsys, "jobs", "unpublish", job_id, "--reason", "wrong file")

    assert code == 0, out
    assert cli_json(out)["created"] is False
    assert cli_json(out)["retraction"] == first["retraction"]
    assert output_objects(runtime, workflow, f"{C.RETRACTED_PREFIX}{job_id}/") == stored


def test_unpublish_refuses_a_job_that_is_not_completed_with_a_clear_error(
    runtime: LocalRuntime, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id = runtime.upload(C.DURABLE, "uploads/still-waiting.csv", csv_bytes(43))
    runtime.wait_for(job_id, WAITING)

    code, out = etl(runtime, capsys, "jobs", "unpublish", job_id, "--reason", "undo")

    assert code == 1
    assert cli_json(out)["error"] == "not_published"
    assert "is PENDING_APPROVAL: only a COMPLETED job" in cli_json(out)["message"]
    job = runtime.job(job_id)
    assert job is not None
    assert job.status == JobStatus.PENDING_APPROVAL


def test_unpublish_without_a_reason_is_refused_before_any_request(
    runtime: LocalRuntime, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        etl(runtime, capsys, "jobs", "unpublish", "some-job")
