"""Publishing is the commit point: keys checked before a reviewer is asked, the source archived before
anything is published, a publish cut short taken back; and a decision recorded while a retried approval
request was pending reaches the new request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from etl_aws import callbacks, identity, layout, steps
from etl_aws import contract as C
from etl_aws.config import ApprovalRequestSettings
from etl_aws.errors import FileRejected, TransientError
from etl_aws.jobs import JobsRepository
from etl_aws.models import Decision, JobStatus, Outcome, StartRequest
from etl_local.calls import RECORDER
from etl_local.faults import INJECTOR, Fault, Rule, attempts
from etl_local.metering import attributed_to
from tests.integration.etl_aws_support import csv_bytes, objects, run_to_loaded, run_to_pending, upload

APPROVAL = Decision(
    approved=True, reviewer="alice", reason="ok", decided_at="2025-01-01T00:00:00Z", via="iam"
)


@pytest.fixture
def cfg(aws: Any) -> ApprovalRequestSettings:
    return aws.settings(C.DURABLE)


@pytest.fixture
def repo(cfg: ApprovalRequestSettings) -> JobsRepository:
    return JobsRepository(cfg.jobs_table)


@pytest.fixture(autouse=True)
def _no_faults_left() -> Iterator[None]:
    yield
    INJECTOR.clear()


def long_name_key(name_bytes: int) -> str:
    return "uploads/" + "n" * (name_bytes - 4) + ".csv"


def test_layout_finds_a_file_name_whose_archive_key_would_be_too_long() -> None:
    job_id = "j" * 64
    fits = long_name_key(1024 - len(f"archive/{job_id}/"))
    assert layout.key_problem(job_id, fits) is None
    problem = layout.key_problem(job_id, long_name_key(1024 - len(f"archive/{job_id}/") + 1))
    assert problem is not None
    assert "1,024" in problem
    assert "rename the file" in problem


def test_an_upload_whose_archive_key_would_be_too_long_fails_at_extract(
    aws: Any, cfg: ApprovalRequestSettings, repo: JobsRepository
) -> None:
    key = long_name_key(960)  # a valid upload key (968 bytes); archive/<job id>/<name> would not be
    ref = upload(aws, key, csv_bytes(rows=5))
    job_id = identity.job_id(ref)
    steps.register(ref, job_id, cfg)

    with pytest.raises(FileRejected) as exc:
        steps.extract(StartRequest(job_id=job_id, object=ref), cfg)

    assert exc.value.code == "key_too_long"
    job = repo.get(job_id)
    assert job.status == JobStatus.FAILED
    assert job.error is not None
    assert "rename the file" in job.error["message"]
    assert job.notified_at is None  # no reviewer was asked
    assert objects(aws, ref.bucket, key)  # the source stays where it was
    assert objects(aws, cfg.output_bucket) == {}


def _publish(aws: Any, cfg: ApprovalRequestSettings, repo: JobsRepository, key: str) -> tuple[str, list]:
    """Upload `key`, run it to the approval, approve and finalize it; the job id and finalize's calls."""
    ref = upload(aws, key, csv_bytes(rows=20))
    job_id = identity.job_id(ref)
    run_to_pending(cfg, ref)
    repo.record_decision(job_id, APPROVAL)
    with RECORDER.recording() as calls, attributed_to("durable-orchestrator"):
        steps.finalize(job_id, Outcome.APPROVED, APPROVAL, cfg=cfg)
    return job_id, calls


def test_finalize_archives_the_source_before_it_publishes(
    aws: Any, cfg: ApprovalRequestSettings, repo: JobsRepository
) -> None:
    job_id, calls = _publish(aws, cfg, repo, "uploads/order.csv")

    s3 = [c.operation for c in calls if c.service == "s3" and c.operation in ("CopyObject", "DeleteObject")]
    assert s3[:2] == ["CopyObject", "DeleteObject"]  # the source archived and removed first
    assert s3[2:] == ["CopyObject"] * 3  # then the three outputs published, the manifest last
    assert repo.get(job_id).status == JobStatus.COMPLETED


