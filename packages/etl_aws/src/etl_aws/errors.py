"""Errors the steps and the approval service raise. Their class names are what orchestrators match on."""

from __future__ import annotations


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


class NotAwaitingDecision(PipelineError):
    """The job has not reached the approval step yet."""

    code = "not_pending"
