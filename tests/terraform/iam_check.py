"""What IAM must allow for each AWS call, and whether a role's policies allow it.

An inventory entry (tests/terraform/aws_calls.py) names a function, a service operation and the resources
it touches deployment-independently; `needs()` turns it into (IAM action, resource ARN) pairs in the
deployment the Terraform describes, following the Service Authorization Reference
(https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html)
and each API's documented permissions. `allowing()` evaluates identity policies the way IAM does for
Allow statements: Action and Resource patterns with `*` and `?` wildcards, actions case-insensitively.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any

from .hcl_eval import Module, RolePolicies

JOB = "report-4fq3vyx2wdcxzqk6tq3bk7xa3e"  # a job id: object keys, execution names
VERSION = "7"  # a published function version: durable execution ARNs name it, not the alias
EXECUTION_ID = "0f6c1d2e-4b5a-4c3d-9e8f-7a6b5c4d3e2f"

# Managed policies attached by ARN, as AWS publishes them (their documents are not in the Terraform).
# https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaBasicDurableExecutionRolePolicy.html
MANAGED_POLICIES: dict[str, dict[str, Any]] = {
    "AWSLambdaBasicDurableExecutionRolePolicy": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "lambda:CheckpointDurableExecution",
                    "lambda:GetDurableExecutionState",
                ],
                "Resource": "*",
            }
        ],
    },
    # The policy AWS documents for API Gateway's account-wide logging role:
    # https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html
    "AmazonAPIGatewayPushToCloudWatchLogs": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:DescribeLogGroups",
                    "logs:DescribeLogStreams",
                    "logs:PutLogEvents",
                    "logs:GetLogEvents",
                    "logs:FilterLogEvents",
                ],
                "Resource": "*",
            }
        ],
    },
}

# IAM prefixes of botocore service names.
PREFIX = {"stepfunctions": "states"}


@dataclass(frozen=True)
class Need:
    action: str
    resource: str
    why: str


@dataclass
class Deployment:
    """The ARNs the evaluated Terraform gives each resource the code touches."""

    name: str
    buckets: dict[tuple[str, str], str]  # (workflow, raw|output) -> bucket ARN
    table: str
    index: dict[str, str]
    topic: str
    queues: dict[str, str]  # workflow -> queue ARN
    functions: dict[str, str]  # key -> unqualified function ARN
    aliases: dict[str, str]  # key -> alias ARN
    state_machine: str
    kms_key: str | None
    roles: dict[str, RolePolicies] = field(default_factory=dict)

    @property
    def execution(self) -> str:
        return self.state_machine.replace(":stateMachine:", ":execution:") + f":{JOB}"

    def durable_execution(self, key: str) -> str:
        """https://docs.aws.amazon.com/lambda/latest/dg/durable-security.html: the qualifier of a durable
        execution ARN is always $LATEST or a version, even when it was started through an alias."""
        return f"{self.functions[key]}:{VERSION}/durable-execution/{JOB}/{EXECUTION_ID}"

    def role_of(self, key: str) -> RolePolicies:
        return self.roles[f"{self.name}-{key}"]


def deployment(root: Module, name: str) -> Deployment:
    """Read the ARNs from the environment root's module outputs."""
    modules = root.namespaces["module"]
    storage = modules.attr("storage")
    durable, sfn = modules.attr("durable"), modules.attr("sfn")
    aliases = root.output("function_alias_arns")
    functions = {key: arn.rsplit(":", 1)[0] for key, arn in aliases.items()}
    buckets = {}
    for workflow, arn in storage.output("raw_bucket_arns").items():
        buckets[(workflow, "raw")] = arn
    for workflow, arn in storage.output("output_bucket_arns").items():
        buckets[(workflow, "output")] = arn
    assert durable, "evaluate with the durable pipeline enabled"
    assert sfn, "evaluate with the Step Functions pipeline enabled"
    from .hcl_eval import role_policies

    return Deployment(
        name=name,
        buckets=buckets,
        table=storage.output("jobs_table_arn"),
        index={"status-index": storage.output("jobs_status_index_arn")},
        topic=storage.output("topic_arn"),
        queues=storage.output("queue_arns"),
        functions=functions,
        aliases=aliases,
        state_machine=sfn[0].output("state_machine_arn"),
        kms_key=storage.output("kms_key_arn"),
        roles=role_policies(root),
    )


