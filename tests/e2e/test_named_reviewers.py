"""Named reviewers on the local runtime, both pipelines: a link of their own each (delivered only to them by
the subscription filter policy), decisions attributed to them, N-of-M approvals, the uploader kept from
approving their own file, an operator allowlist, and one reminder before expiry to the reviewers still to
decide and the escalation list."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import pytest
from botocore.credentials import Credentials

from etl_aws import clock
from etl_aws import contract as C
from etl_aws.models import TERMINAL, JobStatus
from etl_aws.reviewers import ReviewConfig
from etl_local.pollers import Mail
from etl_local.runtime import ACCESS_KEY, SECRET_KEY, LocalRuntime, available_workflows
from etl_local.runtime_reads import SECOND_ACCESS_KEY, SECOND_OPERATOR_ARN, SECOND_SECRET_KEY
from etl_ops import cli
from etl_ops.api import ApprovalApi, Response, send
from tests.e2e.test_local_runtime import csv_file

ANA, BEN, CY, LEAD = "ana@example.com", "ben@example.com", "cy@example.com", "lead@example.com"
TIMEOUT = 3600
REMIND_MINUTES = 10
REVIEW = ReviewConfig.model_validate(
    {
        "default": {"reviewers": [ANA, BEN]},
        "datasets": {
            "uploads/pair": {
                "reviewers": [ANA, BEN, CY],
                "approvals_required": 2,
                "uploader_may_approve": False,
                "escalation": [LEAD],
                "remind_before_minutes": REMIND_MINUTES,
            },
            "uploads/guarded": {"operators": [SECOND_OPERATOR_ARN]},
        },
    }
)
# Counted per workflow: the first approval of two only records (no operation, no transition).
DURABLE_OPERATIONS = 6
SFN_TRANSITIONS = 6


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    root: Path = tmp_path_factory.mktemp("local")
    with LocalRuntime(root=root, approval_timeout_seconds=TIMEOUT, review_config=REVIEW) as rt:
        yield rt


@pytest.fixture(scope="module")
def uploader(runtime: LocalRuntime) -> ApprovalApi:
    """The operator whose key pair made the uploads (every local call is signed with it)."""
    return ApprovalApi(runtime.api_url, Credentials(ACCESS_KEY, SECRET_KEY))


@pytest.fixture(scope="module")
def second(runtime: LocalRuntime) -> ApprovalApi:
    return ApprovalApi(runtime.api_url, Credentials(SECOND_ACCESS_KEY, SECOND_SECRET_KEY))


def workflows() -> list[str]:
    return [w for w in (C.DURABLE, C.STEP_FUNCTIONS) if w in available_workflows()]


def waiting(runtime: LocalRuntime, workflow: str, key: str) -> str:
    job_id = runtime.upload(workflow, key, csv_file(rows=12, seed=5))
    job = runtime.wait_for(job_id, {JobStatus.PENDING_APPROVAL, *TERMINAL})
    assert job.status == JobStatus.PENDING_APPROVAL
    return job_id


def mail(runtime: LocalRuntime, address: str, job_id: str) -> Mail:
    return runtime.mailboxes[address].wait_for(job_id, timeout=30)


def post(link: str, decision: str, reason: str = "") -> Response:
    form = {"decision": decision} | ({"reason": reason} if reason else {})
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"}
    return send("POST", link, urlencode(form).encode(), headers)


def finalized(runtime: LocalRuntime, job_id: str, timeout: float = 60) -> None:
    """Wait until the workflow's finalize ran (a rejection is REJECTED from the moment it is recorded)."""
    deadline = time.monotonic() + timeout
    while (job := runtime.job(job_id)) is None or job.finalized_at is None:
        assert time.monotonic() < deadline, f"job {job_id} not finalized within {timeout} s"
        time.sleep(0.2)


def assert_counts(runtime: LocalRuntime, workflow: str, job_id: str, timeout: float = 30) -> None:
    """The workflow's count once its last operation is recorded (it may lag the job's record briefly)."""
    finalized(runtime, job_id)
    expected = DURABLE_OPERATIONS if workflow == C.DURABLE else SFN_TRANSITIONS
    deadline = time.monotonic() + timeout
    while (count := _count(runtime, workflow, job_id)) < expected and time.monotonic() < deadline:
        time.sleep(0.2)
    assert count == expected


def _count(runtime: LocalRuntime, workflow: str, job_id: str) -> int:
    if workflow == C.DURABLE:
        return sum(runtime.durable_operations(job_id).values())
    return runtime.state_transitions(job_id)


