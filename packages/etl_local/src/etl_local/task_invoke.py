"""The endpoint the moto process invokes functions through (Step Functions' Lambda tasks).

`POST /functions/{name}/invocations` with the event as the body runs the function in the runtime's
function host and answers its payload; a function error is flagged with `X-Amz-Function-Error`, as
the Lambda Invoke API does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote

from etl_local.http import LoopbackServer
from etl_local.moto_process import ERROR_HEADER

Invoke = Callable[[str, Any], tuple[str, bool]]


class TaskEndpoint(LoopbackServer):
    def __init__(self, invoke: Invoke, host: str = "127.0.0.1") -> None:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                parts = self.path.strip("/").split("/")
                if len(parts) != 3 or parts[0] != "functions" or parts[2] != "invocations":
                    self._answer(404, b'{"message": "not found"}', False)
                    return
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else "{}"
                payload, errored = endpoint.invoke(unquote(parts[1]), json.loads(raw or "{}"))
                self._answer(200, payload.encode(), errored)

            def _answer(self, status: int, body: bytes, errored: bool) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if errored:
                    self.send_header(ERROR_HEADER, "Unhandled")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:  # no request log on the terminal
                return

        self.invoke = invoke
        self._listen(Handler, "task-endpoint", host)
