"""Each function's settings read once from the environment into its own typed model; observability set up
in one module, and every log line of a job carrying its id and none of its secrets."""

from __future__ import annotations

import json
import pathlib
import re
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

import etl_aws
from etl_aws import config, observability, steps
from etl_aws import contract as C
from etl_aws.errors import FileRejected
from etl_aws.models import Decision, Outcome
from etl_aws.reviewers import ReviewConfig
from etl_local.resources import env_for
from tests.integration.etl_aws_support import (
    csv_bytes,
    mail,
    run_to_pending,
    shared_botocore_models,
    start_request,
    subscribe_queue,
    upload,
)

SOURCE = pathlib.Path(etl_aws.__file__).parent
DURABLE_ALIAS = "arn:aws:lambda:eu-west-1:123456789012:function:prod-durable-orchestrator:live"
STATE_MACHINE = "arn:aws:states:eu-west-1:123456789012:stateMachine:prod-etl"
# The request-approval task's environment: every variable a step reads.
FULL_ENV = {
    C.ENV_JOBS_TABLE: "prod-jobs",
    C.ENV_OUTPUT_BUCKET: "prod-output",
    C.ENV_TOPIC_ARN: "arn:aws:sns:eu-west-1:123456789012:prod-approvals",
    C.ENV_API_URL: "https://abc.execute-api.eu-west-1.amazonaws.com/prod",
    C.ENV_WORKFLOW: C.STEP_FUNCTIONS,
    C.ENV_APPROVAL_TIMEOUT: "7200",
    C.ENV_MAX_FILE_BYTES: "1048576",
    C.ENV_RETENTION_DAYS: "30",
}
# What provision() returns, as much as env_for reads of it.
STACK = {
    "jobs_table": "local-jobs",
    "topic_arn": "arn:aws:sns:us-east-1:123456789012:local-approvals",
    "pipelines": {w: {"output_bucket": f"local-{w}-output"} for w in C.WORKFLOWS},
}
ORCHESTRATORS = {"durable-starter": DURABLE_ALIAS, "sfn-starter": STATE_MACHINE}


def local_env(key: str) -> dict[str, str]:
    """The environment the local runtime gives function `key`."""
    return env_for(STACK, key, orchestrator_arn=ORCHESTRATORS.get(key, ""))


@pytest.fixture(autouse=True, scope="module")
def _models_parsed_once() -> Iterator[None]:
    with shared_botocore_models():
        yield


# ---- settings -----------------------------------------------------------------------------------------


def test_every_variable_lands_in_its_typed_field() -> None:
    cfg = config.SfnApprovalTaskSettings.from_env(FULL_ENV)

    assert cfg == config.SfnApprovalTaskSettings(
        jobs_table="prod-jobs",
        output_bucket="prod-output",
        topic_arn="arn:aws:sns:eu-west-1:123456789012:prod-approvals",
        api_url="https://abc.execute-api.eu-west-1.amazonaws.com/prod",
        workflow=C.STEP_FUNCTIONS,
        approval_timeout_seconds=7200,
        max_file_bytes=1048576,
        retention_days=30,
    )
    api = config.ApprovalApiSettings.from_env(
        {C.ENV_JOBS_TABLE: "t", C.ENV_TOPIC_ARN: "topic", C.ENV_REJECT_REASON_REQUIRED: "false"}
    )
    assert api.reject_reason_required is False
    assert api.topic_arn == "topic"


