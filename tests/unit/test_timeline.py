"""The step timeline of `etl jobs show`, from Step Functions and durable execution histories as boto3
returns them; the readers are checked against the real service models with botocore's Stubber."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from etl_ops import histories
from etl_ops.timeline import Step, Timeline, durable_timeline, format_duration, sfn_timeline
from etl_ops.timeline_table import render

T0 = datetime(2026, 3, 1, 9, 0, 0, tzinfo=UTC)
TASK_TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAAf-task-token-secret"
CALLBACK_ID = "eyJhcm4iOiJjYWxsYmFjay1pZC1zZWNyZXQifQ"
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:csv-etl-etl"
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:csv-etl-durable-orchestrator"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# ---- Step Functions histories -----------------------------------------------------------------------


class SfnHistory:
    """Builds `GetExecutionHistory` events, each linked to the one before it as the service links them."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.add("ExecutionStarted", 0, executionStartedEventDetails={"input": '{"job_id": "j-1"}'})

    def add(self, kind: str, seconds: float, **details: Any) -> SfnHistory:
        number = len(self.events) + 1
        self.events.append(
            {"id": number, "previousEventId": number - 1, "type": kind, "timestamp": at(seconds), **details}
        )
        return self

    def task(self, name: str, start: float, *outcomes: tuple[str, float], wait: bool = False) -> SfnHistory:
        """A Task state: one TaskScheduled per outcome (TaskFailed / TaskSucceeded / TaskTimedOut ...)."""
        self.add("TaskStateEntered", start, stateEnteredEventDetails={"name": name, "input": "{}"})
        parameters = {"FunctionName": name, "Payload": {"task_token": TASK_TOKEN} if wait else {}}
        resource = "invoke.waitForTaskToken" if wait else "invoke"
        for kind, end in outcomes:
            lam = {"resourceType": "lambda", "resource": resource}
            scheduled = {**lam, "region": "us-east-1", "parameters": json.dumps(parameters)}
            self.add("TaskScheduled", start, taskScheduledEventDetails=scheduled)
            self.add("TaskStarted", start, taskStartedEventDetails=lam)
            if wait:
                self.add(
                    "TaskSubmitted", start + 0.5, taskSubmittedEventDetails={**lam, "output": TASK_TOKEN}
                )
            key = kind[0].lower() + kind[1:] + "EventDetails"
            if kind == "TaskSucceeded":
                self.add(kind, end, **{key: {**lam, "output": TASK_TOKEN}})
            else:
                self.add(kind, end, **{key: {**lam, "error": _ERRORS[kind], "cause": f"cause {TASK_TOKEN}"}})
            start = end
        return self.add("TaskStateExited", start, stateExitedEventDetails={"name": name, "output": "{}"})

    def state(self, kind: str, name: str, start: float, end: float) -> SfnHistory:
        self.add(f"{kind}StateEntered", start, stateEnteredEventDetails={"name": name, "input": "{}"})
        return self.add(f"{kind}StateExited", end, stateExitedEventDetails={"name": name, "output": "{}"})


_ERRORS = {"TaskFailed": "TransientError", "TaskTimedOut": "States.Timeout"}


def approved_sfn_history() -> SfnHistory:
    return (
        SfnHistory()
        .task("Extract", 0.1, ("TaskFailed", 0.4), ("TaskSucceeded", 2.6))
        .task("Transform", 2.6, ("TaskSucceeded", 3.0))
        .task("Load", 3.0, ("TaskSucceeded", 3.2))
        .task("RequestApproval", 3.2, ("TaskSucceeded", 3.2 + 3600), wait=True)
        .state("Choice", "Decision", 3603.2, 3603.21)
        .task("Publish", 3603.21, ("TaskSucceeded", 3604.0))
        .add("ExecutionSucceeded", 3604.0, executionSucceededEventDetails={"output": "{}"})
    )


def by_name(found: Timeline) -> dict[str, Step]:
    return {step.name: step for step in found.steps}


def test_sfn_rows_follow_the_states_in_order_including_the_choice() -> None:
    found = sfn_timeline(approved_sfn_history().events)

    assert [(s.name, s.kind) for s in found.steps] == [
        ("Extract", "Task"),
        ("Transform", "Task"),
        ("Load", "Task"),
        ("RequestApproval", "Task"),
        ("Decision", "Choice"),
        ("Publish", "Task"),
    ]
    assert found.status == "SUCCEEDED"
    assert found.duration == timedelta(seconds=3604)
    assert by_name(found)["Decision"].attempts is None


