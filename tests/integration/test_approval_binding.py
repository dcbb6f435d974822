"""A decision is bound to the exact staged data reviewed, and only the newest review link decides.

The review page shows each staged object's SHA-256 and its forms carry them back; the approval service
refuses (409) a decision whose hashes are not the job's recorded ones. An operator may omit them: the
decision is then bound to the recorded ones. When approval is requested again, the earlier link answers
410 "superseded" and never decides, while the newest one works.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from typing import Any

import pytest

from etl_aws import contract as C
from etl_aws import steps, tokens
from etl_aws.errors import ReviewLinkSuperseded
from etl_aws.models import Decision, JobStatus, Loaded
from tests.integration.approval_support import API_URL, ApprovalEnv, api_event, execution_arn

pytest_plugins = ["tests.integration.approval_fixtures"]

_HIDDEN = re.compile(r'<input type="hidden" name="sha256_(\w+)" value="([0-9a-f]{64})">')


def shown_hashes(page: str) -> dict[str, str]:
    """The hashes a review page's approve form carries (the reject form carries the same ones)."""
    form = page.split('value="approve">', 1)[1].split("</form>", 1)[0]
    return {f"sha256_{name}": value for name, value in _HIDDEN.findall(form)}


def staged_body(approval_env: ApprovalEnv, job_id: str, name: str) -> bytes:
    job = approval_env.repo.get(job_id)
    assert job.staged is not None
    s3 = approval_env.stack.client("s3")
    bucket = approval_env.stack.output_bucket(job.workflow)
    return s3.get_object(Bucket=bucket, Key=job.staged[name]["key"])["Body"].read()


def request_again(approval_env: ApprovalEnv, job_id: str, workflow: str) -> str:
    """Run request_approval again with a new callback token (a retried or re-driven request); the new link's
    token, read from the e-mail."""
    callback_token = (
        base64.b64encode(secrets.token_bytes(48)).decode()
        if workflow == C.DURABLE
        else "AQCEAAAAKgAAAA" + secrets.token_urlsafe(48)
    )
    approval_env.recorder.waits(execution_arn(workflow, job_id), callback_token)
    job = approval_env.repo.get(job_id)
    cfg = approval_env.stack.settings(workflow, api_url=API_URL, approval_timeout_seconds=3600)
    loaded = Loaded(job_id=job_id, counts=job.counts, manifest_key=job.outputs["manifest"])
    steps.request_approval(loaded, callback_token, cfg)
    return approval_env._token_from_email(job_id)


@pytest.mark.parametrize("workflow", C.WORKFLOWS)
def test_the_page_shows_and_posts_the_sha256_of_each_staged_object(
    approval_env: ApprovalEnv, workflow: str
) -> None:
    job = approval_env.pending(workflow)

    page = approval_env.review_get(job.job_id, job.review_token)

    hashes = shown_hashes(page.body)
    assert set(hashes) == {"sha256_records", "sha256_rejects", "sha256_manifest"}
    for name in ("records", "rejects", "manifest"):
        digest = hashlib.sha256(staged_body(approval_env, job.job_id, name)).hexdigest()
        assert hashes[f"sha256_{name}"] == digest
        assert page.body.count(digest) == 3  # the table, and each of the two forms
    assert 'id="staged"' in page.body


def test_a_page_decision_carrying_the_shown_hashes_is_recorded_with_them(approval_env: ApprovalEnv) -> None:
    job = approval_env.pending()
    hashes = shown_hashes(approval_env.review_get(job.job_id, job.review_token).body)

    response = approval_env.review_post(job.job_id, job.review_token, "approve", extra=hashes)

    assert response.status == 200, response.body
    decision = approval_env.repo.get(job.job_id).decision
    assert decision is not None
    assert decision.staged == {k.removeprefix("sha256_"): v for k, v in hashes.items()}
    [sent] = approval_env.recorder.sent
    assert sent.payload["staged"] == decision.staged