def test_finalize_copies_without_asking_sizes_it_recorded(
    aws: Any, cfg: ApprovalRequestSettings, repo: JobsRepository
) -> None:
    """The sizes of the source and of the staged versions are on the job: a publish makes one HeadObject
    per staged object (the check that each is still the recorded version) and none to size a copy."""
    job_id, calls = _publish(aws, cfg, repo, "uploads/sized.csv")

    heads = [c.params["Key"] for c in calls if c.service == "s3" and c.operation == "HeadObject"]
    assert sorted(heads) == sorted(layout.staging_key(job_id, name) for name in layout.OUTPUT_FILES)
    published = layout.processed_key(job_id, C.RECORDS_FILE)
    copied = aws.client("s3").get_object(Bucket=cfg.output_bucket, Key=published)
    staged = repo.get(job_id).staged or {}
    assert copied["ContentLength"] == staged["records"]["bytes"]


def test_a_publish_cut_short_is_taken_back_when_the_job_fails(
    aws: Any, cfg: ApprovalRequestSettings, repo: JobsRepository, no_backoff: list[float]
) -> None:
    """The outputs are copied to processed/ but the COMPLETED write keeps failing: the workflow gives
    up and records FAILED, and consumers must not see the half-committed output."""
    ref = upload(aws, "uploads/order.csv", csv_bytes(rows=20))
    job_id = identity.job_id(ref)
    run_to_pending(cfg, ref)
    repo.record_decision(job_id, APPROVAL)
    complete = Rule("dynamodb", "UpdateItem", Fault.TRANSIENT, times=attempts())
    with INJECTOR.injecting(complete), pytest.raises(TransientError):
        steps.finalize(job_id, Outcome.APPROVED, APPROVAL, cfg=cfg)
    assert objects(aws, cfg.output_bucket, f"processed/{job_id}/")  # the copies were made

    steps.finalize(job_id, Outcome.FAILED, error={"code": "TransientError", "message": "gave up"}, cfg=cfg)

    assert repo.get(job_id).status == JobStatus.FAILED
    assert objects(aws, cfg.output_bucket, "processed/") == {}


def test_a_retried_approval_request_delivers_a_decision_recorded_meanwhile(
    aws: Any, cfg: ApprovalRequestSettings, repo: JobsRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Step Functions retried the approval task: it waits on a new token. A decision recorded while the
    old token was current must reach the new one, or the approved job would wait until it expires."""
    sent: list[tuple[str, str, Decision]] = []
    monkeypatch.setattr(callbacks, "send_decision", lambda w, t, d: sent.append((w, t, d)))
    sfn_cfg = aws.settings(C.STEP_FUNCTIONS)
    ref = upload(aws, "uploads/order.csv", csv_bytes(rows=20), workflow=C.STEP_FUNCTIONS)
    job_id = identity.job_id(ref)
    steps.register(ref, job_id, sfn_cfg)
    *_, loaded = run_to_loaded(sfn_cfg, ref)
    steps.request_approval(loaded, "token-1", sfn_cfg)
    repo_sfn = JobsRepository(sfn_cfg.jobs_table)
    repo_sfn.record_decision(job_id, APPROVAL)  # its delivery to token-1 failed: that task attempt is gone

    steps.request_approval(loaded, "token-2", sfn_cfg)

    assert [(w, t, d.approved) for w, t, d in sent] == [(C.STEP_FUNCTIONS, "token-2", True)]
    job = repo_sfn.get(job_id)
    assert job.callback_sent_at is not None
    assert repo_sfn.approval_secrets(job_id).callback_token == "token-2"


def test_a_retried_approval_request_while_waiting_only_follows_the_new_token(
    aws: Any, cfg: ApprovalRequestSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[Any] = []
    monkeypatch.setattr(callbacks, "send_decision", lambda *a: sent.append(a))
    sfn_cfg = aws.settings(C.STEP_FUNCTIONS)
    ref = upload(aws, "uploads/order.csv", csv_bytes(rows=20), workflow=C.STEP_FUNCTIONS)
    job_id = identity.job_id(ref)
    steps.register(ref, job_id, sfn_cfg)
    *_, loaded = run_to_loaded(sfn_cfg, ref)
    steps.request_approval(loaded, "token-1", sfn_cfg)

    steps.request_approval(loaded, "token-2", sfn_cfg)

    repo_sfn = JobsRepository(sfn_cfg.jobs_table)
    assert sent == []
    assert repo_sfn.approval_secrets(job_id).callback_token == "token-2"
    assert repo_sfn.get(job_id).status == JobStatus.PENDING_APPROVAL
