"""Static checks of the ASL: the template Terraform renders, its graph, its retries and catches, its cost."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from etl_aws import contract as C
from etl_sfn import definition_template, render_definition

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 86_400
ARNS = {step: f"arn:aws:lambda:us-east-1:123456789012:function:t-{step}:live" for step in C.ASL_PLACEHOLDERS}
TRANSIENT = {
    "TransientError",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}
TERMINAL_TYPES = {"Choice", "Fail", "Succeed"}
FINALIZE_STATES = {
    "Publish": "approved",
    "Discard": "rejected",
    "Expire": "expired",
    "RecordFailure": "failed",
}


@pytest.fixture(scope="module")
def asl() -> dict[str, Any]:
    return json.loads(render_definition(ARNS, TIMEOUT))


def states(asl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return asl["States"]


def tasks(asl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in states(asl).items() if s["Type"] == "Task"}


def targets(state: dict[str, Any]) -> list[str]:
    """Every state this one can move to."""
    found = [state["Next"]] if "Next" in state else []
    found += [choice["Next"] for choice in state.get("Choices", [])]
    found += [state["Default"]] if "Default" in state else []
    found += [catch["Next"] for catch in state.get("Catch", [])]
    return found


def lookup(data: Any, path: str) -> tuple[bool, Any]:
    """A plain `$.a.b` JSONPath: (present, value)."""
    for part in path.removeprefix("$.").split("."):
        if not isinstance(data, dict) or part not in data:
            return False, None
        data = data[part]
    return True, data


def matches(rule: dict[str, Any], data: Any) -> bool:
    """The Choice rule operators this definition uses; anything else fails the test loudly."""
    if "And" in rule:
        return all(matches(r, data) for r in rule["And"])
    if "Or" in rule:
        return any(matches(r, data) for r in rule["Or"])
    if "Not" in rule:
        return not matches(rule["Not"], data)
    present, value = lookup(data, rule["Variable"])
    if "IsPresent" in rule:
        return present == rule["IsPresent"]
    if "BooleanEquals" in rule:
        return present and isinstance(value, bool) and value == rule["BooleanEquals"]
    raise AssertionError(f"operator not understood by this test: {rule}")


def walk(asl: dict[str, Any], state_data: dict[str, Any], error: str | None = None) -> list[str]:
    """The states entered on a path: success everywhere, or `error` raised by the approval task."""
    path, name = [], asl["StartAt"]
    while True:
        path.append(name)
        state = states(asl)[name]
        assert len(path) < 20, f"no end in sight: {path}"
        if state["Type"] in ("Succeed", "Fail") or state.get("End"):
            return path
        if state["Type"] == "Choice":
            chosen = [c["Next"] for c in state["Choices"] if matches(c, state_data)]
            name = chosen[0] if chosen else state["Default"]
        elif error and name == "RequestApproval":
            name = next(c["Next"] for c in state["Catch"] if error in c["ErrorEquals"])
        else:
            name = state["Next"]


# ---- the template ---------------------------------------------------------------------------------


def test_template_is_the_file_named_in_the_contract() -> None:
    assert (ROOT / C.ASL_PATH).read_text() == definition_template()


def test_template_has_every_placeholder_and_no_other() -> None:
    found = set(re.findall(r"\$\{[A-Za-z0-9_]+\}", definition_template()))

    assert found == {*C.ASL_PLACEHOLDERS.values(), C.ASL_TIMEOUT_PLACEHOLDER}


def test_timeout_placeholder_is_a_bare_number_and_renders_as_one(asl: dict[str, Any]) -> None:
    assert f'"TimeoutSeconds": {C.ASL_TIMEOUT_PLACEHOLDER}' in definition_template()
    assert states(asl)["RequestApproval"]["TimeoutSeconds"] == TIMEOUT


def test_template_has_nothing_terraform_would_interpolate_but_the_placeholders() -> None:
    text = definition_template()
    for placeholder in [*C.ASL_PLACEHOLDERS.values(), C.ASL_TIMEOUT_PLACEHOLDER]:
        text = text.replace(placeholder, "")
    assert "${" not in text
    assert "%{" not in text


def test_render_refuses_a_missing_function_arn() -> None:
    with pytest.raises(ValueError, match="finalize"):
        render_definition({k: v for k, v in ARNS.items() if k != "finalize"}, TIMEOUT)


def test_the_rendered_definition_parses_as_asl() -> None:
    """The ASL grammar the local runtime executes the definition with accepts it."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    AmazonStateLanguageParser.parse(render_definition(ARNS, TIMEOUT))


