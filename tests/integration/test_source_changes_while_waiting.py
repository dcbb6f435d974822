"""A job waits for a decision for up to its approval timeout; meanwhile the source can be deleted (a delete
marker on the versioned bucket), its version destroyed, or overwritten. Each ends the job in a defined way.
And a file too large for one invocation is refused at extract with the limit and its reason.

The steps are the ones both orchestrators sequence, so each case is driven through them directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from etl_aws import contract as C
from etl_aws import identity, steps
from etl_aws.errors import FileRejected, PipelineError
from etl_aws.jobs import JobsRepository
from etl_aws.models import Decision, JobStatus, Outcome
from tests.integration.etl_aws_support import (
    csv_bytes,
    objects,
    run_to_pending,
    shared_botocore_models,
    start_request,
    upload,
    versions,
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
    try:
        steps.finalize(job_id, Outcome.APPROVED, APPROVAL, cfg=cfg)
    except (PipelineError, ClientError) as exc:
        code = getattr(exc, "code", None) or type(exc).__name__
        steps.finalize(job_id, Outcome.FAILED, error={"code": code, "message": str(exc)}, cfg=cfg)


def test_a_delete_marker_while_waiting_still_archives_and_publishes_the_pinned_version(
    aws: Any, workflow: str
) -> None:
    cfg = aws.settings(workflow)
    body = csv_bytes(rows=50)
    ref = upload(aws, "uploads/deleted-while-waiting.csv", body, workflow)
    job_id = run_to_pending(cfg, ref).job_id
    aws.client("s3").delete_object(Bucket=ref.bucket, Key=ref.key)  # versioned: only a delete marker

    _approve(aws, workflow, job_id)

    job = JobsRepository(cfg.jobs_table).get(job_id)
    assert job.status == JobStatus.COMPLETED
    assert objects(aws, cfg.output_bucket, f"{C.PROCESSED_PREFIX}{job_id}/")
    assert objects(aws, ref.bucket, C.ARCHIVE_PREFIX) == {
        f"{C.ARCHIVE_PREFIX}{job_id}/deleted-while-waiting.csv": body
    }
    assert versions(aws, ref.bucket, ref.key) == []


def test_a_source_version_destroyed_while_waiting_fails_the_job_and_publishes_nothing(
    aws: Any, workflow: str
) -> None:
    cfg = aws.settings(workflow)
    ref = upload(aws, "uploads/destroyed-while-waiting.csv", csv_bytes(rows=50), workflow)
    job_id = run_to_pending(cfg, ref).job_id
    aws.client("s3").delete_object(Bucket=ref.bucket, Key=ref.key, VersionId=ref.version_id)

    _approve(aws, workflow, job_id)

    job = JobsRepository(cfg.jobs_table).get(job_id)
    assert objects(aws, cfg.output_bucket, C.PROCESSED_PREFIX) == {}
    assert job.status == JobStatus.FAILED
    assert job.error is not None
    assert job.error["code"] == "source_missing"


def test_an_overwrite_while_waiting_is_a_new_job_and_the_old_one_archives_its_own_version(
    aws: Any, workflow: str
) -> None:
    cfg = aws.settings(workflow)
    old_body, new_body = csv_bytes(rows=50, seed=1), csv_bytes(rows=60, seed=2)
    old = upload(aws, "uploads/overwritten.csv", old_body, workflow)
    old_job = run_to_pending(cfg, old).job_id
    new = upload(aws, "uploads/overwritten.csv", new_body, workflow)
    new_job = identity.job_id(new)

    _approve(aws, workflow, old_job)
    requested = run_to_pending(cfg, new)

    repo = JobsRepository(cfg.jobs_table)
    assert new_job != old_job
    assert repo.get(old_job).status == JobStatus.COMPLETED
    assert objects(aws, old.bucket, C.ARCHIVE_PREFIX) == {
        f"{C.ARCHIVE_PREFIX}{old_job}/overwritten.csv": old_body
    }
    assert objects(aws, old.bucket, C.UPLOAD_PREFIX) == {new.key: new_body}  # the new upload is untouched
    assert versions(aws, old.bucket, old.key) == [new.version_id]
    assert requested.job_id == new_job
    assert repo.get(new_job).status == JobStatus.PENDING_APPROVAL
    assert repo.get(new_job).source["version_id"] == new.version_id


def test_a_file_over_the_limit_is_refused_at_extract_with_the_limit_and_the_reason(
    aws: Any, workflow: str
) -> None:
    cfg = aws.settings(workflow, max_file_bytes=1000)
    ref = upload(aws, "uploads/too-big.csv", csv_bytes(rows=100), workflow)

    with pytest.raises(FileRejected) as refused:
        steps.extract(start_request(ref), cfg)

    job = JobsRepository(cfg.jobs_table).get(identity.job_id(ref))
    assert refused.value.code == "file_too_large"
    assert job.status == JobStatus.FAILED
    assert job.error == {"code": "file_too_large", "message": cfg.file_too_large(len(csv_bytes(rows=100)))}
