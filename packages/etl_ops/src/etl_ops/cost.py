"""The cost model: counted units per workflow → dollars, both orchestrators side by side.

Units come from a local run (exact counts; durations there are local estimates, labelled as such) or
from a deployment's CloudWatch metrics. Every component of the bill that varies with the number of
workflows is a line: leaving one out is how the seed's comparison went wrong.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from etl_aws.contract import DEFAULT_MEMORY_MB  # Terraform's default memory sizes, by function key
from etl_ops.pricing import PRICES_AS_OF, PriceTable

DAYS_PER_MONTH = 30.4375  # 365.25 / 12, as AWS prorates GB-month
DAILY_VOLUMES = (1_000, 10_000, 100_000)


class FunctionUsage(BaseModel):
    """One function's share of a workflow: invocations per workflow, mean billed duration, memory."""

    invocations: float = Field(ge=0)
    duration_ms: float = Field(ge=0)
    memory_mb: int = Field(ge=128, le=10240)

    @property
    def gb_seconds(self) -> float:
        return self.invocations * self.duration_ms / 1000 * self.memory_mb / 1024


class WorkflowUnits(BaseModel):
    """Everything one workflow consumes, on average."""

    workflow: str
    functions: dict[str, FunctionUsage] = Field(default_factory=dict)
    durable_operations: float = 0
    durable_bytes_written: float = 0
    durable_retention_days: float = 14
    state_transitions: float = 0
    api_requests: float = 0
    sns_publishes: float = 0
    sns_emails: float = 0
    sqs_requests: float = 0
    dynamodb_write_units: float = 0
    dynamodb_read_units: float = 0
    s3_put_requests: float = 0
    s3_get_requests: float = 0
    durations_source: str = "local estimate"
    notes: list[str] = Field(default_factory=list)  # where counts came from, and which are estimates

    def with_durations(self, duration_ms: dict[str, float]) -> WorkflowUnits:
        """Replace measured durations (e.g. local estimates) with given ones, per function key or '*'."""
        functions = {
            key: usage.model_copy(
                update={"duration_ms": duration_ms.get(key, duration_ms.get("*", usage.duration_ms))}
            )
            for key, usage in self.functions.items()
        }
        return self.model_copy(update={"functions": functions, "durations_source": "given"})

    def with_memory(self, memory_mb: int) -> WorkflowUnits:
        functions = {k: u.model_copy(update={"memory_mb": memory_mb}) for k, u in self.functions.items()}
        return self.model_copy(update={"functions": functions})


@dataclass(frozen=True)
class Line:
    component: str
    quantity: float  # units per workflow
    unit: str
    usd: float  # per workflow


def lines(units: WorkflowUnits, prices: PriceTable) -> list[Line]:
    """One line per billed component, in dollars per workflow."""
    gb = 1024**3
    retained_gb_months = units.durable_bytes_written / gb * units.durable_retention_days / DAYS_PER_MONTH
    quantities: list[tuple[str, float, Any]] = [
        ("Lambda requests", sum(f.invocations for f in units.functions.values()), prices.lambda_request),
        (
            "Lambda compute (GB-s)",
            sum(f.gb_seconds for f in units.functions.values()),
            prices.lambda_gb_second,
        ),
        ("Durable operations", units.durable_operations, prices.durable_operation),
        ("Durable data written (GB)", units.durable_bytes_written / gb, prices.durable_data_written_gb),
        ("Durable data retained (GB-month)", retained_gb_months, prices.durable_data_retained_gb_month),
        ("Step Functions state transitions", units.state_transitions, prices.state_transition),
        ("API Gateway requests", units.api_requests, prices.api_request),
        ("SNS publishes", units.sns_publishes, prices.sns_publish),
        ("SNS e-mail deliveries", units.sns_emails, prices.sns_email),
        ("SQS requests", units.sqs_requests, prices.sqs_request),
        ("DynamoDB write units", units.dynamodb_write_units, prices.dynamodb_write_unit),
        ("DynamoDB read units", units.dynamodb_read_units, prices.dynamodb_read_unit),
        ("S3 PUT/COPY/POST/LIST", units.s3_put_requests, prices.s3_put_class),
        ("S3 GET/HEAD", units.s3_get_requests, prices.s3_get_class),
    ]
    return [Line(name, qty, price.unit, qty * price.each) for name, qty, price in quantities]


def total(units: WorkflowUnits, prices: PriceTable) -> float:
    return sum(line.usd for line in lines(units, prices))


