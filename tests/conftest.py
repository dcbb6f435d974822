"""Shared fixtures: a moto-backed AWS with the deployment's resources, and settings pointing at it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

# Never let a test reach a real AWS account, whatever the developer's environment holds.
for _var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(_var, None)
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_NAMESPACE": "CsvEtlTest",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
)


# AWS's limits and the fault injector sit in front of every botocore client the tests create (the
# handlers' shared clients included): what AWS refuses is refused here too, and faults can be injected.
# In-process moto handles one DynamoDB request at a time, so item operations are atomic as in AWS, and
# skips the item copies nothing reads, as the local stack's DynamoDB process does; SQS checks retention
# without scanning the queue, as the local stack's moto process does.
from etl_local import dynamodb_atomic, dynamodb_copies, faults, limits, sqs_retention  # noqa: E402

limits.install()
faults.install()
dynamodb_atomic.install()
dynamodb_copies.install()
sqs_retention.install()


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    """Load pytest-terraform only where terraform is installed: without one the plugin aborts the
    whole run, so pyproject.toml blocks its entry point (`-p no:terraform`). Loaded here, before the
    command line is parsed, its options (--tf-binary, ...) still work."""
    if shutil.which("terraform"):
        pluginmanager.import_plugin("pytest_terraform.plugin")


@dataclass
class Stack:
    """The provisioned resources and the settings of each workflow's functions."""

    resources: dict[str, Any]
    session: Any

    def settings(self, workflow: str, **overrides: Any) -> Any:
        """The settings of the function that runs every step of `workflow`, the approval request included
        (durable: the orchestrator; Step Functions: the request-approval task, whose model holds the
        other tasks' variables too)."""
        from etl_aws import config
        from etl_local.resources import env_for

        key = "durable-orchestrator" if workflow == "durable" else "sfn-request-approval"
        return config.for_function(key, env_for(self.resources, key)).model_copy(update=overrides)

    def raw_bucket(self, workflow: str) -> str:
        return self.resources["pipelines"][workflow]["raw_bucket"]

    def output_bucket(self, workflow: str) -> str:
        return self.resources["pipelines"][workflow]["output_bucket"]

    def client(self, service: str) -> Any:
        return self.session.client(service)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """Moto in-process with the whole stack provisioned; etl_aws settings come from `Stack.settings`."""
    import boto3
    from moto import mock_aws

    from etl_aws import clients, config
    from etl_local.resources import StackNames, env_for, provision
    from etl_local.s3_conditions import enforce_copy_source_if_match

    restore_copy_conditions = enforce_copy_source_if_match()  # as AWS, and as the local runtime's moto
    with mock_aws():
        clients.reset()
        session = boto3.session.Session(region_name="us-east-1")
        resources = provision(session, StackNames("test"))
        # As the durable orchestrator and the approval API are deployed, for handlers run in this process.
        env = env_for(resources, "durable-orchestrator") | env_for(resources, "approval-api")
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        config.settings.cache_clear()
        yield Stack(resources, session)
        clients.reset()
        config.settings.cache_clear()
    restore_copy_conditions()


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """botocore's retry back-off is recorded instead of slept (a fault test retries many times)."""
    import types

    import botocore.endpoint

    slept: list[float] = []
    monkeypatch.setattr(botocore.endpoint, "time", types.SimpleNamespace(sleep=slept.append))
    return slept


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the Terraform checks and the browser tests as groups for `--dist loadgroup`.

    Under pytest 9.2 with xdist 3.8 the grouping does not take (marked tests still spread), so `make test`
    runs tests/terraform in a process of its own; the browser tests are safe on either worker."""
    for item in items:
        parts = item.path.parts
        for group in ("terraform", "browser"):
            if "tests" in parts and group in parts[parts.index("tests") :]:
                item.add_marker(pytest.mark.xdist_group(group))
