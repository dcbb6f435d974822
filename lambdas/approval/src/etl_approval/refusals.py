"""What the approval API answers to each refusal: its HTTP status, and the title and text a reviewer's page
shows (JSON clients get the error's code and message instead)."""

from __future__ import annotations

from etl_aws.approval import InvalidCursor, NotAllowed, ReasonRequired, ReviewLinkInvalid, ReviewLinkUsed
from etl_aws.errors import (
    DecisionConflict,
    DecisionGone,
    InvalidTransition,
    JobCancelled,
    JobNotFound,
    NotAwaitingDecision,
    PipelineError,
    ReviewLinkSuperseded,
    StagedDataChanged,
    TransientError,
)
from etl_aws.unpublish import NotPublished


class Unauthenticated(PipelineError):
    """An operator route reached without an IAM identity (the gateway should never let one through)."""

    code = "forbidden"


# Status and, for the review page, the title and text a reviewer sees, for each refusal.
REFUSALS: dict[type[PipelineError], tuple[int, str, str]] = {
    Unauthenticated: (403, "Not allowed", "This route needs IAM authentication."),
    ReviewLinkInvalid: (
        403,
        "This link is not valid",
        "Open the complete link from the most recent e-mail about this file.",
    ),
    ReasonRequired: (400, "A reason is needed", "Go back and say why the file is rejected."),
    NotAllowed: (403, "Not allowed", "This decision is not yours to make."),
    InvalidCursor: (400, "Bad request", "The cursor is not valid."),
    JobNotFound: (404, "Not found", "There is no such job."),
    ReviewLinkUsed: (409, "Already decided", "This link has already been used."),
    StagedDataChanged: (
        409,
        "The data changed",
        "The staged data changed since this page was shown: nothing was decided. Reload the page, check "
        "it again and decide.",
    ),
    DecisionConflict: (409, "Already decided", "A different decision was recorded first."),
    NotAwaitingDecision: (409, "Not ready", "This file is not waiting for a decision yet."),
    InvalidTransition: (409, "Not possible", "The job is not in a state that allows this."),
    NotPublished: (409, "Not published", "Only a COMPLETED job's published output can be unpublished."),
    JobCancelled: (
        410,
        "This file was cancelled",
        "An operator cancelled this job: it no longer waits for a decision. Nothing was published.",
    ),
    ReviewLinkSuperseded: (
        410,
        "This link was superseded",
        "Approval of this file was requested again and a newer link was e-mailed: this link no longer "
        "decides anything. Open the link in the most recent e-mail about this file.",
    ),
    DecisionGone: (
        410,
        "This link has expired",
        "The time to decide on this file is over. Nothing was published.",
    ),
    TransientError: (
        503,
        "Please try again",
        "The decision is recorded but could not be delivered yet: submit the same decision again.",
    ),
}
