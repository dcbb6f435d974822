"""`etl demo`'s watcher: what one round reads from the jobs table must not grow with the jobs queued."""

from __future__ import annotations

from etl_ops.demo import APPROVE, EXPIRE, DemoJob, watched


def _jobs(count: int) -> list[DemoJob]:
    return [DemoJob("durable", f"batch-{i}.csv", f"job-{i}", APPROVE) for i in range(count)]


def test_round_between_sweeps_reads_only_jobs_mailed_or_decided() -> None:
    jobs = _jobs(1000)
    mailed = {"job-3", "job-7", "job-9"}
    jobs[9].acted = jobs[9].answered = True
    jobs[7].status = "COMPLETED"  # e-mailed, then ended: nothing left to read

    found = watched(jobs, lambda job_id: job_id in mailed, sweep=False)

    assert [j.job_id for j in found] == ["job-3", "job-9"]


def test_round_skips_jobs_whose_decision_is_still_queued() -> None:
    """Hundreds of jobs can wait for a free decider at once: reading each of them every round made the
    demo's own reads grow with the backlog (quadratic over a run)."""
    jobs = _jobs(600)
    for job in jobs:
        job.acted = True  # e-mailed, seen waiting, decision submitted
    jobs[5].answered = True  # only this decision has been answered

    found = watched(jobs, lambda _job_id: True, sweep=False)

    assert [j.job_id for j in found] == ["job-5"]


def test_round_reads_jobs_left_to_expire() -> None:
    jobs = _jobs(3)
    jobs[1].plan, jobs[1].acted = EXPIRE, True  # nobody decides: only its status shows it ended

    found = watched(jobs, lambda _job_id: False, sweep=False)

    assert [j.job_id for j in found] == ["job-1"]


def test_sweep_reads_every_unfinished_job() -> None:
    jobs = _jobs(5)
    jobs[0].status = "FAILED"

    found = watched(jobs, lambda _job_id: False, sweep=True)

    assert [j.job_id for j in found] == ["job-1", "job-2", "job-3", "job-4"]
