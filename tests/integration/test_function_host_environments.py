"""The local function host's execution environments: one invocation at a time each, module state of their
own, as on Lambda (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html)."""

from __future__ import annotations

import sys

from etl_local.functions import Environments, HostedFunction


def environments(key: str) -> Environments:
    return Environments(HostedFunction(key, f"csv-etl-{key}", f"arn:aws:lambda:::function:{key}", {}), 8)


def test_concurrent_environments_each_load_the_handler_module_of_their_own() -> None:
    starters = environments("durable-starter")

    first, second = starters.acquire(), starters.acquire()

    assert first.module is sys.modules["etl_durable.starter"]
    assert second.module is not first.module
    assert second.module.__name__ == "etl_durable.starter"
    assert second.handler is not first.handler


def test_an_idle_environment_is_used_again_before_a_new_one_starts() -> None:
    starters = environments("durable-starter")
    first = starters.acquire()
    starters.release(first)

    again = starters.acquire()

    assert again is first


def test_a_handler_holding_a_powertools_resolver_runs_in_one_environment() -> None:
    approvals = environments("approval-api")

    only = approvals.acquire()

    assert approvals.limit == 1
    approvals.release(only)
    assert approvals.acquire() is only
