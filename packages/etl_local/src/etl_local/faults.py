"""Fault injection at the AWS boundary: what at-least-once delivery does to a system, on demand.

AWS calls fail in three ways the code must survive, and the local stack shows none of them by itself:

- `transient`: a 5xx (`InternalError`, `ServiceUnavailable`...): nothing happened, retry later.
- `throttle`: the service's throttling error (`SlowDown`, `ThrottlingException`...): nothing happened.
- `lost_response`: the request reached the service and **took effect**, but the caller never saw the
  answer (a read timeout): botocore retries it, so the same request arrives twice. This is the case that
  breaks code which is not idempotent (a conditional write's retry is refused, a message is sent twice).

`INJECTOR` sits where requests leave botocore (the `before-send` event, ahead of moto's in-process
stub, or in front of the HTTP send to a moto server), for every client created after `install()`.
Each attempt counts: botocore's own retries see the fault too, so `times=attempts()` (6 for the
handlers' clients: the first try and 5 retries) reaches the caller, while `times=1` is absorbed by a retry.

A rule matches by service (botocore's service id, e.g. `s3`, `dynamodb`, `sfn`, `lambda`, `sns`), operation
and, optionally, the function making the call (the function host marks each invocation, see
`etl_local.metering`). `etl_local.calls.RECORDER.recording()` lists the calls a run makes, to build a
fault matrix from (`install()` installs that recorder too).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from botocore import handlers
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import ReadTimeoutError
from botocore.httpsession import URLLib3Session

from etl_local import calls, metering


class Fault(StrEnum):
    TRANSIENT = "transient"
    THROTTLE = "throttle"
    LOST_RESPONSE = "lost_response"


# (HTTP status, error code) per service and fault, as each service answers them.
_ERRORS: dict[str, dict[Fault, tuple[int, str]]] = {
    "s3": {Fault.TRANSIENT: (500, "InternalError"), Fault.THROTTLE: (503, "SlowDown")},
    "dynamodb": {
        Fault.TRANSIENT: (500, "InternalServerError"),
        Fault.THROTTLE: (400, "ProvisionedThroughputExceededException"),
    },
    "sfn": {Fault.TRANSIENT: (500, "ServiceUnavailable"), Fault.THROTTLE: (400, "ThrottlingException")},
    "lambda": {Fault.TRANSIENT: (500, "ServiceException"), Fault.THROTTLE: (429, "TooManyRequestsException")},
    "sns": {Fault.TRANSIENT: (500, "InternalError"), Fault.THROTTLE: (400, "Throttling")},
    "sqs": {Fault.TRANSIENT: (500, "InternalError"), Fault.THROTTLE: (400, "RequestThrottled")},
}
_PROTOCOLS = {"s3": "rest-xml", "lambda": "rest-json", "sns": "query"}  # the others speak JSON 1.0


@dataclass
class Rule:
    """Fault the matching calls number `skip + 1` to `skip + times` (attempts, retries included)."""

    service: str
    operation: str  # an operation name, or "*"
    fault: Fault
    skip: int = 0
    times: int = 1
    function: str | None = None  # only calls made by this function (None: any caller)
    seen: int = 0
    fired: int = 0

    def matches(self, service: str, operation: str, function: str | None) -> bool:
        return (
            self.service == service
            and self.operation in ("*", operation)
            and (self.function is None or self.function == function)
        )


@dataclass
class FaultInjector:
    rules: list[Rule] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, rule: Rule) -> Rule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    @contextmanager
    def injecting(self, *rules: Rule) -> Iterator[list[Rule]]:
        """Apply `rules` inside the block; they are removed on the way out."""
        for rule in rules:
            self.add(rule)
        try:
            yield list(rules)
        finally:
            with self._lock:
                self.rules = [r for r in self.rules if all(r is not x for x in rules)]

    def take(self, service: str, operation: str) -> Fault | None:
        """The fault this attempt gets (or None), counting it against the matching rules."""
        function = metering.current_function()
        with self._lock:
            chosen = None
            for rule in self.rules:
                if not rule.matches(service, operation, function):
                    continue
                rule.seen += 1
                if chosen is None and rule.skip < rule.seen <= rule.skip + rule.times:
                    rule.fired += 1
                    chosen = rule.fault
            return chosen


INJECTOR = FaultInjector()


def attempts() -> int:
    """How many attempts the handlers' shared clients make before a fault reaches the caller."""
    from etl_aws import clients

    return int(clients.client("s3").meta.config.retries["total_max_attempts"])


_http = URLLib3Session()


class _Body:
    """A finished response body, in the shape AWSResponse reads."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def error_response(service: str, fault: Fault, request: AWSPreparedRequest) -> AWSResponse:
    """The answer `service` gives for `fault`, in its protocol, so botocore parses it like the real one."""
    status, code = _ERRORS.get(service, _ERRORS["sfn"])[fault]
    message = "injected fault: " + fault.value
    request_id = uuid.uuid4().hex
    protocol = _PROTOCOLS.get(service, "json")
    headers = {"x-amzn-RequestId": request_id}
    if protocol == "rest-xml":
        body = (
            f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{message}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        ).encode()
        headers["Content-Type"] = "application/xml"
    elif protocol == "query":
        body = (
            f"<ErrorResponse><Error><Type>Receiver</Type><Code>{code}</Code><Message>{message}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers["Content-Type"] = "text/xml"
    else:
        body = json.dumps({"__type": code, "message": message}).encode()
        headers["x-amzn-ErrorType"] = code
        headers["Content-Type"] = "application/x-amz-json-1.0"
    return AWSResponse(request.url, status, headers, _Body(body))


def _moto_stub() -> Any:
    from moto.core.models import botocore_stubber

    return botocore_stubber


def _before_send(request: AWSPreparedRequest, event_name: str, **kwargs: Any) -> AWSResponse | None:
    """Stands where moto's in-process stub stands (and in front of the HTTP send): faults first."""
    _, service, operation = event_name.split(".", 2)
    stub = _moto_stub()
    fault = INJECTOR.take(service, operation)
    if fault is None:
        return stub(event_name=event_name, request=request, **kwargs)
    if fault != Fault.LOST_RESPONSE:
        return error_response(service, fault, request)
    # The request takes effect (in-process moto, or over HTTP), then its answer is lost.
    if stub(event_name=event_name, request=request, **kwargs) is None:
        _http.send(request).content  # noqa: B018 - read it all: the service has answered
    raise ReadTimeoutError(endpoint_url=request.url)


_installed = threading.Lock()


def install() -> None:
    """Route every botocore client created from now on in this process through the injector
    (idempotent). It takes the place of moto's in-process stub and delegates to it."""
    stub = _moto_stub()
    calls.install()  # the recorder of the calls a run makes, to build fault sites from
    metering.follow_managed_transfers()  # a transfer's requests are its caller's, for rules by function
    with _installed:
        specs = handlers.BUILTIN_HANDLERS
        if any(spec[1] is _before_send for spec in specs):
            return
        for i, spec in enumerate(specs):
            if spec[1] is stub:
                specs[i] = ("before-send", _before_send, handlers.REGISTER_FIRST)
                return
        specs.append(("before-send", _before_send, handlers.REGISTER_FIRST))
