"""The AWS calls each deployed function makes, recorded while real scenarios run on the local runtime.

Both pipelines run: a file approved through the signed operator API (then the same decision repeated and
a conflicting one, and once published, unpublished), one rejected through its review link, one left to
expire, one of a dataset with a named reviewer left to expire after the schedule's reminder, a broken file,
a non-CSV upload and a duplicate S3 event. Every request the hosted functions make
is recorded (`etl_local.calls`) and reduced to an inventory entry: function, service, operation, the
parameter names used, and what it touches as a deployment-independent resource (bucket kind and key
prefix, table and index, topic, queue, function and qualifier, state machine, execution, durable execution).

`python -m tests.terraform.aws_calls` re-records and rewrites the committed inventory
(tests/terraform/data/aws_calls.json); test_iam_calls.py checks the committed one and that a fresh
recording still matches it.
"""

from __future__ import annotations

import io
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

from botocore.credentials import Credentials

from etl_aws import contract as C
from etl_aws.models import TERMINAL, JobStatus
from etl_aws.reviewers import ReviewConfig, ReviewPolicy
from etl_core import synth
from etl_local import calls
from etl_local.runtime import ACCESS_KEY, SECRET_KEY, LocalRuntime
from etl_ops.api import ApprovalApi

INVENTORY = Path(__file__).resolve().parent / "data" / "aws_calls.json"
APPROVAL_TIMEOUT = 8  # seconds: long enough to decide the others, short enough to watch one expire
WAITING = frozenset({JobStatus.PENDING_APPROVAL, *TERMINAL})
# A dataset with a named reviewer and a reminder due as soon as its job waits (the wait is shorter).
REMINDED_DATASET = "uploads/reminded"
REVIEW = ReviewConfig(
    datasets={REMINDED_DATASET: ReviewPolicy(reviewers=("reviewer@example.com",), remind_before_minutes=1)}
)


def _csv(seed: int) -> bytes:
    out = io.BytesIO()
    synth.write_csv(out, 30, bad_ratio=0.1, seed=seed)
    return out.getvalue()


def _redeliver_last_event(rt: LocalRuntime, workflow: str, captured: list[dict[str, Any]]) -> None:
    """Send the last S3 notification of `workflow` to its queue again (at-least-once delivery)."""
    body = captured[-1]["Records"][-1]["body"]
    sqs = rt.client("sqs")
    sqs.send_message(QueueUrl=rt.deployment.stack["pipelines"][workflow]["queue_url"], MessageBody=body)


def _capture_events(rt: LocalRuntime, workflow: str) -> list[dict[str, Any]]:
    mapping = rt.event_source_mappings[workflow]
    captured: list[dict[str, Any]] = []
    invoke = mapping.invoke

    def keep(event: dict[str, Any]) -> Any:
        captured.append(event)
        return invoke(event)

    mapping.invoke = keep
    return captured


