"""Every AWS call each deployed function makes, held to botocore's service models and to that function's
IAM policy in the Terraform.

The calls come from tests/terraform/data/aws_calls.json: `recorded` is what the functions did while
both pipelines ran every scenario on the local runtime (regenerate with
`.venv/bin/python -m tests.terraform.aws_calls`; test_recording_matches_inventory re-records and fails on
any difference), `declared` the calls of paths the scenarios cannot reach (large files, services acting
with the function's role, recovery after an uncertain send), each with the reason. The policies are the
environment root's, evaluated by tests/terraform/hcl_eval.py with both pipelines enabled, with and without
a customer managed key.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session
import pytest

from etl_aws import contract as C

from . import aws_calls
from .hcl_eval import Account, Module
from .iam_check import Deployment, Grant, Need, allowing, deployment, grants, needs
from .tfkit import TERRAFORM_DIR

NAME = "etl"
KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ENVIRONMENT = TERRAFORM_DIR / "environments" / "aws"
LOG_STREAM = "2026/01/01/[$LATEST]0123456789abcdef"

# Actions AWS offers no resource-level permissions for: "*" is the only resource they accept.
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsx-ray.html
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/AWS-logs-and-resource-policy.html
NO_RESOURCE_LEVEL = frozenset(
    {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
    }
)

# Grants no recorded or declared call needs, and why they stay.
_UNVERSIONED = "reads an upload named by key alone: an event without a versionId"
UNUSED_BY_DESIGN: dict[tuple[str, str], str] = {
    ("sfn-extract", "s3:GetObject"): _UNVERSIONED,
    ("sfn-transform", "s3:GetObject"): _UNVERSIONED,
    ("durable-orchestrator", "s3:GetObject"): _UNVERSIONED,
}


@cache
def inventory() -> dict[str, list[dict[str, Any]]]:
    return aws_calls.load()


def entries() -> list[dict[str, Any]]:
    found = inventory()
    return found["recorded"] + found["declared"]


@cache
def evaluated(kms: bool) -> Deployment:
    inputs = {
        "name": lambda: NAME,
        "approver_emails": lambda: ["reviewer@example.com"],
        "kms_key_arn": lambda: KMS_KEY if kms else None,
    }
    return deployment(Module(ENVIRONMENT, inputs, Account()), NAME)


def platform_needs(d: Deployment, key: str) -> list[Need]:
    """What Lambda itself does with the function's role: write its logs, send its traces (tracing is
    Active by default). https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html"""
    group = f"arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/{NAME}-{key}"
    stream = f"{group}:log-stream:{LOG_STREAM}"
    return [
        Need("logs:CreateLogStream", stream, "Lambda writes the function's logs"),
        Need("logs:PutLogEvents", stream, "Lambda writes the function's logs"),
        Need("xray:PutTraceSegments", "*", "active tracing"),
        Need("xray:PutTelemetryRecords", "*", "active tracing"),
    ]


def all_needs(d: Deployment, key: str) -> list[Need]:
    found = platform_needs(d, key)
    for entry in entries():
        if entry["function"] == key:
            found += needs(d, entry)
    return found


# ---- the inventory -------------------------------------------------------------------------------


def test_every_deployed_function_has_recorded_calls() -> None:
    recorded = {e["function"] for e in inventory()["recorded"]}

    assert recorded == set(C.FUNCTIONS_BY_KEY)


def test_every_declared_call_says_why() -> None:
    assert all(e.get("why") for e in inventory()["declared"])


def test_recording_matches_inventory() -> None:
    """Runs every scenario through both pipelines again (about 25 s) and compares the calls made."""
    recorded = aws_calls.record_inventory()

    committed = {json.dumps(e, sort_keys=True) for e in inventory()["recorded"]}
    fresh = {json.dumps(e, sort_keys=True) for e in recorded}
    assert fresh == committed, (
        f"calls no longer made: {sorted(committed - fresh)}\nnew calls: {sorted(fresh - committed)}\n"
        "review them, then run: .venv/bin/python -m tests.terraform.aws_calls"
    )


# ---- botocore's service models ---------------------------------------------------------------------


@cache
def service_model(service: str) -> Any:
    return botocore.session.get_session().get_service_model(service)


@pytest.mark.parametrize("entry", entries(), ids=lambda e: f"{e['function']}:{e['service']}.{e['operation']}")
def test_call_matches_the_pinned_botocore_model(entry: dict[str, Any]) -> None:
    model = service_model(entry["service"])

    assert entry["operation"] in model.operation_names
    shape = model.operation_model(entry["operation"]).input_shape
    members = set(shape.members) if shape else set()
    assert set(entry["params"]) <= members, set(entry["params"]) - members
    required = set(shape.required_members) if shape else set()
    data = {"Body", "Payload", "Result", "output", "Message", "Item", "input"}
    assert required - data <= set(entry["params"]), required - set(entry["params"])


def test_durable_execution_apis_exist_in_the_pinned_botocore() -> None:
    """Start by name through a qualified ARN, complete a callback, read the history, list executions.
    https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html"""
    lam = service_model("lambda")
    invoke = lam.operation_model("Invoke").input_shape.members

    assert "DurableExecutionName" in invoke
    for operation in (
        "SendDurableExecutionCallbackSuccess",
        "SendDurableExecutionCallbackFailure",
        "GetDurableExecutionHistory",
        "ListDurableExecutionsByFunction",
        "CheckpointDurableExecution",
        "GetDurableExecutionState",
    ):
        assert operation in lam.operation_names, operation
    assert (
        "CallbackId"
        in lam.operation_model("SendDurableExecutionCallbackSuccess").input_shape.required_members
    )
    assert (
        "DurableExecutionArn"
        in lam.operation_model("GetDurableExecutionHistory").input_shape.required_members
    )


def test_durable_start_names_the_execution_and_calls_the_alias() -> None:
    """The job id is the execution name (a duplicate start is a no-op), and a durable function is only
    invoked through a qualified ARN: the starter calls the orchestrator's alias."""
    starts = [e for e in entries() if e["operation"] == "Invoke" and e["function"] == "durable-starter"]

    assert starts
    for start in starts:
        assert "DurableExecutionName" in start["params"]
        assert start["resources"] == [{"function": "durable-orchestrator", "qualifier": "live"}]
    name = service_model("lambda").operation_model("Invoke").input_shape.members["DurableExecutionName"]
    assert name.metadata.get("max", 64) >= 64  # job ids are at most 64 characters


