"""The shared Tracer exists only where tracing is on: elsewhere no handler pays for the X-Ray SDK."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from aws_lambda_powertools import Tracer

from etl_aws import contract, observability
from etl_aws.observability import DisabledTracer, tracing_enabled

HANDLER_MODULES = sorted({spec.handler.rsplit(".", 1)[0] for spec in contract.FUNCTIONS})

ENVIRONMENTS = [
    pytest.param({}, False, id="outside-lambda"),
    pytest.param({"LAMBDA_TASK_ROOT": "/var/task"}, True, id="on-lambda"),
    pytest.param(
        {"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "true"}, False, id="disabled"
    ),
    pytest.param(
        {"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "0"}, True, id="not-disabled"
    ),
    pytest.param({"LAMBDA_TASK_ROOT": "/var/task", "AWS_SAM_LOCAL": "true"}, False, id="sam-local"),
    pytest.param({"LAMBDA_TASK_ROOT": "/var/task", "AWS_CHALICE_CLI_MODE": "true"}, False, id="chalice"),
    pytest.param({"POWERTOOLS_TRACE_DISABLED": "false"}, False, id="outside-lambda-not-disabled"),
]
TRACING_VARIABLES = ("LAMBDA_TASK_ROOT", "POWERTOOLS_TRACE_DISABLED", "AWS_SAM_LOCAL", "AWS_CHALICE_CLI_MODE")


@pytest.mark.parametrize(("environ", "enabled"), ENVIRONMENTS)
def test_tracing_is_enabled_exactly_where_powertools_enables_it(
    environ: dict[str, str], enabled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in TRACING_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)

    assert tracing_enabled(environ) is enabled
    assert (not Tracer._is_tracer_disabled()) is enabled  # Powertools' own rule, the oracle


def _handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"echo": event}


def test_disabled_tracer_decorators_hand_back_the_function_itself() -> None:
    tracer = DisabledTracer()

    assert tracer.capture_lambda_handler(_handler) is _handler
    assert tracer.capture_lambda_handler(capture_response=False)(_handler) is _handler
    assert tracer.capture_method(_handler) is _handler
    assert tracer.capture_method(capture_error=False)(_handler) is _handler


def test_disabled_tracer_records_nothing_and_serves_the_rest_as_a_disabled_powertools_tracer() -> None:
    tracer = DisabledTracer()

    tracer.put_annotation("job_id", "j-1")
    tracer.put_metadata("summary", {"rows": 1})
    assert tracer.disabled is True
    assert tracer.service == observability.SERVICE
    ignore: Callable[..., Any] = tracer.ignore_endpoint  # not stood in for: a real, disabled Tracer
    assert ignore.__self__.disabled is True


def _import_in_a_fresh_interpreter(module: str, **environ: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k not in TRACING_VARIABLES}
    env.update(environ)
    code = (
        "import json, sys\n"
        f"import {module}\n"
        "from etl_aws import observability\n"
        "print(json.dumps({'tracer': type(observability.tracer).__name__,"
        " 'xray': 'aws_xray_sdk' in sys.modules}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("module", HANDLER_MODULES)
def test_handler_imports_without_the_xray_sdk_where_tracing_is_off(module: str) -> None:
    loaded = _import_in_a_fresh_interpreter(module, POWERTOOLS_TRACE_DISABLED="true")

    assert loaded == {"tracer": "DisabledTracer", "xray": False}


@pytest.mark.parametrize("module", ["etl_sfn.tasks", "etl_approval.app"])
def test_on_lambda_with_tracing_on_the_handlers_get_the_powertools_tracer(module: str) -> None:
    loaded = _import_in_a_fresh_interpreter(module, LAMBDA_TASK_ROOT="/var/task", AWS_REGION="us-east-1")

    assert loaded == {"tracer": "Tracer", "xray": True}