@pytest.mark.parametrize("workflow", workflows())
def test_each_named_reviewer_gets_a_link_of_their_own_and_the_decision_names_them(
    runtime: LocalRuntime, workflow: str
) -> None:
    job_id = waiting(runtime, workflow, f"uploads/team/named-{workflow}.csv")
    ana, ben = mail(runtime, ANA, job_id), mail(runtime, BEN, job_id)

    assert ana.token != ben.token
    assert (ana.to, ben.to) == (ANA, BEN)
    assert ANA in ana.body
    assert BEN not in ana.body
    assert runtime.outbox is not None
    assert runtime.outbox.mails(job_id) == []
    assert runtime.mailboxes[CY].mails(job_id) == []  # not a reviewer of this dataset

    assert post(ben.review_link, "approve").status == 200
    job = runtime.wait_for(job_id, TERMINAL)

    assert job.status == JobStatus.COMPLETED
    assert job.decision is not None
    assert (job.decision.reviewer, job.decision.via) == (BEN, "review_link")
    page = send("GET", ana.review_link, headers={"Accept": "text/html"})
    assert page.status == 200
    assert f'by <span class="reviewer">{BEN}</span>' in page.text
    assert_counts(runtime, workflow, job_id)


@pytest.mark.parametrize("workflow", workflows())
def test_two_distinct_approvals_publish_the_first_only_records_and_a_repeat_does_not_count(
    runtime: LocalRuntime, workflow: str
) -> None:
    job_id = waiting(runtime, workflow, f"uploads/pair/two-{workflow}.csv")
    ana, ben = mail(runtime, ANA, job_id), mail(runtime, BEN, job_id)

    first = post(ana.review_link, "approve")
    repeat = post(ana.review_link, "approve")

    assert first.status == 200
    assert f"1 of 2 approvals: by {ANA}" in first.text
    assert repeat.status == 200
    assert "already been recorded" in repeat.text
    job = runtime.job(job_id)
    assert job is not None
    assert job.status == JobStatus.PENDING_APPROVAL
    assert list(job.approvals) == [ANA]
    page = send("GET", ben.review_link, headers={"Accept": "text/html"})
    assert f"1 of 2 approvals: by {ANA}" in page.text
    assert f'Reviewing as <b class="viewer">{BEN}' in page.text

    assert post(ben.review_link, "approve").status == 200
    job = runtime.wait_for(job_id, TERMINAL)

    assert job.status == JobStatus.COMPLETED
    assert job.decision is not None
    assert job.decision.reviewer == BEN
    assert sorted(job.approvals) == [ANA, BEN]
    assert_counts(runtime, workflow, job_id)


@pytest.mark.parametrize("workflow", workflows())
def test_one_rejection_decides_at_once_after_an_approval(runtime: LocalRuntime, workflow: str) -> None:
    job_id = waiting(runtime, workflow, f"uploads/pair/rejected-{workflow}.csv")
    assert post(mail(runtime, ANA, job_id).review_link, "approve").status == 200

    answer = post(mail(runtime, CY, job_id).review_link, "reject", "totals do not match")
    job = runtime.wait_for(job_id, TERMINAL)

    assert answer.status == 200
    assert job.status == JobStatus.REJECTED
    assert job.decision is not None
    assert (job.decision.reviewer, job.decision.approved) == (CY, False)
    assert_counts(runtime, workflow, job_id)


@pytest.mark.parametrize("workflow", workflows())
def test_the_uploader_may_not_approve_their_file_but_another_operator_counts(
    runtime: LocalRuntime, uploader: ApprovalApi, second: ApprovalApi, workflow: str
) -> None:
    job_id = waiting(runtime, workflow, f"uploads/pair/own-{workflow}.csv")
    assert runtime.job(job_id).uploaded_by == "AWS:AIDALOCALOPERATOR0001"  # type: ignore[union-attr]

    refused = uploader.approve(job_id)
    counted = second.approve(job_id)

    assert refused.status == 403
    assert "uploader" in refused.json()["message"]
    assert counted.status == 200
    assert counted.json()["approvals"] == [SECOND_OPERATOR_ARN]
    assert post(mail(runtime, ANA, job_id).review_link, "approve").status == 200
    job = runtime.wait_for(job_id, TERMINAL)
    assert job.status == JobStatus.COMPLETED
    assert sorted(job.approvals) == sorted([SECOND_OPERATOR_ARN, ANA])


@pytest.mark.parametrize("workflow", workflows())
def test_the_uploader_may_reject_their_file(
    runtime: LocalRuntime, uploader: ApprovalApi, workflow: str
) -> None:
    job_id = waiting(runtime, workflow, f"uploads/pair/withdrawn-{workflow}.csv")

    answer = uploader.reject(job_id, "uploaded the wrong file")

    assert answer.status == 200
    assert runtime.wait_for(job_id, TERMINAL).status == JobStatus.REJECTED


