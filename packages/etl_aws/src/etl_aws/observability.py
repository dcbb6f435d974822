"""Powertools Logger, Metrics and Tracer, created once for every handler and imported from here.

The Tracer is created only where tracing is on. Powertools' Tracer imports the X-Ray SDK and builds its
recorder (an X-Ray client included) even when it then disables itself, which costs every cold start
about as much as `import boto3` (`make bench`). Where tracing is off the handlers get `DisabledTracer`,
whose decorators return the function unchanged, which is what a disabled Powertools Tracer amounts to.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.shared.functions import strtobool

# The deployed functions set neither variable, so these defaults name their metrics (the alarms and the
# dashboard of terraform/modules/monitoring use them; tests/terraform holds the two equal).
DEFAULT_SERVICE = "csv-etl"
DEFAULT_NAMESPACE = "CsvEtl"
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", DEFAULT_SERVICE)
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", DEFAULT_NAMESPACE)

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def tracing_enabled(environ: Mapping[str, str] = os.environ) -> bool:
    """Powertools' own rule for an enabled Tracer: on Lambda, not under SAM or Chalice locally, and not
    turned off by POWERTOOLS_TRACE_DISABLED.

    Powertools: https://docs.aws.amazon.com/powertools/python/latest/core/tracer/ (Tracer is disabled
    outside Lambda); Lambda sets LAMBDA_TASK_ROOT in every function:
    https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
    """
    if strtobool(environ.get("POWERTOOLS_TRACE_DISABLED", "false")):
        return False
    if environ.get("AWS_SAM_LOCAL") or environ.get("AWS_CHALICE_CLI_MODE"):
        return False
    return bool(environ.get("LAMBDA_TASK_ROOT"))


class DisabledTracer:
    """Stands in for a disabled Powertools Tracer without importing the X-Ray SDK.

    The decorators hand the function back unchanged, annotations and metadata go nowhere; anything
    else is served by a disabled Powertools Tracer, created on first use.
    """

    service = SERVICE
    disabled = True

    def capture_lambda_handler(self, lambda_handler: Callable[..., Any] | None = None, **_: Any) -> Any:
        """`@tracer.capture_lambda_handler` and `@tracer.capture_lambda_handler(...)` both pass through."""
        return _unchanged if lambda_handler is None else lambda_handler

    def capture_method(self, method: Callable[..., Any] | None = None, **_: Any) -> Any:
        """`@tracer.capture_method` and `@tracer.capture_method(...)` both pass through."""
        return _unchanged if method is None else method

    def put_annotation(self, key: str, value: Any) -> None:
        """Nothing is recorded while tracing is off."""

    def put_metadata(self, key: str, value: Any, namespace: str | None = None) -> None:
        """Nothing is recorded while tracing is off."""

    def __getattr__(self, name: str) -> Any:
        return getattr(_powertools_disabled_tracer(), name)


def _unchanged(function: Callable[..., Any]) -> Callable[..., Any]:
    return function


@cache
def _powertools_disabled_tracer() -> Tracer:
    return Tracer(service=SERVICE, disabled=True)


tracer: Tracer | DisabledTracer = Tracer(service=SERVICE) if tracing_enabled() else DisabledTracer()


def bind_job(job_id: str) -> None:
    """Every log line after this carries the job id."""
    logger.append_keys(job_id=job_id)
