"""The Step Functions pipeline on moto: task functions and their aliases, the state machine from the ASL,
and moto's Lambda invocations routed to the function host (moto cannot run Lambda code without Docker)."""

from __future__ import annotations

import contextlib
import functools
import io
import json
import threading
import zipfile
from collections.abc import Callable, Mapping
from typing import Any

from etl_aws import contract as C
from etl_local import limits

ALIAS = C.FUNCTION_ALIAS
TASK_KEYS = {  # ASL placeholder key → FunctionSpec key
    "extract": "sfn-extract",
    "transform": "sfn-transform",
    "load": "sfn-load",
    "request_approval": "sfn-request-approval",
    "finalize": "sfn-finalize",
}


def _placeholder_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README", "the local runtime runs this function's handler in-process")
    return buffer.getvalue()


def create_function(lam: Any, role_arn: str, name: str, key: str, env: Mapping[str, str]) -> str:
    """Create the function (published, with its `live` alias) in moto's Lambda, or keep the one a
    restarted stack restored; returns the alias ARN."""
    try:
        _create_function(lam, role_arn, name, key, env)
    except lam.exceptions.ResourceConflictException:
        return lam.get_alias(FunctionName=name, Name=ALIAS)["AliasArn"]
    return lam.create_alias(FunctionName=name, Name=ALIAS, FunctionVersion="1")["AliasArn"]


def _create_function(lam: Any, role_arn: str, name: str, key: str, env: Mapping[str, str]) -> None:
    lam.create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=role_arn,
        Handler=C.FUNCTIONS_BY_KEY[key].handler,
        Code={"ZipFile": _placeholder_zip()},
        Timeout=900,
        MemorySize=1024,
        Publish=True,
        Environment={"Variables": dict(env)},
    )


def create_role(iam: Any, name: str) -> str:
    """The orchestration role (kept when a restarted stack restored it)."""
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}
    try:
        return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        return iam.get_role(RoleName=name)["Role"]["Arn"]


def create_state_machine(
    sfn: Any, role_arn: str, name: str, task_arns: Mapping[str, str], approval_timeout_seconds: int
) -> str:
    from etl_sfn import render_definition

    definition = render_definition(
        {placeholder: task_arns[key] for placeholder, key in TASK_KEYS.items()}, approval_timeout_seconds
    )
    return sfn.create_state_machine(name=name, definition=definition, roleArn=role_arn, type="STANDARD")[
        "stateMachineArn"
    ]


def enable_execution() -> Callable[[], None]:
    """From here on moto's ASL interpreter runs executions (read on every Step Functions request).
    Returns the function that restores the previous setting."""
    from moto.core.config import default_user_config

    previous = default_user_config.get("stepfunctions")
    default_user_config["stepfunctions"] = {"execute_state_machine": True}

    def restore() -> None:
        if previous is None:
            default_user_config.pop("stepfunctions", None)
        else:
            default_user_config["stepfunctions"] = previous

    return restore


