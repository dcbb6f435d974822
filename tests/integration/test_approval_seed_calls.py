"""The seed article's calls get an answer that says what to do, or are accepted where that loses nothing:
`comment` is a reason, `reviewer` is the caller's say-so (the IAM principal stays the recorded reviewer),
and whether a rejection needs a reason is the function's setting (ETL_REJECT_REASON_REQUIRED)."""

from __future__ import annotations

import io
import json
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from etl_aws import config
from etl_aws import contract as C
from etl_aws.models import JobStatus
from etl_aws.observability import logger
from tests.integration.approval_support import OPERATOR_ARN, ApprovalEnv, api_event

pytest_plugins = ["tests.integration.approval_fixtures"]
README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture
def reason_optional(approval_env: ApprovalEnv) -> Iterator[None]:
    """The approval function deployed with ETL_REJECT_REASON_REQUIRED=false (after the stack is up)."""
    env = os.environ | {C.ENV_REJECT_REASON_REQUIRED: "false"}
    with config.using(config.ApprovalApiSettings.from_env(env)):
        yield


def seed_call(env: ApprovalEnv, action: str, job_id: str, body: dict | None) -> tuple[int, dict]:
    response = env.call(api_event("POST", f"/{action}/{{jobId}}", {"jobId": job_id}, body=body))
    return response.status, response.json


def test_the_seed_body_approves_with_comment_as_reason_and_the_principal_as_reviewer(
    approval_env: ApprovalEnv,
) -> None:
    job = approval_env.pending()

    status, answer = seed_call(approval_env, "approve", job.job_id, {"reviewer": "alice", "comment": "ok"})

    assert status == 200
    assert answer["decision"]["reviewer"] == OPERATOR_ARN
    assert answer["decision"]["reason"] == "ok"
    [sent] = approval_env.recorder.sent
    assert (sent.payload["reviewer"], sent.payload["reason"]) == (OPERATOR_ARN, "ok")


def test_a_named_reviewer_is_logged_beside_the_signing_principal(
    approval_env: ApprovalEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = approval_env.pending()
    log = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", log)
    level = logger.log_level
    logger.setLevel(logging.INFO)  # the suite runs at WARNING
    try:
        seed_call(approval_env, "approve", job.job_id, {"reviewer": "alice@example.com"})
    finally:
        logger.setLevel(level)

    [line] = [json.loads(x) for x in log.getvalue().splitlines() if "reviewer named in the request" in x]
    assert (line["named_reviewer"], line["principal"]) == ("alice@example.com", OPERATOR_ARN)


def test_a_comment_is_the_reason_of_a_rejection(approval_env: ApprovalEnv) -> None:
    job = approval_env.pending()

    status, answer = seed_call(approval_env, "reject", job.job_id, {"comment": "dates are wrong"})

    assert status == 200
    assert answer["status"] == JobStatus.REJECTED.value
    assert answer["decision"]["reason"] == "dates are wrong"


def test_a_rejection_without_reason_is_400_naming_the_field_by_default(approval_env: ApprovalEnv) -> None:
    job = approval_env.pending()

    status, answer = seed_call(approval_env, "reject", job.job_id, {"reviewer": "alice"})

    assert status == 400
    assert answer["error"] == "reason_required"
    assert answer["message"].startswith("a rejection needs a reason: send a JSON body")
    assert '{"reason": "..."}' in answer["message"]
    assert approval_env.recorder.attempts == 0


@pytest.mark.usefixtures("reason_optional")
@pytest.mark.parametrize("body", [None, {}, {"reviewer": "alice"}])
def test_a_rejection_without_reason_is_accepted_where_configured(
    approval_env: ApprovalEnv, body: dict | None
) -> None:
    job = approval_env.pending()

    status, answer = seed_call(approval_env, "reject", job.job_id, body)

    assert status == 200
    assert answer["status"] == JobStatus.REJECTED.value
    assert answer["decision"]["reason"] == "no reason given"


@pytest.mark.usefixtures("reason_optional")
def test_a_review_link_rejection_without_reason_is_accepted_where_configured(
    approval_env: ApprovalEnv,
) -> None:
    job = approval_env.pending()

    response = approval_env.review_post(job.job_id, job.review_token, "reject", form=False)

    assert response.status == 200
    assert response.json["approved"] is False


def test_the_setting_reads_false_from_the_environment() -> None:
    env = {C.ENV_JOBS_TABLE: "jobs", C.ENV_TOPIC_ARN: "arn:aws:sns:us-east-1:123456789012:approvals"}

    optional = config.ApprovalApiSettings.from_env({**env, C.ENV_REJECT_REASON_REQUIRED: "false"})

    assert config.ApprovalApiSettings.from_env(env).reject_reason_required is True
    assert optional.reject_reason_required is False


def test_an_unknown_field_is_400_naming_it(approval_env: ApprovalEnv) -> None:
    job = approval_env.pending()

    status, answer = seed_call(approval_env, "approve", job.job_id, {"approver": "alice"})

    assert status == 400
    assert answer["error"] == "invalid_request"
    assert "approver" in answer["message"]


def test_the_readme_shows_signed_calls_of_contract_routes() -> None:
    section = (
        README.read_text(encoding="utf-8").split("## Coming from the article", 1)[1].split("\n## ", 1)[0]
    )
    called = set(re.findall(r"\$API_URL((?:/[\w{}$-]+)+)", section))

    assert "--aws-sigv4" in section
    assert "awscurl" in section
    resources = {re.sub(r"/\$\w+", "/{jobId}", path) for path in called}
    assert {C.ROUTE_APPROVE.resource, C.ROUTE_REJECT.resource} <= resources
    assert resources <= {route.resource for route in C.API_ROUTES}
