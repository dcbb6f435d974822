"""`etl demo` end to end with small numbers: every planned outcome, parity, counted units."""

from __future__ import annotations

import io
import json
from pathlib import Path

from etl_aws import contract as C
from etl_local.runtime import available_workflows
from etl_ops.cost import units_from_report
from etl_ops.demo import run_demo


def test_demo_reaches_every_planned_outcome_with_parity(tmp_path: Path) -> None:
    """The job left to expire does so because the clock is moved past its hour-long approval timeout
    (etl_aws.clock, followed by the durable engine and moto's Step Functions), not by waiting for it."""
    report_path = tmp_path / "report.json"
    out = io.StringIO()

    code = run_demo(
        count=3,
        rows=40,
        approval_timeout=3600,
        root=tmp_path / "local",
        report_path=report_path,
        out=out,
        advance_clock=True,
    )

    report = json.loads(report_path.read_text())
    assert code == 0, out.getvalue()
    assert report["ok"]
    statuses = {(j["workflow"], j["plan"]): j["status"] for j in report["jobs"]}
    for workflow in available_workflows():
        assert statuses[(workflow, "approve")] == "COMPLETED"
        assert statuses[(workflow, "reject")] == "REJECTED"
        assert statuses[(workflow, "expire")] == "EXPIRED"
    durable = report["units"][C.DURABLE]
    assert 0 < durable["durable_operations"] <= 6
    assert durable["functions"]["durable-orchestrator"]["invocations"] >= 1
    if C.STEP_FUNCTIONS in available_workflows():
        assert report["parity"]
        assert all(p["identical"] for p in report["parity"])
        sfn = report["units"][C.STEP_FUNCTIONS]
        assert 0 < sfn["state_transitions"] <= 6
        costed = units_from_report(report)
        assert [u.workflow for u in costed] == [C.DURABLE, C.STEP_FUNCTIONS]
