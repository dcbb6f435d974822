"""`etl jobs retry ID`: a new attempt at a FAILED job.

A retry is a new job, not a rewind of the old one: the FAILED record stays as it is (it is the record of
what went wrong), and attempt n of the same object version gets a job id of its own,
`<file>-r<n>-<hash of bucket, key, version and n>`. Attempt 0 is the job S3's notification started
(etl_aws.identity). The attempts of one object version are therefore linked by derivation: from any of
them the CLI finds the others, and the latest must be FAILED to be retried. The id is also the execution
name, so two operators retrying the same attempt at once start it once.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from etl_ops.target import Target, TargetError

MAX_ATTEMPTS = 99
_HASH_CHARS = 26
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_ALREADY_STARTED = {"DurableExecutionAlreadyStartedException", "ExecutionAlreadyExists"}
_REF_FIELDS = ("bucket", "key", "version_id", "etag", "size", "sequencer")


def attempt_id(ref: Any, attempt: int) -> str:
    """The job id of attempt `attempt` at the object version `ref` (attempt 0: the S3-started job)."""
    from etl_aws import identity

    if attempt == 0:
        return identity.job_id(ref)
    version = ref.version_id or f"{ref.etag or ''}:{ref.sequencer or ''}"
    material = "\x00".join((ref.bucket, ref.key, version, f"retry-{attempt}")).encode()
    digest = base64.b32encode(hashlib.sha256(material).digest()).decode().lower()[:_HASH_CHARS]
    suffix = f"-r{attempt}"
    room = identity.MAX_JOB_ID - _HASH_CHARS - 1 - len(suffix)
    hint = _UNSAFE.sub("-", ref.file_name.rsplit(".", 1)[0]).strip("-_")[:room] or "file"
    return f"{hint}{suffix}-{digest}"


def source_ref(job: dict[str, Any]) -> Any:
    """The object version a job read, from its record's `source`."""
    from etl_aws.models import ObjectRef

    source = job.get("source") or {}
    if not source.get("bucket") or not source.get("key"):
        raise TargetError(f"job {job.get('job_id')} records no source object")
    return ObjectRef(**{k: source[k] for k in _REF_FIELDS if source.get(k) is not None})


def next_attempt(api: Any, ref: Any) -> tuple[int, dict[str, Any]]:
    """The number of the next attempt at `ref`, and the latest attempt's job (which must be FAILED)."""
    latest: dict[str, Any] | None = None
    for attempt in range(MAX_ATTEMPTS + 1):
        response = api.get_job(attempt_id(ref, attempt))
        if response.status == 404:
            if latest is None:
                raise TargetError(f"no job for s3://{ref.bucket}/{ref.key} at version {ref.version_id}")
            return attempt, latest
        if response.status >= 400:
            raise TargetError(f"reading job {attempt_id(ref, attempt)}: {response.status} {response.text}")
        latest = response.json()
    raise TargetError(f"{MAX_ATTEMPTS} attempts already: look at the file rather than retry again")


def start(where: Target, workflow: str, job_id: str, ref: Any) -> bool:
    """Start the workflow's orchestrator for the job, as the starter does (etl_aws.starter.start_execution),
    with the operator's credentials. False when an execution of that name already exists."""
    from botocore.exceptions import ClientError

    from etl_aws import contract as C
    from etl_aws.models import StartRequest

    payload = StartRequest(job_id=job_id, object=ref).model_dump_json()
    try:
        if workflow == C.DURABLE:
            if not where.durable_function:
                raise TargetError("the durable orchestrator is unknown: pass --outputs")
            where.client("lambda").invoke(
                FunctionName=where.durable_function,
                InvocationType="Event",
                DurableExecutionName=job_id,
                Payload=payload.encode(),
            )
        else:
            if not where.state_machine_arn:
                raise TargetError("the state machine is unknown: pass --outputs")
            where.client("stepfunctions").start_execution(
                stateMachineArn=where.state_machine_arn, name=job_id, input=payload
            )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in _ALREADY_STARTED:
            return False
        raise
    return True


def retry(where: Target, api: Any, job_id: str) -> tuple[str, bool]:
    """Start the next attempt of a FAILED job; returns its job id and whether it was started now."""
    from etl_aws import events
    from etl_aws.models import JobStatus

    response = api.get_job(job_id)
    if response.status >= 400:
        raise TargetError(f"job {job_id}: {response.status} {response.text}")
    job = response.json()
    ref = source_ref(job)
    if not events.is_upload(ref):
        raise TargetError(f"{ref.key} is not a CSV under uploads/: a retry would fail the same way")
    attempt, latest = next_attempt(api, ref)
    if latest["status"] != JobStatus.FAILED.value:
        raise TargetError(f"only a FAILED job is retried: {latest['job_id']} is {latest['status']}")
    new_id = attempt_id(ref, attempt)
    return new_id, start(where, job["workflow"], new_id, ref)
