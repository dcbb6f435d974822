"""Helpers of the etl_aws integration tests: uploads, S3 snapshots, and clients that fail on purpose."""

from __future__ import annotations

import functools
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import botocore.loaders
import botocore.session
import pytest
from botocore.exceptions import ClientError

from etl_aws import clients, identity, steps
from etl_aws import contract as C
from etl_aws.config import ApprovalRequestSettings
from etl_aws.jobs import JobsRepository
from etl_aws.models import ApprovalRequested, Extracted, Loaded, ObjectRef, StartRequest, Transformed
from etl_core.synth import write_csv

WORKFLOW = C.DURABLE
MAX_RESULT_BYTES = 4096


class Crash(Exception):
    """Stands for the process dying between two actions (not an AWS error: nothing may catch it)."""


def csv_bytes(rows: int = 200, bad_ratio: float = 0.05, seed: int = 7) -> bytes:
    buffer = io.BytesIO()
    write_csv(buffer, rows, bad_ratio=bad_ratio, seed=seed)
    return buffer.getvalue()


def upload(aws: Any, key: str, body: bytes, workflow: str = WORKFLOW) -> ObjectRef:
    """Put an object in the raw bucket; the reference an S3 event on a versioned bucket would carry."""
    bucket = aws.raw_bucket(workflow)
    put = aws.client("s3").put_object(Bucket=bucket, Key=key, Body=body)
    return ObjectRef(
        bucket=bucket,
        key=key,
        version_id=put["VersionId"],
        etag=put["ETag"].strip('"'),
        size=len(body),
    )


def start_request(ref: ObjectRef) -> StartRequest:
    return StartRequest(job_id=identity.job_id(ref), object=ref)


def run_to_loaded(cfg: ApprovalRequestSettings, ref: ObjectRef) -> tuple[Extracted, Transformed, Loaded]:
    extracted = steps.extract(start_request(ref), cfg)
    transformed = steps.transform(extracted, cfg)
    return extracted, transformed, steps.load(transformed, cfg)


def run_to_pending(
    cfg: ApprovalRequestSettings, ref: ObjectRef, callback_token: str = "callback-token-0001"
) -> ApprovalRequested:
    _, _, loaded = run_to_loaded(cfg, ref)
    return steps.request_approval(loaded, callback_token, cfg)


def objects(aws: Any, bucket: str, prefix: str = "") -> dict[str, bytes]:
    """Current objects under `prefix`, key → content."""
    s3 = aws.client("s3")
    out: dict[str, bytes] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            out[item["Key"]] = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return out


def versions(aws: Any, bucket: str, key: str) -> list[str]:
    """Version ids still stored for exactly `key` (delete markers excluded), newest first."""
    listing = aws.client("s3").list_object_versions(Bucket=bucket, Prefix=key)
    return [v["VersionId"] for v in listing.get("Versions", []) if v["Key"] == key]


def jsonl(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def serialized_size(model: Any) -> int:
    return len(model.model_dump_json().encode())


def client_error(code: str, status: int = 400, operation: str = "GetObject") -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": f"injected {code}"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )


class Fault:
    """Raise `error` on calls `on_call`, `on_call + 1`, … (`times` of them) of `operation`, counted
    across every object it wraps; every other call, and every call after that, goes through."""

    def __init__(self, operation: str, error: BaseException, on_call: int = 1, times: int = 1) -> None:
        self.operation = operation
        self._error = error
        self._on_call = on_call
        self._times = times
        self.calls = 0
        self.raised = 0

    def hit(self) -> None:
        self.calls += 1
        if self.calls >= self._on_call and self.raised < self._times:
            self.raised += 1
            raise self._error

    def wrap(self, real: Any) -> Any:
        return _Faulty(real, self)


class _Faulty:
    def __init__(self, real: Any, fault: Fault) -> None:
        self._real = real
        self._fault = fault

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._real, name)
        if name != self._fault.operation:
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self._fault.hit()
            return attr(*args, **kwargs)

        return call


