"""What changed since the last published version, on both pipelines through the local runtime: the second
upload of a dataset (a folder under uploads/) is compared with the first one published, on the review page
and in the reviewer's e-mail; an upload of another dataset is not compared with it."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from etl_aws import contract as C
from etl_aws.models import TERMINAL, JobStatus
from etl_local.runtime import LocalRuntime, available_workflows
from etl_ops.api import send

FIRST = b"id,name,date,amount\n1,a,2024-01-01,10\n2,b,2024-01-02,20\n3,c,2024-01-03,30\n"
SECOND = (
    b"id,name,date,amount,region\n"
    b"1,a,2024-01-01,10,eu\n2,b,2024-01-02,20,us\n3,c,2024-01-03,30,eu\n"
    b"4,d,2024-01-04,40,eu\n5,e,2024-02-10,50,us\n"
)


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    root: Path = tmp_path_factory.mktemp("local")
    with LocalRuntime(root=root, approval_timeout_seconds=300) as rt:
        yield rt


def workflows() -> list[str]:
    return [w for w in (C.DURABLE, C.STEP_FUNCTIONS) if w in available_workflows()]


def upload_and_wait(runtime: LocalRuntime, workflow: str, key: str, data: bytes) -> tuple[str, str, str]:
    """Upload, wait for the approval e-mail: (job id, e-mail body, review page text without its tags)."""
    job_id = runtime.upload(workflow, key, data)
    waiting = runtime.wait_for(job_id, {JobStatus.PENDING_APPROVAL, *TERMINAL})
    assert waiting.status == JobStatus.PENDING_APPROVAL, waiting
    assert runtime.outbox is not None
    mail = runtime.outbox.wait_for(job_id, timeout=30)
    page = send("GET", mail.review_link, headers={"Accept": "text/html"})
    assert page.status == 200, page.text
    return job_id, mail.body, html.unescape(re.sub(r"<[^>]+>", "", page.text))


def approve(link_page_job: str, runtime: LocalRuntime) -> None:
    assert runtime.outbox is not None
    link = runtime.outbox.wait_for(link_page_job, timeout=30).review_link
    decided = send(
        "POST",
        link,
        b"decision=approve",
        {"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"},
    )
    assert decided.status == 200, decided.text
    assert runtime.wait_for(link_page_job, TERMINAL).status == JobStatus.COMPLETED


@pytest.mark.parametrize("workflow", workflows())
def test_second_upload_shows_row_delta_added_column_and_date_range_against_the_published_one(
    runtime: LocalRuntime, workflow: str
) -> None:
    first_id, first_mail, first_page = upload_and_wait(
        runtime, workflow, f"uploads/sales-{workflow}/a.csv", FIRST
    )
    assert "First publication of this dataset" in first_page
    assert "First publication of this dataset: 3 records." in first_mail
    approve(first_id, runtime)

    second_id, mail, page = upload_and_wait(runtime, workflow, f"uploads/sales-{workflow}/b.csv", SECOND)

    assert "What changed since the last published version" in page
    assert f"Compared with job {first_id}" in page
    assert "Records: 3 → 5 (+2)" in page
    assert "Columns added: region" in page
    assert "2024-01-01 to 2024-01-03" in page
    assert "2024-01-01 to 2024-02-10" in page
    assert "Records: 3 → 5 (+2)" in mail
    assert "Columns added: region" in mail
    assert "Date range of date: 2024-01-01 to 2024-01-03 → 2024-01-01 to 2024-02-10" in mail
    job = runtime.job(second_id)
    assert job is not None
    assert job.changes is not None
    assert job.changes["since"]["job_id"] == first_id


@pytest.mark.parametrize("workflow", workflows())
def test_an_upload_of_another_dataset_is_not_compared(runtime: LocalRuntime, workflow: str) -> None:
    published, _, _ = upload_and_wait(runtime, workflow, f"uploads/orders-{workflow}/a.csv", FIRST)
    approve(published, runtime)

    _, mail, page = upload_and_wait(runtime, workflow, f"uploads/refunds-{workflow}/a.csv", SECOND)

    assert "First publication of this dataset" in page
    assert "Compared with job" not in page
    assert "First publication of this dataset: 5 records." in mail
    assert published not in mail
