"""Units per workflow read from a deployment: CloudWatch metrics and the jobs table (`etl cost
--from-cloudwatch`). Where a metric has no datapoints, the per-workflow counts derived from the code
(`etl_ops.cost`) are priced instead and the result says it is an estimate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from etl_aws.contract import DEFAULT_MEMORY_MB
from etl_ops.cost import (
    DURABLE_OPERATIONS_PER_WORKFLOW,
    S3_GET_CLASS_PER_WORKFLOW,
    S3_PUT_CLASS_PER_WORKFLOW,
    STATE_TRANSITIONS_PER_WORKFLOW,
    FunctionUsage,
    WorkflowUnits,
)


def metric_stats(
    cloudwatch: Any,
    namespace: str,
    metric: str,
    dimensions: Iterable[tuple[str, str]],
    start: Any,
    end: Any,
) -> tuple[float, float]:
    """(Sum, SampleCount) of one CloudWatch metric over the whole window, from hourly datapoints."""
    response = cloudwatch.get_metric_statistics(
        Namespace=namespace,
        MetricName=metric,
        Dimensions=[{"Name": n, "Value": v} for n, v in dimensions],
        StartTime=start,
        EndTime=end,
        Period=3600,
        Statistics=["Sum", "SampleCount"],
    )
    points = response.get("Datapoints", [])
    return sum(p["Sum"] for p in points), sum(p["SampleCount"] for p in points)


def sum_metric(
    cloudwatch: Any,
    namespace: str,
    metric: str,
    dimensions: Iterable[tuple[str, str]],
    start: Any,
    end: Any,
    statistic: str = "Sum",
) -> float:
    """One CloudWatch statistic over the whole window: the Sum, or the Average over every sample."""
    total, samples = metric_stats(cloudwatch, namespace, metric, dimensions, start, end)
    if statistic == "Sum":
        return total
    return total / samples if samples else 0.0


# S3 request metrics are published only for buckets with a request-metrics configuration, under its
# FilterId; `EntireBucket` is the console's name for the whole-bucket filter.
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/metrics-dimensions.html
S3_FILTER_ID = "EntireBucket"
S3_PUT_CLASS_METRICS = ("PutRequests", "PostRequests", "ListRequests")
S3_GET_CLASS_METRICS = ("GetRequests", "HeadRequests")
# Lambda publishes per-execution durable metrics in AWS/Lambda by FunctionName: DurableExecutionStarted,
# DurableExecutionOperations (the operations one execution performed), DurableExecutionStorageWrittenBytes
# (the data it wrote). https://docs.aws.amazon.com/lambda/latest/dg/durable-monitoring.html
DURABLE_STARTED = "DurableExecutionStarted"
DURABLE_OPERATIONS = "DurableExecutionOperations"
DURABLE_WRITTEN = "DurableExecutionStorageWrittenBytes"


@dataclass(frozen=True)
class Deployment:
    """Names of a deployment's resources (from `terraform output`), to read its metrics."""

    functions: dict[str, tuple[str, str, int]]  # key → (workflow or "shared", function name, memory MB)
    state_machine_arn: str | None = None
    api_name: str | None = None
    topic_name: str | None = None
    queues: dict[str, str] | None = None  # workflow → queue name
    jobs_table: str | None = None
    buckets: dict[str, tuple[str, ...]] | None = None  # workflow → its raw and output buckets


def workflows_from_jobs(dynamodb: Any, table: str, start: Any, end: Any) -> dict[str, float]:
    """Jobs created in [start, end) by workflow, from the jobs table: every workflow that was started,
    whatever its ending. A non-CSV upload gets a FAILED record but no execution: not counted."""
    from etl_aws import contract as C
    from etl_aws.clock import iso

    counts = {C.DURABLE: 0.0, C.STEP_FUNCTIONS: 0.0}
    pages = dynamodb.get_paginator("scan").paginate(
        TableName=table,
        ProjectionExpression="workflow, #error.code",
        FilterExpression="created_at >= :start AND created_at < :end",
        ExpressionAttributeNames={"#error": "error"},
        ExpressionAttributeValues={":start": {"S": iso(start)}, ":end": {"S": iso(end)}},
    )
    for page in pages:
        for item in page.get("Items", []):
            code = item.get("error", {}).get("M", {}).get("code", {}).get("S")
            workflow = item.get("workflow", {}).get("S")
            if workflow in counts and code != C.UNSUPPORTED_FILE_TYPE:
                counts[workflow] += 1
    return counts


