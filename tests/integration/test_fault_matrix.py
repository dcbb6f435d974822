"""At-least-once delivery, exhaustively: every AWS call each function makes in an approved workflow, failed
in each of the ways AWS fails calls, on both orchestrators; the invariants hold after every run.

A clean run is recorded first (which function makes which call, in order). Then, for each recorded call
and each fault kind, a fresh job runs with that one call failing on every attempt botocore makes, so the
failure reaches our code: a `transient` 5xx, a `throttle`, or a `lost_response` (the request takes effect
each time, the answer never arrives). The orchestrator retries the step, the starter's batch is delivered
again, the reviewer repeats a decision answered 503 — as SQS, the orchestrators and people do. Invariants:

- the job ends COMPLETED (the one failure window is always recovered from);
- nothing of a job that is not COMPLETED is under processed/; a COMPLETED job has exactly one published
  copy (three objects, staged outputs removed), its rows conserved (records + rejects = rows), its source
  archived and the upload's version removed;
- the decision is recorded once (one APPROVED entry in the history) and delivered: nothing is lost or
  applied twice.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from etl_aws import approval, clients, config, identity, starter
from etl_aws import contract as C
from etl_aws.errors import TransientError
from etl_aws.jobs import JobsRepository
from etl_aws.layout import OUTPUT_FILES
from etl_aws.models import JobStatus, ObjectRef
from etl_local.calls import RECORDER, RecordedCall
from etl_local.faults import INJECTOR, Fault, Rule, attempts
from etl_local.metering import attributed_to
from etl_local.resources import env_for
from tests.integration import sfn_harness
from tests.integration.durable_harness import ORCHESTRATOR_ALIAS, DurableHarness, wait_for
from tests.integration.etl_aws_support import csv_bytes, objects, upload, versions
from tests.integration.sfn_harness import SfnPipeline, s3_event, sqs_event

pytestmark = pytest.mark.slow

sfn = sfn_harness.sfn
sfn_factory = sfn_harness.sfn_factory

KINDS = (Fault.TRANSIENT, Fault.THROTTLE, Fault.LOST_RESPONSE)
BODY = csv_bytes(rows=40, bad_ratio=0.1)
OPERATOR = "arn:aws:iam::123456789012:user/ops"


@dataclass(frozen=True)
class Site:
    """The `nth` call (0-based) of `operation` on `service` made by `function` in a clean run."""

    function: str
    service: str
    operation: str
    nth: int

    def rule(self, kind: Fault) -> Rule:
        return Rule(
            self.service, self.operation, kind, skip=self.nth, times=attempts(), function=self.function
        )

    def __str__(self) -> str:
        return f"{self.function}:{self.service}.{self.operation}#{self.nth}"


def fresh_clients() -> None:
    """Each run starts with new clients: botocore's retry quota (a token bucket per client, drained by
    retried errors, https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html) would
    otherwise carry one run's faults into the next, as it would in one long-lived process."""
    clients.reset()


def sites(calls: list[RecordedCall]) -> list[Site]:
    """Each request the functions made in a clean run as a site (the recorder leaves the test's own out)."""
    seen: Counter[tuple[str, str, str]] = Counter()
    found = []
    for call in calls:
        key = (call.function, call.service_id, call.operation)
        found.append(Site(*key, seen[key]))
        seen[key] += 1
    return found


@pytest.fixture(autouse=True)
def _clean_injector(no_backoff: list[float]) -> Iterator[None]:
    INJECTOR.clear()
    yield
    INJECTOR.clear()


# ---- one workflow, start to end, as SQS, the orchestrator and a reviewer drive it ----------------------


def decide_until_delivered(job_id: str) -> None:
    """The reviewer approves; a 503 (TransientError) is answered by approving again, as the API says."""
    for _ in range(10):
        try:
            with attributed_to("approval-api"):
                approval.decide(job_id, True, OPERATOR, "totals match", via="iam")
            return
        except TransientError:
            continue
    raise AssertionError(f"the decision on {job_id} was never accepted")


def deliver_batch(invoke: Callable[[dict[str, Any]], dict[str, Any]], ref: ObjectRef) -> None:
    """SQS delivers the notification until the starter stops reporting it failed."""
    event = sqs_event(s3_event(ref))
    for _ in range(5):
        if not invoke(event)["batchItemFailures"]:
            return
    raise AssertionError("the starter kept failing the message")


