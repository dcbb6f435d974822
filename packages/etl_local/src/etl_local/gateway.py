"""API Gateway (REST, proxy integration) on 127.0.0.1 in front of the approval function.

Routes and their authorization are etl_aws.contract.API_ROUTES, which terraform/modules/approval_api
is held to: operator routes need IAM
(SigV4); an unsigned or wrongly signed request is refused at the gateway with 403, as API Gateway refuses
it, and never reaches the function. A verified request carries the caller in
`requestContext.identity.userArn`. Review routes carry no IAM auth (the review token is checked by the
function). An unknown route is 403 "Missing Authentication Token", as on AWS.
"""

from __future__ import annotations

import base64
import concurrent.futures
import datetime as dt
import hmac
import json
import re
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from etl_aws.contract import API_ROUTES, ApiRoute
from etl_local import limits
from etl_local.http import LoopbackServer
from etl_local.resources import ACCOUNT, REGION

SIGNING_SERVICE = "execute-api"
MAX_CLOCK_SKEW = dt.timedelta(minutes=15)


@cache
def _pattern(resource: str) -> re.Pattern[str]:
    """A regex matching request paths of a resource path; each {name} matches one segment."""
    regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(resource))
    return re.compile(f"^{regex}$")


@dataclass(frozen=True)
class Principal:
    """A local IAM identity: the access key pair a caller signs with, and who that is."""

    access_key: str
    secret_key: str
    arn: str
    principal_id: str = ""  # "AIDA…": what API Gateway puts in identity.user and S3 events in principalId


class SignatureError(Exception):
    pass


def verify_sigv4(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    principals: Mapping[str, Principal],
    now: dt.datetime | None = None,
) -> Principal:
    """The principal whose SigV4 signature the request carries (botocore computes the expected one)."""
    auth = headers.get("authorization") or ""
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        raise SignatureError("Missing Authentication Token")
    fields = dict(part.strip().split("=", 1) for part in auth[len("AWS4-HMAC-SHA256 ") :].split(","))
    try:
        access_key, date, region, service, terminator = fields["Credential"].split("/")
        signed = fields["SignedHeaders"].split(";")
        signature = fields["Signature"]
    except (KeyError, ValueError):
        raise SignatureError(
            "Authorization header requires Credential, SignedHeaders and Signature"
        ) from None
    principal = principals.get(access_key)
    if principal is None:
        raise SignatureError("The security token included in the request is invalid.")
    timestamp = headers.get("x-amz-date") or ""
    try:
        when = dt.datetime.strptime(timestamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        raise SignatureError("X-Amz-Date is missing or malformed") from None
    now = now or dt.datetime.now(dt.UTC)
    if abs(now - when) > MAX_CLOCK_SKEW or date != timestamp[:8] or terminator != "aws4_request":
        raise SignatureError("Signature expired or credential scope invalid")
    if service != SIGNING_SERVICE or region != REGION or "host" not in signed:
        raise SignatureError("Credential should be scoped to a valid region and service")
    request = AWSRequest(
        method=method, url=url, data=body, headers={name: headers.get(name, "") for name in signed}
    )
    request.context["timestamp"] = timestamp
    signer = SigV4Auth(
        Credentials(principal.access_key, principal.secret_key, headers.get("x-amz-security-token")),
        service,
        region,
    )
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    if not hmac.compare_digest(expected, signature):
        raise SignatureError("The request signature we calculated does not match the signature you provided.")
    return principal


def proxy_event(
    route: ApiRoute,
    params: dict[str, str],
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    source_ip: str,
    principal: Principal | None,
) -> dict[str, Any]:
    """The REST API (v1) proxy integration event API Gateway sends the function."""
    pairs = parse_qsl(query, keep_blank_values=True)
    multi: dict[str, list[str]] = {}
    for key, value in pairs:
        multi.setdefault(key, []).append(value)
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode(), True
    identity: dict[str, Any] = {"sourceIp": source_ip, "userAgent": headers.get("user-agent", "")}
    if principal is not None:
        identity.update(
            {"userArn": principal.arn, "caller": principal.access_key, "accessKey": principal.access_key}
        )
        if principal.principal_id:
            identity["user"] = principal.principal_id
        identity["accountId"] = ACCOUNT
    header_map = dict(headers.items())
    return {
        "resource": route.resource,
        "path": path,
        "httpMethod": method,
        "headers": header_map,
        "multiValueHeaders": {k: [v] for k, v in header_map.items()},
        "queryStringParameters": {k: v[-1] for k, v in multi.items()} or None,
        "multiValueQueryStringParameters": multi or None,
        "pathParameters": params or None,
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "local",
            "stage": "local",
            "resourcePath": route.resource,
            "httpMethod": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(dt.datetime.now(dt.UTC).timestamp() * 1000),
            "identity": identity,
        },
        "body": text or None,
        "isBase64Encoded": encoded,
    }


