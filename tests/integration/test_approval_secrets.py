"""No secret (callback id, task token, review token, its hash) in any response or log line; errors are
JSON with a code and a message, never a stack trace or an exception's text."""

from __future__ import annotations

import io
import logging

import pytest

from etl_aws import contract as C
from tests.integration.approval_support import ApiResponse, ApprovalEnv, PendingJob, api_event

pytest_plugins = ["tests.integration.approval_fixtures"]


def _secrets(*jobs: PendingJob) -> list[str]:
    return [s for job in jobs for s in (job.review_token, job.review_token_hash, job.callback_token)]


def _exercise(
    env: ApprovalEnv, link: PendingJob, operator: PendingJob, broken: PendingJob
) -> list[ApiResponse]:
    """Every route and outcome: pages, decisions, repeats, conflicts, refusals, failures."""
    calls = [
        env.review_get(link.job_id, link.review_token),
        env.review_get(link.job_id, operator.review_token),
        env.review_post(link.job_id, operator.review_token, "approve"),
        env.review_post(link.job_id, link.review_token, "approve"),
        env.review_post(link.job_id, link.review_token, "approve"),
        env.review_post(link.job_id, link.review_token, "reject", "no", form=False),
        env.review_get(link.job_id, link.review_token),
        env.call(api_event("GET", "/jobs/{jobId}", {"jobId": link.job_id})),
        env.call(api_event("GET", "/status/{jobId}", {"jobId": link.job_id})),
        env.call(api_event("GET", "/jobs", query={"status": "APPROVED"})),
        env.call(api_event("GET", "/jobs")),
        env.operator("approve", operator.job_id, caller=None),
    ]
    env.recorder.fail_next("ThrottlingException", 400)
    calls += [
        env.operator("reject", operator.job_id, reason="bad"),
        env.operator("reject", operator.job_id, reason="bad"),
        env.operator("approve", operator.job_id),
    ]
    env.recorder.fail_next("InvalidToken", 400)
    calls.append(env.operator("approve", broken.job_id))
    env.recorder.expire(broken.callback_token)  # the approval timed out in the workflow
    calls.append(env.operator("approve", broken.job_id))
    env.expire(broken.job_id)
    calls.append(env.review_get(broken.job_id, broken.review_token))
    return calls


@pytest.fixture
def jobs(approval_env: ApprovalEnv) -> tuple[PendingJob, PendingJob, PendingJob]:
    return (
        approval_env.pending(),
        approval_env.pending(C.STEP_FUNCTIONS),
        approval_env.pending(C.STEP_FUNCTIONS),
    )


def test_no_secret_in_any_response_or_log_line(
    approval_env: ApprovalEnv,
    jobs: tuple[PendingJob, PendingJob, PendingJob],
    log_output: io.StringIO,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    capsys.readouterr()
    caplog.set_level(logging.DEBUG)

    responses = _exercise(approval_env, *jobs)

    captured = capsys.readouterr()
    logs = log_output.getvalue()
    assert "decision recorded" in logs  # the capture works: the service did log
    assert sorted({r.status for r in responses}) == [200, 403, 409, 410, 500, 503]
    seen = [r.body for r in responses] + [str(r.headers) for r in responses]
    seen += [logs, caplog.text, captured.out, captured.err]
    for secret in _secrets(*jobs):
        leaks = [text[:200] for text in seen if secret in text]
        assert not leaks, "a secret was exposed"


def test_errors_are_json_without_internals(
    approval_env: ApprovalEnv, jobs: tuple[PendingJob, PendingJob, PendingJob], log_output: io.StringIO
) -> None:
    _, operator, broken = jobs
    approval_env.recorder.fail_next("InvalidToken", 400)

    unexpected = approval_env.operator("approve", broken.job_id)
    refused = approval_env.operator("approve", operator.job_id, caller=None)
    invalid = approval_env.call(
        api_event("POST", "/jobs/{jobId}/reject", {"jobId": operator.job_id}, body="{not json")
    )

    assert unexpected.status == 500
    assert unexpected.json == {"error": "internal_error", "message": "internal error"}
    assert refused.json == {"error": "forbidden", "message": "this route needs IAM (SigV4) authentication"}
    assert invalid.status == 400
    assert set(invalid.json) == {"error", "message"}
    for response in (unexpected, refused, invalid):
        assert response.content_type == "application/json"
        assert "Traceback" not in response.body
        assert "injected failure" not in response.body
    logs = log_output.getvalue()
    assert '"error_type":"InvalidToken"' in logs
    assert "injected failure" not in logs
