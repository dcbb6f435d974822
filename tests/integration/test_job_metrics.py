"""Metrics parity: both orchestrators emit the same job metrics, with the same dimensions, for one outcome.

The metrics are read from what Powertools prints (EMF documents on stdout), as CloudWatch reads them.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from etl_aws import contract as C
from etl_aws import identity, job_metrics, starter
from etl_aws.job_records import Job
from etl_aws.models import Decision, JobStatus
from etl_aws.observability import NAMESPACE
from tests.integration.durable_harness import DurableHarness
from tests.integration.test_durable_orchestrator import decide, upload, wait_pending

pytest_plugins = ["tests.integration.sfn_harness"]

GOOD = b"id,name,date,amount\n1,Ann,2024-01-31,1.5\n2,Bob,2024-02-30,2\n3,,2024-01-01,3\n"
NOT_UTF8 = "id,name\n1,Café\n".encode("latin-1")
REVIEWER = "arn:aws:iam::123456789012:user/ops"


def emf_points(out: str) -> list[dict[str, Any]]:
    """Every metric data point in the printed EMF documents: name, unit, value and dimensions."""
    points = []
    for line in out.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            dims = {name: document[name] for group in directive["Dimensions"] for name in group}
            for metric in directive["Metrics"]:
                value = document[metric["Name"]]
                points.append(
                    {
                        "namespace": directive["Namespace"],
                        "name": metric["Name"],
                        "unit": metric["Unit"],
                        "value": value[0] if isinstance(value, list) else value,
                        "dimensions": dims,
                    }
                )
    return points


def of_workflow(points: list[dict[str, Any]], workflow: str) -> list[dict[str, Any]]:
    return [p for p in points if p["dimensions"].get(job_metrics.DIMENSION_WORKFLOW) == workflow]


def counted(points: list[dict[str, Any]]) -> Counter[tuple[str, float]]:
    """The job metrics as (name, value) pairs; the approval latency only as its name (it is a duration)."""
    return Counter(
        (p["name"], -1.0 if p["name"] == job_metrics.APPROVAL_LATENCY else p["value"]) for p in points
    )


@pytest.fixture
def durable(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[DurableHarness]:
    from etl_durable.orchestrator import handler

    h = DurableHarness(handler, monkeypatch)
    yield h
    h.close()


def run_both(
    aws: Any, durable: DurableHarness, sfn: Any, body: bytes, approved: bool | None
) -> tuple[str, str]:
    """One file through each orchestrator; `approved` None: the file fails before any decision."""
    ref_d = upload(aws, "uploads/data.csv", body)
    job_d = identity.job_id(ref_d)
    arn = durable.start(ref_d, job_d)
    ref_s = sfn.upload(body, key="uploads/data.csv")
    job_s = identity.job_id(ref_s)
    assert sfn.start(ref_s) == {"batchItemFailures": []}
    if approved is not None:
        wait_pending(aws, job_d)
        decide(durable, arn, approved=approved, reason="" if approved else "bad data")
        assert sfn.wait_until_waiting_or_done(job_s) is not None
        sfn.decide(job_s, Decision(approved=approved, reviewer=REVIEWER, reason="bad data"))
    durable.result(arn)
    sfn.wait_for_end(job_s)
    return job_d, job_s


@pytest.mark.parametrize(
    ("body", "approved", "ending"),
    [
        pytest.param(GOOD, True, JobStatus.COMPLETED, id="approved"),
        pytest.param(GOOD, False, JobStatus.REJECTED, id="rejected"),
        pytest.param(NOT_UTF8, None, JobStatus.FAILED, id="file-error"),
    ],
)
def test_both_orchestrators_emit_the_same_job_metrics_for_the_same_outcome(
    aws: Any,
    durable: DurableHarness,
    sfn: Any,
    capsys: pytest.CaptureFixture[str],
    body: bytes,
    approved: bool | None,
    ending: JobStatus,
) -> None:
    capsys.readouterr()

    run_both(aws, durable, sfn, body, approved)
    points = emf_points(capsys.readouterr().out)

    durable_points = of_workflow(points, C.DURABLE)
    sfn_points = [p for p in of_workflow(points, C.STEP_FUNCTIONS) if p["name"] not in _STARTER_METRICS]
    assert counted(durable_points) == counted(sfn_points)
    names = {p["name"] for p in durable_points}
    assert job_metrics.ended_metric(ending) in names
    assert (job_metrics.APPROVAL_LATENCY in names) is (approved is not None)
    assert ({job_metrics.ROWS_VALID, job_metrics.ROWS_REJECTED} <= names) is (approved is not None)


_STARTER_METRICS = {job_metrics.JOBS_STARTED, job_metrics.START_FAILURES, job_metrics.UNSUPPORTED_UPLOADS}


def test_a_job_is_counted_once_with_its_rows_and_the_deployments_dimensions(
    aws: Any, durable: DurableHarness, sfn: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()

    run_both(aws, durable, sfn, GOOD, approved=True)
    points = emf_points(capsys.readouterr().out)

    job_points = [p for p in points if p["name"] in job_metrics.METRIC_NAMES]
    assert all(p["dimensions"].get(job_metrics.DIMENSION_WORKFLOW) for p in job_points)  # none twice
    for workflow in C.WORKFLOWS:
        mine = of_workflow(points, workflow)
        assert counted(mine)[(job_metrics.JOBS_ENDED[JobStatus.COMPLETED], 1.0)] == 1
        assert counted(mine)[(job_metrics.ROWS_VALID, 1.0)] == 1
        assert counted(mine)[(job_metrics.ROWS_REJECTED, 2.0)] == 1
        for point in mine:
            assert point["namespace"] == NAMESPACE
            assert point["dimensions"] == job_metrics.dimensions(workflow, aws.resources["jobs_table"])


@pytest.mark.parametrize("workflow", C.WORKFLOWS)
def test_the_shared_starter_reports_its_batch_for_either_orchestrator(
    workflow: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg: Any = SimpleNamespace(jobs_table="etl-jobs", workflow=workflow)  # all an unreadable batch needs
    bad = {"Records": [{"messageId": "m-1", "body": "not json"}]}
    capsys.readouterr()

    assert starter.handle_batch(bad, cfg) == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    points = emf_points(capsys.readouterr().out)

    assert {(p["name"], p["value"]) for p in points} == {
        (job_metrics.JOBS_STARTED, 0.0),
        (job_metrics.UNSUPPORTED_UPLOADS, 0.0),
        (job_metrics.START_FAILURES, 1.0),
    }
    assert all(p["dimensions"] == job_metrics.dimensions(workflow, "etl-jobs") for p in points)


def test_approval_latency_runs_from_the_notification_to_the_decision() -> None:
    job = Job(
        job_id="j",
        workflow=C.DURABLE,
        status=JobStatus.APPROVED,
        notified_at="2026-01-01T10:00:00.000000Z",
        decision={"approved": True, "decided_at": "2026-01-01T10:30:00.500000Z"},
    )

    assert job_metrics.approval_latency_seconds(job) == 1800.5
    assert job_metrics.approval_latency_seconds(job.model_copy(update={"notified_at": None})) is None
    assert job_metrics.approval_latency_seconds(job.model_copy(update={"decision": None})) is None