def test_handlers_named_in_the_contract_exist() -> None:
    for spec in C.FUNCTIONS:
        if spec.package == C.STEP_FUNCTIONS:
            module, _, name = spec.handler.rpartition(".")
            assert callable(getattr(importlib.import_module(module), name)), spec.handler


# ---- the graph ------------------------------------------------------------------------------------


def test_definition_is_jsonpath(asl: dict[str, Any]) -> None:
    assert asl["QueryLanguage"] == "JSONPath"
    assert all(s.get("QueryLanguage", "JSONPath") == "JSONPath" for s in states(asl).values())


def test_every_transition_target_exists(asl: dict[str, Any]) -> None:
    assert asl["StartAt"] in states(asl)
    for name, state in states(asl).items():
        for target in targets(state):
            assert target in states(asl), f"{name} → {target}: no such state"


def test_every_state_is_reachable_from_start(asl: dict[str, Any]) -> None:
    seen, todo = set(), [asl["StartAt"]]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(targets(states(asl)[name]))

    assert seen == set(states(asl))


def test_every_state_ends_or_moves_on(asl: dict[str, Any]) -> None:
    for name, state in states(asl).items():
        if state["Type"] in TERMINAL_TYPES:
            assert "Next" not in state, name
            assert "End" not in state, name
        else:
            assert ("Next" in state) != bool(state.get("End")), f"{name} needs exactly one of Next / End"


# ---- retries and catches ---------------------------------------------------------------------------


def test_tasks_retry_transient_errors_only_with_backoff_and_jitter(asl: dict[str, Any]) -> None:
    for name, task in tasks(asl).items():
        retriers = task["Retry"]
        assert [set(r["ErrorEquals"]) for r in retriers] == [TRANSIENT], name
        (retrier,) = retriers
        assert retrier["BackoffRate"] > 1, name
        assert retrier["JitterStrategy"] == "FULL", name
        assert 1 <= retrier["MaxAttempts"] <= 5, name
        assert retrier["MaxDelaySeconds"] <= 60, name


def test_every_task_retries_as_the_durable_steps_do(asl: dict[str, Any]) -> None:
    """One policy for both orchestrators: the ASL's Retry is the one etl_aws.errors describes, which the
    durable orchestrator's step retry strategy is built from."""
    from etl_aws.errors import STEP_RETRY, asl_retry
    from etl_durable import orchestrator

    for name, task in tasks(asl).items():
        assert task["Retry"] == [asl_retry()], name
    durable = orchestrator.STEP.retry_strategy
    assert durable is not None
    assert STEP_RETRY.attempts == asl_retry()["MaxAttempts"] + 1  # ASL counts retries, durable attempts
    assert durable(orchestrator.TransientError("x"), STEP_RETRY.attempts).should_retry is False
    assert durable(orchestrator.TransientError("x"), STEP_RETRY.attempts - 1).should_retry is True
    assert durable(ValueError("not transient"), 1).should_retry is False
    # Full jitter: each delay is at most the capped exponential back-off the ASL uses too.
    for attempt in range(1, STEP_RETRY.attempts):
        cap = min(STEP_RETRY.initial_delay_seconds * STEP_RETRY.backoff_rate ** (attempt - 1), 30)
        for _ in range(20):
            delay = durable(orchestrator.TransientError("x"), attempt).delay
            assert delay is not None
            assert delay.to_seconds() <= cap


