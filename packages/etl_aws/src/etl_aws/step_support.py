"""What every step shares: the jobs repository of a function's settings, how a file is refused, and where
a job's source and dataset are read from its record."""

from __future__ import annotations

import contextlib
from typing import Any

from etl_aws.config import JobSettings
from etl_aws.errors import FileRejected, InvalidTransition
from etl_aws.jobs import Job, JobsRepository
from etl_aws.layout import dataset_of
from etl_aws.models import TERMINAL, JobStatus, Source
from etl_aws.observability import logger

NON_TERMINAL = [s for s in JobStatus if s not in TERMINAL]


def repo_for(cfg: JobSettings) -> JobsRepository:
    """The jobs table the function's settings name."""
    return JobsRepository(cfg.jobs_table)


def refuse(
    repo: JobsRepository, job_id: str, code: str, message: str, fields: dict[str, Any] | None = None
) -> FileRejected:
    """Mark the job FAILED with the reason (the source stays where it is) and return the error to raise.

    Idempotent: a job already terminal is left as it is. `fields`: more attributes to record with it."""
    error = {"error": {"code": code, "message": message}}
    with contextlib.suppress(InvalidTransition):  # already terminal: nothing more to record
        repo.transition(job_id, NON_TERMINAL, JobStatus.FAILED, {**error, **(fields or {})})
    logger.warning("file refused", extra={"reason": code, "detail": message})
    return FileRejected(message, code=code)


def recorded_failure(job: Job) -> FileRejected:
    """The error a FAILED job ended with, raised again when a step is re-run on it."""
    error = job.error or {}
    return FileRejected(error.get("message", "job failed"), code=error.get("code"))


def source_of(job: Job) -> Source:
    """The exact source object version the job reads."""
    return Source.model_validate(job.source)


def dataset_of_job(job: Job) -> str:
    """The dataset the job belongs to (recorded at transform; derived from the upload key before that)."""
    return job.dataset if job.dataset is not None else dataset_of(str(job.source.get("key", "")))
