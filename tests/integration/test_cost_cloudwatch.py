"""The cost model's deployment path: units read from CloudWatch metrics (fed through moto)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from etl_ops.cost import DURABLE_OPERATIONS_PER_WORKFLOW, STATE_TRANSITIONS_PER_WORKFLOW
from etl_ops.cost_cloudwatch import Deployment, units_from_cloudwatch

SM_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:csv-etl-sfn"


def put(cw: Any, namespace: str, metric: str, dims: dict[str, str], value: float, at: datetime) -> None:
    cw.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                "Timestamp": at,
                "Value": value,
            }
        ],
    )


def jobs(aws: Any, workflow: str, count: int, error_code: str | None = None) -> None:
    """`count` job records of `workflow`, created now, as the starters create them."""
    from etl_aws.jobs import JobsRepository
    from etl_aws.models import JobStatus, ObjectRef

    repo = JobsRepository(aws.resources["jobs_table"])
    for n in range(count):
        job_id = f"{workflow}-{error_code or 'ok'}-{n}"
        repo.create(job_id, workflow, ObjectRef(bucket="raw", key=f"uploads/{job_id}.csv"), 90)
        if error_code:
            repo.transition(job_id, [JobStatus.RECEIVED], JobStatus.FAILED, {"error": {"code": error_code}})


def window() -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return now - timedelta(hours=3), now + timedelta(minutes=1)


def deployment(aws: Any | None = None) -> Deployment:
    buckets = {}
    if aws is not None:
        buckets = {w: (aws.raw_bucket(w), aws.output_bucket(w)) for w in ("durable", "sfn")}
    return Deployment(
        functions={
            "durable-orchestrator": ("durable", ORCHESTRATOR, 1024),
            "sfn-transform": ("sfn", "csv-etl-sfn-transform", 1024),
            "approval-api": ("shared", "csv-etl-approval-api", 256),
        },
        state_machine_arn=SM_ARN,
        api_name="csv-etl-approval",
        topic_name="csv-etl-approvals",
        queues={"sfn": "csv-etl-sfn-events"},
        jobs_table=aws.resources["jobs_table"] if aws is not None else None,
        buckets=buckets,
    )


ORCHESTRATOR = "csv-etl-durable-orchestrator"


def test_workflows_are_counted_from_the_jobs_table_not_from_invocations(aws: Any) -> None:
    cw, at = aws.client("cloudwatch"), datetime.now(UTC) - timedelta(hours=1)
    jobs(aws, "durable", 4)
    jobs(aws, "durable", 1, error_code="unsupported_file_type")  # no execution was started for it
    jobs(aws, "sfn", 2)
    # A durable execution is invoked again after its wait and after each retry: 20 invocations, 4 workflows.
    put(cw, "AWS/Lambda", "Invocations", {"FunctionName": ORCHESTRATOR}, 20, at)
    put(cw, "AWS/Lambda", "Duration", {"FunctionName": ORCHESTRATOR}, 800, at)
    put(cw, "AWS/Lambda", "Invocations", {"FunctionName": "csv-etl-sfn-transform"}, 2, at)
    put(cw, "AWS/Lambda", "Invocations", {"FunctionName": "csv-etl-approval-api"}, 12, at)
    put(cw, "AWS/ApiGateway", "Count", {"ApiName": "csv-etl-approval"}, 12, at)
    put(cw, "AWS/SNS", "NumberOfMessagesPublished", {"TopicName": "csv-etl-approvals"}, 6, at)
    put(cw, "AWS/SQS", "NumberOfMessagesSent", {"QueueName": "csv-etl-sfn-events"}, 2, at)

    durable, sfn, workflows = units_from_cloudwatch(cw, deployment(aws), *window(), aws.client("dynamodb"))

    assert workflows == {"durable": 4, "sfn": 2}
    assert durable.functions["durable-orchestrator"].invocations == pytest.approx(5)
    assert durable.functions["durable-orchestrator"].duration_ms == pytest.approx(800)
    assert sfn.functions["sfn-transform"].invocations == pytest.approx(1)
    assert durable.functions["approval-api"].invocations == pytest.approx(2)  # 12 calls / 6 workflows
    assert durable.api_requests == pytest.approx(2)
    assert sfn.sns_publishes == pytest.approx(1)
    assert sfn.sqs_requests == pytest.approx(1)
    # No metric counts a state machine's transitions: the code's count, held to a real execution by
    # test_sfn_orchestrator.py, applies to each workflow.
    assert sfn.state_transitions == STATE_TRANSITIONS_PER_WORKFLOW
    assert durable.state_transitions == 0
    assert durable.durations_source == "CloudWatch average"
    assert "workflows counted from the jobs table" in durable.notes


def test_without_the_jobs_table_workflows_are_the_orchestrators_start_counts(aws: Any) -> None:
    cw, at = aws.client("cloudwatch"), datetime.now(UTC) - timedelta(hours=1)
    put(cw, "AWS/Lambda", "Invocations", {"FunctionName": ORCHESTRATOR}, 21, at)
    put(cw, "AWS/Lambda", "DurableExecutionStarted", {"FunctionName": ORCHESTRATOR}, 7, at)
    put(cw, "AWS/States", "ExecutionsStarted", {"StateMachineArn": SM_ARN}, 3, at)

    durable, _, workflows = units_from_cloudwatch(cw, deployment(), *window())

    assert workflows == {"durable": 7, "sfn": 3}
    assert durable.functions["durable-orchestrator"].invocations == pytest.approx(3)


def test_durable_operations_and_data_written_come_from_the_durable_execution_metrics(aws: Any) -> None:
    cw, at = aws.client("cloudwatch"), datetime.now(UTC) - timedelta(hours=1)
    jobs(aws, "durable", 3)
    # One sample per execution: two approved (6 operations), one that failed and ran its fail step (9).
    for operations, written in ((6, 1000), (6, 2000), (9, 3000)):
        put(cw, "AWS/Lambda", "DurableExecutionOperations", {"FunctionName": ORCHESTRATOR}, operations, at)
        put(
            cw,
            "AWS/Lambda",
            "DurableExecutionStorageWrittenBytes",
            {"FunctionName": ORCHESTRATOR},
            written,
            at,
        )

    durable, _, _ = units_from_cloudwatch(cw, deployment(aws), *window(), aws.client("dynamodb"))

    assert durable.durable_operations == pytest.approx(7)
    assert durable.durable_bytes_written == pytest.approx(2000)
    assert not any("estimated" in note for note in durable.notes if "durable operations" in note)


def test_durable_operations_without_metrics_are_the_code_estimate_and_say_so(aws: Any) -> None:
    jobs(aws, "durable", 2)

    durable, _, _ = units_from_cloudwatch(
        aws.client("cloudwatch"), deployment(aws), *window(), aws.client("dynamodb")
    )

    # The code's count, held to a real execution by test_durable_orchestrator.py.
    assert durable.durable_operations == DURABLE_OPERATIONS_PER_WORKFLOW
    estimated = f"durable operations estimated: {DURABLE_OPERATIONS_PER_WORKFLOW}"
    assert any(note.startswith(estimated) for note in durable.notes)


def test_s3_requests_come_from_request_metrics_or_are_labelled_estimated(aws: Any) -> None:
    cw, at = aws.client("cloudwatch"), datetime.now(UTC) - timedelta(hours=1)
    jobs(aws, "durable", 2)
    jobs(aws, "sfn", 2)
    raw, out = aws.raw_bucket("sfn"), aws.output_bucket("sfn")
    for bucket, metric, value in (
        (raw, "GetRequests", 4), (raw, "HeadRequests", 2), (raw, "PutRequests", 2),
        (out, "PutRequests", 8), (out, "HeadRequests", 8), (out, "GetRequests", 2),
    ):  # fmt: skip
        put(cw, "AWS/S3", metric, {"BucketName": bucket, "FilterId": "EntireBucket"}, value, at)

    durable, sfn, _ = units_from_cloudwatch(cw, deployment(aws), *window(), aws.client("dynamodb"))

    assert (sfn.s3_put_requests, sfn.s3_get_requests) == (pytest.approx(5), pytest.approx(8))
    assert any("request metrics" in note for note in sfn.notes)
    assert (durable.s3_put_requests, durable.s3_get_requests) == (7, 8)
    assert any(note.startswith("S3 requests estimated") for note in durable.notes)