class Gateway(LoopbackServer):
    """HTTP server turning requests into proxy events for `invoke(event) -> proxy response`."""

    def __init__(
        self,
        invoke: Callable[[dict[str, Any]], dict[str, Any]],
        principals: Mapping[str, Principal],
        host: str = "127.0.0.1",
    ) -> None:
        self._invoke = invoke
        self.principals = dict(principals)
        self.requests: Counter[str] = Counter()  # by route "METHOD /resource"
        self.refused: Counter[int] = Counter()
        self.timeout = limits.API_GATEWAY_TIMEOUT
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=16, thread_name_prefix="gateway")
        self._lock = threading.Lock()
        self._listen(_handler_class(self), "local-gateway", host)

    def handle(
        self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes, source_ip: str
    ) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(raw_path)
        path = unquote(parts.path)
        route, params = _match(method, path)
        if route is None:
            return self._refuse(403, "Missing Authentication Token")
        principal = None
        if route.iam:
            host = headers.get("host") or ""
            try:
                principal = verify_sigv4(method, f"http://{host}{raw_path}", headers, body, self.principals)
            except SignatureError as exc:
                return self._refuse(403, str(exc))
        with self._lock:
            self.requests[f"{route.method} {route.resource}"] += 1
        event = proxy_event(route, params, method, path, parts.query, headers, body, source_ip, principal)
        # As API Gateway: the integration gets `timeout` seconds (29 by default), then the caller gets a 504
        # while the function runs on to its own end.
        call = self._pool.submit(self._invoke, event)
        try:
            response = call.result(timeout=self.timeout)
        except concurrent.futures.TimeoutError:
            return 504, {"Content-Type": "application/json"}, b'{"message": "Endpoint request timed out"}'
        except Exception:
            return 502, {"Content-Type": "application/json"}, b'{"message": "Internal server error"}'
        out_headers = {k: str(v) for k, v in (response.get("headers") or {}).items()}
        for key, values in (response.get("multiValueHeaders") or {}).items():
            out_headers[key] = ", ".join(str(v) for v in values)
        raw = response.get("body") or ""
        data = base64.b64decode(raw) if response.get("isBase64Encoded") else raw.encode()
        return int(response.get("statusCode", 200)), out_headers, data

    def stop(self) -> None:
        super().stop()
        self._pool.shutdown(wait=False)

    def _refuse(self, status: int, message: str) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.refused[status] += 1
        headers = {"Content-Type": "application/json", "x-amzn-ErrorType": "IncompleteSignatureException"}
        if message == "Missing Authentication Token":
            headers["x-amzn-ErrorType"] = "MissingAuthenticationTokenException"
        return status, headers, json.dumps({"message": message}).encode()


def _match(method: str, path: str) -> tuple[ApiRoute | None, dict[str, str]]:
    for route in API_ROUTES:
        if route.method == method and (match := _pattern(route.resource).match(path)):
            return route, match.groupdict()
    return None, {}


def _handler_class(gateway: Gateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > limits.API_GATEWAY_PAYLOAD:
                while length > 0:  # read it (and drop it) so the client hears the answer
                    chunk = self.rfile.read(min(length, 1 << 20))
                    if not chunk:
                        break
                    length -= len(chunk)
                self._send(413, {"Content-Type": "application/json"}, b'{"message": "Request Too Long"}')
                return
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            self._send(*gateway.handle(self.command, self.path, headers, body, self.client_address[0]))

        do_GET = _serve
        do_POST = _serve
        do_PUT = _serve
        do_DELETE = _serve
        do_PATCH = _serve

        def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for key, value in headers.items():
                if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler
