"""Each function's environment read once into a typed model of its own; nothing else reads os.environ.

Every function has one model (`FUNCTION_SETTINGS`, keyed like `etl_aws.contract.FUNCTIONS`) declaring only
the variables that function reads, each field aliased to its variable's name. A required variable missing,
or a value out of range, fails the function's first invocation (`etl_aws.handler.lambda_handler`) with a
`SettingsError` naming the variable, before any work is done. The same check runs without invoking:

    python -m etl_aws.config sfn-request-approval      # exit 1 and the problems, or the settings

On Lambda every function is its own process; where several share one (the local runtime, tests), each
invocation runs inside `using(...)` with that function's own settings.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, ClassVar, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from etl_aws import contract as C
from etl_aws.policy import Policies
from etl_aws.reviewers import ReviewConfig

Model = TypeVar("Model", bound="FunctionSettings")


class SettingsError(ValueError):
    """A function's environment does not hold what its settings model requires."""

    @classmethod
    def of(cls, model: type[FunctionSettings], exc: ValidationError) -> SettingsError:
        """One line per bad variable: its name, what is wrong, and what the variable is for."""
        problems = []
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "environment"
            field = model.model_fields.get(model.field_for(name) or "")
            what = "required and not set" if error["type"] == "missing" else error["msg"]
            what = what.removeprefix("Value error, ")
            if len(error["loc"]) > 1:  # inside a JSON value: say where
                what += " at " + ".".join(str(part) for part in error["loc"][1:])
            purpose = f" ({field.description})" if field and field.description else ""
            problems.append(f"{name}: {what}{purpose}")
        return cls(f"{model.__name__}: invalid environment: " + "; ".join(problems))


def _env(name: str, description: str, **constraints: Any) -> Any:
    """A field read from the environment variable `name` (required unless a default is given)."""
    return Field(alias=name, description=description, **constraints)


class FunctionSettings(BaseModel):
    """What every function reads: the jobs table. Subclasses add their own variables."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    jobs_table: str = _env(C.ENV_JOBS_TABLE, "the jobs table's name", min_length=1)

    @classmethod
    def env_names(cls) -> dict[str, bool]:
        """Each variable this model reads → whether it is required."""
        return {field.alias or name: field.is_required() for name, field in cls.model_fields.items()}

    @classmethod
    def field_for(cls, variable: str) -> str | None:
        """The field read from `variable`."""
        return next((n for n, f in cls.model_fields.items() if f.alias == variable), None)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        """Read this model's variables (an empty value counts as unset). Raises SettingsError."""
        source = os.environ if env is None else env
        values = {name: source[name] for name in cls.env_names() if source.get(name)}
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise SettingsError.of(cls, exc) from None


class ReviewSettings(FunctionSettings):
    """A function that needs to know who reviews each dataset (etl_aws.reviewers)."""

    review: ReviewConfig = _env(
        C.ENV_REVIEW_CONFIG, "who reviews each dataset (JSON; unset: one shared link)", default=ReviewConfig()
    )

    @field_validator("review", mode="before")
    @classmethod
    def _review_json(cls, value: Any) -> Any:
        try:
            return ReviewConfig.parse(value)
        except ValueError as exc:
            raise ValueError(f"not JSON: {exc}") from None


class ApprovalApiSettings(ReviewSettings):
    """The approval API (its schedule also sends the reviewers' reminders, to the topic)."""

    topic_arn: str = _env(C.ENV_TOPIC_ARN, "the SNS topic reminders are published to", min_length=1)

    reject_reason_required: bool = _env(
        C.ENV_REJECT_REASON_REQUIRED,
        "whether an operator's rejection must give a reason",
        default=C.DEFAULT_REJECT_REASON_REQUIRED,
    )


class JobSettings(FunctionSettings):
    """A function that creates job records: which workflow they belong to and how long they are kept."""

    WORKFLOW: ClassVar[str | None] = None  # the one workflow this function belongs to, when fixed

    workflow: str = _env(C.ENV_WORKFLOW, f"the workflow: {' or '.join(C.WORKFLOWS)}")
    retention_days: int = _env(
        C.ENV_RETENTION_DAYS, "days a job record is kept", default=C.DEFAULT_RETENTION_DAYS, ge=1
    )

    @field_validator("workflow")
    @classmethod
    def _known_workflow(cls, value: str) -> str:
        allowed = (cls.WORKFLOW,) if cls.WORKFLOW else C.WORKFLOWS
        if value not in allowed:
            raise ValueError(f"workflow must be one of {', '.join(allowed)}, not {value!r}")
        return value


