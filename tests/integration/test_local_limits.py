"""The local stack refuses what AWS refuses, with AWS's error codes (etl_local.limits).

Each test makes the call a handler could make, through a real boto3 client on moto, and expects the
error AWS documents; the call just inside the limit must still succeed.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner
from botocore.exceptions import ClientError

from etl_local import limits


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


# ---- S3 -----------------------------------------------------------------------------------------


def test_s3_key_over_1024_bytes_is_key_too_long(aws: Any) -> None:
    s3, bucket = aws.client("s3"), aws.raw_bucket("durable")
    s3.put_object(Bucket=bucket, Key="k" * 1024, Body=b"x")  # exactly the limit
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="é" * 513, Body=b"x")  # 513 characters, 1,026 bytes
    assert error_code(exc) == "KeyTooLongError"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_s3_copy_to_a_key_over_1024_bytes_is_refused(aws: Any) -> None:
    s3, bucket = aws.client("s3"), aws.raw_bucket("durable")
    s3.put_object(Bucket=bucket, Key="uploads/a.csv", Body=b"x")
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="archive/" + "k" * 1017, CopySource=f"{bucket}/uploads/a.csv")
    assert error_code(exc) == "KeyTooLongError"


def test_s3_user_metadata_over_2_kb_is_refused(aws: Any) -> None:
    s3, bucket = aws.client("s3"), aws.raw_bucket("durable")
    s3.put_object(Bucket=bucket, Key="ok", Body=b"x", Metadata={"a": "v" * 2047})
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="big", Body=b"x", Metadata={"ab": "v" * 2047})
    assert error_code(exc) == "MetadataTooLarge"


def test_s3_copy_of_an_object_onto_itself_is_refused_unless_it_changes_something(aws: Any) -> None:
    s3, bucket = aws.client("s3"), aws.raw_bucket("durable")
    s3.put_object(Bucket=bucket, Key="same", Body=b"x")
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="same", CopySource={"Bucket": bucket, "Key": "same"})
    assert error_code(exc) == "InvalidRequest"
    s3.copy_object(
        Bucket=bucket,
        Key="same",
        CopySource={"Bucket": bucket, "Key": "same"},
        MetadataDirective="REPLACE",
        Metadata={"reviewed": "yes"},
    )


def test_s3_delete_objects_takes_at_most_1000_keys(aws: Any) -> None:
    s3, bucket = aws.client("s3"), aws.raw_bucket("durable")
    with pytest.raises(ClientError) as exc:
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": f"k{i}"} for i in range(1001)]})
    assert error_code(exc) == "MalformedXML"


# ---- Step Functions ------------------------------------------------------------------------------


@pytest.fixture
def machine(aws: Any) -> str:
    iam = aws.client("iam")
    role = iam.create_role(RoleName="limits", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}
    return aws.client("stepfunctions").create_state_machine(
        name="limits", definition=json.dumps(definition), roleArn=role
    )["stateMachineArn"]


@pytest.mark.parametrize("name", ["n" * 81, "has space", "a/b", "tab\tbed", "brace{", "semi;colon", ""])
def test_sfn_execution_names_follow_the_service_rules(aws: Any, machine: str, name: str) -> None:
    with pytest.raises(ClientError) as exc:
        aws.client("stepfunctions").start_execution(stateMachineArn=machine, name=name, input="{}")
    assert error_code(exc) in ("InvalidName", "ValidationException")


def test_sfn_execution_name_of_80_safe_characters_is_accepted(aws: Any, machine: str) -> None:
    sfn = aws.client("stepfunctions")
    assert sfn.start_execution(stateMachineArn=machine, name="n-_" * 26 + "nn", input="{}")["executionArn"]


def test_sfn_input_over_256_kb_is_refused_in_bytes_not_characters(aws: Any, machine: str) -> None:
    payload = json.dumps({"v": "é" * 131_072})  # 131k characters, 262k bytes
    with pytest.raises(ClientError) as exc:
        aws.client("stepfunctions").start_execution(stateMachineArn=machine, name="big", input=payload)
    assert error_code(exc) == "ValidationException"


def test_sfn_task_output_over_256_kb_is_refused(aws: Any) -> None:
    with pytest.raises(ClientError) as exc:
        aws.client("stepfunctions").send_task_success(taskToken="t", output=json.dumps({"v": "x" * 262_144}))
    assert error_code(exc) == "ValidationException"


def test_sfn_task_token_over_2048_characters_is_refused(aws: Any) -> None:
    with pytest.raises(ClientError) as exc:
        aws.client("stepfunctions").send_task_success(taskToken="t" * 2049, output="{}")
    assert error_code(exc) == "ValidationException"


def test_a_task_result_over_256_kb_is_a_data_limit_failure() -> None:
    assert limits.task_result_error(json.dumps({"v": "x" * 1000})) is None
    failure = limits.task_result_error(json.dumps({"v": "x" * 262_144}))
    assert failure is not None
    assert json.loads(failure)["errorType"] == "States.DataLimitExceeded"


# ---- Lambda and durable executions -----------------------------------------------------------------


def lambda_client() -> Any:
    return boto3.session.Session(region_name="us-east-1").client("lambda")


def test_durable_execution_name_pattern_is_enforced(aws: Any) -> None:
    with pytest.raises(ClientError) as exc:
        lambda_client().invoke(
            FunctionName="arn:aws:lambda:us-east-1:123456789012:function:f:live",
            InvocationType="Event",
            DurableExecutionName="data.csv",
            Payload=b"{}",
        )
    assert error_code(exc) == "ValidationException"


def test_durable_execution_input_over_256_kb_is_too_large(aws: Any) -> None:
    with pytest.raises(ClientError) as exc:
        lambda_client().invoke(
            FunctionName="arn:aws:lambda:us-east-1:123456789012:function:f:live",
            InvocationType="Event",
            DurableExecutionName="job-1",
            Payload=b"x" * (256 * 1024 + 1),
        )
    assert error_code(exc) == "RequestTooLargeException"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413


def test_synchronous_invoke_payload_over_6_mb_is_too_large(aws: Any) -> None:
    with pytest.raises(ClientError) as exc:
        lambda_client().invoke(FunctionName="f", Payload=b"x" * (6 * 1024 * 1024 + 1))
    assert error_code(exc) == "RequestTooLargeException"


def test_callback_id_must_be_base64_as_the_service_issues_it(aws: Any) -> None:
    with pytest.raises(ClientError) as exc:
        lambda_client().send_durable_execution_callback_success(CallbackId="not base64!", Result=b"{}")
    assert error_code(exc) == "ValidationException"


def test_durable_checkpoint_over_256_kb_fails_the_execution() -> None:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> str:
        return context.step(lambda _: "x" * (256 * 1024 + 1), name="too-big")

    @durable_execution
    def small(event: Any, context: DurableContext) -> str:
        return context.step(lambda _: "x" * (256 * 1024 - 16), name="fits")

    for function, expected in ((handler, "FAILED"), (small, "SUCCEEDED")):
        with DurableFunctionTestRunner(handler=function) as runner:
            limits.guard_durable_checkpoints(runner._service_client)
            result = runner.run(input="{}", execution_timeout=30)
            assert result.status.value == expected, result.error


# ---- SNS, SQS, DynamoDB ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "subject",
    ["line\nbreak", "carriage\rreturn", "nul\x00", "s" * 100, " leading space", "sep\u2028arator"],
)
def test_sns_subject_rules(aws: Any, subject: str) -> None:
    with pytest.raises(ClientError) as exc:
        aws.client("sns").publish(TopicArn=aws.resources["topic_arn"], Subject=subject, Message="m")
    assert error_code(exc) == "InvalidParameter"


def test_sns_subject_of_99_characters_is_accepted(aws: Any) -> None:
    aws.client("sns").publish(TopicArn=aws.resources["topic_arn"], Subject="s" * 99, Message="m")


def test_sns_message_over_256_kb_in_bytes_is_refused(aws: Any) -> None:
    with pytest.raises(ClientError) as exc:
        aws.client("sns").publish(TopicArn=aws.resources["topic_arn"], Message="é" * 131_073)
    assert error_code(exc) == "InvalidParameter"


def test_sqs_message_over_the_queue_maximum_is_refused_locally(aws: Any) -> None:
    """etl_local.limits leaves this limit to moto: the local stack must still refuse it."""
    queue = aws.resources["pipelines"]["durable"]["queue_url"]
    with pytest.raises(ClientError) as exc:
        aws.client("sqs").send_message(QueueUrl=queue, MessageBody="x" * (1024 * 1024 + 1))
    assert error_code(exc) == "InvalidParameterValue"


def test_dynamodb_item_over_400_kb_is_refused_locally(aws: Any) -> None:
    """etl_local.limits leaves this limit to moto: the local stack must still refuse it."""
    table = aws.session.resource("dynamodb").Table(aws.resources["jobs_table"])
    with pytest.raises(ClientError) as exc:
        table.put_item(Item={"job_id": "big", "blob": "x" * 410_000})
    assert error_code(exc) == "ValidationException"
    table.put_item(Item={"job_id": "grows", "blob": "x" * 300_000})
    with pytest.raises(ClientError) as exc:
        table.update_item(
            Key={"job_id": "grows"},
            UpdateExpression="SET more = :m",
            ExpressionAttributeValues={":m": "y" * 200_000},
        )
    assert error_code(exc) == "ValidationException"
