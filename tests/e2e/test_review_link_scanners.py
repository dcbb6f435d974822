"""E-mail security scanners open every link in a message, often several times and with HEAD first. A GET of
a review link only renders the page: the job record and the stored token hash stay exactly as they were,
and the reviewer's POST from the page still decides afterwards. Both pipelines, on the local runtime."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from etl_aws import contract as C
from etl_aws.models import TERMINAL, JobStatus
from etl_local.runtime import LocalRuntime, available_workflows
from etl_ops.api import send
from tests.e2e.test_local_runtime import csv_file

# Headers that link-checking services send (Microsoft Defender Safe Links, Proofpoint, Mimecast,
# Barracuda, and browsers prefetching a link): several GETs and a HEAD, as they open every link.
SCANNER_REQUESTS: list[tuple[str, dict[str, str]]] = [
    ("HEAD", {"User-Agent": "Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.1; Trident/6.0)"}),
    (
        "GET",
        {
            "User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
            " Chrome/120.0.0.0 Safari/537.36",
            "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            "X-Forwarded-For": "203.0.113.7",
        },
    ),
    ("GET", {"User-Agent": "Microsoft Office Protocol Discovery", "Accept": "*/*"}),
    ("GET", {"User-Agent": "Proofpoint URL Defense", "Accept": "*/*", "Connection": "close"}),
    ("GET", {"User-Agent": "Mozilla/5.0", "Purpose": "prefetch", "Sec-Purpose": "prefetch"}),
    ("HEAD", {"User-Agent": "python-requests/2.32.3", "Accept": "*/*"}),
    ("GET", {"User-Agent": "Barracuda Sentinel (EE)", "Accept": "application/json"}),
]


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    root: Path = tmp_path_factory.mktemp("local")
    with LocalRuntime(root=root, approval_timeout_seconds=300) as rt:
        yield rt


def workflows() -> list[str]:
    return [w for w in (C.DURABLE, C.STEP_FUNCTIONS) if w in available_workflows()]


def raw_job_item(runtime: LocalRuntime, job_id: str) -> dict[str, Any]:
    """The whole stored record, secrets included (the review token hash, the callback reference)."""
    return runtime.client("dynamodb").get_item(
        TableName=runtime.deployment.stack["jobs_table"], Key={"job_id": {"S": job_id}}, ConsistentRead=True
    )["Item"]


def waiting_job(runtime: LocalRuntime, workflow: str, name: str) -> tuple[str, str]:
    """A job of `workflow` waiting for a decision, and the review link its e-mail carries."""
    job_id = runtime.upload(workflow, f"uploads/{name}-{workflow}.csv", csv_file(rows=12, seed=11))
    assert runtime.wait_for(job_id, {JobStatus.PENDING_APPROVAL, *TERMINAL}).status == (
        JobStatus.PENDING_APPROVAL
    )
    assert runtime.outbox is not None
    return job_id, runtime.outbox.wait_for(job_id, timeout=30).review_link


@pytest.mark.parametrize("workflow", workflows())
def test_scanner_gets_and_heads_leave_job_and_token_untouched_and_the_post_still_decides(
    runtime: LocalRuntime, workflow: str
) -> None:
    job_id, link = waiting_job(runtime, workflow, "scanned")
    before = raw_job_item(runtime, job_id)

    answers = [send(method, link, headers=headers).status for method, headers in SCANNER_REQUESTS]

    assert answers.count(200) == sum(method == "GET" for method, _ in SCANNER_REQUESTS)
    assert raw_job_item(runtime, job_id) == before
    assert runtime.job(job_id).status == JobStatus.PENDING_APPROVAL  # type: ignore[union-attr]

    decided = send(
        "POST",
        link,
        urlencode({"decision": "approve"}).encode(),
        {"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"},
    )

    assert decided.status == 200, decided.text
    job = runtime.wait_for(job_id, TERMINAL)
    assert job.status == JobStatus.COMPLETED
    assert job.decision is not None
    assert job.decision.via == "review_link"


@pytest.mark.parametrize("workflow", workflows())
def test_a_get_carrying_a_decision_in_its_query_only_renders_the_page(
    runtime: LocalRuntime, workflow: str
) -> None:
    job_id, link = waiting_job(runtime, workflow, "query-decision")
    before = raw_job_item(runtime, job_id)

    for decision in ("approve", "reject"):
        query = urlencode({"decision": decision, "reason": "scanner"})
        page = send("GET", f"{link}&{query}", headers={"Accept": "text/html"})
        assert page.status == 200
        assert 'name="decision"' in page.text  # the page with its forms, not a result

    assert raw_job_item(runtime, job_id) == before