# ---- IAM -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kms", [False, True], ids=["sse-s3", "customer-key"])
@pytest.mark.parametrize("key", sorted(C.FUNCTIONS_BY_KEY))
def test_every_call_is_granted_by_the_function_policy(key: str, kms: bool) -> None:
    d = evaluated(kms)
    role = d.role_of(key)

    missing = [need for need in all_needs(d, key) if not allowing(role, need)]

    assert not missing, "\n".join(f"{n.action} on {n.resource} ({n.why})" for n in missing)


def test_state_machine_role_invokes_exactly_the_task_aliases() -> None:
    d = evaluated(False)
    role = d.roles[f"{NAME}-sfn-state-machine"]
    tasks = [k for k in C.FUNCTIONS_BY_KEY if k.startswith("sfn-") and k != "sfn-starter"]

    for key in tasks:
        assert allowing(role, Need("lambda:InvokeFunction", d.aliases[key], "task state"))
        assert not allowing(role, Need("lambda:InvokeFunction", d.functions[key], "unqualified"))
        assert not allowing(role, Need("lambda:InvokeFunction", f"{d.functions[key]}:$LATEST", "$LATEST"))


def unused(kms: bool) -> dict[str, list[Grant]]:
    d = evaluated(kms)
    found: dict[str, list[Grant]] = {}
    for key in C.FUNCTIONS_BY_KEY:
        role = d.role_of(key)
        used = {g for need in all_needs(d, key) for g in allowing(role, need)}
        found[key] = [g for g in grants(role) if g not in used]
    return found


def test_every_grant_is_used_by_a_call_or_justified(capsys: pytest.CaptureFixture[str]) -> None:
    """Least privilege: a grant no call needs is listed, and fails unless UNUSED_BY_DESIGN says why."""
    report = {k: v for k, v in unused(True).items() if v}
    with capsys.disabled():
        for key, found in sorted(report.items()):
            for g in found:
                print(f"\nunused grant: {key}: {g.policy}/{g.sid}: {g.action} on {g.resource}", end="")

    unjustified = [
        (k, g) for k, found in report.items() for g in found if (k, g.action) not in UNUSED_BY_DESIGN
    ]
    assert not unjustified, "\n".join(f"{k}: {g.sid} {g.action} on {g.resource}" for k, g in unjustified)


# API Gateway's logging role serves every REST API of the account and region (it is an account setting,
# manage_api_gateway_account), so it cannot be scoped to this deployment's log groups; it carries only
# the AWS managed policy AWS documents for it and nothing else.
# https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html
ACCOUNT_LOGGING_ROLE = f"{NAME}-apigateway-logs"
ACCOUNT_LOGGING_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"


def test_the_account_logging_role_holds_only_the_documented_managed_policy() -> None:
    role = evaluated(False).roles[ACCOUNT_LOGGING_ROLE]
    assert role.inline == {}
    assert role.managed == [ACCOUNT_LOGGING_POLICY]


@pytest.mark.parametrize("kms", [False, True], ids=["sse-s3", "customer-key"])
def test_no_wildcard_grant_where_the_action_takes_a_resource(kms: bool) -> None:
    d = evaluated(kms)
    wild = [
        (role.role, g)
        for role in d.roles.values()
        if role.role != ACCOUNT_LOGGING_ROLE
        for g in grants(role)
        if ("*" in g.action or g.resource == "*") and g.action not in NO_RESOURCE_LEVEL
    ]

    assert not wild, "\n".join(f"{r}: {g.policy}/{g.sid}: {g.action} on {g.resource}" for r, g in wild)


def test_missing_grant_is_found() -> None:
    """The check can fail: a copy into archive/ without write on archive/ is reported."""
    d = evaluated(False)
    role = d.role_of("sfn-extract")  # reads uploads/ only
    copy = {
        "function": "sfn-extract",
        "service": "s3",
        "operation": "CopyObject",
        "params": ["Bucket", "CopySource", "Key"],
        "resources": [
            {"bucket": "raw", "prefix": "uploads/", "version": True, "role": "source"},
            {"bucket": "raw", "prefix": "archive/", "version": False},
        ],
    }

    missing = [n for n in needs(d, copy) if not allowing(role, n)]

    assert [n.action for n in missing] == ["s3:PutObject"]


def test_inventory_file_is_where_the_recorder_writes() -> None:
    expected = Path(__file__).resolve().parent / "data" / "aws_calls.json"
    assert expected == aws_calls.INVENTORY
