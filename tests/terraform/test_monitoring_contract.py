"""The alarms and the dashboard of terraform/modules/monitoring watch the metrics the code emits: the same
namespace, the same names, the same dimensions (etl_aws.observability, job_metrics, job_ages).

The module is evaluated with tests/terraform/hcl_eval.py, so the alarms and the dashboard body checked
here are the ones Terraform would create, for both pipelines deployed.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from etl_aws import contract as C
from etl_aws import job_ages, job_metrics, observability

from .hcl_eval import Account, Module
from .test_terraform_contract import MODULES, blocks
from .tfkit import TERRAFORM_DIR

MONITORING = MODULES / "monitoring"
TABLE = "etl-jobs"
INPUTS = {
    "name": "etl",
    "jobs_table_name": TABLE,
    "pipelines": {
        p: {"dlq_name": f"etl-{p}-events-dlq", "starter_function_name": f"etl-{p}-starter", "orchestrator": o}
        for p, o in (
            (C.DURABLE, "etl-durable-orchestrator"),
            (C.STEP_FUNCTIONS, "arn:aws:states:us-east-1:123456789012:stateMachine:etl-pipeline"),
        )
    },
    "api_name": "etl-approval",
    "api_stage_name": "v1",
    "jobs_function_name": "etl-approval-api",
    "jobs_function_alias_arn": "arn:aws:lambda:us-east-1:123456789012:function:etl-approval-api:live",
}
EMITTED = set(job_metrics.METRIC_NAMES) | set(job_ages.METRIC_NAMES)


@cache
def module() -> Module:
    return Module(MONITORING, {k: (lambda v=v: v) for k, v in INPUTS.items()}, Account())


def deployed_dimensions(metric: str, workflow: str | None, status: str | None) -> dict[str, str]:
    """The dimensions the code gives `metric`, as a deployed function (default service name) emits it."""
    if metric in job_metrics.METRIC_NAMES:
        assert workflow is not None, f"{metric} is emitted per workflow"
        dims = job_metrics.dimensions(workflow, TABLE)
    else:
        dims = job_ages.dimensions(TABLE, job_ages.JobStatus(status) if status else None)
    return dims | {job_metrics.DIMENSION_SERVICE: observability.DEFAULT_SERVICE}


def alarms() -> list[dict[str, Any]]:
    return [
        {name: alarm.arg(name) for name in ("alarm_name", "namespace", "metric_name", "dimensions")}
        for alarm in module().resources("aws_cloudwatch_metric_alarm")
    ]


def dashboard_metrics() -> list[tuple[str, str, dict[str, str]]]:
    """(namespace, metric name, dimensions) of every metric the dashboard graphs."""
    [dashboard] = module().resources("aws_cloudwatch_dashboard")
    found = []
    for widget in json.loads(dashboard.arg("dashboard_body"))["widgets"]:
        for row in widget["properties"]["metrics"]:
            plain = [item for item in row if not isinstance(item, dict)]
            found.append((plain[0], plain[1], dict(zip(plain[2::2], plain[3::2], strict=True))))
    return found


def test_the_namespace_and_service_are_the_ones_the_functions_emit_with() -> None:
    locals_ = blocks(MONITORING, "locals")

    assert locals_["metrics_namespace"] == observability.DEFAULT_NAMESPACE
    assert locals_["metrics_service"] == observability.DEFAULT_SERVICE


def test_no_function_is_given_another_namespace_or_service_name() -> None:
    for tf in TERRAFORM_DIR.rglob("*.tf"):
        lines = tf.read_text(encoding="utf-8").splitlines()
        code = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
        assert "POWERTOOLS_METRICS_NAMESPACE" not in code, tf
        assert "POWERTOOLS_SERVICE_NAME" not in code, tf


def test_the_modules_metric_names_are_the_ones_the_code_emits() -> None:
    locals_ = blocks(MONITORING, "locals")

    assert set(locals_["job_metrics"].values()) | set(locals_["ending_metrics"]) == set(
        job_metrics.METRIC_NAMES
    )
    assert locals_["ending_metrics"] == list(job_metrics.JOBS_ENDED.values())
    assert set(locals_["age_metrics"].values()) == set(job_ages.METRIC_NAMES)
    assert locals_["processing_statuses"] == [s.value for s in job_ages.PROCESSING]


def test_every_alarm_on_the_projects_metrics_names_an_emitted_metric_and_its_dimensions() -> None:
    ours = [a for a in alarms() if a["namespace"] == observability.DEFAULT_NAMESPACE]

    assert {a["metric_name"] for a in ours} == {
        job_metrics.JOBS_ENDED[job_metrics.JobStatus.FAILED],
        job_metrics.START_FAILURES,
        job_ages.OLDEST_JOB_AGE,
        job_ages.APPROVAL_TIME_LEFT,
    }
    for alarm in ours:
        dims = alarm["dimensions"]
        expected = deployed_dimensions(alarm["metric_name"], dims.get("Workflow"), dims.get("Status"))
        assert dims == expected, alarm["alarm_name"]
    stuck = {a["dimensions"]["Status"] for a in ours if a["metric_name"] == job_ages.OLDEST_JOB_AGE}
    assert stuck == {s.value for s in job_ages.PROCESSING}


def test_every_dashboard_metric_of_the_project_is_emitted_with_those_dimensions() -> None:
    ours = [m for m in dashboard_metrics() if m[0] == observability.DEFAULT_NAMESPACE]

    assert {name for _, name, _ in ours} == EMITTED  # every metric the code emits is on the dashboard
    for _, name, dims in ours:
        assert dims == deployed_dimensions(name, dims.get("Workflow"), dims.get("Status")), name
    for workflow in C.WORKFLOWS:  # both orchestrators side by side, with the same job metrics
        shown = {name for _, name, dims in ours if dims.get("Workflow") == workflow}
        assert shown == set(job_metrics.METRIC_NAMES), workflow


def test_every_dlq_starter_orchestrator_and_the_api_has_its_alarm() -> None:
    watched = {(a["namespace"], a["metric_name"], tuple(sorted(a["dimensions"].items()))) for a in alarms()}
    orchestrators = {p: v["orchestrator"] for p, v in INPUTS["pipelines"].items()}

    for p in C.WORKFLOWS:
        queue = INPUTS["pipelines"][p]["dlq_name"]
        starter = INPUTS["pipelines"][p]["starter_function_name"]
        assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible", (("QueueName", queue),)) in watched
        assert ("AWS/Lambda", "Errors", (("FunctionName", starter),)) in watched
    for metric in ("Errors", "Throttles"):
        assert ("AWS/Lambda", metric, (("FunctionName", orchestrators["durable"]),)) in watched
    for metric in ("ExecutionsFailed", "ExecutionThrottled", "ExecutionsTimedOut"):
        assert ("AWS/States", metric, (("StateMachineArn", orchestrators["sfn"]),)) in watched
    api = (("ApiName", INPUTS["api_name"]), ("Stage", INPUTS["api_stage_name"]))
    assert ("AWS/ApiGateway", "5XXError", api) in watched


def test_moto_accepts_every_alarm_and_the_dashboard_as_the_module_defines_them() -> None:
    """Each alarm and the dashboard, created through the CloudWatch API (botocore checks the
    parameters against the service model) on moto, reads back as defined."""
    import boto3
    from moto import mock_aws

    resources = {
        "alarms": list(module().resources("aws_cloudwatch_metric_alarm")),
        "dashboard": next(module().resources("aws_cloudwatch_dashboard")),
    }
    with mock_aws():
        cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
        topic = boto3.client("sns", region_name="us-east-1").create_topic(Name="etl-alarms")["TopicArn"]
        for alarm in resources["alarms"]:
            cloudwatch.put_metric_alarm(**alarm_request(alarm, topic))
        dashboard = resources["dashboard"]
        answer = cloudwatch.put_dashboard(
            DashboardName=dashboard.arg("dashboard_name"), DashboardBody=dashboard.arg("dashboard_body")
        )
        described = cloudwatch.describe_alarms(AlarmNamePrefix="etl-")["MetricAlarms"]
        body = cloudwatch.get_dashboard(DashboardName="etl")["DashboardBody"]

    assert answer["DashboardValidationMessages"] == []
    assert json.loads(body) == json.loads(dashboard.arg("dashboard_body"))
    assert sorted(a["AlarmName"] for a in described) == sorted(
        a.arg("alarm_name") for a in resources["alarms"]
    )
    for alarm in described:
        assert alarm["AlarmActions"] == alarm["OKActions"] == [topic]
        if alarm["Namespace"] == observability.DEFAULT_NAMESPACE:
            assert alarm["MetricName"] in EMITTED


def alarm_request(alarm: Any, topic: str) -> dict[str, Any]:
    """The PutMetricAlarm request aws_cloudwatch_metric_alarm makes, from the resource's arguments."""
    return {
        "AlarmName": alarm.arg("alarm_name"),
        "AlarmDescription": alarm.arg("alarm_description"),
        "Namespace": alarm.arg("namespace"),
        "MetricName": alarm.arg("metric_name"),
        "Statistic": alarm.arg("statistic"),
        "Dimensions": [{"Name": k, "Value": v} for k, v in alarm.arg("dimensions").items()],
        "Period": int(alarm.arg("period")),
        "EvaluationPeriods": int(alarm.arg("evaluation_periods")),
        "ComparisonOperator": alarm.arg("comparison_operator"),
        "Threshold": float(alarm.arg("threshold")),
        "TreatMissingData": alarm.arg("treat_missing_data"),
        "AlarmActions": [topic],
        "OKActions": [topic],
    }
