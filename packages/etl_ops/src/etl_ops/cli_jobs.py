"""`etl jobs list|show|approve|reject|approve-all|unpublish`: jobs through the approval API (SigV4-signed);
`show` adds the job's step timeline from its orchestrator's history."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from etl_ops import decisions
from etl_ops.target import Target, TargetError, resolve

if TYPE_CHECKING:
    from etl_ops.timeline import Timeline


def api_client(where: Target) -> Any:
    """The approval API of the target, every operator request signed with the target's credentials."""
    from etl_ops.api import ApprovalApi

    if not where.api_url:
        raise TargetError("the approval API URL is unknown: pass --api-url or --outputs")
    return ApprovalApi(where.api_url, where.credentials(), where.region)


def _show(response: Any) -> int:
    try:
        print(json.dumps(response.json(), indent=2))
    except ValueError:
        print(response.text)
    return 0 if response.status < 400 else 1


def cmd_jobs(args: argparse.Namespace) -> int:
    if args.action == "show":
        return _show_job(args)
    api = api_client(resolve(args))
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
    if args.action == "unpublish":
        if not args.reason.strip():
            raise SystemExit("unpublishing needs --reason")
        return _show(api.unpublish(args.job_id, args.reason))
    if not args.reason:
        raise SystemExit("a rejection needs --reason")
    return _show(api.reject(args.job_id, args.reason))


def _show_job(args: argparse.Namespace) -> int:
    """The job from the approval API, then its step timeline from its orchestrator's history."""
    where = resolve(args)
    response = api_client(where).get_job(args.job_id)
    if response.status >= 400 or args.raw:
        return _show(response)
    job = response.json()
    found: Timeline | None = None
    problem = ""
    try:
        found = decisions.annotate(_timeline(where, job), job)
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
    if job.get("policy"):
        print(f"  quality  {_quality_line(job['policy'])}")
    for reason in (
        f"{f['band']} {f['threshold']}: {f['reason']}" for f in (job.get("policy") or {}).get("fired", [])
    ):
        print(f"           {reason}")
    for line in decisions.decision_lines(job):
        print(line)
    if job.get("error"):
        print(f"  error    {job['error']}")
    if job.get("retraction"):
        print(f"  retracted {job['retraction']}")
    decision = job.get("decision") or {}
    decided_status = ("APPROVED" if decision.get("approved") else "REJECTED") if decision else None
    for entry in job.get("history", []):
        by = f"  (by {decision.get('reviewer')})" if entry["status"] == decided_status else ""
        print(f"  {entry['at']}  {entry['status']}{by}")
    if found is not None:
        from etl_ops.timeline_table import render

        print(render(found))
    else:
        print(f"steps: not available ({problem})")
    return 0


def _quality_line(policy: dict) -> str:
    """The job's quality band: band, what the policy did, at which version, for which dataset."""
    fired = len(policy.get("fired", []))
    return (
        f"{policy.get('band')} ({policy.get('action')}; {fired} threshold(s) fired) "
        f"dataset {policy.get('dataset')}, policy {policy.get('version')}, "
        f"on timeout {policy.get('on_timeout')}"
    )


class _NoTimeline(Exception):
    """The job's execution history cannot be read (the reason is the message)."""


def _timeline(where: Target, job: dict[str, Any]) -> Timeline:
    """The timeline of the execution named by the job id, in the orchestrator the job record names."""
    from botocore.exceptions import BotoCoreError, ClientError

    from etl_ops import histories, timeline

    workflow, job_id = job.get("workflow"), job["job_id"]
    try:
        if workflow == "sfn":
            if not where.state_machine_arn:
                raise _NoTimeline("state machine unknown: pass --state-machine-arn or --outputs")
            arn = histories.sfn_execution_arn(where.state_machine_arn, job_id)
            return timeline.sfn_timeline(histories.sfn_events(where.client("stepfunctions"), arn))
        if workflow == "durable":
            if not where.durable_function:
                raise _NoTimeline("durable function unknown: pass --durable-function or --outputs")
            events = histories.durable_events(where.client("lambda"), where.durable_function, job_id)
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


def add_parser(commands: Any) -> Any:
    """`etl jobs ...`; returns the actions' subparsers, so other modules can add actions."""
    jobs = commands.add_parser("jobs", help="jobs through the approval API (SigV4-signed)")
    jobs.add_argument("--api-url", help="API base URL of a deployment (default: the local stack's)")
    jobs.add_argument("--region", help="region of a deployment (default: the profile's, else us-east-1)")
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
    retract = actions.add_parser(
        "unpublish", help="take a COMPLETED job's published output back (kept under retracted/)"
    )
    retract.add_argument("job_id")
    retract.add_argument("--reason", required=True, help="why: recorded with the signer and the time")
    approve_all = actions.add_parser("approve-all", help="approve every job waiting for a decision")
    approve_all.add_argument("--workflow", choices=("durable", "sfn"))
    approve_all.add_argument("--reason", default="")
    jobs.set_defaults(func=cmd_jobs)
    return actions
