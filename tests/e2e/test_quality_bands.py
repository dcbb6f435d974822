"""Quality bands on both pipelines through the local runtime, configured as Terraform passes them
(ETL_DATASET_POLICIES): a pass is published and a fail rejected without a reviewer or an e-mail, a warn
waits and its review page says which thresholds fired, and the approval timeout follows each dataset's
on_timeout (the clock is moved past it, not waited for)."""

from __future__ import annotations

import html
import io
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from etl_aws import clock
from etl_aws import contract as C
from etl_aws.jobs import Job
from etl_aws.models import TERMINAL, JobStatus
from etl_aws.policy_decisions import TIMEOUT_APPROVE_REASON, TIMEOUT_REJECT_REASON
from etl_core.synth import write_csv
from etl_local.resources import ACCOUNT, REGION
from etl_local.runtime import LocalRuntime, available_workflows
from etl_ops import cli
from etl_ops.api import send

APPROVAL_TIMEOUT = 300
VERSION = "2026-12-06.1"
REVIEWER = f"policy:{VERSION}"


def _policies() -> str:
    datasets: dict[str, dict] = {}
    for workflow in C.WORKFLOWS:
        datasets |= {
            f"uploads/clean-{workflow}": {"on_pass": "publish", "fail": {"max_reject_rate": 0.5}},
            f"uploads/strict-{workflow}": {"fail": {"max_reject_rate": 0.01}},
            f"uploads/watched-{workflow}": {"warn": {"max_reject_rate": 0.01}},
            f"uploads/late-{workflow}": {"on_timeout": "reject"},
        }
    datasets["uploads/trusted"] = {"warn": {"max_reject_rate": 0.5}, "on_timeout": "approve_if_policy_passes"}
    return json.dumps({"version": VERSION, "datasets": datasets})


def csv_bytes() -> bytes:
    buffer = io.BytesIO()
    write_csv(buffer, 200, bad_ratio=0.05)  # 10 of 200 rows rejected: 5 %
    return buffer.getvalue()


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    root: Path = tmp_path_factory.mktemp("local")
    with LocalRuntime(
        root=root, approval_timeout_seconds=APPROVAL_TIMEOUT, dataset_policies=_policies()
    ) as rt:
        yield rt


def workflows() -> list[str]:
    return [w for w in (C.DURABLE, C.STEP_FUNCTIONS) if w in available_workflows()]


def published(runtime: LocalRuntime, workflow: str, job_id: str) -> list[str]:
    listed = runtime.client("s3").list_objects_v2(
        Bucket=runtime.output_bucket(workflow), Prefix=f"{C.PROCESSED_PREFIX}{job_id}/"
    )
    return [o["Key"] for o in listed.get("Contents", [])]


def execution_status(runtime: LocalRuntime, workflow: str, job_id: str) -> str | None:
    if workflow == C.DURABLE:
        return runtime.durable.status(job_id) if runtime.durable else None
    machine = (runtime.deployment.state_machine_arn or "").split(":")[-1]
    arn = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{machine}:{job_id}"
    return runtime.client("stepfunctions").describe_execution(executionArn=arn)["status"]


def ended(runtime: LocalRuntime, workflow: str, job_id: str, timeout: float = 60) -> Job:
    """The job once its execution has ended (a decided job is REJECTED or APPROVED before finalize)."""
    runtime.wait_for(job_id, TERMINAL | {JobStatus.APPROVED}, timeout)
    deadline = time.monotonic() + timeout
    while execution_status(runtime, workflow, job_id) in (None, "RUNNING", "PENDING"):
        assert time.monotonic() < deadline, f"execution {job_id} still running after {timeout} s"
        time.sleep(0.1)
    job = runtime.job(job_id)
    assert job is not None
    return job


def shown(runtime: LocalRuntime, capsys: pytest.CaptureFixture[str], job_id: str) -> str:
    capsys.readouterr()
    assert cli.main(["--root", str(runtime.root), "jobs", "show", job_id]) == 0
    return capsys.readouterr().out


def assert_counts(
    runtime: LocalRuntime, workflow: str, job_id: str, durable_ops: int, transitions: int
) -> None:
    if workflow == C.DURABLE:
        assert sum(runtime.durable_operations(job_id).values()) == durable_ops
    else:
        assert runtime.state_transitions(job_id) == transitions