def cache_asl_parse() -> Callable[[], None]:
    """moto parses the state machine's ASL again for every execution (~0.1 s of ANTLR each time) and
    builds its evaluation components from the tree (a fifth of the moto process's busy time at 1,000
    documents, py-spy); do both once per definition and share the result between executions.

    Sharing is safe because moto's interpreter keeps everything an execution changes in that execution's
    `Environment`: components are set up when built and only read afterwards (a retrier's attempt count,
    for one, lives in `env.heap` under the component's `heap_key`). The one thing a component sets later
    is that key, drawn on first use: it is drawn here, before the components are shared, so two
    executions never draw two keys for one component. Returns the function that undoes the caching."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    original = AmazonStateLanguageParser.__dict__["parse"]
    parsed: dict[str, tuple[Any, Any]] = {}
    lock = threading.Lock()

    def parse(definition: str) -> tuple[Any, Any]:
        with lock:
            found = parsed.get(definition)
        if found is None:
            program, tree = original.__func__(definition)  # raises on a bad definition, as before
            draw_heap_keys(program)
            with lock:
                found = parsed.setdefault(definition, (program, tree))
        return found

    AmazonStateLanguageParser.parse = staticmethod(parse)  # type: ignore[method-assign]

    def restore() -> None:
        AmazonStateLanguageParser.parse = original  # type: ignore[method-assign]

    return restore


def cache_json_paths() -> Callable[[], None]:
    """moto parses each JSONPath of the definition (`Payload.$`, `ResultPath`...) again every time a state
    evaluates it, building a new jsonpath-ng parser each time (a tenth of the moto process's busy time at
    1,000 documents, py-spy); keep each path's parsed expression. Parsed expressions are only read when
    applied (`find`, `update_or_create` change the data, not the expression). Returns the undo function."""
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    modules = (json_path, result_path)
    originals = [module.parse for module in modules]
    for module, original in zip(modules, originals, strict=True):
        module.parse = functools.lru_cache(maxsize=4096)(original)

    def restore() -> None:
        for module, original in zip(modules, originals, strict=True):
            module.parse = original

    return restore


def draw_heap_keys(program: Any) -> None:
    """Give every evaluation component reachable from `program` its `heap_key` now."""
    from moto.stepfunctions.parser.asl.component.component import Component
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent

    seen: set[int] = set()
    pending: list[Any] = [program]
    while pending:
        value = pending.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, (list, tuple, set, frozenset)):
            pending.extend(value)
        elif isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, Component):
            if isinstance(value, EvalComponent):
                _ = value.heap_key
            pending.extend(vars(value).values())


def reuse_task_clients() -> Callable[[], None]:
    """moto's Lambda task builds a new boto3 client for every invocation (~0.1 s each) and sends the
    Invoke over HTTP to moto's own server. Build one client per region and service, reused (boto3 clients
    are thread-safe), and answer its requests in this process through moto's request dispatcher, as moto
    does under `mock_aws`. Over HTTP each running task held one of the server's threads for as long as its
    function ran: with more tasks running than the server has threads, the functions' own S3 and
    DynamoDB requests queued behind them and every pipeline stalled until a 60 s read timeout (seen at
    400 documents per pipeline). Returns the undo function."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    original = lambda_eval_utils.boto_client_for
    made: dict[tuple[str, str], Any] = {}
    lock = threading.Lock()

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        with lock:
            found = made.get((region, service))
            if found is None:
                found = made[(region, service)] = in_process_client(region, service)
            return found

    lambda_eval_utils.boto_client_for = boto_client_for

    def restore() -> None:
        lambda_eval_utils.boto_client_for = original

    return restore


def in_process_client(region: str, service: str) -> Any:
    """A boto3 client whose requests moto answers in this process; one moto cannot answer is refused,
    never sent over the network."""
    import boto3
    from botocore.config import Config
    from moto.core.botocore_stubber import BotocoreStubber

    stubber = BotocoreStubber()
    stubber.enabled = True

    def answer(request: Any, **kwargs: Any) -> Any:
        response = stubber(request=request, **kwargs)  # kwargs: event_name
        if response is None:
            raise RuntimeError(f"moto does not serve {request.method} {request.url} in this process")
        return response

    client = boto3.client(
        service,
        region_name=region,
        endpoint_url=f"https://{service}.{region}.amazonaws.com",  # as moto's dispatcher matches it
        aws_access_key_id="ak",
        aws_secret_access_key="sk",  # noqa: S106 - moto answers in process; not a secret
        config=Config(parameter_validation=False, retries={"max_attempts": 0, "total_max_attempts": 1}),
    )
    client.meta.events.register("before-send", answer)
    return client


ISSUED_TOKENS: set[str] = set()  # every task token moto issued to a waitForTaskToken task


