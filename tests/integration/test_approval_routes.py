"""The approval API's routes are etl_aws.contract.API_ROUTES wherever they are written: the Powertools app
registers exactly those, the local gateway serves exactly those, the `etl` client calls only those."""

from __future__ import annotations

import re
from typing import Any

import pytest

from etl_approval.app import app
from etl_aws import contract as C
from etl_local import gateway
from etl_ops import api


def registered_routes() -> set[tuple[str, str, str]]:
    """(method, resource path in API Gateway's {param} form, function name) of every app route."""
    routes = [*app._static_routes, *app._dynamic_routes]
    return {(r.method, re.sub(r"<(\w+)>", r"{\1}", r.path), r.func.__name__) for r in routes}


def test_the_app_registers_exactly_the_contract_routes_and_their_functions() -> None:
    assert registered_routes() == {(r.method, r.resource, r.handler) for r in C.API_ROUTES}


def test_every_contract_route_names_one_function_of_the_app() -> None:
    import etl_approval.app as module

    assert all(callable(getattr(module, route.handler, None)) for route in C.API_ROUTES)


def test_route_keys_are_unique() -> None:
    assert len({route.key for route in C.API_ROUTES}) == len(C.API_ROUTES)


@pytest.mark.parametrize("route", C.API_ROUTES, ids=lambda r: r.key)
def test_the_local_gateway_matches_each_contract_route_with_its_auth(route: C.ApiRoute) -> None:
    matched, params = gateway._match(route.method, route.path(jobId="job-1"))

    assert matched == route
    assert params == ({"jobId": "job-1"} if "{jobId}" in route.resource else {})


def test_the_local_gateway_serves_no_route_outside_the_contract() -> None:
    assert gateway._match("DELETE", "/jobs/job-1") == (None, {})
    assert gateway._match("GET", "/jobs/job-1/approve") == (None, {})


def test_route_path_encodes_a_parameter_as_one_segment() -> None:
    assert C.ROUTE_APPROVE.path(jobId="a/b c") == "/jobs/a%2Fb%20c/approve"


def test_the_cli_client_calls_only_contract_routes_signed_as_the_contract_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: list[tuple[str, str, bool]] = []

    def record(
        method: str,
        url: str,
        body: bytes = b"",
        headers: Any = None,
        credentials: Any = None,
        region: str = "",
        timeout: float = 0,
    ) -> api.Response:
        sent.append((method, url.removeprefix("https://x.test/prod").split("?")[0], credentials is not None))
        return api.Response(200, {}, b"{}")

    monkeypatch.setattr(api, "send", record)
    client = api.ApprovalApi("https://x.test/prod", credentials=object())  # type: ignore[arg-type]
    client.list_jobs(status="FAILED")
    client.get_job("job-1")
    client.approve("job-1")
    client.reject("job-1", "bad")

    served = {(m, path) for m, path, _ in sent}
    expected = {(r.method, r.path(jobId="job-1")) for r in C.API_ROUTES}
    assert served <= expected
    assert all(signed for *_, signed in sent)
    assert len(served) == 4
