"""Run the Step Functions orchestrator for real: moto's ASL interpreter executes the rendered definition and
every Lambda task runs this project's handler code in-process.

How it fits together:
- moto executes state machines only with `execute_state_machine` set; the fixture sets it before the
  state machine is created.
- The task functions, the starter and their aliases are created in moto's Lambda as Terraform creates
  them (handler path and environment from `etl_aws.contract.FUNCTIONS`); the ASL names the alias ARNs.
- moto cannot run Lambda code without Docker. `LambdaRouter` replaces moto's per-function invocation
  (`LambdaFunction._invoke_lambda`, reached through the real Invoke API from the interpreter) with an
  in-process call of the function's handler, under the function's own environment variables. A raised
  exception becomes the payload the Lambda Python runtime returns (`errorType` = the class name) with
  the function-error header, so the ASL sees `TransientError`, `FileRejected`... exactly as on AWS.
- Retry back-off sleeps are recorded instead of slept (`RetryClock`), so retries cost no wall time.
- moto does not enforce the 256 KB state limit: `SfnRun.payload_sizes()` measures every input and output
  of the execution history so tests can hold them to a much smaller budget.

Reuse: request the `sfn` fixture (or `sfn_factory` for another approval timeout) by adding
`pytest_plugins = ["tests.integration.sfn_harness"]` to a test module, then call `run_sfn_job(...)`.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from etl_aws import callbacks, clients, config, identity
from etl_aws import contract as C
from etl_aws.jobs import Job, JobsRepository, now_iso
from etl_aws.models import Decision, JobStatus, ObjectRef
from etl_local import limits, metering
from etl_local import sfn as sfn_local
from etl_local.functions import LambdaContext, lambda_error
from etl_local.resources import ACCOUNT, REGION, env_for
from etl_local.sfn import ALIAS, TASK_KEYS
from etl_sfn import render_definition

WORKFLOW = C.STEP_FUNCTIONS
STATE_BUDGET = 8 * 1024  # what the tests allow each state input/output (AWS refuses above 256 KB)
DEFAULT_APPROVAL_TIMEOUT = 300
STARTER_KEY = "sfn-starter"
APPROVE = Decision(approved=True, reviewer="arn:aws:iam::123456789012:user/ops", reason="looks right")
REJECT = Decision(approved=False, reviewer="arn:aws:iam::123456789012:user/ops", reason="wrong month")


# ---- Lambda: moto's invoke routed to our handlers ------------------------------------------------


@dataclass(frozen=True)
class Invocation:
    function: str
    event: Any
    error: str | None


class LambdaRouter:
    """Runs moto Lambda invocations in-process with each function's handler and environment.

    Invocations are serialized: each runs with the settings of the function's own variables (as its own
    Lambda sandbox would have them), through `etl_aws.config.using`.
    """

    def __init__(self) -> None:
        self.invocations: list[Invocation] = []
        self._lock = threading.Lock()
        self._closed = False

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from moto.awslambda.models import LambdaFunction

        router = self

        def _invoke_lambda(fn: Any, event: Any = None) -> tuple[str, bool, str]:
            return router.invoke(fn, event if event is not None else {})

        monkeypatch.setattr(LambdaFunction, "_invoke_lambda", _invoke_lambda)

    def invoke(self, fn: Any, event: Any) -> tuple[str, bool, str]:
        module_name, _, attribute = fn.handler.rpartition(".")
        handler = getattr(importlib.import_module(module_name), attribute)
        context = LambdaContext(fn.function_name, fn.function_arn, int(fn.memory_size or 512))
        with self._lock:
            if self._closed:
                return json.dumps({"errorType": "TestOver", "errorMessage": "the test has ended"}), True, ""
            settings = config.for_function(_function_key(fn.handler), dict(fn.environment_vars or {}))
            with config.using(settings), metering.attributed_to(_function_key(fn.handler)):
                try:
                    result = handler(event, context)
                except Exception as exc:
                    self.invocations.append(Invocation(fn.function_name, event, type(exc).__name__))
                    return json.dumps(lambda_error(exc)), True, ""
            self.invocations.append(Invocation(fn.function_name, event, None))
        payload = json.dumps(result)
        too_large = limits.task_result_error(payload)  # AWS fails a state whose result is over 256 KB
        return (too_large, True, "") if too_large else (payload, False, "")

    def calls(self, function: str) -> list[Invocation]:
        return [i for i in self.invocations if i.function == function]

    def close(self) -> None:
        """Wait for a running handler to return, then refuse any later invocation."""
        with self._lock:
            self._closed = True


def _function_key(handler_path: str) -> str:
    """The contract key of the function whose handler this is (its AWS calls are attributed to it)."""
    return next(f.key for f in C.FUNCTIONS if f.handler == handler_path)


class RetryClock:
    """Stands in for `time` in moto's retrier: records each back-off instead of sleeping it."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

        monkeypatch.setattr(retrier_decl, "time", self)