def workflow_of(key: str) -> str:
    return "sfn" if key.startswith("sfn-") else "durable"


# Functions that serve every pipeline: a bucket kind in their calls ("output") is each pipeline's bucket.
SHARED_FUNCTIONS = frozenset({"approval-api"})


def workflows_of(key: str) -> tuple[str, ...]:
    """The pipelines whose buckets a function's S3 calls reach."""
    return ("durable", "sfn") if key in SHARED_FUNCTIONS else (workflow_of(key),)


# ---- operation → (action, resource) --------------------------------------------------------------


def _object_arn(d: Deployment, workflow: str, res: dict[str, Any]) -> str:
    bucket = d.buckets[(workflow, res["bucket"])]
    return f"{bucket}/{res['prefix']}{JOB}/records.jsonl"


def _s3_read(d: Deployment, workflow: str, res: dict[str, Any], op: str) -> list[Need]:
    """GetObject / HeadObject: s3:GetObject, or s3:GetObjectVersion when a VersionId is named; with
    s3:ListBucket a missing key is a 404 rather than a 403, and the steps look for their own output.
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html#API_HeadObject_Permissions"""
    action = "s3:GetObjectVersion" if res.get("version") else "s3:GetObject"
    found = [Need(action, _object_arn(d, workflow, res), op)]
    found.append(Need("s3:ListBucket", d.buckets[(workflow, res["bucket"])], f"{op}: 404 for a missing key"))
    return found + _kms(d, ["kms:Decrypt"], op)


def _s3_write(d: Deployment, workflow: str, res: dict[str, Any], op: str) -> list[Need]:
    """PutObject and every part of a multipart upload need s3:PutObject; with SSE-KMS, GenerateDataKey,
    and Decrypt for a multipart upload.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html#mpuAndPermissions"""
    kms = ["kms:GenerateDataKey"] + (["kms:Decrypt"] if "Multipart" in op or op == "UploadPart" else [])
    return [Need("s3:PutObject", _object_arn(d, workflow, res), op), *_kms(d, kms, op)]


WRITES = (
    "PutObject",
    "CopyObject",
    "UploadPartCopy",
    "CreateMultipartUpload",
    "UploadPart",
    "CompleteMultipartUpload",
)


def _s3(d: Deployment, workflow: str, op: str, resources: list[dict[str, Any]]) -> list[Need]:
    found: list[Need] = []
    for res in resources:
        if "prefix" not in res:  # the bucket itself
            bucket = d.buckets[(workflow, res["bucket"])]
            found.append(
                Need({"ListObjectVersions": "s3:ListBucketVersions"}.get(op, "s3:ListBucket"), bucket, op)
            )
        elif res.get("role") == "source" or op in ("GetObject", "HeadObject"):
            found += _s3_read(d, workflow, res, op)
        elif op in WRITES:
            found += _s3_write(d, workflow, res, op)
        elif op == "AbortMultipartUpload":
            found.append(Need("s3:AbortMultipartUpload", _object_arn(d, workflow, res), op))
        elif op in ("DeleteObject", "DeleteObjects"):
            # DeleteObjects is authorized per key as DeleteObject (DeleteObjectVersion with a version).
            # https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html
            action = "s3:DeleteObjectVersion" if res.get("version") else "s3:DeleteObject"
            found.append(Need(action, _object_arn(d, workflow, res), op))
        else:
            raise ValueError(f"s3 {op}: no IAM mapping")
    return found


def _kms(d: Deployment, actions: list[str], op: str) -> list[Need]:
    """A customer managed key on the buckets, table and topic: its use is authorized by IAM too."""
    if d.kms_key is None:
        return []
    return [Need(a, d.kms_key, f"{op} on data encrypted with the customer managed key") for a in actions]


def _dynamodb(d: Deployment, op: str, resources: list[dict[str, Any]]) -> list[Need]:
    """Query and Scan of an index are authorized on the index ARN. With a customer managed key, item
    access uses it for the caller: kms:Decrypt.
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/encryption.howitworks.html"""
    found = []
    for res in resources:
        arn = d.index[res["index"]] if res.get("index") else d.table
        found.append(Need(f"dynamodb:{op}", arn, op))
    return found + _kms(d, ["kms:Decrypt"], op)