def test_unset_or_empty_optional_variables_take_the_contract_defaults() -> None:
    env = FULL_ENV | {C.ENV_APPROVAL_TIMEOUT: "", C.ENV_MAX_FILE_BYTES: "", C.ENV_RETENTION_DAYS: ""}

    cfg = config.SfnApprovalTaskSettings.from_env(env)

    assert cfg.approval_timeout_seconds == C.DEFAULT_APPROVAL_TIMEOUT_SECONDS == 24 * 3600
    assert cfg.max_file_bytes == C.DEFAULT_MAX_FILE_BYTES == 1024**3
    assert cfg.retention_days == C.DEFAULT_RETENTION_DAYS == 90
    api = config.ApprovalApiSettings.from_env({C.ENV_JOBS_TABLE: "t", C.ENV_TOPIC_ARN: "topic"})
    assert api.reject_reason_required is True
    assert api.review == ReviewConfig()  # no reviewers named: one shared link, one approval


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        (C.ENV_JOBS_TABLE, ""),
        (C.ENV_WORKFLOW, "step-functions"),
        (C.ENV_WORKFLOW, "Durable"),
        (C.ENV_WORKFLOW, C.DURABLE),  # a Step Functions task deployed with the durable pipeline's variables
        (C.ENV_APPROVAL_TIMEOUT, "0"),
        (C.ENV_APPROVAL_TIMEOUT, str(400 * 24 * 3600)),
        (C.ENV_APPROVAL_TIMEOUT, "one day"),
        (C.ENV_MAX_FILE_BYTES, "0"),
        (C.ENV_RETENTION_DAYS, "-1"),
        (C.ENV_MAX_FILE_BYTES, str(5 * 1024**3)),  # cannot be transformed within one invocation
    ],
    ids=lambda v: v or "empty",
)
def test_a_wrong_value_is_refused_at_startup_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(config.SettingsError, match=variable):
        config.SfnApprovalTaskSettings.from_env(FULL_ENV | {variable: value})


def test_records_that_would_expire_before_the_approval_wait_ends_are_refused() -> None:
    with pytest.raises(config.SettingsError, match="retention_days"):
        config.SfnApprovalTaskSettings.from_env(FULL_ENV | {C.ENV_RETENTION_DAYS: "1"})


def test_job_records_must_outlive_the_longest_approval_wait_by_a_margin() -> None:
    year = 365 * 24 * 3600
    needed = 365 + C.RETENTION_MARGIN_DAYS
    model = config.SfnApprovalTaskSettings

    with pytest.raises(config.SettingsError, match=rf"retention_days \(90\) must be at least {needed}"):
        model.from_env(FULL_ENV | {C.ENV_APPROVAL_TIMEOUT: str(year), C.ENV_RETENTION_DAYS: "90"})
    ok = model.from_env(FULL_ENV | {C.ENV_APPROVAL_TIMEOUT: str(year), C.ENV_RETENTION_DAYS: str(needed)})
    assert ok.retention_days * 86400 > ok.approval_timeout_seconds


def test_the_largest_file_is_one_a_single_invocation_can_transform() -> None:
    limit = C.max_transform_bytes(C.LAMBDA_MAX_TIMEOUT_SECONDS)
    model = config.SfnTaskSettings

    assert model.from_env(FULL_ENV | {C.ENV_MAX_FILE_BYTES: str(limit)}).max_file_bytes == limit
    with pytest.raises(config.SettingsError, match=C.ENV_MAX_FILE_BYTES):
        model.from_env(FULL_ENV | {C.ENV_MAX_FILE_BYTES: str(limit + 1)})


def test_the_size_refusal_states_the_limit_and_why() -> None:
    cfg = config.SfnTaskSettings.from_env(FULL_ENV)

    message = cfg.file_too_large(2_000_000)

    assert "2,000,000 bytes" in message
    assert "1,048,576 bytes" in message
    assert C.ENV_MAX_FILE_BYTES in message
    assert "one function invocation" in message


def test_every_contract_function_has_a_settings_model_reading_exactly_its_variables() -> None:
    assert set(config.FUNCTION_SETTINGS) == set(C.FUNCTIONS_BY_KEY)
    for spec in C.FUNCTIONS:
        assert set(config.FUNCTION_SETTINGS[spec.key].env_names()) == set(spec.env), spec.key


def test_every_env_name_of_the_contract_is_read_by_some_function() -> None:
    declared = {value for name, value in vars(C).items() if name.startswith("ENV_")}
    read = {name for model in config.FUNCTION_SETTINGS.values() for name in model.env_names()}

    assert read == declared


