"""Decisions happen exactly once and reach the waiting workflow, durable or Step Functions alike."""

from __future__ import annotations

import pytest

from etl_aws import contract as C
from etl_aws import steps
from etl_aws.models import Decision, JobStatus, ObjectRef, Outcome
from tests.integration.approval_support import OPERATOR_ARN, ApprovalEnv, api_event

pytest_plugins = ["tests.integration.approval_fixtures"]


@pytest.mark.parametrize("workflow", [C.DURABLE, C.STEP_FUNCTIONS])
def test_approve_records_the_decision_and_resumes_the_workflow(
    approval_env: ApprovalEnv, workflow: str
) -> None:
    job = approval_env.pending(workflow)

    response = approval_env.operator("approve", job.job_id, reason="looks right")

    assert response.status == 200
    assert response.json["status"] == "APPROVED"
    assert response.json["created"] is True
    assert response.json["callback_sent"] is True
    assert response.json["decision"]["reviewer"] == OPERATOR_ARN
    assert response.json["decision"]["via"] == "iam"
    [sent] = approval_env.recorder.sent
    assert (sent.workflow, sent.token) == (workflow, job.callback_token)
    assert sent.payload["approved"] is True
    assert sent.payload["reason"] == "looks right"
    assert approval_env.repo.get(job.job_id).callback_sent_at is not None


def test_repeating_the_decision_is_200_without_a_second_callback(approval_env: ApprovalEnv) -> None:
    job = approval_env.pending()
    first = approval_env.operator("approve", job.job_id)

    again = approval_env.operator("approve", job.job_id)
    seed_path = approval_env.call(api_event("POST", "/approve/{jobId}", {"jobId": job.job_id}))

    assert again.status == seed_path.status == 200
    assert again.json["created"] is False
    assert again.json["decision"] == first.json["decision"]
    assert approval_env.recorder.attempts == 1


def test_the_other_decision_is_409_and_changes_nothing(approval_env: ApprovalEnv) -> None:
    job = approval_env.pending()
    approval_env.operator("approve", job.job_id)
    before = approval_env.raw_item(job.job_id)

    response = approval_env.operator("reject", job.job_id, reason="second thoughts")
    seed_path = approval_env.call(
        api_event("POST", "/reject/{jobId}", {"jobId": job.job_id}, body={"reason": "second thoughts"})
    )

    assert response.status == seed_path.status == 409
    assert response.json == {"error": "conflict", "message": f"job {job.job_id} was already approved"}
    assert approval_env.raw_item(job.job_id) == before
    assert approval_env.recorder.approvals == [True]


def test_a_decision_after_expiry_is_410(approval_env: ApprovalEnv) -> None:
    job = approval_env.pending()
    approval_env.expire(job.job_id)

    response = approval_env.operator("approve", job.job_id)

    assert response.status == 410
    assert response.json["error"] == "gone"
    assert approval_env.repo.get(job.job_id).status == JobStatus.PENDING_APPROVAL
    assert approval_env.recorder.attempts == 0


def test_an_unknown_job_is_404(approval_env: ApprovalEnv) -> None:
    responses = [
        approval_env.operator("approve", "no-such-job"),
        approval_env.operator("reject", "no-such-job", reason="x"),
        approval_env.call(api_event("GET", "/jobs/{jobId}", {"jobId": "no-such-job"})),
        approval_env.call(api_event("GET", "/status/{jobId}", {"jobId": "no-such-job"})),
    ]

    assert [r.status for r in responses] == [404] * 4
    assert responses[0].json == {"error": "not_found", "message": "job no-such-job not found"}


def test_a_malformed_job_id_is_400(approval_env: ApprovalEnv) -> None:
    for job_id in ("bad.id", "x" * 65, "<script>"):
        response = approval_env.operator("approve", job_id)

        assert response.status == 400
        assert response.json["error"] == "invalid_request"
        assert job_id not in response.body


def test_a_rejection_without_reason_is_400(approval_env: ApprovalEnv) -> None:
    job = approval_env.pending()

    for body in (None, {}, {"reason": ""}, {"reason": "   "}):
        for resource in ("/jobs/{jobId}/reject", "/reject/{jobId}"):
            response = approval_env.call(api_event("POST", resource, {"jobId": job.job_id}, body=body))

            assert response.status == 400
            assert response.json["error"] == "reason_required"
            assert '"reason"' in response.json["message"]
    assert approval_env.repo.get(job.job_id).status == JobStatus.PENDING_APPROVAL
    assert approval_env.recorder.attempts == 0


