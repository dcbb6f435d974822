"""Who decided a job, as `etl jobs show` prints it: the decision, the approvals recorded so far (N-of-M),
the uploader, the reminder; and the timeline's approval step annotated with the reviewer."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from etl_ops.timeline import Timeline

# The step that waits for the decision, as each orchestrator names it.
APPROVAL_STEPS = ("approval", "RequestApproval")
_VIA = {"review_link": "review link", "iam": "IAM", "direct": "direct", "policy": "quality policy"}


def decided_by(decision: dict[str, Any]) -> str:
    """ "approved by ana@example.com (review link)"."""
    outcome = "approved" if decision.get("approved") else "rejected"
    via = _VIA.get(str(decision.get("via")), str(decision.get("via")))
    return f"{outcome} by {decision.get('reviewer', 'unknown')} ({via})"


def decision_lines(job: dict[str, Any]) -> list[str]:
    """The lines about reviewers and the decision (none for a job nobody decided or was asked about)."""
    lines = []
    decision = job.get("decision")
    if decision:
        reason = f": {decision['reason']}" if decision.get("reason") else ""
        lines.append(f"  decision {decided_by(decision)} at {decision.get('decided_at', '?')}{reason}")
    required = int(job.get("approvals_required") or 1)
    approvals = job.get("approvals") or {}
    if required > 1:
        who = ", ".join(f"{r} ({a.get('at', '?')})" for r, a in sorted(approvals.items()))
        lines.append(f"  approvals {len(approvals)} of {required}" + (f": {who}" if who else ""))
    if job.get("reviewers"):
        lines.append(f"  reviewers {', '.join(job['reviewers'])}")
    if job.get("uploaded_by"):
        lines.append(f"  uploaded by {job['uploaded_by']}")
    if job.get("reminded_at"):
        lines.append(f"  reminded {job['reminded_at']}")
    return lines


def annotate(timeline: Timeline, job: dict[str, Any]) -> Timeline:
    """The timeline with its approval step's note naming who decided."""
    decision = job.get("decision")
    if not decision:
        return timeline
    steps = tuple(
        dataclasses.replace(step, note="; ".join(filter(None, [step.note, decided_by(decision)])))
        if step.name in APPROVAL_STEPS
        else step
        for step in timeline.steps
    )
    return dataclasses.replace(timeline, steps=steps)
