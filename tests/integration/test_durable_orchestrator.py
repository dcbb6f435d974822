"""The durable orchestrator, run by the durable testing SDK's engine against moto."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest

from etl_aws import callbacks, identity
from etl_aws import contract as C
from etl_aws.errors import STEP_RETRY, DecisionGone
from etl_aws.jobs import JobsRepository, now_iso
from etl_aws.models import Decision, JobStatus, ObjectRef
from etl_core.synth import write_csv
from etl_local.functions import LambdaContext
from etl_ops.cost import DURABLE_OPERATIONS_PER_WORKFLOW
from tests.integration.durable_harness import ORCHESTRATOR_ALIAS, DurableHarness, wait_for
from tests.integration.sfn_harness import s3_event, sqs_event

WORKFLOW = C.DURABLE


def upload(aws: Any, key: str, body: bytes) -> ObjectRef:
    bucket = aws.raw_bucket(WORKFLOW)
    put = aws.client("s3").put_object(Bucket=bucket, Key=key, Body=body)
    return ObjectRef(bucket=bucket, key=key, version_id=put["VersionId"], etag=put["ETag"].strip('"'))


def csv_bytes(rows: int = 200, bad_ratio: float = 0.05) -> bytes:
    buffer = io.BytesIO()
    write_csv(buffer, rows, bad_ratio=bad_ratio)
    return buffer.getvalue()


def keys(aws: Any, bucket: str, prefix: str = "") -> list[str]:
    listing = aws.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for o in listing.get("Contents", []))


@pytest.fixture
def handler() -> Any:
    from etl_durable.orchestrator import handler

    return handler


@pytest.fixture
def harness(aws: Any, handler: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[DurableHarness]:
    h = DurableHarness(handler, monkeypatch)
    yield h
    h.close()


@pytest.fixture
def fast_expiry(aws: Any, handler: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[DurableHarness]:
    """An approval timeout of 2 s (the engine times callbacks out in real time)."""
    from etl_aws import config

    monkeypatch.setenv(C.ENV_APPROVAL_TIMEOUT, "2")
    config.settings.cache_clear()
    h = DurableHarness(handler, monkeypatch)
    yield h
    h.close()


def repo(aws: Any) -> JobsRepository:
    return JobsRepository(aws.resources["jobs_table"])


def wait_pending(aws: Any, job_id: str) -> None:
    wait_for(
        lambda: (j := repo(aws).find(job_id)) and j.status == JobStatus.PENDING_APPROVAL and j.notified_at
    )


def decide(harness: DurableHarness, arn: str, approved: bool, reason: str = "") -> None:
    callback_id = harness.callback_id(arn)
    decision = Decision(
        approved=approved,
        reviewer="arn:aws:iam::123456789012:user/ops",
        reason=reason,
        decided_at=now_iso(),
        via="iam",
    )
    callbacks.send_decision(WORKFLOW, callback_id, decision)


def start(aws: Any, harness: DurableHarness, key: str, body: bytes) -> tuple[str, str]:
    ref = upload(aws, key, body)
    job_id = identity.job_id(ref)
    return job_id, harness.start(ref, job_id)


def test_approved_job_is_published_and_source_archived(aws: Any, harness: DurableHarness) -> None:
    job_id, arn = start(aws, harness, "uploads/orders.csv", csv_bytes())
    wait_pending(aws, job_id)
    decide(harness, arn, approved=True)

    result = harness.result(arn)

    assert result.execution_status.value == "SUCCEEDED"
    job = repo(aws).get(job_id)
    assert job.status == JobStatus.COMPLETED
    assert job.decision is not None
    assert job.decision.approved is True
    out = aws.output_bucket(WORKFLOW)
    assert keys(aws, out, "processed/") == [
        f"processed/{job_id}/{n}" for n in ("manifest.json", "records.jsonl", "rejects.jsonl")
    ]
    assert keys(aws, out, "staging/") == []
    assert keys(aws, aws.raw_bucket(WORKFLOW)) == [f"archive/{job_id}/orders.csv"]
    harness.guard.check()


def test_reject_ends_job_rejected_not_failed(aws: Any, harness: DurableHarness) -> None:
    job_id, arn = start(aws, harness, "uploads/reject-me.csv", csv_bytes())
    wait_pending(aws, job_id)
    decide(harness, arn, approved=False, reason="totals do not match the ledger")

    result = harness.result(arn)

    assert result.execution_status.value == "SUCCEEDED"
    assert '"REJECTED"' in result.result
    job = repo(aws).get(job_id)
    assert job.status == JobStatus.REJECTED
    assert job.decision.reason == "totals do not match the ledger"
    assert keys(aws, aws.output_bucket(WORKFLOW)) == []  # nothing published, staging cleaned
    assert keys(aws, aws.raw_bucket(WORKFLOW)) == [f"archive/{job_id}/reject-me.csv"]


def test_callback_timeout_ends_job_expired_without_publishing(aws: Any, fast_expiry: DurableHarness) -> None:
    job_id, arn = start(aws, fast_expiry, "uploads/late.csv", csv_bytes())

    result = fast_expiry.result(arn)

    assert result.execution_status.value == "SUCCEEDED"
    job = repo(aws).get(job_id)
    assert job.status == JobStatus.EXPIRED
    assert keys(aws, aws.output_bucket(WORKFLOW), "processed/") == []
    # The review link is dead: a decision after expiry is refused.
    from etl_aws.errors import DecisionGone

    with pytest.raises(DecisionGone):
        repo(aws).record_decision(job_id, Decision(approved=True, decided_at=now_iso()))


def test_file_error_fails_execution_with_reason_and_keeps_source(aws: Any, harness: DurableHarness) -> None:
    job_id, arn = start(aws, harness, "uploads/latin1.csv", "id,name\n1,Café\n".encode("latin-1"))

    result = harness.result(arn)

    assert result.execution_status.value == "FAILED"
    job = repo(aws).get(job_id)
    assert job.status == JobStatus.FAILED
    assert job.error is not None
    assert job.error["code"] == "not_utf8"
    assert keys(aws, aws.raw_bucket(WORKFLOW)) == ["uploads/latin1.csv"]
    assert keys(aws, aws.output_bucket(WORKFLOW)) == []


def test_happy_path_uses_at_most_six_durable_operations(aws: Any, harness: DurableHarness) -> None:
    job_id, arn = start(aws, harness, "uploads/count.csv", csv_bytes(50))
    wait_pending(aws, job_id)
    decide(harness, arn, approved=True)

    operations = harness.operations(arn)

    names = sorted(op.name for op in operations)
    assert names == sorted(["extract", "transform", "load", "approval", "request-approval", "finalize"])
    assert len(operations) == DURABLE_OPERATIONS_PER_WORKFLOW  # what `etl cost` estimates without metrics


def test_notification_is_sent_once_although_the_function_replays(aws: Any, harness: DurableHarness) -> None:
    sns_sent = _sns_messages(aws)
    before = len(sns_sent())
    job_id, arn = start(aws, harness, "uploads/once.csv", csv_bytes(20))
    wait_pending(aws, job_id)
    decide(harness, arn, approved=True)
    harness.result(arn)

    # The handler was invoked more than once (suspend at the callback, resume after it): a replay.
    assert len(sns_sent()) - before == 1


def test_same_s3_event_three_times_is_one_execution(
    aws: Any, harness: DurableHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from etl_durable.starter import handler as starter

    monkeypatch.setenv(C.ENV_ORCHESTRATOR_ARN, ORCHESTRATOR_ALIAS)
    from etl_aws import config

    config.settings.cache_clear()
    ref = upload(aws, "uploads/dup.csv", csv_bytes(20))
    event = sqs_event(s3_event(ref))  # one message, delivered three times

    responses = [
        starter(event, LambdaContext("starter", "arn:aws:lambda:us-east-1:123456789012:function:starter"))
        for _ in range(3)
    ]

    assert responses == [{"batchItemFailures": []}] * 3
    assert len(harness.engine.executions()) == 1
    jobs, _ = repo(aws).list_jobs()
    assert [j.job_id for j in jobs] == [identity.job_id(ref)]
    wait_pending(aws, identity.job_id(ref))


def _sns_messages(aws: Any) -> Any:
    from moto.sns.models import sns_backends

    topic_arn = aws.resources["topic_arn"]

    def sent() -> list:
        return sns_backends["123456789012"]["us-east-1"].topics[topic_arn].sent_notifications

    return sent


class FlakyS3:
    """The S3 client, except that the first `failures` calls of `operation` fail with SlowDown."""

    def __init__(self, real: Any, operation: str, failures: int = 1) -> None:
        self._real = real
        self._operation = operation
        self.remaining = failures

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._real, name)
        if name != self._operation:
            return attr

        def flaky(*args: Any, **kwargs: Any) -> Any:
            if self.remaining > 0:
                self.remaining -= 1
                from botocore.exceptions import ClientError

                raise ClientError(
                    {
                        "Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."},
                        "ResponseMetadata": {"HTTPStatusCode": 503},
                    },
                    name,
                )
            return attr(*args, **kwargs)

        return flaky


def test_transient_s3_failure_is_retried_then_succeeds(
    aws: Any, harness: DurableHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from etl_aws import clients

    routed = clients.client  # the shared clients (Lambda on the harness's endpoint)
    failures = 2  # fewer than the policy's attempts: each one costs one retry of the extract step
    assert failures < STEP_RETRY.attempts
    flaky = FlakyS3(routed("s3"), "get_object", failures=failures)
    monkeypatch.setattr(clients, "client", lambda name: flaky if name == "s3" else routed(name))
    job_id, arn = start(aws, harness, "uploads/flaky.csv", csv_bytes(30))
    wait_pending(aws, job_id)
    decide(harness, arn, approved=True)

    result = harness.result(arn)

    assert flaky.remaining == 0
    assert result.execution_status.value == "SUCCEEDED"
    assert repo(aws).get(job_id).status == JobStatus.COMPLETED
    first_step = next(op for op in harness.operations(arn) if op.name == "extract")
    assert first_step.attempt == failures + 1  # the attempt that succeeded: the first try, then a retry each


@pytest.mark.parametrize("step", ["extract", "transform", "load", "request_approval", "finalize"])
def test_step_rerun_after_lost_checkpoint_leaves_no_duplicates(
    aws: Any, harness: DurableHarness, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    """The step's work is done but its result is lost (a crash before the checkpoint): it runs again."""
    from etl_aws import steps
    from etl_aws.errors import TransientError

    real = getattr(steps, step)
    calls = {"n": 0}

    def crash_after_work(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 1:
            raise TransientError("connection lost before the result was saved")
        return result

    monkeypatch.setattr(steps, step, crash_after_work)
    sns_sent = _sns_messages(aws)
    before = len(sns_sent())
    job_id, arn = start(aws, harness, f"uploads/rerun-{step}.csv", csv_bytes(40))
    wait_pending(aws, job_id)
    decide(harness, arn, approved=True)

    result = harness.result(arn)

    assert calls["n"] == 2
    assert result.execution_status.value == "SUCCEEDED"
    job = repo(aws).get(job_id)
    assert job.status == JobStatus.COMPLETED
    statuses = [h.status for h in job.history]
    assert statuses == list(dict.fromkeys(statuses)), f"a state was entered twice: {statuses}"
    assert len(sns_sent()) - before == 1
    out = aws.output_bucket(WORKFLOW)
    assert keys(aws, out, "processed/") == [
        f"processed/{job_id}/{n}" for n in ("manifest.json", "records.jsonl", "rejects.jsonl")
    ]
    assert keys(aws, aws.raw_bucket(WORKFLOW)) == [f"archive/{job_id}/rerun-{step}.csv"]


@pytest.mark.slow
def test_100k_row_file_keeps_every_checkpoint_under_8_kb(aws: Any, harness: DurableHarness) -> None:
    job_id, arn = start(aws, harness, "uploads/big.csv", csv_bytes(100_000, bad_ratio=0.02))
    wait_pending(aws, job_id)
    decide(harness, arn, approved=True)

    result = harness.result(arn, timeout=300)

    assert result.execution_status.value == "SUCCEEDED"
    assert repo(aws).get(job_id).counts == {"rows": 100_000, "valid": 98_000, "rejected": 2_000}
    assert harness.guard.sizes, "no checkpoint payloads were seen"
    assert harness.guard.largest < 8 * 1024, harness.guard.sizes
    harness.guard.check()


def test_payload_guard_fails_on_a_checkpoint_over_256_kb(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from aws_durable_execution_sdk_python import durable_execution

    @durable_execution
    def oversized(event: Any, context: Any) -> str:
        context.step(lambda _: "x" * (300 * 1024), name="too-big")
        return "done"

    h = DurableHarness(oversized, monkeypatch)
    try:
        arn = h.runner.run_async(input="{}", execution_name="oversized")
        h.result(arn)
        with pytest.raises(AssertionError, match="over 262144 bytes"):
            h.guard.check()
    finally:
        h.close()


def test_the_execution_history_tells_whether_the_approval_was_answered(
    aws: Any, harness: DurableHarness
) -> None:
    """What the approval service reads after a send whose outcome it does not know."""
    job_id, arn = start(aws, harness, "uploads/truth.csv", csv_bytes(rows=20))
    wait_pending(aws, job_id)
    assert repo(aws).get(job_id).execution_arn == arn  # stored with the job when approval was asked
    assert callbacks.delivery_state(WORKFLOW, arn) == callbacks.Delivery.WAITING

    decide(harness, arn, approved=True)
    harness.result(arn)

    assert callbacks.delivery_state(WORKFLOW, arn) == callbacks.Delivery.DELIVERED
    with pytest.raises(DecisionGone):  # a second send of the same decision is refused...
        decide(harness, arn, approved=True)
    assert callbacks.delivery_state(WORKFLOW, arn) == callbacks.Delivery.DELIVERED  # ...yet it was delivered


def test_the_execution_history_tells_an_expired_approval(aws: Any, fast_expiry: DurableHarness) -> None:
    _, arn = start(aws, fast_expiry, "uploads/late.csv", csv_bytes(rows=20))
    fast_expiry.result(arn)

    assert callbacks.delivery_state(WORKFLOW, arn) == callbacks.Delivery.GONE