@pytest.mark.parametrize("workflow", [C.DURABLE, C.STEP_FUNCTIONS])
def test_reject_ends_the_workflow_rejected_not_failed(approval_env: ApprovalEnv, workflow: str) -> None:
    job = approval_env.pending(workflow)

    response = approval_env.operator("reject", job.job_id, reason="dates are off by a month")

    assert response.status == 200
    [sent] = approval_env.recorder.sent
    assert sent.workflow == workflow
    assert sent.payload["approved"] is False
    assert sent.payload["reason"] == "dates are off by a month"
    # What the orchestrator does with that payload: a clean REJECTED end, nothing published.
    cfg = approval_env.stack.settings(workflow)
    done = steps.finalize(job.job_id, Outcome.REJECTED, Decision.model_validate(sent.payload), cfg=cfg)
    assert done.status == JobStatus.REJECTED
    listed = approval_env.stack.client("s3").list_objects_v2(
        Bucket=approval_env.stack.output_bucket(workflow), Prefix=C.PROCESSED_PREFIX
    )
    assert listed.get("KeyCount", 0) == 0


def test_a_job_id_containing_approve_is_rejected_by_the_reject_route(approval_env: ApprovalEnv) -> None:
    job = approval_env.pending(job_id="approve-approved-approve")

    response = approval_env.call(
        api_event("POST", "/reject/{jobId}", {"jobId": job.job_id}, body={"reason": "not this one"})
    )

    assert response.status == 200
    assert response.json["status"] == "REJECTED"
    assert response.json["decision"]["approved"] is False
    assert approval_env.recorder.approvals == [False]


def test_a_repeat_after_a_failed_first_send_sends_once(approval_env: ApprovalEnv) -> None:
    job = approval_env.pending()
    approval_env.recorder.fail_next("ServiceException", 500)

    failed = approval_env.operator("approve", job.job_id)
    retried = approval_env.operator("approve", job.job_id)
    again = approval_env.operator("approve", job.job_id)

    assert failed.status == 503
    assert failed.json["error"] == "transient"
    assert "recorded" in failed.json["message"]
    assert retried.status == again.status == 200
    assert (retried.json["created"], retried.json["callback_sent"]) == (False, True)
    assert approval_env.recorder.attempts == 2
    assert approval_env.recorder.approvals == [True]


def test_a_workflow_that_no_longer_waits_is_410_and_left_to_its_expiry_path(
    approval_env: ApprovalEnv,
) -> None:
    job = approval_env.pending(C.STEP_FUNCTIONS)
    approval_env.recorder.expire(job.callback_token)  # the approval timed out in the workflow

    response = approval_env.operator("approve", job.job_id)

    assert response.status == 410
    recorded = approval_env.repo.get(job.job_id)
    assert (recorded.status, recorded.callback_sent_at) == (JobStatus.APPROVED, None)
    cfg = approval_env.stack.settings(C.STEP_FUNCTIONS)
    assert steps.finalize(job.job_id, Outcome.EXPIRED, cfg=cfg).status == JobStatus.EXPIRED


def test_a_decision_before_the_approval_step_is_409(approval_env: ApprovalEnv) -> None:
    ref = ObjectRef(bucket=approval_env.stack.raw_bucket(C.DURABLE), key="uploads/early.csv", etag="e1")
    steps.register(ref, "early-job", approval_env.stack.settings(C.DURABLE))

    response = approval_env.operator("approve", "early-job")

    assert response.status == 409
    assert response.json["error"] == "not_pending"
    assert approval_env.repo.get("early-job").status == JobStatus.RECEIVED


def test_review_link_decision_reaches_the_workflow(approval_env: ApprovalEnv) -> None:
    job = approval_env.pending(C.STEP_FUNCTIONS)

    response = approval_env.review_post(job.job_id, job.review_token, "reject", "totals wrong", form=False)

    assert response.status == 200
    assert response.json["approved"] is False
    assert response.json["created"] is True
    [sent] = approval_env.recorder.sent
    assert sent.token == job.callback_token
    assert sent.payload["reviewer"] == "review-link"
    assert approval_env.repo.get(job.job_id).decision.via == "review_link"


