"""`etl demo`: the whole system locally, both orchestrators, every outcome, with a report.

Per pipeline the same N messy files are uploaded; the first is rejected through its e-mailed review link,
the second is left to expire, the rest are approved through the SigV4-signed operator API. The demo ends
with a table of jobs, a parity check (the same file gives byte-identical records and rejects through both
pipelines) and the units each workflow consumed.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from botocore.credentials import Credentials

from etl_aws import clock
from etl_aws import contract as C
from etl_aws.models import TERMINAL, JobStatus
from etl_core import synth
from etl_local import cpu
from etl_local.runtime import ACCESS_KEY, SECRET_KEY, LocalRuntime
from etl_ops.api import ApprovalApi
from etl_ops.demo_units import count_units, print_cost, print_units

APPROVE, REJECT, EXPIRE = "approve", "reject", "expire"
_TERMINAL = {s.value for s in TERMINAL}
EXPECTED = {APPROVE: JobStatus.COMPLETED, REJECT: JobStatus.REJECTED, EXPIRE: JobStatus.EXPIRED}
# Every unfinished job is read this often, to see one that ends without an e-mail (a FAILED file).
SWEEP_SECONDS = 10.0
# Reviewers deciding at once. One after the other, each decision's round trip (gateway, approval function,
# jobs table, callback) bounded the whole run's throughput once hundreds of jobs waited together.
DECIDERS = 4


@dataclass
class DemoJob:
    workflow: str
    file: str
    job_id: str
    plan: str
    status: str = "UPLOADED"
    rows: int = 0
    valid: int = 0
    rejected: int = 0
    acted: bool = False
    answered: bool = False  # its decision's request has been answered (acted, and the call returned)
    note: str = ""
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def expected(self) -> str:
        return EXPECTED[self.plan].value

    @property
    def as_expected(self) -> bool:
        return self.status == self.expected


@dataclass
class Report:
    ok: bool = False
    seconds: float = 0.0
    startup_seconds: float = 0.0
    approval_timeout_seconds: int = 0
    jobs: list[dict[str, Any]] = field(default_factory=list)
    parity: list[dict[str, Any]] = field(default_factory=list)
    units: dict[str, Any] = field(default_factory=dict)
    cost: dict[str, Any] = field(default_factory=dict)
    documents_per_minute: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # seconds: upload, processing, report
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # per process, upload to last job's end
    problems: list[str] = field(default_factory=list)


def plan_for(index: int, count: int, approve_all: bool = False) -> str:
    if approve_all:
        return APPROVE
    if count >= 3 and index == 0:
        return REJECT
    if count >= 3 and index == 1:
        return EXPIRE
    return APPROVE


def make_file(index: int, rows: int) -> bytes:
    out = io.BytesIO()
    synth.write_csv(out, rows, bad_ratio=0.05, seed=100 + index)
    return out.getvalue()


def run_demo(
    count: int = 4,
    rows: int = 200,
    approval_timeout: int = 20,
    root: Path | str = ".local",
    report_path: Path | None = None,
    out: TextIO = sys.stdout,
    approve_all: bool = False,
    advance_clock: bool = False,
) -> int:
    """Run the demo; returns the process exit code (0 only if every outcome is as expected).
    `advance_clock`: once only the jobs left to expire wait, move the local clock past their approval
    deadline (etl_aws.clock, followed by both orchestrators' timers) instead of waiting for it."""
    began = time.monotonic()
    say = _printer(out)
    say(f"Starting the local runtime (approval timeout {approval_timeout} s) ...")
    report = Report(approval_timeout_seconds=approval_timeout)
    with LocalRuntime(root=root, approval_timeout_seconds=approval_timeout, echo=None) as rt:
        report.startup_seconds = round(rt.started_at, 1)
        say(f"  moto        {rt.endpoints.moto}  (DynamoDB: {rt.endpoints.of('dynamodb')})")
        say(f"  lambda      {rt.endpoints.lambda_api}")
        say(f"  api         {rt.endpoints.api}")
        say(f"  workflows   {', '.join(rt.workflows)}  (ready in {rt.started_at:.1f} s)")
        api = ApprovalApi(rt.api_url, Credentials(ACCESS_KEY, SECRET_KEY))
        uploading, cpu_before = time.monotonic(), rt.cpu_seconds()
        jobs = _upload(rt, count, rows, say, approve_all)
        driving = time.monotonic()
        api_calls = _drive(rt, api, jobs, approval_timeout, out, advance_clock)
        processed = time.monotonic()
        report.cpu_seconds = cpu.spent(cpu_before, rt.cpu_seconds())
        _describe_jobs(rt, jobs)
        report.jobs = [asdict(j) | {"expected": j.expected} for j in jobs]
        report.parity = _parity(rt, jobs)
        report.units = count_units(rt, jobs, api_calls)
        _print_jobs(jobs, say)
        _print_parity(report.parity, say)
        # Throughput of the pipelines: from the first upload until the last job ended.
        elapsed = max(processed - uploading, 1e-9)
        report.documents_per_minute = round(len(jobs) / elapsed * 60, 1)
        print_units(report.units, say)
        report.cost = print_cost(report.units, say)
        report.phases = {
            "upload": round(driving - uploading, 1),
            "processing": round(processed - uploading, 1),
            "report": round(time.monotonic() - processed, 1),
        }
        say(
            f"Throughput: {report.documents_per_minute:,.0f} documents per minute (both pipelines together:"
            f" {len(jobs)} documents from the first upload to the last decision's end in {elapsed:.0f} s)"
        )
        if report.cpu_seconds and jobs:
            per_doc = ", ".join(f"{name} {sec / len(jobs):.3f} s" for name, sec in report.cpu_seconds.items())
            say(f"CPU per document: {per_doc}")
        _print_mail(rt, jobs, say)
    report.problems = [
        f"{j.workflow} {j.file}: {j.status}, expected {j.expected}" for j in jobs if not j.as_expected
    ] + [f"parity: {p['file']} differs ({p['detail']})" for p in report.parity if not p["identical"]]
    report.ok = not report.problems
    report.seconds = round(time.monotonic() - began, 1)
    say("")
    for problem in report.problems:
        say(f"PROBLEM  {problem}")
    say(f"{'OK' if report.ok else 'FAILED'}: {len(jobs)} jobs in {report.seconds} s")
    if report_path:
        report_path.write_text(json.dumps(asdict(report), indent=2) + "\n", encoding="utf-8")
        say(f"report written to {report_path}")
    return 0 if report.ok else 1


def _printer(out: TextIO) -> Any:
    def say(line: str = "") -> None:
        out.write(line + "\n")
        out.flush()

    return say


def _upload(rt: LocalRuntime, count: int, rows: int, say: Any, approve_all: bool = False) -> list[DemoJob]:
    jobs: list[DemoJob] = []
    for index in range(count):
        name = f"batch-{index + 1:02d}.csv"
        body = make_file(index, rows)
        for workflow in rt.workflows:
            job_id = rt.upload(workflow, f"{C.UPLOAD_PREFIX}{name}", body)
            jobs.append(DemoJob(workflow, name, job_id, plan_for(index, count, approve_all)))
    say(f"Uploaded {count} files x {rows} rows to uploads/ of {len(rt.workflows)} pipelines")
    return jobs


def watched(jobs: list[DemoJob], mailed: Callable[[str], bool], sweep: bool) -> list[DemoJob]:
    """The unfinished jobs one watch round reads: those e-mailed and not yet acted on (waiting to be
    seen in the approval stage), those whose decision was answered or whose deadline is left to pass
    (waiting to end), and all of them on a sweep. A job not yet e-mailed is still being processed and a
    job whose decision is queued still waits for it, so between sweeps the reads follow the jobs moving
    through the approval stage, not the number of jobs queued before or inside it."""
    return [
        j
        for j in jobs
        if j.status not in _TERMINAL
        and (sweep or (j.answered or j.plan == EXPIRE if j.acted else mailed(j.job_id)))
    ]


def _only_expiries_wait(jobs: list[DemoJob]) -> bool:
    """Every unfinished job is one left to expire, and it waits for its decision."""
    waiting = [j for j in jobs if j.status not in _TERMINAL]
    return bool(waiting) and all(j.plan == EXPIRE and j.acted for j in waiting)


def _drive(
    rt: LocalRuntime,
    api: ApprovalApi,
    jobs: list[DemoJob],
    approval_timeout: int,
    out: TextIO,
    advance_clock: bool = False,
) -> Counter:
    """Decide each job as planned once it waits; wait for every job to end. Returns API calls by workflow."""
    calls: Counter[str] = Counter()
    moved = contextlib.ExitStack()  # holds the clock moved past the approval deadline, until the end
    advanced = False
    tty, shown = out.isatty(), ""
    deadline = time.monotonic() + approval_timeout + 120
    repo = rt.jobs()
    assert rt.outbox is not None
    outbox = rt.outbox
    next_sweep = 0.0
    deciders = ThreadPoolExecutor(DECIDERS, thread_name_prefix="demo-decide")
    decisions: dict[Future[Any], DemoJob] = {}
    while time.monotonic() < deadline:
        sweep = time.monotonic() >= next_sweep
        if sweep:
            next_sweep = time.monotonic() + SWEEP_SECONDS
        # One strongly consistent batch read of the jobs in the approval stage, not one read per job.
        running = watched(jobs, lambda job_id: bool(outbox.mails(job_id)), sweep)
        progress = repo.progress([j.job_id for j in running])
        for job in running:
            if job.job_id not in progress:
                continue
            status, notified = progress[job.job_id]
            job.status = status.value
            if job.acted or status != JobStatus.PENDING_APPROVAL or not notified:
                continue
            if job.plan == APPROVE:
                decision = deciders.submit(api.approve, job.job_id, reason="demo: looks right")
            elif job.plan == REJECT:
                mails = rt.outbox.mails(job.job_id)
                if not mails:
                    continue  # the e-mail is on its way
                decision = deciders.submit(api.review, mails[-1].review_link, "reject", "demo: wrong month")
            else:
                job.acted = True
                continue
            calls[job.workflow] += 1
            job.acted = True
            decisions[decision] = job
        _answered(decisions)
        counts = Counter(j.status for j in jobs)
        line = "  ".join(f"{status} {n}" for status, n in sorted(counts.items()))
        if line != shown:
            # On a terminal the line is rewritten in place; in a log, each change is one line.
            out.write(f"\r  progress: {line:<90}" if tty else f"  progress: {line}\n")
            out.flush()
            shown = line
        if all(j.status in _TERMINAL for j in jobs):
            break
        if advance_clock and not advanced and _only_expiries_wait(jobs):
            moved.enter_context(clock.shifted(approval_timeout + 1))
            advanced = True
        time.sleep(0.5)
    moved.close()
    deciders.shutdown(wait=True)
    _answered(decisions)
    if tty:
        out.write("\n")
    return calls


def _answered(decisions: dict[Future[Any], DemoJob]) -> None:
    """Take the decisions that have been answered; a refused one is noted on its job."""
    for decision in [d for d in decisions if d.done()]:
        job = decisions.pop(decision)
        job.answered = True
        response = decision.result()  # a failed request fails the demo, as it would have one by one
        if response.status != 200:
            job.note = f"decision answered {response.status}: {response.text[:120]}"


def _describe_jobs(rt: LocalRuntime, jobs: list[DemoJob]) -> None:
    found_jobs = rt.jobs().find_many([j.job_id for j in jobs])
    for job in jobs:
        found = found_jobs.get(job.job_id)
        if found is None:
            continue
        job.status = found.status.value
        job.rows = found.counts.get("rows", 0)
        job.valid = found.counts.get("valid", 0)
        job.rejected = found.counts.get("rejected", 0)
        job.outputs = dict(found.outputs)
        if found.error:
            job.note = f"{found.error.get('code')}: {found.error.get('message')}"


def _parity(rt: LocalRuntime, jobs: list[DemoJob]) -> list[dict[str, Any]]:
    """For each file published by both pipelines: are records and rejects byte-identical?"""
    if len(rt.workflows) < 2:
        return []
    s3 = rt.client("s3")
    results = []
    for name in sorted({j.file for j in jobs}):
        pair = [j for j in jobs if j.file == name and j.status == JobStatus.COMPLETED.value]
        if len(pair) != len(rt.workflows):
            continue
        contents: list[dict[str, bytes]] = []
        for job in pair:
            outputs = job.outputs
            bucket = rt.output_bucket(job.workflow)
            contents.append(
                {
                    part: s3.get_object(Bucket=bucket, Key=outputs[part])["Body"].read()
                    for part in ("records", "rejects")
                }
            )
        differing = [part for part in ("records", "rejects") if contents[0][part] != contents[1][part]]
        results.append(
            {
                "file": name,
                "identical": not differing,
                "records_bytes": len(contents[0]["records"]),
                "rejects_bytes": len(contents[0]["rejects"]),
                "detail": ", ".join(differing) or "records and rejects identical",
            }
        )
    return results


def _print_jobs(jobs: list[DemoJob], say: Any) -> None:
    say("")
    header = f"{'pipeline':<9} {'file':<13} {'plan':<8} {'status':<17} {'rows':>6} {'valid':>6}"
    say(f"{header} {'rejected':>8}  ok")
    for j in jobs:
        mark = "yes" if j.as_expected else f"NO (expected {j.expected})"
        say(
            f"{j.workflow:<9} {j.file:<13} {j.plan:<8} {j.status:<17} {j.rows:>6} {j.valid:>6} "
            f"{j.rejected:>8}  {mark}{'  ' + j.note if j.note else ''}"
        )


def _print_parity(parity: list[dict[str, Any]], say: Any) -> None:
    if not parity:
        return
    say("")
    say("Parity (same file through both pipelines):")
    for p in parity:
        verdict = "identical" if p["identical"] else "DIFFERENT"
        say(
            f"  {p['file']:<13} records {p['records_bytes']:>7} B, rejects {p['rejects_bytes']:>6} B: "
            f"{verdict}"
        )


def _print_mail(rt: LocalRuntime, jobs: list[DemoJob], say: Any) -> None:
    say("")
    say(f"E-mails sent to reviewers are in {rt.root / 'outbox'} ({len(list(rt.root.glob('outbox/*.txt')))})")
