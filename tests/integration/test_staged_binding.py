"""finalize publishes only the staged data a decision was made on: each staged object's SHA-256, ETag and
S3 version are recorded when written; a staged object replaced afterwards (before finalize checks, or
between its check and its copy) ends the job FAILED with nothing published and the source left in place.

The steps are the ones both orchestrators sequence, so each case is driven through them directly.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from etl_aws import contract as C
from etl_aws import staging, steps
from etl_aws.errors import FileRejected, PipelineError
from etl_aws.jobs import JobsRepository
from etl_aws.models import Decision, JobStatus, Outcome
from tests.integration.etl_aws_support import (
    csv_bytes,
    objects,
    run_to_pending,
    shared_botocore_models,
    upload,
)

APPROVAL = Decision(approved=True, reviewer="alice", reason="counts match", decided_at="2025-01-01T00:00:00Z")


@pytest.fixture(autouse=True, scope="module")
def _models_parsed_once() -> Iterator[None]:
    with shared_botocore_models():
        yield


@pytest.fixture(params=C.WORKFLOWS)
def workflow(request: pytest.FixtureRequest) -> str:
    return request.param


def _approve(aws: Any, workflow: str, job_id: str) -> None:
    """Deliver an approval as the orchestrators do: finalize, and on an error, finalize as FAILED."""
    cfg = aws.settings(workflow)
    JobsRepository(cfg.jobs_table).record_decision(job_id, APPROVAL)
    try:
        steps.finalize(job_id, Outcome.APPROVED, APPROVAL, cfg=cfg)
    except (PipelineError, ClientError) as exc:
        code = getattr(exc, "code", None) or type(exc).__name__
        steps.finalize(job_id, Outcome.FAILED, error={"code": code, "message": str(exc)}, cfg=cfg)


def test_load_records_each_staged_objects_sha256_size_etag_and_version(aws: Any, workflow: str) -> None:
    cfg = aws.settings(workflow)
    job_id = run_to_pending(cfg, upload(aws, "uploads/recorded.csv", csv_bytes(rows=30), workflow)).job_id
    job = JobsRepository(cfg.jobs_table).get(job_id)
    s3 = aws.client("s3")

    assert job.staged is not None
    assert sorted(job.staged) == ["manifest", "records", "rejects"]
    for item in job.staged.values():
        got = s3.get_object(Bucket=cfg.output_bucket, Key=item["key"])
        body = got["Body"].read()
        assert item["sha256"] == hashlib.sha256(body).hexdigest()
        assert item["bytes"] == len(body)
        assert item["etag"] == got["ETag"].strip('"')
        assert item["version_id"] == got["VersionId"]
    manifest = json.loads(
        s3.get_object(Bucket=cfg.output_bucket, Key=job.staged["manifest"]["key"])["Body"].read()
    )
    assert manifest["files"][C.RECORDS_FILE]["sha256"] == job.staged["records"]["sha256"]
    assert manifest["files"][C.REJECTS_FILE]["sha256"] == job.staged["rejects"]["sha256"]


@pytest.mark.parametrize("name", staging.NAMES)
def test_a_staged_object_replaced_while_waiting_fails_the_job_and_publishes_nothing(
    aws: Any, workflow: str, name: str
) -> None:
    cfg = aws.settings(workflow)
    ref = upload(aws, f"uploads/tampered-{name}.csv", csv_bytes(rows=30), workflow)
    job_id = run_to_pending(cfg, ref).job_id
    key = JobsRepository(cfg.jobs_table).get(job_id).staged[name]["key"]  # type: ignore[index]
    aws.client("s3").put_object(Bucket=cfg.output_bucket, Key=key, Body=b'{"id": "injected"}\n')

    _approve(aws, workflow, job_id)

    job = JobsRepository(cfg.jobs_table).get(job_id)
    assert job.status == JobStatus.FAILED
    assert job.error is not None
    assert job.error["code"] == staging.CHANGED
    assert f"staged {name} output" in job.error["message"]
    assert "nothing was published" in job.error["message"]
    assert objects(aws, cfg.output_bucket, C.PROCESSED_PREFIX) == {}
    assert objects(aws, ref.bucket, C.ARCHIVE_PREFIX) == {}  # the source stays where it was uploaded
    assert list(objects(aws, ref.bucket, ref.key)) == [ref.key]


def test_a_staged_object_deleted_while_waiting_fails_the_job(aws: Any, workflow: str) -> None:
    cfg = aws.settings(workflow)
    job_id = run_to_pending(
        cfg, upload(aws, "uploads/deleted-staging.csv", csv_bytes(rows=30), workflow)
    ).job_id
    key = JobsRepository(cfg.jobs_table).get(job_id).staged["rejects"]["key"]  # type: ignore[index]
    aws.client("s3").delete_object(Bucket=cfg.output_bucket, Key=key)  # versioned: a delete marker

    _approve(aws, workflow, job_id)

    job = JobsRepository(cfg.jobs_table).get(job_id)
    assert job.status == JobStatus.FAILED
    assert job.error is not None
    assert job.error["code"] == staging.CHANGED
    assert objects(aws, cfg.output_bucket, C.PROCESSED_PREFIX) == {}


def _between_check_and_copy(monkeypatch: pytest.MonkeyPatch, change: Any) -> None:
    """Run `change(bucket, staged)` right after finalize's check of the staged objects passed."""
    checked = staging.current_problem

    def check_then_change(bucket: str, staged: dict[str, Any]) -> str | None:
        problem = checked(bucket, staged)
        change(bucket, staged)
        return problem

    monkeypatch.setattr(staging, "current_problem", check_then_change)


