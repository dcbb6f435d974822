"""Resuming a waiting workflow with a decision: the exact API calls (botocore Stubber on real clients, since
moto has no durable callback API) and how their errors are mapped."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from etl_aws import callbacks, clients
from etl_aws import contract as C
from etl_aws.errors import DecisionGone, TransientError
from etl_aws.models import Decision

TOKEN = "Y2ItMGMxZDJlM2Ytb3BhcXVlLWNhbGxiYWNrLWlk"  # base64, as the service issues callback ids
APPROVE = Decision(
    approved=True,
    reviewer="arn:aws:iam::123456789012:user/alice",
    reason="ok",
    decided_at="2025-01-01T00:00:00Z",
    via="iam",
)
REJECT = Decision(
    approved=False, reviewer="bob", reason="too many rejects", decided_at="2025-01-01T00:01:00Z"
)

# workflow → (service, operation, name of the token parameter, name of the payload parameter)
CALLS = {
    C.DURABLE: ("lambda", "send_durable_execution_callback_success", "CallbackId", "Result"),
    C.STEP_FUNCTIONS: ("stepfunctions", "send_task_success", "taskToken", "output"),
}


@pytest.fixture(scope="module")
def real_clients() -> dict[str, Any]:
    session = boto3.session.Session(region_name="us-east-1")
    return {service: session.client(service) for service in ("lambda", "stepfunctions")}


@pytest.fixture
def stubs(real_clients: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Stubber]]:
    monkeypatch.setattr(clients, "client", lambda service: real_clients[service])
    stubbers = {service: Stubber(client) for service, client in real_clients.items()}
    for stubber in stubbers.values():
        stubber.activate()
    yield stubbers
    for stubber in stubbers.values():
        stubber.assert_no_pending_responses()
        stubber.deactivate()


def expected_request(workflow: str, decision: Decision) -> dict[str, Any]:
    _, _, token_name, payload_name = CALLS[workflow]
    payload = json.dumps(
        {
            "approved": decision.approved,
            "reviewer": decision.reviewer,
            "reason": decision.reason,
            "decided_at": decision.decided_at,
        },
        separators=(",", ":"),
    )
    return {token_name: TOKEN, payload_name: payload.encode() if workflow == C.DURABLE else payload}


@pytest.mark.parametrize("decision", [APPROVE, REJECT], ids=["approve", "reject"])
@pytest.mark.parametrize("workflow", [C.DURABLE, C.STEP_FUNCTIONS])
def test_the_decision_is_delivered_as_callback_success(
    stubs: dict[str, Stubber], workflow: str, decision: Decision
) -> None:
    """A rejection too is a success carrying approved=false: a normal outcome, not a failed workflow."""
    service, operation, _, _ = CALLS[workflow]
    stubs[service].add_response(operation, {}, expected_request(workflow, decision))

    callbacks.send_decision(workflow, TOKEN, decision)


def test_the_payload_carries_exactly_the_decision_fields() -> None:
    assert json.loads(callbacks.decision_payload(APPROVE)) == {
        "approved": True,
        "reviewer": "arn:aws:iam::123456789012:user/alice",
        "reason": "ok",
        "decided_at": "2025-01-01T00:00:00Z",
    }


GONE = [
    (C.DURABLE, "CallbackTimeoutException", 400),
    (C.DURABLE, "ResourceNotFoundException", 404),
    (C.STEP_FUNCTIONS, "TaskTimedOut", 400),
    (C.STEP_FUNCTIONS, "TaskDoesNotExist", 400),
]
TRANSIENT = [
    (C.DURABLE, "TooManyRequestsException", 429),
    (C.DURABLE, "ServiceException", 500),
    (C.STEP_FUNCTIONS, "ThrottlingException", 400),
    (C.STEP_FUNCTIONS, "KmsThrottlingException", 400),
]
PERMANENT = [
    (C.DURABLE, "InvalidParameterValueException", 400),
    (C.DURABLE, "AccessDeniedException", 403),
    (C.STEP_FUNCTIONS, "InvalidToken", 400),
    (C.STEP_FUNCTIONS, "InvalidOutput", 400),
]


def _fail_with(stubs: dict[str, Stubber], workflow: str, code: str, status: int) -> None:
    service, operation, _, _ = CALLS[workflow]
    stubs[service].add_client_error(operation, service_error_code=code, http_status_code=status)


@pytest.mark.parametrize(("workflow", "code", "status"), GONE, ids=[c for _, c, _ in GONE])
def test_a_workflow_that_no_longer_waits_is_decision_gone(
    stubs: dict[str, Stubber], workflow: str, code: str, status: int
) -> None:
    _fail_with(stubs, workflow, code, status)

    with pytest.raises(DecisionGone) as gone:
        callbacks.send_decision(workflow, TOKEN, APPROVE)

    assert TOKEN not in str(gone.value)


@pytest.mark.parametrize(("workflow", "code", "status"), TRANSIENT, ids=[c for _, c, _ in TRANSIENT])
def test_throttling_and_service_errors_are_transient(
    stubs: dict[str, Stubber], workflow: str, code: str, status: int
) -> None:
    _fail_with(stubs, workflow, code, status)

    with pytest.raises(TransientError) as transient:
        callbacks.send_decision(workflow, TOKEN, APPROVE)

    assert TOKEN not in str(transient.value)


@pytest.mark.parametrize(("workflow", "code", "status"), PERMANENT, ids=[c for _, c, _ in PERMANENT])
def test_other_errors_are_raised_as_they_are(
    stubs: dict[str, Stubber], workflow: str, code: str, status: int
) -> None:
    _fail_with(stubs, workflow, code, status)

    with pytest.raises(ClientError) as raised:
        callbacks.send_decision(workflow, TOKEN, APPROVE)

    assert raised.value.response["Error"]["Code"] == code


def test_an_unknown_workflow_is_refused_without_any_call(stubs: dict[str, Stubber]) -> None:
    with pytest.raises(ValueError, match="unknown workflow"):
        callbacks.send_decision("cron", TOKEN, APPROVE)
