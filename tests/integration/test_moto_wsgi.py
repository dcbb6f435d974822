"""The local moto server keeps connections open and answers as moto does."""

from __future__ import annotations

import http.client
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config

from etl_local.moto_server import free_port
from etl_local.moto_wsgi import KeptAliveMotoServer


@pytest.fixture
def server() -> Iterator[str]:
    port = free_port()
    running = KeptAliveMotoServer("127.0.0.1", port, threads=4)
    running.start()
    yield f"127.0.0.1:{port}"
    running.stop()


def test_one_connection_serves_many_requests(server: str) -> None:
    connection = http.client.HTTPConnection(server, timeout=10)
    for _ in range(3):
        connection.request("GET", "/moto-api/data.json")
        response = connection.getresponse()
        response.read()
        assert response.status == 200
        assert (response.getheader("Connection") or "").lower() != "close"
    assert connection.sock is not None  # still the first connection: never closed by the server


def test_aws_calls_round_trip(server: str) -> None:
    session = boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    )
    s3 = session.client("s3", endpoint_url=f"http://{server}")
    s3.create_bucket(Bucket="kept")
    s3.put_object(Bucket="kept", Key="a_b/c.csv", Body=b"x" * 70_000, Metadata={"owner_id": "me"})
    got = s3.get_object(Bucket="kept", Key="a_b/c.csv")
    assert got["Body"].read() == b"x" * 70_000
    # as moto's own server (and AWS) keep them: lower case, underscores kept
    assert got["Metadata"] == {"owner_id": "me"}
    s3.copy_object(
        Bucket="kept",
        Key="copy",
        CopySource={"Bucket": "kept", "Key": "a_b/c.csv"},
        Metadata={"Mixed_Case": "1", "plain": "2"},
        MetadataDirective="REPLACE",
    )
    assert s3.head_object(Bucket="kept", Key="copy")["Metadata"] == {"mixed_case": "1", "plain": "2"}
    sqs = session.client("sqs", endpoint_url=f"http://{server}")
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="hello")
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"][0]["Body"] == "hello"


def test_an_empty_put_that_expects_100_continue_is_answered(server: str) -> None:
    session = boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    )
    s3 = session.client(
        "s3", endpoint_url=f"http://{server}", config=Config(read_timeout=10, retries={"max_attempts": 1})
    )
    s3.create_bucket(Bucket="empty")
    s3.put_object(Bucket="empty", Key="nothing", Body=b"")  # botocore sends Expect: 100-continue
    assert s3.get_object(Bucket="empty", Key="nothing")["Body"].read() == b""
    connection = http.client.HTTPConnection(server, timeout=10)
    connection.putrequest("PUT", "/empty/raw")
    connection.putheader("Content-Length", "0")
    connection.putheader("Expect", "100-continue")
    connection.endheaders()
    assert connection.getresponse().status == 200
