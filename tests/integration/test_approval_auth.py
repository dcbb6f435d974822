"""Who may decide: operators with an IAM identity, reviewers with their job's unused, unexpired review token.

Every refusal leaves the job untouched and sends no callback.
"""

from __future__ import annotations

from typing import Any

import pytest

from etl_aws import contract as C
from etl_aws.models import JobStatus
from tests.integration.approval_support import ApprovalEnv, PendingJob, api_event

pytest_plugins = ["tests.integration.approval_fixtures"]


def _unchanged(env: ApprovalEnv, job: PendingJob, before: dict[str, Any]) -> None:
    assert env.raw_item(job.job_id) == before
    assert env.recorder.attempts == 0


OPERATOR_ROUTES = [
    (r.method, r.resource, {"reason": "bad data"} if r.handler == "reject" else None)
    for r in C.API_ROUTES
    if r.iam and "{jobId}" in r.resource
]


def test_operator_routes_without_iam_identity_are_refused(approval_env: ApprovalEnv) -> None:
    job = approval_env.pending()
    before = approval_env.raw_item(job.job_id)

    responses = {
        (method, resource): approval_env.call(
            api_event(method, resource, {"jobId": job.job_id}, body=body, caller=None)
        )
        for method, resource, body in OPERATOR_ROUTES
    }

    assert {route: r.status for route, r in responses.items()} == dict.fromkeys(responses, 403)
    assert all(r.json["error"] == "forbidden" for r in responses.values())
    _unchanged(approval_env, job, before)


def test_listing_jobs_without_iam_identity_is_refused(approval_env: ApprovalEnv) -> None:
    approval_env.pending()

    response = approval_env.call(api_event("GET", "/jobs", query={"status": "PENDING_APPROVAL"}, caller=None))

    assert response.status == 403
    assert response.json == {"error": "forbidden", "message": "this route needs IAM (SigV4) authentication"}


def test_a_blank_identity_counts_as_none(approval_env: ApprovalEnv) -> None:
    job = approval_env.pending()
    event = api_event("POST", "/jobs/{jobId}/approve", {"jobId": job.job_id})
    event["requestContext"]["identity"].update(userArn="  ", caller="", accessKey=None)

    assert approval_env.call(event).status == 403
    assert approval_env.recorder.attempts == 0


def test_operator_identity_falls_back_to_caller(approval_env: ApprovalEnv) -> None:
    job = approval_env.pending()
    event = api_event("POST", "/jobs/{jobId}/approve", {"jobId": job.job_id})
    event["requestContext"]["identity"]["userArn"] = None

    response = approval_env.call(event)

    assert response.status == 200
    assert response.json["decision"]["reviewer"] == "AIDAEXAMPLEOPERATOR"


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_wrong_review_token_is_refused(approval_env: ApprovalEnv, decision: str) -> None:
    job = approval_env.pending()
    before = approval_env.raw_item(job.job_id)

    response = approval_env.review_post(job.job_id, job.review_token[:-2] + "xx", decision, "no")

    assert response.status == 403
    assert "This link is not valid" in response.body
    _unchanged(approval_env, job, before)


def test_missing_review_token_is_refused(approval_env: ApprovalEnv) -> None:
    job = approval_env.pending()
    before = approval_env.raw_item(job.job_id)

    assert approval_env.review_post(job.job_id, None, "approve").status == 403
    assert approval_env.review_get(job.job_id, None).status == 403
    _unchanged(approval_env, job, before)


def test_another_jobs_token_is_refused_and_looks_like_a_wrong_one(approval_env: ApprovalEnv) -> None:
    job, other = approval_env.pending(), approval_env.pending()
    before = approval_env.raw_item(job.job_id)

    borrowed = approval_env.review_post(job.job_id, other.review_token, "approve")
    wrong = approval_env.review_post(job.job_id, "x" * 43, "approve")

    assert borrowed.status == wrong.status == 403
    assert borrowed.body == wrong.body
    _unchanged(approval_env, job, before)
    assert approval_env.repo.get(other.job_id).status == JobStatus.PENDING_APPROVAL


def test_token_in_a_different_jobs_url_is_refused(approval_env: ApprovalEnv) -> None:
    """A valid link with its job id swapped for another job's opens nothing, and decides neither job."""
    job, other = approval_env.pending(), approval_env.pending()
    before, other_before = approval_env.raw_item(job.job_id), approval_env.raw_item(other.job_id)

    page = approval_env.review_get(other.job_id, job.review_token)
    post = approval_env.review_post(other.job_id, job.review_token, "approve")
    as_json = approval_env.review_post(
        other.job_id, job.review_token, "approve", form=False, token_in_query=False
    )

    assert page.status == post.status == as_json.status == 403
    assert as_json.json["error"] == "forbidden"
    _unchanged(approval_env, job, before)
    assert approval_env.raw_item(other.job_id) == other_before


def test_unknown_job_through_a_review_link_looks_like_a_wrong_token(approval_env: ApprovalEnv) -> None:
    job = approval_env.pending()

    unknown = approval_env.review_post("no-such-job", job.review_token, "approve")
    wrong = approval_env.review_post(job.job_id, "x" * 43, "approve")

    assert unknown.status == 403
    assert unknown.body == wrong.body
    assert approval_env.recorder.attempts == 0


def test_expired_review_token_is_refused(approval_env: ApprovalEnv) -> None:
    job = approval_env.pending()
    approval_env.expire(job.job_id)
    before = approval_env.raw_item(job.job_id)

    post = approval_env.review_post(job.job_id, job.review_token, "approve")
    page = approval_env.review_get(job.job_id, job.review_token)

    assert post.status == page.status == 410
    assert "This link has expired" in post.body
    _unchanged(approval_env, job, before)


@pytest.mark.parametrize("second", ["approve", "reject"])
def test_used_review_token_is_refused(approval_env: ApprovalEnv, second: str) -> None:
    job = approval_env.pending()
    assert approval_env.review_post(job.job_id, job.review_token, "approve").status == 200
    before, sent = approval_env.raw_item(job.job_id), approval_env.recorder.attempts

    response = approval_env.review_post(job.job_id, job.review_token, second, "changed my mind")

    assert response.status == 409
    assert "Already decided" in response.body
    assert "approved" in response.body
    assert approval_env.raw_item(job.job_id) == before
    assert approval_env.recorder.attempts == sent == 1


def test_used_review_token_is_refused_as_json(approval_env: ApprovalEnv) -> None:
    job = approval_env.pending()
    approval_env.review_post(job.job_id, job.review_token, "reject", "broken dates", form=False)

    response = approval_env.review_post(job.job_id, job.review_token, "reject", "again", form=False)

    assert response.status == 409
    assert response.json["error"] == "already_decided"
    assert len(approval_env.recorder.sent) == 1


def test_review_token_does_not_open_operator_routes(approval_env: ApprovalEnv) -> None:
    job = approval_env.pending()
    event = api_event(
        "POST", "/jobs/{jobId}/approve", {"jobId": job.job_id}, query={"token": job.review_token}, caller=None
    )

    assert approval_env.call(event).status == 403
    assert approval_env.recorder.attempts == 0