@pytest.mark.parametrize("workflow", workflows())
def test_a_pass_is_published_by_the_policy_without_a_reviewer(
    runtime: LocalRuntime, capsys: pytest.CaptureFixture[str], workflow: str
) -> None:
    job_id = runtime.upload(workflow, f"uploads/clean-{workflow}/a.csv", csv_bytes())

    job = ended(runtime, workflow, job_id)

    assert job.status == JobStatus.COMPLETED
    assert job.decision is not None
    assert (job.decision.reviewer, job.decision.via) == (REVIEWER, "policy")
    assert published(runtime, workflow, job_id)
    assert runtime.outbox is not None
    assert runtime.outbox.mails(job_id) == []
    assert_counts(runtime, workflow, job_id, durable_ops=4, transitions=6)
    out = shown(runtime, capsys, job_id)
    assert f"decision approved by {REVIEWER} (quality policy)" in out
    assert f"APPROVED  (by {REVIEWER})" in out
    assert "quality  pass (publish; 0 threshold(s) fired)" in out


@pytest.mark.parametrize("workflow", workflows())
def test_a_fail_is_rejected_with_its_reasons_and_nothing_published(
    runtime: LocalRuntime, capsys: pytest.CaptureFixture[str], workflow: str
) -> None:
    job_id = runtime.upload(workflow, f"uploads/strict-{workflow}/a.csv", csv_bytes())

    job = ended(runtime, workflow, job_id)

    assert job.status == JobStatus.REJECTED
    assert job.decision is not None
    assert job.decision.reason == "reject rate 5 % (10 of 200 rows) is over 1 %"
    assert published(runtime, workflow, job_id) == []
    assert job.outputs.get("archive") == f"{C.ARCHIVE_PREFIX}{job_id}/a.csv"
    assert_counts(runtime, workflow, job_id, durable_ops=4, transitions=6)
    out = shown(runtime, capsys, job_id)
    assert f"decision rejected by {REVIEWER} (quality policy)" in out
    assert "fail max_reject_rate: reject rate 5 %" in out


@pytest.mark.parametrize("workflow", workflows())
def test_a_warn_waits_and_its_review_page_says_which_thresholds_fired(
    runtime: LocalRuntime, workflow: str
) -> None:
    job_id = runtime.upload(workflow, f"uploads/watched-{workflow}/a.csv", csv_bytes())
    assert (
        runtime.wait_for(job_id, {JobStatus.PENDING_APPROVAL, *TERMINAL}).status == JobStatus.PENDING_APPROVAL
    )
    assert runtime.outbox is not None
    link = runtime.outbox.wait_for(job_id, timeout=30).review_link

    page = send("GET", link, headers={"Accept": "text/html"})

    assert page.status == 200, page.text
    text = html.unescape(re.sub(r"<[^>]+>", "", page.text))
    assert "Quality checks" in text
    assert f"Thresholds that fired (dataset uploads/watched-{workflow}, policy version {VERSION})" in text
    assert "warn max_reject_rate: reject rate 5 % (10 of 200 rows) is over 1 %" in text
    decided = send("POST", link, b"decision=approve", {"Content-Type": "application/x-www-form-urlencoded"})
    assert decided.status == 200, decided.text
    job = ended(runtime, workflow, job_id)
    assert job.status == JobStatus.COMPLETED
    assert job.decision is not None
    assert job.decision.via == "review_link"
    assert_counts(runtime, workflow, job_id, durable_ops=6, transitions=6)


def test_the_approval_timeout_follows_each_datasets_on_timeout(runtime: LocalRuntime) -> None:
    jobs = {}
    for workflow in workflows():
        jobs[(workflow, "reject")] = runtime.upload(workflow, f"uploads/late-{workflow}/a.csv", csv_bytes())
        jobs[(workflow, "approve")] = runtime.upload(workflow, f"uploads/trusted/{workflow}.csv", csv_bytes())
    for job_id in jobs.values():
        assert runtime.wait_for(job_id, {JobStatus.PENDING_APPROVAL, *TERMINAL}).status == (
            JobStatus.PENDING_APPROVAL
        )

    with clock.shifted(APPROVAL_TIMEOUT + 60):
        done = {key: ended(runtime, key[0], job_id) for key, job_id in jobs.items()}

    for (workflow, outcome), job in done.items():
        assert job.decision is not None, (workflow, outcome)
        assert job.decision.reviewer == REVIEWER
        if outcome == "reject":
            assert job.status == JobStatus.REJECTED, workflow
            assert job.decision.reason == TIMEOUT_REJECT_REASON
            assert published(runtime, workflow, job.job_id) == []
        else:
            assert job.status == JobStatus.COMPLETED, workflow
            assert job.decision.reason == TIMEOUT_APPROVE_REASON
            assert published(runtime, workflow, job.job_id)
        assert_counts(runtime, workflow, job.job_id, durable_ops=6, transitions=5)