def test_only_the_functions_that_email_reviewers_require_the_topic_and_the_api_url() -> None:
    requiring = {
        key
        for key, model in config.FUNCTION_SETTINGS.items()
        if model.env_names().get(C.ENV_TOPIC_ARN) and model.env_names().get(C.ENV_API_URL)
    }

    assert requiring == {"durable-orchestrator", "sfn-request-approval"}


def test_an_approval_request_setting_without_a_topic_cannot_be_made() -> None:
    """The reviewers' e-mail is never skipped: no settings of a function that asks for a decision lack
    the topic it is published to, however they are made."""
    with pytest.raises(ValidationError, match=C.ENV_TOPIC_ARN):
        config.SfnApprovalTaskSettings.model_validate(FULL_ENV | {C.ENV_TOPIC_ARN: ""})
    with pytest.raises(ValidationError):
        config.DurableOrchestratorSettings(
            jobs_table="t", output_bucket="o", workflow=C.DURABLE, api_url="https://x", topic_arn=""
        )


REQUIRED = [
    (key, name)
    for key, model in config.FUNCTION_SETTINGS.items()
    for name, required in model.env_names().items()
    if required
]


@pytest.mark.parametrize(("key", "variable"), REQUIRED, ids=[f"{k}-{v}" for k, v in REQUIRED])
def test_a_missing_required_variable_is_refused_with_its_name(key: str, variable: str) -> None:
    env = local_env(key)
    del env[variable]

    with pytest.raises(config.SettingsError, match=rf"{variable}: required and not set"):
        config.for_function(key, env)


@pytest.mark.parametrize("key", list(config.FUNCTION_SETTINGS))
def test_each_model_accepts_the_environment_the_local_runtime_gives_it(key: str) -> None:
    env = local_env(key)

    cfg = config.for_function(key, env)

    assert isinstance(cfg, config.FUNCTION_SETTINGS[key])
    assert set(env) == set(type(cfg).env_names())  # exactly its own variables: no more, no fewer


@pytest.mark.parametrize(
    ("model", "arn"),
    [
        (config.DurableStarterSettings, DURABLE_ALIAS.removesuffix(":live")),  # unqualified: not the alias
        (config.DurableStarterSettings, STATE_MACHINE),
        (config.SfnStarterSettings, DURABLE_ALIAS),
    ],
    ids=["durable-unqualified", "durable-given-a-state-machine", "sfn-given-a-function"],
)
def test_a_starter_refuses_an_orchestrator_it_cannot_start(
    model: type[config.StarterSettings], arn: str
) -> None:
    env = {C.ENV_JOBS_TABLE: "t", C.ENV_WORKFLOW: model.WORKFLOW or "", C.ENV_ORCHESTRATOR_ARN: arn}

    with pytest.raises(config.SettingsError, match=C.ENV_ORCHESTRATOR_ARN):
        model.from_env(env)


def test_outside_a_function_settings_reads_the_model_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in local_env("sfn-extract").items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(C.ENV_OUTPUT_BUCKET)
    config.settings.cache_clear()

    assert config.settings().jobs_table == STACK["jobs_table"]
    with pytest.raises(config.SettingsError, match=f"{C.ENV_OUTPUT_BUCKET}: required and not set"):
        config.settings(config.SfnTaskSettings)
    config.settings.cache_clear()


def test_settings_are_read_once_and_reread_after_cache_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in local_env("approval-api").items():
        monkeypatch.setenv(name, value)
    config.settings.cache_clear()
    first = config.load(config.ApprovalApiSettings)
    monkeypatch.setenv(C.ENV_JOBS_TABLE, "other-jobs")

    assert config.load(config.ApprovalApiSettings) is first
    assert config.settings() is first
    config.settings.cache_clear()
    assert config.load(config.ApprovalApiSettings).jobs_table == "other-jobs"
    config.settings.cache_clear()


