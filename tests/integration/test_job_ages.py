"""The jobs' ages, published on a schedule: a job that stopped moving shows, and so does an approval
about to expire (terraform/modules/monitoring alarms on both)."""

from __future__ import annotations

from itertools import pairwise
from types import SimpleNamespace
from typing import Any

import pytest

from etl_aws import clock, job_ages
from etl_aws import contract as C
from etl_aws.jobs import JobsRepository
from etl_aws.models import JobStatus, ObjectRef
from etl_aws.observability import NAMESPACE
from tests.integration.test_job_metrics import emf_points

SCHEDULE_EVENT = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-01-01T12:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/etl-job-ages"],
    "detail": {},
}
PATH = [JobStatus.RECEIVED, JobStatus.EXTRACTED, JobStatus.TRANSFORMED, JobStatus.LOADED]


def repo(aws: Any) -> JobsRepository:
    return JobsRepository(aws.resources["jobs_table"], aws.session.resource("dynamodb"))


def job_in(
    aws: Any, job_id: str, status: JobStatus, seconds_ago: float = 0, expires_in: float = 3600.0
) -> None:
    """A job that reached `status` `seconds_ago` seconds ago (an approval then had `expires_in` left)."""
    jobs = repo(aws)
    with clock.shifted(-seconds_ago):
        jobs.create(job_id, C.DURABLE, ObjectRef(bucket="raw", key=f"uploads/{job_id}.csv"), 90)
        for before, after in pairwise(PATH):
            if before == status:
                return
            jobs.transition(job_id, [before], after)
        if status == JobStatus.LOADED:
            return
        jobs.store_approval(job_id, "callback", "hash", clock.iso_in(expires_in))


def test_each_processing_status_reports_its_least_recently_changed_job(aws: Any) -> None:
    job_in(aws, "old-received", JobStatus.RECEIVED, seconds_ago=3600)
    job_in(aws, "new-received", JobStatus.RECEIVED, seconds_ago=10)
    job_in(aws, "transformed", JobStatus.TRANSFORMED, seconds_ago=600)

    published = job_ages.publish(aws.resources["jobs_table"], job_ages.JobAges(aws.resources["jobs_table"]))

    ages = published[job_ages.OLDEST_JOB_AGE]
    assert 3600 <= ages["RECEIVED"] < 3660
    assert 600 <= ages["TRANSFORMED"] < 660
    assert ages["EXTRACTED"] == ages["LOADED"] == ages["APPROVED"] == 0
    assert published[job_ages.JOBS_IN_STATE]["RECEIVED"] == 2
    assert published[job_ages.JOBS_IN_STATE]["TRANSFORMED"] == 1
    assert published[job_ages.JOBS_IN_STATE]["PENDING_APPROVAL"] == 0
    assert job_ages.APPROVAL_TIME_LEFT not in published  # nobody waits: nothing to alarm on


def test_the_earliest_approval_deadline_is_reported(aws: Any) -> None:
    job_in(aws, "later", JobStatus.PENDING_APPROVAL, expires_in=7200)
    job_in(aws, "sooner", JobStatus.PENDING_APPROVAL, seconds_ago=3000, expires_in=3600)

    published = job_ages.publish(aws.resources["jobs_table"])

    assert 540 < published[job_ages.APPROVAL_TIME_LEFT] <= 600
    assert published[job_ages.JOBS_IN_STATE]["PENDING_APPROVAL"] == 2


def test_the_ages_are_printed_as_emf_with_the_alarms_dimensions(
    aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    table = aws.resources["jobs_table"]
    job_in(aws, "stuck", JobStatus.EXTRACTED, seconds_ago=7200)
    job_in(aws, "waiting", JobStatus.PENDING_APPROVAL, expires_in=60)
    capsys.readouterr()

    job_ages.publish(table)
    points = emf_points(capsys.readouterr().out)

    by_name: dict[str, list[dict[str, Any]]] = {}
    for point in points:
        assert point["namespace"] == NAMESPACE
        by_name.setdefault(point["name"], []).append(point)
    stuck = [p for p in by_name[job_ages.OLDEST_JOB_AGE] if p["dimensions"]["Status"] == "EXTRACTED"]
    assert stuck[0]["dimensions"] == job_ages.dimensions(table, JobStatus.EXTRACTED)
    assert stuck[0]["unit"] == "Seconds"
    assert stuck[0]["value"] >= 7200
    assert {p["dimensions"]["Status"] for p in by_name[job_ages.OLDEST_JOB_AGE]} == {
        s.value for s in job_ages.PROCESSING
    }
    assert {p["dimensions"]["Status"] for p in by_name[job_ages.JOBS_IN_STATE]} == {
        s.value for s in job_ages.WAITING
    }
    [left] = by_name[job_ages.APPROVAL_TIME_LEFT]
    assert left["dimensions"] == job_ages.dimensions(table)
    assert 0 < left["value"] <= 60


def test_the_approval_function_answers_the_schedule_with_the_ages(aws: Any) -> None:
    from etl_approval.app import handler

    job_in(aws, "stuck", JobStatus.RECEIVED, seconds_ago=5400)
    context = SimpleNamespace(
        function_name="etl-approval-api",
        memory_limit_in_mb=256,
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:etl-approval-api:live",
        aws_request_id="r-1",
    )

    published = handler(SCHEDULE_EVENT, context)

    assert job_ages.is_schedule(SCHEDULE_EVENT)
    assert published[job_ages.OLDEST_JOB_AGE]["RECEIVED"] >= 5400


def test_an_api_request_is_not_taken_for_the_schedule() -> None:
    request = {"resource": "/jobs", "httpMethod": "GET", "requestContext": {"stage": "v1"}}

    assert not job_ages.is_schedule(request)
    assert not job_ages.is_schedule({"source": "aws.events", "detail-type": "Object Created"})
