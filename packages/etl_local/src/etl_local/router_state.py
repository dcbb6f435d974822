"""Powertools' event-resolver request state, kept per invocation instead of per process.

Powertools (3.x, `aws_lambda_powertools.event_handler.api_gateway`) stores the event being resolved and the
Lambda context on the `BaseRouter` class itself (`BaseRouter.current_event = ...` in `resolve`). On Lambda
that is harmless: an execution environment is a process of its own and runs one invocation at a time
(https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html). The local function host
runs every environment of a function in one process, so two invocations of the approval API side by side
would read each other's request (they answered 400/500 before environments were modelled).

`install()` gives those two attributes one value per thread of control (a `ContextVar`), so each local
execution environment sees only its own request — as each process does on Lambda — and the approval
function can run in as many environments as any other. Reads and writes keep their spelling: through
the class (`BaseRouter.current_event`, via a metaclass descriptor) and through a resolver instance.
"""

from __future__ import annotations

import contextvars
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

ATTRIBUTES = ("current_event", "lambda_context")


class PerInvocation:
    """A data descriptor whose value lives in a context variable."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.value: contextvars.ContextVar[Any] = contextvars.ContextVar(f"powertools_{name}")

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        try:
            return self.value.get()
        except LookupError:
            raise AttributeError(f"{self.name} is set by resolve(), for the invocation running") from None

    def __set__(self, instance: Any, value: Any) -> None:
        self.value.set(value)


def install() -> None:
    """Keep `BaseRouter.current_event` and `lambda_context` per invocation in this process (idempotent)."""
    if isinstance(BaseRouter.__dict__.get(ATTRIBUTES[0]), PerInvocation):
        return
    descriptors = {name: PerInvocation(name) for name in ATTRIBUTES}
    for name, descriptor in descriptors.items():
        setattr(BaseRouter, name, descriptor)  # instance reads find it on the class
    # Class-level reads and writes (`BaseRouter.current_event = event`) go through the metaclass.
    metaclass = type("PerInvocationRouterMeta", (type(BaseRouter),), dict(descriptors))
    BaseRouter.__class__ = metaclass
