"""Run the token-carrying handlers in a process of their own, under whatever Powertools switches the
environment holds (they are read at import time), and write the secrets they handled to a file.

`python -m tests.integration.powertools_env_probe <secrets.json>`: moto in-process; the approval API (a
review GET and POST with the review token, an IAM approve), the Step Functions request-approval handler
with a task token, and the durable orchestrator (its callback id, then an approval through the API).
Everything the handlers print goes to this process's stdout and stderr, which the caller inspects.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from etl_aws import clients, config, identity, steps
from etl_aws import contract as C
from etl_aws.models import ObjectRef, StartRequest
from etl_local.functions import LambdaContext
from etl_local.resources import StackNames, env_for, provision
from tests.integration.approval_support import API_URL, CSV, ApprovalEnv, CallbackRecorder
from tests.integration.durable_harness import DurableHarness, wait_for

TASK_TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAA" + "probe-task-token-5c1e7a9b3d" * 4


@dataclass
class Stack:
    """The parts of tests/conftest.py's Stack the approval helpers use (conftest itself sets Powertools
    variables on import, which would undo the ones under test)."""

    resources: dict[str, Any]
    session: Any

    def settings(self, workflow: str, **overrides: Any) -> config.FunctionSettings:
        key = "durable-orchestrator" if workflow == C.DURABLE else "sfn-request-approval"
        return config.for_function(key, env_for(self.resources, key)).model_copy(update=overrides)

    def raw_bucket(self, workflow: str) -> str:
        return self.resources["pipelines"][workflow]["raw_bucket"]

    def output_bucket(self, workflow: str) -> str:
        return self.resources["pipelines"][workflow]["output_bucket"]

    def client(self, service: str) -> Any:
        return self.session.client(service)


def _upload(stack: Stack, workflow: str, key: str) -> ObjectRef:
    bucket = stack.raw_bucket(workflow)
    put = stack.client("s3").put_object(Bucket=bucket, Key=key, Body=CSV)
    return ObjectRef(bucket=bucket, key=key, version_id=put["VersionId"], etag=put["ETag"].strip('"'))


def sfn_task_job(stack: Stack, env: ApprovalEnv) -> tuple[str, str]:
    """A job brought to PENDING_APPROVAL by the Step Functions request-approval handler itself."""
    from etl_sfn.tasks import request_approval_handler

    cfg = stack.settings(C.STEP_FUNCTIONS, api_url=API_URL)
    ref = _upload(stack, C.STEP_FUNCTIONS, "uploads/sfn-task.csv")
    job_id = identity.job_id(ref)
    # The steps before it run under their own functions' settings, as in the state machine.
    with config.using(config.for_function("sfn-load", env_for(stack.resources, "sfn-load"))):
        loaded = steps.load(steps.transform(steps.extract(StartRequest(job_id=job_id, object=ref))))
    with config.using(cfg):
        context = LambdaContext("probe-request-approval", "arn:aws:lambda:us-east-1:123456789012:function:p")
        request_approval_handler(
            {"loaded": loaded.model_dump(mode="json"), "task_token": TASK_TOKEN}, context
        )
    return job_id, env._token_from_email(job_id)


def durable_job(stack: Stack, env: ApprovalEnv, patch: pytest.MonkeyPatch) -> tuple[list[int], list[str]]:
    """A durable execution run by the testing engine, approved through the review link: the statuses of
    the API calls, and the callback id and review token it used."""
    from etl_durable.orchestrator import handler

    harness = DurableHarness(handler, patch)  # from here on, callbacks go to the engine
    try:
        ref = _upload(stack, C.DURABLE, "uploads/durable.csv")
        job_id = identity.job_id(ref)
        arn = harness.start(ref, job_id)
        wait_for(lambda: (job := env.repo.find(job_id)) and job.notified_at)
        callback_id = harness.callback_id(arn)
        review_token = env._token_from_email(job_id)
        statuses = [
            env.review_get(job_id, review_token).status,
            env.review_post(job_id, review_token, "approve", form=False).status,
        ]
        harness.result(arn)
    finally:
        harness.close()
    return statuses, [callback_id, review_token]


def main(secrets_path: str) -> None:
    # As the Lambda runtime does: library records reach stderr through the root logger.
    logging.basicConfig(level=os.environ.get("AWS_LAMBDA_LOG_LEVEL", "WARNING"), stream=sys.stderr)
    patch = pytest.MonkeyPatch()
    with mock_aws():
        clients.reset()
        session = boto3.session.Session(region_name="us-east-1")
        stack = Stack(provision(session, StackNames("probe")), session)
        env = env_for(stack.resources, "durable-orchestrator", api_url=API_URL)
        for name, value in (env | env_for(stack.resources, "approval-api")).items():
            patch.setenv(name, value)
        config.settings.cache_clear()
        recorder = CallbackRecorder()
        recorder.install()
        env = ApprovalEnv(stack, recorder)

        reviewed = env.pending(C.DURABLE)
        operated = env.pending(C.STEP_FUNCTIONS)
        task_job, task_review_token = sfn_task_job(stack, env)
        statuses = [
            env.review_get(reviewed.job_id, reviewed.review_token).status,
            env.review_post(reviewed.job_id, reviewed.review_token, "approve").status,
            env.operator("approve", operated.job_id).status,
            env.review_get(task_job, task_review_token).status,
            env.operator("approve", task_job).status,
        ]
        durable_statuses, durable_secrets = durable_job(stack, env, patch)
        secrets = [
            reviewed.review_token,
            reviewed.callback_token,
            operated.review_token,
            operated.callback_token,
            task_review_token,
            TASK_TOKEN,
            *durable_secrets,
        ]
        statuses += durable_statuses
        with open(secrets_path, "w", encoding="utf-8") as out:
            json.dump({"secrets": secrets, "statuses": statuses}, out)
    patch.undo()


if __name__ == "__main__":
    main(sys.argv[1])
