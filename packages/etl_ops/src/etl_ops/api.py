"""A small client of the approval API: every operator request is SigV4-signed (IAM auth)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from etl_aws import contract as C

SIGNING_SERVICE = "execute-api"


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def send(
    method: str,
    url: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    credentials: Credentials | None = None,
    region: str = "us-east-1",
    timeout: float = 30,
) -> Response:
    """One HTTP request; signed with SigV4 for execute-api when credentials are given."""
    headers = dict(headers or {})
    if credentials is not None:
        request = AWSRequest(method=method, url=url, data=body, headers=headers)
        request.headers["Host"] = urlsplit(url).netloc
        SigV4Auth(credentials, SIGNING_SERVICE, region).add_auth(request)
        headers = dict(request.headers.items())
    http = urllib.request.Request(url, data=body or None, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(http, timeout=timeout) as answer:  # noqa: S310 - operator-given URL
            return Response(answer.status, dict(answer.headers.items()), answer.read())
    except urllib.error.HTTPError as exc:
        return Response(exc.code, dict(exc.headers.items()), exc.read())


class ApprovalApi:
    """Operator routes of the approval API (IAM), and the review-link routes (no IAM)."""

    def __init__(self, base_url: str, credentials: Credentials | None, region: str = "us-east-1") -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.region = region
        self.calls = 0

    def _call(self, method: str, path: str, payload: Any = None, signed: bool = True) -> Response:
        self.calls += 1
        body = json.dumps(payload).encode() if payload is not None else b""
        headers = {"Content-Type": "application/json"} if body else {}
        return send(
            method,
            f"{self.base_url}{path}",
            body,
            headers,
            self.credentials if signed else None,
            self.region,
        )

    def list_jobs(self, status: str | None = None, limit: int = 100, cursor: str | None = None) -> Response:
        query = {k: v for k, v in (("status", status), ("limit", str(limit)), ("cursor", cursor)) if v}
        path = C.ROUTE_LIST_JOBS.path()
        return self._call(C.ROUTE_LIST_JOBS.method, f"{path}?{urlencode(query)}" if query else path)

    def get_job(self, job_id: str) -> Response:
        return self._route(C.ROUTE_GET_JOB, job_id)

    def approve(self, job_id: str, reason: str = "") -> Response:
        return self._route(C.ROUTE_APPROVE, job_id, {"reason": reason} if reason else {})

    def reject(self, job_id: str, reason: str) -> Response:
        return self._route(C.ROUTE_REJECT, job_id, {"reason": reason})

    def unpublish(self, job_id: str, reason: str) -> Response:
        """Take a COMPLETED job's published output back (moved under retracted/, with the reason)."""
        return self._route(C.ROUTE_UNPUBLISH, job_id, {"reason": reason})

    def _route(self, route: C.ApiRoute, job_id: str, payload: Any = None) -> Response:
        return self._call(route.method, route.path(jobId=job_id), payload, signed=route.iam)

    def unsigned(self, method: str, path: str) -> Response:
        return self._call(method, path, signed=False)

    def review_page(self, review_link: str) -> Response:
        """The review page the e-mailed link opens (no IAM: the token is the credential)."""
        self.calls += 1
        return send("GET", review_link, headers={"Accept": "text/html"})

    def review(self, review_link: str, decision: str, reason: str = "") -> Response:
        """Decide through the e-mailed review link, as the review page's form posts it."""
        self.calls += 1
        body = urlencode({"decision": decision, "reason": reason}).encode()
        return send(
            "POST",
            review_link,
            body,
            {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
        )
