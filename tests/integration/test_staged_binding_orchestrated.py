"""A decision bound to the staged data, through both orchestrators end to end: a staged object replaced
while the job waits ends it FAILED with nothing published; an approval request retried after its e-mail
went out issues a new link and supersedes the first. Each new path's durable operations and state
transitions are counted here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from etl_aws import contract as C
from etl_aws import identity, staging, tokens
from etl_aws.jobs import JobsRepository, now_iso
from etl_aws.layout import staging_key
from etl_aws.models import Decision, JobStatus, ObjectRef
from etl_local.faults import INJECTOR, Fault, Rule, attempts
from tests.integration import sfn_harness
from tests.integration.durable_harness import DurableHarness, wait_for
from tests.integration.etl_aws_support import csv_bytes, objects
from tests.integration.sfn_harness import APPROVE, SfnPipeline, SfnRun

sfn = sfn_harness.sfn
sfn_factory = sfn_harness.sfn_factory

# The failed path: extract, transform, load, approval, request-approval, finalize (fails), fail.
DURABLE_OPERATIONS_STAGED_CHANGED = 7
# The superseded path: the default six, the request-approval step retried once inside its operation.
DURABLE_OPERATIONS_SUPERSEDED = 6
SFN_TRANSITIONS_STAGED_CHANGED = 8  # the default path to finalize, its Catch: the fail task and Failed
SFN_TRANSITIONS_SUPERSEDED = 7  # the default six and one retry of the approval task


@pytest.fixture(autouse=True)
def _clean_injector(no_backoff: list[float]) -> Iterator[None]:
    INJECTOR.clear()
    yield
    INJECTOR.clear()


def replace_staged_records(s3: Any, bucket: str, job_id: str) -> None:
    s3.put_object(Bucket=bucket, Key=staging_key(job_id, C.RECORDS_FILE), Body=b'{"id": "not reviewed"}\n')


def e_mailed_tokens(aws: Any, job_id: str) -> list[str]:
    """The review tokens of every e-mail about `job_id`, oldest first (repeats of one e-mail collapsed)."""
    import re
    from urllib.parse import unquote

    from moto.sns.models import sns_backends

    topic = sns_backends["123456789012"]["us-east-1"].topics[aws.resources["topic_arn"]]
    found: list[str] = []
    for _, message, *_ in topic.sent_notifications:
        match = re.search(rf"/review/{re.escape(job_id)}\?token=(\S+)", message)
        if match and unquote(match.group(1)) not in found:
            found.append(unquote(match.group(1)))
    return found


def run_durable(aws: Any, monkeypatch: pytest.MonkeyPatch, name: str, tamper: bool) -> tuple[Any, int]:
    """Upload, run to the decision (changing the staged records when `tamper`), approve; (job, operations)."""
    from etl_durable.orchestrator import handler

    harness = DurableHarness(handler, monkeypatch, skip_time=True)
    try:
        bucket = aws.raw_bucket(C.DURABLE)
        put = aws.client("s3").put_object(Bucket=bucket, Key=f"uploads/{name}.csv", Body=csv_bytes(rows=40))
        ref = ObjectRef(
            bucket=bucket, key=f"uploads/{name}.csv", version_id=put["VersionId"], etag=put["ETag"].strip('"')
        )
        job_id = identity.job_id(ref)
        arn = harness.start(ref, job_id)
        repo = JobsRepository(aws.resources["jobs_table"])
        wait_for(lambda: (job := repo.find(job_id)) and job.notified_at)
        if tamper:
            replace_staged_records(aws.client("s3"), aws.output_bucket(C.DURABLE), job_id)
        decision = APPROVE.model_copy(update={"decided_at": now_iso(), "via": "iam"})
        repo.record_decision(job_id, decision)
        from etl_aws import callbacks

        callbacks.send_decision(C.DURABLE, harness.callback_id(arn), decision)
        operations = len(harness.operations(arn))
    finally:
        harness.close()
    return repo.get(job_id), operations


def run_sfn(pipeline: SfnPipeline, name: str, tamper: bool) -> SfnRun:
    ref = pipeline.upload(csv_bytes(rows=40), f"uploads/{name}.csv")
    job_id = identity.job_id(ref)
    assert pipeline.start(ref) == {"batchItemFailures": []}
    assert pipeline.wait_until_waiting_or_done(job_id) is not None
    if tamper:
        replace_staged_records(pipeline.stack.client("s3"), pipeline.output_bucket, job_id)
    pipeline.decide(job_id, Decision(approved=True, reviewer="arn:aws:iam::123456789012:user/ops"))
    execution = pipeline.wait_for_end(job_id)
    return SfnRun(job_id, ref, execution, pipeline.history(job_id), pipeline.jobs().get(job_id))


def test_durable_staged_data_changed_while_waiting_ends_failed_with_nothing_published(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    job, operations = run_durable(aws, monkeypatch, "tampered", tamper=True)

    assert job.status == JobStatus.FAILED
    assert job.error is not None
    assert job.error["code"] == staging.CHANGED
    assert objects(aws, aws.output_bucket(C.DURABLE), C.PROCESSED_PREFIX) == {}
    assert operations == DURABLE_OPERATIONS_STAGED_CHANGED


def test_sfn_staged_data_changed_while_waiting_ends_failed_with_nothing_published(
    aws: Any, sfn: SfnPipeline
) -> None:
    run = run_sfn(sfn, "tampered", tamper=True)

    assert run.status == "FAILED"
    assert run.job.status == JobStatus.FAILED
    assert run.job.error is not None
    assert run.job.error["code"] == staging.CHANGED
    assert objects(aws, sfn.output_bucket, C.PROCESSED_PREFIX) == {}
    assert run.transitions() == SFN_TRANSITIONS_STAGED_CHANGED


def _lose_the_first_e_mails_answer(function: str) -> Rule:
    """The e-mail goes out (every attempt takes effect) but the step never hears so: it is retried."""
    return Rule("sns", "Publish", Fault.LOST_RESPONSE, times=attempts(), function=function)


def test_durable_approval_request_retried_after_its_e_mail_supersedes_the_first_link(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with INJECTOR.injecting(_lose_the_first_e_mails_answer("durable-orchestrator")) as (rule,):
        job, operations = run_durable(aws, monkeypatch, "retried-durable", tamper=False)

    assert rule.fired == attempts()
    first, newest = e_mailed_tokens(aws, job.job_id)
    secrets = JobsRepository(aws.resources["jobs_table"]).approval_secrets(job.job_id)
    assert tokens.verify_any(first, secrets.superseded_token_hashes)
    assert tokens.verify(newest, secrets.review_token_hash)
    assert job.approval_generation == 2
    assert job.status == JobStatus.COMPLETED
    assert operations == DURABLE_OPERATIONS_SUPERSEDED


def test_sfn_approval_request_retried_after_its_e_mail_supersedes_the_first_link(
    aws: Any, sfn: SfnPipeline
) -> None:
    with INJECTOR.injecting(_lose_the_first_e_mails_answer("sfn-request-approval")) as (rule,):
        run = run_sfn(sfn, "retried-sfn", tamper=False)

    assert rule.fired == attempts()
    first, newest = e_mailed_tokens(aws, run.job_id)
    secrets = sfn.jobs().approval_secrets(run.job_id)
    assert tokens.verify_any(first, secrets.superseded_token_hashes)
    assert tokens.verify(newest, secrets.review_token_hash)
    assert run.job.approval_generation == 2
    assert run.job.status == JobStatus.COMPLETED
    assert run.transitions() == SFN_TRANSITIONS_SUPERSEDED
