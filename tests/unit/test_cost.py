"""The cost model against figures computed by hand (us-east-1 list prices of etl_ops.pricing)."""

from __future__ import annotations

import pytest

from etl_ops.cost import Comparison, FunctionUsage, WorkflowUnits, lines, render, total, units_from_report
from etl_ops.pricing import table

ARM = table("us-east-1", "arm64")
X86 = table("us-east-1", "x86_64")


def per_thousand(units: WorkflowUnits, component: str, prices=ARM) -> float:
    return next(line.usd for line in lines(units, prices) if line.component == component) * 1000


def seed_sfn() -> WorkflowUnits:
    """The seed's own inputs: 7 transitions per workflow, one 1,024 MB Lambda for 2.25 s per document."""
    return WorkflowUnits(
        workflow="sfn",
        functions={"task": FunctionUsage(invocations=1, duration_ms=2250, memory_mb=1024)},
        state_transitions=7,
    )


def test_seed_transitions_cost_0_175_dollars_per_thousand_documents() -> None:
    assert per_thousand(seed_sfn(), "Step Functions state transitions") == pytest.approx(7 * 0.025)


def test_seed_lambda_compute_at_1024_mb_for_2_25_s() -> None:
    # 2.25 s x 1 GB = 2.25 GB-s per document.
    assert per_thousand(seed_sfn(), "Lambda compute (GB-s)", ARM) == pytest.approx(2.25 * 1000 * 0.0000133334)
    assert per_thousand(seed_sfn(), "Lambda compute (GB-s)", X86) == pytest.approx(2.25 * 1000 * 0.0000166667)
    assert per_thousand(seed_sfn(), "Lambda requests") == pytest.approx(0.20 / 1000)


def test_the_durable_operation_charge_the_seed_left_out() -> None:
    durable = WorkflowUnits(workflow="durable", durable_operations=8)  # the seed's 8 operations

    assert per_thousand(durable, "Durable operations") == pytest.approx(8 * 1000 * 8.00 / 1e6)  # $0.064


def test_durable_data_written_and_retained() -> None:
    units = WorkflowUnits(workflow="durable", durable_bytes_written=10 * 1024, durable_retention_days=14)
    gb = 10 * 1024 / 1024**3

    assert per_thousand(units, "Durable data written (GB)") == pytest.approx(1000 * gb * 0.25)
    assert per_thousand(units, "Durable data retained (GB-month)") == pytest.approx(
        1000 * gb * 14 / 30.4375 * 0.15
    )


def test_every_other_component_is_priced() -> None:
    units = WorkflowUnits(
        workflow="sfn",
        api_requests=2,
        sns_publishes=1,
        sns_emails=2,
        sqs_requests=3,
        dynamodb_write_units=9,
        dynamodb_read_units=6,
        s3_put_requests=10,
        s3_get_requests=5,
    )
    expected = (
        2 * 3.50 / 1e6
        + 1 * 0.50 / 1e6
        + 2 * 2.00 / 1e5
        + 3 * 0.40 / 1e6
        + 9 * 0.625 / 1e6
        + 6 * 0.125 / 1e6
        + 10 * 0.005 / 1e3
        + 5 * 0.0004 / 1e3
    )

    assert total(units, ARM) == pytest.approx(expected)


def test_yearly_figures_scale_the_per_thousand_total() -> None:
    comparison = Comparison(WorkflowUnits(workflow="durable", durable_operations=6), seed_sfn(), ARM)
    d, s = comparison.per_thousand()

    assert comparison.per_year(10_000) == pytest.approx((d * 10 * 365, s * 10 * 365))


def test_render_shows_each_component_both_sides_and_the_price_date() -> None:
    comparison = Comparison(WorkflowUnits(workflow="durable", durable_operations=6), seed_sfn(), ARM)

    text = render(comparison)

    assert "as of 2026-12-01" in text
    for component in ("Durable operations", "Step Functions state transitions", "SQS requests", "total"):
        assert component in text
    assert "100,000 workflows/day" in text


def test_duration_override_replaces_local_estimates() -> None:
    units = seed_sfn().with_durations({"*": 100})

    assert units.durations_source == "given"
    assert units.functions["task"].duration_ms == 100


def test_unknown_region_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no prices for eu-west-9/arm64"):
        table("eu-west-9", "arm64")


def test_units_come_from_a_demo_report() -> None:
    report = {
        "units": {"durable": {"workflow": "durable", "durable_operations": 6}, "sfn": {"workflow": "sfn"}}
    }

    durable, sfn = units_from_report(report)

    assert durable.durable_operations == 6
    assert sfn.workflow == "sfn"


def test_etl_cost_prints_the_comparison_from_a_report(tmp_path, capsys) -> None:
    import json

    from etl_ops.cli import main

    report = {
        "units": {
            "durable": {"workflow": "durable", "durable_operations": 6},
            "sfn": {"workflow": "sfn", "state_transitions": 6},
        }
    }
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))

    assert main(["cost", "--report", str(path), "--json"]) == 0

    result = json.loads(capsys.readouterr().out)
    assert result["per_1000_workflows"]["durable"] == pytest.approx(6 * 1000 * 8.00 / 1e6)
    assert result["per_1000_workflows"]["sfn"] == pytest.approx(6 * 0.025)


def test_deployment_names_come_from_terraform_outputs() -> None:
    from etl_ops.cost_cloudwatch import deployment_from_outputs

    outputs = {
        "jobs_table_name": {"value": "acme-jobs"},
        "function_alias_arns": {
            "value": {
                "durable-orchestrator": "arn:aws:lambda:us-east-1:1:function:acme-durable-orchestrator:live",
                "approval-api": "arn:aws:lambda:us-east-1:1:function:acme-approval-api:live",
            }
        },
        "queue_urls": {"value": {"sfn": "https://sqs.us-east-1.amazonaws.com/1/acme-sfn-events"}},
        "topic_arn": {"value": "arn:aws:sns:us-east-1:1:acme-approvals"},
        "state_machine_arn": {"value": "arn:aws:states:us-east-1:1:stateMachine:acme-sfn"},
    }

    d = deployment_from_outputs(outputs)

    assert d.functions["durable-orchestrator"] == ("durable", "acme-durable-orchestrator", 1024)
    assert d.functions["approval-api"][0] == "shared"
    assert d.api_name == "acme-approval"
    assert d.topic_name == "acme-approvals"
    assert d.queues == {"sfn": "acme-sfn-events"}
