"""A decision is bound to the exact data reviewed, on the local runtime, both pipelines.

- The review page shows each staged object's SHA-256 and its forms post them; a post naming other hashes
  is refused (409). A staged object changed after approval was requested (the reviewer's page still
  showing the old hashes) ends the job FAILED with nothing published and the source where it was.
- An approval request retried after its e-mail went out (the e-mail's answer lost: the step retries)
  e-mails a new link: the first answers 410 "superseded" and never decides; the newest one decides.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from etl_aws import contract as C
from etl_aws import staging
from etl_aws.layout import staging_key
from etl_aws.models import TERMINAL, JobStatus
from etl_local.faults import INJECTOR, Fault, Rule, attempts
from etl_local.runtime import LocalRuntime, available_workflows
from etl_ops.api import Response, send
from tests.e2e.test_local_runtime import csv_file

FORM = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"}
_HIDDEN = re.compile(r'<input type="hidden" name="(sha256_\w+)" value="([0-9a-f]{64})">')
# The function whose SNS Publish sends the approval e-mail, per pipeline.
MAILER = {C.DURABLE: "durable-orchestrator", C.STEP_FUNCTIONS: "sfn-request-approval"}


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    root: Path = tmp_path_factory.mktemp("local")
    with LocalRuntime(root=root, approval_timeout_seconds=300) as rt:
        yield rt


def workflows() -> list[str]:
    return [w for w in (C.DURABLE, C.STEP_FUNCTIONS) if w in available_workflows()]


def waiting(runtime: LocalRuntime, workflow: str, name: str) -> str:
    job_id = runtime.upload(workflow, f"uploads/{name}-{workflow}.csv", csv_file(rows=20, seed=5))
    assert runtime.wait_for(job_id, {JobStatus.PENDING_APPROVAL, *TERMINAL}).status == (
        JobStatus.PENDING_APPROVAL
    )
    return job_id


def shown_hashes(page: Response) -> dict[str, str]:
    assert page.status == 200, page.text
    return dict(_HIDDEN.findall(page.text.split('value="approve">', 1)[1].split("</form>", 1)[0]))


def approve(link: str, hashes: dict[str, str]) -> Response:
    return send("POST", link, urlencode({"decision": "approve", **hashes}).encode(), FORM)


def published(runtime: LocalRuntime, workflow: str, job_id: str) -> list[str]:
    listing = runtime.client("s3").list_objects_v2(
        Bucket=runtime.output_bucket(workflow), Prefix=f"{C.PROCESSED_PREFIX}{job_id}/"
    )
    return [item["Key"] for item in listing.get("Contents", [])]


@pytest.mark.parametrize("workflow", workflows())
def test_staged_data_changed_after_the_page_was_shown_fails_the_job_and_publishes_nothing(
    runtime: LocalRuntime, workflow: str
) -> None:
    job_id = waiting(runtime, workflow, "tampered")
    assert runtime.outbox is not None
    link = runtime.outbox.wait_for(job_id).review_link
    hashes = shown_hashes(send("GET", link, headers={"Accept": "text/html"}))
    runtime.client("s3").put_object(
        Bucket=runtime.output_bucket(workflow),
        Key=staging_key(job_id, C.RECORDS_FILE),
        Body=b'{"id": "never reviewed"}\n',
    )

    stale = approve(link, hashes | {"sha256_records": "0" * 64})
    decided = approve(link, hashes)

    assert sorted(hashes) == ["sha256_manifest", "sha256_records", "sha256_rejects"]
    assert stale.status == 409
    assert "The data changed" in stale.text
    assert decided.status == 200, decided.text
    job = runtime.wait_for(job_id, TERMINAL)
    assert job.status == JobStatus.FAILED
    assert job.error is not None
    assert job.error["code"] == staging.CHANGED
    assert "nothing was published" in job.error["message"]
    assert published(runtime, workflow, job_id) == []
    source = runtime.client("s3").list_objects_v2(Bucket=job.source["bucket"], Prefix=job.source["key"])
    assert [item["Key"] for item in source.get("Contents", [])] == [job.source["key"]]


def wait_for_second_link(runtime: LocalRuntime, job_id: str, timeout: float = 60) -> tuple[str, str]:
    """The first and the newest review link e-mailed about `job_id` (waiting for the newer one)."""
    assert runtime.outbox is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        links = list(dict.fromkeys(mail.review_link for mail in runtime.outbox.mails(job_id)))
        if len(links) >= 2:
            return links[0], links[-1]
        time.sleep(0.2)
    raise AssertionError(f"no second review link for {job_id} within {timeout} s")


@pytest.mark.parametrize("workflow", workflows())
def test_a_link_superseded_by_a_retried_request_answers_410_and_the_newest_one_decides(
    runtime: LocalRuntime, workflow: str
) -> None:
    rule = Rule("sns", "Publish", Fault.LOST_RESPONSE, times=attempts(), function=MAILER[workflow])
    with INJECTOR.injecting(rule):
        job_id = waiting(runtime, workflow, "superseded")
        first, newest = wait_for_second_link(runtime, job_id)

    old_page = send("GET", first, headers={"Accept": "text/html"})
    old_post = approve(first, shown_hashes(send("GET", newest, headers={"Accept": "text/html"})))

    assert rule.fired == attempts()
    assert old_page.status == 410
    assert "This link was superseded" in old_page.text
    assert old_post.status == 410
    assert runtime.job(job_id).status == JobStatus.PENDING_APPROVAL  # type: ignore[union-attr]
    decided = approve(newest, shown_hashes(send("GET", newest, headers={"Accept": "text/html"})))
    assert decided.status == 200, decided.text
    job = runtime.wait_for(job_id, TERMINAL)
    assert job.status == JobStatus.COMPLETED
    assert job.approval_generation == 2
    assert len(published(runtime, workflow, job_id)) == 3
