"""`etl_aws.handler.lambda_handler`, worn by every Lambda entry point: settings checked first, the event
never logged, metrics flushed only when recorded, and the undecorated function reachable."""

from __future__ import annotations

import importlib
import json
from typing import Any

import pytest
from pydantic import ValidationError

from etl_aws import config
from etl_aws import contract as C
from etl_aws.handler import lambda_handler
from etl_aws.observability import metrics

SECRET = "task-token-that-must-not-be-logged-0123456789"


class Context:
    function_name = "fn"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:fn"
    memory_limit_in_mb = 128
    aws_request_id = "req-1"
    log_group_name = "/aws/lambda/fn"
    log_stream_name = "stream"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Any:
    def set_env(**values: str) -> None:
        for name in (C.ENV_JOBS_TABLE, C.ENV_WORKFLOW):
            monkeypatch.delenv(name, raising=False)
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        config.settings.cache_clear()  # type: ignore[attr-defined]

    yield set_env
    config.settings.cache_clear()  # type: ignore[attr-defined]


def test_a_bad_environment_fails_before_the_handler_runs(env: Any) -> None:
    env(**{C.ENV_JOBS_TABLE: "jobs", C.ENV_WORKFLOW: "airflow"})
    ran: list[Any] = []

    @lambda_handler
    def handler(event: Any, context: Any) -> None:
        ran.append(event)

    with pytest.raises(ValidationError, match="workflow must be one of"):
        handler({}, Context())
    assert ran == []


def test_the_event_is_not_logged_even_with_log_event_on(
    env: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env(**{C.ENV_JOBS_TABLE: "jobs"})
    monkeypatch.setenv("POWERTOOLS_LOGGER_LOG_EVENT", "true")

    @lambda_handler
    def handler(event: Any, context: Any) -> str:
        return "done"

    assert handler({"token": SECRET}, Context()) == "done"
    assert SECRET not in capsys.readouterr().out


def test_recorded_metrics_are_flushed_even_when_the_handler_fails(
    env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    env(**{C.ENV_JOBS_TABLE: "jobs"})

    @lambda_handler
    def handler(event: Any, context: Any) -> None:
        metrics.add_metric(name="Probe", unit="Count", value=1)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        handler({}, Context())

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [line["Probe"] for line in lines] == [[1.0]]
    assert not metrics.metric_set


def test_nothing_is_printed_for_metrics_when_none_were_recorded(
    env: Any, capsys: pytest.CaptureFixture[str], recwarn: pytest.WarningsRecorder
) -> None:
    env(**{C.ENV_JOBS_TABLE: "jobs"})

    @lambda_handler
    def handler(event: Any, context: Any) -> int:
        return 1

    handler({}, Context())

    assert '"_aws"' not in capsys.readouterr().out
    assert not [w for w in recwarn if "metrics" in str(w.message)]


@pytest.mark.parametrize("spec", C.FUNCTIONS, ids=lambda f: f.key)
def test_every_function_handler_wears_lambda_handler(spec: C.FunctionSpec) -> None:
    module, name = spec.handler.rsplit(".", 1)
    handler = getattr(importlib.import_module(module), name)

    assert getattr(handler, "wired_by", None) is lambda_handler
    assert handler.__wrapped__.__code__.co_filename.endswith(module.replace(".", "/") + ".py")


def test_the_durable_handler_unwraps_to_its_workflow_not_the_sdk_wrapper() -> None:
    from etl_durable import orchestrator

    assert orchestrator.handler.__wrapped__.__code__.co_name == "handler"
    assert orchestrator.handler.__wrapped__.__code__.co_filename.endswith("etl_durable/orchestrator.py")