@contextlib.contextmanager
def aws_fault(
    service: str, operation: str, times: int = 1, code: str = "SlowDown", status: int = 503
) -> Iterator[list[int]]:
    """The next `times` calls of `operation` on etl_aws's shared `service` client fail as AWS would
    fail a throttled or unavailable request. Yields a one-item list: how many failures are left."""
    client = clients.client(service)
    left = [times]
    event = f"before-call.{client.meta.service_model.service_id.hyphenize()}.{operation}"

    def fail(**_: Any) -> None:
        if left[0] > 0:
            left[0] -= 1
            raise ClientError(
                {
                    "Error": {"Code": code, "Message": "injected by the test"},
                    "ResponseMetadata": {"HTTPStatusCode": status},
                },
                operation,
            )

    client.meta.events.register(event, fail)
    try:
        yield left
    finally:
        client.meta.events.unregister(event, fail)


# ---- the deployed pipeline ------------------------------------------------------------------------


@dataclass
class SfnPipeline:
    """The Step Functions pipeline as Terraform deploys it, on moto."""

    stack: Any  # tests/conftest.py Stack
    state_machine_arn: str
    function_arns: dict[str, str]  # FunctionSpec key → alias ARN
    approval_timeout_seconds: int
    router: LambdaRouter
    clock: RetryClock

    @property
    def raw_bucket(self) -> str:
        return self.stack.raw_bucket(WORKFLOW)

    @property
    def output_bucket(self) -> str:
        return self.stack.output_bucket(WORKFLOW)

    @property
    def stepfunctions(self) -> Any:
        return self.stack.client("stepfunctions")

    def function_name(self, key: str) -> str:
        return self.function_arns[key].split(":")[6]

    def calls(self, key: str) -> list[Invocation]:
        return self.router.calls(self.function_name(key))

    def jobs(self) -> JobsRepository:
        # The test's own resource: boto3 resources are not safe to share with the handlers' threads.
        return JobsRepository(self.stack.resources["jobs_table"], self.stack.session.resource("dynamodb"))

    def upload(self, body: bytes, key: str = "uploads/data.csv") -> ObjectRef:
        put = self.stack.client("s3").put_object(Bucket=self.raw_bucket, Key=key, Body=body)
        return ObjectRef(
            bucket=self.raw_bucket,
            key=key,
            version_id=put["VersionId"],
            etag=put["ETag"].strip('"'),
            size=len(body),
            sequencer=f"{time.time_ns():018X}",
        )

    def start(self, *refs: ObjectRef) -> dict[str, Any]:
        """Deliver the refs' S3 events as one SQS batch to the starter function, as the event source
        mapping does. Returns the starter's response (batchItemFailures)."""
        return self.invoke_starter(sqs_event(*[s3_event(r) for r in refs]))

    def invoke_starter(self, event: dict[str, Any]) -> dict[str, Any]:
        response = self.stack.client("lambda").invoke(
            FunctionName=self.function_arns[STARTER_KEY], Payload=json.dumps(event).encode()
        )
        payload = json.loads(response["Payload"].read())
        if response.get("FunctionError"):
            raise AssertionError(f"starter failed: {payload}")
        return payload

    def executions(self) -> list[dict[str, Any]]:
        paginator = self.stepfunctions.get_paginator("list_executions")
        pages = paginator.paginate(stateMachineArn=self.state_machine_arn)
        return [e for page in pages for e in page["executions"]]

    def execution_arn(self, job_id: str) -> str:
        name = self.state_machine_arn.split(":")[-1]
        return f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{name}:{job_id}"

    def wait_until_waiting_or_done(self, job_id: str, timeout: float = 60) -> Job | None:
        """Until the job waits for a decision (returned) or the execution has ended (None)."""
        arn = self.execution_arn(job_id)
        repo = self.jobs()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = repo.find(job_id)
            if job and job.status == JobStatus.PENDING_APPROVAL and job.notified_at:
                return job
            with contextlib.suppress(ClientError):
                if self.stepfunctions.describe_execution(executionArn=arn)["status"] != "RUNNING":
                    return None
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} neither waits for a decision nor ended within {timeout} s")

    def wait_for_end(self, job_id: str, timeout: float = 60) -> dict[str, Any]:
        arn = self.execution_arn(job_id)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            described = self.stepfunctions.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING":
                return described
            time.sleep(0.1)
        raise AssertionError(f"execution {job_id} still running after {timeout} s")

    def decide(self, job_id: str, decision: Decision, record_first: bool = True) -> None:
        """Deliver a decision to the waiting execution.

        record_first: as the approval service does, record it in the jobs table (first decision wins)
        and then send it with `etl_aws.callbacks.send_decision` (SendTaskSuccess). Otherwise only send
        it, as a decision reaching the workflow by another route would.
        """
        repo = self.jobs()
        decision = decision.model_copy(update={"decided_at": decision.decided_at or now_iso()})
        if record_first:
            decision = decision.model_copy(update={"via": "iam"})
            repo.record_decision(job_id, decision)
        token = repo.approval_secrets(job_id).callback_token
        assert token, f"job {job_id} has no task token stored"
        callbacks.send_decision(WORKFLOW, token, decision)
        if record_first:
            repo.mark_callback_sent(job_id)

    def history(self, job_id: str) -> list[dict[str, Any]]:
        pages = self.stepfunctions.get_paginator("get_execution_history").paginate(
            executionArn=self.execution_arn(job_id)
        )
        return [e for page in pages for e in page["events"]]

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = (
            self.stack.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        )
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

    def stop(self, job_id: str, timeout: float = 30) -> None:
        """Stop a running execution. moto can only stop one whose interpreter has begun (it fails on
        a just-started one), so wait for its first history event."""
        arn = self.execution_arn(job_id)
        deadline = time.monotonic() + timeout
        while not self.stepfunctions.get_execution_history(executionArn=arn, maxResults=1)["events"]:
            if time.monotonic() > deadline:
                raise AssertionError(f"execution {job_id} never began")
            time.sleep(0.1)
        self.stepfunctions.stop_execution(executionArn=arn, error="Stopped", cause="stopped by the test")

    def stop_running(self) -> None:
        for execution in self.executions():
            if execution["status"] == "RUNNING":
                with contextlib.suppress(ClientError, AssertionError):
                    self.stop(execution["name"])


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README", "handlers run in-process; see tests/integration/sfn_harness.py")
    return buffer.getvalue()


