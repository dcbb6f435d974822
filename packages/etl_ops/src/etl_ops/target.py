"""Where an `etl` command acts, and as whom: the local stack (`.local/stack.json`) or a deployment.

A deployment (named by `--outputs`, the `terraform output -json` document, or `--api-url`) is reached with
boto3's default credential chain through a Session: `--profile` or AWS_PROFILE, SSO, assumed roles,
environment variables, container and instance credentials
(https://boto3.amazonaws.com/v1/documentation/api/latest/guide/credentials.html). When that chain finds
nothing the command stops with a clear error: it never signs with a made-up key. Only the local stack,
which accepts nothing else, is reached with the local runtime's fixed, well-known credentials.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_REGION = "us-east-1"
NO_CREDENTIALS = (
    "no AWS credentials found: name a profile (--profile or AWS_PROFILE; for SSO run `aws sso login "
    "--profile P` first), or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run where a role provides them"
)


class TargetError(SystemExit):
    """The command cannot reach its target; the message (printed on exit) says why and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(f"etl: {message}")


@dataclass(frozen=True)
class Pipeline:
    """One pipeline's resources an operator acts on."""

    workflow: str
    raw_bucket: str
    queue_url: str
    dlq_url: str
    output_bucket: str = ""


@dataclass(frozen=True)
class Target:
    """A boto3 session and the endpoints and resources of the stack the command acts on."""

    session: Any
    local: bool
    api_url: str | None
    region: str
    endpoints: dict[str, str] = field(default_factory=dict)
    pipelines: dict[str, Pipeline] = field(default_factory=dict)
    state_machine_arn: str | None = None
    durable_function: str | None = None
    jobs_table: str | None = None

    def client(self, service: str) -> Any:
        """A client of `service` with standard retries (the local endpoint when the target is local)."""
        from botocore.config import Config

        config = Config(retries={"mode": "standard", "max_attempts": 3})
        endpoint = self.endpoints.get(service) or self.endpoints.get("*")
        return self.session.client(service, endpoint_url=endpoint, config=config)

    def resource(self, service: str) -> Any:
        """A boto3 resource of `service` over the same endpoint and retries as `client`."""
        from botocore.config import Config

        config = Config(retries={"mode": "standard", "max_attempts": 3})
        endpoint = self.endpoints.get(service) or self.endpoints.get("*")
        return self.session.resource(service, endpoint_url=endpoint, config=config)

    def credentials(self) -> Any:
        """The session's credentials, resolved now; a clear error when the chain finds none."""
        return session_credentials(self.session)

    def pipeline(self, workflow: str | None) -> Pipeline:
        """The named pipeline; without a name the durable one when deployed, else the only one."""
        if workflow is None and len(self.pipelines) == 1:
            return next(iter(self.pipelines.values()))
        if workflow is None:
            workflow = "durable"
        if workflow in self.pipelines:
            return self.pipelines[workflow]
        choices = ", ".join(sorted(self.pipelines)) or "none"
        raise TargetError(
            f"pipeline {workflow!r} is not deployed here (pipelines: {choices}): pass --pipeline"
        )

    def pipeline_of_bucket(self, bucket: str) -> Pipeline:
        """The pipeline whose raw bucket is `bucket`."""
        for found in self.pipelines.values():
            if found.raw_bucket == bucket:
                return found
        buckets = ", ".join(sorted(p.raw_bucket for p in self.pipelines.values())) or "none"
        raise TargetError(f"{bucket} is not a raw bucket of this stack (raw buckets: {buckets})")


def session_credentials(session: Any) -> Any:
    """`session.get_credentials()`, or a TargetError when there are none or they cannot be loaded."""
    from botocore.exceptions import BotoCoreError

    try:
        found = session.get_credentials()
    except BotoCoreError as exc:  # an expired SSO token, a failing credential_process, ...
        raise TargetError(f"AWS credentials could not be loaded: {exc}") from None
    if found is None:
        raise TargetError(NO_CREDENTIALS)
    return found


