"""Reading an execution's history from its orchestrator: Step Functions `GetExecutionHistory`, durable
functions `ListDurableExecutionsByFunction` and `GetDurableExecutionHistory` (without execution data).
The events come back as boto3 returns them, for `etl_ops.timeline` to turn into steps."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def sfn_execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN of the execution `name` of a standard state machine."""
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"


def sfn_events(stepfunctions: Any, execution_arn: str) -> list[dict[str, Any]]:
    """Every history event of the execution (all pages), oldest first."""
    pages = stepfunctions.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
    return [event for page in pages for event in page["events"]]


def durable_execution_arn(lambda_client: Any, function: str, name: str) -> str | None:
    """The ARN of the durable execution `name` of `function` (its ARN, alias ARN or name), or None."""
    found = next(_durable_executions(lambda_client, _unqualified(function), name), None)
    return found["DurableExecutionArn"] if found else None


def durable_events(lambda_client: Any, function: str, name: str) -> list[dict[str, Any]] | None:
    """Every history event of the durable execution `name` of `function` (its ARN, alias ARN or name),
    without execution data; None when the function has no execution of that name."""
    arn = durable_execution_arn(lambda_client, function, name)
    if arn is None:
        return None
    pages = lambda_client.get_paginator("get_durable_execution_history").paginate(
        DurableExecutionArn=arn, IncludeExecutionData=False
    )
    return [event for page in pages for event in page["Events"]]


def _durable_executions(lambda_client: Any, function: str, name: str) -> Iterator[dict[str, Any]]:
    pages = lambda_client.get_paginator("list_durable_executions_by_function").paginate(
        FunctionName=function, DurableExecutionName=name
    )
    for page in pages:
        yield from page.get("DurableExecutions", [])


def _unqualified(function: str) -> str:
    """The function without its alias or version: executions are listed across versions."""
    parts = function.split(":")
    if function.startswith("arn:") and len(parts) > 7:
        return ":".join(parts[:7])
    if not function.startswith("arn:") and len(parts) == 2:
        return parts[0]
    return function
