"""Applying the modules for real: a moto server on 127.0.0.1 with the operations Terraform needs
and moto lacks, and the test-only root (tests/terraform/apply/stack) in a prepared copy of terraform/.

The root calls the real modules by relative path from the same place in the copy, so the copy's
relaxed provider floor and its module files without `durable_config` are what gets applied.
"""

from __future__ import annotations

import json
import logging
import shutil
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from .tfkit import prepare_copy

HOST = "127.0.0.1"
REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
APPLY_DIR = Path(__file__).resolve().parent / "apply"


# ---- Step Functions operations moto 5.2.5 does not implement ------------------------------------


def validate_state_machine_definition(self: Any) -> Any:
    """ValidateStateMachineDefinition. The aws provider validates every definition before creating
    the state machine; moto has no such action, and the provider retries an unknown answer for most
    of an hour. This runs moto's own ASL static analyser (the one its parser backend uses when it
    creates a state machine), so a broken definition fails here as it would on AWS."""
    from moto.core.responses import ActionResult
    from moto.stepfunctions.parser.asl.parse.asl_parser import ASLParserException
    from moto.stepfunctions.parser.asl.static_analyser.express_static_analyser import (
        ExpressStaticAnalyser,
    )
    from moto.stepfunctions.parser.asl.static_analyser.static_analyser import StaticAnalyser

    definition = self._get_param("definition")
    express = self._get_param("type") == "EXPRESS"
    analyser = ExpressStaticAnalyser() if express else StaticAnalyser()
    try:
        analyser.analyse(definition)
    except ASLParserException as error:
        message = repr(error)
    except Exception as error:  # the analysers raise plain errors for semantic faults too
        message = f"{type(error).__name__}: {error}"
    else:
        return ActionResult({"result": "OK", "diagnostics": [], "truncated": False})
    diagnostic = {"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED", "message": message}
    return ActionResult({"result": "FAIL", "diagnostics": [diagnostic], "truncated": False})


def list_state_machine_versions(self: Any) -> Any:
    """ListStateMachineVersions. The provider lists a state machine's versions on every read (for
    `publish`); moto records versions but has no action to list them."""
    from moto.core.responses import ActionResult

    machine = self.stepfunction_backend.describe_state_machine(self._get_param("stateMachineArn"))
    versions = sorted(machine.versions.values(), key=lambda v: v.version, reverse=True)
    listed = [{"stateMachineVersionArn": v.arn, "creationDate": v.creation_date} for v in versions]
    return ActionResult({"stateMachineVersions": listed})


def _sqs_attributes(queue: Any) -> dict[str, Any]:
    """RedriveAllowPolicy. moto stores the attribute when it is set but neither lists nor returns it,
    so the provider, which waits for the policy it wrote to read back, would wait until it times out.
    An empty policy removes it, as on AWS (the provider's delete waits for it to be gone)."""
    set_attributes = queue._set_attributes

    def _set_attributes(self: Any, attributes: dict[str, Any], now: float | None = None) -> None:
        set_attributes(self, attributes, now)
        if not getattr(self, "redrive_allow_policy", None):
            self.redrive_allow_policy = None

    return {
        "BASE_ATTRIBUTES": [*queue.BASE_ATTRIBUTES, "RedriveAllowPolicy"],
        "redrive_allow_policy": None,  # the value of a queue that never had one
        "_set_attributes": _set_attributes,
    }


STEPFUNCTIONS_SHIMS = {
    "validate_state_machine_definition": validate_state_machine_definition,
    "list_state_machine_versions": list_state_machine_versions,
}


def _post(url: str) -> None:
    # No proxy handler: the request is for 127.0.0.1, whatever the environment's proxy settings say.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(urllib.request.Request(url, data=b"", method="POST"), timeout=30) as response:
        response.read()


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server on 127.0.0.1 at a port the OS picks, with the shims above; yields its URL."""
    from moto.server import ThreadedMotoServer
    from moto.sqs.models import Queue
    from moto.stepfunctions.responses import StepFunctionResponse

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    with pytest.MonkeyPatch.context() as patch:
        # Read when the IAM backend is created: the reset below recreates it with AWS managed policies.
        patch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        for name, handler in STEPFUNCTIONS_SHIMS.items():
            patch.setattr(StepFunctionResponse, name, handler, raising=False)
        for name, value in _sqs_attributes(Queue).items():
            patch.setattr(Queue, name, value, raising=False)
        server = ThreadedMotoServer(ip_address=HOST, port=0, verbose=False)
        server.start()
        try:
            _, port = server.get_host_and_port()
            url = f"http://{HOST}:{port}"
            # moto's backends are process-wide: start from nothing other tests may have left.
            _post(f"{url}/moto-api/reset")
            yield url
            _post(f"{url}/moto-api/reset")
        finally:
            server.stop()


def client(service: str, endpoint: str) -> Any:
    """A boto3 client for `service` on the moto server."""
    import boto3

    return boto3.client(service, endpoint_url=endpoint, region_name=REGION, **CREDENTIALS)


def prepare_roots(dest: Path, provider_version: str) -> Path:
    """Prepare terraform/ under `dest` and put tests/terraform/apply beside it in the repository
    layout; returns the copy of apply/, the parent of the roots pytest-terraform applies."""
    prepare_copy(dest, provider_version)
    roots = dest / APPLY_DIR.relative_to(APPLY_DIR.parents[2])
    shutil.copytree(APPLY_DIR, roots)
    return roots


def terraform_env(cli_config: Path, plugin_cache: Path, endpoint: str) -> dict[str, str]:
    """Variables for terraform and the provider: the mirror's CLI config, the moto endpoint for every
    service (also as the SDK-wide fallback), and a proxy that refuses whatever is not loopback."""
    return {
        "TF_CLI_CONFIG_FILE": str(cli_config),
        "TF_PLUGIN_CACHE_DIR": str(plugin_cache),
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "TF_VAR_moto_endpoint": endpoint,
        "CHECKPOINT_DISABLE": "1",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_EC2_METADATA_DISABLED": "true",
        # A developer's shared config could name a profile, a region or endpoints of its own.
        "AWS_CONFIG_FILE": str(cli_config.parent / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(cli_config.parent / "no-aws-credentials"),
        # Loopback is never proxied (Go and botocore alike); anything else would go to a closed port.
        "HTTP_PROXY": f"http://{HOST}:9",
        "HTTPS_PROXY": f"http://{HOST}:9",
        "NO_PROXY": f"{HOST},localhost",
    }


def terraform_plugin_loaded() -> bool:
    """Whether pytest-terraform is configured in this run (tests/conftest.py loads it only where
    terraform is installed); its fixture factory needs that at import time."""
    from pytest_terraform import tf

    return tf.PytestConfig.value is not None


def outputs(state: Any, name: str) -> dict[str, Any]:
    """The value of the root output `name` of an applied fixture."""
    value = state.outputs[name]["value"]
    return json.loads(value) if isinstance(value, str) else value