def test_sfn_retried_task_counts_two_attempts_and_names_the_error_it_retried() -> None:
    extract = by_name(sfn_timeline(approved_sfn_history().events))["Extract"]

    assert extract.attempts == 2
    assert extract.status == "SUCCEEDED"
    assert extract.duration == timedelta(seconds=2.5)
    assert extract.note == "retried after TransientError"


def test_sfn_approval_wait_shows_its_duration() -> None:
    approval = by_name(sfn_timeline(approved_sfn_history().events))["RequestApproval"]

    assert approval.duration == timedelta(seconds=3600)
    assert approval.attempts == 1
    assert approval.note == "waited 59 min 59 s for its callback"


def test_sfn_failed_task_is_failed_with_its_error_and_the_execution_fails() -> None:
    events = (
        SfnHistory()
        .task("Extract", 0.0, ("TaskFailed", 1.0))
        .task("RecordFailure", 1.0, ("TaskSucceeded", 1.5))
        .add("FailStateEntered", 1.5, stateEnteredEventDetails={"name": "Failed", "input": "{}"})
        .add("ExecutionFailed", 1.5, executionFailedEventDetails={"error": "FileRefused", "cause": "x"})
        .events
    )

    found = sfn_timeline(events)

    rows = by_name(found)
    assert (rows["Extract"].status, rows["Extract"].note, rows["Extract"].attempts) == (
        "FAILED",
        "TransientError",
        1,
    )
    assert rows["RecordFailure"].status == "SUCCEEDED"
    assert (rows["Failed"].kind, rows["Failed"].status) == ("Fail", "FAILED")
    assert (found.status, found.error) == ("FAILED", "FileRefused")


def test_sfn_approval_timeout_is_timed_out_then_expires() -> None:
    events = (
        SfnHistory()
        .task("RequestApproval", 0.0, ("TaskTimedOut", 86400.0), wait=True)
        .task("Expire", 86400.0, ("TaskSucceeded", 86401.0))
        .add("ExecutionSucceeded", 86401.0)
        .events
    )

    rows = by_name(sfn_timeline(events))

    assert rows["RequestApproval"].status == "TIMED_OUT"
    assert rows["RequestApproval"].note == "waited 23 h 59 min for its callback; States.Timeout"
    assert rows["Expire"].status == "SUCCEEDED"


def test_sfn_waiting_execution_has_an_open_row_without_duration() -> None:
    history = SfnHistory().task("Load", 0.0, ("TaskSucceeded", 1.0))
    history.add("TaskStateEntered", 1.0, stateEnteredEventDetails={"name": "RequestApproval", "input": "{}"})
    history.add("TaskScheduled", 1.0, taskScheduledEventDetails={"parameters": TASK_TOKEN})
    history.add("TaskStarted", 1.0, taskStartedEventDetails={})
    history.add("TaskSubmitted", 1.5, taskSubmittedEventDetails={"output": TASK_TOKEN})

    found = sfn_timeline(history.events)

    waiting = by_name(found)["RequestApproval"]
    assert (found.status, waiting.status, waiting.duration) == ("RUNNING", "RUNNING", None)
    assert waiting.note == "waiting for its callback since 2026-03-01 09:00:01.500"
    assert "RequestApproval  Task  RUNNING" in render(found)


# ---- durable histories ------------------------------------------------------------------------------


class DurableHistory:
    """Builds `GetDurableExecutionHistory` events."""

    def __init__(self, epoch: bool = False) -> None:
        self.epoch = epoch  # timestamps as JSON carries them (epoch seconds) instead of datetimes
        self.events: list[dict[str, Any]] = []
        self.add("ExecutionStarted", 0, "exec", "j-1", Input={"Payload": "{}"}, ExecutionTimeout=90000)

    def add(self, kind: str, seconds: float, op: str = "", name: str = "", **details: Any) -> DurableHistory:
        stamp: Any = at(seconds).timestamp() if self.epoch else at(seconds)
        event: dict[str, Any] = {"EventType": kind, "EventId": len(self.events) + 1, "EventTimestamp": stamp}
        if op:
            event |= {"Id": op, "Name": name} if name else {"Id": op}
        if details:
            event[f"{kind}Details"] = details
        self.events.append(event)
        return self

    def step(self, name: str, start: float, end: float, failures: int = 0, final: str = "Succeeded") -> Any:
        op = f"op-{name}"
        for attempt in range(1, failures + 1):
            self.add("StepStarted", start, op, name)
            retry = {"CurrentAttempt": attempt, "NextAttemptDelaySeconds": 2}
            self.add("StepFailed", start + 0.1, op, name, Error=_error("TransientError"), RetryDetails=retry)
            start += 2.1
        self.add("StepStarted", start, op, name)
        retry = {"CurrentAttempt": failures + 1}
        if final == "Succeeded":
            return self.add("StepSucceeded", end, op, name, Result={"Payload": "{}"}, RetryDetails=retry)
        return self.add("StepFailed", end, op, name, Error=_error("FileRefused"), RetryDetails=retry)

    def callback(self, name: str, start: float, end: float, outcome: str = "Succeeded") -> DurableHistory:
        op = f"op-{name}"
        self.add("CallbackStarted", start, op, name, CallbackId=CALLBACK_ID, Timeout=86400)
        if outcome == "Succeeded":
            return self.add("CallbackSucceeded", end, op, name, Result={"Payload": '{"approved": true}'})
        return self.add(f"Callback{outcome}", end, op, name, Error=_error("CallbackTimeout"))


