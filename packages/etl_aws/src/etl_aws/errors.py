"""Errors the steps and the approval service raise. Their class names are what orchestrators match on."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class PipelineError(Exception):
    """Base of every error this package raises on purpose."""

    code = "pipeline_error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class FileRejected(PipelineError):
    """The uploaded file is refused as a whole (bad encoding, no header...). Permanent: never retried."""

    code = "file_rejected"


class TransientError(PipelineError):
    """A temporary AWS failure (throttling, 5xx, connection reset). Safe to retry the whole step."""

    code = "transient"


class JobNotFound(PipelineError):
    code = "not_found"


class InvalidTransition(PipelineError):
    """A conditional write refused: the job is not in a state that allows this change."""

    code = "invalid_transition"


class DecisionConflict(PipelineError):
    """Another, different decision was recorded first."""

    code = "conflict"


class DecisionGone(PipelineError):
    """The approval is over (expired, or the workflow no longer waits)."""

    code = "gone"


class JobCancelled(DecisionGone):
    """An operator cancelled the job: it no longer waits for a decision (answered 410, like expiry)."""

    code = "cancelled"


class ReviewLinkSuperseded(PipelineError):
    """A review link of an earlier approval request: a newer link was e-mailed; this one never decides
    (answered 410, with its own page)."""

    code = "superseded"


class StagedDataChanged(PipelineError):
    """A decision presented staged-data hashes that are not the job's recorded ones (answered 409)."""

    code = "staged_data_changed"


class NotAwaitingDecision(PipelineError):
    """The job has not reached the approval step yet."""

    code = "not_pending"


# ---- which AWS failures are transient ----------------------------------------------------------------

# Throttling and service-side errors: the request did not (or may not have) taken effect and the same
# request can be made again later. One table for every retry decision in this package; the durable retry
# policy and the state machine's Retry retry `TransientError`, which these become.
TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "InternalError",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceException",
        "RequestTimeout",
        "RequestTimeoutException",
        "KmsThrottlingException",
    }
)


def is_transient(exc: BaseException) -> bool:
    """A throttle, a 5xx, or a connection failure (a read timeout included: the call may have arrived)."""
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return code in TRANSIENT_CODES or status >= 500
    return isinstance(exc, ConnectionError | HTTPClientError)


def transient_aware(func: Callable[P, R]) -> Callable[P, R]:
    """Re-raise throttling, 5xx and connection failures as TransientError; everything else unchanged."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except TransientError:
            raise
        except Exception as exc:
            if not is_transient(exc):
                raise
            raise TransientError(f"{func.__name__}: {_describe(exc)}, retry later") from exc

    return wrapper


def _describe(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {})
        return f"AWS error {error.get('Code') or response.get('ResponseMetadata', {}).get('HTTPStatusCode')}"
    return f"connection problem ({type(exc).__name__})"


# ---- how both orchestrators retry a step ---------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """One retry policy for a step, whichever orchestrator runs it: the durable step's retry strategy and
    the state machine's `Retry` are both built from (or held to) this."""

    attempts: int = 5  # the first try included
    initial_delay_seconds: int = 2
    backoff_rate: float = 2.0
    max_delay_seconds: int = 30

    @property
    def retries(self) -> int:
        return self.attempts - 1


STEP_RETRY = RetryPolicy()
# What the state machine retries: a step's TransientError, and the Lambda service's own transient errors
# (https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html).
SFN_RETRYABLE_ERRORS = (
    "TransientError",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)


def asl_retry(policy: RetryPolicy = STEP_RETRY) -> dict[str, object]:
    """The ASL `Retry` entry of every task state, from the policy."""
    return {
        "ErrorEquals": list(SFN_RETRYABLE_ERRORS),
        "IntervalSeconds": policy.initial_delay_seconds,
        "MaxAttempts": policy.retries,
        "BackoffRate": policy.backoff_rate,
        "MaxDelaySeconds": policy.max_delay_seconds,
        "JitterStrategy": "FULL",
    }