@pytest.mark.parametrize("workflow", workflows())
def test_an_operator_off_the_datasets_allowlist_is_refused(
    runtime: LocalRuntime, uploader: ApprovalApi, second: ApprovalApi, workflow: str
) -> None:
    job_id = waiting(runtime, workflow, f"uploads/guarded/listed-{workflow}.csv")

    refused = uploader.approve(job_id)
    allowed = second.approve(job_id)

    assert refused.status == 403
    assert "allowlist" in refused.json()["message"]
    assert allowed.status == 200
    job = runtime.wait_for(job_id, TERMINAL)
    assert job.status == JobStatus.COMPLETED
    assert job.decision is not None
    assert job.decision.reviewer == SECOND_OPERATOR_ARN


@pytest.mark.parametrize("workflow", workflows())
def test_one_reminder_goes_to_the_reviewers_still_to_decide_and_the_escalation_list(
    runtime: LocalRuntime, workflow: str
) -> None:
    job_id = waiting(runtime, workflow, f"uploads/pair/late-{workflow}.csv")
    assert post(mail(runtime, ANA, job_id).review_link, "approve").status == 200
    early = runtime.run_schedule()["reminders"]

    with clock.shifted(TIMEOUT - (REMIND_MINUTES - 1) * 60):
        due = runtime.run_schedule()["reminders"]
        again = runtime.run_schedule()["reminders"]
        reminders = {
            a: runtime.mailboxes[a].wait_for(job_id, timeout=30, reminder=True) for a in (BEN, CY, LEAD)
        }

    assert (early, due, again) == (0, 1, 0)
    assert all(m.to == a and "1 of 2" in m.body and m.review_link == "" for a, m in reminders.items())
    assert [m for m in runtime.mailboxes[ANA].mails(job_id) if not m.review_link] == []  # she approved
    job = runtime.job(job_id)
    assert job is not None
    assert job.reminded_at is not None
    assert job.status == JobStatus.PENDING_APPROVAL


@pytest.mark.parametrize("workflow", workflows())
def test_jobs_show_names_who_approved_and_the_timeline_who_decided(
    runtime: LocalRuntime, capsys: pytest.CaptureFixture[str], workflow: str
) -> None:
    job_id = waiting(runtime, workflow, f"uploads/pair/shown-{workflow}.csv")
    for address in (CY, ANA):
        assert post(mail(runtime, address, job_id).review_link, "approve").status == 200
    assert runtime.wait_for(job_id, TERMINAL).status == JobStatus.COMPLETED
    capsys.readouterr()

    code = cli.main(["--root", str(runtime.root), "jobs", "show", job_id])
    out = capsys.readouterr().out

    assert code == 0, out
    assert f"decision approved by {ANA} (review link)" in out
    assert re.search(rf"approvals 2 of 2: {re.escape(ANA)} \(.+\), {re.escape(CY)} \(", out), out
    assert "uploaded by AWS:AIDALOCALOPERATOR0001" in out
    approval_step = "approval" if workflow == C.DURABLE else "RequestApproval"
    row = next(line for line in out.splitlines() if line.strip().startswith(approval_step + " "))
    assert row.rstrip().endswith(f"approved by {ANA} (review link)"), out


@pytest.mark.parametrize("workflow", workflows())
def test_three_approvals_at_once_through_the_gateway_decide_once_with_two_recorded(
    runtime: LocalRuntime, workflow: str
) -> None:
    """Three reviewers' approvals race through the gateway to the approval function and the local DynamoDB:
    the quorum's conditional writes let exactly two count and one decide."""
    job_ids = [waiting(runtime, workflow, f"uploads/pair/race-{workflow}-{i}.csv") for i in range(3)]
    for job_id in job_ids:
        links = [mail(runtime, a, job_id).review_link for a in (ANA, BEN, CY)]
        barrier = threading.Barrier(len(links))

        def approve(link: str, barrier: threading.Barrier = barrier) -> int:
            barrier.wait()
            return post(link, "approve").status

        with ThreadPoolExecutor(len(links)) as pool:
            answers = list(pool.map(approve, links))

        job = runtime.wait_for(job_id, TERMINAL)
        # The third is 200 when the decision was still being delivered, 409 (already decided) once it was.
        assert sorted(answers) in ([200, 200, 200], [200, 200, 409])
        assert job.status == JobStatus.COMPLETED
        assert len(job.approvals) == 2
        assert_counts(runtime, workflow, job_id)  # one callback delivered: 6 operations / transitions
