"""Run the Step Functions orchestrator for real: moto's ASL interpreter executes the rendered definition and
every Lambda task runs this project's handler code in-process.

The pipeline is deployed, and its tasks run, by the local runtime's own parts (`etl_local`); this module
only wires them to moto in this process:
- `etl_local.sfn` creates the functions with their `live` aliases and the state machine from the ASL,
  makes moto execute it (`enable_execution`), and sends moto's Lambda invocations
  (`route_lambda_invocations`, which also fails a task result over 256 KB as AWS does) to a function
  host, `etl_local.functions.FunctionHost`, that runs each handler under its own environment variables
  and turns an uncaught exception into the Lambda runtime's error payload (`errorType` = the class
  name), so the ASL sees `TransientError`, `FileRejected`... exactly as on AWS.
- In-process moto is not thread-safe, so `TaskRouting` runs one invocation at a time.
- Retry back-off sleeps are recorded instead of slept (`RetryClock`), so retries cost no wall time.
- moto does not enforce the 256 KB state limit: `SfnRun.payload_sizes()` measures every input and output
  of the execution history so tests can hold them to a much smaller budget.
- Faults are injected with `etl_local.faults.INJECTOR`, as everywhere else.

Reuse: request the `sfn` fixture (or `sfn_factory` for another approval timeout) by adding
`pytest_plugins = ["tests.integration.sfn_harness"]` to a test module, then call `run_sfn_job(...)`.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError

from etl_aws import callbacks, identity
from etl_aws import contract as C
from etl_aws.jobs import Job, JobsRepository, now_iso
from etl_aws.models import Decision, JobStatus, ObjectRef
from etl_local import sfn as sfn_local
from etl_local.functions import FunctionHost, HostedFunction
from etl_local.resources import ACCOUNT, REGION, env_for
from etl_local.sfn import TASK_KEYS

WORKFLOW = C.STEP_FUNCTIONS
STATE_BUDGET = 8 * 1024  # what the tests allow each state input/output (AWS refuses above 256 KB)
DEFAULT_APPROVAL_TIMEOUT = 300
STARTER_KEY = "sfn-starter"
APPROVE = Decision(approved=True, reviewer="arn:aws:iam::123456789012:user/ops", reason="looks right")
REJECT = Decision(approved=False, reviewer="arn:aws:iam::123456789012:user/ops", reason="wrong month")


# ---- Lambda: moto's invoke routed to the function hosts --------------------------------------------


@dataclass
class TaskRouting:
    """moto's Lambda invocations, sent to the function host of the pipeline that has the function."""

    hosts: list[FunctionHost] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._restore = sfn_local.route_lambda_invocations(self._invoke)

    def _invoke(self, name: str, event: Any) -> tuple[str, bool]:
        host = next((h for h in self.hosts if h.by_name(name) is not None), self.hosts[0])
        with self._lock:
            return host.invoke_payload(name, event)

    def close(self) -> None:
        """Wait for running handlers to return, refuse any later invocation, then stop routing."""
        for host in self.hosts:
            host.close()
        self._restore()


class RetryClock:
    """Stands in for `time` in moto's retrier: records each back-off instead of sleeping it."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

        monkeypatch.setattr(retrier_decl, "time", self)


# ---- the deployed pipeline ------------------------------------------------------------------------


@dataclass
class SfnPipeline:
    """The Step Functions pipeline as Terraform deploys it, on moto."""

    stack: Any  # tests/conftest.py Stack
    state_machine_arn: str
    function_arns: dict[str, str]  # FunctionSpec key → alias ARN
    approval_timeout_seconds: int
    host: FunctionHost
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

    def invocations(self, key: str) -> int:
        """How many times the function (a FunctionSpec key) was invoked."""
        return self.host.invocations[key]

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


def deploy(
    stack: Any,
    routing: TaskRouting,
    clock: RetryClock,
    approval_timeout_seconds: int = DEFAULT_APPROVAL_TIMEOUT,
    name: str = "test-sfn",
    dataset_policies: str = "",
) -> SfnPipeline:
    """Create the functions (with `live` aliases) and the state machine from the rendered ASL, as
    Terraform does; their invocations run in a function host of their own."""
    iam, lam, sfn = stack.client("iam"), stack.client("lambda"), stack.client("stepfunctions")
    role = sfn_local.create_role(iam, f"{name}-role")
    host = FunctionHost()

    def create(key: str, machine_arn: str = "") -> str:
        function = f"{name}-{key.removeprefix('sfn-')}"
        env = env_for(
            stack.resources,
            key,
            orchestrator_arn=machine_arn,
            approval_timeout_seconds=approval_timeout_seconds,
            dataset_policies=dataset_policies,
        )
        arn = sfn_local.create_function(lam, role, function, key, env)
        host.add(HostedFunction(key, function, arn, env))
        return arn

    arns = {key: create(key) for key in TASK_KEYS.values()}
    machine = sfn_local.create_state_machine(sfn, role, f"{name}-etl", arns, approval_timeout_seconds)
    arns[STARTER_KEY] = create(STARTER_KEY, machine)
    routing.hosts.append(host)
    return SfnPipeline(stack, machine, arns, approval_timeout_seconds, host, clock)


@pytest.fixture
def sfn_factory(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., SfnPipeline]]:
    """`sfn_factory(approval_timeout_seconds=..., dataset_policies=...)` deploys a pipeline; all are torn
    down after the test."""
    deployed: list[SfnPipeline] = []
    restore_execution = sfn_local.enable_execution()
    routing, clock = TaskRouting(), RetryClock()
    clock.install(monkeypatch)
    sfn_local.closed_tokens_time_out()  # TaskTimedOut for a closed task, as on AWS (stays on)

    def make(
        approval_timeout_seconds: int = DEFAULT_APPROVAL_TIMEOUT, dataset_policies: str = ""
    ) -> SfnPipeline:
        name = f"test-sfn{len(deployed) or ''}"
        pipeline = deploy(aws, routing, clock, approval_timeout_seconds, name, dataset_policies)
        deployed.append(pipeline)
        return pipeline

    yield make
    for pipeline in deployed:
        pipeline.stop_running()
    routing.close()
    restore_execution()


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

    def transitions(self) -> int:
        """State transitions as billed: one per state entered, plus one per retry attempt."""
        return sfn_local.transitions(self.history)

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
