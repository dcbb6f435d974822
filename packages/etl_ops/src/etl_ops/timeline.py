"""A job's step timeline, from the execution history of whichever orchestrator ran it.

Step Functions: `GetExecutionHistory` events, one row per state entered. Durable functions:
`GetDurableExecutionHistory` events, one row per operation (STEP, CALLBACK, WAIT, ...). Both take the
events as boto3 returns them. Only names, statuses, times, attempt counts and error *names* are read:
inputs, outputs, task parameters (which carry task tokens), callback ids and error causes never reach a
row, so nothing secret can be printed. The events are read by `etl_ops.histories`; `etl_ops.timeline_table`
prints the timeline.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

RUNNING = "RUNNING"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
PENDING = "PENDING"
_MAX_ERROR = 80

_SFN_EXECUTION_END = {
    "ExecutionSucceeded": SUCCEEDED,
    "ExecutionFailed": FAILED,
    "ExecutionTimedOut": "TIMED_OUT",
    "ExecutionAborted": "ABORTED",
}
_SFN_TASK_FAILED = {
    "TaskFailed": FAILED,
    "TaskStartFailed": FAILED,
    "TaskSubmitFailed": FAILED,
    "TaskTimedOut": "TIMED_OUT",
}
_DURABLE_EXECUTION_END = {
    "ExecutionSucceeded": SUCCEEDED,
    "ExecutionFailed": FAILED,
    "ExecutionTimedOut": "TIMED_OUT",
    "ExecutionStopped": "STOPPED",
}
_DURABLE_PHASES = {
    "Started": RUNNING,
    "Succeeded": SUCCEEDED,
    "Failed": FAILED,
    "TimedOut": "TIMED_OUT",
    "Cancelled": "CANCELLED",
    "Stopped": "STOPPED",
}
_DURABLE_EVENT = re.compile(r"^(?P<type>Step|Callback|Wait|Context|ChainedInvoke)(?P<phase>[A-Za-z]+)$")


@dataclass(frozen=True)
class Step:
    """One row of the timeline: a state entry (Step Functions) or an operation (durable)."""

    name: str
    kind: str
    status: str
    started: datetime | None
    ended: datetime | None = None
    attempts: int | None = None
    note: str = ""

    @property
    def duration(self) -> timedelta | None:
        return _duration(self.started, self.ended)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "status": self.status,
            **_span(self.started, self.ended),
            "attempts": self.attempts,
            "note": self.note,
        }


@dataclass(frozen=True)
class Timeline:
    """The execution's outcome and its steps in the order they started."""

    orchestrator: str
    status: str
    started: datetime | None
    ended: datetime | None
    steps: tuple[Step, ...]
    error: str = ""

    @property
    def duration(self) -> timedelta | None:
        return _duration(self.started, self.ended)

    def to_dict(self) -> dict[str, Any]:
        return {
            "orchestrator": self.orchestrator,
            "status": self.status,
            **_span(self.started, self.ended),
            "error": self.error,
            "steps": [step.to_dict() for step in self.steps],
        }


@dataclass
class _Row:
    """A step while its events are read."""

    name: str
    kind: str
    started: datetime | None
    status: str = RUNNING
    ended: datetime | None = None
    attempts: int | None = None
    errors: list[str] = field(default_factory=list)
    waiting_since: datetime | None = None
    waited: timedelta | None = None

    def end_wait(self, at: datetime | None) -> None:
        if self.waiting_since is not None and at is not None:
            self.waited = at - self.waiting_since
            self.waiting_since = None

    def close(self, at: datetime | None, status: str) -> None:
        if self.ended is None:
            self.ended = at
        if self.status in (RUNNING, PENDING):
            self.status = status
        self.end_wait(at)

    def step(self) -> Step:
        return Step(self.name, self.kind, self.status, self.started, self.ended, self.attempts, self._note())

    def _note(self) -> str:
        notes = []
        if self.waited is not None:
            notes.append(f"waited {format_duration(self.waited)} for its callback")
        elif self.waiting_since is not None:
            notes.append(f"waiting for its callback since {clock(self.waiting_since)}")
        if self.errors:
            last = self.errors[-1]
            if self.status == SUCCEEDED:
                notes.append(f"retried after {last}")
            elif self.status == PENDING:
                notes.append(f"retrying after {last}")
            else:
                notes.append(last)
        return "; ".join(notes)


# ---- Step Functions ---------------------------------------------------------------------------------


def sfn_timeline(events: Iterable[Mapping[str, Any]]) -> Timeline:
    """Rows from `GetExecutionHistory` events: one per state entered (Task, Choice, Wait, ...); a task's
    attempts are its TaskScheduled events, and a callback task notes how long it waited."""
    rows: list[_Row] = []
    owner: dict[int, _Row] = {}  # event id → the row it belongs to, followed through previousEventId
    status, started, ended, error = RUNNING, None, None, ""
    for event in sorted(events, key=lambda e: int(e.get("id", 0))):
        kind, at = str(event.get("type", "")), _when(event.get("timestamp"))
        details = _details(event)
        if kind == "ExecutionStarted":
            started = at
            continue
        if kind in _SFN_EXECUTION_END:
            status, ended, error = _SFN_EXECUTION_END[kind], at, _error_name(details.get("error"))
            for row in rows:
                row.close(at, status)
            continue
        if kind.endswith("StateEntered"):
            state = kind.removesuffix("StateEntered")
            row = _Row(str(details.get("name", "?")), state, at, attempts=0 if state == "Task" else None)
            rows.append(row)
            owner[int(event.get("id", 0))] = row
            continue
        found = owner.get(int(event.get("previousEventId", -1))) or _last_open(rows)
        if found is None:
            continue
        owner[int(event.get("id", 0))] = found
        _apply_sfn_event(found, kind, at, details)
    return Timeline("sfn", status, started, ended, tuple(row.step() for row in rows), error)


