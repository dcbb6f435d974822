"""The whole system on 127.0.0.1: moto servers, function host, durable engine, local Lambda endpoint,
Step Functions on moto, SQS pollers, the API gateway and the e-mail outbox.

Production code runs unchanged: every handler reaches AWS through `AWS_ENDPOINT_URL` (moto),
`AWS_ENDPOINT_URL_DYNAMODB` (moto's DynamoDB, in a process of its own: etl_local.moto_services) and
`AWS_ENDPOINT_URL_LAMBDA` (the local Lambda endpoint, for durable starts and callbacks). Everything else
runs in threads of this process; each server binds 127.0.0.1 on a port chosen free at start.

State lives under `root` and survives `stop()` and a later `start()` (unless `fresh`): moto's services
are saved by their moto process at stop (`moto/`, `moto-dynamodb/`), durable executions live in
`durable.sqlite`. At start, waiting executions of both orchestrators are taken up again with their
approval deadlines kept (etl_local.durable_restart, etl_local.sfn_resume). Timers follow `etl_aws.clock`,
in every process.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

from etl_aws import clients, clock, config
from etl_aws import contract as C
from etl_aws.reviewers import SHARED_FILTER_POLICY, ReviewConfig, filter_policy
from etl_local import cpu, faults, limits, moto_state
from etl_local import sfn as sfn_pipeline
from etl_local.durable import DurableEngine
from etl_local.functions import FunctionHost, HostedFunction
from etl_local.gateway import Gateway
from etl_local.lambda_api import LambdaEndpoint
from etl_local.metering import AwsRequestMeter
from etl_local.moto_server import HOST, MotoProcess, free_port
from etl_local.moto_services import MAIN, MotoServices, state_name
from etl_local.pollers import EventSourceMapping, Outbox, Poller, subscribe_mailbox
from etl_local.resources import ACCOUNT, REGION, StackNames, env_for, provision
from etl_local.runtime_reads import (
    ACCESS_KEY,
    OPERATOR_ARN,
    POLL_INTERVAL,
    SECRET_KEY,
    Deployment,
    Endpoints,
    RuntimeReads,
    local_principals,
)
from etl_local.task_invoke import TaskEndpoint

__all__ = [
    "ACCESS_KEY",
    "ACCOUNT",
    "ALIAS",
    "DEFAULT_APPROVAL_TIMEOUT",
    "HOST",
    "OPERATOR_ARN",
    "POLL_INTERVAL",
    "REGION",
    "SECRET_KEY",
    "Deployment",
    "Endpoints",
    "LocalRuntime",
    "MotoProcess",
    "available_workflows",
    "free_port",
]

ALIAS = C.FUNCTION_ALIAS
DEFAULT_APPROVAL_TIMEOUT = C.DEFAULT_APPROVAL_TIMEOUT_SECONDS
_PROCESS_ENV = {
    "AWS_ACCESS_KEY_ID": ACCESS_KEY,
    "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "POWERTOOLS_TRACE_DISABLED": "1",
    "POWERTOOLS_METRICS_NAMESPACE": "CsvEtlLocal",
}
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


class LocalRuntime(RuntimeReads):
    """Start with `start()` (or as a context manager); `stop()` ends every thread and server it began."""

    def __init__(
        self,
        root: Path | str = ".local",
        name: str = "csv-etl",
        approval_timeout_seconds: int = DEFAULT_APPROVAL_TIMEOUT,
        workflows: tuple[str, ...] | None = None,
        echo: Callable[[str], None] | None = None,
        fresh: bool = True,
        review_config: ReviewConfig | None = None,
        dataset_policies: str = "",
    ) -> None:
        self.root = Path(root)
        self.review_config = review_config or ReviewConfig()
        self.names = StackNames(name)
        self.approval_timeout_seconds = approval_timeout_seconds
        self.dataset_policies = dataset_policies  # ETL_DATASET_POLICIES, as Terraform's dataset_policies
        self.workflows = workflows or available_workflows()
        self.echo = echo
        self.fresh = fresh
        self.endpoints = Endpoints()
        self.deployment = Deployment()
        self.host = FunctionHost()
        self.durable: DurableEngine | None = None
        self.gateway: Gateway | None = None
        self.outbox: Outbox | None = None
        self.mailboxes: dict[str, Outbox] = {}  # named reviewers' and escalation addresses' e-mail
        self.lambda_calls: Counter[str] = Counter()
        self.meter = AwsRequestMeter()
        self.event_source_mappings: dict[str, EventSourceMapping] = {}
        self.session: boto3.session.Session | None = None
        self._moto: MotoServices | None = None
        self._tasks: TaskEndpoint | None = None
        self._lambda_endpoint: LambdaEndpoint | None = None
        self._pollers: list[Poller] = []
        self._saved_env: dict[str, str | None] = {}
        self.started_at = 0.0
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        self._unsubscribe_clock: Callable[[], None] | None = None

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
        self._moto = MotoServices(
            lambda group: self._moto_process(group, port if group == MAIN else free_port())
        )
        self._moto.start()
        self._unsubscribe_clock = clock.subscribe(
            lambda seconds: self._moto_call("set_clock_offset", seconds)
        )
        self.endpoints.moto = self._moto.url(host=HOST)
        self.endpoints.services = self._moto.service_urls()

        self.session = boto3.session.Session(
            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name=REGION
        )
        self._set_env({"AWS_ENDPOINT_URL": self.endpoints.moto, **self._moto.endpoint_env()})
        stack = provision(self.session, self.names, self.workflows)
        self.deployment.stack = stack

        # The API and the Lambda endpoint are bound first: their URLs go into the functions' variables.
        self.gateway = Gateway(
            lambda event: self.host.invoke("approval-api", event),
            local_principals(),
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
        # Executions left unfinished by the last stop, now that every function they call is hosted.
        self.durable.resume()
        self._moto.call("resume")

    def stop(self) -> None:
        """Stop gracefully: pollers take no more messages, the API no more decisions, the durable engine
        no more invocations; handlers still running may finish (up to 30 s); then moto saves its state
        and ends. What was in flight is redelivered or resumed at the next start. Restores the process
        environment. Safe to call twice."""
        for poller in self._pollers:
            poller.signal_stop()  # all at once: each may be in a long poll
        for poller in self._pollers:
            poller.stop()
        self._pollers.clear()
        if self.gateway is not None:
            with contextlib.suppress(Exception):
                self.gateway.stop()
        if self.durable is not None:
            with contextlib.suppress(Exception):
                self.durable.close()
            self.durable = None
        self.host.wait_idle()
        if self._unsubscribe_clock is not None:
            self._unsubscribe_clock()
            self._unsubscribe_clock = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        self.host.close()
        if self._lambda_endpoint is not None:
            with contextlib.suppress(Exception):
                self._lambda_endpoint.stop()
            self._lambda_endpoint = None
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

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds used so far by this process ("runtime": handlers, engine, pollers) and each moto
        process ("moto-main", "moto-dynamodb"); compare two readings with `etl_local.cpu.spent`."""
        pids = {"runtime": os.getpid(), **(self._moto.pids() if self._moto is not None else {})}
        return cpu.snapshot(pids)

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
        """The variables Terraform gives the function, valued for this stack."""
        return env_for(
            stack,
            key,
            api_url=self.endpoints.api,
            orchestrator_arn=orchestrator_arn,
            approval_timeout_seconds=self.approval_timeout_seconds,
            review_config=self.review_config.model_dump_json(),
            dataset_policies=self.dataset_policies,
        )

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
        # The reviewers' e-mail: a queue subscribed to the approval topic stands in for each mailbox, with
        # the filter policy Terraform gives the e-mail subscription (moto applies it, as SNS does).
        self.outbox = self._mailbox(stack, f"{self.names.name}-outbox", "", SHARED_FILTER_POLICY)
        for i, address in enumerate(self.review_config.addresses()):
            queue = f"{self.names.name}-mailbox-{i}"
            self.mailboxes[address] = self._mailbox(stack, queue, address, filter_policy(address))
        for poller in self._pollers:
            poller.start()

    def _mailbox(self, stack: dict[str, Any], queue: str, address: str, policy: dict[str, Any]) -> Outbox:
        assert self.session is not None
        directory = self.root / "outbox" / address if address else self.root / "outbox"
        outbox = subscribe_mailbox(
            self.session, stack["topic_arn"], queue, policy, directory, self.echo, address
        )
        self._pollers.append(Poller(f"mailbox-{queue}", outbox.poll_once, POLL_INTERVAL))
        return outbox

    def run_schedule(self) -> dict[str, Any]:
        """What the EventBridge schedule does every 5 minutes: the approval function's ages and reminders."""
        event = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
        return self.host.invoke("approval-api", event)

    def _moto_process(self, group: str, port: int) -> MotoProcess:
        """The moto process serving `group`, with a log and a state directory of its own."""
        assert self._tasks is not None
        state_dir = self.root / state_name(group)
        if self.fresh:
            moto_state.clear(state_dir)
        return MotoProcess(port, self._tasks.url, self.root / f"{state_name(group)}.log", state_dir)

    def _moto_call(self, method: str, *args: Any) -> None:
        if self._moto is not None:
            self._moto.call(method, *args)

    def _invoke_from_moto(self, name: str, event: Any) -> tuple[str, bool]:
        return self.host.invoke_payload(name, event)

    def _count_lambda_call(self, operation: str) -> None:
        self.lambda_calls[operation] += 1
