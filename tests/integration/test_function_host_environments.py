"""The local function host's execution environments: one invocation at a time each, module state of their
own, as on Lambda (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html)."""

from __future__ import annotations

import json
import sys
import threading

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from etl_local import router_state
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


def test_the_approval_api_runs_in_several_environments() -> None:
    approvals = environments("approval-api")

    first, second = approvals.acquire(), approvals.acquire()

    assert approvals.limit == 8
    assert second.module is not first.module


def _resolve_side_by_side(paths: list[str]) -> list[str]:
    """Each thread resolves its own request with a resolver of its own; both are inside their route at
    once, then each answers with the path Powertools says it is serving."""
    inside = threading.Barrier(len(paths))
    answers: dict[str, str] = {}

    def serve(path: str) -> None:
        app = APIGatewayRestResolver()

        @app.get("/<name>")
        def route(name: str) -> dict[str, str]:
            inside.wait(timeout=10)
            return {"path": app.current_event.path}

        event = {
            "httpMethod": "GET",
            "path": path,
            "resource": "/{name}",
            "requestContext": {},
            "headers": {},
        }
        answers[path] = json.loads(app.resolve(event, None)["body"])["path"]

    threads = [threading.Thread(target=serve, args=(path,)) for path in paths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [answers[path] for path in paths]


def test_concurrent_resolvers_each_see_their_own_request() -> None:
    router_state.install()

    assert _resolve_side_by_side(["/first", "/second"]) == ["/first", "/second"]
