"""The whole system on 127.0.0.1: moto server, function host, durable engine, local Lambda endpoint,
Step Functions on moto, SQS pollers, the API gateway and the e-mail outbox.

Production code runs unchanged: every handler reaches AWS through `AWS_ENDPOINT_URL` (moto) and
`AWS_ENDPOINT_URL_LAMBDA` (the local Lambda endpoint, for durable starts and callbacks). Everything runs
in threads of this process; each server binds 127.0.0.1 on a port chosen free at start.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from etl_aws import clients, config, identity
from etl_aws import contract as C
from etl_aws.jobs import Job, JobsRepository
from etl_aws.models import JobStatus, ObjectRef
from etl_local import faults, limits
from etl_local import sfn as sfn_pipeline
from etl_local.durable import DurableEngine
from etl_local.functions import FunctionHost, HostedFunction
from etl_local.gateway import Gateway, Principal
from etl_local.lambda_api import LambdaEndpoint
from etl_local.metering import AwsRequestMeter
from etl_local.pollers import EventSourceMapping, Outbox, Poller
from etl_local.resources import ACCOUNT, REGION, StackNames, env_for, provision
from etl_local.task_invoke import TaskEndpoint

HOST = "127.0.0.1"
ACCESS_KEY = "testing"
SECRET_KEY = "testing"  # noqa: S105 - the local runtime's fixed, well-known credentials
OPERATOR_ARN = f"arn:aws:iam::{ACCOUNT}:user/local-operator"
ALIAS = "live"
POLL_INTERVAL = 0.2
DEFAULT_APPROVAL_TIMEOUT = 24 * 3600
_PROCESS_ENV = {
    "AWS_ACCESS_KEY_ID": ACCESS_KEY,
    "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "POWERTOOLS_TRACE_DISABLED": "1",
    "POWERTOOLS_METRICS_NAMESPACE": "CsvEtlLocal",
}
_CLIENT_CONFIG = Config(max_pool_connections=32, retries={"mode": "standard", "max_attempts": 5})
_REMOVED_ENV = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


def available_workflows() -> tuple[str, ...]:
    """Both workflows when their handler packages are installed (the durable one always is)."""
    found = [C.DURABLE]
    try:
        import etl_sfn.starter
        import etl_sfn.tasks  # noqa: F401
    except ImportError:
        pass
    else:
        found.append(C.STEP_FUNCTIONS)
    return tuple(found)


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class Endpoints:
    moto: str = ""
    lambda_api: str = ""
    api: str = ""


@dataclass
class Deployment:
    """What was created: names, ARNs and URLs (written to `.local/stack.json`)."""

    stack: dict[str, Any] = field(default_factory=dict)
    functions: dict[str, str] = field(default_factory=dict)  # key → invoked ARN
    state_machine_arn: str = ""
    outbox_queue_url: str = ""


class LocalRuntime:
    """Start with `start()` (or as a context manager); `stop()` ends every thread and server it began."""

    def __init__(
        self,
        root: Path | str = ".local",
        name: str = "csv-etl",
        approval_timeout_seconds: int = DEFAULT_APPROVAL_TIMEOUT,
        workflows: tuple[str, ...] | None = None,
        echo: Callable[[str], None] | None = None,
        fresh: bool = True,
    ) -> None:
        self.root = Path(root)
        self.names = StackNames(name)
        self.approval_timeout_seconds = approval_timeout_seconds
        self.workflows = workflows or available_workflows()
        self.echo = echo
        self.fresh = fresh
        self.endpoints = Endpoints()
        self.deployment = Deployment()
        self.host = FunctionHost()
        self.durable: DurableEngine | None = None
        self.gateway: Gateway | None = None
        self.outbox: Outbox | None = None
        self.lambda_calls: Counter[str] = Counter()
        self.meter = AwsRequestMeter()
        self.event_source_mappings: dict[str, EventSourceMapping] = {}
        self.session: boto3.session.Session | None = None
        self._moto: MotoProcess | None = None
        self._tasks: TaskEndpoint | None = None
        self._lambda_endpoint: LambdaEndpoint | None = None
        self._pollers: list[Poller] = []
        self._undo: list[Callable[[], None]] = []
        self._saved_env: dict[str, str | None] = {}
        self.started_at = 0.0
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()

    # ---- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> LocalRuntime:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start(self) -> LocalRuntime:
        started = time.monotonic()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.started_at = time.monotonic() - started
        return self

    def _start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        # What AWS refuses is refused here too; faults can be injected into any call (etl_local.faults).
        limits.install()
        faults.install()
        # The engine's warnings quote callback ids, which are secrets: keep them off the terminal.
        logging.getLogger("aws_durable_execution_sdk_python_testing").setLevel(logging.ERROR)
        port = free_port()
        endpoint_vars = tuple(k for k in os.environ if k.startswith("AWS_ENDPOINT_URL"))
        self._set_env({**_PROCESS_ENV, "MOTO_PORT": str(port)}, removed=(*_REMOVED_ENV, *endpoint_vars))
        # moto runs in a process of its own (its own core); its Lambda tasks come back to the host here.
        self._tasks = TaskEndpoint(self._invoke_from_moto, host=HOST)
        self._tasks.start()
        self._moto = MotoProcess(port, self._tasks.url, self.root / "moto.log")
        self._moto.start()
        self.endpoints.moto = f"http://{HOST}:{port}"

        self.session = boto3.session.Session(
            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name=REGION
        )
        self._set_env({"AWS_ENDPOINT_URL": self.endpoints.moto})
        stack = provision(self.session, self.names, self.workflows)
        self.deployment.stack = stack

        # The API and the Lambda endpoint are bound first: their URLs go into the functions' variables.
        self.gateway = Gateway(
            lambda event: self.host.invoke("approval-api", event),
            {ACCESS_KEY: Principal(ACCESS_KEY, SECRET_KEY, OPERATOR_ARN)},
            host=HOST,
        )
        self.endpoints.api = self.gateway.url
        self._deploy_functions(stack)

        durable_key = "durable-orchestrator"
        store = self.root / "durable.sqlite"
        if self.fresh:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{store}{suffix}").unlink(missing_ok=True)
        self.durable = DurableEngine(
            self.host.wrapped(durable_key),
            self.host.function(durable_key).name,
            store,
            poll_interval=POLL_INTERVAL,
        )
        self._lambda_endpoint = LambdaEndpoint(
            self.durable,
            self.host.function(durable_key).name,
            execution_timeout=self.approval_timeout_seconds + 3600,
            host=HOST,
            on_call=self._count_lambda_call,
        )
        self._lambda_endpoint.start()
        self.endpoints.lambda_api = self._lambda_endpoint.url
        self._set_env({"AWS_ENDPOINT_URL_LAMBDA": self.endpoints.lambda_api})
        clients.reset()
        config.settings.cache_clear()
        self.meter.install()

        self._start_pollers(stack)
        self.gateway.start()
        self.write_stack_file()

    def stop(self) -> None:
        """Stop pollers, then servers and engines; restore the process environment. Safe to call twice."""
        for poller in self._pollers:
            poller.signal_stop()  # all at once: each may be in a long poll
        for poller in self._pollers:
            poller.stop()
        self._pollers.clear()
        if self.gateway is not None:
            with contextlib.suppress(Exception):
                self.gateway.stop()
        self.host.close()
        if self.durable is not None:
            with contextlib.suppress(Exception):
                self.durable.close()
            self.durable = None
        if self._lambda_endpoint is not None:
            with contextlib.suppress(Exception):
                self._lambda_endpoint.stop()
            self._lambda_endpoint = None
        while self._undo:
            self._undo.pop()()
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        if self._tasks is not None:
            with contextlib.suppress(Exception):
                self._tasks.stop()
            self._tasks = None
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()
        clients.reset()
        config.settings.cache_clear()
        self._clients.clear()

    # ---- wiring ----------------------------------------------------------------------------------

    def _set_env(self, values: dict[str, str], removed: tuple[str, ...] = ()) -> None:
        for key in (*values, *removed):
            self._saved_env.setdefault(key, os.environ.get(key))
        for key in removed:
            os.environ.pop(key, None)
        os.environ.update(values)

    def _function_name(self, key: str) -> str:
        return f"{self.names.name}-{key}"

    def _alias_arn(self, key: str) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self._function_name(key)}:{ALIAS}"

    def _env(self, stack: dict[str, Any], key: str, orchestrator_arn: str = "") -> dict[str, str]:
        """The variables Terraform gives the function: its FunctionSpec's names, valued for this stack."""
        spec = C.FUNCTIONS_BY_KEY[key]
        workflow = C.STEP_FUNCTIONS if key.startswith("sfn-") else C.DURABLE
        values = env_for(stack, workflow, api_url=self.endpoints.api, orchestrator_arn=orchestrator_arn)
        values[C.ENV_APPROVAL_TIMEOUT] = str(self.approval_timeout_seconds)
        return {name: values[name] for name in spec.env if values.get(name)}

    def _host(self, stack: dict[str, Any], key: str, orchestrator_arn: str = "") -> str:
        arn = self._alias_arn(key)
        env = self._env(stack, key, orchestrator_arn)
        self.host.add(HostedFunction(key, self._function_name(key), arn, env))
        self.deployment.functions[key] = arn
        return arn

    def _deploy_functions(self, stack: dict[str, Any]) -> None:
        assert self.session is not None
        self._host(stack, "approval-api")
        if C.DURABLE in self.workflows:
            orchestrator = self._host(stack, "durable-orchestrator")
            self._host(stack, "durable-starter", orchestrator)
        if C.STEP_FUNCTIONS in self.workflows:
            iam, lam = (
                self.session.client("iam"),
                self.session.client("lambda", endpoint_url=self.endpoints.moto),
            )
            role = sfn_pipeline.create_role(iam, f"{self.names.name}-sfn")
            task_arns: dict[str, str] = {}
            for key in sfn_pipeline.TASK_KEYS.values():
                env = self._env(stack, key)
                task_arns[key] = sfn_pipeline.create_function(lam, role, self._function_name(key), key, env)
                self.host.add(HostedFunction(key, self._function_name(key), task_arns[key], env))
                self.deployment.functions[key] = task_arns[key]
            machine = sfn_pipeline.create_state_machine(
                self.session.client("stepfunctions"),
                role,
                f"{self.names.name}-etl",
                task_arns,
                self.approval_timeout_seconds,
            )
            self.deployment.state_machine_arn = machine
            self._host(stack, "sfn-starter", machine)

    def _start_pollers(self, stack: dict[str, Any]) -> None:
        assert self.session is not None
        sqs = self.session.client("sqs")
        for workflow in self.workflows:
            url = stack["pipelines"][workflow]["queue_url"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            starter = f"{'sfn' if workflow == C.STEP_FUNCTIONS else 'durable'}-starter"
            mapping = EventSourceMapping(
                self.session.client("sqs"), url, arn, lambda event, key=starter: self.host.invoke(key, event)
            )
            self.event_source_mappings[workflow] = mapping
            self._pollers.append(Poller(f"esm-{workflow}", mapping.poll_once, POLL_INTERVAL))
        # The reviewer's e-mail: a queue subscribed to the approval topic stands in for the mailbox.
        outbox_url = sqs.create_queue(QueueName=f"{self.names.name}-outbox")["QueueUrl"]
        outbox_arn = sqs.get_queue_attributes(QueueUrl=outbox_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        self.session.client("sns").subscribe(TopicArn=stack["topic_arn"], Protocol="sqs", Endpoint=outbox_arn)
        self.deployment.outbox_queue_url = outbox_url
        self.outbox = Outbox(self.session.client("sqs"), outbox_url, self.root / "outbox", self.echo)
        self._pollers.append(Poller("outbox", self.outbox.poll_once, POLL_INTERVAL))
        for poller in self._pollers:
            poller.start()

    def _invoke_from_moto(self, name: str, event: Any) -> tuple[str, bool]:
        return self.host.invoke_payload(name, event)

    def _count_lambda_call(self, operation: str) -> None:
        self.lambda_calls[operation] += 1

    # ---- what callers use ------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return self.endpoints.api

    def client(self, service: str) -> Any:
        """A client of the local AWS, made once per service (boto3 clients are thread-safe)."""
        assert self.session is not None, "start the runtime first"
        with self._clients_lock:
            found = self._clients.get(service)
            if found is None:
                found = self._clients[service] = self.session.client(
                    service, endpoint_url=self.endpoints.moto, config=_CLIENT_CONFIG
                )
            return found

    def raw_bucket(self, workflow: str) -> str:
        return self.deployment.stack["pipelines"][workflow]["raw_bucket"]

    def output_bucket(self, workflow: str) -> str:
        return self.deployment.stack["pipelines"][workflow]["output_bucket"]

    def upload(self, workflow: str, key: str, body: bytes) -> str:
        """Put a file in the pipeline's raw bucket (S3 notifies the pipeline's queue); returns its job id."""
        bucket = self.raw_bucket(workflow)
        put = self.client("s3").put_object(Bucket=bucket, Key=key, Body=body)
        return identity.job_id(ObjectRef(bucket=bucket, key=key, version_id=put.get("VersionId")))

    def wait_for(
        self, job_id: str, statuses: set[JobStatus] | frozenset[JobStatus], timeout: float = 60
    ) -> Job:
        """The job once its status is one of `statuses` (PENDING_APPROVAL counts once its e-mail went)."""
        deadline = time.monotonic() + timeout
        repo = self.jobs()
        job = None
        while time.monotonic() < deadline:
            job = repo.find(job_id)
            notified = job is not None and (job.status != JobStatus.PENDING_APPROVAL or job.notified_at)
            if job is not None and job.status in statuses and notified:
                return job
            time.sleep(POLL_INTERVAL)
        seen = job.status.value if job else "no job"
        raise TimeoutError(f"job {job_id} not in {sorted(statuses)} within {timeout} s (it is {seen})")

    def jobs(self) -> JobsRepository:
        """A repository of the caller's own (boto3 resources are not shared between threads)."""
        assert self.session is not None, "start the runtime first"
        dynamodb = self.session.resource("dynamodb", endpoint_url=self.endpoints.moto)
        return JobsRepository(self.deployment.stack["jobs_table"], dynamodb)

    def job(self, job_id: str) -> Job | None:
        return self.jobs().find(job_id)

    def all_jobs(self) -> list[Job]:
        repo, found, cursor = self.jobs(), [], None
        while True:
            page, cursor = repo.list_jobs(limit=100, cursor=cursor)
            found.extend(page)
            if not cursor:
                return found

    def state_transitions(self, job_id: str) -> int:
        """Billed state transitions of the job's Step Functions execution (0 when it has none)."""
        if not self.deployment.state_machine_arn:
            return 0
        machine = self.deployment.state_machine_arn.split(":")[-1]
        arn = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{machine}:{job_id}"
        sfn = self.client("stepfunctions")
        try:
            pages = sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
            return sfn_pipeline.transitions([e for page in pages for e in page["events"]])
        except ClientError:
            return 0

    def durable_operations(self, job_id: str) -> Counter[str]:
        return self.durable.operations(job_id) if self.durable else Counter()

    def durable_data_written(self, job_id: str) -> int:
        return self.durable.data_written(job_id) if self.durable else 0

    def describe(self) -> dict[str, Any]:
        return {
            "endpoints": {
                "moto": self.endpoints.moto,
                "lambda": self.endpoints.lambda_api,
                "api": self.endpoints.api,
            },
            "region": REGION,
            "credentials": {"access_key_id": ACCESS_KEY, "operator_arn": OPERATOR_ARN},
            "workflows": list(self.workflows),
            "approval_timeout_seconds": self.approval_timeout_seconds,
            "stack": self.deployment.stack,
            "functions": self.deployment.functions,
            "state_machine_arn": self.deployment.state_machine_arn,
            "outbox": str(self.root / "outbox"),
        }

    def write_stack_file(self) -> Path:
        path = self.root / "stack.json"
        path.write_text(json.dumps(self.describe(), indent=2) + "\n", encoding="utf-8")
        return path


class MotoProcess:
    """`python -m etl_local.moto_process` on 127.0.0.1:`port`; its output goes to `log`."""

    READY_TIMEOUT = 60.0

    def __init__(self, port: int, invoke_url: str, log: Path) -> None:
        self.port, self.invoke_url, self.log = port, invoke_url, log
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "etl_local.moto_process", "--port", str(self.port)]
        with self.log.open("w", encoding="utf-8") as log:
            self._process = subprocess.Popen(  # noqa: S603 - our own module, no shell
                [*command, "--invoke-url", self.invoke_url],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        assert self._process.stdout is not None
        ready: list[str] = []
        reader = threading.Thread(target=lambda: ready.append(self._process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(self.READY_TIMEOUT)
        if not ready or ready[0].strip() != "ready":
            self.stop()
            tail = self.log.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise RuntimeError(f"the moto server did not start on port {self.port}:\n{tail}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(Exception):
            process.stdin.close()  # type: ignore[union-attr]
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
