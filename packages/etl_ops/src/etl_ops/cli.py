"""`etl`: the operator CLI.

etl local up                      run the whole system on 127.0.0.1 until Ctrl-C
etl demo [--count N] [--rows R]   both pipelines, every outcome, a report
etl jobs list|show|approve|reject|approve-all
                                  the approval API of the local stack (SigV4-signed); `show` adds
                                  the job's step timeline from its orchestrator's history
etl gen-data                      synthetic messy CSV files
etl cost --report R | --from-cloudwatch --outputs O
                                  $ per 1,000 workflows, both orchestrators side by side
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from etl_ops.timeline import Timeline

DEFAULT_ROOT = ".local"


def _quiet_handlers() -> None:
    """Handlers log and emit metrics as in Lambda; on a terminal only warnings are worth showing.
    Read when etl_aws.observability is first imported, so this runs before any import of it."""
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")


# ---- local up ---------------------------------------------------------------------------------------


def cmd_local_up(args: argparse.Namespace) -> int:
    _quiet_handlers()
    from etl_local.runtime import LocalRuntime

    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    runtime = LocalRuntime(
        root=args.root, approval_timeout_seconds=args.approval_timeout, echo=print, fresh=not args.keep
    )
    runtime.start()
    try:
        print(f"Local stack up in {runtime.started_at:.1f} s ({', '.join(runtime.workflows)})")
        print(f"  moto (S3, SQS, SNS, DynamoDB, Step Functions)  {runtime.endpoints.moto}")
        print(f"  Lambda (durable starts, callbacks)             {runtime.endpoints.lambda_api}")
        print(f"  approval API                                   {runtime.endpoints.api}")
        for workflow in runtime.workflows:
            print(f"  upload to s3://{runtime.raw_bucket(workflow)}/uploads/<name>.csv")
        print(f"  stack written to {Path(args.root) / 'stack.json'}; e-mails in {Path(args.root) / 'outbox'}")
        print("  credentials: AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing, region us-east-1")
        print("Ctrl-C stops.")
        while not stop.wait(0.5):
            pass
    finally:
        print("\nstopping ...")
        runtime.stop()
        print("stopped.")
    return 0


# ---- demo -------------------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    _quiet_handlers()
    from etl_ops.demo import run_demo

    return run_demo(
        count=args.count,
        rows=args.rows,
        # Everything is approved in the experiment: nothing should expire while the queue drains.
        approval_timeout=args.approval_timeout or (3600 if args.approve_all else 20),
        root=args.root,
        report_path=Path(args.json) if args.json else None,
        approve_all=args.approve_all,
    )


# ---- cost -------------------------------------------------------------------------------------------


def _window(since: str) -> Any:
    from datetime import UTC, datetime, timedelta

    units = {"m": "minutes", "h": "hours", "d": "days"}
    if len(since) < 2 or since[-1] not in units or not since[:-1].isdigit():
        raise SystemExit(f"etl cost: --since takes a number and m/h/d, e.g. 24h (got {since!r})")
    end = datetime.now(UTC)
    return end - timedelta(**{units[since[-1]]: int(since[:-1])}), end


def cmd_cost(args: argparse.Namespace) -> int:
    from etl_ops import cost
    from etl_ops.pricing import table

    try:
        prices = table(args.region, args.arch)
    except ValueError as exc:
        print(f"etl cost: {exc}", file=sys.stderr)
        return 2
    if args.report:
        durable, sfn = cost.units_from_report(json.loads(Path(args.report).read_text(encoding="utf-8")))
    else:
        if not args.outputs:
            print(
                "etl cost: --from-cloudwatch needs --outputs (terraform output -json > outputs.json)",
                file=sys.stderr,
            )
            return 2
        import boto3

        deployment = cost.deployment_from_outputs(json.loads(Path(args.outputs).read_text(encoding="utf-8")))
        start, end = _window(args.since)
        cloudwatch = boto3.client("cloudwatch", region_name=args.region)
        durable, sfn, workflows = cost.units_from_cloudwatch(cloudwatch, deployment, start, end)
        print(f"workflows in the window: durable {workflows['durable']:,.0f}, sfn {workflows['sfn']:,.0f}")
    if args.memory_mb:
        durable, sfn = durable.with_memory(args.memory_mb), sfn.with_memory(args.memory_mb)
    if args.duration_ms is not None:
        durable = durable.with_durations({"*": args.duration_ms})
        sfn = sfn.with_durations({"*": args.duration_ms})
    comparison = cost.Comparison(durable, sfn, prices)
    print(json.dumps(comparison.to_dict(), indent=2) if args.json else cost.render(comparison))
    return 0


# ---- jobs -------------------------------------------------------------------------------------------


def _api(args: argparse.Namespace) -> Any:
    from botocore.credentials import Credentials

    from etl_ops.api import ApprovalApi

    stack_file = Path(args.root) / "stack.json"
    if args.api_url:
        url, region = args.api_url, args.region
    elif stack_file.exists():
        stack = json.loads(stack_file.read_text(encoding="utf-8"))
        url, region = stack["endpoints"]["api"], stack.get("region", args.region)
    else:
        raise SystemExit(f"no {stack_file}: start the stack with `etl local up`, or pass --api-url")
    key = os.environ.get("AWS_ACCESS_KEY_ID", "testing")
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY", "testing")
    return ApprovalApi(url, Credentials(key, secret, os.environ.get("AWS_SESSION_TOKEN")), region)


def _show(response: Any) -> int:
    try:
        print(json.dumps(response.json(), indent=2))
    except ValueError:
        print(response.text)
    return 0 if response.status < 400 else 1


def cmd_jobs(args: argparse.Namespace) -> int:
    if args.action == "show":
        return _show_job(args)
    api = _api(args)
    if args.action == "list":
        response = api.list_jobs(status=args.status)
        if response.status >= 400 or args.raw:
            return _show(response)
        jobs = response.json().get("jobs", [])
        print(f"{'job id':<46} {'workflow':<9} {'status':<17} file")
        for job in jobs:
            print(f"{job['job_id']:<46} {job['workflow']:<9} {job['status']:<17} {job.get('file_name', '')}")
        return 0
    if args.action == "approve":
        return _show(api.approve(args.job_id, args.reason or ""))
    if args.action == "approve-all":
        return _approve_all(api, args.workflow, args.reason or "")
    if not args.reason:
        raise SystemExit("a rejection needs --reason")
    return _show(api.reject(args.job_id, args.reason))


def _show_job(args: argparse.Namespace) -> int:
    """The job from the approval API, then its step timeline from its orchestrator's history."""
    outputs = json.loads(Path(args.outputs).read_text(encoding="utf-8")) if args.outputs else {}
    if outputs and not args.api_url:
        args.api_url = _output(outputs, "api_url")
    response = _api(args).get_job(args.job_id)
    if response.status >= 400 or args.raw:
        return _show(response)
    job = response.json()
    found: Timeline | None = None
    problem = ""
    try:
        found = _timeline(args, outputs, job)
    except _NoTimeline as exc:
        problem = str(exc)
    if args.json:
        document = {"job": job, "timeline": found.to_dict() if found else None}
        if problem:
            document["timeline_unavailable"] = problem
        print(json.dumps(document, indent=2))
        return 0
    print(f"{job['job_id']}  {job['workflow']}  {job['status']}  {job.get('file_name', '')}")
    print(f"  counts   {job.get('counts', {})}")
    if job.get("reasons"):
        print(f"  reasons  {job['reasons']}")
    if job.get("decision"):
        print(f"  decision {job['decision']}")
    if job.get("error"):
        print(f"  error    {job['error']}")
    for entry in job.get("history", []):
        print(f"  {entry['at']}  {entry['status']}")
    if found is not None:
        from etl_ops.timeline import render

        print(render(found))
    else:
        print(f"steps: not available ({problem})")
    return 0


