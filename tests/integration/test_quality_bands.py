"""Quality bands on both orchestrators (durable testing SDK and Step Functions on moto): a pass the policy
publishes and a fail it rejects need no reviewer, a warn waits with its fired thresholds recorded, and the
approval timeout follows the dataset's on_timeout. Operations and transitions are counted per path."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from etl_aws import contract as C
from etl_aws import staging
from etl_aws.models import JobStatus
from etl_aws.policy_decisions import TIMEOUT_APPROVE_REASON, TIMEOUT_REJECT_REASON
from tests.integration.durable_harness import DurableHarness
from tests.integration.sfn_harness import APPROVE, SfnPipeline, run_sfn_job
from tests.integration.test_durable_orchestrator import (
    csv_bytes,
    decide,
    keys,
    repo,
    start,
    wait_pending,
)

pytest_plugins = ["tests.integration.sfn_harness"]

VERSION = "2026-12-06.1"
REVIEWER = f"policy:{VERSION}"
# csv_bytes(): 200 rows, 10 rejected (5 %).
POLICIES = json.dumps(
    {
        "version": VERSION,
        "datasets": {
            "uploads/clean": {"on_pass": "publish", "fail": {"max_reject_rate": 0.5}},
            "uploads/strict": {"fail": {"max_reject_rate": 0.01, "required_columns": ["id", "region"]}},
            "uploads/watched": {
                "on_pass": "publish",
                "warn": {"max_reject_rate": 0.01},
                "fail": {"max_reject_rate": 0.5},
            },
            "uploads/late-reject": {"on_timeout": "reject"},
            "uploads/late-approve": {
                "warn": {"max_reject_rate": 0.5},
                "on_timeout": "approve_if_policy_passes",
            },
            "uploads/late-warned": {
                "warn": {"max_reject_rate": 0.01},
                "on_timeout": "approve_if_policy_passes",
            },
        },
    }
)
DURABLE_DECIDED_BY_POLICY = ["extract", "transform", "load", "finalize"]
DURABLE_REVIEWED = ["extract", "transform", "load", "approval", "request-approval", "finalize"]
SFN_PUBLISHED = ["Extract", "Transform", "Load", "RequestApproval", "Decision", "Publish"]
SFN_DISCARDED = ["Extract", "Transform", "Load", "RequestApproval", "Decision", "Discard"]
SFN_TIMED_OUT = ["Extract", "Transform", "Load", "RequestApproval", "Expire"]


def _durable(handler: Any, monkeypatch: pytest.MonkeyPatch, timeout: int | None = None) -> DurableHarness:
    from etl_aws import config

    monkeypatch.setenv(C.ENV_DATASET_POLICIES, POLICIES)
    if timeout is not None:
        monkeypatch.setenv(C.ENV_APPROVAL_TIMEOUT, str(timeout))
    config.settings.cache_clear()
    return DurableHarness(handler, monkeypatch)


@pytest.fixture
def durable(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[DurableHarness]:
    from etl_durable.orchestrator import handler

    h = _durable(handler, monkeypatch)
    yield h
    h.close()


@pytest.fixture
def durable_fast_expiry(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[DurableHarness]:
    """An approval timeout of 2 s (the engine times callbacks out in real time)."""
    from etl_durable.orchestrator import handler

    h = _durable(handler, monkeypatch, timeout=2)
    yield h
    h.close()


# ---- durable ------------------------------------------------------------------------------------------


def test_durable_pass_is_published_by_the_policy_in_four_operations(
    aws: Any, durable: DurableHarness
) -> None:
    job_id, arn = start(aws, durable, "uploads/clean/a.csv", csv_bytes())

    result = durable.result(arn)

    assert result.execution_status.value == "SUCCEEDED"
    job = repo(aws).get(job_id)
    assert job.status == JobStatus.COMPLETED
    assert job.decision is not None
    assert (job.decision.approved, job.decision.reviewer, job.decision.via) == (True, REVIEWER, "policy")
    assert job.decision.staged == staging.hashes(job.staged)  # bound to the data the policy evaluated
    assert job.decision.staged
    assert job.policy is not None
    assert (job.policy.band, job.policy.action, job.policy.fired) == ("pass", "publish", ())
    assert job.notified_at is None  # nobody was asked
    assert [s.status for s in job.history][-3:] == [JobStatus.LOADED, JobStatus.APPROVED, JobStatus.COMPLETED]
    assert keys(aws, aws.output_bucket(C.DURABLE), "processed/")
    assert sorted(op.name for op in durable.operations(arn)) == sorted(DURABLE_DECIDED_BY_POLICY)


def test_durable_fail_is_rejected_with_the_reasons_nothing_published(
    aws: Any, durable: DurableHarness
) -> None:
    job_id, arn = start(aws, durable, "uploads/strict/a.csv", csv_bytes())

    result = durable.result(arn)

    assert result.execution_status.value == "SUCCEEDED"
    job = repo(aws).get(job_id)
    assert job.status == JobStatus.REJECTED
    assert job.decision is not None
    assert (job.decision.approved, job.decision.reviewer, job.decision.via) == (False, REVIEWER, "policy")
    assert "reject rate 5 % (10 of 200 rows) is over 1 %" in job.decision.reason
    assert "required column(s) missing: region" in job.decision.reason
    assert job.policy is not None
    assert job.policy.band == "fail"
    assert keys(aws, aws.output_bucket(C.DURABLE), "processed/") == []
    assert keys(aws, aws.raw_bucket(C.DURABLE)) == [f"archive/{job_id}/a.csv"]
    assert sorted(op.name for op in durable.operations(arn)) == sorted(DURABLE_DECIDED_BY_POLICY)


def test_durable_warn_waits_for_a_reviewer_with_the_fired_threshold(
    aws: Any, durable: DurableHarness
) -> None:
    job_id, arn = start(aws, durable, "uploads/watched/a.csv", csv_bytes())
    wait_pending(aws, job_id)

    waiting = repo(aws).get(job_id)
    decide(durable, arn, approved=True)

    assert waiting.policy is not None
    assert (waiting.policy.band, waiting.policy.action) == ("warn", "review")
    assert [(f.band, f.threshold) for f in waiting.policy.fired] == [("warn", "max_reject_rate")]
    assert durable.result(arn).execution_status.value == "SUCCEEDED"
    assert repo(aws).get(job_id).status == JobStatus.COMPLETED
    assert sorted(op.name for op in durable.operations(arn)) == sorted(DURABLE_REVIEWED)


@pytest.mark.parametrize(
    ("dataset", "status", "reason"),
    [
        ("late-reject", JobStatus.REJECTED, TIMEOUT_REJECT_REASON),
        ("late-approve", JobStatus.COMPLETED, TIMEOUT_APPROVE_REASON),
        ("late-warned", JobStatus.EXPIRED, None),
    ],
)
def test_durable_timeout_follows_the_datasets_on_timeout(
    aws: Any, durable_fast_expiry: DurableHarness, dataset: str, status: JobStatus, reason: str | None
) -> None:
    job_id, arn = start(aws, durable_fast_expiry, f"uploads/{dataset}/a.csv", csv_bytes())

    assert durable_fast_expiry.result(arn).execution_status.value == "SUCCEEDED"

    job = repo(aws).get(job_id)
    assert job.status == status
    assert (job.decision.reason if job.decision else None) == reason
    published = keys(aws, aws.output_bucket(C.DURABLE), "processed/")
    assert bool(published) == (status == JobStatus.COMPLETED)
    assert sorted(op.name for op in durable_fast_expiry.operations(arn)) == sorted(DURABLE_REVIEWED)


# ---- Step Functions ------------------------------------------------------------------------------------


@pytest.fixture
def sfn_policies(sfn_factory: Callable[..., SfnPipeline]) -> SfnPipeline:
    return sfn_factory(dataset_policies=POLICIES)


def test_sfn_pass_is_published_by_the_policy_in_six_transitions(sfn_policies: SfnPipeline) -> None:
    run = run_sfn_job(sfn_policies, csv_bytes(), key="uploads/clean/a.csv", decision=None)

    assert run.status == "SUCCEEDED"
    assert run.job.status == JobStatus.COMPLETED
    assert run.job.decision is not None
    assert (run.job.decision.reviewer, run.job.decision.via) == (REVIEWER, "policy")
    assert run.job.notified_at is None
    assert run.states_entered() == SFN_PUBLISHED
    assert run.transitions() == 6
    assert sfn_policies.keys(sfn_policies.output_bucket, "processed/")
    run.assert_payloads_within()


def test_sfn_fail_is_rejected_with_the_reasons_in_six_transitions(sfn_policies: SfnPipeline) -> None:
    run = run_sfn_job(sfn_policies, csv_bytes(), key="uploads/strict/a.csv", decision=None)

    assert run.status == "SUCCEEDED"
    assert run.job.status == JobStatus.REJECTED
    assert run.job.decision is not None
    assert run.job.decision.reviewer == REVIEWER
    assert "reject rate 5 %" in run.job.decision.reason
    assert run.states_entered() == SFN_DISCARDED
    assert run.transitions() == 6
    assert sfn_policies.keys(sfn_policies.output_bucket, "processed/") == []
    assert sfn_policies.keys(sfn_policies.raw_bucket) == [f"archive/{run.job_id}/a.csv"]


def test_sfn_warn_waits_for_a_reviewer_in_six_transitions(sfn_policies: SfnPipeline) -> None:
    run = run_sfn_job(sfn_policies, csv_bytes(), key="uploads/watched/a.csv", decision=APPROVE)

    assert run.job.status == JobStatus.COMPLETED
    assert run.job.decision is not None
    assert run.job.decision.reviewer == APPROVE.reviewer
    assert run.job.policy is not None
    assert run.job.policy.band == "warn"
    assert run.states_entered() == SFN_PUBLISHED
    assert run.transitions() == 6


@pytest.mark.parametrize(
    ("dataset", "status", "reason"),
    [
        ("late-reject", JobStatus.REJECTED, TIMEOUT_REJECT_REASON),
        ("late-approve", JobStatus.COMPLETED, TIMEOUT_APPROVE_REASON),
        ("late-warned", JobStatus.EXPIRED, None),
    ],
)
def test_sfn_timeout_follows_the_datasets_on_timeout(
    sfn_factory: Callable[..., SfnPipeline], dataset: str, status: JobStatus, reason: str | None
) -> None:
    sfn = sfn_factory(approval_timeout_seconds=2, dataset_policies=POLICIES)

    run = run_sfn_job(sfn, csv_bytes(), key=f"uploads/{dataset}/a.csv", decision=None)

    assert run.status == "SUCCEEDED"
    assert run.job.status == status
    assert (run.job.decision.reason if run.job.decision else None) == reason
    assert bool(sfn.keys(sfn.output_bucket, "processed/")) == (status == JobStatus.COMPLETED)
    assert run.states_entered() == SFN_TIMED_OUT
    assert run.transitions() == 5


def test_durable_dataset_without_an_entry_waits_and_keeps_no_evaluation(
    aws: Any, durable: DurableHarness
) -> None:
    job_id, arn = start(aws, durable, "uploads/other/a.csv", csv_bytes())
    wait_pending(aws, job_id)

    waiting = repo(aws).get(job_id)
    decide(durable, arn, approved=True)

    assert waiting.policy is None
    assert durable.result(arn).execution_status.value == "SUCCEEDED"
    assert repo(aws).get(job_id).status == JobStatus.COMPLETED
    assert sorted(op.name for op in durable.operations(arn)) == sorted(DURABLE_REVIEWED)


# ---- the load step re-run after a crash ----------------------------------------------------------------


def test_load_rerun_after_a_crash_before_the_policy_decision_decides_once(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The LOADED write (with the evaluation) took effect, the process died before the decision: the
    re-run step records the decision from the stored evaluation and returns it; a third run returns it
    unchanged."""
    from etl_aws import policy_decisions, steps
    from etl_aws.policy import Policies
    from tests.integration.etl_aws_support import Crash, start_request, upload

    cfg = aws.settings(C.DURABLE, dataset_policies=Policies.from_json(POLICIES))
    ref = upload(aws, "uploads/clean/a.csv", csv_bytes())
    transformed = steps.transform(steps.extract(start_request(ref), cfg), cfg)
    real = policy_decisions.decide_at_load

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise Crash

    monkeypatch.setattr(policy_decisions, "decide_at_load", crash)
    with pytest.raises(Crash):
        steps.load(transformed, cfg)
    assert repo(aws).get(transformed.job_id).status == JobStatus.LOADED
    monkeypatch.setattr(policy_decisions, "decide_at_load", real)

    again = steps.load(transformed, cfg)
    third = steps.load(transformed, cfg)

    assert again.decided is not None
    assert again.decided.reviewer == REVIEWER
    assert third.decided == again.decided
    job = repo(aws).get(transformed.job_id)
    assert job.status == JobStatus.APPROVED
    assert [h.status for h in job.history].count(JobStatus.APPROVED) == 1
