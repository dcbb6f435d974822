"""`etl jobs show` on the local runtime: the job, then its step timeline read from the execution history
of the orchestrator that ran it (the durable engine through the local Lambda API, Step Functions on moto)."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import Credentials

from etl_aws import contract as C
from etl_aws.models import TERMINAL, JobStatus
from etl_core import synth
from etl_local.runtime import ACCESS_KEY, SECRET_KEY, LocalRuntime, available_workflows
from etl_ops import cli
from etl_ops.api import ApprovalApi

WAITING = frozenset({JobStatus.PENDING_APPROVAL, *TERMINAL})
# The steps of an approved job, as each orchestrator names them (Publish is the SFN finalize of an approval).
EXPECTED_STEPS = {
    C.DURABLE: ["extract", "transform", "load", "approval", "finalize"],
    C.STEP_FUNCTIONS: ["Extract", "Transform", "Load", "RequestApproval", "Publish"],
}
ROW = re.compile(
    r"^\s+(?P<name>\S+)\s+(?P<kind>\S+)\s+(?P<status>[A-Z_]+)\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\s+"
    r"(?P<duration>\d+(?:\.\d)? (?:ms|s)|\d+ min \d\d s)\s+(?P<attempts>\d+|-)"
)


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    root: Path = tmp_path_factory.mktemp("local")
    with LocalRuntime(root=root, approval_timeout_seconds=120) as rt:
        yield rt


def completed_job(runtime: LocalRuntime, workflow: str) -> str:
    """Upload a file, approve it through the signed API once it waits, and wait until it completes."""
    out = io.BytesIO()
    synth.write_csv(out, 20, bad_ratio=0.1, seed=11)
    job_id = runtime.upload(workflow, f"uploads/timeline-{workflow}.csv", out.getvalue())
    assert runtime.wait_for(job_id, WAITING).status == JobStatus.PENDING_APPROVAL
    api = ApprovalApi(runtime.api_url, Credentials(ACCESS_KEY, SECRET_KEY))
    assert api.approve(job_id, reason="timeline test").status == 200
    assert runtime.wait_for(job_id, TERMINAL).status == JobStatus.COMPLETED
    return job_id


def show(runtime: LocalRuntime, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = cli.main(["--root", str(runtime.root), "jobs", "show", *args])
    return code, capsys.readouterr().out


def cli_json(out: str) -> dict[str, Any]:
    """The CLI's JSON document; the handlers run in this process and log one-line JSON around it."""
    start = out.index("{\n")
    document, _ = json.JSONDecoder().raw_decode(out[start:])
    return document


def workflows() -> list[str]:
    return [w for w in (C.DURABLE, C.STEP_FUNCTIONS) if w in available_workflows()]


@pytest.mark.parametrize("workflow", workflows())
def test_jobs_show_lists_the_steps_of_a_completed_job_in_order_with_durations(
    runtime: LocalRuntime, capsys: pytest.CaptureFixture[str], workflow: str
) -> None:
    job_id = completed_job(runtime, workflow)

    code, out = show(runtime, capsys, job_id)

    assert code == 0, out
    assert "execution SUCCEEDED" in out
    rows = {m["name"]: m for m in (ROW.match(line) for line in out.splitlines()) if m}
    names = [m["name"] for m in (ROW.match(line) for line in out.splitlines()) if m]
    expected = EXPECTED_STEPS[workflow]
    assert [n for n in names if n in expected] == expected, out
    for name in expected:
        assert rows[name]["status"] == "SUCCEEDED", out
        assert rows[name]["duration"], out
    assert rows[expected[0]]["attempts"] == "1"
    assert rows[expected[3]]["kind"] in {"CALLBACK", "Task"}


@pytest.mark.parametrize("workflow", workflows())
def test_jobs_show_json_has_the_timeline_and_no_secret(
    runtime: LocalRuntime, capsys: pytest.CaptureFixture[str], workflow: str
) -> None:
    job_id = completed_job(runtime, workflow)
    secret = runtime.jobs().approval_secrets(job_id).callback_token
    assert secret, "the job record keeps the callback id / task token the workflow waited on"

    code, out = show(runtime, capsys, job_id, "--json")

    assert code == 0, out
    document = cli_json(out)
    timeline = document["timeline"]
    assert timeline["orchestrator"] == workflow
    assert timeline["status"] == "SUCCEEDED"
    steps = {step["name"]: step for step in timeline["steps"]}
    approval = steps[EXPECTED_STEPS[workflow][3]]
    assert approval["duration_seconds"] > 0
    assert approval["started"] < steps[EXPECTED_STEPS[workflow][4]]["started"]
    text_out = show(runtime, capsys, job_id)[1]
    assert secret not in out
    assert secret not in text_out


def test_jobs_show_of_a_job_without_an_execution_says_the_timeline_is_unavailable(
    runtime: LocalRuntime, capsys: pytest.CaptureFixture[str]
) -> None:
    out = io.BytesIO()
    synth.write_csv(out, 5, seed=2)
    job_id = runtime.upload(C.DURABLE, "uploads/timeline-other-function.csv", out.getvalue())
    runtime.wait_for(job_id, WAITING)

    code, text = show(runtime, capsys, job_id, "--durable-function", "csv-etl-no-such-function")

    assert code == 0, text
    assert job_id in text
    assert "steps: not available (ResourceNotFoundException" in text