def _error(kind: str) -> dict[str, Any]:
    return {"Payload": {"ErrorType": kind, "ErrorMessage": f"message quoting {CALLBACK_ID}"}}


def approved_durable_history(epoch: bool = False) -> DurableHistory:
    history = DurableHistory(epoch)
    history.step("extract", 0.1, 4.5, failures=1)
    history.step("transform", 4.5, 5.0)
    history.step("load", 5.0, 5.2)
    history.callback("approval", 5.2, 5.2 + 90)
    history.step("request-approval", 5.3, 5.6)
    history.add("InvocationCompleted", 5.7)
    history.step("finalize", 95.3, 96.0)
    return history.add(
        "ExecutionSucceeded", 96.1, "exec", "j-1", Result={"Payload": '{"status": "COMPLETED"}'}
    )


def test_durable_rows_are_the_operations_in_the_order_they_started() -> None:
    found = durable_timeline(approved_durable_history().events)

    assert [(s.name, s.kind) for s in found.steps] == [
        ("extract", "STEP"),
        ("transform", "STEP"),
        ("load", "STEP"),
        ("approval", "CALLBACK"),
        ("request-approval", "STEP"),
        ("finalize", "STEP"),
    ]
    assert (found.orchestrator, found.status) == ("durable", "SUCCEEDED")
    assert all(step.status == "SUCCEEDED" for step in found.steps)


def test_durable_retried_step_counts_two_attempts() -> None:
    extract = by_name(durable_timeline(approved_durable_history().events))["extract"]

    assert extract.attempts == 2
    assert extract.status == "SUCCEEDED"
    assert extract.duration == timedelta(seconds=4.4)
    assert extract.note == "retried after TransientError"


def test_durable_step_waiting_to_retry_is_pending() -> None:
    history = DurableHistory()
    history.add("StepStarted", 0.1, "op-load", "load")
    history.add(
        "StepFailed",
        0.2,
        "op-load",
        "load",
        Error=_error("TransientError"),
        RetryDetails={"CurrentAttempt": 1, "NextAttemptDelaySeconds": 4},
    )

    load = by_name(durable_timeline(history.events))["load"]

    assert (load.status, load.attempts, load.duration) == ("PENDING", 1, None)
    assert load.note == "retrying after TransientError"


def test_durable_failed_step_is_failed_and_so_is_the_execution() -> None:
    history = DurableHistory()
    history.step("extract", 0.1, 0.3, final="Failed")
    history.step("fail", 0.3, 0.5)
    history.add("ExecutionFailed", 0.6, "exec", "j-1", Error=_error("ExecutionError"))

    found = durable_timeline(history.events)

    extract = by_name(found)["extract"]
    assert (extract.status, extract.attempts, extract.note) == ("FAILED", 1, "FileRefused")
    assert (found.status, found.error) == ("FAILED", "ExecutionError")


def test_durable_approval_callback_shows_its_wait_and_expiry() -> None:
    approved = by_name(durable_timeline(approved_durable_history().events))["approval"]
    expired_history = DurableHistory().callback("approval", 1.0, 1.0 + 86400, outcome="TimedOut")
    expired = by_name(durable_timeline(expired_history.events))["approval"]

    assert approved.duration == timedelta(seconds=90)
    assert approved.attempts is None
    assert (expired.status, expired.duration, expired.note) == (
        "TIMED_OUT",
        timedelta(days=1),
        "CallbackTimeout",
    )


