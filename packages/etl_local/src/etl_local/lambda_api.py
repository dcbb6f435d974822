"""The Lambda REST operations the system calls on durable functions, served on 127.0.0.1.

- `Invoke` (POST /2015-03-31/functions/{FunctionName}/invocations, `X-Amz-Invocation-Type: Event`,
  `X-Amz-Durable-Execution-Name`): starts the named durable execution; a name already used answers 409
  DurableExecutionAlreadyStartedException, as the service does.
- `SendDurableExecutionCallbackSuccess` (POST /2025-12-01/durable-execution-callbacks/{CallbackId}/succeed).
- `StopDurableExecution` (POST /2025-12-01/durable-executions/{DurableExecutionArn}/stop, the body an
  optional `Error`): the execution ends STOPPED; what `etl jobs cancel` calls.
- `ListDurableExecutionsByFunction` (GET /2025-12-01/functions/{FunctionName}/durable-executions) and
  `GetDurableExecutionHistory` (GET /2025-12-01/durable-executions/{DurableExecutionArn}/history): the
  reads `etl jobs show` makes, paged by `Marker`/`MaxItems` as the service pages them.

Errors use the rest-json shape botocore parses (`x-amzn-ErrorType` header plus a JSON message), so
`etl_aws` handles them exactly as it handles the real service's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from etl_local.durable import AlreadyStarted, CallbackNotFound, DurableEngine, ExecutionNotFound
from etl_local.http import LoopbackServer

_INVOKE = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")
_CALLBACK = re.compile(r"^/2025-12-01/durable-execution-callbacks/(?P<id>[^/]+)/succeed$")
_LIST = re.compile(r"^/2025-12-01/functions/(?P<name>[^/]+)/durable-executions$")
_HISTORY = re.compile(r"^/2025-12-01/durable-executions/(?P<arn>[^/]+)/history$")
_STOP = re.compile(r"^/2025-12-01/durable-executions/(?P<arn>[^/]+)/stop$")
_MAX_BODY = 6 * 1024 * 1024
_PAGE_SIZE = 100


class LambdaEndpoint(LoopbackServer):
    """HTTP server for durable starts and callbacks, backed by the durable engine."""

    def __init__(
        self,
        engine: DurableEngine,
        durable_function: str,
        execution_timeout: int,
        host: str = "127.0.0.1",
        on_call: Callable[[str], None] | None = None,
    ) -> None:
        self.engine = engine
        self.durable_function = durable_function
        self.execution_timeout = execution_timeout
        self._on_call = on_call or (lambda _op: None)
        self._listen(_handler_class(self), "local-lambda", host)

    def invoke(self, name: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
        base, qualifier = _function(name)
        if base != self.durable_function:
            return _error(404, "ResourceNotFoundException", f"Function not found: {name}")
        if not qualifier or qualifier == "$LATEST":
            return _error(400, "InvalidParameterValueException", "durable functions need a qualified ARN")
        if headers.get("X-Amz-Invocation-Type", "RequestResponse") != "Event":
            return _error(400, "InvalidParameterValueException", "only asynchronous invocations are served")
        execution_name = headers.get("X-Amz-Durable-Execution-Name")
        if not execution_name:
            return _error(400, "InvalidParameterValueException", "X-Amz-Durable-Execution-Name is required")
        self._on_call("Invoke")
        try:
            arn = self.engine.start(execution_name, body.decode(), self.execution_timeout)
        except AlreadyStarted as exc:
            return _error(409, "DurableExecutionAlreadyStartedException", str(exc))
        return 202, {"X-Amz-Durable-Execution-Arn": arn}, b""

    def callback_success(self, callback_id: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        self._on_call("SendDurableExecutionCallbackSuccess")
        try:
            self.engine.send_callback_success(callback_id, body)
        except CallbackNotFound as exc:
            return _error(404, "ResourceNotFoundException", str(exc))
        return 200, {}, b"{}"

    def stop(self, arn: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        """StopDurableExecution; the request body is the optional `Error` structure itself."""
        self._on_call("StopDurableExecution")
        try:
            error = json.loads(body) if body.strip() else None
        except ValueError:
            return _error(400, "InvalidParameterValueException", "the request body is not JSON")
        try:
            stopped = self.engine.stop(arn, error if isinstance(error, dict) else None)
        except ExecutionNotFound as exc:
            return _error(404, "ResourceNotFoundException", str(exc))
        return 200, {}, json.dumps({"StopTimestamp": stopped.timestamp()}).encode()

    def list_executions(self, name: str, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """ListDurableExecutionsByFunction of the durable function (the qualifier is its one alias)."""
        self._on_call("ListDurableExecutionsByFunction")
        if _function(name)[0] != self.durable_function:
            return _error(404, "ResourceNotFoundException", f"Function not found: {name}")
        found = self.engine.executions(query.get("DurableExecutionName"))
        return _page("DurableExecutions", found, query)

    def history(self, arn: str, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """GetDurableExecutionHistory, read from the engine's store."""
        self._on_call("GetDurableExecutionHistory")
        events = self.engine.history(arn)
        if events is None:
            return _error(404, "ResourceNotFoundException", "Durable Execution does not exist")
        return _page("Events", events, query)


def _function(name: str) -> tuple[str, str]:
    """(function name, qualifier) of a function name, partial ARN or ARN."""
    function = ":".join(name.split(":")[6:]) if name.startswith("arn:") else name
    base, _, qualifier = function.partition(":")
    return base, qualifier


def _page(key: str, items: list[dict[str, Any]], query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    """One page of `items` from offset `Marker`, at most `MaxItems` long; `NextMarker` when more remain."""
    try:
        start = int(query.get("Marker") or 0)
        size = int(query.get("MaxItems") or 0) or _PAGE_SIZE
    except ValueError:
        return _error(400, "InvalidParameterValueException", "Marker and MaxItems must be integers")
    page: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        page["NextMarker"] = str(start + size)
    return 200, {}, json.dumps(page, default=_epoch_seconds).encode()


def _epoch_seconds(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    body = json.dumps({"Type": "User", "message": message}).encode()
    return status, {"x-amzn-ErrorType": code}, body


def _handler_class(endpoint: LambdaEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = {key: values[0] for key, values in parse_qs(url.query).items()}
            if match := _LIST.match(url.path):
                self._send(*endpoint.list_executions(unquote(match["name"]), query))
            elif match := _HISTORY.match(url.path):
                self._send(*endpoint.history(unquote(match["arn"]), query))
            else:
                self._send(*_error(404, "UnknownOperationException", f"not served locally: {url.path}"))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > _MAX_BODY:
                self._send(*_error(413, "RequestTooLargeException", "request too large"))
                return
            body = self.rfile.read(length)
            path = urlsplit(self.path).path
            if match := _INVOKE.match(path):
                self._send(*endpoint.invoke(unquote(match["name"]), self.headers, body))
            elif match := _CALLBACK.match(path):
                self._send(*endpoint.callback_success(unquote(match["id"]), body))
            elif match := _STOP.match(path):
                self._send(*endpoint.stop(unquote(match["arn"]), body))
            else:
                self._send(*_error(404, "UnknownOperationException", f"not served locally: {path}"))

        def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

    return Handler