class StarterSettings(JobSettings):
    """A starter: records the job and starts the orchestrator named by ORCHESTRATOR_ARN."""

    ORCHESTRATOR_ARN: ClassVar[re.Pattern[str]] = re.compile(r"arn:aws[a-z-]*:.+")
    ARN_SHAPE: ClassVar[str] = "an ARN"

    orchestrator_arn: str = _env(C.ENV_ORCHESTRATOR_ARN, "the orchestrator the starter starts")

    @field_validator("orchestrator_arn")
    @classmethod
    def _orchestrator_shape(cls, value: str) -> str:
        if not cls.ORCHESTRATOR_ARN.fullmatch(value):
            raise ValueError(f"{value!r} is not {cls.ARN_SHAPE}")
        return value


class DurableStarterSettings(StarterSettings):
    """The durable starter: the orchestrator is always invoked through its alias (a qualified ARN)."""

    WORKFLOW = C.DURABLE
    ORCHESTRATOR_ARN = re.compile(r"arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[\w-]+:[\w-]+")
    ARN_SHAPE = "a Lambda function ARN qualified by its alias"


class SfnStarterSettings(StarterSettings):
    """The Step Functions starter: the orchestrator is the state machine."""

    WORKFLOW = C.STEP_FUNCTIONS
    ORCHESTRATOR_ARN = re.compile(r"arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[\w-]+")
    ARN_SHAPE = "a Step Functions state machine ARN"


class StepSettings(JobSettings):
    """A function that runs the pipeline steps: where outputs are staged, the largest file accepted."""

    output_bucket: str = _env(
        C.ENV_OUTPUT_BUCKET, "the bucket outputs are staged and published in", min_length=1
    )
    max_file_bytes: int = _env(
        C.ENV_MAX_FILE_BYTES,
        "the largest upload a job accepts",
        default=C.DEFAULT_MAX_FILE_BYTES,
        ge=1,
        le=C.max_transform_bytes(C.LAMBDA_MAX_TIMEOUT_SECONDS),
    )

    def file_too_large(self, size: int) -> str:
        """Why a file of `size` bytes is refused: the limit, and where the limit comes from."""
        return (
            f"file is {size:,} bytes; the limit is {self.max_file_bytes:,} bytes ({C.ENV_MAX_FILE_BYTES}), "
            "set so that the transform of a whole file fits in one function invocation "
            f"(at most {C.LAMBDA_MAX_TIMEOUT_SECONDS} s, at an assumed "
            f"{C.TRANSFORM_BYTES_PER_SECOND / 1024**2:g} MiB/s)"
        )


class LoadSettings(StepSettings):
    """A function that runs the load step, which sorts the staged result into a quality band."""

    dataset_policies: Policies = _env(
        C.ENV_DATASET_POLICIES,
        "the quality policies per dataset, as JSON (etl_aws.policy.Policies); unset: every job waits",
        default=Policies(),
    )

    @field_validator("dataset_policies", mode="before")
    @classmethod
    def _parse_policies(cls, value: Any) -> Any:
        return Policies.from_json(value) if isinstance(value, str) else value


class ApprovalRequestSettings(StepSettings, ReviewSettings):
    """A function that asks for the decision: it e-mails the reviewers a link to the API (both required)."""

    topic_arn: str = _env(
        C.ENV_TOPIC_ARN, "the SNS topic the reviewers' e-mail is published to", min_length=1
    )
    api_url: str = _env(C.ENV_API_URL, "the approval API's URL, for the review link", min_length=1)
    approval_timeout_seconds: int = _env(
        C.ENV_APPROVAL_TIMEOUT,
        "how long a job waits for a decision",
        default=C.DEFAULT_APPROVAL_TIMEOUT_SECONDS,
        ge=1,
        le=366 * 24 * 3600,
    )

    @model_validator(mode="after")
    def _records_outlive_the_wait(self) -> Self:
        """A job record expires (DynamoDB TTL) retention_days after it was created: it must still be there
        when the longest approval wait ends, or the decision would find no job."""
        needed = C.min_retention_days(self.approval_timeout_seconds)
        if self.retention_days < needed:
            raise ValueError(
                f"retention_days ({self.retention_days}) must be at least {needed}: job records must outlive "
                f"the approval timeout ({self.approval_timeout_seconds} s) by {C.RETENTION_MARGIN_DAYS} days"
            )
        return self


class DurableOrchestratorSettings(ApprovalRequestSettings, LoadSettings):
    """The durable orchestrator: runs every step, the load and the approval request included."""

    WORKFLOW = C.DURABLE


class SfnTaskSettings(StepSettings):
    """The Step Functions extract, transform, load and finalize tasks."""

    WORKFLOW = C.STEP_FUNCTIONS


class SfnLoadTaskSettings(LoadSettings):
    """The Step Functions load task."""

    WORKFLOW = C.STEP_FUNCTIONS


class SfnApprovalTaskSettings(ApprovalRequestSettings):
    """The Step Functions request-approval task."""

    WORKFLOW = C.STEP_FUNCTIONS


# Which model each function reads, by etl_aws.contract.FUNCTIONS key.
FUNCTION_SETTINGS: dict[str, type[FunctionSettings]] = {
    "durable-orchestrator": DurableOrchestratorSettings,
    "durable-starter": DurableStarterSettings,
    "sfn-extract": SfnTaskSettings,
    "sfn-transform": SfnTaskSettings,
    "sfn-load": SfnLoadTaskSettings,
    "sfn-request-approval": SfnApprovalTaskSettings,
    "sfn-finalize": SfnTaskSettings,
    "sfn-starter": SfnStarterSettings,
    "approval-api": ApprovalApiSettings,
}


def model_of_handler(handler_path: str) -> type[FunctionSettings]:
    """The settings model of the function whose entry point is `handler_path` (module.function)."""
    for spec in C.FUNCTIONS:
        if spec.handler == handler_path:
            return FUNCTION_SETTINGS[spec.key]
    raise LookupError(f"{handler_path} is not the handler of any function in etl_aws.contract.FUNCTIONS")


def for_function(key: str, env: Mapping[str, str] | None = None) -> FunctionSettings:
    """The settings of function `key` from `env` (default: os.environ). Raises SettingsError."""
    return FUNCTION_SETTINGS[key].from_env(env)


# ---- the running function's settings ---------------------------------------------------------------

_current: ContextVar[FunctionSettings | None] = ContextVar("etl_settings", default=None)
_loaded: dict[type[FunctionSettings], FunctionSettings] = {}


def load(model: type[Model]) -> Model:
    """This process's settings as `model`, read from os.environ once (a Lambda function's cold start).

    Inside `using(...)` the settings entered there are returned instead, and must be a `model`."""
    current = _current.get()
    if current is None:
        current = _loaded.get(model)
        if current is None:
            current = _loaded[model] = model.from_env()
    if not isinstance(current, model):
        raise TypeError(f"the function reads {model.__name__}, but runs with {type(current).__name__}")
    return current


def settings(model: type[Model] = FunctionSettings) -> Model:  # type: ignore[assignment]
    """The running function's settings, checked to be a `model`.

    Those entered with `using(...)` (the entry point enters its own for each invocation), else those this
    process loaded as a `model` (a durable workflow's worker thread on Lambda), else `load(model)`."""
    current = _current.get()
    if current is None:
        loaded = (cfg for cfg in reversed(_loaded.values()) if isinstance(cfg, model))
        current = next(loaded, None) or load(model)
    if not isinstance(current, model):
        raise TypeError(f"{model.__name__} needed, but the function runs with {type(current).__name__}")
    return current


def _forget_loaded() -> None:
    """Read the environment again at the next `load` (tests that change it)."""
    _loaded.clear()


settings.cache_clear = _forget_loaded  # type: ignore[attr-defined]


@contextmanager
def using(cfg: FunctionSettings) -> Iterator[FunctionSettings]:
    """Run the enclosed code (in this thread or context) with `cfg` as the settings."""
    token = _current.set(cfg)
    try:
        yield cfg
    finally:
        _current.reset(token)


def main(argv: list[str] | None = None) -> int:
    """`python -m etl_aws.config KEY`: check function KEY's environment: its settings, or the problems."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] not in FUNCTION_SETTINGS:
        print(f"usage: python -m etl_aws.config {{{','.join(FUNCTION_SETTINGS)}}}", file=sys.stderr)
        return 2
    try:
        cfg = for_function(args[0])
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(cfg.model_dump_json(indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