def _function_env(
    stack: Any, key: str, state_machine_arn: str, approval_timeout_seconds: int
) -> dict[str, str]:
    """The variables Terraform gives the function, valued for this stack."""
    return env_for(
        stack.resources,
        key,
        orchestrator_arn=state_machine_arn,
        approval_timeout_seconds=approval_timeout_seconds,
    )


def deploy(
    stack: Any,
    monkeypatch: pytest.MonkeyPatch,
    approval_timeout_seconds: int = DEFAULT_APPROVAL_TIMEOUT,
    name: str = "test-sfn",
    reuse: SfnPipeline | None = None,
) -> SfnPipeline:
    """Create the functions (with `live` aliases) and the state machine from the rendered ASL.

    `reuse`: an earlier pipeline of the same test, whose Lambda routing and retry clock are shared."""
    from moto.core.config import default_user_config

    # Read on every Step Functions request: from here on moto's ASL interpreter runs executions.
    monkeypatch.setitem(default_user_config, "stepfunctions", {"execute_state_machine": True})
    if reuse is not None:
        router, clock = reuse.router, reuse.clock
    else:
        router, clock = LambdaRouter(), RetryClock()
        router.install(monkeypatch)
        clock.install(monkeypatch)
        sfn_local.closed_tokens_time_out()  # TaskTimedOut for a closed task, as on AWS (stays on)

    iam, lam, sfn = stack.client("iam"), stack.client("lambda"), stack.client("stepfunctions")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    code = _zip()

    def create(key: str, state_machine_arn: str = "") -> str:
        spec = C.FUNCTIONS_BY_KEY[key]
        function = f"{name}-{key.removeprefix('sfn-')}"
        lam.create_function(
            FunctionName=function,
            Runtime="python3.13",
            Role=role,
            Handler=spec.handler,
            Code={"ZipFile": code},
            Timeout=900,
            MemorySize=1024,
            Publish=True,
            Environment={"Variables": _function_env(stack, key, state_machine_arn, approval_timeout_seconds)},
        )
        return lam.create_alias(FunctionName=function, Name=ALIAS, FunctionVersion="1")["AliasArn"]

    arns = {key: create(key) for key in TASK_KEYS.values()}
    definition = render_definition(
        {placeholder: arns[key] for placeholder, key in TASK_KEYS.items()}, approval_timeout_seconds
    )
    machine = sfn.create_state_machine(
        name=f"{name}-etl", definition=definition, roleArn=role, type="STANDARD"
    )["stateMachineArn"]
    arns[STARTER_KEY] = create(STARTER_KEY, machine)
    return SfnPipeline(stack, machine, arns, approval_timeout_seconds, router, clock)


