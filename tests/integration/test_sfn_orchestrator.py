"""The Step Functions orchestrator, executed for real: moto's ASL interpreter runs the rendered definition
and every task is this project's handler code (tests/integration/sfn_harness.py routes the invokes)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import pytest

from etl_aws import callbacks, identity, layout
from etl_aws import contract as C
from etl_aws.errors import DecisionGone
from etl_aws.models import JobStatus
from etl_core.synth import write_csv
from etl_local.faults import INJECTOR, Fault, Rule, attempts
from etl_ops.cost import STATE_TRANSITIONS_PER_WORKFLOW
from tests.integration import sfn_harness
from tests.integration.sfn_harness import REJECT, SfnPipeline, SfnRun, run_sfn_job

sfn = sfn_harness.sfn
sfn_factory = sfn_harness.sfn_factory

APPROVED_PATH = ["Extract", "Transform", "Load", "RequestApproval", "Decision", "Publish"]
REJECTED_PATH = ["Extract", "Transform", "Load", "RequestApproval", "Decision", "Discard"]
EXPIRED_PATH = ["Extract", "Transform", "Load", "RequestApproval", "Expire"]
REFUSED_PATH = ["Extract", "RecordFailure", "Failed"]


def csv_bytes(rows: int = 200, bad_ratio: float = 0.05) -> bytes:
    buffer = io.BytesIO()
    write_csv(buffer, rows, bad_ratio=bad_ratio)
    return buffer.getvalue()


def assert_published(sfn: SfnPipeline, run: SfnRun) -> None:
    job_id = run.job_id
    assert sfn.keys(sfn.output_bucket, C.PROCESSED_PREFIX) == sorted(
        layout.processed_key(job_id, name) for name in (C.MANIFEST_FILE, C.RECORDS_FILE, C.REJECTS_FILE)
    )
    assert sfn.keys(sfn.output_bucket, C.STAGING_PREFIX) == []


def assert_nothing_published(sfn: SfnPipeline) -> None:
    assert sfn.keys(sfn.output_bucket, C.PROCESSED_PREFIX) == []
    assert sfn.keys(sfn.output_bucket, C.STAGING_PREFIX) == []


def assert_archived(sfn: SfnPipeline, run: SfnRun) -> None:
    assert sfn.keys(sfn.raw_bucket) == [layout.archive_key(run.job_id, run.ref.file_name)]


def assert_source_kept(sfn: SfnPipeline, run: SfnRun) -> None:
    assert sfn.keys(sfn.raw_bucket) == [run.ref.key]


def lines(sfn: SfnPipeline, key: str) -> int:
    body = sfn.stack.client("s3").get_object(Bucket=sfn.output_bucket, Key=key)["Body"].read()
    return body.count(b"\n")


# ---- the four outcomes ------------------------------------------------------------------------------


def test_approved_job_is_published_in_six_transitions(sfn: SfnPipeline) -> None:
    run = run_sfn_job(sfn, csv_bytes())

    assert run.status == "SUCCEEDED"
    assert run.job.status == JobStatus.COMPLETED
    assert run.output == {"job_id": run.job_id, "status": "COMPLETED", "outputs": run.job.outputs}
    assert run.states_entered() == APPROVED_PATH
    assert run.transitions() == STATE_TRANSITIONS_PER_WORKFLOW  # what `etl cost` bills per workflow
    assert_published(sfn, run)
    assert_archived(sfn, run)
    assert lines(sfn, run.job.outputs["records"]) == run.job.counts["valid"] == 190
    assert run.job.decision
    assert run.job.decision.reviewer == sfn_harness.APPROVE.reviewer
    run.assert_payloads_within()
    token = sfn.jobs().approval_secrets(run.job_id).callback_token
    assert token
    assert token not in run.state_data()  # only in the approval function's payload


def test_reject_ends_job_rejected_and_the_execution_succeeds(sfn: SfnPipeline) -> None:
    run = run_sfn_job(sfn, csv_bytes(), decision=REJECT)

    assert run.status == "SUCCEEDED"
    assert run.job.status == JobStatus.REJECTED
    assert run.output["status"] == "REJECTED"
    assert run.job.decision
    assert run.job.decision.reason == REJECT.reason
    assert run.states_entered() == REJECTED_PATH
    assert run.transitions() == 6
    assert_nothing_published(sfn)
    assert_archived(sfn, run)
    run.assert_payloads_within()


def test_no_decision_in_time_ends_job_expired(sfn_factory: Callable[..., SfnPipeline]) -> None:
    sfn = sfn_factory(approval_timeout_seconds=2)

    run = run_sfn_job(sfn, csv_bytes(), decision=None)

    assert run.status == "SUCCEEDED"
    assert run.job.status == JobStatus.EXPIRED
    assert run.output["status"] == "EXPIRED"
    assert run.job.decision is None
    assert run.states_entered() == EXPIRED_PATH
    assert run.failures("RequestApproval") == []
    assert any(e["type"] == "TaskTimedOut" for e in run.history)
    assert run.transitions() == 5
    assert_nothing_published(sfn)
    assert_archived(sfn, run)
    run.assert_payloads_within()


def test_refused_file_fails_job_at_once_and_keeps_the_source(sfn: SfnPipeline) -> None:
    run = run_sfn_job(sfn, b"id,name\n1,caf\xe9\n", key="uploads/latin1.csv")

    assert run.status == "FAILED"
    assert run.error == "FileRejected"
    assert json.loads(run.cause)["errorType"] == "FileRejected"
    assert run.job.status == JobStatus.FAILED
    assert run.job.error
    assert run.job.error["code"] == "not_utf8"
    assert run.job.finalized_at
    assert run.states_entered() == REFUSED_PATH
    assert run.failures() == ["FileRejected"]  # permanent: never retried
    assert sfn.invocations("sfn-extract") == 1
    assert sfn.clock.sleeps == []
    assert_nothing_published(sfn)
    assert_source_kept(sfn, run)
    run.assert_payloads_within()


# ---- retries --------------------------------------------------------------------------------------


def test_transient_failure_is_retried_with_backoff_and_the_job_completes(
    sfn: SfnPipeline, no_backoff: list[float]
) -> None:
    # extract's HeadObject throttled twice, each time on every attempt botocore makes
    rule = Rule("s3", "HeadObject", Fault.THROTTLE, times=2 * attempts(), function="sfn-extract")
    with INJECTOR.injecting(rule):
        run = run_sfn_job(sfn, csv_bytes())

    assert rule.fired == 2 * attempts()
    assert run.failures("Extract") == ["TransientError", "TransientError"]
    assert sfn.invocations("sfn-extract") == 3
    assert len(sfn.clock.sleeps) == 2
    assert 0 <= sfn.clock.sleeps[0] <= 2  # full jitter: up to 2 s x 2^n
    assert 0 <= sfn.clock.sleeps[1] <= 4
    assert run.status == "SUCCEEDED"
    assert run.job.status == JobStatus.COMPLETED
    assert run.states_entered() == APPROVED_PATH
    assert run.transitions() == 8  # 6 states + 2 retried attempts, as billed
    assert_published(sfn, run)
    assert_archived(sfn, run)


def test_transient_failure_that_persists_fails_job_after_bounded_retries(
    sfn: SfnPipeline, no_backoff: list[float]
) -> None:
    with INJECTOR.injecting(Rule("s3", "HeadObject", Fault.THROTTLE, times=1000, function="sfn-extract")):
        run = run_sfn_job(sfn, csv_bytes())

    assert run.failures("Extract") == ["TransientError"] * 5  # the first attempt and 4 retries
    assert len(sfn.clock.sleeps) == 4
    assert max(sfn.clock.sleeps) <= 30
    assert run.status == "FAILED"
    assert run.error == "TransientError"
    assert run.states_entered() == REFUSED_PATH
    assert run.job.status == JobStatus.FAILED
    assert run.job.error
    assert run.job.error["code"] == "TransientError"
    assert "retry later" in run.job.error["message"]
    assert_nothing_published(sfn)
    assert_source_kept(sfn, run)


# ---- decisions ------------------------------------------------------------------------------------


def test_decision_sent_straight_to_the_execution_is_recorded_with_the_job(sfn: SfnPipeline) -> None:
    run = run_sfn_job(sfn, csv_bytes(), record_first=False)

    assert run.job.status == JobStatus.COMPLETED
    assert run.job.decision
    assert run.job.decision.approved is True
    assert run.job.decision.reviewer == sfn_harness.APPROVE.reviewer
    assert_published(sfn, run)


@pytest.mark.parametrize("output", [{"approved": "yes"}, {"reviewer": "someone"}])
def test_callback_without_explicit_approval_publishes_nothing(sfn: SfnPipeline, output: dict) -> None:
    ref = sfn.upload(csv_bytes())
    job_id = identity.job_id(ref)
    sfn.start(ref)
    assert sfn.wait_until_waiting_or_done(job_id) is not None
    token = sfn.jobs().approval_secrets(job_id).callback_token

    sfn.stepfunctions.send_task_success(taskToken=token, output=json.dumps(output))
    execution = sfn.wait_for_end(job_id)

    assert execution["status"] == "SUCCEEDED"
    assert sfn.jobs().get(job_id).status == JobStatus.REJECTED
    assert_nothing_published(sfn)


# ---- state stays small ----------------------------------------------------------------------------


@pytest.mark.slow
def test_state_stays_under_8_kb_with_a_100000_row_file(sfn: SfnPipeline) -> None:
    body = csv_bytes(rows=100_000, bad_ratio=0.02)

    run = run_sfn_job(sfn, body, key="uploads/big.csv", timeout=300)

    assert run.job.status == JobStatus.COMPLETED
    assert run.job.counts == {"rows": 100_000, "valid": 98_000, "rejected": 2_000}
    assert lines(sfn, run.job.outputs["records"]) == 98_000
    assert run.transitions() == 6
    run.assert_payloads_within(8 * 1024)
    sizes = [size for _, size in run.payload_sizes()]
    assert len(sizes) > 20
    assert max(sizes) < 2 * 1024  # references and counts, not rows


def test_the_execution_history_tells_whether_the_approval_was_answered(sfn: SfnPipeline) -> None:
    """What the approval service reads after a send whose outcome it does not know."""
    ref = sfn.upload(csv_bytes(rows=20), "uploads/truth.csv")
    job_id = identity.job_id(ref)
    sfn.start(ref)
    assert sfn.wait_until_waiting_or_done(job_id) is not None
    arn = sfn.execution_arn(job_id)
    assert sfn.jobs().get(job_id).execution_arn == arn  # stored with the job when approval was asked
    assert callbacks.delivery_state(C.STEP_FUNCTIONS, arn) == callbacks.Delivery.WAITING

    sfn.decide(job_id, sfn_harness.APPROVE)
    sfn.wait_for_end(job_id)

    assert callbacks.delivery_state(C.STEP_FUNCTIONS, arn) == callbacks.Delivery.DELIVERED
    token = sfn.jobs().approval_secrets(job_id).callback_token
    with pytest.raises(DecisionGone):  # a second send of the same decision is refused...
        callbacks.send_decision(C.STEP_FUNCTIONS, token, sfn_harness.APPROVE)
    assert callbacks.delivery_state(C.STEP_FUNCTIONS, arn) == callbacks.Delivery.DELIVERED  # ...yet delivered


def test_the_execution_history_tells_an_expired_approval(sfn_factory: Callable[..., SfnPipeline]) -> None:
    pipeline = sfn_factory(approval_timeout_seconds=1)
    run = run_sfn_job(pipeline, csv_bytes(rows=20), decision=None)

    assert run.job.status == JobStatus.EXPIRED
    assert (
        callbacks.delivery_state(C.STEP_FUNCTIONS, pipeline.execution_arn(run.job_id))
        == callbacks.Delivery.GONE
    )
