"""The review e-mails of one job: one shared link, or one link per named reviewer (etl_aws.reviewers).

Each link carries a token of its own; only hashes are stored (the shared one as `review_token_hash`, the named
ones as `review_token_hashes`, keyed by reviewer), so a decision through a link names who made it.
"""

from __future__ import annotations

from typing import Any

from etl_aws import notify, tokens
from etl_aws.reviewers import RECIPIENT_ATTRIBUTE, ReviewPolicy

SHARED = ""  # the recipient key of the one shared link (no named reviewers)


def new_links(policy: ReviewPolicy) -> dict[str, str]:
    """Recipient → a fresh token: one per named reviewer, else one shared."""
    if not policy.named:
        return {SHARED: tokens.new_token()}
    return {reviewer: tokens.new_token() for reviewer in policy.reviewers}


def shared_hash(links: dict[str, str]) -> str | None:
    """The hash to store as the job's one review token (None with named reviewers)."""
    return tokens.hash_token(links[SHARED]) if SHARED in links else None


def stored_fields(policy: ReviewPolicy, links: dict[str, str]) -> dict[str, Any]:
    """What the job records besides the shared hash: nothing for a shared link (today's record)."""
    if not policy.named:
        return {}
    return {
        "review_token_hashes": {r: tokens.hash_token(t) for r, t in links.items()},
        "reviewers": list(policy.reviewers),
        "approvals_required": policy.approvals_required,
        "approvals": {},
    }


def attributes(job_id: str, recipient: str = SHARED) -> dict[str, str]:
    """Message attributes: the job, and the recipient a subscription's filter policy matches on."""
    return {"job_id": job_id} | ({RECIPIENT_ATTRIBUTE: recipient} if recipient else {})


def send(topic_arn: str, job_id: str, links: dict[str, str], message: dict[str, Any]) -> int:
    """Publish one e-mail per link (`message`: notify.approval_message's other arguments); the count."""
    for recipient, token in links.items():
        subject, body = notify.approval_message(
            job_id=job_id, token=token, recipient=recipient or None, **message
        )
        notify.publish(topic_arn, subject, body, attributes(job_id, recipient))
    return len(links)