def test_nothing_retries_everything_timeouts_or_refused_files(asl: dict[str, Any]) -> None:
    never = {"States.ALL", "States.Timeout", "States.TaskFailed", "FileRejected"}
    for name, state in states(asl).items():
        for retrier in state.get("Retry", []):
            assert not never & set(retrier["ErrorEquals"]), name


def test_every_task_catches_everything_into_the_failed_path(asl: dict[str, Any]) -> None:
    for name, task in tasks(asl).items():
        last = task["Catch"][-1]
        assert last["ErrorEquals"] == ["States.ALL"], name
        assert last["Next"] == ("Failed" if name == "RecordFailure" else "RecordFailure"), name
        assert last["ResultPath"] != "$", f"{name}: a catch must keep the job id in the state"


def test_failed_path_records_the_error_then_fails_the_execution(asl: dict[str, Any]) -> None:
    record, failed = states(asl)["RecordFailure"], states(asl)["Failed"]

    assert record["Parameters"]["Payload"]["error.$"] == "$.error"
    assert record["ResultPath"] is None  # keep $.error for the Fail state
    assert failed["Type"] == "Fail"
    assert failed["ErrorPath"] == "$.error.Error"
    assert failed["CausePath"] == "$.error.Cause"


def test_approval_timeout_leads_to_the_expired_path(asl: dict[str, Any]) -> None:
    catches = states(asl)["RequestApproval"]["Catch"]

    assert catches[0] == {"ErrorEquals": ["States.Timeout"], "ResultPath": "$.error", "Next": "Expire"}


# ---- the approval and what the state carries --------------------------------------------------------


def test_approval_waits_for_the_task_token(asl: dict[str, Any]) -> None:
    approval = states(asl)["RequestApproval"]
    payload = approval["Parameters"]["Payload"]

    assert approval["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert payload == {
        "job_id.$": "$.job_id",
        "loaded.$": "$",
        "task_token.$": "$$.Task.Token",
        "execution_arn.$": "$$.Execution.Id",  # where the approval service reads a delivery's outcome
    }
    assert approval["ResultPath"] == "$.decision"  # the decision joins the state; the token does not
    assert "OutputPath" not in approval
    assert "ResultSelector" not in approval


def test_decision_publishes_only_on_an_explicit_approval(asl: dict[str, Any]) -> None:
    def route(decision: Any) -> str:
        return walk(asl, {"decision": decision})[-1]

    assert route({"approved": True}) == "Publish"
    for decision in ({"approved": False}, {"approved": "true"}, {"approved": None}, {}, "yes"):
        assert route(decision) == "Discard", decision


def test_tasks_keep_only_the_step_result_not_the_invoke_envelope(asl: dict[str, Any]) -> None:
    for name, task in tasks(asl).items():
        if name not in ("RequestApproval", "RecordFailure"):
            assert task["Resource"] == "arn:aws:states:::lambda:invoke", name
            assert task["OutputPath"] == "$.Payload", name


def test_each_task_calls_its_own_function(asl: dict[str, Any]) -> None:
    expected = {
        "Extract": "extract",
        "Transform": "transform",
        "Load": "load",
        "RequestApproval": "request_approval",
        **dict.fromkeys(FINALIZE_STATES, "finalize"),
    }

    assert {name: t["Parameters"]["FunctionName"] for name, t in tasks(asl).items()} == {
        name: ARNS[step] for name, step in expected.items()
    }
    for name, outcome in FINALIZE_STATES.items():
        assert tasks(asl)[name]["Parameters"]["Payload"]["outcome"] == outcome


# ---- transitions ----------------------------------------------------------------------------------


def test_approved_workflow_takes_at_most_six_transitions(asl: dict[str, Any]) -> None:
    path = walk(asl, {"decision": {"approved": True}})

    assert path == ["Extract", "Transform", "Load", "RequestApproval", "Decision", "Publish"]
    assert len(path) <= 6


