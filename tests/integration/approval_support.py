"""Support for the approval service tests: jobs brought to PENDING_APPROVAL by the real steps on moto,
API Gateway REST proxy events, and a recorder of the callbacks that resume workflows.

moto 5.2.5 does not implement SendDurableExecutionCallbackSuccess and accepts any SendTaskSuccess, so
`CallbackRecorder` answers both at the AWS boundary: it hooks the real botocore clients that
`etl_aws.clients` hands out (parameters are still validated against the service model), records each
call and can be told to fail the next ones.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlencode

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError

from etl_aws import clients, identity, steps
from etl_aws import contract as C
from etl_aws.jobs import JobsRepository
from etl_aws.models import ObjectRef, StartRequest

API_URL = "https://api.example.test/prod"
ACCOUNT = "123456789012"
OPERATOR_ARN = f"arn:aws:iam::{ACCOUNT}:user/operator"

CSV = (
    b"id,name,date,amount\n"
    b"1,Alice,2025-01-02,10.5\n"
    b"2,Bob,01/03/2025,20\n"
    b"3,,2025-01-04,5\n"
    b"4,Dan,2025-02-30,7\n"
    b"5,Eve,2025-01-05,abc\n"
)

_CALLBACK_OPERATIONS = (
    # (etl_aws client name, botocore event service id, operation, workflow)
    ("lambda", "lambda", "SendDurableExecutionCallbackSuccess", C.DURABLE),
    ("stepfunctions", "sfn", "SendTaskSuccess", C.STEP_FUNCTIONS),
)


# ---- callbacks ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SentCallback:
    workflow: str
    token: str
    payload: dict[str, Any]


@dataclass
class CallbackRecorder:
    """Stands for both orchestrators at the AWS boundary; thread-safe.

    Answers the two callback operations as the services do: a token completes once (a second send, or
    a send after the approval timed out, is refused with the service's error), and reports each
    execution's approval in DescribeExecution / GetExecutionHistory (Step Functions) and
    GetDurableExecutionHistory (durable), where the approval service reads what really happened.
    `fail_next(code)` fails the next send; `lose_next()` lets it take effect and loses its answer;
    `hold_next()` blocks it until the returned event is set; `expire(token)` times the approval out."""

    sent: list[SentCallback] = field(default_factory=list)
    attempts: int = 0
    _failures: deque[tuple[str, int]] = field(default_factory=deque)
    _lose: int = 0
    _holds: deque[threading.Event] = field(default_factory=deque)
    completed: set[str] = field(default_factory=set)
    expired: set[str] = field(default_factory=set)
    executions: dict[str, str] = field(default_factory=dict)  # execution ARN → the token it waits on
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self) -> None:
        for name, service_id, operation, workflow in _CALLBACK_OPERATIONS:
            events = clients.client(name).meta.events
            events.register(f"before-parameter-build.{service_id}.{operation}", self._keep_params)
            events.register(f"before-call.{service_id}.{operation}", self._answer(workflow))
        for name, service_id, operation in _HISTORY_OPERATIONS:
            events = clients.client(name).meta.events
            events.register(f"before-parameter-build.{service_id}.{operation}", self._keep_params)
            events.register(f"before-call.{service_id}.{operation}", self._history(operation))

    def fail_next(self, code: str = "ServiceException", status: int = 500) -> None:
        with self._lock:
            self._failures.append((code, status))

    def lose_next(self) -> None:
        with self._lock:
            self._lose += 1

    def hold_next(self) -> threading.Event:
        release = threading.Event()
        with self._lock:
            self._holds.append(release)
        return release

    def expire(self, token: str) -> None:
        with self._lock:
            self.expired.add(token)

    def waits(self, execution_arn: str, token: str) -> None:
        with self._lock:
            self.executions[execution_arn] = token

    @property
    def approvals(self) -> list[bool]:
        return [c.payload["approved"] for c in self.sent]

    @staticmethod
    def _keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["recorded_params"] = dict(params)

    def _answer(self, workflow: str) -> Any:
        closed = ("ResourceNotFoundException", 404) if workflow == C.DURABLE else ("TaskTimedOut", 400)

        def answer(context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
            params = context["recorded_params"]
            if workflow == C.DURABLE:
                token, result = params["CallbackId"], params["Result"]
            else:
                token, result = params["taskToken"], params["output"]
            payload = json.loads(result)
            with self._lock:
                hold = self._holds.popleft() if self._holds else None
            if hold is not None:
                hold.wait(30)
            with self._lock:
                self.attempts += 1
                failure = self._failures.popleft() if self._failures else None
                if failure is None and (token in self.completed or token in self.expired):
                    failure = closed
                lost = failure is None and self._lose > 0
                if failure is None:
                    self.sent.append(SentCallback(workflow, token, payload))
                    self.completed.add(token)
                    self._lose -= int(lost)
            if lost:
                raise ReadTimeoutError(endpoint_url="https://callback.test")
            if failure is not None:
                return _error_answer(*failure)
            return AWSResponse("https://callback.test", 200, {}, None), {
                "ResponseMetadata": {"HTTPStatusCode": 200}
            }

        return answer

    def _history(self, operation: str) -> Any:
        def answer(context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
            params = context["recorded_params"]
            arn = params.get("executionArn") or params.get("DurableExecutionArn")
            with self._lock:
                token = self.executions.get(arn)
                state = (
                    None
                    if token is None
                    else "succeeded"
                    if token in self.completed
                    else "timed_out"
                    if token in self.expired
                    else "waiting"
                )
            if state is None:
                code = (
                    "ResourceNotFoundException"
                    if operation.startswith("GetDurable")
                    else "ExecutionDoesNotExist"
                )
                return _error_answer(code, 404 if code.startswith("Resource") else 400)
            ok = {"ResponseMetadata": {"HTTPStatusCode": 200}}
            if operation == "DescribeExecution":
                return AWSResponse(arn, 200, {}, None), {**ok, "status": "RUNNING", "executionArn": arn}
            if operation == "GetExecutionHistory":
                kind = {"succeeded": "TaskSucceeded", "timed_out": "TaskTimedOut", "waiting": "TaskSubmitted"}
                key = kind[state][0].lower() + kind[state][1:] + "EventDetails"
                details = {"resourceType": "lambda", "resource": "invoke.waitForTaskToken"}
                return AWSResponse(arn, 200, {}, None), {
                    **ok,
                    "events": [{"type": kind[state], key: details}],
                }
            kind = {
                "succeeded": "CallbackSucceeded",
                "timed_out": "CallbackTimedOut",
                "waiting": "CallbackStarted",
            }
            events = [
                {"EventType": "StepSucceeded", "Name": "load"},
                {"EventType": kind[state], "Name": "approval"},
            ]
            return AWSResponse(arn, 200, {}, None), {**ok, "Events": events}

        return answer


_HISTORY_OPERATIONS = (
    ("stepfunctions", "sfn", "DescribeExecution"),
    ("stepfunctions", "sfn", "GetExecutionHistory"),
    ("lambda", "lambda", "GetDurableExecutionHistory"),
)


def _error_answer(code: str, status: int) -> tuple[AWSResponse, dict[str, Any]]:
    error = {"Error": {"Code": code, "Message": "answered by the test's orchestrator"}}
    return AWSResponse("https://callback.test", status, {}, None), {
        **error,
        "ResponseMetadata": {"HTTPStatusCode": status},
    }


def execution_arn(workflow: str, job_id: str) -> str:
    """The ARN of the execution a job waits in (as the orchestrators report it to request_approval)."""
    if workflow == C.DURABLE:
        function = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:test-durable-orchestrator:1"
        return f"{function}/durable-execution/{job_id}/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    return f"arn:aws:states:us-east-1:{ACCOUNT}:execution:test-sfn-etl:{job_id}"


# ---- API Gateway events ---------------------------------------------------------------------------------


@dataclass
class FakeLambdaContext:
    function_name: str = "test-approval-api"
    function_version: str = "$LATEST"
    invoked_function_arn: str = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:test-approval-api:live"
    memory_limit_in_mb: int = 256
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"
    log_group_name: str = "/aws/lambda/test-approval-api"
    log_stream_name: str = "2026/01/01/[$LATEST]0"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


_ROUTE_PARAM = re.compile(r"\{(\w+)\}")


def api_event(
    method: str,
    resource: str,
    path_params: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    body: Any = None,
    content_type: str | None = None,
    caller: str | None = OPERATOR_ARN,
) -> dict[str, Any]:
    """A REST (v1) proxy event as API Gateway sends it. `caller=None`: no IAM identity.

    `body` may be a dict (sent as JSON, or form-encoded with content_type form) or a raw string.
    """
    path_params = path_params or {}
    path = _ROUTE_PARAM.sub(lambda m: path_params[m.group(1)], resource)
    if isinstance(body, dict):
        if content_type == "application/x-www-form-urlencoded":
            body = urlencode(body)
        else:
            body, content_type = json.dumps(body), content_type or "application/json"
    headers = {"Host": "api.example.test", "User-Agent": "pytest", "Accept": "*/*"}
    if content_type:
        headers["Content-Type"] = content_type
    identity = {
        "sourceIp": "192.0.2.10",
        "userAgent": "pytest",
        "userArn": caller,
        "caller": caller and "AIDAEXAMPLEOPERATOR",
        "accessKey": caller and "AKIAEXAMPLEOPERATOR",
        "accountId": caller and ACCOUNT,
        "user": caller and "AIDAEXAMPLEOPERATOR",
        "cognitoIdentityId": None,
        "cognitoIdentityPoolId": None,
        "cognitoAuthenticationType": None,
        "cognitoAuthenticationProvider": None,
    }
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": path_params or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "abc123",
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/prod{path}",
            "stage": "prod",
            "accountId": ACCOUNT,
            "apiId": "a1b2c3d4e5",
            "protocol": "HTTP/1.1",
            "requestId": "req-" + secrets.token_hex(4),
            "requestTimeEpoch": 1767225600000,
            "identity": identity,
        },
        "body": body,
        "isBase64Encoded": False,
    }


@dataclass
class ApiResponse:
    status: int
    headers: dict[str, str]
    body: str

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")


def to_response(raw: dict[str, Any]) -> ApiResponse:
    headers = {k: v[-1] for k, v in (raw.get("multiValueHeaders") or {}).items()}
    headers.update(raw.get("headers") or {})
    return ApiResponse(int(raw["statusCode"]), headers, raw.get("body") or "")


# ---- the approval environment ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PendingJob:
    job_id: str
    workflow: str
    review_token: str
    callback_token: str
    review_token_hash: str


class ApprovalEnv:
    """A provisioned stack, jobs waiting for a decision, the approval API handler, the callback recorder."""

    def __init__(self, stack: Any, recorder: CallbackRecorder) -> None:
        self.stack = stack
        self.recorder = recorder
        self.repo = JobsRepository(stack.resources["jobs_table"])
        self._count = 0

    def pending(
        self, workflow: str = C.DURABLE, job_id: str | None = None, csv: bytes = CSV, timeout: int = 3600
    ) -> PendingJob:
        """Upload a CSV and run the real steps up to PENDING_APPROVAL; read the token from the e-mail."""
        self._count += 1
        cfg = self.stack.settings(workflow, api_url=API_URL, approval_timeout_seconds=timeout)
        key = f"{C.UPLOAD_PREFIX}batch-{self._count}.csv"
        put = self.stack.client("s3").put_object(Bucket=self.stack.raw_bucket(workflow), Key=key, Body=csv)
        ref = ObjectRef(
            bucket=self.stack.raw_bucket(workflow),
            key=key,
            version_id=put.get("VersionId"),
            etag=put["ETag"].strip('"'),
            size=len(csv),
        )
        job_id = job_id or identity.job_id(ref)
        steps.register(ref, job_id, cfg)
        extracted = steps.extract(StartRequest(job_id=job_id, object=ref), cfg)
        loaded = steps.load(steps.transform(extracted, cfg), cfg)
        # Shaped like the real ones: a durable callback id is base64 (the API's pattern), a task token opaque.
        callback_token = (
            base64.b64encode(secrets.token_bytes(48)).decode()
            if workflow == C.DURABLE
            else "AQCEAAAAKgAAAA" + secrets.token_urlsafe(48)
        )
        arn = execution_arn(workflow, job_id)
        self.recorder.waits(arn, callback_token)
        steps.request_approval(loaded, callback_token, cfg, execution_arn=arn)
        token = self._token_from_email(job_id)
        hashed = self.repo.approval_secrets(job_id).review_token_hash
        assert hashed
        return PendingJob(job_id, workflow, token, callback_token, hashed)

    def _token_from_email(self, job_id: str) -> str:
        from moto.sns.models import sns_backends

        topic = sns_backends[ACCOUNT]["us-east-1"].topics[self.stack.resources["topic_arn"]]
        for _, message, *_ in reversed(topic.sent_notifications):
            match = re.search(rf"/review/{re.escape(job_id)}\?token=(\S+)", message)
            if match:
                return unquote(match.group(1))
        raise AssertionError(f"no review link for {job_id} was e-mailed")

    def expire(self, job_id: str) -> None:
        """Move the approval deadline into the past (as if the reviewer waited too long)."""
        self.stack.client("dynamodb").update_item(
            TableName=self.stack.resources["jobs_table"],
            Key={"job_id": {"S": job_id}},
            UpdateExpression="SET approval_expires_at = :past",
            ExpressionAttributeValues={":past": {"S": "2000-01-01T00:00:00.000000Z"}},
        )

    def raw_item(self, job_id: str) -> dict[str, Any]:
        return self.stack.client("dynamodb").get_item(
            TableName=self.stack.resources["jobs_table"], Key={"job_id": {"S": job_id}}, ConsistentRead=True
        )["Item"]

    def call(self, event: dict[str, Any]) -> ApiResponse:
        from etl_approval.app import handler

        return to_response(handler(event, FakeLambdaContext()))

    # Shorthands for the routes ----------------------------------------------------------------------

    def operator(self, action: str, job_id: str, reason: str | None = None, **kw: Any) -> ApiResponse:
        body = {"reason": reason} if reason is not None else None
        return self.call(api_event("POST", f"/jobs/{{jobId}}/{action}", {"jobId": job_id}, body=body, **kw))

    def review_get(self, job_id: str, token: str | None) -> ApiResponse:
        query = {"token": token} if token is not None else None
        return self.call(api_event("GET", "/review/{jobId}", {"jobId": job_id}, query=query, caller=None))

    def review_post(
        self,
        job_id: str,
        token: str | None,
        decision: str,
        reason: str = "",
        form: bool = True,
        token_in_query: bool = True,
        extra: dict[str, str] | None = None,
    ) -> ApiResponse:
        fields = {"decision": decision, "reason": reason} | (extra or {})
        query = None
        if token is not None and token_in_query:
            query = {"token": token}
        elif token is not None:
            fields["token"] = token
        content_type = "application/x-www-form-urlencoded" if form else "application/json"
        event = api_event(
            "POST",
            "/review/{jobId}",
            {"jobId": job_id},
            query=query,
            body=fields,
            content_type=content_type,
            caller=None,
        )
        return self.call(event)
