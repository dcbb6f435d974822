"""The e-mail a reviewer receives (through SNS): what arrived, what was rejected, and the review link."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from etl_aws import clients

_MAX_SUBJECT = 100


def review_link(api_url: str, job_id: str, token: str) -> str:
    return f"{api_url.rstrip('/')}/review/{quote(job_id)}?token={quote(token)}"


def approval_message(
    job_id: str,
    file_name: str,
    counts: dict[str, int],
    reasons: dict[str, int],
    api_url: str,
    token: str,
    expires_at: str,
) -> tuple[str, str]:
    """Subject and body. Carries the review token (that is its purpose) but no callback id or task token."""
    top = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    lines = [
        f"A file is waiting for your approval: {file_name}",
        "",
        f"Job:       {job_id}",
        f"Rows:      {counts.get('rows', 0):,}",
        f"Valid:     {counts.get('valid', 0):,}",
        f"Rejected:  {counts.get('rejected', 0):,}",
    ]
    if top:
        lines += ["", "Top reject reasons:"] + [f"  {code}: {n:,}" for code, n in top]
    lines += [
        "",
        "Review, then approve or reject (single-use link, valid until " + expires_at + "):",
        review_link(api_url, job_id, token),
        "",
        "Operators with IAM access can also decide through the API:",
        f"  POST {api_url.rstrip('/')}/jobs/{job_id}/approve",
        f'  POST {api_url.rstrip("/")}/jobs/{job_id}/reject   (body: {{"reason": "..."}})',
        "",
        "Nothing is published until the file is approved.",
    ]
    # SNS refuses a subject with line breaks or control characters, and S3 keys may hold them.
    printable_name = "".join(c if c.isprintable() else " " for c in file_name)
    subject = f"[CSV ETL] Approval needed: {printable_name}"
    if len(subject) > _MAX_SUBJECT:
        subject = subject[: _MAX_SUBJECT - 1] + "…"
    return subject, "\n".join(lines)


def publish(topic_arn: str, subject: str, body: str, attributes: dict[str, str] | None = None) -> str:
    sns: Any = clients.client("sns")
    message_attributes = {k: {"DataType": "String", "StringValue": v} for k, v in (attributes or {}).items()}
    response = sns.publish(
        TopicArn=topic_arn, Subject=subject, Message=body, MessageAttributes=message_attributes
    )
    return response["MessageId"]