class _NoTimeline(Exception):
    """The job's execution history cannot be read (the reason is the message)."""


def _output(outputs: dict[str, Any], name: str) -> Any:
    entry = outputs.get(name)
    return entry.get("value") if isinstance(entry, dict) else entry


@dataclass(frozen=True)
class _Orchestrators:
    """Where the job's execution history is read: a boto3 session, endpoints, and both orchestrators."""

    session: Any
    endpoints: dict[str, str]
    state_machine_arn: str | None
    durable_function: str | None

    def client(self, service: str) -> Any:
        from botocore.config import Config

        config = Config(retries={"mode": "standard", "max_attempts": 3})
        return self.session.client(service, endpoint_url=self.endpoints.get(service), config=config)


def _orchestrators(args: argparse.Namespace, outputs: dict[str, Any]) -> _Orchestrators:
    """A deployment's (caller's credentials and region) when an API URL or outputs name one, else the
    local stack's (endpoints from stack.json)."""
    import boto3

    stack_file = Path(args.root) / "stack.json"
    if args.api_url:
        return _Orchestrators(
            boto3.session.Session(region_name=args.region),
            {},
            args.state_machine_arn or _output(outputs, "state_machine_arn"),
            args.durable_function or _output(outputs, "durable_orchestrator_alias_arn"),
        )
    if not stack_file.exists():
        raise _NoTimeline(f"no {stack_file} and no deployment given")
    stack = json.loads(stack_file.read_text(encoding="utf-8"))
    session = boto3.session.Session(
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
        region_name=stack.get("region", args.region),
    )
    return _Orchestrators(
        session,
        {"stepfunctions": stack["endpoints"]["moto"], "lambda": stack["endpoints"]["lambda"]},
        args.state_machine_arn or stack.get("state_machine_arn"),
        args.durable_function or stack.get("functions", {}).get("durable-orchestrator"),
    )


