"""Settings read once from the environment into a typed model; nothing else reads os.environ."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache

from pydantic import BaseModel, Field, field_validator

from etl_aws import contract as C


class Settings(BaseModel):
    """Everything a handler needs to know about its deployment."""

    jobs_table: str = Field(min_length=1)
    output_bucket: str = ""
    topic_arn: str = ""
    api_url: str = ""
    workflow: str = C.DURABLE
    orchestrator_arn: str = ""
    approval_timeout_seconds: int = Field(default=24 * 3600, ge=1, le=366 * 24 * 3600)
    max_file_bytes: int = Field(default=5 * 1024**3, ge=1)
    retention_days: int = Field(default=90, ge=1)

    @field_validator("workflow")
    @classmethod
    def _known_workflow(cls, value: str) -> str:
        if value not in C.WORKFLOWS:
            raise ValueError(f"workflow must be one of {', '.join(C.WORKFLOWS)}, not {value!r}")
        return value

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
