"""The cost model: counted units per workflow → dollars, both orchestrators side by side.

Units come from a local run (exact counts; durations there are local estimates, labelled as such) or
from a deployment's CloudWatch metrics. Every component of the bill that varies with the number of
workflows is a line: leaving one out is how the seed's comparison went wrong.
"""

from __future__ import annotations

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


# Derived from the code, not measured: the approved path of each orchestrator (tests hold both to it).
DURABLE_OPERATIONS_PER_WORKFLOW = 6
STATE_TRANSITIONS_PER_WORKFLOW = 6
# S3 requests of an approved workflow, by price class (etl_aws.steps): extract HEAD + ranged GET; transform
# GET + 2 PUT (records, rejects); load 2 HEAD + PUT (manifest); finalize 3 HEAD (each staged object still the
# recorded version) and 4 COPY (archive + 3 published files, their sizes known: no HEAD to size them).
# DELETE and DeleteObjects are free. 7 PUT-class, 8 GET-class, as `etl demo` counted them (README, "What it
# costs").
S3_PUT_CLASS_PER_WORKFLOW = 7
S3_GET_CLASS_PER_WORKFLOW = 8