@pytest.fixture
def sfn_factory(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., SfnPipeline]]:
    """`sfn_factory(approval_timeout_seconds=...)` deploys a pipeline; all are torn down after the test."""
    deployed: list[SfnPipeline] = []

    def make(approval_timeout_seconds: int = DEFAULT_APPROVAL_TIMEOUT) -> SfnPipeline:
        name = f"test-sfn{len(deployed) or ''}"
        pipeline = deploy(aws, monkeypatch, approval_timeout_seconds, name, deployed[0] if deployed else None)
        deployed.append(pipeline)
        return pipeline

    yield make
    for pipeline in deployed:
        pipeline.stop_running()
    if deployed:
        deployed[0].router.close()


@pytest.fixture
def sfn(sfn_factory: Callable[..., SfnPipeline]) -> SfnPipeline:
    """The pipeline with the default approval timeout."""
    return sfn_factory()


# ---- events ---------------------------------------------------------------------------------------


def s3_event(ref: ObjectRef) -> dict[str, Any]:
    """An S3 ObjectCreated notification for `ref`, as S3 delivers it (key URL-encoded, versionId set)."""
    from urllib.parse import quote_plus

    obj: dict[str, Any] = {"key": quote_plus(ref.key), "size": ref.size or 0, "eTag": ref.etag or ""}
    if ref.version_id:
        obj["versionId"] = ref.version_id
    if ref.sequencer:
        obj["sequencer"] = ref.sequencer
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventTime": now_iso(),
                "eventName": "ObjectCreated:Put",
                "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": ref.bucket}, "object": obj},
            }
        ]
    }


def sqs_event(*bodies: dict[str, Any] | str) -> dict[str, Any]:
    """An SQS batch as the event source mapping delivers it; a str body is sent as is."""
    return {
        "Records": [
            {
                "messageId": f"m{i}-{uuid.uuid4().hex[:8]}",
                "receiptHandle": uuid.uuid4().hex,
                "body": body if isinstance(body, str) else json.dumps(body),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:test-sfn-events",
                "awsRegion": REGION,
            }
            for i, body in enumerate(bodies)
        ]
    }


