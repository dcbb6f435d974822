"""The dataset's "latest published" pointer in the jobs table, and how the change summary is shown: escaped on
the review page, escaped and bounded in the e-mail."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from etl_approval.review_page import review_page
from etl_aws import contract as C
from etl_aws import notify
from etl_aws.approval import ReviewView
from etl_aws.jobs import LATEST_PUBLISHED_PREFIX, JobsRepository
from etl_aws.layout import dataset_of
from etl_aws.models import JobStatus, ObjectRef
from etl_core import process
from etl_core.profile import describe_changes, diff_profiles
from tests.integration.etl_aws_support import shared_botocore_models


@pytest.fixture(autouse=True, scope="module")
def _models_parsed_once() -> Iterator[None]:
    with shared_botocore_models():
        yield


@pytest.fixture
def repo(aws: Any) -> JobsRepository:
    return JobsRepository(aws.resources["jobs_table"])


def profile_of(data: bytes) -> dict[str, Any]:
    return process(io.BytesIO(data), io.BytesIO(), io.BytesIO()).profile


def completed(repo: JobsRepository, job_id: str, finalized_at: str, records: int) -> Any:
    ref = ObjectRef(bucket="raw", key=f"uploads/sales/{job_id}.csv", version_id="v1", etag="e1", size=10)
    repo.create(job_id, C.DURABLE, ref, retention_days=30)
    rows = "".join(f"{i},n{i}\n" for i in range(records)).encode()
    fields = {"profile_json": json.dumps(profile_of(b"id,name\n" + rows)), "finalized_at": finalized_at}
    return repo.transition(job_id, list(JobStatus), JobStatus.COMPLETED, fields)


def test_dataset_is_the_upload_key_without_its_file_name() -> None:
    assert dataset_of("uploads/sales/2024/a.csv") == "uploads/sales/2024"
    assert dataset_of("a.csv") == ""


def test_a_dataset_has_no_published_version_until_one_is_marked(repo: JobsRepository) -> None:
    assert repo.latest_published("uploads/sales") is None

    repo.mark_published("uploads/sales", completed(repo, "job-1", "2026-01-01T00:00:00Z", 3))

    latest = repo.latest_published("uploads/sales")
    assert latest is not None
    assert (latest.job_id, latest.profile["records"]) == ("job-1", 3)
    assert repo.latest_published("uploads/other") is None


def test_an_older_publication_marked_late_does_not_replace_a_newer_one(repo: JobsRepository) -> None:
    newer = completed(repo, "job-new", "2026-01-02T00:00:00Z", 5)
    older = completed(repo, "job-old", "2026-01-01T00:00:00Z", 3)

    repo.mark_published("uploads/sales", newer)
    repo.mark_published("uploads/sales", older)  # e.g. a finalize re-run after a crash

    latest = repo.latest_published("uploads/sales")
    assert latest is not None
    assert latest.job_id == "job-new"


def test_listing_jobs_ignores_the_pointer_items(repo: JobsRepository) -> None:
    repo.mark_published("uploads/sales", completed(repo, "job-1", "2026-01-01T00:00:00Z", 3))

    everything, _ = repo.list_jobs()
    done, _ = repo.list_jobs(JobStatus.COMPLETED)

    assert [j.job_id for j in everything] == ["job-1"]
    assert [j.job_id for j in done] == ["job-1"]
    assert not any(j.job_id.startswith(LATEST_PUBLISHED_PREFIX) for j in everything)


def test_job_item_with_the_widest_profile_and_diff_stays_far_under_400_kb(repo: JobsRepository) -> None:
    names = [f"{'c' * 300}{i}" for i in range(300)]
    header = ",".join(["id", "name", "date", *names]).encode()
    before = profile_of(header + b"\n" + ",".join(["1", "a", "2024-01-01", *("1" for _ in names)]).encode())
    after = profile_of(
        header + b"\n" + ",".join(["1", "a", "2025-01-01", *("2e300" for _ in names)]).encode()
    )
    stored = {"profile_json": json.dumps(after), "changes_json": json.dumps(diff_profiles(before, after))}

    assert sum(len(v) for v in stored.values()) < 40 * 1024


HOSTILE = b'id,name,date,"<script>alert(1)</script>"\n1,a,2024-01-01,x\n'


def test_review_page_escapes_column_names_in_what_changed() -> None:
    changes = diff_profiles(profile_of(b"id,name,date\n1,a,2024-01-01\n"), profile_of(HOSTILE))
    changes["since"] = {"job_id": "job-0", "finalized_at": "2026-01-01T00:00:00Z"}
    view = ReviewView(job_id="job-1", file_name="b.csv", status=JobStatus.PENDING_APPROVAL, changes=changes)

    page = review_page(view)

    assert "What changed since the last published version" in page
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Compared with job job-0" in page


def test_review_page_says_first_publication_and_omits_the_section_without_a_profile() -> None:
    first = diff_profiles(None, profile_of(b"id,name,date\n1,a,2024-01-01\n"))
    base = {"job_id": "job-1", "file_name": "a.csv", "status": JobStatus.PENDING_APPROVAL}

    assert "First publication of this dataset (1 records)." in review_page(ReviewView(**base, changes=first))
    assert "What changed" not in review_page(ReviewView(**base))


def test_email_escapes_and_bounds_the_change_lines() -> None:
    spoof = b'id,name,"x\xe2\x80\xae\\nApprove here: http://evil"\n1,a,b\n'
    lines = describe_changes(diff_profiles(profile_of(b"id,name\n1,a\n"), profile_of(spoof)))

    _, body = notify.approval_message(
        "job-1", "a.csv", {"rows": 1}, {}, "https://api", "token", "2026-01-01T00:00:00Z", changes=lines
    )

    section = body.split("What changed since the last published version:\n", 1)[1].split("\n\n", 1)[0]
    assert "Columns added:" in section
    assert "\u202e" not in body
    assert "\\u202e" in section
    assert all(len(line) <= notify.MAX_CHANGE_LINE_CHARS + 2 for line in section.splitlines())