def test_review_link_repeats_its_decision_only_while_undelivered(approval_env: ApprovalEnv) -> None:
    job = approval_env.pending()
    approval_env.recorder.fail_next()

    failed = approval_env.review_post(job.job_id, job.review_token, "approve")
    other = approval_env.review_post(job.job_id, job.review_token, "reject", "no")
    retried = approval_env.review_post(job.job_id, job.review_token, "approve")
    spent = approval_env.review_post(job.job_id, job.review_token, "approve")

    assert failed.status == 503
    assert "Please try again" in failed.body
    assert other.status == 409
    assert retried.status == 200
    assert spent.status == 409
    assert approval_env.recorder.approvals == [True]


def test_review_link_rejection_needs_a_reason(approval_env: ApprovalEnv) -> None:
    job = approval_env.pending()

    response = approval_env.review_post(job.job_id, job.review_token, "reject", "  ")

    assert response.status == 400
    assert "A reason is needed" in response.body
    assert approval_env.repo.get(job.job_id).status == JobStatus.PENDING_APPROVAL
    assert approval_env.review_post(job.job_id, job.review_token, "reject", "bad").status == 200


def test_operator_decision_first_spends_the_review_link(approval_env: ApprovalEnv) -> None:
    job = approval_env.pending()
    approval_env.operator("reject", job.job_id, reason="known bad export")

    response = approval_env.review_post(job.job_id, job.review_token, "approve")

    assert response.status == 409
    assert "rejected" in response.body
    assert approval_env.recorder.approvals == [False]


def test_jobs_waiting_for_a_decision_are_listed_by_status(approval_env: ApprovalEnv) -> None:
    waiting = {approval_env.pending().job_id, approval_env.pending().job_id}
    decided = approval_env.pending()
    approval_env.operator("approve", decided.job_id)

    pending = approval_env.call(api_event("GET", "/jobs", query={"status": "PENDING_APPROVAL"}))
    approved = approval_env.call(api_event("GET", "/jobs", query={"status": "APPROVED"}))

    assert pending.status == 200
    assert {j["job_id"] for j in pending.json["jobs"]} == waiting
    assert [j["job_id"] for j in approved.json["jobs"]] == [decided.job_id]
    assert all(j["counts"] == {"rows": 5, "valid": 2, "rejected": 3} for j in pending.json["jobs"])


def test_job_listing_pages_with_an_opaque_cursor(approval_env: ApprovalEnv) -> None:
    ids = {approval_env.pending().job_id, approval_env.pending().job_id}

    first = approval_env.call(api_event("GET", "/jobs", query={"status": "PENDING_APPROVAL", "limit": "1"}))
    cursor = first.json["next_cursor"]
    second = approval_env.call(
        api_event("GET", "/jobs", query={"status": "PENDING_APPROVAL", "limit": "1", "cursor": cursor})
    )
    bogus = approval_env.call(api_event("GET", "/jobs", query={"cursor": "not-a-cursor"}))
    bad_status = approval_env.call(api_event("GET", "/jobs", query={"status": "SOMETHING"}))

    assert {first.json["jobs"][0]["job_id"], second.json["jobs"][0]["job_id"]} == ids
    assert bogus.status == bad_status.status == 400
    assert bogus.json["error"] == "invalid_cursor"


def test_job_details_on_both_paths(approval_env: ApprovalEnv) -> None:
    job = approval_env.pending()

    details = approval_env.call(api_event("GET", "/jobs/{jobId}", {"jobId": job.job_id}))
    status = approval_env.call(api_event("GET", "/status/{jobId}", {"jobId": job.job_id}))

    assert details.status == status.status == 200
    assert details.json == status.json
    assert details.json["status"] == "PENDING_APPROVAL"
    assert details.json["summary"]["samples"]


def test_an_unknown_route_is_a_json_404(approval_env: ApprovalEnv) -> None:
    response = approval_env.call(api_event("DELETE", "/jobs/{jobId}", {"jobId": "x"}))

    assert response.status == 404
    assert response.json == {"error": "not_found", "message": "no such route"}