def test_rejected_and_expired_workflows_take_six_and_five(asl: dict[str, Any]) -> None:
    assert len(walk(asl, {"decision": {"approved": False}})) == 6
    assert walk(asl, {}, error="States.Timeout")[-1] == "Expire"
    assert len(walk(asl, {}, error="States.Timeout")) == 5


# ---- the Step Functions spec: heartbeats, paths ------------------------------------------------------

# A reference path: `$` or `$$` (the context object) followed by `.name` or `[n]` steps, no filters or
# wildcards. https://docs.aws.amazon.com/step-functions/latest/dg/amazon-states-language-paths.html
REFERENCE_PATH = re.compile(r"^\$\$?((\.[A-Za-z_][A-Za-z0-9_]*)|(\[[0-9]+\]))*$")
PATH_FIELDS = ("InputPath", "OutputPath", "ResultPath", "ErrorPath", "CausePath", "ItemsPath")


def path_parameters(node: Any) -> list[tuple[str, Any]]:
    """Every `key.$` of a Parameters or ResultSelector tree, with its value."""
    found: list[tuple[str, Any]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key.endswith(".$"):
                found.append((key, value))
            else:
                found += path_parameters(value)
    elif isinstance(node, list):
        for value in node:
            found += path_parameters(value)
    return found


def test_no_state_waits_for_a_heartbeat_nobody_sends(asl: dict[str, Any]) -> None:
    """The approval ends by decision or TimeoutSeconds; nothing sends SendTaskHeartbeat, so a heartbeat
    would fail a waiting review with States.Timeout. https://docs.aws.amazon.com/step-functions/latest/dg/state-task.html"""
    for name, state in states(asl).items():
        assert "HeartbeatSeconds" not in state, name
        assert "HeartbeatSecondsPath" not in state, name
    approval = states(asl)["RequestApproval"]
    assert isinstance(approval["TimeoutSeconds"], int)
    assert 0 < approval["TimeoutSeconds"] <= 99_999_999  # the ASL's largest TimeoutSeconds


def test_every_payload_path_is_a_valid_reference_path(asl: dict[str, Any]) -> None:
    for name, state in states(asl).items():
        for field in ("Parameters", "ResultSelector"):
            for key, value in path_parameters(state.get(field, {})):
                assert isinstance(value, str), (name, key)
                intrinsic = value.startswith("States.") and value.endswith(")")
                assert intrinsic or REFERENCE_PATH.match(value), (name, key, value)


def test_every_path_field_is_a_valid_reference_path_or_null(asl: dict[str, Any]) -> None:
    for name, state in states(asl).items():
        catches = state.get("Catch", [])
        fields = [(f, state[f]) for f in PATH_FIELDS if f in state]
        fields += [("Catch.ResultPath", c["ResultPath"]) for c in catches if "ResultPath" in c]
        fields += [("Choices.Variable", c["Variable"]) for c in state.get("Choices", []) if "Variable" in c]
        for field, value in fields:
            assert value is None or REFERENCE_PATH.match(value), (name, field, value)
            if field.endswith("ResultPath") and value is not None:
                assert not value.startswith("$$"), (name, field)  # results go into the state


def test_no_state_replaces_its_input_with_a_whole_result(asl: dict[str, Any]) -> None:
    """State stays small: each task keeps its step's summary ($.Payload), or puts a result or an error
    under a key of its own; nothing lands the whole invoke envelope (with its headers) in the state."""
    for name, task in tasks(asl).items():
        kept = task.get("OutputPath") == "$.Payload" or task.get("ResultPath") in (None, "$.decision")
        assert kept, name
        for catch in task.get("Catch", []):
            assert catch.get("ResultPath") not in ("$", None), name


def test_only_tasks_retry(asl: dict[str, Any]) -> None:
    for name, state in states(asl).items():
        if state["Type"] != "Task":
            assert "Retry" not in state, name
            assert "Catch" not in state, name
