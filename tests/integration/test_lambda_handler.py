"""`etl_aws.handler.lambda_handler`, worn by every Lambda entry point: settings checked first, the event
never logged, metrics flushed only when recorded, and the undecorated function reachable."""

from __future__ import annotations

import importlib
import json
from typing import Any

import pytest

from etl_aws import config
from etl_aws import contract as C
from etl_aws.handler import lambda_handler
from etl_aws.observability import metrics
from etl_local.resources import env_for

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
        for name in {n for model in config.FUNCTION_SETTINGS.values() for n in model.env_names()}:
            monkeypatch.delenv(name, raising=False)
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        config.settings.cache_clear()  # type: ignore[attr-defined]

    yield set_env
    config.settings.cache_clear()  # type: ignore[attr-defined]


def test_a_bad_environment_fails_before_the_handler_runs(env: Any) -> None:
    env(**{C.ENV_JOBS_TABLE: "jobs", C.ENV_WORKFLOW: "airflow"})
    ran: list[Any] = []

    @lambda_handler(settings=config.JobSettings)
    def handler(event: Any, context: Any) -> None:
        ran.append(event)

    with pytest.raises(config.SettingsError, match=f"{C.ENV_WORKFLOW}: workflow must be one of"):
        handler({}, Context())
    assert ran == []


STACK = {
    "jobs_table": "jobs",
    "topic_arn": "arn:aws:sns:us-east-1:123456789012:approvals",
    "pipelines": {w: {"output_bucket": f"{w}-out"} for w in C.WORKFLOWS},
}
ORCHESTRATORS = {
    "durable-starter": "arn:aws:lambda:us-east-1:123456789012:function:durable-orchestrator:live",
    "sfn-starter": "arn:aws:states:us-east-1:123456789012:stateMachine:etl",
}
REQUIRED = [
    (spec, name)
    for spec in C.FUNCTIONS
    for name, required in config.FUNCTION_SETTINGS[spec.key].env_names().items()
    if required
]


@pytest.mark.parametrize(("spec", "variable"), REQUIRED, ids=[f"{s.key}-{v}" for s, v in REQUIRED])
def test_a_missing_required_variable_fails_the_first_invocation_naming_it(
    env: Any, spec: C.FunctionSpec, variable: str
) -> None:
    """The real entry point, deployed without one variable it requires: the first invocation fails with
    the variable's name before the handler reads its event (an empty event would fail otherwise)."""
    deployed = env_for(STACK, spec.key, orchestrator_arn=ORCHESTRATORS.get(spec.key, ""))
    env(**{name: value for name, value in deployed.items() if name != variable})
    module, name = spec.handler.rsplit(".", 1)
    handler = getattr(importlib.import_module(module), name)

    with pytest.raises(config.SettingsError, match=rf"environment: {variable}: required and not set") as err:
        handler({}, Context())
    assert ";" not in str(err.value), "the only problem reported is the missing variable"


def test_an_entry_point_that_is_no_contract_function_is_refused_at_import() -> None:
    def handler(event: Any, context: Any) -> None: ...

    with pytest.raises(LookupError, match="not the handler of any function"):
        lambda_handler(handler)


def test_the_event_is_not_logged_even_with_log_event_on(
    env: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env(**{C.ENV_JOBS_TABLE: "jobs"})
    monkeypatch.setenv("POWERTOOLS_LOGGER_LOG_EVENT", "true")

    @lambda_handler(settings=config.FunctionSettings)
    def handler(event: Any, context: Any) -> str:
        return "done"

    assert handler({"token": SECRET}, Context()) == "done"
    assert SECRET not in capsys.readouterr().out


def test_recorded_metrics_are_flushed_even_when_the_handler_fails(
    env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    env(**{C.ENV_JOBS_TABLE: "jobs"})

    @lambda_handler(settings=config.FunctionSettings)
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

    @lambda_handler(settings=config.FunctionSettings)
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
    assert handler.settings_model is config.FUNCTION_SETTINGS[spec.key]
    assert handler.__wrapped__.__code__.co_filename.endswith(module.replace(".", "/") + ".py")


def test_the_durable_handler_unwraps_to_its_workflow_not_the_sdk_wrapper() -> None:
    from etl_durable import orchestrator

    assert orchestrator.handler.__wrapped__.__code__.co_name == "handler"
    assert orchestrator.handler.__wrapped__.__code__.co_filename.endswith("etl_durable/orchestrator.py")