def test_a_staged_object_replaced_between_its_check_and_its_copy_is_not_what_gets_published(
    aws: Any, workflow: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The copy names the recorded version: a replacement made after the check is never published."""
    cfg = aws.settings(workflow)
    job_id = run_to_pending(cfg, upload(aws, "uploads/raced.csv", csv_bytes(rows=30), workflow)).job_id
    s3 = aws.client("s3")
    _between_check_and_copy(
        monkeypatch,
        lambda bucket, staged: s3.put_object(Bucket=bucket, Key=staged["rejects"]["key"], Body=b"{}\n"),
    )
    recorded = JobsRepository(cfg.jobs_table).get(job_id).staged or {}

    _approve(aws, workflow, job_id)

    published = objects(aws, cfg.output_bucket, f"{C.PROCESSED_PREFIX}{job_id}/")
    rejects = published[f"{C.PROCESSED_PREFIX}{job_id}/{C.REJECTS_FILE}"]
    assert hashlib.sha256(rejects).hexdigest() == recorded["rejects"]["sha256"]
    assert rejects != b"{}\n"


def test_a_staged_version_destroyed_between_its_check_and_its_copy_publishes_nothing(
    aws: Any, workflow: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The records are copied, then the rejects' copy is refused: the records are taken back."""
    cfg = aws.settings(workflow)
    job_id = run_to_pending(cfg, upload(aws, "uploads/destroyed.csv", csv_bytes(rows=30), workflow)).job_id
    s3 = aws.client("s3")

    def destroy_rejects(bucket: str, staged: dict[str, Any]) -> None:
        item = staged["rejects"]
        s3.delete_object(Bucket=bucket, Key=item["key"], VersionId=item["version_id"])

    _between_check_and_copy(monkeypatch, destroy_rejects)

    _approve(aws, workflow, job_id)

    job = JobsRepository(cfg.jobs_table).get(job_id)
    assert job.status == JobStatus.FAILED
    assert job.error is not None
    assert job.error["code"] == staging.CHANGED
    assert "while it was being published" in job.error["message"]
    assert objects(aws, cfg.output_bucket, C.PROCESSED_PREFIX) == {}


def test_a_decision_made_on_other_hashes_is_not_published(aws: Any, workflow: str) -> None:
    """A decision that reached the workflow directly, naming hashes the job did not record."""
    cfg = aws.settings(workflow)
    job_id = run_to_pending(cfg, upload(aws, "uploads/other.csv", csv_bytes(rows=30), workflow)).job_id
    other = APPROVAL.model_copy(update={"staged": {"records": "0" * 64}})
    JobsRepository(cfg.jobs_table).record_decision(job_id, other)

    with pytest.raises(FileRejected):
        steps.finalize(job_id, Outcome.APPROVED, other, cfg=cfg)

    assert JobsRepository(cfg.jobs_table).get(job_id).status == JobStatus.FAILED
    assert objects(aws, cfg.output_bucket, C.PROCESSED_PREFIX) == {}


def test_unchanged_staged_data_publishes_exactly_the_recorded_bytes(aws: Any, workflow: str) -> None:
    cfg = aws.settings(workflow)
    job_id = run_to_pending(cfg, upload(aws, "uploads/kept.csv", csv_bytes(rows=30), workflow)).job_id
    staged = JobsRepository(cfg.jobs_table).get(job_id).staged or {}

    _approve(aws, workflow, job_id)

    job = JobsRepository(cfg.jobs_table).get(job_id)
    assert job.status == JobStatus.COMPLETED
    published = objects(aws, cfg.output_bucket, f"{C.PROCESSED_PREFIX}{job_id}/")
    assert {hashlib.sha256(body).hexdigest() for body in published.values()} == {
        item["sha256"] for item in staged.values()
    }


def test_the_local_stack_refuses_a_copy_whose_source_etag_changed_as_aws_does(aws: Any) -> None:
    """moto ignores x-amz-copy-source-if-match; etl_local.s3_conditions enforces it (412)."""
    s3 = aws.client("s3")
    bucket = aws.output_bucket(C.DURABLE)
    first = s3.put_object(Bucket=bucket, Key="staging/a", Body=b"one")["ETag"]
    s3.put_object(Bucket=bucket, Key="staging/a", Body=b"two")

    with pytest.raises(ClientError) as refused:
        s3.copy_object(
            Bucket=bucket,
            Key="out/a",
            CopySource={"Bucket": bucket, "Key": "staging/a"},
            CopySourceIfMatch=first,
        )
    current = s3.head_object(Bucket=bucket, Key="staging/a")["ETag"]
    s3.copy_object(
        Bucket=bucket,
        Key="out/b",
        CopySource={"Bucket": bucket, "Key": "staging/a"},
        CopySourceIfMatch=current,
    )

    assert refused.value.response["Error"]["Code"] == "PreconditionFailed"
    assert objects(aws, bucket, "out/") == {"out/b": b"two"}