def _timeline(args: argparse.Namespace, outputs: dict[str, Any], job: dict[str, Any]) -> Timeline:
    """The timeline of the execution named by the job id, in the orchestrator the job record names."""
    from botocore.exceptions import BotoCoreError, ClientError

    from etl_ops import timeline

    where, workflow, job_id = _orchestrators(args, outputs), job.get("workflow"), job["job_id"]
    try:
        if workflow == "sfn":
            if not where.state_machine_arn:
                raise _NoTimeline("state machine unknown: pass --state-machine-arn or --outputs")
            arn = timeline.sfn_execution_arn(where.state_machine_arn, job_id)
            return timeline.sfn_timeline(timeline.sfn_events(where.client("stepfunctions"), arn))
        if workflow == "durable":
            if not where.durable_function:
                raise _NoTimeline("durable function unknown: pass --durable-function or --outputs")
            events = timeline.durable_events(where.client("lambda"), where.durable_function, job_id)
            if events is None:
                raise _NoTimeline(f"no durable execution named {job_id}")
            return timeline.durable_timeline(events)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise _NoTimeline(f"{error.get('Code', 'error')}: {error.get('Message', '')}") from None
    except BotoCoreError as exc:
        raise _NoTimeline(str(exc)) from None
    raise _NoTimeline(f"unknown workflow {workflow!r}")


def _approve_all(api: Any, workflow: str | None, reason: str) -> int:
    """Approve every job waiting for a decision (of one workflow, when given)."""
    failures, cursor, approved = 0, None, 0
    while True:
        response = api.list_jobs(status="PENDING_APPROVAL", cursor=cursor)
        if response.status >= 400:
            return _show(response)
        page = response.json()
        for job in page.get("jobs", []):
            if workflow and job["workflow"] != workflow:
                continue
            answer = api.approve(job["job_id"], reason)
            ok = answer.status < 400
            approved += ok
            failures += not ok
            print(f"{job['job_id']:<46} {'approved' if ok else f'refused ({answer.status})'}")
        cursor = page.get("next_cursor")
        if not cursor:
            break
    print(f"{approved} approved, {failures} refused")
    return 0 if not failures else 1


# ---- gen-data ---------------------------------------------------------------------------------------


def cmd_gen_data(args: argparse.Namespace) -> int:
    from etl_core import synth

    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    for index in range(args.count):
        path = out / f"data-{index + 1:03d}.csv"
        with path.open("wb") as handle:
            synth.write_csv(handle, args.rows, bad_ratio=args.bad_ratio, seed=args.seed + index)
        print(path)
    return 0


