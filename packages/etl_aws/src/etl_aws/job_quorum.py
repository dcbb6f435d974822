"""N-of-M approvals on the jobs table: each approval is either recorded or, when it completes the quorum,
the decision itself, in one conditional write.

Two writes are tried, each under the job's `approvals` map: the *deciding* one (SET the approval and the
decision, only if at least `required - 1` others are there) and the *recording* one (SET the approval only,
only if fewer are there). Exactly one of them matches a given map, so two concurrent approvals can neither
both deliver nor both be lost; a reviewer's approval is a key of the map, so a repeat never counts twice.
"""

from __future__ import annotations

from typing import Any

from etl_aws import clock
from etl_aws.dynamo import set_clauses
from etl_aws.job_records import Job
from etl_aws.models import Decision, JobStatus

# A refused pair of writes is read again and retried: another approval changed the map in between.
QUORUM_ATTEMPTS = 5


class QuorumWrites:
    """Mixed into JobsRepository: the writes of an approval that needs more than one reviewer."""

    def record_approval(self, job_id: str, decision: Decision, required: int) -> tuple[Job, bool]:
        """Record `decision.reviewer`'s approval; it decides the job when it is the `required`-th distinct.

        Returns (job, created): created is True when this call recorded the approval (whether or not it
        decided). A repeat by the same reviewer returns (job, False). Refusals are raised as by
        `record_decision` (DecisionConflict, DecisionGone, NotAwaitingDecision, JobNotFound)."""
        for _ in range(QUORUM_ATTEMPTS):
            now = clock.now_iso()
            for deciding in (True, False):
                item = self._conditional_update(  # type: ignore[attr-defined]
                    job_id, *_approval_write(decision, required, now, deciding)
                )
                if item is not None:
                    return Job.from_item(item), True
            job = self.get(job_id)  # type: ignore[attr-defined]
            if job.decision is not None or job.status != JobStatus.PENDING_APPROVAL:
                return self._explain_refused_decision(job_id, decision, now), False  # type: ignore[attr-defined]
            if decision.reviewer in job.approvals:
                return job, False
            if (job.approval_expires_at or "") <= now:
                return self._explain_refused_decision(job_id, decision, now), False  # type: ignore[attr-defined]
        raise RuntimeError(f"job {job_id}: approvals kept changing over {QUORUM_ATTEMPTS} attempts")


def _approval_write(
    decision: Decision, required: int, now: str, deciding: bool
) -> tuple[str, str, dict[str, Any], dict[str, str]]:
    """UpdateExpression, ConditionExpression, values and names of one of the two writes."""
    fields: dict[str, Any] = {"updated_at": now}
    if deciding:
        fields |= {"decision": decision.model_dump(mode="json"), "status": JobStatus.APPROVED.value}
    names, values, sets = set_clauses(fields)
    names |= {"#status": "status", "#approvals": "approvals", "#reviewer": decision.reviewer}
    values |= {
        ":pending": JobStatus.PENDING_APPROVAL.value,
        ":now": now,
        ":others": required - 1,
        ":approval": {"at": decision.decided_at or now, "via": decision.via},
    }
    update = "SET " + ", ".join([*sets, "#approvals.#reviewer = :approval"])
    if deciding:
        names["#history"] = "history"
        values[":h"] = [{"status": JobStatus.APPROVED.value, "at": now}]
        update += ", #history = list_append(#history, :h)"
    condition = (
        "#status = :pending AND attribute_not_exists(decision) AND approval_expires_at > :now"
        " AND attribute_exists(#approvals) AND attribute_not_exists(#approvals.#reviewer) AND "
        + ("size(#approvals) >= :others" if deciding else "size(#approvals) < :others")
    )
    return update, condition, values, names
