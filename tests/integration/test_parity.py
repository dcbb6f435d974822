"""Parity: the same files through both orchestrators give byte-identical outputs and the same job fields."""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterator
from typing import Any

import pytest

from etl_aws import contract as C
from etl_aws import identity
from etl_aws.jobs import Job, JobsRepository
from etl_aws.models import Decision, JobStatus
from etl_core.synth import write_csv
from tests.integration.durable_harness import DurableHarness
from tests.integration.test_durable_orchestrator import decide, upload, wait_pending

pytest_plugins = ["tests.integration.sfn_harness"]


def synth(rows: int, bad_ratio: float) -> bytes:
    buffer = io.BytesIO()
    write_csv(buffer, rows, bad_ratio=bad_ratio)
    return buffer.getvalue()


HANDCRAFTED = (
    codecs.BOM_UTF8
    + (
        "id,name,date,amount,quantity,price,note\r\n"
        '1, Zoë ,2024-02-29,12.50,3,1e3,"multi\r\nline"\r\n'
        '2,"Quote ""me""",02/03/2024,-5,0,0.1,\r\n'
        "3,,2024-01-01,1,1,1,missing name\r\n"
        "4,Bad date,2023-02-29,1,1,1,\r\n"
        "5,Not finite,31-12-2024,inf,1,1,\r\n"
        "6,Too,few\r\n"
        "\r\n"
        "7,<script>alert(1)</script>,2024/12/31,,,,\r\n"
    ).encode()
)

FILES = {
    "clean.csv": synth(300, 0.0),
    "messy.csv": synth(300, 0.1),
    "handcrafted.csv": HANDCRAFTED,
}
APPROVE = Decision(approved=True, reviewer="arn:aws:iam::123456789012:user/ops", decided_at="", via="iam")


@pytest.fixture
def durable(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[DurableHarness]:
    from etl_durable.orchestrator import handler

    h = DurableHarness(handler, monkeypatch)
    yield h
    h.close()


def comparable(job: Job) -> dict[str, Any]:
    """The job fields that must agree between orchestrators (ids and workflow type aside)."""
    return {
        "status": job.status,
        "file_name": job.file_name,
        "counts": job.counts,
        "reasons": job.reasons,
        "columns": job.summary.get("columns"),
        "samples": job.summary.get("samples"),
        "error": job.error,
        "decision_approved": job.decision.approved if job.decision else None,
        "statuses": [h.status for h in job.history],
    }


def outputs(aws: Any, bucket: str, job_id: str) -> dict[str, bytes]:
    s3 = aws.client("s3")
    return {
        name: s3.get_object(Bucket=bucket, Key=f"processed/{job_id}/{name}")["Body"].read()
        for name in (C.RECORDS_FILE, C.REJECTS_FILE)
    }


def test_both_orchestrators_produce_identical_outputs_and_job_fields(
    aws: Any, durable: DurableHarness, sfn: Any
) -> None:
    repo = JobsRepository(aws.resources["jobs_table"], aws.session.resource("dynamodb"))
    pairs = []
    for name, body in FILES.items():
        ref_d = upload(aws, f"uploads/{name}", body)
        job_d = identity.job_id(ref_d)
        arn = durable.start(ref_d, job_d)
        ref_s = sfn.upload(body, key=f"uploads/{name}")
        job_s = identity.job_id(ref_s)
        assert sfn.start(ref_s) == {"batchItemFailures": []}
        pairs.append((name, job_d, arn, job_s))

    for _name, job_d, arn, job_s in pairs:
        wait_pending(aws, job_d)
        decide(durable, arn, approved=True)
        assert sfn.wait_until_waiting_or_done(job_s) is not None
        sfn.decide(job_s, APPROVE)
    for name, job_d, arn, job_s in pairs:
        assert durable.result(arn).execution_status.value == "SUCCEEDED", name
        assert sfn.wait_for_end(job_s)["status"] == "SUCCEEDED", name

        d, s = repo.get(job_d), repo.get(job_s)
        assert d.workflow == C.DURABLE
        assert s.workflow == C.STEP_FUNCTIONS
        assert comparable(d) == comparable(s), name
        assert d.status == JobStatus.COMPLETED
        assert outputs(aws, aws.output_bucket(C.DURABLE), job_d) == outputs(
            aws, aws.output_bucket(C.STEP_FUNCTIONS), job_s
        ), name


def test_a_file_error_ends_both_the_same_way(aws: Any, durable: DurableHarness, sfn: Any) -> None:
    body = "id,name\n1,Café\n".encode("latin-1")
    ref_d = upload(aws, "uploads/latin1.csv", body)
    job_d = identity.job_id(ref_d)
    arn = durable.start(ref_d, job_d)
    ref_s = sfn.upload(body, key="uploads/latin1.csv")
    job_s = identity.job_id(ref_s)
    sfn.start(ref_s)

    assert durable.result(arn).execution_status.value == "FAILED"
    assert sfn.wait_for_end(job_s)["status"] == "FAILED"
    repo = JobsRepository(aws.resources["jobs_table"], aws.session.resource("dynamodb"))
    d, s = repo.get(job_d), repo.get(job_s)
    assert comparable(d) == comparable(s)
    assert d.status == JobStatus.FAILED
    assert d.error is not None
    assert d.error["code"] == "not_utf8"