def check_invariants(aws: Any, workflow: str, job_id: str, ref: ObjectRef, where: str) -> None:
    repo = JobsRepository(aws.resources["jobs_table"], aws.session.resource("dynamodb"))
    job = repo.get(job_id)
    out = aws.output_bucket(workflow)
    published = objects(aws, out, f"{C.PROCESSED_PREFIX}{job_id}/")
    assert job.status == JobStatus.COMPLETED, f"{where}: job ended {job.status} {job.error}"
    assert sorted(published) == sorted(f"{C.PROCESSED_PREFIX}{job_id}/{n}" for n in OUTPUT_FILES), where
    assert objects(aws, out, f"{C.STAGING_PREFIX}{job_id}/") == {}, where
    records = published[f"{C.PROCESSED_PREFIX}{job_id}/{C.RECORDS_FILE}"].splitlines()
    rejects = published[f"{C.PROCESSED_PREFIX}{job_id}/{C.REJECTS_FILE}"].splitlines()
    manifest = json.loads(published[f"{C.PROCESSED_PREFIX}{job_id}/{C.MANIFEST_FILE}"])
    assert (len(records), len(rejects)) == (job.counts["valid"], job.counts["rejected"]), where
    assert job.counts["valid"] + job.counts["rejected"] == job.counts["rows"] == manifest["counts"]["rows"]
    assert objects(aws, ref.bucket, f"{C.ARCHIVE_PREFIX}{job_id}/") == {
        f"{C.ARCHIVE_PREFIX}{job_id}/{ref.file_name}": BODY
    }, where
    assert ref.version_id not in versions(aws, ref.bucket, ref.key), where
    assert [h.status for h in job.history].count(JobStatus.APPROVED) == 1, where
    assert job.decision is not None
    assert job.decision.approved is True, where


def check_nothing_published_elsewhere(aws: Any, workflow: str, completed: set[str]) -> None:
    """Across every run: only COMPLETED jobs have anything under processed/."""
    keys = objects(aws, aws.output_bucket(workflow), C.PROCESSED_PREFIX)
    owners = {key.split("/")[1] for key in keys}
    assert owners <= completed, f"published without being COMPLETED: {sorted(owners - completed)}"


def run_matrix(
    aws: Any, workflow: str, kind: Fault, run: Callable[[str], tuple[str, ObjectRef]], functions: int
) -> None:
    """Record a clean run, then fail each of its calls in a run of its own; check every run."""
    with RECORDER.recording() as calls:
        clean, _ = run("uploads/clean.csv")
    matrix = sites(calls)
    assert len({s.function for s in matrix}) >= functions, matrix

    completed, failures = {clean}, []
    for i, site in enumerate(matrix):
        fresh_clients()
        try:
            with INJECTOR.injecting(site.rule(kind)) as (rule,):
                job_id, ref = run(f"uploads/run-{i}.csv")
            assert rule.fired == attempts(), f"{site}: the fault fired {rule.fired} times"
            check_invariants(aws, workflow, job_id, ref, f"{kind} at {site}")
            completed.add(job_id)
        except (AssertionError, TimeoutError) as exc:
            failures.append(f"{kind} at {site}: {type(exc).__name__}: {exc}")
    assert not failures, "\n".join(failures)
    check_nothing_published_elsewhere(aws, workflow, completed)
    print(f"{workflow} × {kind}: {len(matrix)} sites, all invariants held")


# ---- durable ---------------------------------------------------------------------------------------------


@pytest.fixture
def durable(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[DurableHarness]:
    from etl_durable.orchestrator import handler

    harness = DurableHarness(handler, monkeypatch, skip_time=True)
    yield harness
    harness.close()


def run_durable(aws: Any, harness: DurableHarness, key: str) -> tuple[str, ObjectRef]:
    ref = upload(aws, key, BODY)
    job_id = identity.job_id(ref)
    cfg = config.DurableStarterSettings.from_env(
        env_for(aws.resources, "durable-starter", orchestrator_arn=ORCHESTRATOR_ALIAS)
    )

    def invoke_starter(event: dict[str, Any]) -> dict[str, Any]:
        with config.using(cfg), attributed_to("durable-starter"):
            return starter.handle_batch(event, cfg)

    deliver_batch(invoke_starter, ref)
    repo = JobsRepository(aws.resources["jobs_table"], aws.session.resource("dynamodb"))
    wait_for(
        lambda: (j := repo.find(job_id)) and j.status == JobStatus.PENDING_APPROVAL and j.notified_at, 60
    )
    decide_until_delivered(job_id)
    harness.result(harness.execution_arn(job_id), timeout=30)
    return job_id, ref


@pytest.mark.parametrize("kind", KINDS)
def test_durable_workflow_survives_a_fault_at_every_call(
    aws: Any, durable: DurableHarness, kind: Fault
) -> None:
    # the starter, the orchestrator and the approval service
    run_matrix(aws, C.DURABLE, kind, lambda key: run_durable(aws, durable, key), functions=3)


# ---- Step Functions -------------------------------------------------------------------------------------


def run_sfn(pipeline: SfnPipeline, key: str) -> tuple[str, ObjectRef]:
    ref = pipeline.upload(BODY, key)
    job_id = identity.job_id(ref)
    deliver_batch(pipeline.invoke_starter, ref)
    assert pipeline.wait_until_waiting_or_done(job_id, 60) is not None, f"{job_id} ended before its approval"
    decide_until_delivered(job_id)
    pipeline.wait_for_end(job_id, 30)
    return job_id, ref


@pytest.mark.parametrize("kind", KINDS)
def test_sfn_workflow_survives_a_fault_at_every_call(aws: Any, sfn: SfnPipeline, kind: Fault) -> None:
    # the starter, five task functions and the approval service
    run_matrix(aws, C.STEP_FUNCTIONS, kind, lambda key: run_sfn(sfn, key), functions=7)
