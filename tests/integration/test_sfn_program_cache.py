"""The local Step Functions builds a definition's evaluation components once and shares them between
executions; every execution still keeps its own state (here: its retry attempts)."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

from etl_local import sfn

RETRIES = 2


def _definition(function_arn: str) -> str:
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": function_arn, "Payload.$": "$"},
        "Retry": [{"ErrorEquals": ["TransientError"], "IntervalSeconds": 1, "MaxAttempts": RETRIES}],
        "End": True,
    }
    return json.dumps({"StartAt": "Flaky", "States": {"Flaky": task}})


def _run(states: Any, machine: str, name: str) -> str:
    arn = states.start_execution(stateMachineArn=machine, name=name, input=json.dumps({"run": name}))[
        "executionArn"
    ]
    return _wait(states, arn)


def _wait(states: Any, arn: str) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = states.describe_execution(executionArn=arn)["status"]
        if status != "RUNNING":
            return status
        time.sleep(0.05)
    raise AssertionError(f"execution {arn} did not end")


def test_executions_share_components_and_keep_their_own_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retrier_decl, "time", SimpleNamespace(sleep=lambda _seconds: None))
    built: list[int] = []
    visit = Preprocessor.visitState_machine

    def counted(self: Preprocessor, tree: Any) -> Any:
        built.append(1)
        return visit(self, tree)

    monkeypatch.setattr(Preprocessor, "visitState_machine", counted)
    calls: dict[str, int] = {}

    def always_failing(_name: str, event: Any) -> tuple[str, bool]:
        calls[event["run"]] = calls.get(event["run"], 0) + 1
        return json.dumps({"errorType": "TransientError", "errorMessage": "try again"}), True

    restores = [sfn.enable_execution(), sfn.cache_asl_parse(), sfn.route_lambda_invocations(always_failing)]
    try:
        with mock_aws():
            session = boto3.session.Session(region_name="us-east-1")
            role = sfn.create_role(session.client("iam"), "program-cache")
            function = sfn.create_function(session.client("lambda"), role, "flaky", "sfn-extract", {})
            states = session.client("stepfunctions")
            machine = states.create_state_machine(
                name="program-cache", definition=_definition(function), roleArn=role
            )["stateMachineArn"]

            ended = [_run(states, machine, name) for name in ("first", "second", "third")]
    finally:
        for restore in reversed(restores):
            restore()

    assert ended == ["FAILED"] * 3
    assert calls == {"first": 1 + RETRIES, "second": 1 + RETRIES, "third": 1 + RETRIES}
    assert len(built) == 1  # one build of the components for the definition, whatever the executions


def test_json_paths_parsed_once_give_the_same_results() -> None:
    state = {
        "Type": "Pass",
        "Parameters": {"v.$": "$.a.b", "all.$": "$.list[*].n"},
        "ResultPath": "$.copied",
        "End": True,
    }
    definition = json.dumps({"StartAt": "Copy", "States": {"Copy": state}})
    restores = [sfn.enable_execution(), sfn.cache_asl_parse(), sfn.cache_json_paths()]
    try:
        from moto.stepfunctions.parser.asl.utils import json_path

        with mock_aws():
            session = boto3.session.Session(region_name="us-east-1")
            role = sfn.create_role(session.client("iam"), "json-paths")
            states = session.client("stepfunctions")
            machine = states.create_state_machine(name="json-paths", definition=definition, roleArn=role)[
                "stateMachineArn"
            ]
            outputs = []
            for run, b in (("one", 7), ("two", 8)):
                arn = states.start_execution(
                    stateMachineArn=machine,
                    name=run,
                    input=json.dumps({"a": {"b": b}, "list": [{"n": 1}, {"n": 2}]}),
                )["executionArn"]
                assert _wait(states, arn) == "SUCCEEDED"
                outputs.append(json.loads(states.describe_execution(executionArn=arn)["output"]))
            parsed = json_path.parse.cache_info()  # type: ignore[attr-defined]
    finally:
        for restore in reversed(restores):
            restore()

    assert [o["copied"] for o in outputs] == [{"v": 7, "all": [1, 2]}, {"v": 8, "all": [1, 2]}]
    assert [o["a"] for o in outputs] == [{"b": 7}, {"b": 8}]
    assert parsed.misses == 2  # each path parsed once...
    assert parsed.hits >= 2  # ...then reused
