"""Settings read once from the environment into a typed model; nothing else reads os.environ."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache

from pydantic import BaseModel, Field, field_validator, model_validator

from etl_aws import contract as C


class Settings(BaseModel):
    """Everything a handler needs to know about its deployment."""

    jobs_table: str = Field(min_length=1)
    output_bucket: str = ""
    topic_arn: str = ""
    api_url: str = ""
    workflow: str = C.DURABLE
    orchestrator_arn: str = ""
    approval_timeout_seconds: int = Field(
        default=C.DEFAULT_APPROVAL_TIMEOUT_SECONDS, ge=1, le=366 * 24 * 3600
    )
    max_file_bytes: int = Field(
        default=C.DEFAULT_MAX_FILE_BYTES, ge=1, le=C.max_transform_bytes(C.LAMBDA_MAX_TIMEOUT_SECONDS)
    )
    retention_days: int = Field(default=C.DEFAULT_RETENTION_DAYS, ge=1)
    reject_reason_required: bool = True  # approval API: an operator's rejection must say why

    @field_validator("workflow")
    @classmethod
    def _known_workflow(cls, value: str) -> str:
        if value not in C.WORKFLOWS:
            raise ValueError(f"workflow must be one of {', '.join(C.WORKFLOWS)}, not {value!r}")
        return value

    @model_validator(mode="after")
    def _records_outlive_the_wait(self) -> Settings:
        """A job record expires (DynamoDB TTL) retention_days after it was created: it must still be there
        when the longest approval wait ends, or the decision would find no job."""
        needed = C.min_retention_days(self.approval_timeout_seconds)
        if self.retention_days < needed:
            raise ValueError(
                f"retention_days ({self.retention_days}) must be at least {needed}: job records must outlive "
                f"the approval timeout ({self.approval_timeout_seconds} s) by {C.RETENTION_MARGIN_DAYS} days"
            )
        return self

    def file_too_large(self, size: int) -> str:
        """Why a file of `size` bytes is refused: the limit, and where the limit comes from."""
        return (
            f"file is {size:,} bytes; the limit is {self.max_file_bytes:,} bytes ({C.ENV_MAX_FILE_BYTES}), "
            "set so that the transform of a whole file fits in one function invocation "
            f"(at most {C.LAMBDA_MAX_TIMEOUT_SECONDS} s, at an assumed "
            f"{C.TRANSFORM_BYTES_PER_SECOND / 1024**2:g} MiB/s)"
        )

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        values: dict[str, str] = {}
        for field, name in (
            ("jobs_table", C.ENV_JOBS_TABLE),
            ("output_bucket", C.ENV_OUTPUT_BUCKET),
            ("topic_arn", C.ENV_TOPIC_ARN),
            ("api_url", C.ENV_API_URL),
            ("workflow", C.ENV_WORKFLOW),
            ("orchestrator_arn", C.ENV_ORCHESTRATOR_ARN),
            ("approval_timeout_seconds", C.ENV_APPROVAL_TIMEOUT),
            ("max_file_bytes", C.ENV_MAX_FILE_BYTES),
            ("retention_days", C.ENV_RETENTION_DAYS),
            ("reject_reason_required", C.ENV_REJECT_REASON_REQUIRED),
        ):
            if env.get(name):
                values[field] = env[name]
        return cls.model_validate(values)


_current: ContextVar[Settings | None] = ContextVar("etl_settings", default=None)


@lru_cache(maxsize=1)
def _from_env() -> Settings:
    return Settings.from_env()


def settings() -> Settings:
    """The settings of the running function: read once from the environment.

    On Lambda every function is its own process. Where several functions share one process (the local
    runtime, tests), each call runs inside `using(...)` with that function's settings instead.
    """
    current = _current.get()
    return current if current is not None else _from_env()


settings.cache_clear = _from_env.cache_clear  # type: ignore[attr-defined]


@contextmanager
def using(cfg: Settings) -> Iterator[Settings]:
    """Run the enclosed code (in this thread or context) with `cfg` as the settings."""
    token = _current.set(cfg)
    try:
        yield cfg
    finally:
        _current.reset(token)
