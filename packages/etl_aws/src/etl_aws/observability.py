"""Powertools Logger, Metrics and Tracer, created once for every handler and imported from here."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "csv-etl")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "CsvEtl")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
tracer = Tracer(service=SERVICE)


def bind_job(job_id: str) -> None:
    """Every log line after this carries the job id."""
    logger.append_keys(job_id=job_id)
