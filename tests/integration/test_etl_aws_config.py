"""Settings read once from the environment into one typed model; observability set up in one module, and
every log line of a job carrying its id and none of its secrets."""

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
from etl_aws.config import Settings
from etl_aws.errors import FileRejected
from etl_aws.models import Decision, Outcome
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
FULL_ENV = {
    C.ENV_JOBS_TABLE: "prod-jobs",
    C.ENV_OUTPUT_BUCKET: "prod-output",
    C.ENV_TOPIC_ARN: "arn:aws:sns:eu-west-1:123456789012:prod-approvals",
    C.ENV_API_URL: "https://abc.execute-api.eu-west-1.amazonaws.com/prod",
    C.ENV_WORKFLOW: C.STEP_FUNCTIONS,
    C.ENV_ORCHESTRATOR_ARN: "arn:aws:states:eu-west-1:123456789012:stateMachine:prod",
    C.ENV_APPROVAL_TIMEOUT: "7200",
    C.ENV_MAX_FILE_BYTES: "1048576",
    C.ENV_RETENTION_DAYS: "30",
    C.ENV_REJECT_REASON_REQUIRED: "false",
}


@pytest.fixture(autouse=True, scope="module")
def _models_parsed_once() -> Iterator[None]:
    with shared_botocore_models():
        yield


# ---- settings -----------------------------------------------------------------------------------------


def test_every_variable_lands_in_its_typed_field() -> None:
    cfg = Settings.from_env(FULL_ENV)

    assert cfg == Settings(
        jobs_table="prod-jobs",
        output_bucket="prod-output",
        topic_arn="arn:aws:sns:eu-west-1:123456789012:prod-approvals",
        api_url="https://abc.execute-api.eu-west-1.amazonaws.com/prod",
        workflow=C.STEP_FUNCTIONS,
        orchestrator_arn="arn:aws:states:eu-west-1:123456789012:stateMachine:prod",
        approval_timeout_seconds=7200,
        max_file_bytes=1048576,
        retention_days=30,
        reject_reason_required=False,
    )


def test_unset_or_empty_variables_take_the_defaults() -> None:
    cfg = Settings.from_env({C.ENV_JOBS_TABLE: "jobs", C.ENV_APPROVAL_TIMEOUT: "", C.ENV_WORKFLOW: ""})

    assert cfg.workflow == C.DURABLE
    assert cfg.approval_timeout_seconds == 24 * 3600
    assert cfg.max_file_bytes == C.DEFAULT_MAX_FILE_BYTES == 1024**3
    assert cfg.retention_days == 90
    assert cfg.output_bucket == cfg.topic_arn == cfg.api_url == ""


@pytest.mark.parametrize(
    "overrides",
    [
        {C.ENV_JOBS_TABLE: ""},
        {C.ENV_WORKFLOW: "step-functions"},
        {C.ENV_WORKFLOW: "Durable"},
        {C.ENV_APPROVAL_TIMEOUT: "0"},
        {C.ENV_APPROVAL_TIMEOUT: str(400 * 24 * 3600)},
        {C.ENV_APPROVAL_TIMEOUT: "one day"},
        {C.ENV_MAX_FILE_BYTES: "0"},
        {C.ENV_RETENTION_DAYS: "-1"},
        {C.ENV_MAX_FILE_BYTES: str(5 * 1024**3)},  # cannot be transformed within one invocation
        {C.ENV_RETENTION_DAYS: "1"},  # records would expire before the approval wait ends
    ],
    ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()),
)
def test_a_wrong_value_is_refused_at_startup(overrides: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        Settings.from_env(FULL_ENV | overrides)


def test_job_records_must_outlive_the_longest_approval_wait_by_a_margin() -> None:
    year = 365 * 24 * 3600
    needed = 365 + C.RETENTION_MARGIN_DAYS

    with pytest.raises(ValidationError, match=rf"retention_days \(90\) must be at least {needed}"):
        Settings.from_env(FULL_ENV | {C.ENV_APPROVAL_TIMEOUT: str(year), C.ENV_RETENTION_DAYS: "90"})
    ok = Settings.from_env(FULL_ENV | {C.ENV_APPROVAL_TIMEOUT: str(year), C.ENV_RETENTION_DAYS: str(needed)})
    assert ok.retention_days * 86400 > ok.approval_timeout_seconds


def test_the_largest_file_is_one_a_single_invocation_can_transform() -> None:
    limit = C.max_transform_bytes(C.LAMBDA_MAX_TIMEOUT_SECONDS)

    assert Settings.from_env(FULL_ENV | {C.ENV_MAX_FILE_BYTES: str(limit)}).max_file_bytes == limit
    with pytest.raises(ValidationError):
        Settings.from_env(FULL_ENV | {C.ENV_MAX_FILE_BYTES: str(limit + 1)})


def test_the_size_refusal_states_the_limit_and_why() -> None:
    cfg = Settings.from_env(FULL_ENV)

    message = cfg.file_too_large(2_000_000)

    assert "2,000,000 bytes" in message
    assert "1,048,576 bytes" in message
    assert C.ENV_MAX_FILE_BYTES in message
    assert "one function invocation" in message


def test_every_variable_a_function_is_given_is_one_the_settings_read() -> None:
    read = {value for name, value in vars(C).items() if name.startswith("ENV_")}

    for function in C.FUNCTIONS:
        assert set(function.env) <= read, function.key
    assert set(FULL_ENV) == read


def test_settings_are_read_once_and_reread_after_cache_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in FULL_ENV.items():
        monkeypatch.setenv(name, value)
    config.settings.cache_clear()
    first = config.settings()
    monkeypatch.setenv(C.ENV_JOBS_TABLE, "other-jobs")

    assert config.settings() is first
    config.settings.cache_clear()
    assert config.settings().jobs_table == "other-jobs"
    config.settings.cache_clear()


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
        return [json.loads(line) for line in out.splitlines() if line.startswith("{")]

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