def _scenarios(rt: LocalRuntime, workflow: str) -> None:
    api = ApprovalApi(rt.api_url, Credentials(ACCESS_KEY, SECRET_KEY))
    captured = _capture_events(rt, workflow)
    approve = rt.upload(workflow, "uploads/approve.csv", _csv(1))
    reject = rt.upload(workflow, "uploads/reject.csv", _csv(2))
    expire = rt.upload(workflow, "uploads/expire.csv", _csv(3))
    broken = rt.upload(workflow, "uploads/broken.csv", b"\xff\xfe not utf-8 \xff\n")
    other = rt.upload(workflow, "uploads/notes.txt", b"not a csv")
    reminded = rt.upload(workflow, f"{REMINDED_DATASET}/late.csv", _csv(4))
    for job_id in (approve, reject, expire, broken, other, reminded):
        rt.wait_for(job_id, WAITING)
    assert rt.run_schedule()["reminders"] >= 1  # the schedule's run: job ages, and the reminder
    _redeliver_last_event(rt, workflow, captured)
    assert api.list_jobs(status=JobStatus.PENDING_APPROVAL.value).status == 200
    assert api.list_jobs().status == 200
    assert api.get_job(approve).status == 200
    assert api.approve(approve, reason="checked").status == 200
    assert api.approve(approve, reason="checked").status == 200  # the same decision repeated
    assert api.reject(approve, reason="changed my mind").status == 409
    mail = rt.outbox.wait_for(reject, timeout=30) if rt.outbox else None
    assert mail is not None
    assert api.review_page(mail.review_link).status == 200
    assert api.review(mail.review_link, "reject", reason="wrong month").status == 200
    expected = {approve: JobStatus.COMPLETED, reject: JobStatus.REJECTED, expire: JobStatus.EXPIRED}
    expected |= {broken: JobStatus.FAILED, other: JobStatus.FAILED, reminded: JobStatus.EXPIRED}
    for job_id, status in expected.items():
        job = rt.wait_for(job_id, TERMINAL, timeout=APPROVAL_TIMEOUT + 60)
        assert job.status == status, (job_id, job.status, status)
    assert api.unpublish(approve, reason="approved the wrong month").status == 200
    assert api.unpublish(approve, reason="approved the wrong month").status == 200  # repeated
    assert api.unpublish(reject, reason="never published").status == 409


def record(root: Path) -> tuple[list[calls.RecordedCall], dict[str, Any]]:
    """Run every scenario through both pipelines; the calls made and the local stack's description."""
    calls.install()
    with LocalRuntime(root=root, approval_timeout_seconds=APPROVAL_TIMEOUT, review_config=REVIEW) as rt:
        with calls.RECORDER.recording() as recorded:
            for workflow in rt.workflows:
                _scenarios(rt, workflow)
            time.sleep(0)  # the last invocations returned before the job reached its end state
        return list(recorded), rt.describe()


# ---- recorded calls → inventory entries ------------------------------------------------------------


class Names:
    """Local resource names → what they are, independent of any deployment's names."""

    def __init__(self, stack: dict[str, Any]) -> None:
        self.buckets: dict[str, str] = {}
        self.queues: dict[str, str] = {}
        for p in stack["stack"]["pipelines"].values():
            self.buckets[p["raw_bucket"]] = "raw"
            self.buckets[p["output_bucket"]] = "output"
            self.queues[p["queue_url"]] = "events"
        self.table = stack["stack"]["jobs_table"]
        self.topic = stack["stack"]["topic_arn"]
        self.functions = {arn.split(":")[6]: key for key, arn in stack["functions"].items()}
        self.state_machine = stack["state_machine_arn"].split(":")[-1] if stack["state_machine_arn"] else ""

    def function(self, name_or_arn: str) -> dict[str, Any]:
        parts = name_or_arn.split(":")
        name = parts[6] if name_or_arn.startswith("arn:") else parts[0]
        qualifier = (parts[7] if len(parts) > 7 else None) if name_or_arn.startswith("arn:") else None
        return {"function": self.functions[name], "qualifier": qualifier}


def _prefix(key: str) -> str:
    return key.split("/", 1)[0] + "/" if "/" in key else ""


def _object(names: Names, bucket: str, key: str, version: bool) -> dict[str, Any]:
    return {"bucket": names.buckets[bucket], "prefix": _prefix(key), "version": version}


def _copy_source(names: Names, source: Any) -> dict[str, Any]:
    if isinstance(source, dict):
        return _object(names, source["Bucket"], source["Key"], bool(source.get("VersionId")))
    path, _, query = str(source).partition("?")
    bucket, _, key = unquote(path).lstrip("/").partition("/")
    return _object(names, bucket, key, "versionId" in parse_qs(query))


