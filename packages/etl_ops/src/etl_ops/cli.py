"""`etl`: the operator CLI.

etl local up                      run the whole system on 127.0.0.1 until Ctrl-C
etl demo [--count N] [--rows R]   both pipelines, every outcome, a report
etl jobs list|show|approve|reject|approve-all
                                  the approval API (SigV4-signed); `show` adds the job's step
                                  timeline from its orchestrator's history
etl jobs start s3://bucket/key    start the job of an object already uploaded (same job id)
etl jobs retry ID                 a new attempt at a FAILED job (a job id of its own)
etl jobs cancel ID | --all-waiting
                                  stop a job before its decision: CANCELLED, nothing published
etl upload FILE [--pipeline P]    put a CSV in a pipeline's raw bucket
etl dlq list|redrive              the pipelines' dead-letter queues

Commands act on the local stack (.local/stack.json) unless `--outputs` (terraform output -json) or
`--api-url` names a deployment, which is reached with boto3's default credential chain (`--profile`,
AWS_PROFILE, SSO, assumed roles, instance and container credentials; see etl_ops.target).
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
from pathlib import Path
from typing import Any

from etl_ops import cli_jobs, cli_ops

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
    policies = Path(args.dataset_policies).read_text(encoding="utf-8") if args.dataset_policies else ""
    runtime = LocalRuntime(
        root=args.root,
        approval_timeout_seconds=args.approval_timeout,
        echo=print,
        fresh=args.fresh,
        dataset_policies=policies,
    )
    runtime.start()
    try:
        print(f"Local stack up in {runtime.started_at:.1f} s ({', '.join(runtime.workflows)})")
        print(f"  moto (S3, SQS, SNS, Step Functions)            {runtime.endpoints.moto}")
        print(f"  moto (DynamoDB, a process of its own)          {runtime.endpoints.of('dynamodb')}")
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
        advance_clock=args.advance_clock,
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
    from etl_ops import cost, cost_cloudwatch
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

        deployment = cost_cloudwatch.deployment_from_outputs(
            json.loads(Path(args.outputs).read_text(encoding="utf-8"))
        )
        start, end = _window(args.since)
        session = boto3.session.Session(profile_name=args.profile, region_name=args.region)
        cloudwatch = session.client("cloudwatch")
        durable, sfn, workflows = cost_cloudwatch.units_from_cloudwatch(
            cloudwatch, deployment, start, end, dynamodb=session.client("dynamodb")
        )
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
    root.add_argument("--profile", help="AWS profile for a deployment (default: AWS_PROFILE, then the chain)")
    commands = root.add_subparsers(dest="command", required=True)

    local = commands.add_parser("local", help="the local runtime").add_subparsers(dest="local", required=True)
    up = local.add_parser("up", help="run the whole system on 127.0.0.1 (foreground; Ctrl-C stops)")
    up.add_argument("--approval-timeout", type=int, default=24 * 3600, help="seconds (default 24 h)")
    up.add_argument(
        "--fresh",
        action="store_true",
        help="start empty (default: carry on from the last stop: S3, the jobs table, queues and the "
        "executions waiting for a decision, with their approval deadlines)",
    )
    up.add_argument(
        "--dataset-policies",
        metavar="JSON_FILE",
        help='quality policies per dataset (README "Quality bands"; default: every job waits for a reviewer)',
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
    demo.add_argument(
        "--advance-clock",
        action="store_true",
        help="expire the jobs left to expire by moving the local clock past their deadline, not by waiting",
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

    cli_ops.add_parsers(commands, cli_jobs.add_parser(commands))

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
