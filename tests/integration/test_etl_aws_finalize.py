"""finalize: publish and archive on approval, publish nothing on rejection or expiry, and survive a crash
between any two of its actions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from etl_aws import contract as C
from etl_aws import identity, steps
from etl_aws.config import ApprovalRequestSettings
from etl_aws.errors import InvalidTransition
from etl_aws.jobs import JobsRepository
from etl_aws.models import Decision, DecisionRecord, JobStatus, ObjectRef, Outcome
from tests.integration.etl_aws_support import (
    Crash,
    csv_bytes,
    faulty,
    faulty_table,
    job_state,
    objects,
    run_to_pending,
    shared_botocore_models,
    upload,
    versions,
)

APPROVAL = Decision(approved=True, reviewer="alice", reason="counts match", decided_at="2025-01-01T00:00:00Z")
REJECTION = Decision(
    approved=False, reviewer="bob", reason="too many rejects", decided_at="2025-01-01T00:00:00Z"
)


@pytest.fixture(autouse=True, scope="module")
def _models_parsed_once() -> Iterator[None]:
    with shared_botocore_models():
        yield


@pytest.fixture
def cfg(aws: Any) -> ApprovalRequestSettings:
    return aws.settings(C.DURABLE)


@pytest.fixture
def repo(cfg: ApprovalRequestSettings) -> JobsRepository:
    return JobsRepository(cfg.jobs_table)


def pending_job(
    aws: Any, cfg: ApprovalRequestSettings, key: str = "uploads/in/data.csv"
) -> tuple[ObjectRef, str, bytes]:
    body = csv_bytes(rows=120, bad_ratio=0.05)
    ref = upload(aws, key, body)
    run_to_pending(cfg, ref)
    return ref, identity.job_id(ref), body


def test_approval_publishes_the_staged_outputs_and_archives_the_source(
    aws: Any, cfg: ApprovalRequestSettings, repo: JobsRepository
) -> None:
    ref, job_id, body = pending_job(aws, cfg)
    staged = objects(aws, cfg.output_bucket, f"staging/{job_id}/")

    done = steps.finalize(job_id, Outcome.APPROVED, APPROVAL, cfg=cfg)

    assert done.status == JobStatus.COMPLETED
    assert done.outputs == {
        "records": f"processed/{job_id}/records.jsonl",
        "rejects": f"processed/{job_id}/rejects.jsonl",
        "manifest": f"processed/{job_id}/manifest.json",
        "archive": f"archive/{job_id}/data.csv",
    }
    published = objects(aws, cfg.output_bucket, f"processed/{job_id}/")
    assert published == {key.replace("staging/", "processed/"): data for key, data in staged.items()}
    assert objects(aws, cfg.output_bucket, "staging/") == {}
    assert objects(aws, ref.bucket, "archive/") == {f"archive/{job_id}/data.csv": body}
    assert versions(aws, ref.bucket, ref.key) == []
    job = repo.get(job_id)
    assert job.status == JobStatus.COMPLETED
    assert job.finalized_at
    assert job.decision == DecisionRecord(**APPROVAL.model_dump())
    assert job.outputs == done.outputs


def test_approval_recorded_first_by_the_approval_service_is_published_the_same(
    aws: Any, cfg: ApprovalRequestSettings, repo: JobsRepository
) -> None:
    _, job_id, _ = pending_job(aws, cfg)
    repo.record_decision(job_id, APPROVAL.model_copy(update={"via": "review_link"}))

    done = steps.finalize(job_id, Outcome.APPROVED, APPROVAL, cfg=cfg)

    assert done.status == JobStatus.COMPLETED
    reviewed = APPROVAL.model_copy(update={"via": "review_link"})
    assert repo.get(job_id).decision == DecisionRecord(**reviewed.model_dump())


@pytest.mark.parametrize(
    ("outcome", "decision", "status"),
    [
        (Outcome.REJECTED, REJECTION, JobStatus.REJECTED),
        (Outcome.EXPIRED, None, JobStatus.EXPIRED),
    ],
    ids=["rejected", "expired"],
)
def test_rejection_or_expiry_publishes_nothing_and_marks_the_job(
    aws: Any,
    cfg: ApprovalRequestSettings,
    repo: JobsRepository,
    outcome: Outcome,
    decision: Decision | None,
    status: JobStatus,
) -> None:
    ref, job_id, body = pending_job(aws, cfg)

    done = steps.finalize(job_id, outcome, decision, cfg=cfg)

    assert done.status == status
    assert objects(aws, cfg.output_bucket, "processed/") == {}
    assert objects(aws, cfg.output_bucket, "staging/") == {}
    assert objects(aws, ref.bucket, "archive/") == {f"archive/{job_id}/data.csv": body}
    job = repo.get(job_id)
    assert job.status == status
    assert job.finalized_at
    assert job.decision == (DecisionRecord(**decision.model_dump()) if decision else None)
    assert job.error is None


def test_a_failed_workflow_records_the_error_and_leaves_the_source_in_place(
    aws: Any, cfg: ApprovalRequestSettings, repo: JobsRepository
) -> None:
    ref, job_id, body = pending_job(aws, cfg)

    done = steps.finalize(
        job_id, Outcome.FAILED, error={"code": "Boom", "message": "the task failed"}, cfg=cfg
    )

    assert done.status == JobStatus.FAILED
    assert repo.get(job_id).error == {"code": "Boom", "message": "the task failed"}
    assert objects(aws, cfg.output_bucket) == {}
    assert objects(aws, ref.bucket, "uploads/") == {ref.key: body}


def test_a_rejected_job_is_never_published(
    aws: Any, cfg: ApprovalRequestSettings, repo: JobsRepository
) -> None:
    _, job_id, _ = pending_job(aws, cfg)
    repo.record_decision(job_id, REJECTION)

    with pytest.raises(InvalidTransition):
        steps.finalize(job_id, Outcome.APPROVED, APPROVAL, cfg=cfg)

    assert objects(aws, cfg.output_bucket, "processed/") == {}


@pytest.mark.parametrize(
    ("outcome", "decision"),
    [
        (Outcome.APPROVED, APPROVAL),
        (Outcome.REJECTED, REJECTION),
        (Outcome.EXPIRED, None),
        (Outcome.FAILED, None),
    ],
    ids=["approved", "rejected", "expired", "failed"],
)
def test_finalize_run_twice_gives_the_same_result_and_state(
    aws: Any, cfg: ApprovalRequestSettings, outcome: Outcome, decision: Decision | None
) -> None:
    ref, job_id, _ = pending_job(aws, cfg)
    first = steps.finalize(job_id, outcome, decision, cfg=cfg)
    state = job_state(aws, cfg, job_id, ref)

    again = steps.finalize(job_id, outcome, decision, cfg=cfg)

    assert again == first
    assert job_state(aws, cfg, job_id, ref) == state


# Every action of an approving finalize, in order: (where, operation, which call).
APPROVED_CRASH_POINTS = {
    "before-recording-the-decision": ("dynamodb", "update_item", 1),
    "before-any-copy": ("s3", "copy_object", 1),
    "after-publishing-records": ("s3", "copy_object", 2),
    "after-publishing-rejects": ("s3", "copy_object", 3),
    "before-archiving": ("s3", "copy_object", 4),
    "after-archiving-before-deleting-the-source": ("s3", "delete_object", 1),
    "before-deleting-staging": ("s3", "delete_objects", 1),
    "before-completed": ("dynamodb", "update_item", 2),
}
REJECTED_CRASH_POINTS = {
    "before-archiving": ("s3", "copy_object", 1),
    "before-deleting-the-source": ("s3", "delete_object", 1),
    "before-deleting-staging": ("s3", "delete_objects", 1),
    "before-rejected": ("dynamodb", "update_item", 2),
}


def _crash_then_rerun(
    monkeypatch: pytest.MonkeyPatch, where: str, operation: str, on_call: int, run: Any
) -> tuple[Any, int]:
    if where == "dynamodb":
        inject = faulty_table(monkeypatch, operation, Crash(), on_call)
    else:
        inject = faulty(monkeypatch, where, operation, Crash(), on_call)
    with inject as fault, pytest.raises(Crash):
        run()
    return run(), fault.calls


@pytest.mark.parametrize(
    ("outcome", "decision", "crash_point"),
    [(Outcome.APPROVED, APPROVAL, point) for point in APPROVED_CRASH_POINTS]
    + [(Outcome.REJECTED, REJECTION, point) for point in REJECTED_CRASH_POINTS],
    ids=[f"approved-{p}" for p in APPROVED_CRASH_POINTS] + [f"rejected-{p}" for p in REJECTED_CRASH_POINTS],
)
def test_a_crash_between_two_actions_of_finalize_then_a_rerun_ends_as_a_clean_run(
    aws: Any,
    cfg: ApprovalRequestSettings,
    monkeypatch: pytest.MonkeyPatch,
    outcome: Outcome,
    decision: Decision,
    crash_point: str,
) -> None:
    points = APPROVED_CRASH_POINTS if outcome == Outcome.APPROVED else REJECTED_CRASH_POINTS
    where, operation, on_call = points[crash_point]
    clean_ref, clean_id, _ = pending_job(aws, cfg, "uploads/clean/data.csv")
    crash_ref, crash_id, _ = pending_job(aws, cfg, "uploads/crash/data.csv")
    clean = steps.finalize(clean_id, outcome, decision, cfg=cfg)

    rerun, calls = _crash_then_rerun(
        monkeypatch, where, operation, on_call, lambda: steps.finalize(crash_id, outcome, decision, cfg=cfg)
    )

    assert calls == on_call  # the crash happened where intended
    assert rerun.model_dump_json().replace(crash_id, "J") == clean.model_dump_json().replace(clean_id, "J")
    assert job_state(aws, cfg, crash_id, crash_ref) == job_state(aws, cfg, clean_id, clean_ref)
