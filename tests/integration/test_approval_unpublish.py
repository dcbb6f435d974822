"""POST /jobs/{id}/unpublish: a COMPLETED job's published output is taken back from consumers, moved under
retracted/ with its audit record, never deleted; repeats are idempotent; any other job is refused."""

from __future__ import annotations

import json
from typing import Any

import pytest

from etl_aws import contract as C
from etl_aws import s3io, steps
from etl_aws.layout import OUTPUT_FILES, processed_key, retracted_key
from etl_aws.models import JobStatus, Outcome
from etl_aws.unpublish import unpublish as retract
from tests.integration.approval_support import OPERATOR_ARN, ApprovalEnv, api_event

pytest_plugins = ["tests.integration.approval_fixtures"]


def completed(approval_env: ApprovalEnv, workflow: str) -> str:
    """A job approved by an operator and published by the real finalize step."""
    job = approval_env.pending(workflow)
    assert approval_env.operator("approve", job.job_id, reason="fine").status == 200
    steps.finalize(job.job_id, Outcome.APPROVED, cfg=approval_env.stack.settings(workflow))
    assert approval_env.repo.get(job.job_id).status == JobStatus.COMPLETED
    return job.job_id


def unpublish(approval_env: ApprovalEnv, job_id: str, body: object, caller: str | None = OPERATOR_ARN) -> Any:
    event = api_event("POST", "/jobs/{jobId}/unpublish", {"jobId": job_id}, body=body, caller=caller)
    return approval_env.call(event)


def keys(approval_env: ApprovalEnv, workflow: str, prefix: str) -> dict[str, bytes]:
    s3, bucket = approval_env.stack.client("s3"), approval_env.stack.output_bucket(workflow)
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}


@pytest.mark.parametrize("workflow", [C.DURABLE, C.STEP_FUNCTIONS])
def test_unpublish_moves_the_published_output_under_retracted_with_its_audit_record(
    approval_env: ApprovalEnv, workflow: str
) -> None:
    job_id = completed(approval_env, workflow)
    published = keys(approval_env, workflow, f"{C.PROCESSED_PREFIX}{job_id}/")

    response = unpublish(approval_env, job_id, {"reason": "approved the wrong month"})

    assert response.status == 200, response.body
    assert response.json["status"] == "RETRACTED"
    assert response.json["created"] is True
    record = response.json["retraction"]
    assert (record["by"], record["via"]) == (OPERATOR_ARN, "iam")
    assert record["reason"] == "approved the wrong month"
    assert record["at"] <= record["moved_at"]
    assert keys(approval_env, workflow, C.PROCESSED_PREFIX) == {}
    retracted = keys(approval_env, workflow, f"{C.RETRACTED_PREFIX}{job_id}/")
    for name in OUTPUT_FILES:
        assert retracted[retracted_key(job_id, name)] == published[processed_key(job_id, name)]
    audit = json.loads(retracted[retracted_key(job_id, C.RETRACTION_FILE)])
    assert (audit["by"], audit["reason"], audit["at"]) == (OPERATOR_ARN, record["reason"], record["at"])
    job = approval_env.repo.get(job_id)
    assert job.status == JobStatus.RETRACTED
    assert [h.status for h in job.history][-2:] == [JobStatus.COMPLETED, JobStatus.RETRACTED]


def test_unpublish_repeated_returns_the_first_record_and_changes_nothing(approval_env: ApprovalEnv) -> None:
    job_id = completed(approval_env, C.DURABLE)
    first = unpublish(approval_env, job_id, {"reason": "wrong file"})
    stored = keys(approval_env, C.DURABLE, C.RETRACTED_PREFIX)

    again = unpublish(approval_env, job_id, {"reason": "another reason"})

    assert again.status == 200
    assert again.json["created"] is False
    assert again.json["retraction"] == first.json["retraction"]
    assert keys(approval_env, C.DURABLE, C.RETRACTED_PREFIX) == stored


@pytest.mark.parametrize("status", ["PENDING_APPROVAL", "REJECTED"])
def test_unpublish_of_a_job_that_is_not_completed_is_refused_and_changes_nothing(
    approval_env: ApprovalEnv, status: str
) -> None:
    job = approval_env.pending()
    if status == "REJECTED":
        approval_env.operator("reject", job.job_id, reason="no")
        steps.finalize(job.job_id, Outcome.REJECTED, cfg=approval_env.stack.settings(C.DURABLE))
    before = approval_env.raw_item(job.job_id)

    response = unpublish(approval_env, job.job_id, {"reason": "undo"})

    assert response.status == 409
    assert response.json["error"] == "not_published"
    assert f"is {status}" in response.json["message"]
    assert approval_env.raw_item(job.job_id) == before


def test_unpublish_needs_a_reason_and_an_iam_identity(approval_env: ApprovalEnv) -> None:
    job_id = completed(approval_env, C.DURABLE)

    no_reason = unpublish(approval_env, job_id, {"reason": "  "})
    unsigned = unpublish(approval_env, job_id, {"reason": "undo"}, caller=None)

    assert no_reason.status == 400
    assert unsigned.status == 403
    assert approval_env.repo.get(job_id).status == JobStatus.COMPLETED
    assert keys(approval_env, C.DURABLE, C.RETRACTED_PREFIX) == {}


def test_unpublish_cut_short_after_the_record_is_finished_by_the_repeat(
    approval_env: ApprovalEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = completed(approval_env, C.DURABLE)
    real_put = s3io.put_json

    def crash(*_: object) -> None:
        raise ConnectionError("the function was stopped")

    monkeypatch.setattr(s3io, "put_json", crash)
    with pytest.raises(ConnectionError):
        retract(job_id, OPERATOR_ARN, "wrong file", repo=approval_env.repo)
    assert approval_env.repo.get(job_id).status == JobStatus.RETRACTED
    monkeypatch.setattr(s3io, "put_json", real_put)

    again = unpublish(approval_env, job_id, {"reason": "wrong file"})

    assert again.status == 200
    assert again.json["created"] is False
    assert "moved_at" in again.json["retraction"]
    assert keys(approval_env, C.DURABLE, C.PROCESSED_PREFIX) == {}
    assert retracted_key(job_id, C.RETRACTION_FILE) in keys(approval_env, C.DURABLE, C.RETRACTED_PREFIX)
