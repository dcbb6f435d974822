"""moto's server routes each host as before, working it out once per host."""

from __future__ import annotations

from typing import Any

import pytest
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

from etl_local import moto_dispatch

HOSTS = [
    "s3.us-east-1.amazonaws.com",
    "sqs.us-east-1.amazonaws.com",
    "sns.eu-west-1.amazonaws.com",
    "states.us-east-1.amazonaws.com",
    "lambda.us-east-1.amazonaws.com",
    "dynamodb",
    "moto_api",
    "unknown.example",
    None,
]


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> tuple[list[Any], Any]:
    """The original routing, counting its calls, under the remembering wrapper."""
    calls: list[Any] = []
    original = moto_dispatch._ORIGINAL

    def counting(self: DomainDispatcherApplication, host: str | None) -> Any:
        calls.append(host)
        return original(self, host)

    monkeypatch.setattr(moto_dispatch, "_ORIGINAL", counting)
    monkeypatch.setattr(DomainDispatcherApplication, "get_backend_for_host", original)
    moto_dispatch.install()
    return calls, original


def test_each_host_is_routed_as_before_and_worked_out_once(counted: tuple[list[Any], Any]) -> None:
    calls, original = counted
    app = DomainDispatcherApplication(create_app=lambda backend: None)
    expected = {host: original(app, host) for host in HOSTS}
    first = {host: app.get_backend_for_host(host) for host in HOSTS}
    again = {host: app.get_backend_for_host(host) for host in HOSTS}
    assert first == again == expected
    assert calls == HOSTS  # the second round asked nothing anew
    assert first["s3.us-east-1.amazonaws.com"] == "s3"
    assert first["states.us-east-1.amazonaws.com"] == "stepfunctions"
    assert first["dynamodb"] == "dynamodb"
    assert first["unknown.example"] is None