def closed_tokens_time_out() -> None:
    """SendTaskSuccess/Failure with the token of a task that is already closed answers `TaskTimedOut`
    on AWS ("the task associated with the token has already been closed",
    https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskSuccess.html); moto
    answers `InvalidToken` once the execution has ended. Remember the tokens moto issued (`ISSUED_TOKENS`,
    kept across a restart by etl_local.sfn_resume) and answer
    as AWS does for them (idempotent; it stays on, as it only makes moto answer like the service)."""
    from moto.stepfunctions.parser.api import InvalidToken, TaskTimedOut
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackPoolManager
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    class ClosedTaskTimedOut(TaskTimedOut):  # moto's own class carries no wire error type
        TYPE = code = exception_type = "TaskTimedOut"
        STATUS = status_code = 400

    if getattr(CallbackPoolManager.add, "_etl_answers_as_aws", False):
        return
    issued = ISSUED_TOKENS
    original_add = CallbackPoolManager.__dict__["add"]
    backend = StepFunctionsParserBackend
    originals = {name: backend.__dict__[name] for name in ("send_task_success", "send_task_failure")}

    def add(self: Any, callback_id: str) -> Any:
        issued.add(callback_id)
        return original_add(self, callback_id)

    def answering_as_aws(original: Any) -> Any:
        def send(self: Any, task_token: str, *args: Any, **kwargs: Any) -> Any:
            try:
                return original(self, task_token, *args, **kwargs)
            except InvalidToken:
                if task_token in issued:
                    raise ClosedTaskTimedOut(
                        "Task Timed Out: 'Provided task does not exist anymore'"
                    ) from None
                raise

        return send

    add._etl_answers_as_aws = True  # type: ignore[attr-defined]
    CallbackPoolManager.add = add  # type: ignore[method-assign]
    for name, original in originals.items():
        setattr(backend, name, answering_as_aws(original))


def stop_ends_callback_waits() -> None:
    """StopExecution ends a Standard execution at once, even one waiting for a task token: it is ABORTED
    (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StopExecution.html). moto marks
    the program stopped but its task keeps waiting for the token until the task's timeout, so the
    execution stays RUNNING. Release the stopped program's waiting callbacks with an empty result: the
    interpreter then finds the program stopped before the next state, runs none, and ends the execution
    ABORTED. (A failure outcome would go through the task's Catch and end it FAILED.) Idempotent."""
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackOutcomeSuccess
    from moto.stepfunctions.parser.asl.eval.environment import Environment

    if getattr(Environment.set_stop, "_etl_releases_callbacks", False):
        return
    original = Environment.__dict__["set_stop"]

    def set_stop(self: Any, stop_date: Any, cause: str | None, error: str | None) -> None:
        original(self, stop_date, cause, error)
        manager = self.callback_pool_manager
        for callback_id in list(manager._pool):
            outcome = CallbackOutcomeSuccess(callback_id=callback_id, output="{}")
            with contextlib.suppress(Exception):  # answered or released already
                manager.notify(callback_id, outcome)

    set_stop._etl_releases_callbacks = True  # type: ignore[attr-defined]
    Environment.set_stop = set_stop  # type: ignore[method-assign]


def route_lambda_invocations(invoke: Callable[[str, Any], tuple[str, bool]]) -> Callable[[], None]:
    """moto runs a function by calling `LambdaFunction._invoke_lambda`; send those calls to `invoke`
    (function name, event) → (payload, errored). Returns the function that undoes the routing."""
    from moto.awslambda.models import LambdaFunction

    original = LambdaFunction.__dict__["_invoke_lambda"]

    def _invoke_lambda(fn: Any, event: Any = None) -> tuple[str, bool, str]:
        payload, errored = invoke(fn.function_name, event if event is not None else {})
        too_large = limits.task_result_error(payload)  # AWS fails a state whose result is over 256 KB
        if too_large is not None:
            return too_large, True, ""
        return payload, errored, ""

    LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign]

    def restore() -> None:
        LambdaFunction._invoke_lambda = original  # type: ignore[method-assign]

    return restore


def transitions(history: list[dict[str, Any]]) -> int:
    """State transitions as billed: one per state entered, plus one per retry attempt."""
    entered = sum(1 for e in history if e["type"].endswith("StateEntered"))
    tasks = sum(1 for e in history if e["type"] == "TaskStateEntered")
    scheduled = sum(1 for e in history if e["type"] == "TaskScheduled")
    return entered + scheduled - tasks