def _s3(names: Names, op: str, p: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if "CopySource" in p:
        found.append({"role": "source"} | _copy_source(names, p["CopySource"]))
    if op == "DeleteObjects":
        for obj in p["Delete"]["Objects"]:
            found.append(_object(names, p["Bucket"], obj["Key"], bool(obj.get("VersionId"))))
    elif "Key" in p:
        found.append(_object(names, p["Bucket"], p["Key"], bool(p.get("VersionId"))))
    else:
        found.append({"bucket": names.buckets[p["Bucket"]]})
    return found


def _dynamodb(names: Names, op: str, p: dict[str, Any]) -> list[dict[str, Any]]:
    tables = [p["TableName"]] if "TableName" in p else list(p.get("RequestItems", {}))
    tables += [next(iter(item.values()))["TableName"] for item in p.get("TransactItems", [])]
    return [{"table": "jobs" if t == names.table else t, "index": p.get("IndexName")} for t in tables]


def _lambda(names: Names, op: str, p: dict[str, Any]) -> list[dict[str, Any]]:
    if "FunctionName" in p:
        return [names.function(p["FunctionName"])]
    if "CallbackId" in p:  # a callback belongs to a durable execution of the orchestrator
        return [{"durable_execution": "durable-orchestrator"}]
    if "DurableExecutionArn" in p:
        return [{"durable_execution": names.function(p["DurableExecutionArn"].split("/")[0])["function"]}]
    raise ValueError(f"lambda {op}: no resource in {sorted(p)}")


def _stepfunctions(names: Names, op: str, p: dict[str, Any]) -> list[dict[str, Any]]:
    if "stateMachineArn" in p:
        return [{"state_machine": "etl"}]
    if "executionArn" in p:
        return [{"execution": "etl"}]
    if "taskToken" in p:  # a task token belongs to an execution of the state machine
        return [{"state_machine": "etl"}]
    raise ValueError(f"stepfunctions {op}: no resource in {sorted(p)}")


def resources(names: Names, call: calls.RecordedCall) -> list[dict[str, Any]]:
    """What one call touches, deployment-independently."""
    p = call.params
    if call.service == "s3":
        return _s3(names, call.operation, p)
    if call.service == "dynamodb":
        return _dynamodb(names, call.operation, p)
    if call.service == "sns":
        return [{"topic": "approvals" if p.get("TopicArn") == names.topic else p.get("TopicArn")}]
    if call.service == "sqs":
        return [{"queue": names.queues.get(p.get("QueueUrl", ""), p.get("QueueUrl"))}]
    if call.service == "lambda":
        return _lambda(names, call.operation, p)
    if call.service == "stepfunctions":
        return _stepfunctions(names, call.operation, p)
    raise ValueError(f"no resource mapping for service {call.service}")


def _distinct(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen = {json.dumps(r, sort_keys=True): r for r in found}
    return [seen[k] for k in sorted(seen)]


def inventory(recorded: list[calls.RecordedCall], stack: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per distinct (function, service, operation, parameter names, resources), sorted."""
    names = Names(stack)
    entries: dict[str, dict[str, Any]] = {}
    for call in recorded:
        entry = {
            "function": call.function,
            "service": call.service,
            "operation": call.operation,
            "params": sorted(call.params),
            "resources": _distinct(resources(names, call)),
        }
        entries[json.dumps(entry, sort_keys=True)] = entry
    return [entries[k] for k in sorted(entries)]


def load() -> dict[str, Any]:
    """The committed inventory."""
    return json.loads(INVENTORY.read_text(encoding="utf-8"))


def record_inventory() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="aws-calls-") as tmp:
        recorded, stack = record(Path(tmp))
    return inventory(recorded, stack)


def iter_functions(entries: list[dict[str, Any]]) -> Iterator[str]:
    yield from sorted({e["function"] for e in entries})


def main() -> int:
    """Re-record and rewrite the `recorded` part of the inventory; the `declared` part is kept."""
    current = load() if INVENTORY.is_file() else {"declared": []}
    current["recorded"] = record_inventory()
    INVENTORY.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{len(current['recorded'])} recorded calls written to {INVENTORY}")
    missing = set(C.FUNCTIONS_BY_KEY) - set(iter_functions(current["recorded"]))
    if missing:
        print(f"no call recorded for {sorted(missing)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