@dataclass(frozen=True)
class Comparison:
    durable: WorkflowUnits
    sfn: WorkflowUnits
    prices: PriceTable

    def rows(self) -> list[tuple[str, float, float]]:
        """(component, durable $ per 1,000 workflows, Step Functions $ per 1,000 workflows)."""
        d = lines(self.durable, self.prices)
        s = lines(self.sfn, self.prices)
        return [(a.component, a.usd * 1000, b.usd * 1000) for a, b in zip(d, s, strict=True)]

    def per_thousand(self) -> tuple[float, float]:
        return total(self.durable, self.prices) * 1000, total(self.sfn, self.prices) * 1000

    def per_year(self, per_day: int) -> tuple[float, float]:
        d, s = self.per_thousand()
        return d * per_day / 1000 * 365, s * per_day / 1000 * 365

    def to_dict(self) -> dict[str, Any]:
        d, s = self.per_thousand()
        return {
            "prices_as_of": PRICES_AS_OF,
            "region": self.prices.region,
            "arch": self.prices.arch,
            "durations": {"durable": self.durable.durations_source, "sfn": self.sfn.durations_source},
            "notes": {"durable": self.durable.notes, "sfn": self.sfn.notes},
            "per_1000_workflows": {"durable": d, "sfn": s, "difference": s - d},
            "components": [{"component": c, "durable": a, "sfn": b} for c, a, b in self.rows()],
            "per_year": {
                str(n): dict(zip(("durable", "sfn"), self.per_year(n), strict=True)) for n in DAILY_VOLUMES
            },
        }


def render(comparison: Comparison) -> str:
    """The side-by-side table `etl cost` prints."""
    p = comparison.prices
    out = [
        f"Cost per 1,000 workflows — {p.region}, {p.arch}, on-demand list prices as of {PRICES_AS_OF}, "
        "no free tier",
        f"Durations: durable = {comparison.durable.durations_source}, "
        f"Step Functions = {comparison.sfn.durations_source}",
        *[f"Note ({name}): {note}" for name, u in _named(comparison) for note in u.notes],
        "",
        f"{'component':<34} {'durable':>12} {'Step Functions':>15} {'difference':>12}",
        "-" * 76,
    ]
    for component, a, b in comparison.rows():
        out.append(f"{component:<34} {_usd(a):>12} {_usd(b):>15} {_usd(b - a):>12}")
    d, s = comparison.per_thousand()
    out += ["-" * 76, f"{'total':<34} {_usd(d):>12} {_usd(s):>15} {_usd(s - d):>12}", ""]
    if d and s:
        cheaper, ratio = ("durable", 1 - d / s) if d < s else ("Step Functions", 1 - s / d)
        out.append(f"{cheaper} is {ratio:.0%} cheaper per workflow with these units.")
    out.append("")
    out.append(f"{'per year at':<34} {'durable':>12} {'Step Functions':>15} {'difference':>12}")
    for n in DAILY_VOLUMES:
        yd, ys = comparison.per_year(n)
        out.append(f"{f'{n:,} workflows/day':<34} {_usd(yd, 2):>12} {_usd(ys, 2):>15} {_usd(ys - yd, 2):>12}")
    return "\n".join(out)


def _named(comparison: Comparison) -> list[tuple[str, WorkflowUnits]]:
    return [("durable", comparison.durable), ("Step Functions", comparison.sfn)]


def _usd(value: float, places: int = 4) -> str:
    return f"${value:,.{places}f}" if value >= 0 else f"-${-value:,.{places}f}"


# ---- units from a local run ---------------------------------------------------------------------


def units_from_report(report: dict[str, Any]) -> tuple[WorkflowUnits, WorkflowUnits]:
    """The `units` section of an `etl demo --json` report: one WorkflowUnits per orchestrator."""
    section = report["units"]
    return WorkflowUnits.model_validate(section["durable"]), WorkflowUnits.model_validate(section["sfn"])


# ---- units from a deployment ------------------------------------------------------------------


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


# Derived from the code, not measured: the approved path of each orchestrator (tests hold both to it).
DURABLE_OPERATIONS_PER_WORKFLOW = 6
STATE_TRANSITIONS_PER_WORKFLOW = 6
# S3 requests of an approved workflow, by price class (etl_aws.steps): extract HEAD + ranged GET; transform
# GET + 2 PUT (records, rejects); load 2 HEAD + PUT (manifest); finalize 4 managed copies (archive + 3
# published files), each a HEAD and a COPY. DELETE and DeleteObjects are free. 7 PUT-class, 9 GET-class,
# as `etl demo` counted them (README, "What it costs").
S3_PUT_CLASS_PER_WORKFLOW = 7
S3_GET_CLASS_PER_WORKFLOW = 9
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
