"""Fault injection (etl_local.faults): each kind of failure behaves as it does against AWS."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from etl_local.calls import RECORDER
from etl_local.faults import INJECTOR, Fault, Rule, attempts
from etl_local.metering import attributed_to


@pytest.fixture
def s3(aws: Any, no_backoff: list[float]) -> Iterator[Any]:
    yield aws.client("s3")
    INJECTOR.clear()


def keys(s3: Any, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_one_transient_error_is_absorbed_by_the_client_retry(aws: Any, s3: Any) -> None:
    bucket = aws.raw_bucket("durable")
    with INJECTOR.injecting(Rule("s3", "PutObject", Fault.TRANSIENT)) as (rule,):
        s3.put_object(Bucket=bucket, Key="a", Body=b"x")
    assert rule.fired == 1
    assert keys(s3, bucket) == ["a"]


@pytest.mark.parametrize(
    ("service", "fault", "code"),
    [("s3", Fault.TRANSIENT, "InternalError"), ("s3", Fault.THROTTLE, "SlowDown")],
)
def test_faults_on_every_attempt_reach_the_caller_and_nothing_happens(
    aws: Any, s3: Any, service: str, fault: Fault, code: str
) -> None:
    bucket = aws.raw_bucket("durable")
    with (
        INJECTOR.injecting(Rule(service, "PutObject", fault, times=attempts())),
        pytest.raises(ClientError) as exc,
    ):
        s3.put_object(Bucket=bucket, Key="a", Body=b"x")
    assert exc.value.response["Error"]["Code"] == code
    assert keys(s3, bucket) == []


def test_dynamodb_throttle_is_its_own_error(aws: Any, no_backoff: list[float]) -> None:
    table = aws.session.resource("dynamodb").Table(aws.resources["jobs_table"])
    rule = Rule("dynamodb", "PutItem", Fault.THROTTLE, times=attempts())
    with INJECTOR.injecting(rule), pytest.raises(ClientError) as exc:
        table.put_item(Item={"job_id": "j"})
    assert exc.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert "Item" not in table.get_item(Key={"job_id": "j"})


def test_lost_response_takes_effect_and_the_retry_arrives_twice(aws: Any, no_backoff: list[float]) -> None:
    """The case that breaks non-idempotent code: the first write happened, its retry is refused."""
    table = aws.session.resource("dynamodb").Table(aws.resources["jobs_table"])
    rule = Rule("dynamodb", "PutItem", Fault.LOST_RESPONSE)
    with INJECTOR.injecting(rule), pytest.raises(ClientError) as exc:
        table.put_item(Item={"job_id": "once"}, ConditionExpression="attribute_not_exists(job_id)")
    assert exc.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert table.get_item(Key={"job_id": "once"})["Item"] == {"job_id": "once"}


def test_lost_responses_on_every_attempt_surface_as_a_read_timeout(aws: Any, s3: Any) -> None:
    bucket = aws.raw_bucket("durable")
    rule = Rule("s3", "PutObject", Fault.LOST_RESPONSE, times=attempts())
    with INJECTOR.injecting(rule), pytest.raises(ReadTimeoutError):
        s3.put_object(Bucket=bucket, Key="a", Body=b"x")
    assert keys(s3, bucket) == ["a"]  # it took effect all the same


def test_rules_can_target_one_function_and_skip_calls(aws: Any, s3: Any) -> None:
    bucket = aws.raw_bucket("durable")
    rule = Rule("s3", "PutObject", Fault.TRANSIENT, skip=1, times=attempts(), function="sfn-load")
    with INJECTOR.injecting(rule):
        s3.put_object(Bucket=bucket, Key="other-caller", Body=b"x")  # not the targeted function
        with attributed_to("sfn-load"):
            s3.put_object(Bucket=bucket, Key="first", Body=b"x")  # skipped
            with pytest.raises(ClientError):
                s3.put_object(Bucket=bucket, Key="second", Body=b"x")
    assert sorted(keys(s3, bucket)) == ["first", "other-caller"]


def test_recording_lists_each_request_of_a_function_with_its_caller(aws: Any, s3: Any) -> None:
    bucket = aws.raw_bucket("durable")
    with RECORDER.recording() as calls:
        s3.put_object(Bucket=bucket, Key="test-set-up", Body=b"x")  # not a function's: not recorded
        with attributed_to("sfn-extract"):
            s3.head_bucket(Bucket=bucket)
            s3.put_object(Bucket=bucket, Key="a", Body=b"x")
    assert [(c.function, c.service_id, c.operation) for c in calls] == [
        ("sfn-extract", "s3", "HeadBucket"),
        ("sfn-extract", "s3", "PutObject"),
    ]


def test_lost_response_over_http_against_a_moto_server(no_backoff: list[float]) -> None:
    """Against a server (the local runtime's case) the request is sent, answered, and the answer dropped."""
    from moto.server import ThreadedMotoServer

    from etl_local.runtime import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        session = boto3.session.Session(
            aws_access_key_id="k", aws_secret_access_key="s", region_name="us-east-1"
        )
        sqs = session.client("sqs", endpoint_url=f"http://127.0.0.1:{port}")
        url = sqs.create_queue(QueueName="lost")["QueueUrl"]
        with INJECTOR.injecting(Rule("sqs", "SendMessage", Fault.LOST_RESPONSE)) as (rule,):
            sqs.send_message(QueueUrl=url, MessageBody="hello")
        assert rule.fired == 1
        count = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        assert count["Attributes"]["ApproximateNumberOfMessages"] == "2"  # at-least-once: delivered twice
    finally:
        INJECTOR.clear()
        server.stop()
