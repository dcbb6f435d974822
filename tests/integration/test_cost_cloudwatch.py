"""The cost model's deployment path: units read from CloudWatch metrics (fed through moto)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from etl_ops.cost import Deployment, units_from_cloudwatch

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


def test_units_per_workflow_come_from_lambda_states_and_shared_metrics(aws: Any) -> None:
    cw = aws.client("cloudwatch")
    at = datetime.now(UTC) - timedelta(hours=1)
    # 100 durable workflows (two orchestrator invocations each) and 50 Step Functions workflows.
    put(cw, "AWS/Lambda", "Invocations", {"FunctionName": "csv-etl-durable-orchestrator"}, 200, at)
    put(cw, "AWS/Lambda", "Duration", {"FunctionName": "csv-etl-durable-orchestrator"}, 800, at)
    put(cw, "AWS/Lambda", "Invocations", {"FunctionName": "csv-etl-sfn-transform"}, 50, at)
    put(cw, "AWS/Lambda", "Duration", {"FunctionName": "csv-etl-sfn-transform"}, 600, at)
    put(cw, "AWS/Lambda", "Invocations", {"FunctionName": "csv-etl-approval-api"}, 300, at)
    put(cw, "AWS/Lambda", "Duration", {"FunctionName": "csv-etl-approval-api"}, 20, at)
    put(cw, "AWS/States", "ExecutionsStarted", {"StateMachineArn": SM_ARN}, 50, at)
    put(cw, "AWS/ApiGateway", "Count", {"ApiName": "csv-etl-approval"}, 300, at)
    put(cw, "AWS/SNS", "NumberOfMessagesPublished", {"TopicName": "csv-etl-approvals"}, 150, at)
    put(cw, "AWS/SQS", "NumberOfMessagesSent", {"QueueName": "csv-etl-sfn-events"}, 50, at)
    deployment = Deployment(
        functions={
            "durable-orchestrator": ("durable", "csv-etl-durable-orchestrator", 1024),
            "sfn-transform": ("sfn", "csv-etl-sfn-transform", 1024),
            "approval-api": ("shared", "csv-etl-approval-api", 256),
        },
        state_machine_arn=SM_ARN,
        api_name="csv-etl-approval",
        topic_name="csv-etl-approvals",
        queues={"sfn": "csv-etl-sfn-events"},
    )

    durable, sfn, workflows = units_from_cloudwatch(
        cw, deployment, datetime.now(UTC) - timedelta(hours=3), datetime.now(UTC)
    )

    assert workflows == {"durable": 100, "sfn": 50}
    assert durable.functions["durable-orchestrator"].invocations == pytest.approx(2)
    assert durable.functions["durable-orchestrator"].duration_ms == pytest.approx(800)
    assert sfn.functions["sfn-transform"].invocations == pytest.approx(1)
    assert durable.functions["approval-api"].invocations == pytest.approx(2)  # 300 calls / 150 workflows
    assert durable.durable_operations == 6
    assert sfn.state_transitions == 6
    assert durable.api_requests == pytest.approx(2)
    assert sfn.sns_publishes == pytest.approx(1)
    assert sfn.sqs_requests == pytest.approx(1)
    assert durable.durations_source == "CloudWatch average"
