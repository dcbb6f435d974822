"""The units each workflow of `etl demo` consumed, counted from the local runtime, and their cost."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from etl_aws import contract as C
from etl_aws.contract import DEFAULT_MEMORY_MB
from etl_local.runtime import LocalRuntime

if TYPE_CHECKING:
    from etl_ops.demo import DemoJob

_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
_READS = {"GetItem", "Query", "Scan", "BatchGetItem"}
_S3_PUT_CLASS = {
    "PutObject",
    "CopyObject",
    "UploadPart",
    "UploadPartCopy",
    "CreateMultipartUpload",
    "CompleteMultipartUpload",
    "ListObjectsV2",
    "ListObjects",
}
_S3_GET_CLASS = {"GetObject", "HeadObject"}
MEMORY_MB = 1024  # priced for a function without a Terraform default


def count_units(rt: LocalRuntime, jobs: list[DemoJob], api_calls: Counter) -> dict[str, Any]:
    """Units per workflow, averaged over the workflows of each orchestrator (the cost model's input).

    Counts are exact; durations are local wall-clock estimates. DynamoDB capacity is counted as one unit
    per request (items here are under 1 KB written / 4 KB read). The approval function's share is split
    between the orchestrators by the API calls each one's jobs received.
    """
    units: dict[str, Any] = {}
    total_api = sum(api_calls.values()) or 1
    approval_invocations = rt.host.invocations.get("approval-api", 0)
    for workflow in rt.workflows:
        mine = [j for j in jobs if j.workflow == workflow]
        n = max(len(mine), 1)
        share = api_calls.get(workflow, 0) / total_api
        keys = [k for k in rt.host.invocations if k.startswith(f"{workflow}-")]
        functions: dict[str, Any] = {}
        requests: Counter[tuple[str, str]] = Counter()
        for key in sorted(keys):
            calls = rt.host.invocations[key]
            functions[key] = _usage(key, calls / n, rt.host.seconds[key], calls)
            requests.update(rt.meter.by_function(key))
        if approval_invocations:
            calls = approval_invocations * share
            functions["approval-api"] = _usage(
                "approval-api", calls / n, rt.host.seconds["approval-api"], approval_invocations
            )
            for op, count in rt.meter.by_function("approval-api").items():
                requests[op] += count * share
        mapping = rt.event_source_mappings.get(workflow)
        sqs = sum(c for (service, _), c in requests.items() if service == "sqs")
        sqs += len(mine) + (mapping.requests if mapping else 0)  # S3 → queue, then the mapping's requests
        publishes = requests[("sns", "Publish")]
        entry: dict[str, Any] = {
            "workflow": workflow,
            "workflows": len(mine),
            "functions": functions,
            "api_requests": api_calls.get(workflow, 0) / n,
            "sns_publishes": publishes / n,
            "sns_emails": publishes / n,
            "sqs_requests": sqs / n,
            "dynamodb_write_units": _sum(requests, "dynamodb", _WRITES) / n,
            "dynamodb_read_units": _sum(requests, "dynamodb", _READS) / n,
            "s3_put_requests": _sum(requests, "s3", _S3_PUT_CLASS) / n,
            "s3_get_requests": _sum(requests, "s3", _S3_GET_CLASS) / n,
            "durations_source": "local estimate",
            "aws_requests": {f"{s}:{o}": round(c, 2) for (s, o), c in sorted(requests.items())},
        }
        if workflow == C.DURABLE:
            operations: Counter[str] = Counter()
            for job in mine:
                operations.update(rt.durable_operations(job.job_id))
            entry["durable_operations"] = sum(operations.values()) / n
            entry["durable_bytes_written"] = sum(rt.durable_data_written(j.job_id) for j in mine) / n
            entry["durable_operations_by_type"] = dict(operations)
        else:
            entry["state_transitions"] = sum(rt.state_transitions(j.job_id) for j in mine) / n
        units[workflow] = entry
    assert rt.gateway is not None
    units["gateway_requests"] = sum(rt.gateway.requests.values())
    units["lambda_api_calls"] = dict(rt.lambda_calls)
    return units


def _usage(key: str, per_workflow: float, seconds: float, calls: int) -> dict[str, Any]:
    return {
        "invocations": round(per_workflow, 3),
        "duration_ms": round(seconds / calls * 1000, 1) if calls else 0.0,
        "memory_mb": DEFAULT_MEMORY_MB.get(key, MEMORY_MB),
    }


def _sum(requests: Counter[tuple[str, str]], service: str, operations: set[str]) -> float:
    return sum(c for (s, o), c in requests.items() if s == service and o in operations)


def print_units(units: dict[str, Any], say: Any) -> None:
    say("")
    say("Counted units per workflow (durations: local estimates):")
    for workflow in (C.DURABLE, C.STEP_FUNCTIONS):
        if workflow not in units:
            continue
        e = units[workflow]
        say(f"  {workflow} ({e['workflows']} workflows)")
        for key, usage in e["functions"].items():
            say(f"    {key:<22} {usage['invocations']:>5.2f} invocations  ~{usage['duration_ms']:>7.1f} ms")
        if "durable_operations" in e:
            ops = ", ".join(f"{k} {v}" for k, v in sorted(e["durable_operations_by_type"].items()))
            say(f"    durable operations     {e['durable_operations']:.2f}  ({ops} in all)")
        if "state_transitions" in e:
            say(f"    state transitions      {e['state_transitions']:.2f}")
        say(
            f"    API {e['api_requests']:.2f}  SNS {e['sns_publishes']:.2f}  SQS {e['sqs_requests']:.2f}  "
            f"DynamoDB W {e['dynamodb_write_units']:.2f} R {e['dynamodb_read_units']:.2f}  "
            f"S3 PUT {e['s3_put_requests']:.2f} GET {e['s3_get_requests']:.2f}"
        )
    say(f"  gateway requests {units['gateway_requests']}; Lambda API calls {units['lambda_api_calls']}")


def print_cost(units: dict[str, Any], say: Any) -> dict[str, Any]:
    """The cost comparison of the units just counted (durations are local estimates)."""
    if C.DURABLE not in units or C.STEP_FUNCTIONS not in units:
        return {}
    from etl_ops.cost import Comparison, render, units_from_report
    from etl_ops.pricing import table

    durable, sfn = units_from_report({"units": units})
    comparison = Comparison(durable, sfn, table())
    say("")
    say(render(comparison))
    say("")
    return comparison.to_dict()
