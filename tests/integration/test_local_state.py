"""The local runtime's state across a restart: moto's services saved by the process that serves them,
and deadlines on the shared clock."""

from __future__ import annotations

import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import boto3
import pytest

from etl_aws import clock
from etl_local.deadlines import Deadlines
from etl_local.moto_server import HOST, MotoProcess, free_port

HOUR = 3600.0


def test_a_deadline_fires_when_the_clock_is_moved_past_it() -> None:
    deadlines = Deadlines()
    fired = threading.Event()
    try:
        deadlines.at(clock.now() + timedelta(seconds=HOUR), fired.set)
        assert not fired.wait(0.3)

        with clock.shifted(HOUR + 1):
            assert fired.wait(5)
    finally:
        deadlines.close()


def test_a_deadline_already_past_fires_at_once_and_a_cancelled_one_never() -> None:
    deadlines = Deadlines()
    past, cancelled = threading.Event(), threading.Event()
    try:
        deadlines.at(clock.now() - timedelta(seconds=HOUR), past.set)
        deadlines.at(clock.now() + timedelta(seconds=1), cancelled.set).cancel()

        assert past.wait(5)
        with clock.shifted(HOUR):
            assert not cancelled.wait(0.5)
    finally:
        deadlines.close()


Started = tuple[MotoProcess, boto3.session.Session, str]
StartMoto = Callable[[], Started]


@pytest.fixture
def moto_in(tmp_path: Path) -> Iterator[StartMoto]:
    """Starts a moto process on one state directory: (process, session, endpoint URL)."""
    started: list[MotoProcess] = []

    def start() -> Started:
        process = MotoProcess(free_port(), "http://127.0.0.1:9", tmp_path / "moto.log", tmp_path / "state")
        process.start()
        started.append(process)
        return process, boto3.session.Session(region_name="us-east-1"), f"http://{HOST}:{process.port}"

    yield start
    for process in started:
        process.stop()


def test_objects_items_and_messages_in_flight_survive_a_stop_and_start(
    moto_in: StartMoto,
) -> None:
    process, session, url = moto_in()
    s3, sqs, ddb = (session.client(s, endpoint_url=url) for s in ("s3", "sqs", "dynamodb"))
    s3.create_bucket(Bucket="kept-bucket")
    s3.put_object(Bucket="kept-bucket", Key="uploads/a.csv", Body=b"id,name\n1,a\n")
    queue = sqs.create_queue(QueueName="kept", Attributes={"VisibilityTimeout": "600"})["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody="in flight")
    assert sqs.receive_message(QueueUrl=queue)["Messages"]  # received, never deleted
    ddb.create_table(
        TableName="kept",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(TableName="kept", Item={"k": {"S": "job-1"}})
    process.stop()

    _, session, url = moto_in()
    s3, sqs, ddb = (session.client(s, endpoint_url=url) for s in ("s3", "sqs", "dynamodb"))

    assert s3.get_object(Bucket="kept-bucket", Key="uploads/a.csv")["Body"].read() == b"id,name\n1,a\n"
    queue = sqs.get_queue_url(QueueName="kept")["QueueUrl"]
    redelivered = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages", [])
    assert [m["Body"] for m in redelivered] == ["in flight"]  # at once, not after 600 s
    assert ddb.get_item(TableName="kept", Key={"k": {"S": "job-1"}})["Item"]["k"]["S"] == "job-1"


def test_under_a_runtime_ctrl_c_is_left_to_the_runtime_and_sigterm_saves(
    moto_in: StartMoto,
) -> None:
    process, session, url = moto_in()
    session.client("s3", endpoint_url=url).create_bucket(Bucket="saved-on-sigterm")
    child = process._process
    assert child is not None

    child.send_signal(signal.SIGINT)
    with pytest.raises(subprocess.TimeoutExpired):
        child.wait(1)  # still serving: the runtime stops it once its handlers are done
    child.send_signal(signal.SIGTERM)
    assert child.wait(30) == 0

    _, session, url = moto_in()
    buckets = session.client("s3", endpoint_url=url).list_buckets()["Buckets"]
    assert [b["Name"] for b in buckets] == ["saved-on-sigterm"]