def test_a_decision_on_other_hashes_is_refused_409_and_nothing_is_recorded(approval_env: ApprovalEnv) -> None:
    job = approval_env.pending()
    hashes = shown_hashes(approval_env.review_get(job.job_id, job.review_token).body)
    stale = hashes | {"sha256_records": "0" * 64}

    page = approval_env.review_post(job.job_id, job.review_token, "approve", extra=stale)
    as_json = approval_env.review_post(job.job_id, job.review_token, "approve", form=False, extra=stale)

    assert page.status == 409
    assert "The data changed" in page.body
    assert as_json.status == 409
    assert as_json.json["error"] == "staged_data_changed"
    assert "changed since the page was rendered" in as_json.json["message"]
    assert approval_env.repo.get(job.job_id).status == JobStatus.PENDING_APPROVAL
    assert approval_env.recorder.sent == []
    assert approval_env.review_post(job.job_id, job.review_token, "approve", extra=hashes).status == 200


def test_an_operator_decision_without_hashes_is_bound_to_the_recorded_ones(approval_env: ApprovalEnv) -> None:
    job = approval_env.pending(C.STEP_FUNCTIONS)

    response = approval_env.operator("approve", job.job_id)

    assert response.status == 200
    recorded = approval_env.repo.get(job.job_id)
    assert recorded.staged is not None
    assert response.json["decision"]["staged"] == {n: recorded.staged[n]["sha256"] for n in recorded.staged}


def test_an_operator_decision_naming_other_hashes_is_refused(approval_env: ApprovalEnv) -> None:
    job = approval_env.pending()
    body = {"reason": "ok", "staged_sha256": {"records": "f" * 64}}

    response = approval_env.call(api_event("POST", "/jobs/{jobId}/approve", {"jobId": job.job_id}, body=body))

    assert response.status == 409
    assert response.json["error"] == "staged_data_changed"
    assert approval_env.repo.get(job.job_id).status == JobStatus.PENDING_APPROVAL


@pytest.mark.parametrize("workflow", C.WORKFLOWS)
def test_a_superseded_link_answers_410_and_never_decides_while_the_newest_one_works(
    approval_env: ApprovalEnv, workflow: str
) -> None:
    job = approval_env.pending(workflow)
    newest = request_again(approval_env, job.job_id, workflow)

    page = approval_env.review_get(job.job_id, job.review_token)
    post = approval_env.review_post(job.job_id, job.review_token, "approve")
    as_json = approval_env.review_post(job.job_id, job.review_token, "approve", form=False)

    assert newest != job.review_token
    assert page.status == 410
    assert "This link was superseded" in page.body
    assert post.status == 410
    assert as_json.json["error"] == "superseded"
    assert job.review_token not in page.body + post.body + str(as_json.json)
    assert approval_env.repo.get(job.job_id).status == JobStatus.PENDING_APPROVAL
    fresh = approval_env.review_get(job.job_id, newest)
    assert fresh.status == 200
    assert "approval request 2" in fresh.body
    hashes = shown_hashes(fresh.body)
    assert approval_env.review_post(job.job_id, newest, "approve", extra=hashes).status == 200
    assert approval_env.repo.get(job.job_id).status == JobStatus.APPROVED


def test_an_unknown_token_is_still_invalid_not_superseded(approval_env: ApprovalEnv) -> None:
    job = approval_env.pending()
    request_again(approval_env, job.job_id, C.DURABLE)

    assert approval_env.review_get(job.job_id, tokens.new_token()).status == 403


def test_a_link_superseded_after_it_was_checked_cannot_record_its_decision(approval_env: ApprovalEnv) -> None:
    """The decision's conditional write names the link: a new request between check and write wins."""
    job = approval_env.pending()
    request_again(approval_env, job.job_id, C.DURABLE)

    with pytest.raises(ReviewLinkSuperseded):
        approval_env.repo.record_decision(
            job.job_id,
            Decision(approved=True, via="review_link"),
            use_review_token=True,
            review_token_hash=job.review_token_hash,
        )
    assert approval_env.repo.get(job.job_id).decision is None


def test_superseded_hashes_are_secrets_never_in_the_job(approval_env: ApprovalEnv) -> None:
    job = approval_env.pending()
    request_again(approval_env, job.job_id, C.DURABLE)

    shown: Any = approval_env.operator("approve", job.job_id).json
    listed = approval_env.call(api_event("GET", "/jobs/{jobId}", {"jobId": job.job_id})).json

    assert "superseded_token_hashes" in approval_env.raw_item(job.job_id)
    for answer in (shown, listed):
        assert job.review_token_hash not in str(answer)
        assert "superseded_token_hashes" not in str(answer)