# ---- one job, start to end ------------------------------------------------------------------------


@dataclass
class SfnRun:
    """One finished execution: its description, history and the job it left behind."""

    job_id: str
    ref: ObjectRef
    execution: dict[str, Any]
    history: list[dict[str, Any]]
    job: Job

    @property
    def status(self) -> str:
        return self.execution["status"]

    @property
    def output(self) -> Any:
        return json.loads(self.execution["output"]) if self.execution.get("output") else None

    @property
    def error(self) -> str | None:
        return self.execution.get("error")

    @property
    def cause(self) -> str | None:
        return self.execution.get("cause")

    def states_entered(self) -> list[str]:
        return [
            e["stateEnteredEventDetails"]["name"] for e in self.history if e["type"].endswith("StateEntered")
        ]

    def task_attempts(self) -> int:
        return sum(1 for e in self.history if e["type"] == "TaskScheduled")

    def transitions(self) -> int:
        """State transitions as billed: one per state entered, plus one per retry attempt."""
        entered = self.states_entered()
        tasks = sum(1 for e in self.history if e["type"] == "TaskStateEntered")
        return len(entered) + self.task_attempts() - tasks

    def failures(self, state: str | None = None) -> list[str]:
        """Error names of failed task attempts (of one state, when given), in order."""
        names: list[str] = []
        current = None
        for event in self.history:
            if event["type"].endswith("StateEntered"):
                current = event["stateEnteredEventDetails"]["name"]
            if event["type"] == "TaskFailed" and state in (None, current):
                names.append(event["taskFailedEventDetails"]["error"])
        return names

    def payloads(self) -> list[tuple[str, str]]:
        """Every state input and output, task parameters and results in the history, with where from."""
        found: list[tuple[str, str]] = []
        for event in self.history:
            for details_key, value_key in (
                ("executionStartedEventDetails", "input"),
                ("executionSucceededEventDetails", "output"),
                ("stateEnteredEventDetails", "input"),
                ("stateExitedEventDetails", "output"),
                ("taskScheduledEventDetails", "parameters"),
                ("taskSubmittedEventDetails", "output"),
                ("taskSucceededEventDetails", "output"),
            ):
                details = event.get(details_key)
                if details and details.get(value_key) is not None:
                    name = details.get("name", "")
                    found.append((f"{event['type']} {name}".strip(), details[value_key]))
        return found

    def payload_sizes(self) -> list[tuple[str, int]]:
        return [(where, len(value.encode())) for where, value in self.payloads()]

    def assert_payloads_within(self, limit: int = STATE_BUDGET) -> None:
        over = [(where, size) for where, size in self.payload_sizes() if size > limit]
        assert not over, f"state payloads over {limit} bytes: {over}"

    def state_data(self) -> str:
        """Everything the state carried: inputs and outputs of states and of the execution."""
        kinds = ("ExecutionStarted", "ExecutionSucceeded", "StateEntered", "StateExited")
        return "\n".join(value for where, value in self.payloads() if where.split()[0].endswith(kinds))


def run_sfn_job(
    pipeline: SfnPipeline,
    body: bytes,
    *,
    key: str = "uploads/data.csv",
    decision: Decision | None = APPROVE,
    record_first: bool = True,
    timeout: float = 120,
) -> SfnRun:
    """Upload `body`, start it through the starter function, decide when asked, wait for the end.

    decision=None lets the approval time out. Returns the finished run; the job as the table holds it.
    """
    ref = pipeline.upload(body, key)
    job_id = identity.job_id(ref)
    response = pipeline.start(ref)
    assert response == {"batchItemFailures": []}, response
    waiting = pipeline.wait_until_waiting_or_done(job_id, timeout)
    if waiting is not None and decision is not None:
        pipeline.decide(job_id, decision, record_first=record_first)
    execution = pipeline.wait_for_end(job_id, timeout)
    return SfnRun(job_id, ref, execution, pipeline.history(job_id), pipeline.jobs().get(job_id))