def _lambda(d: Deployment, key: str, op: str, resources: list[dict[str, Any]]) -> list[Need]:
    found = []
    for res in resources:
        if "durable_execution" in res:
            arn = d.durable_execution(res["durable_execution"])
            found.append(Need(f"lambda:{op}", arn, op))
        elif op == "Invoke":
            # lambda:InvokeFunction on the ARN as called: an alias-qualified ARN needs the alias ARN.
            qualifier = f":{res['qualifier']}" if res.get("qualifier") else ""
            found.append(Need("lambda:InvokeFunction", d.functions[res["function"]] + qualifier, op))
        else:
            found.append(Need(f"lambda:{op}", d.functions[res["function"]], op))
    return found


def _states(d: Deployment, op: str, resources: list[dict[str, Any]]) -> list[Need]:
    """Task tokens are authorized against the state machine; execution reads on the execution ARN.
    https://docs.aws.amazon.com/step-functions/latest/dg/concept-create-iam-advanced.html"""
    found = []
    for res in resources:
        arn = d.execution if "execution" in res else d.state_machine
        found.append(Need(f"states:{op}", arn, op))
    return found


def needs(d: Deployment, entry: dict[str, Any]) -> list[Need]:
    """What IAM must allow for one inventory entry."""
    key, service, op, res = entry["function"], entry["service"], entry["operation"], entry["resources"]
    if service == "s3":
        return [need for workflow in workflows_of(key) for need in _s3(d, workflow, op, res)]
    if service == "dynamodb":
        return _dynamodb(d, op, res)
    if service == "lambda":
        return _lambda(d, key, op, res)
    if service == "stepfunctions":
        return _states(d, op, res)
    if service == "sns":
        # Publishing to a topic under a customer managed key: GenerateDataKey and Decrypt.
        # https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html
        return [Need("sns:Publish", d.topic, op), *_kms(d, ["kms:GenerateDataKey", "kms:Decrypt"], op)]
    if service == "sqs":
        return [Need(f"sqs:{op}", d.queues[workflow_of(key)], op)]
    raise ValueError(f"{service} {op}: no IAM mapping")


# ---- policy evaluation ----------------------------------------------------------------------------


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _matches(pattern: str, value: str, case: bool) -> bool:
    regex = fnmatch.translate(pattern).replace("(?s:", "(?s:" if case else "(?si:", 1)
    return re.match(regex, value) is not None


@dataclass(frozen=True)
class Grant:
    """One (action pattern, resource pattern) of an Allow statement."""

    policy: str
    sid: str
    action: str
    resource: str


def statements(role: RolePolicies) -> list[tuple[str, dict[str, Any]]]:
    docs = dict(role.inline)
    for arn in role.managed:
        docs[arn] = MANAGED_POLICIES[arn.rsplit("/", 1)[-1]]
    return [(name, s) for name, doc in docs.items() for s in _listed_statements(doc)]


def _listed_statements(doc: dict[str, Any]) -> list[dict[str, Any]]:
    found = doc["Statement"]
    return [found] if isinstance(found, dict) else found


def grants(role: RolePolicies) -> list[Grant]:
    """Every (action, resource) an Allow statement of the role names; a Deny, NotAction, NotResource or
    Condition is not modelled and raises."""
    found = []
    for name, s in statements(role):
        unsupported = {"NotAction", "NotResource", "Condition"} & set(s)
        if s.get("Effect") != "Allow" or unsupported:
            raise ValueError(f"{role.role}/{name}: statement {s.get('Sid')} is not a plain Allow")
        for action in _listed(s["Action"]):
            for resource in _listed(s["Resource"]):
                found.append(Grant(name, s.get("Sid", "-"), action, resource))
    return found


def allowing(role: RolePolicies, need: Need) -> list[Grant]:
    """The grants of `role` that allow `need`."""
    return [
        g
        for g in grants(role)
        if _matches(g.action, need.action, case=False) and _matches(g.resource, need.resource, case=True)
    ]