def test_the_settings_entered_for_a_function_must_be_its_model() -> None:
    with config.using(config.for_function("approval-api", local_env("approval-api"))):
        with pytest.raises(TypeError, match="SfnTaskSettings"):
            config.load(config.SfnTaskSettings)
        with pytest.raises(TypeError, match="StepSettings"):
            config.settings(config.StepSettings)


def test_the_environment_check_names_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in local_env("sfn-request-approval").items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(C.ENV_TOPIC_ARN)

    assert config.main(["sfn-request-approval"]) == 1
    assert f"{C.ENV_TOPIC_ARN}: required and not set" in capsys.readouterr().err
    assert config.main(["sfn-extract"]) == 0
    assert json.loads(capsys.readouterr().out)["output_bucket"] == STACK["pipelines"]["sfn"]["output_bucket"]


def _python_sources() -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(SOURCE.glob("*.py"))}


def test_only_the_config_module_reads_the_environment() -> None:
    readers = {
        name
        for name, text in _python_sources().items()
        if re.search(r"os\.environ|os\.getenv|getenv\(", text)
    }

    # observability reads Powertools' own variables (service name, namespace) for Powertools.
    assert readers <= {"config.py", "observability.py"}


def test_logger_metrics_and_tracer_are_created_in_one_module() -> None:
    creators = {
        name
        for name, text in _python_sources().items()
        if re.search(r"\b(Logger|Metrics|Tracer)\(", text) or "logging.getLogger(" in text
    }

    assert creators == {"observability.py"}
    assert observability.logger.service == observability.SERVICE


# ---- log lines ----------------------------------------------------------------------------------------


class _CurrentStdout:
    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture
def log_lines(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Powertools' JSON lines written to stdout while the test runs, at INFO and above."""
    logger = observability.logger
    level = logger.log_level
    # The handler keeps the stdout of the moment it was created: make it write to the current one,
    # which capsys replaces only once the test itself runs.
    monkeypatch.setattr(logger.registered_handler, "stream", _CurrentStdout())
    logger.setLevel("INFO")

    def read() -> list[dict[str, Any]]:
        out = capsys.readouterr().out
        records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        return [r for r in records if "_aws" not in r]  # metric documents (EMF) are not log lines

    yield read
    logger.setLevel(level)


def test_every_log_line_of_a_job_has_its_id_and_no_secret(aws: Any, log_lines: Any) -> None:
    cfg = aws.settings(C.DURABLE)
    queue = subscribe_queue(aws)
    callback = "callback-id-SECRET-5e9a1b7c"
    ref = upload(aws, "uploads/logged.csv", csv_bytes(rows=100))
    requested = run_to_pending(cfg, ref, callback)
    steps.finalize(requested.job_id, Outcome.APPROVED, Decision(approved=True), cfg=cfg)
    (message,) = mail(aws, queue)
    review_token = message["Message"].split("?token=", 1)[1].split()[0]

    lines = log_lines()

    assert {line["message"] for line in lines} >= {
        "extracted",
        "transformed",
        "approval requested",
        "finalized",
    }
    for line in lines:
        assert line["job_id"] == requested.job_id, line
        text = json.dumps(line)
        assert callback not in text
        assert review_token not in text


def test_the_log_lines_of_a_refused_file_have_its_own_job_id(aws: Any, log_lines: Any) -> None:
    cfg = aws.settings(C.DURABLE)
    run_to_pending(cfg, upload(aws, "uploads/first.csv", csv_bytes(rows=10)))
    log_lines()
    bad = upload(aws, "uploads/bad.csv", b"id,id\n1,2\n")

    with pytest.raises(FileRejected):
        steps.extract(start_request(bad), cfg)

    lines = log_lines()
    assert lines
    assert {line["job_id"] for line in lines} == {start_request(bad).job_id}
    assert any(line["level"] == "WARNING" and line.get("reason") == "duplicate_header" for line in lines)