def _apply_sfn_event(row: _Row, kind: str, at: datetime | None, details: Mapping[str, Any]) -> None:
    if kind.endswith("StateExited"):
        row.close(at, SUCCEEDED)
    elif kind == "TaskScheduled":
        row.attempts = (row.attempts or 0) + 1
        row.status = RUNNING
    elif kind == "TaskSubmitted":
        row.waiting_since = at
    elif kind == "TaskSucceeded":
        row.status = SUCCEEDED
        row.end_wait(at)
    elif kind in _SFN_TASK_FAILED:
        row.status = _SFN_TASK_FAILED[kind]
        row.errors.append(_error_name(details.get("error")) or kind)
        row.end_wait(at)
    elif kind.startswith("FailState"):
        row.status = FAILED


def _details(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """The event's `...EventDetails` member (each event has at most one)."""
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, Mapping):
            return value
    return {}


def _last_open(rows: list[_Row]) -> _Row | None:
    return next((row for row in reversed(rows) if row.ended is None), None)


# ---- durable functions ------------------------------------------------------------------------------


def durable_timeline(events: Iterable[Mapping[str, Any]]) -> Timeline:
    """Rows from `GetDurableExecutionHistory` events: one per operation; a step's attempts are its
    StepStarted events (or the attempt number the service reports, when higher)."""
    rows: dict[str, _Row] = {}  # by operation id, in the order the operations started
    status, started, ended, error = RUNNING, None, None, ""
    for event in sorted(events, key=lambda e: int(e.get("EventId", 0))):
        kind, at = str(event.get("EventType", "")), _when(event.get("EventTimestamp"))
        if kind == "ExecutionStarted":
            started = at
            continue
        if kind in _DURABLE_EXECUTION_END:
            details = event.get(f"{kind}Details") or {}
            status, ended, error = _DURABLE_EXECUTION_END[kind], at, _durable_error(details)
            for row in rows.values():
                row.close(at, status)
            continue
        match = _DURABLE_EVENT.match(kind)
        if match is None or match["phase"] not in _DURABLE_PHASES:
            continue  # InvocationCompleted, ExecutionPaused/Resumed: not steps
        operation = str(event.get("Id", ""))
        row = rows.get(operation)
        if row is None:
            row = rows[operation] = _Row(
                str(event.get("Name") or event.get("SubType") or operation[:12]),
                _snake(match["type"]),
                at,
                attempts=0 if match["type"] == "Step" else None,
            )
        _apply_durable_event(row, match["type"], match["phase"], at, event.get(f"{kind}Details") or {})
    return Timeline("durable", status, started, ended, tuple(row.step() for row in rows.values()), error)


def _apply_durable_event(
    row: _Row, operation: str, phase: str, at: datetime | None, details: Mapping[str, Any]
) -> None:
    status = _DURABLE_PHASES[phase]
    retry = details.get("RetryDetails") or {}
    if operation == "Step":
        counted = (row.attempts or 0) + (phase == "Started")
        row.attempts = max(counted, int(retry.get("CurrentAttempt") or 0))
    if phase == "Started":
        row.status, row.ended = RUNNING, None
        if row.started is None:
            row.started = at
        return
    if status != SUCCEEDED:
        row.errors.append(_durable_error(details) or status)
    if retry.get("NextAttemptDelaySeconds") is not None and status == FAILED:
        row.status = PENDING  # the step will run again after the delay
        return
    row.status, row.ended = status, at


def _durable_error(details: Mapping[str, Any]) -> str:
    payload = (details.get("Error") or {}).get("Payload") or {}
    return _error_name(payload.get("ErrorType"))


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()


def format_duration(value: timedelta) -> str:
    """A duration as an operator reads it: 420 ms, 2.3 s, 4 min 05 s, 2 h 14 min, 1 d 3 h."""
    seconds = max(value.total_seconds(), 0.0)
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    if whole < 86400:
        return f"{whole // 3600} h {whole % 3600 // 60:02d} min"
    return f"{whole // 86400} d {whole % 86400 // 3600} h"


# ---- values -----------------------------------------------------------------------------------------


def _when(value: Any) -> datetime | None:
    """A timestamp as boto3 gives it (datetime), or as JSON carries it (epoch seconds, ISO 8601), in UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return _when(datetime.fromisoformat(str(value).replace("Z", "+00:00")))


def _duration(started: datetime | None, ended: datetime | None) -> timedelta | None:
    return ended - started if started is not None and ended is not None else None


def _span(started: datetime | None, ended: datetime | None) -> dict[str, Any]:
    """When a step or execution started and ended, and how long it took, as JSON values."""
    duration = _duration(started, ended)
    return {
        "started": _iso(started),
        "ended": _iso(ended),
        "duration_seconds": duration.total_seconds() if duration is not None else None,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z") if value else None


def clock(value: datetime | None) -> str:
    """A moment as the table shows it, to the millisecond (UTC); `-` when unknown."""
    return value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}" if value else "-"


def _error_name(value: Any) -> str:
    """An error's name (never its cause or message, which may quote inputs), cut to a line."""
    return str(value)[:_MAX_ERROR] if value else ""
