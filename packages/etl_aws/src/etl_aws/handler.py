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
- Settings: validated before the handler runs, so a function deployed with a bad environment fails its
  first invocation with pydantic's message naming the variable, before doing any work.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from etl_aws.config import settings
from etl_aws.observability import logger, metrics, tracer

Handler = TypeVar("Handler", bound=Callable[..., Any])


def lambda_handler(function: Handler) -> Handler:
    """Wrap a Lambda entry point in the project's observability and settings check.

    `__wrapped__` of the result is the undecorated function: for a durable handler the workflow beneath
    `@durable_execution`, which engines that replay it themselves (the local runtime, the tests) run.
    """
    traced = tracer.capture_lambda_handler(function, capture_response=False)

    @functools.wraps(function)
    def run(event: Any, context: Any) -> Any:
        settings()
        try:
            return traced(event, context)
        finally:
            if metrics.metric_set:
                metrics.flush_metrics()

    wrapped = logger.inject_lambda_context(run, log_event=False, clear_state=True)
    wrapped.__wrapped__ = getattr(function, "__wrapped__", function)  # type: ignore[attr-defined]
    wrapped.wired_by = lambda_handler  # type: ignore[attr-defined]  # what tests check every entry point for
    return wrapped  # type: ignore[return-value]