def output(outputs: dict[str, Any], name: str) -> Any:
    """One value of a `terraform output -json` document (or of a plain name → value map)."""
    entry = outputs.get(name)
    return entry.get("value") if isinstance(entry, dict) and "value" in entry else entry


def read_outputs(args: argparse.Namespace) -> dict[str, Any]:
    """The `--outputs` document, or {} without one."""
    path = getattr(args, "outputs", None)
    return json.loads(Path(path).read_text(encoding="utf-8")) if path else {}


def resolve(args: argparse.Namespace) -> Target:
    """A deployment when `--outputs` or `--api-url` names one, else the local stack of `--root`."""
    outputs = read_outputs(args)
    api_url = getattr(args, "api_url", None) or output(outputs, "api_url")
    if outputs or api_url:
        return deployment(args, outputs, api_url)
    stack_file = Path(args.root) / "stack.json"
    if not stack_file.exists():
        raise TargetError(
            f"no {stack_file}: start the stack with `etl local up`, or name a deployment "
            "with --outputs (terraform output -json) or --api-url"
        )
    return local(args, json.loads(stack_file.read_text(encoding="utf-8")))


def deployment(args: argparse.Namespace, outputs: dict[str, Any], api_url: str | None) -> Target:
    """A deployment reached with the default credential chain (`--profile` first)."""
    import boto3
    from botocore.exceptions import ProfileNotFound

    profile = getattr(args, "profile", None)
    try:
        session = boto3.session.Session(profile_name=profile, region_name=getattr(args, "region", None))
    except ProfileNotFound as exc:
        raise TargetError(str(exc)) from None
    region = session.region_name or DEFAULT_REGION
    if session.region_name is None:
        session = boto3.session.Session(profile_name=profile, region_name=region)
    names = (output(outputs, "raw_bucket_names") or {}, output(outputs, "queue_urls") or {})
    dlqs = output(outputs, "dlq_urls") or {}
    outs = output(outputs, "output_bucket_names") or {}
    pipelines = {
        workflow: Pipeline(
            workflow, bucket, names[1].get(workflow, ""), dlqs.get(workflow, ""), outs.get(workflow, "")
        )
        for workflow, bucket in names[0].items()
    }
    return Target(
        session,
        local=False,
        api_url=api_url,
        region=region,
        pipelines=pipelines,
        state_machine_arn=getattr(args, "state_machine_arn", None) or output(outputs, "state_machine_arn"),
        durable_function=getattr(args, "durable_function", None)
        or output(outputs, "durable_orchestrator_alias_arn"),
        jobs_table=output(outputs, "jobs_table_name"),
    )


def local(args: argparse.Namespace, stack: dict[str, Any]) -> Target:
    """The local stack of `etl local up`, reached with the local runtime's fixed credentials."""
    import boto3

    from etl_local.runtime import ACCESS_KEY, SECRET_KEY

    region = stack.get("region", DEFAULT_REGION)
    session = boto3.session.Session(
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name=region
    )
    endpoints = stack["endpoints"]
    pipelines = {
        workflow: Pipeline(workflow, p["raw_bucket"], p["queue_url"], p["dlq_url"], p["output_bucket"])
        for workflow, p in stack.get("stack", {}).get("pipelines", {}).items()
    }
    return Target(
        session,
        local=True,
        api_url=endpoints["api"],
        region=region,
        endpoints={
            "*": endpoints["moto"],
            **endpoints.get("moto_services", {}),
            "lambda": endpoints["lambda"],
        },
        pipelines=pipelines,
        state_machine_arn=getattr(args, "state_machine_arn", None) or stack.get("state_machine_arn"),
        durable_function=getattr(args, "durable_function", None)
        or stack.get("functions", {}).get("durable-orchestrator"),
        jobs_table=stack.get("stack", {}).get("jobs_table"),
    )
