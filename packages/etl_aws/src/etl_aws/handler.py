"""The one decorator every Lambda entry point wears: logger, tracer, metrics and settings, wired alike.

    @lambda_handler
    def handler(event, context): ...

- Logger: the Lambda context on every line, state cleared per invocation, and the event never logged:
  `log_event=False` is pinned, so POWERTOOLS_LOGGER_LOG_EVENT cannot make a handler print the tokens and
  review links its events carry.
- Tracer: the invocation is a segment (a pass-through where tracing is off, see `observability`); the
  response is not captured, for the same reason.
- Metrics: whatever the invocation recorded is flushed when it ends, failed or not. Unlike
  `Metrics.log_metrics`, an invocation that recorded nothing prints nothing (no empty-metrics warning).
- Settings: the function's own model (`etl_aws.config.FUNCTION_SETTINGS`, found through the contract by the
  entry point's module and name) is read and validated before the handler runs, so a function deployed
  with a missing or bad variable fails its first invocation with a `SettingsError` naming the variable,
  before doing any work; each invocation then runs inside `config.using(...)` with them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from etl_aws import config
from etl_aws.observability import logger, metrics, tracer

Handler = TypeVar("Handler", bound=Callable[..., Any])


def lambda_handler(
    function: Handler | None = None, *, settings: type[config.FunctionSettings] | None = None
) -> Any:
    """Wrap a Lambda entry point in the project's observability and settings check.

    `settings`: the model the function reads; by default the one etl_aws.config.FUNCTION_SETTINGS names
    for the contract function this entry point is the handler of (an unknown entry point is refused here,
    at import). `__wrapped__` of the result is the undecorated function: for a durable handler the
    workflow beneath `@durable_execution`, which engines that replay it themselves (the local runtime,
    the tests) run.
    """
    if function is None:
        return functools.partial(lambda_handler, settings=settings)
    model = settings or config.model_of_handler(f"{function.__module__}.{function.__name__}")
    traced = tracer.capture_lambda_handler(function, capture_response=False)

    @functools.wraps(function)
    def run(event: Any, context: Any) -> Any:
        try:
            with config.using(config.load(model)):
                return traced(event, context)
        finally:
            if metrics.metric_set:
                metrics.flush_metrics()

    wrapped = logger.inject_lambda_context(run, log_event=False, clear_state=True)
    wrapped.__wrapped__ = getattr(function, "__wrapped__", function)  # type: ignore[attr-defined]
    wrapped.wired_by = lambda_handler  # type: ignore[attr-defined]  # what tests check every entry point for
    wrapped.settings_model = model  # type: ignore[attr-defined]
    return wrapped