def units_from_cloudwatch(
    cloudwatch: Any,
    deployment: Deployment,
    start: Any,
    end: Any,
    dynamodb: Any | None = None,
) -> tuple[WorkflowUnits, WorkflowUnits, dict[str, float]]:
    """Per-workflow units of both orchestrators over [start, end) from AWS/Lambda, AWS/States,
    AWS/ApiGateway, AWS/SNS, AWS/SQS, AWS/DynamoDB and AWS/S3 metrics. Shared resources (API, topic,
    table, approval function) are split in proportion to each orchestrator's workflows.

    Workflows are counted from the jobs table when `dynamodb` can read it, else from the orchestrators'
    own start counts (ExecutionsStarted, DurableExecutionStarted), never from invocations: a durable
    execution is invoked again after every wait and every retry. What could not be measured is estimated
    from the code and said so in each result's `notes`."""

    def metric(namespace: str, name: str, dims: list[tuple[str, str]], stat: str = "Sum") -> float:
        return sum_metric(cloudwatch, namespace, name, dims, start, end, stat)

    usage: dict[str, dict[str, tuple[float, float, int]]] = {"durable": {}, "sfn": {}, "shared": {}}
    for key, (workflow, name, memory) in deployment.functions.items():
        invocations = metric("AWS/Lambda", "Invocations", [("FunctionName", name)])
        duration = metric("AWS/Lambda", "Duration", [("FunctionName", name)], "Average")
        usage[workflow][key] = (invocations, duration, memory)

    orchestrator = deployment.functions.get("durable-orchestrator", ("durable", "", 0))[1]
    workflows, counted_from = _workflows(metric, deployment, orchestrator, dynamodb, start, end)
    all_workflows = sum(workflows.values())

    def shared(namespace: str, name: str, dims: list[tuple[str, str]]) -> float:
        return metric(namespace, name, dims) / all_workflows if all_workflows else 0.0

    api = (
        shared("AWS/ApiGateway", "Count", [("ApiName", deployment.api_name)]) if deployment.api_name else 0.0
    )
    sns = (
        shared("AWS/SNS", "NumberOfMessagesPublished", [("TopicName", deployment.topic_name)])
        if deployment.topic_name
        else 0.0
    )
    emails = (
        shared("AWS/SNS", "NumberOfNotificationsDelivered", [("TopicName", deployment.topic_name)])
        if deployment.topic_name
        else 0.0
    )
    table = [("TableName", deployment.jobs_table)] if deployment.jobs_table else None
    writes = shared("AWS/DynamoDB", "ConsumedWriteCapacityUnits", table) if table else 0.0
    reads = shared("AWS/DynamoDB", "ConsumedReadCapacityUnits", table) if table else 0.0

    def build(workflow: str) -> WorkflowUnits:
        count = workflows[workflow]
        functions = {}
        for key, (invocations, duration, memory) in [*usage[workflow].items(), *usage["shared"].items()]:
            share = count if key in usage[workflow] else all_workflows
            if share:
                functions[key] = FunctionUsage(
                    invocations=invocations / share, duration_ms=duration, memory_mb=memory
                )
        queue = (deployment.queues or {}).get(workflow)
        sqs = 0.0
        if queue and count:
            for name in ("NumberOfMessagesSent", "NumberOfMessagesReceived", "NumberOfMessagesDeleted"):
                sqs += metric("AWS/SQS", name, [("QueueName", queue)]) / count
        notes = [f"workflows counted from {counted_from}"]
        s3_put, s3_get = _s3_requests(cloudwatch, deployment, workflow, count, start, end, notes)
        units = WorkflowUnits(
            workflow=workflow,
            functions=functions,
            state_transitions=STATE_TRANSITIONS_PER_WORKFLOW if workflow == "sfn" and count else 0,
            api_requests=api,
            sns_publishes=sns,
            sns_emails=emails,
            sqs_requests=sqs,
            dynamodb_write_units=writes,
            dynamodb_read_units=reads,
            s3_put_requests=s3_put,
            s3_get_requests=s3_get,
            durations_source="CloudWatch average",
            notes=notes,
        )
        if workflow == "durable" and count:
            units = _durable_operations(cloudwatch, units, orchestrator, start, end)
        return units

    return build("durable"), build("sfn"), workflows


def _workflows(
    metric: Any, deployment: Deployment, orchestrator: str, dynamodb: Any | None, start: Any, end: Any
) -> tuple[dict[str, float], str]:
    """Workflows per orchestrator in the window, and where the counts came from."""
    if dynamodb is not None and deployment.jobs_table:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return workflows_from_jobs(dynamodb, deployment.jobs_table, start, end), "the jobs table"
        except (BotoCoreError, ClientError):
            pass  # no read access to the table: the orchestrators' own counts below
    sfn = deployment.state_machine_arn
    return {
        "durable": metric("AWS/Lambda", DURABLE_STARTED, [("FunctionName", orchestrator)])
        if orchestrator
        else 0.0,
        "sfn": metric("AWS/States", "ExecutionsStarted", [("StateMachineArn", sfn)]) if sfn else 0.0,
    }, f"CloudWatch ({DURABLE_STARTED}, ExecutionsStarted)"