# ---- parser -----------------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="etl", description="CSV ETL operator CLI")
    root.add_argument("--root", default=DEFAULT_ROOT, help="local state directory (default .local)")
    commands = root.add_subparsers(dest="command", required=True)

    local = commands.add_parser("local", help="the local runtime").add_subparsers(dest="local", required=True)
    up = local.add_parser("up", help="run the whole system on 127.0.0.1 (foreground; Ctrl-C stops)")
    up.add_argument("--approval-timeout", type=int, default=24 * 3600, help="seconds (default 24 h)")
    up.add_argument(
        "--keep",
        action="store_true",
        help="keep .local/durable.sqlite of an earlier run (for inspection: its executions are not "
        "resumed, since moto's state does not survive a restart)",
    )
    up.set_defaults(func=cmd_local_up)

    demo = commands.add_parser("demo", help="both pipelines, every outcome, a report")
    demo.add_argument("--count", type=int, default=4, help="files per pipeline (default 4)")
    demo.add_argument("--rows", type=int, default=200, help="rows per file (default 200)")
    demo.add_argument(
        "--approval-timeout",
        type=int,
        default=int(os.environ.get("ETL_APPROVAL_TIMEOUT_SECONDS", "0")) or None,
        help="seconds before an undecided job expires (default 20; 3600 with --approve-all)",
    )
    demo.add_argument("--json", metavar="REPORT", help="write the report as JSON to this file")
    demo.add_argument(
        "--approve-all", action="store_true", help="approve every file (the cost experiment: --count 1000)"
    )
    demo.set_defaults(func=cmd_demo)

    cost = commands.add_parser("cost", help="$ per 1,000 workflows and per year, both orchestrators")
    source = cost.add_mutually_exclusive_group(required=True)
    source.add_argument("--report", metavar="REPORT", help="units from an `etl demo --json` report")
    source.add_argument("--from-cloudwatch", action="store_true", help="units from a deployment's metrics")
    cost.add_argument("--since", default="24h", help="CloudWatch window, e.g. 24h, 7d (default 24h)")
    cost.add_argument("--outputs", metavar="JSON", help="`terraform output -json` of the deployment")
    cost.add_argument("--region", default="us-east-1")
    cost.add_argument("--arch", default="arm64", choices=("arm64", "x86_64"))
    cost.add_argument("--memory-mb", type=int, help="price every function at this memory size")
    cost.add_argument("--duration-ms", type=float, help="override every function's duration (ms)")
    cost.add_argument("--json", action="store_true", help="print the comparison as JSON")
    cost.set_defaults(func=cmd_cost)

    jobs = commands.add_parser("jobs", help="jobs through the approval API (SigV4-signed)")
    jobs.add_argument("--api-url", help="API base URL (default: from .local/stack.json)")
    jobs.add_argument("--region", default="us-east-1")
    jobs.add_argument("--raw", action="store_true", help="print the API's JSON")
    actions = jobs.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="list jobs")
    listing.add_argument("--status", help="only jobs in this status (e.g. PENDING_APPROVAL)")
    show = actions.add_parser("show", help="show one job and its step timeline")
    show.add_argument("job_id")
    show.add_argument("--json", action="store_true", help="print the job and its timeline as JSON")
    show.add_argument("--outputs", metavar="JSON", help="`terraform output -json` of the deployment")
    show.add_argument("--state-machine-arn", help="Step Functions state machine of a deployment")
    show.add_argument("--durable-function", help="durable orchestrator (alias ARN) of a deployment")
    for name in ("approve", "reject"):
        action = actions.add_parser(name, help=f"{name} one job")
        action.add_argument("job_id")
        action.add_argument("--reason", default="")
    approve_all = actions.add_parser("approve-all", help="approve every job waiting for a decision")
    approve_all.add_argument("--workflow", choices=("durable", "sfn"))
    approve_all.add_argument("--reason", default="")
    jobs.set_defaults(func=cmd_jobs)

    gen = commands.add_parser("gen-data", help="write synthetic messy CSV files")
    gen.add_argument("--count", type=int, default=1)
    gen.add_argument("--rows", type=int, default=1000)
    gen.add_argument("--bad-ratio", type=float, default=0.02)
    gen.add_argument("--seed", type=int, default=7)
    gen.add_argument("--output", default="data", help="directory (default ./data)")
    gen.set_defaults(func=cmd_gen_data)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
