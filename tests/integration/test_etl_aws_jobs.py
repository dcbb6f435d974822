"""The jobs table: conditional transitions, listing by status, retention, decisions, secrets kept inside."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from etl_aws import clock
from etl_aws import contract as C
from etl_aws.errors import DecisionConflict, DecisionGone, InvalidTransition, JobNotFound, NotAwaitingDecision
from etl_aws.jobs import Job, JobsRepository, iso_in
from etl_aws.models import Decision, JobStatus, ObjectRef
from tests.integration.etl_aws_support import shared_botocore_models

CALLBACK = "callback-secret-4f1b8c"
TOKEN_HASH = "ab" * 32


@pytest.fixture(autouse=True, scope="module")
def _models_parsed_once() -> Iterator[None]:
    with shared_botocore_models():
        yield


@pytest.fixture
def repo(aws: Any) -> JobsRepository:
    return JobsRepository(aws.resources["jobs_table"])


def ref(name: str = "sales.csv") -> ObjectRef:
    return ObjectRef(bucket="raw", key=f"uploads/{name}", version_id="v1", etag="e1", size=10)


def raw_item(aws: Any, job_id: str) -> dict[str, Any]:
    table = aws.session.resource("dynamodb").Table(aws.resources["jobs_table"])
    return table.get_item(Key={"job_id": job_id}, ConsistentRead=True)["Item"]


def pending(repo: JobsRepository, job_id: str = "job-1", expires_in: int = 3600) -> Job:
    repo.create(job_id, C.DURABLE, ref(), retention_days=30)
    for to in (JobStatus.EXTRACTED, JobStatus.TRANSFORMED, JobStatus.LOADED):
        repo.transition(job_id, [JobStatus(s) for s in JobStatus], to)
    return repo.store_approval(job_id, CALLBACK, TOKEN_HASH, iso_in(expires_in))


def test_create_starts_received_with_source_and_history(repo: JobsRepository) -> None:
    job = repo.create("job-1", C.DURABLE, ref("q1 sales.csv"), retention_days=30)

    assert job.status == JobStatus.RECEIVED
    assert job.file_name == "q1 sales.csv"
    assert job.source == {
        "bucket": "raw",
        "key": "uploads/q1 sales.csv",
        "version_id": "v1",
        "etag": "e1",
        "size": 10,
    }
    assert [h.status for h in job.history] == [JobStatus.RECEIVED]
    assert repo.get("job-1") == job


def test_creating_the_same_job_twice_returns_the_existing_one(repo: JobsRepository) -> None:
    first = repo.create("job-1", C.DURABLE, ref(), retention_days=30)
    repo.transition("job-1", [JobStatus.RECEIVED], JobStatus.EXTRACTED)

    again = repo.create("job-1", C.DURABLE, ref(), retention_days=30)

    assert again.status == JobStatus.EXTRACTED
    assert again.created_at == first.created_at


def test_retention_ttl_is_an_epoch_number_days_ahead(aws: Any, repo: JobsRepository) -> None:
    before = int(time.time())
    repo.create("job-1", C.DURABLE, ref(), retention_days=7)

    ttl = int(raw_item(aws, "job-1")[C.JOBS_TTL_ATTRIBUTE])

    assert before + 7 * 86400 <= ttl <= int(time.time()) + 7 * 86400
    ttl_setting = aws.client("dynamodb").describe_time_to_live(TableName=aws.resources["jobs_table"])
    assert ttl_setting["TimeToLiveDescription"]["AttributeName"] == C.JOBS_TTL_ATTRIBUTE


def test_transition_moves_only_from_an_allowed_state(repo: JobsRepository) -> None:
    repo.create("job-1", C.DURABLE, ref(), retention_days=30)

    job = repo.transition("job-1", [JobStatus.RECEIVED], JobStatus.EXTRACTED, {"counts": {"rows": 3}})

    assert job.status == JobStatus.EXTRACTED
    assert job.counts == {"rows": 3}
    assert [h.status for h in job.history] == [JobStatus.RECEIVED, JobStatus.EXTRACTED]
    with pytest.raises(InvalidTransition):
        repo.transition("job-1", [JobStatus.LOADED], JobStatus.PENDING_APPROVAL)
    assert repo.get("job-1").status == JobStatus.EXTRACTED


def test_repeating_a_transition_already_made_is_a_no_op(repo: JobsRepository) -> None:
    repo.create("job-1", C.DURABLE, ref(), retention_days=30)
    first = repo.transition("job-1", [JobStatus.RECEIVED], JobStatus.EXTRACTED)

    again = repo.transition("job-1", [JobStatus.RECEIVED], JobStatus.EXTRACTED)

    assert again.status == JobStatus.EXTRACTED
    assert again.history == first.history


def test_transition_of_an_unknown_job_is_job_not_found(repo: JobsRepository) -> None:
    with pytest.raises(JobNotFound):
        repo.transition("nope", [JobStatus.RECEIVED], JobStatus.EXTRACTED)
    with pytest.raises(JobNotFound):
        repo.get("nope")
    assert repo.find("nope") is None


def test_update_can_be_limited_to_some_states(repo: JobsRepository) -> None:
    repo.create("job-1", C.DURABLE, ref(), retention_days=30)

    repo.update("job-1", {"notified_at": "now"}, only_if=[JobStatus.RECEIVED])

    assert repo.get("job-1").notified_at == "now"
    with pytest.raises(InvalidTransition):
        repo.update("job-1", {"notified_at": "later"}, only_if=[JobStatus.LOADED])


def test_summary_round_trips_with_nested_values(repo: JobsRepository) -> None:
    repo.create("job-1", C.DURABLE, ref(), retention_days=30)
    summary = {"rows": 2, "samples": [{"amount": 1.5, "name": "é"}], "columns": ["id", "name"]}

    job = repo.transition("job-1", [JobStatus.RECEIVED], JobStatus.EXTRACTED, {"summary": summary})

    assert job.summary == summary
    assert repo.get("job-1").summary == summary


def test_list_by_status_uses_the_index_newest_first_with_a_cursor(repo: JobsRepository) -> None:
    for i in range(5):
        repo.create(f"job-{i}", C.DURABLE, ref(f"f{i}.csv"), retention_days=30)
    for i in (1, 3, 4):
        repo.transition(
            f"job-{i}", [JobStatus.RECEIVED], JobStatus.FAILED, {"error": {"code": "x", "message": "y"}}
        )

    page, cursor = repo.list_jobs(JobStatus.FAILED, limit=2)
    rest, end = repo.list_jobs(JobStatus.FAILED, limit=2, cursor=cursor)

    assert [j.job_id for j in page + rest] == ["job-4", "job-3", "job-1"]
    assert cursor is not None
    json.loads(cursor)  # opaque to callers, but plain JSON (no Decimals)
    assert end is None
    received, _ = repo.list_jobs(JobStatus.RECEIVED)
    assert sorted(j.job_id for j in received) == ["job-0", "job-2"]
    everything, _ = repo.list_jobs()
    assert len(everything) == 5


def test_store_approval_enters_pending_and_keeps_secrets_out_of_the_model(
    aws: Any, repo: JobsRepository
) -> None:
    job = pending(repo)

    assert job.status == JobStatus.PENDING_APPROVAL
    assert job.approval_expires_at
    item = raw_item(aws, "job-1")
    assert item["callback_token"] == CALLBACK
    assert item["review_token_hash"] == TOKEN_HASH
    for model in (
        job,
        repo.get("job-1"),
        repo.list_jobs(JobStatus.PENDING_APPROVAL)[0][0],
        repo.list_jobs()[0][0],
    ):
        dumped = model.model_dump_json()
        assert CALLBACK not in dumped
        assert TOKEN_HASH not in dumped
        assert "callback_token" not in dumped
        assert "review_token_hash" not in dumped


def test_approval_secrets_are_readable_for_the_approval_service_but_not_printable(
    repo: JobsRepository,
) -> None:
    pending(repo)

    secrets = repo.approval_secrets("job-1")

    assert secrets.callback_token == CALLBACK
    assert secrets.review_token_hash == TOKEN_HASH
    assert secrets.workflow == C.DURABLE
    assert CALLBACK not in repr(secrets)
    assert TOKEN_HASH not in repr(secrets)
    assert CALLBACK not in str(secrets)
    with pytest.raises(JobNotFound):
        repo.approval_secrets("nope")


def test_the_first_decision_is_recorded_with_who_when_why_and_how(repo: JobsRepository) -> None:
    pending(repo)
    decision = Decision(
        approved=True,
        reviewer="arn:aws:iam::123456789012:user/alice",
        reason="looks right",
        decided_at="2025-01-01T00:00:00Z",
        via="iam",
    )

    job, recorded = repo.record_decision("job-1", decision)

    assert recorded
    assert job.status == JobStatus.APPROVED
    assert job.decision is not None
    assert job.decision.model_dump() == {
        "approved": True,
        "reviewer": "arn:aws:iam::123456789012:user/alice",
        "reason": "looks right",
        "decided_at": "2025-01-01T00:00:00Z",
        "via": "iam",
        "staged": None,  # the repository records what it is given; the approval service binds the hashes
    }
    assert [h.status for h in job.history][-2:] == [JobStatus.PENDING_APPROVAL, JobStatus.APPROVED]


def test_the_same_decision_again_is_a_repeat_not_a_second_record(repo: JobsRepository) -> None:
    pending(repo)
    repo.record_decision("job-1", Decision(approved=False, reviewer="bob", reason="bad rows"))

    job, recorded = repo.record_decision("job-1", Decision(approved=False, reviewer="carol", reason="other"))

    assert not recorded
    assert job.status == JobStatus.REJECTED
    assert job.decision is not None
    assert job.decision.reviewer == "bob"


def test_a_conflicting_decision_after_the_first_is_refused(repo: JobsRepository) -> None:
    pending(repo)
    repo.record_decision("job-1", Decision(approved=True, reviewer="alice"))

    with pytest.raises(DecisionConflict):
        repo.record_decision("job-1", Decision(approved=False, reviewer="bob"))
    assert repo.get("job-1").status == JobStatus.APPROVED


def test_a_decision_after_expiry_is_gone(repo: JobsRepository) -> None:
    pending(repo, expires_in=60)

    with clock.shifted(120), pytest.raises(DecisionGone):
        repo.record_decision("job-1", Decision(approved=True))
    assert repo.get("job-1").decision is None


def test_the_retention_ttl_counts_from_the_clock(aws: Any, repo: JobsRepository) -> None:
    with clock.shifted(30 * 86400):
        later = clock.epoch_seconds()
        repo.create("job-1", C.DURABLE, ref(), retention_days=7)

    ttl = int(raw_item(aws, "job-1")[C.JOBS_TTL_ATTRIBUTE])

    assert later + 7 * 86400 <= ttl <= later + 7 * 86400 + 5


def test_a_callback_claim_is_held_once_until_sent_released_or_lapsed(repo: JobsRepository) -> None:
    pending(repo)
    repo.record_decision("job-1", Decision(approved=True))

    taken = repo.claim_callback("job-1", lease_seconds=60)
    assert taken is not None
    first, secrets = taken
    assert secrets.callback_token  # read with the claim: the token to send to
    assert repo.claim_callback("job-1", lease_seconds=60) is None
    assert repo.claim_callback("job-1", lease_seconds=60, claim=first) == (first, secrets)
    with clock.shifted(61):
        taken = repo.claim_callback("job-1", lease_seconds=60)
    assert taken is not None
    lapsed = taken[0]
    assert lapsed != first

    repo.release_callback("job-1", first)  # not ours any more: the lapsed claim's holder keeps it
    assert repo.claim_callback("job-1", lease_seconds=60) is None
    repo.release_callback("job-1", lapsed)
    assert repo.claim_callback("job-1", lease_seconds=60) is not None


def test_no_callback_claim_before_a_decision_or_after_the_send(repo: JobsRepository) -> None:
    pending(repo)
    assert repo.claim_callback("job-1", lease_seconds=60) is None

    repo.record_decision("job-1", Decision(approved=False))
    repo.mark_callback_sent("job-1")

    assert repo.claim_callback("job-1", lease_seconds=60) is None


def test_a_decision_before_the_approval_step_is_not_awaited(repo: JobsRepository) -> None:
    repo.create("job-1", C.DURABLE, ref(), retention_days=30)

    with pytest.raises(NotAwaitingDecision):
        repo.record_decision("job-1", Decision(approved=True))
    with pytest.raises(JobNotFound):
        repo.record_decision("nope", Decision(approved=True))


def test_a_decision_on_a_finished_job_is_gone(repo: JobsRepository) -> None:
    pending(repo)
    repo.transition("job-1", [JobStatus.PENDING_APPROVAL], JobStatus.EXPIRED)

    with pytest.raises(DecisionGone):
        repo.record_decision("job-1", Decision(approved=True))


def test_a_review_token_decides_once(aws: Any, repo: JobsRepository) -> None:
    pending(repo)

    job, recorded = repo.record_decision(
        "job-1", Decision(approved=True, via="review_link"), use_review_token=True
    )
    used_at = raw_item(aws, "job-1")["review_token_used_at"]
    again, recorded_again = repo.record_decision(
        "job-1", Decision(approved=True, via="review_link"), use_review_token=True
    )

    assert recorded
    assert not recorded_again
    assert repo.approval_secrets("job-1").review_token_used_at == used_at
    assert again.decision == job.decision
    with pytest.raises(DecisionConflict):
        repo.record_decision("job-1", Decision(approved=False, via="review_link"), use_review_token=True)


def test_mark_callback_sent_keeps_the_first_time(repo: JobsRepository) -> None:
    pending(repo)
    repo.mark_callback_sent("job-1")
    first = repo.get("job-1").callback_sent_at

    repo.mark_callback_sent("job-1")

    assert first
    assert repo.get("job-1").callback_sent_at == first
