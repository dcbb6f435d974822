"""storage, sfn_pipeline and approval_api applied for real by pytest-terraform against a moto server
on 127.0.0.1, inspected with boto3, then destroyed. durable_pipeline is not applied: its `durable_config`
needs hashicorp/aws >= 6.25 and the offline mirror holds 5.100, so it is checked against the 6.62
provider schema instead (test_provider_schema.py)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_terraform
import terraform_env
from botocore.exceptions import ClientError

from etl_aws import contract

from . import moto_apply
from .tfkit import ROOT

ACCOUNT = "123456789012"
NAME = "mt"  # `name` of the stack root (tests/terraform/apply/stack/main.tf)
OPERATOR_ROUTES = {(r.method, r.resource) for r in contract.API_ROUTES if r.iam}
REVIEW_ROUTES = {(r.method, r.resource) for r in contract.API_ROUTES if not r.iam}
# ASL task state → the function whose alias it invokes.
TASK_FUNCTIONS = {
    "Extract": "sfn-extract",
    "Transform": "sfn-transform",
    "Load": "sfn-load",
    "RequestApproval": "sfn-request-approval",
    "Publish": "sfn-finalize",
    "Discard": "sfn-finalize",
    "Expire": "sfn-finalize",
    "RecordFailure": "sfn-finalize",
}


@dataclass
class MotoStack:
    """The moto endpoint the stack is applied to, and what must be gone once it is destroyed."""

    endpoint: str
    probes: list[tuple[str, Callable[[], object]]] = field(default_factory=list)

    def client(self, service: str) -> Any:
        return moto_apply.client(service, self.endpoint)

    def expect_gone(self, what: str, read: Callable[[], object]) -> None:
        """After the destroy, `read` must fail with a not-found error."""
        self.probes.append((what, read))

    def still_present(self) -> list[str]:
        present = []
        for what, read in self.probes:
            try:
                read()
            except ClientError as error:
                if error.response["ResponseMetadata"]["HTTPStatusCode"] not in (400, 404):
                    raise
                continue
            present.append(what)
        return present


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with moto_apply.moto_server() as url:
        yield url


@pytest.fixture(scope="module")
def moto_stack(
    terraform_binary: str, tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str
) -> Iterator[MotoStack]:
    """The environment pytest-terraform runs terraform in (it passes os.environ on); requested before
    `applied_stack`, so its teardown checks what the destroy left."""
    from pytest_terraform import tf

    mirror = terraform_env.find_mirror()
    if mirror is None:
        roots = ", ".join(str(r) for r in terraform_env.candidate_roots())
        pytest.skip(f"no hashicorp/aws provider mirror found (searched {roots}; set TF_PROVIDER_MIRROR)")
    if not (ROOT / contract.ASL_PATH).is_file():
        pytest.skip(f"{contract.ASL_PATH} is missing: the state machine has no definition to apply")
    base = tmp_path_factory.mktemp("apply-moto")
    config = terraform_env.write_cli_config(mirror.root, base / "cli.tfrc")
    cache = base / "plugin-cache"
    cache.mkdir()
    roots = moto_apply.prepare_roots(base / "repo", mirror.newest)
    stack = MotoStack(moto_endpoint)
    with pytest.MonkeyPatch.context() as patch:
        for key in list(os.environ):
            if key.startswith(("TF_", "AWS_ENDPOINT_URL")):
                patch.delenv(key)
        for key, value in moto_apply.terraform_env(config, cache, moto_endpoint).items():
            patch.setenv(key, value)
        # --tf-mod-dir, which pytest-terraform reads when a fixture first runs: the root is applied
        # in the prepared copy, so its lock file and recorded resources stay out of the repository.
        patch.setattr(tf.LazyModuleDir, "value", str(roots))
        yield stack
    present = stack.still_present()
    assert not present, f"left after terraform destroy: {present}"


if moto_apply.terraform_plugin_loaded():
    pytest_terraform.terraform("stack", scope="module", name="applied_stack")
else:

    @pytest.fixture(scope="module")
    def applied_stack() -> None:
        pytest.skip("pytest-terraform is not loaded: terraform is not on PATH")


def _by_name(items: list[dict[str, str]], key: str = "Name", value: str = "Value") -> dict[str, str]:
    return {item[key].lower(): item[value] for item in items}


# ---- the apply's shims of what moto lacks (moto_apply.py) --------------------------------------------------


def test_shim_validates_state_machine_definitions(moto_endpoint: str) -> None:
    sfn = moto_apply.client("stepfunctions", moto_endpoint)
    valid = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}
    invalid = {"StartAt": "Done", "States": {"Done": {"Type": "Teleport"}}}

    ok = sfn.validate_state_machine_definition(definition=json.dumps(valid), type="STANDARD")
    failed = sfn.validate_state_machine_definition(definition=json.dumps(invalid), type="STANDARD")

    assert (ok["result"], ok["diagnostics"]) == ("OK", [])
    assert failed["result"] == "FAIL"
    assert [d["code"] for d in failed["diagnostics"]] == ["SCHEMA_VALIDATION_FAILED"]


def test_shim_lists_the_versions_a_state_machine_published(moto_endpoint: str) -> None:
    sfn = moto_apply.client("stepfunctions", moto_endpoint)
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    role = f"arn:aws:iam::{ACCOUNT}:role/shim"
    published = sfn.create_state_machine(
        name="shim-published", definition=definition, roleArn=role, publish=True
    )
    unpublished = sfn.create_state_machine(name="shim-unpublished", definition=definition, roleArn=role)

    listed = sfn.list_state_machine_versions(stateMachineArn=published["stateMachineArn"])
    empty = sfn.list_state_machine_versions(stateMachineArn=unpublished["stateMachineArn"])

    assert [v["stateMachineVersionArn"] for v in listed["stateMachineVersions"]] == [
        published["stateMachineVersionArn"]
    ]
    assert empty["stateMachineVersions"] == []


def test_shim_returns_the_redrive_allow_policy_it_was_given(moto_endpoint: str) -> None:
    sqs = moto_apply.client("sqs", moto_endpoint)
    url = sqs.create_queue(QueueName="shim-dlq")["QueueUrl"]
    policy = json.dumps(
        {"redrivePermission": "byQueue", "sourceQueueArns": [f"arn:aws:sqs:us-east-1:{ACCOUNT}:q"]}
    )

    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedriveAllowPolicy": policy})

    read = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedriveAllowPolicy"])["Attributes"]
    assert json.loads(read["RedriveAllowPolicy"]) == json.loads(policy)
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedriveAllowPolicy": ""})
    removed = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedriveAllowPolicy"])
    assert "RedriveAllowPolicy" not in removed.get("Attributes", {})


# ---- the applied modules ------------------------------------------------------------------------


@pytest.mark.terraform
@pytest.mark.slow
def test_storage_applies_private_versioned_buckets_a_queue_with_dlq_and_the_jobs_table(
    moto_stack: MotoStack, applied_stack: Any
) -> None:
    out = moto_apply.outputs(applied_stack, "storage")
    s3, sqs, ddb = moto_stack.client("s3"), moto_stack.client("sqs"), moto_stack.client("dynamodb")
    raw, output = out["raw_bucket_names"]["sfn"], out["output_bucket_names"]["sfn"]
    assert (raw, output) == (f"{NAME}-sfn-raw-{ACCOUNT}", f"{NAME}-sfn-out-{ACCOUNT}")

    # Every object under uploads/ in the raw bucket → the pipeline's queue; nothing else notifies.
    [notification] = s3.get_bucket_notification_configuration(Bucket=raw)["QueueConfigurations"]
    assert notification["QueueArn"] == out["queue_arns"]["sfn"]
    assert notification["Events"] == ["s3:ObjectCreated:*"]
    assert _by_name(notification["Filter"]["Key"]["FilterRules"]) == contract.NOTIFICATION_FILTER_RULES
    assert "QueueConfigurations" not in s3.get_bucket_notification_configuration(Bucket=output)

    for bucket in (raw, output):
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled", bucket
        [rule] = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256", bucket
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert block == dict.fromkeys(
            ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
        ), bucket
        [statement] = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
        assert (statement["Effect"], statement["Condition"]) == (
            "Deny",
            {"Bool": {"aws:SecureTransport": "false"}},
        ), bucket
        moto_stack.expect_gone(f"bucket {bucket}", lambda bucket=bucket: s3.head_bucket(Bucket=bucket))

    # The event queue redrives to its DLQ, which only that queue may use; only the raw bucket sends.
    queue = sqs.get_queue_attributes(QueueUrl=out["queue_urls"]["sfn"], AttributeNames=["All"])["Attributes"]
    assert json.loads(queue["RedrivePolicy"]) == {
        "deadLetterTargetArn": out["dlq_arns"]["sfn"],
        "maxReceiveCount": 5,
    }
    assert (queue["VisibilityTimeout"], queue["ReceiveMessageWaitTimeSeconds"]) == ("180", "20")
    assert queue["SqsManagedSseEnabled"] == "true"
    [send] = json.loads(queue["Policy"])["Statement"]
    assert (send["Principal"], send["Action"]) == ({"Service": "s3.amazonaws.com"}, "sqs:SendMessage")
    assert send["Condition"]["ArnEquals"] == {"aws:SourceArn": out["raw_bucket_arns"]["sfn"]}
    dlq = sqs.get_queue_attributes(QueueUrl=out["dlq_urls"]["sfn"], AttributeNames=["All"])["Attributes"]
    assert json.loads(dlq["RedriveAllowPolicy"]) == {
        "redrivePermission": "byQueue",
        "sourceQueueArns": [out["queue_arns"]["sfn"]],
    }
    assert dlq["MessageRetentionPeriod"] == "1209600"
    for url in (out["queue_urls"]["sfn"], out["dlq_urls"]["sfn"]):
        moto_stack.expect_gone(f"queue {url}", lambda url=url: sqs.get_queue_attributes(QueueUrl=url))

    # One jobs table: job_id, the status index (status, updated_at), TTL and PITR on.
    table_name = out["jobs_table_name"]
    table = ddb.describe_table(TableName=table_name)["Table"]
    assert table["KeySchema"] == [{"AttributeName": contract.JOBS_HASH_KEY, "KeyType": "HASH"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    [index] = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == contract.JOBS_STATUS_INDEX
    assert index["KeySchema"] == [
        {"AttributeName": "status", "KeyType": "HASH"},
        {"AttributeName": "updated_at", "KeyType": "RANGE"},
    ]
    assert index["Projection"]["ProjectionType"] == "ALL"
    ttl = ddb.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", contract.JOBS_TTL_ATTRIBUTE)
    backups = ddb.describe_continuous_backups(TableName=table_name)["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    moto_stack.expect_gone(f"table {table_name}", lambda: ddb.describe_table(TableName=table_name))


@pytest.mark.terraform
@pytest.mark.slow
def test_approval_api_applies_iam_operator_routes_and_open_review_routes_to_the_alias(
    moto_stack: MotoStack, applied_stack: Any
) -> None:
    out = moto_apply.outputs(applied_stack, "approval_api")
    api, lam = moto_stack.client("apigateway"), moto_stack.client("lambda")
    api_id = out["rest_api_id"]
    alias_arn = out["function_alias_arn"]
    assert alias_arn == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{NAME}-approval-api:live"

    methods: dict[tuple[str, str], dict[str, Any]] = {}
    for resource in api.get_resources(restApiId=api_id, embed=["methods"])["items"]:
        for verb in resource.get("resourceMethods", {}):
            methods[(verb, resource["path"])] = api.get_method(
                restApiId=api_id, resourceId=resource["id"], httpMethod=verb
            )
    assert set(methods) == OPERATOR_ROUTES | REVIEW_ROUTES
    for route, method in methods.items():
        expected = "AWS_IAM" if route in OPERATOR_ROUTES else "NONE"
        assert method["authorizationType"] == expected, route
        integration = method["methodIntegration"]
        assert (integration["type"], integration["httpMethod"]) == ("AWS_PROXY", "POST"), route
        assert integration["uri"] == (
            f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{alias_arn}/invocations"
        ), route

    stage = api.get_stage(restApiId=api_id, stageName=out["stage_name"])
    assert stage["tracingEnabled"] is True
    assert stage["accessLogSettings"]["destinationArn"].endswith(f":log-group:{out['access_log_group_name']}")

    # The function reads the jobs table and the topic the storage made (no named reviewers by default),
    # and only this API's stage may invoke it.
    config = lam.get_function_configuration(FunctionName=alias_arn)
    assert config["Handler"] == contract.FUNCTIONS_BY_KEY["approval-api"].handler
    assert config["Environment"]["Variables"] == {
        contract.ENV_JOBS_TABLE: f"{NAME}-jobs",
        contract.ENV_REJECT_REASON_REQUIRED: str(contract.DEFAULT_REJECT_REASON_REQUIRED).lower(),
        contract.ENV_TOPIC_ARN: moto_apply.outputs(applied_stack, "storage")["topic_arn"],
        contract.ENV_REVIEW_CONFIG: "{}",
    }
    assert config["TracingConfig"]["Mode"] == "Active"  # moto 5.2.5 keeps no LoggingConfig to check
    policy = lam.get_policy(FunctionName=out["function_name"], Qualifier="live")["Policy"]
    [grant] = json.loads(policy)["Statement"]
    assert grant["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert grant["Condition"]["ArnLike"]["AWS:SourceArn"] == f"{out['execution_arn']}/{out['stage_name']}/*"

    moto_stack.expect_gone(f"REST API {api_id}", lambda: api.get_rest_api(restApiId=api_id))
    name = out["function_name"]
    moto_stack.expect_gone(f"function {name}", lambda: lam.get_function(FunctionName=name))


@pytest.mark.terraform
@pytest.mark.slow
def test_sfn_pipeline_applies_a_logged_traced_state_machine_over_the_task_aliases(
    moto_stack: MotoStack, applied_stack: Any
) -> None:
    out = moto_apply.outputs(applied_stack, "sfn_pipeline")
    storage = moto_apply.outputs(applied_stack, "storage")
    sfn, lam = moto_stack.client("stepfunctions"), moto_stack.client("lambda")
    aliases = out["function_alias_arns"]
    assert aliases == {
        spec.key: f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{NAME}-{spec.key}:live"
        for spec in contract.FUNCTIONS
        if spec.package == "sfn"
    }

    machine = sfn.describe_state_machine(stateMachineArn=out["state_machine_arn"])
    assert (machine["name"], machine["type"]) == (f"{NAME}-etl", "STANDARD")
    states = json.loads(machine["definition"])["States"]
    for state, function in TASK_FUNCTIONS.items():
        assert states[state]["Parameters"]["FunctionName"] == aliases[function], state
    assert states["RequestApproval"]["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert states["RequestApproval"]["TimeoutSeconds"] == 3600
    assert machine["tracingConfiguration"] == {"enabled": True}
    logging = machine["loggingConfiguration"]
    # The provider leaves out includeExecutionData when false, its default.
    assert (logging["level"], logging.get("includeExecutionData", False)) == ("ALL", False)
    [destination] = logging["destinations"]
    assert destination["cloudWatchLogsLogGroup"]["logGroupArn"] == (
        f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{out['state_machine_log_group_name']}:*"
    )

    # Each function gets exactly the variables the contract says it reads, with the stack's values.
    shared = {
        contract.ENV_JOBS_TABLE: storage["jobs_table_name"],
        contract.ENV_OUTPUT_BUCKET: storage["output_bucket_names"]["sfn"],
        contract.ENV_WORKFLOW: contract.STEP_FUNCTIONS,
        contract.ENV_TOPIC_ARN: storage["topic_arn"],
        contract.ENV_API_URL: moto_apply.outputs(applied_stack, "approval_api")["invoke_url"],
        contract.ENV_APPROVAL_TIMEOUT: "3600",
        contract.ENV_ORCHESTRATOR_ARN: out["state_machine_arn"],
    }
    for key, alias in aliases.items():
        config = lam.get_function_configuration(FunctionName=alias)
        variables = config["Environment"]["Variables"]
        assert set(variables) == set(contract.FUNCTIONS_BY_KEY[key].env), key
        assert {k: v for k, v in variables.items() if k in shared} == {
            k: shared[k] for k in variables if k in shared
        }, key
        assert config["Handler"] == contract.FUNCTIONS_BY_KEY[key].handler, key
        name = config["FunctionName"]
        moto_stack.expect_gone(f"function {name}", lambda name=name: lam.get_function(FunctionName=name))

    # The storage's queue drives the starter's alias, reporting per-message failures.
    [mapping] = lam.list_event_source_mappings(FunctionName=aliases["sfn-starter"])["EventSourceMappings"]
    assert mapping["EventSourceArn"] == storage["queue_arns"]["sfn"]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert (mapping["BatchSize"], mapping["ScalingConfig"]["MaximumConcurrency"]) == (10, 5)

    arn = out["state_machine_arn"]
    moto_stack.expect_gone(f"state machine {arn}", lambda: sfn.describe_state_machine(stateMachineArn=arn))