@contextmanager
def faulty(
    monkeypatch: pytest.MonkeyPatch,
    service: str,
    operation: str,
    error: BaseException,
    on_call: int = 1,
    times: int = 1,
) -> Iterator[Fault]:
    """Route etl_aws's `service` client through a Fault for the duration of the block."""
    real_factory = clients.client
    fault = Fault(operation, error, on_call, times)
    wrapped = fault.wrap(real_factory(service))
    with monkeypatch.context() as patch:
        patch.setattr(clients, "client", lambda name: wrapped if name == service else real_factory(name))
        yield fault


class _FaultyTables:
    """The DynamoDB resource, with every table it opens wrapped by one Fault."""

    def __init__(self, real: Any, fault: Fault) -> None:
        self._real = real
        self._fault = fault

    def Table(self, name: str) -> Any:
        return self._fault.wrap(self._real.Table(name))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


@contextmanager
def faulty_table(
    monkeypatch: pytest.MonkeyPatch, operation: str, error: BaseException, on_call: int = 1, times: int = 1
) -> Iterator[Fault]:
    """Like `faulty`, for the jobs table etl_aws opens through `clients.table` / `clients.resource`."""
    real_factory = clients.resource
    fault = Fault(operation, error, on_call, times)
    with monkeypatch.context() as patch:
        patch.setattr(
            clients,
            "resource",
            lambda name: (
                _FaultyTables(real_factory(name), fault) if name == "dynamodb" else real_factory(name)
            ),
        )
        patch.setattr(clients, "table", lambda name: clients.resource("dynamodb").Table(name))
        yield fault


@contextmanager
def shared_botocore_models() -> Iterator[None]:
    """Parse botocore's service models once, not once per new session (etl_aws makes a session per client
    and the `aws` fixture resets them for every test). The loader is a read-only cache of botocore's own
    data files, so sharing it changes nothing but the time a test takes to set up."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.session, "create_loader", functools.cache(botocore.loaders.create_loader))
        yield


def subscribe_queue(aws: Any) -> str:
    """An SQS queue subscribed to the approvals topic: what reviewers would be e-mailed."""
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName="approval-mail")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws.client("sns").subscribe(TopicArn=aws.resources["topic_arn"], Protocol="sqs", Endpoint=arn)
    return url


def mail(aws: Any, queue_url: str) -> list[dict[str, Any]]:
    """Every SNS notification received so far (Subject, Message, MessageAttributes...)."""
    sqs = aws.client("sqs")
    out: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return out
        for message in batch:
            out.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def job_state(aws: Any, cfg: ApprovalRequestSettings, job_id: str, ref: ObjectRef) -> dict[str, Any]:
    """What a job left behind (its objects in both buckets, the versions of its source, its record), with
    its own names (job id, source key and version) replaced, so two jobs over the same bytes compare."""
    names = {job_id: "<job>", ref.key: "<key>", ref.version_id or "<no version>": "<version>"}

    def plain(text: str) -> str:
        for name, placeholder in names.items():
            text = text.replace(name, placeholder)
        return text

    stored: dict[str, Any] = {}
    for label, bucket in (("raw", ref.bucket), ("output", cfg.output_bucket)):
        for key, body in objects(aws, bucket).items():
            if job_id in key or key == ref.key:
                stored[f"{label}:{plain(key)}"] = plain(body.decode())
    stored["source versions"] = len(versions(aws, ref.bucket, ref.key))
    job = JobsRepository(cfg.jobs_table).get(job_id)
    stored["job"] = {
        "status": job.status,
        "outputs": {name: plain(key) for name, key in job.outputs.items()},
        "counts": job.counts,
        "decision": job.decision,
        "error": job.error,
        "history": [entry.status for entry in job.history],
        "finalized": bool(job.finalized_at),
    }
    return stored
