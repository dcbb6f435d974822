"""The whole system through the local runtime: files land in S3, the pipelines run, decisions arrive
through the approval API and the review link, exactly as they would deployed."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest
from botocore.credentials import Credentials

from etl_aws import contract as C
from etl_aws.models import TERMINAL, JobStatus
from etl_core import synth
from etl_local.runtime import ACCESS_KEY, OPERATOR_ARN, SECRET_KEY, LocalRuntime, available_workflows
from etl_ops import cli
from etl_ops.api import ApprovalApi

WAITING = frozenset({JobStatus.PENDING_APPROVAL, *TERMINAL})
needs_sfn = pytest.mark.skipif(
    C.STEP_FUNCTIONS not in available_workflows(), reason="Step Functions handlers not installed"
)


def csv_file(rows: int = 40, seed: int = 7) -> bytes:
    out = io.BytesIO()
    synth.write_csv(out, rows, bad_ratio=0.1, seed=seed)
    return out.getvalue()


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    root: Path = tmp_path_factory.mktemp("local")
    with LocalRuntime(root=root, approval_timeout_seconds=120) as rt:
        yield rt


@pytest.fixture(scope="module")
def api(runtime: LocalRuntime) -> ApprovalApi:
    return ApprovalApi(runtime.api_url, Credentials(ACCESS_KEY, SECRET_KEY))


def approve_when_asked(runtime: LocalRuntime, api: ApprovalApi, job_id: str) -> Any:
    waiting = runtime.wait_for(job_id, WAITING)
    assert waiting.status == JobStatus.PENDING_APPROVAL, waiting
    response = api.approve(job_id, reason="looks right")
    assert response.status == 200, response.text
    return runtime.wait_for(job_id, TERMINAL)


def test_durable_job_approved_through_signed_api_completes(runtime: LocalRuntime, api: ApprovalApi) -> None:
    job_id = runtime.upload(C.DURABLE, "uploads/approve-me.csv", csv_file())

    job = approve_when_asked(runtime, api, job_id)

    assert job.status == JobStatus.COMPLETED
    assert job.decision
    assert job.decision.reviewer == OPERATOR_ARN
    assert job.counts["valid"] + job.counts["rejected"] == job.counts["rows"] == 40
    assert runtime.durable_operations(job_id)["STEP"] >= 4


def test_jobs_table_is_served_by_a_moto_process_of_its_own(runtime: LocalRuntime) -> None:
    """DynamoDB has its own moto process (its own core); the handlers reach it by its endpoint variable."""
    table = runtime.deployment.stack["jobs_table"]
    main = runtime.session.client("dynamodb", endpoint_url=runtime.endpoints.moto)  # type: ignore[union-attr]

    served = runtime.client("dynamodb").list_tables()["TableNames"]

    assert runtime.endpoints.of("dynamodb") != runtime.endpoints.moto
    assert table in served
    assert table not in main.list_tables()["TableNames"]
    assert json.loads((runtime.root / "stack.json").read_text())["endpoints"]["moto_services"] == {
        "dynamodb": runtime.endpoints.of("dynamodb")
    }


@needs_sfn
def test_sfn_job_approved_through_signed_api_completes(runtime: LocalRuntime, api: ApprovalApi) -> None:
    job_id = runtime.upload(C.STEP_FUNCTIONS, "uploads/approve-me.csv", csv_file())

    job = approve_when_asked(runtime, api, job_id)

    assert job.status == JobStatus.COMPLETED
    assert runtime.state_transitions(job_id) > 0


def test_reject_through_review_link_ends_job_rejected(runtime: LocalRuntime, api: ApprovalApi) -> None:
    job_id = runtime.upload(C.DURABLE, "uploads/reject-me.csv", csv_file(seed=3))
    runtime.wait_for(job_id, {JobStatus.PENDING_APPROVAL})
    assert runtime.outbox is not None
    mail = runtime.outbox.wait_for(job_id, timeout=30)
    assert (runtime.root / "outbox" / f"{job_id}.txt").exists()
    page = api.review_page(mail.review_link)
    assert page.status == 200
    assert "text/html" in page.headers.get("Content-Type", "")

    response = api.review(mail.review_link, "reject", reason="wrong month")

    assert response.status == 200, response.text
    job = runtime.wait_for(job_id, TERMINAL)
    assert job.status == JobStatus.REJECTED
    assert job.decision
    assert job.decision.via == "review_link"


def test_unsigned_operator_request_is_refused_at_the_gateway(runtime: LocalRuntime, api: ApprovalApi) -> None:
    invoked = runtime.host.invocations["approval-api"]

    unsigned = api.unsigned("GET", "/jobs")
    wrong_key = ApprovalApi(runtime.api_url, Credentials(ACCESS_KEY, "not-the-secret")).list_jobs()

    assert unsigned.status == 403
    assert "message" in unsigned.json()
    assert wrong_key.status == 403
    assert runtime.host.invocations["approval-api"] == invoked
    assert api.list_jobs().status == 200


def test_jobs_cli_lists_and_shows_through_the_signed_api(
    runtime: LocalRuntime, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id = runtime.upload(C.DURABLE, "uploads/cli.csv", csv_file(rows=10))
    runtime.wait_for(job_id, WAITING)

    listed = cli.main(["--root", str(runtime.root), "jobs", "list", "--status", "PENDING_APPROVAL"])
    listing = capsys.readouterr().out
    shown = cli.main(["--root", str(runtime.root), "jobs", "show", job_id])
    timeline = capsys.readouterr().out

    assert listed == 0
    assert job_id in listing
    assert shown == 0
    assert "PENDING_APPROVAL" in timeline
    assert "RECEIVED" in timeline

    approved_all = cli.main(["--root", str(runtime.root), "jobs", "approve-all", "--workflow", "durable"])
    assert approved_all == 0
    assert runtime.wait_for(job_id, TERMINAL).status == JobStatus.COMPLETED


def test_reupload_of_same_key_is_a_new_job(runtime: LocalRuntime) -> None:
    first = runtime.upload(C.DURABLE, "uploads/twice.csv", csv_file(seed=5))
    second = runtime.upload(C.DURABLE, "uploads/twice.csv", csv_file(seed=5))

    assert first != second
    assert runtime.wait_for(first, WAITING).status == JobStatus.PENDING_APPROVAL
    assert runtime.wait_for(second, WAITING).status == JobStatus.PENDING_APPROVAL


def test_same_s3_notification_twice_starts_one_job(runtime: LocalRuntime) -> None:
    key = "uploads/redelivered.csv"
    job_id = runtime.upload(C.DURABLE, key, csv_file(seed=9))
    runtime.wait_for(job_id, WAITING)
    job = runtime.job(job_id)
    assert job is not None
    notification = s3_notification(job.source)
    queue = runtime.deployment.stack["pipelines"][C.DURABLE]["queue_url"]
    sqs = runtime.client("sqs")
    starts = runtime.lambda_calls["Invoke"]

    for _ in range(2):
        sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(notification))
    wait_until(lambda: runtime.lambda_calls["Invoke"] >= starts + 2)

    same_file = [j for j in runtime.all_jobs() if j.source.get("key") == key]
    assert [j.job_id for j in same_file] == [job_id]
    assert runtime.durable is not None
    assert runtime.durable.store.query(execution_name=job_id)[0], "one execution under the job's name"
    assert len(runtime.durable.store.query(execution_name=job_id)[0]) == 1


def s3_notification(source: dict[str, Any]) -> dict[str, Any]:
    obj = {"key": quote_plus(source["key"]), "size": source.get("size") or 0, "eTag": source.get("etag", "")}
    if source.get("version_id"):
        obj["versionId"] = source["version_id"]
    if source.get("sequencer"):
        obj["sequencer"] = source["sequencer"]
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2026-01-01T00:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": source["bucket"]}, "object": obj},
            }
        ]
    }


def wait_until(predicate: Any, timeout: float = 30.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout} s")


@pytest.mark.parametrize("workflow", [C.DURABLE, pytest.param(C.STEP_FUNCTIONS, marks=needs_sfn)])
def test_an_upper_case_csv_starts_a_job_and_any_other_upload_ends_failed(
    runtime: LocalRuntime, workflow: str
) -> None:
    """S3's notification filter is case-sensitive: the bucket notifies every object under uploads/ and the
    starter decides, so neither file is dropped without a trace."""
    csv_job = runtime.upload(workflow, "uploads/UPPER CASE.CSV", csv_file(seed=11))
    other_job = runtime.upload(workflow, "uploads/notes.txt", b"not a csv\n")

    assert runtime.wait_for(csv_job, WAITING).status == JobStatus.PENDING_APPROVAL
    other = runtime.wait_for(other_job, TERMINAL)
    assert other.status == JobStatus.FAILED
    assert other.error is not None
    assert other.error["code"] == C.UNSUPPORTED_FILE_TYPE