def test_durable_timestamps_as_epoch_seconds_read_the_same_as_datetimes() -> None:
    as_datetimes = durable_timeline(approved_durable_history().events)
    as_epoch = durable_timeline(approved_durable_history(epoch=True).events)

    assert as_epoch == as_datetimes


# ---- what is printed --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "found",
    [sfn_timeline(approved_sfn_history().events), durable_timeline(approved_durable_history().events)],
    ids=["sfn", "durable"],
)
def test_no_task_token_callback_id_or_payload_appears_in_the_output(found: Timeline) -> None:
    printed = render(found) + json.dumps(found.to_dict())

    assert TASK_TOKEN not in printed
    assert CALLBACK_ID not in printed
    assert "cause" not in printed
    assert "approved" not in printed


def test_render_is_one_aligned_row_per_step_under_the_outcome() -> None:
    lines = render(durable_timeline(approved_durable_history().events)).splitlines()

    assert lines[0] == "steps (durable execution SUCCEEDED, 1 min 36 s)"
    assert lines[1].split() == ["step", "type", "status", "started", "(UTC)", "duration", "attempts", "note"]
    assert lines[2].split() == [
        "extract",
        "STEP",
        "SUCCEEDED",
        "2026-03-01",
        "09:00:00.100",
        "4.4",
        "s",
        "2",
        "retried",
        "after",
        "TransientError",
    ]
    assert lines[5].split()[:2] == ["approval", "CALLBACK"]
    assert "1 min 30 s" in lines[5]
    assert len({line.index("SUCCEEDED") for line in lines[2:]}) == 1


def test_to_dict_is_json_with_iso_times_and_seconds() -> None:
    document = durable_timeline(approved_durable_history().events).to_dict()

    approval = document["steps"][3]
    assert approval["started"] == "2026-03-01T09:00:05.200Z"
    assert approval["duration_seconds"] == pytest.approx(90)
    assert document["duration_seconds"] == pytest.approx(96.1)
    assert json.loads(json.dumps(document)) == document


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.0421, "42 ms"), (2.34, "2.3 s"), (245, "4 min 05 s"), (8040, "2 h 14 min"), (97200, "1 d 3 h")],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(timedelta(seconds=seconds)) == text


# ---- reading the histories (request and response shapes held against the service models) -----------


def test_sfn_events_reads_every_page_of_the_execution_named_by_the_job_id() -> None:
    client = boto3.client(
        "stepfunctions", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    events = approved_sfn_history().events
    arn = histories.sfn_execution_arn(MACHINE, "j-1")
    with Stubber(client) as stub:
        stub.add_response(
            "get_execution_history", {"events": events[:5], "nextToken": "n"}, {"executionArn": arn}
        )
        stub.add_response(
            "get_execution_history", {"events": events[5:]}, {"executionArn": arn, "nextToken": "n"}
        )

        found = histories.sfn_events(client, arn)

    assert arn == "arn:aws:states:us-east-1:123456789012:execution:csv-etl-etl:j-1"
    assert found == events


def test_durable_events_finds_the_execution_by_name_then_reads_its_history() -> None:
    client = boto3.client("lambda", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    events = approved_durable_history().events
    arn = f"{FUNCTION}:3/durable-execution/j-1/0f1e2d"
    summary = {
        "DurableExecutionArn": arn,
        "DurableExecutionName": "j-1",
        "FunctionArn": f"{FUNCTION}:3",
        "Status": "SUCCEEDED",
        "StartTimestamp": T0,
    }
    with Stubber(client) as stub:
        stub.add_response(
            "list_durable_executions_by_function",
            {"DurableExecutions": [summary]},
            {"FunctionName": FUNCTION, "DurableExecutionName": "j-1"},
        )
        history_request = {"DurableExecutionArn": arn, "IncludeExecutionData": False}
        stub.add_response(
            "get_durable_execution_history", {"Events": events[:4], "NextMarker": "4"}, history_request
        )
        stub.add_response(
            "get_durable_execution_history", {"Events": events[4:]}, {**history_request, "Marker": "4"}
        )

        found = histories.durable_events(client, f"{FUNCTION}:live", "j-1")

    assert found == events


def test_durable_events_is_none_when_the_function_has_no_such_execution() -> None:
    client = boto3.client("lambda", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        stub.add_response(
            "list_durable_executions_by_function",
            {"DurableExecutions": []},
            {"FunctionName": "csv-etl-durable-orchestrator", "DurableExecutionName": "j-2"},
        )

        assert histories.durable_events(client, "csv-etl-durable-orchestrator:live", "j-2") is None
