"""The source changes while a job waits for its decision, through both orchestrators end to end: a delete
marker leaves the pinned version to archive and publish; a destroyed version must end the job FAILED with
nothing published."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from etl_aws import callbacks, identity
from etl_aws import contract as C
from etl_aws.jobs import Job, JobsRepository, now_iso
from etl_aws.models import Decision, JobStatus, ObjectRef
from tests.integration import sfn_harness
from tests.integration.durable_harness import DurableHarness, wait_for
from tests.integration.etl_aws_support import csv_bytes, objects
from tests.integration.sfn_harness import APPROVE, SfnPipeline

sfn = sfn_harness.sfn
sfn_factory = sfn_harness.sfn_factory

# Changes a test makes to the source while the job waits: (s3 client, the uploaded object).
Change = Callable[[Any, ObjectRef], None]


def delete_marker(s3: Any, ref: ObjectRef) -> None:
    s3.delete_object(Bucket=ref.bucket, Key=ref.key)


def destroy_version(s3: Any, ref: ObjectRef) -> None:
    s3.delete_object(Bucket=ref.bucket, Key=ref.key, VersionId=ref.version_id)


def run_durable(aws: Any, monkeypatch: pytest.MonkeyPatch, change: Change) -> tuple[Job, str]:
    """Upload, run the durable orchestrator to the decision, change the source, approve, wait for the end."""
    from etl_durable.orchestrator import handler

    harness = DurableHarness(handler, monkeypatch)
    try:
        bucket = aws.raw_bucket(C.DURABLE)
        key = "uploads/changed-while-waiting.csv"
        put = aws.client("s3").put_object(Bucket=bucket, Key=key, Body=csv_bytes(rows=40))
        ref = ObjectRef(bucket=bucket, key=key, version_id=put["VersionId"], etag=put["ETag"].strip('"'))
        job_id = identity.job_id(ref)
        arn = harness.start(ref, job_id)
        repo = JobsRepository(aws.resources["jobs_table"])
        wait_for(lambda: (job := repo.find(job_id)) and job.notified_at)
        change(aws.client("s3"), ref)
        decision = APPROVE.model_copy(update={"decided_at": now_iso(), "via": "iam"})
        callbacks.send_decision(C.DURABLE, harness.callback_id(arn), decision)
        harness.result(arn)
    finally:
        harness.close()
    return repo.get(job_id), aws.output_bucket(C.DURABLE)


def run_sfn(pipeline: SfnPipeline, change: Change) -> tuple[Job, str]:
    """The same through the Step Functions pipeline (moto's ASL interpreter, the real task handlers)."""
    ref = pipeline.upload(csv_bytes(rows=40), "uploads/changed-while-waiting.csv")
    job_id = identity.job_id(ref)
    assert pipeline.start(ref) == {"batchItemFailures": []}
    assert pipeline.wait_until_waiting_or_done(job_id) is not None
    change(pipeline.stack.client("s3"), ref)
    pipeline.decide(job_id, Decision(approved=True, reviewer="arn:aws:iam::123456789012:user/ops"))
    pipeline.wait_for_end(job_id)
    return pipeline.jobs().get(job_id), pipeline.output_bucket


@pytest.fixture(params=C.WORKFLOWS)
def run(request: pytest.FixtureRequest, aws: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    if request.param == C.DURABLE:
        yield lambda change: run_durable(aws, monkeypatch, change)
    else:
        pipeline = request.getfixturevalue("sfn")
        yield lambda change: run_sfn(pipeline, change)


def test_a_delete_marker_while_waiting_still_completes_with_the_pinned_version(aws: Any, run: Any) -> None:
    job, output_bucket = run(delete_marker)

    assert job.status == JobStatus.COMPLETED
    assert sorted(objects(aws, output_bucket, f"{C.PROCESSED_PREFIX}{job.job_id}/")) == [
        f"{C.PROCESSED_PREFIX}{job.job_id}/{name}"
        for name in (C.MANIFEST_FILE, C.RECORDS_FILE, C.REJECTS_FILE)
    ]
    assert list(objects(aws, job.source["bucket"], C.ARCHIVE_PREFIX)) == [
        f"{C.ARCHIVE_PREFIX}{job.job_id}/changed-while-waiting.csv"
    ]


def test_a_source_version_destroyed_while_waiting_ends_failed_with_nothing_published(
    aws: Any, run: Any
) -> None:
    job, output_bucket = run(destroy_version)

    assert objects(aws, output_bucket, C.PROCESSED_PREFIX) == {}
    assert job.status == JobStatus.FAILED
    assert job.error is not None
    assert job.error["code"] == "source_missing"