def _durable_operations(
    cloudwatch: Any, units: WorkflowUnits, orchestrator: str, start: Any, end: Any
) -> WorkflowUnits:
    """Durable operations and data written per execution from Lambda's durable metrics (each sample is
    one execution's total); the code-derived figure, labelled an estimate, where there are none."""
    dims = [("FunctionName", orchestrator)]
    operations, executions = metric_stats(cloudwatch, "AWS/Lambda", DURABLE_OPERATIONS, dims, start, end)
    written, reporting = metric_stats(cloudwatch, "AWS/Lambda", DURABLE_WRITTEN, dims, start, end)
    notes = list(units.notes)
    if executions:
        per_workflow = operations / executions
        notes.append(f"durable operations: {per_workflow:.2f} per execution ({DURABLE_OPERATIONS})")
    else:
        per_workflow = DURABLE_OPERATIONS_PER_WORKFLOW
        notes.append(
            f"durable operations estimated: {DURABLE_OPERATIONS_PER_WORKFLOW} per approved workflow "
            f"(from the code; no {DURABLE_OPERATIONS} datapoints)"
        )
    bytes_written = written / reporting if reporting else 0.0
    if not reporting:
        notes.append(f"durable data written not measured (no {DURABLE_WRITTEN} datapoints): priced as 0")
    update = {"durable_operations": per_workflow, "durable_bytes_written": bytes_written, "notes": notes}
    return units.model_copy(update=update)


def _s3_requests(
    cloudwatch: Any,
    deployment: Deployment,
    workflow: str,
    count: float,
    start: Any,
    end: Any,
    notes: list[str],
) -> tuple[float, float]:
    """S3 requests per workflow by price class from the pipeline's buckets' request metrics; the
    code-derived counts, noted as an estimate, when the buckets publish none."""
    if not count:
        return 0.0, 0.0
    put = get = samples = 0.0
    for bucket in (deployment.buckets or {}).get(workflow, ()):
        dims = [("BucketName", bucket), ("FilterId", S3_FILTER_ID)]
        for names, is_put in ((S3_PUT_CLASS_METRICS, True), (S3_GET_CLASS_METRICS, False)):
            for name in names:
                total, n = metric_stats(cloudwatch, "AWS/S3", name, dims, start, end)
                samples += n
                put, get = (put + total, get) if is_put else (put, get + total)
    if samples:
        notes.append(f"S3 requests from the buckets' request metrics (FilterId {S3_FILTER_ID})")
        return put / count, get / count
    notes.append(
        f"S3 requests estimated: {S3_PUT_CLASS_PER_WORKFLOW} PUT-class and {S3_GET_CLASS_PER_WORKFLOW} "
        f"GET-class per approved workflow (from the code; the buckets publish no request metrics)"
    )
    return float(S3_PUT_CLASS_PER_WORKFLOW), float(S3_GET_CLASS_PER_WORKFLOW)


def deployment_from_outputs(outputs: dict[str, Any]) -> Deployment:
    """Resource names from `terraform output -json` of terraform/environments/aws."""

    def value(name: str) -> Any:
        entry = outputs.get(name)
        return entry.get("value") if isinstance(entry, dict) else entry

    prefix = str(value("jobs_table_name")).removesuffix("-jobs")
    functions = {}
    for key, arn in (value("function_alias_arns") or {}).items():
        workflow = key.split("-", 1)[0] if key.startswith(("durable-", "sfn-")) else "shared"
        functions[key] = (workflow, arn.split(":")[6], DEFAULT_MEMORY_MB.get(key, 512))
    queues = {w: url.rsplit("/", 1)[-1] for w, url in (value("queue_urls") or {}).items()}
    raw, out = value("raw_bucket_names") or {}, value("output_bucket_names") or {}
    buckets = {w: tuple(b for b in (raw.get(w), out.get(w)) if b) for w in {*raw, *out}}
    topic = value("topic_arn")
    return Deployment(
        functions=functions,
        state_machine_arn=value("state_machine_arn"),
        api_name=f"{prefix}-approval",
        topic_name=topic.rsplit(":", 1)[-1] if topic else None,
        queues=queues,
        jobs_table=value("jobs_table_name"),
        buckets=buckets,
    )
