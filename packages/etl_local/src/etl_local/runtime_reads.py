"""What callers read from a started local runtime: clients of the local AWS, buckets, jobs, waiting for
a job's status, and what each job cost in orchestrator work."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from etl_aws import identity
from etl_aws.jobs import Job, JobsRepository
from etl_aws.models import JobStatus, ObjectRef
from etl_local import sfn as sfn_pipeline
from etl_local.durable import DurableEngine
from etl_local.gateway import Principal
from etl_local.resources import ACCOUNT, REGION
from etl_local.s3_events import UPLOADER_PRINCIPAL_ID

ACCESS_KEY = "testing"
SECRET_KEY = "testing"  # noqa: S105 - the local runtime's fixed, well-known credentials
OPERATOR_ARN = f"arn:aws:iam::{ACCOUNT}:user/local-operator"
# The IAM user id of the local operator, who also uploads (one key pair signs every local call): S3 events
# name the uploader "AWS:" + this (etl_local.s3_events), API Gateway the signer by it (identity.user).
OPERATOR_PRINCIPAL_ID = UPLOADER_PRINCIPAL_ID.removeprefix("AWS:")
# A second operator, for decisions that must not be the uploader's (etl_aws.reviewers).
SECOND_ACCESS_KEY = "second-operator"
SECOND_SECRET_KEY = "second-operator-secret"  # noqa: S105 - a fixed local test identity
SECOND_OPERATOR_ARN = f"arn:aws:iam::{ACCOUNT}:user/local-second-operator"
SECOND_OPERATOR_PRINCIPAL_ID = "AIDALOCALOPERATOR0002"
POLL_INTERVAL = 0.2


def local_principals() -> dict[str, Principal]:
    """The identities the local API gateway knows, by access key."""
    return {
        ACCESS_KEY: Principal(ACCESS_KEY, SECRET_KEY, OPERATOR_ARN, OPERATOR_PRINCIPAL_ID),
        SECOND_ACCESS_KEY: Principal(
            SECOND_ACCESS_KEY, SECOND_SECRET_KEY, SECOND_OPERATOR_ARN, SECOND_OPERATOR_PRINCIPAL_ID
        ),
    }


_CLIENT_CONFIG = Config(max_pool_connections=32, retries={"mode": "standard", "max_attempts": 5})


@dataclass
class Endpoints:
    moto: str = ""
    lambda_api: str = ""
    api: str = ""
    services: dict[str, str] = field(default_factory=dict)  # served by a moto process of their own

    def of(self, service: str) -> str:
        """The endpoint of a botocore service on the local AWS."""
        return self.services.get(service, self.moto)


@dataclass
class Deployment:
    """What was created: names, ARNs and URLs (written to `.local/stack.json`)."""

    stack: dict[str, Any] = field(default_factory=dict)
    functions: dict[str, str] = field(default_factory=dict)  # key → invoked ARN
    state_machine_arn: str = ""


class RuntimeReads:
    """The reading half of `LocalRuntime`; the attributes below are set by its start."""

    root: Path
    workflows: tuple[str, ...]
    approval_timeout_seconds: int
    endpoints: Endpoints
    deployment: Deployment
    durable: DurableEngine | None
    session: boto3.session.Session | None
    _clients: dict[str, Any]
    _clients_lock: threading.Lock

    @property
    def api_url(self) -> str:
        return self.endpoints.api

    def client(self, service: str) -> Any:
        """A client of the local AWS, made once per service (boto3 clients are thread-safe)."""
        assert self.session is not None, "start the runtime first"
        with self._clients_lock:
            found = self._clients.get(service)
            if found is None:
                found = self._clients[service] = self.session.client(
                    service, endpoint_url=self.endpoints.of(service), config=_CLIENT_CONFIG
                )
            return found

    def raw_bucket(self, workflow: str) -> str:
        return self.deployment.stack["pipelines"][workflow]["raw_bucket"]

    def output_bucket(self, workflow: str) -> str:
        return self.deployment.stack["pipelines"][workflow]["output_bucket"]

    def upload(self, workflow: str, key: str, body: bytes) -> str:
        """Put a file in the pipeline's raw bucket (S3 notifies the pipeline's queue); returns its job id."""
        bucket = self.raw_bucket(workflow)
        put = self.client("s3").put_object(Bucket=bucket, Key=key, Body=body)
        return identity.job_id(ObjectRef(bucket=bucket, key=key, version_id=put.get("VersionId")))

    def wait_for(
        self, job_id: str, statuses: set[JobStatus] | frozenset[JobStatus], timeout: float = 60
    ) -> Job:
        """The job once its status is one of `statuses` (PENDING_APPROVAL counts once its e-mail went)."""
        deadline = time.monotonic() + timeout
        repo = self.jobs()
        job = None
        while time.monotonic() < deadline:
            job = repo.find(job_id)
            notified = job is not None and (job.status != JobStatus.PENDING_APPROVAL or job.notified_at)
            if job is not None and job.status in statuses and notified:
                return job
            time.sleep(POLL_INTERVAL)
        seen = job.status.value if job else "no job"
        raise TimeoutError(f"job {job_id} not in {sorted(statuses)} within {timeout} s (it is {seen})")

    def jobs(self) -> JobsRepository:
        """A repository of the caller's own (boto3 resources are not shared between threads)."""
        assert self.session is not None, "start the runtime first"
        dynamodb = self.session.resource("dynamodb", endpoint_url=self.endpoints.of("dynamodb"))
        return JobsRepository(self.deployment.stack["jobs_table"], dynamodb)

    def job(self, job_id: str) -> Job | None:
        return self.jobs().find(job_id)

    def all_jobs(self) -> list[Job]:
        repo, found, cursor = self.jobs(), [], None
        while True:
            page, cursor = repo.list_jobs(limit=100, cursor=cursor)
            found.extend(page)
            if not cursor:
                return found

    def state_transitions(self, job_id: str) -> int:
        """Billed state transitions of the job's Step Functions execution (0 when it has none)."""
        if not self.deployment.state_machine_arn:
            return 0
        machine = self.deployment.state_machine_arn.split(":")[-1]
        arn = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{machine}:{job_id}"
        sfn = self.client("stepfunctions")
        try:
            pages = sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
            return sfn_pipeline.transitions([e for page in pages for e in page["events"]])
        except ClientError:
            return 0

    def durable_operations(self, job_id: str) -> Counter[str]:
        return self.durable.operations(job_id) if self.durable else Counter()

    def durable_data_written(self, job_id: str) -> int:
        return self.durable.data_written(job_id) if self.durable else 0

    def describe(self) -> dict[str, Any]:
        """Endpoints, credentials and the deployed stack: what `.local/stack.json` holds."""
        return {
            "endpoints": {
                "moto": self.endpoints.moto,
                "lambda": self.endpoints.lambda_api,
                "api": self.endpoints.api,
                "moto_services": self.endpoints.services,
            },
            "region": REGION,
            "credentials": {"access_key_id": ACCESS_KEY, "operator_arn": OPERATOR_ARN},
            "workflows": list(self.workflows),
            "approval_timeout_seconds": self.approval_timeout_seconds,
            "stack": self.deployment.stack,
            "functions": self.deployment.functions,
            "state_machine_arn": self.deployment.state_machine_arn,
            "outbox": str(self.root / "outbox"),
        }

    def write_stack_file(self) -> Path:
        """Write `describe()` to `<root>/stack.json`; returns its path."""
        path = self.root / "stack.json"
        path.write_text(json.dumps(self.describe(), indent=2) + "\n", encoding="utf-8")
        return path
