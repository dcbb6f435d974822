"""Step Functions' Lambda tasks must not hold the moto server's threads while their functions run.

The local moto process answers from a fixed pool of threads (etl_local.moto_wsgi). moto's Lambda task
sent its Invoke over HTTP to that same server, so each running task held a thread until its function
returned; once more tasks ran than the server had threads, the functions' own S3 requests queued behind
them and the pipelines stalled until a 60 s read timeout (seen at 400 documents per pipeline).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from etl_local import sfn
from etl_local.moto_server import free_port
from etl_local.moto_wsgi import KeptAliveMotoServer

SERVER_THREADS = 2
TASKS = 4  # running at once: twice the server's threads
WAIT = 10.0  # seconds a task waits for the others to be running too


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    port = free_port()
    running = KeptAliveMotoServer("127.0.0.1", port, threads=SERVER_THREADS)
    running.start()
    monkeypatch.setenv("MOTO_PORT", str(port))  # where moto's Step Functions tasks reach moto
    restores = [sfn.enable_execution(), sfn.reuse_task_clients()]
    yield f"http://127.0.0.1:{port}"
    for restore in reversed(restores):
        restore()
    running.stop()


def _client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(read_timeout=WAIT, retries={"max_attempts": 1}),
    )


def test_more_running_tasks_than_server_threads_all_finish(server: str) -> None:
    s3 = _client("s3", server)
    s3.create_bucket(Bucket="task-threads")
    all_running = threading.Barrier(TASKS)

    def invoke(_name: str, event: Any) -> tuple[str, bool]:
        all_running.wait(timeout=WAIT)  # every task's function runs at the same time...
        s3.put_object(Bucket="task-threads", Key=event["key"], Body=b"x")  # ...and calls the server
        return json.dumps({"key": event["key"]}), False

    unroute = sfn.route_lambda_invocations(invoke)
    try:
        role = sfn.create_role(_client("iam", server), "task-threads")
        function = sfn.create_function(_client("lambda", server), role, "task-threads", "sfn-extract", {})
        task = {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": function, "Payload.$": "$"},
            "End": True,
        }
        states = _client("stepfunctions", server)
        machine = states.create_state_machine(
            name="task-threads",
            definition=json.dumps({"StartAt": "Task", "States": {"Task": task}}),
            roleArn=role,
        )["stateMachineArn"]
        executions = [
            states.start_execution(
                stateMachineArn=machine, name=f"run-{i}", input=json.dumps({"key": f"k{i}"})
            )
            for i in range(TASKS)
        ]
        ended = {}
        deadline = time.monotonic() + 6 * WAIT
        while len(ended) < TASKS and time.monotonic() < deadline:
            for started in executions:
                found = states.describe_execution(executionArn=started["executionArn"])
                if found["status"] != "RUNNING":
                    ended[started["executionArn"]] = found["status"]
            time.sleep(0.1)
    finally:
        unroute()

    assert sorted(ended.values()) == ["SUCCEEDED"] * TASKS
    listed = s3.list_objects_v2(Bucket="task-threads")["Contents"]
    assert sorted(o["Key"] for o in listed) == [f"k{i}" for i in range(TASKS)]
