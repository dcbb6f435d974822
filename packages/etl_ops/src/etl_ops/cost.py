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


def _usd(value: float, places: int = 4) -> str:
    return f"${value:,.{places}f}" if value >= 0 else f"-${-value:,.{places}f}"


# ---- units from a local run ---------------------------------------------------------------------


def units_from_report(report: dict[str, Any]) -> tuple[WorkflowUnits, WorkflowUnits]:
    """The `units` section of an `etl demo --json` report: one WorkflowUnits per orchestrator."""
    section = report["units"]
    return WorkflowUnits.model_validate(section["durable"]), WorkflowUnits.model_validate(section["sfn"])


# ---- units from a deployment ------------------------------------------------------------------


def sum_metric(
    cloudwatch: Any,
    namespace: str,
    metric: str,
    dimensions: Iterable[tuple[str, str]],
    start: Any,
    end: Any,
    statistic: str = "Sum",
) -> float:
    """One CloudWatch statistic over the whole window (hourly datapoints, added or averaged)."""
    response = cloudwatch.get_metric_statistics(
        Namespace=namespace,
        MetricName=metric,
        Dimensions=[{"Name": n, "Value": v} for n, v in dimensions],
        StartTime=start,
        EndTime=end,
        Period=3600,
        Statistics=[statistic],
    )
    points = [p[statistic] for p in response.get("Datapoints", [])]
    if not points:
        return 0.0
    return sum(points) if statistic == "Sum" else sum(points) / len(points)


# Derived from the code, not measured: the approved path of each orchestrator (tests hold both to it).
DURABLE_OPERATIONS_PER_WORKFLOW = 6
STATE_TRANSITIONS_PER_WORKFLOW = 6
DURABLE_INVOCATIONS_PER_WORKFLOW = 2  # one until the approval callback, one after it


@dataclass(frozen=True)
class Deployment:
    """Names of a deployment's resources (from `terraform output`), to read its metrics."""

    functions: dict[str, tuple[str, str, int]]  # key → (workflow or "shared", function name, memory MB)
    state_machine_arn: str | None = None
    api_name: str | None = None
    topic_name: str | None = None
    queues: dict[str, str] | None = None  # workflow → queue name
    jobs_table: str | None = None


def units_from_cloudwatch(
    cloudwatch: Any, deployment: Deployment, start: Any, end: Any
) -> tuple[WorkflowUnits, WorkflowUnits, dict[str, float]]:
    """Per-workflow units of both orchestrators over [start, end) from AWS/Lambda, AWS/States,
    AWS/ApiGateway, AWS/SNS, AWS/SQS and AWS/DynamoDB metrics. Shared resources (API, topic, table,
    approval function) are split in proportion to each orchestrator's workflows."""

    def metric(namespace: str, name: str, dims: list[tuple[str, str]], stat: str = "Sum") -> float:
        return sum_metric(cloudwatch, namespace, name, dims, start, end, stat)

    usage: dict[str, dict[str, tuple[float, float, int]]] = {"durable": {}, "sfn": {}, "shared": {}}
    for key, (workflow, name, memory) in deployment.functions.items():
        invocations = metric("AWS/Lambda", "Invocations", [("FunctionName", name)])
        duration = metric("AWS/Lambda", "Duration", [("FunctionName", name)], "Average")
        usage[workflow][key] = (invocations, duration, memory)

    sfn_workflows = (
        metric("AWS/States", "ExecutionsStarted", [("StateMachineArn", deployment.state_machine_arn)])
        if deployment.state_machine_arn
        else 0.0
    )
    orchestrator = usage["durable"].get("durable-orchestrator", (0.0, 0.0, 0))
    durable_workflows = orchestrator[0] / DURABLE_INVOCATIONS_PER_WORKFLOW
    workflows = {"durable": durable_workflows, "sfn": sfn_workflows}
    all_workflows = durable_workflows + sfn_workflows

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
        return WorkflowUnits(
            workflow=workflow,
            functions=functions,
            durable_operations=DURABLE_OPERATIONS_PER_WORKFLOW if workflow == "durable" and count else 0,
            state_transitions=STATE_TRANSITIONS_PER_WORKFLOW if workflow == "sfn" and count else 0,
            api_requests=api,
            sns_publishes=sns,
            sns_emails=emails,
            sqs_requests=sqs,
            dynamodb_write_units=writes,
            dynamodb_read_units=reads,
            durations_source="CloudWatch average",
        )

    return build("durable"), build("sfn"), workflows


# Terraform's default memory sizes (terraform/environments/aws/variables.tf), by function key.
DEFAULT_MEMORY_MB = {
    "durable-orchestrator": 1024,
    "durable-starter": 256,
    "sfn-extract": 512,
    "sfn-transform": 1024,
    "sfn-load": 512,
    "sfn-request-approval": 512,
    "sfn-finalize": 512,
    "sfn-starter": 256,
    "approval-api": 512,
}


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
    topic = value("topic_arn")
    return Deployment(
        functions=functions,
        state_machine_arn=value("state_machine_arn"),
        api_name=f"{prefix}-approval",
        topic_name=topic.rsplit(":", 1)[-1] if topic else None,
        queues=queues,
        jobs_table=value("jobs_table_name"),
    )
