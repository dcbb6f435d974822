"""`etl demo`'s watcher: what one round reads from the jobs table must not grow with the jobs queued."""

from __future__ import annotations

from etl_ops.demo import APPROVE, DemoJob, watched


def _jobs(count: int) -> list[DemoJob]:
    return [DemoJob("durable", f"batch-{i}.csv", f"job-{i}", APPROVE) for i in range(count)]


def test_round_between_sweeps_reads_only_jobs_mailed_or_decided() -> None:
    jobs = _jobs(1000)
    mailed = {"job-3", "job-7"}
    jobs[9].acted = True
    jobs[7].status = "COMPLETED"  # e-mailed, then ended: nothing left to read

    found = watched(jobs, lambda job_id: job_id in mailed, sweep=False)

    assert [j.job_id for j in found] == ["job-3", "job-9"]


def test_sweep_reads_every_unfinished_job() -> None:
    jobs = _jobs(5)
    jobs[0].status = "FAILED"

    found = watched(jobs, lambda _job_id: False, sweep=True)

    assert [j.job_id for j in found] == ["job-1", "job-2", "job-3", "job-4"]
