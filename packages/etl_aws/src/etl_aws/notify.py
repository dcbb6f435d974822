"""The e-mail a reviewer receives (through SNS): what arrived, what was rejected, and the review link.

The file name is the uploader's text, inside an e-mail reviewers trust: an S3 key may hold line breaks,
control characters, Unicode line separators or bidirectional overrides, enough to forge lines of the
message. It is shown quoted, every such character escaped (a newline as backslash-n, U+202E as
backslash-u202e), so it can never be taken for the e-mail's own text.
"""

from __future__ import annotations

import unicodedata
from typing import Any
from urllib.parse import quote

from etl_aws import clients

# SNS Publish: "Subjects must be UTF-8 text with no line breaks or control characters, and less than 100
# characters long" (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html); for e-mail, SNS replaces
# a subject holding control or non-ASCII characters with an error text (https://docs.aws.amazon.com/
# prometheus/latest/userguide/AMP-alertmanager-receiver-validation-truncation.html). So: printable ASCII,
# at most 99 characters.
MAX_SUBJECT_CHARS = 99
_SUBJECT_PREFIX = "[CSV ETL] Approval needed: "
_REMINDER_PREFIX = "[CSV ETL] Reminder, approval needed: "
_ELLIPSIS = "..."
# Unicode categories never shown as is: controls, format characters (bidi overrides, zero-width joiners),
# line and paragraph separators, surrogates, private use and unassigned code points.
_ESCAPED_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\", '"': '\\"'}
# "What changed" lines quote column names, the uploader's text too: each line is escaped and cut, and there
# are at most 8 (etl_core.profile.describe_changes), so the message stays far under SNS's 256 KB.
MAX_CHANGE_LINE_CHARS = 200


def _escaped(char: str, ascii_only: bool) -> str:
    """One character as the e-mail shows it: itself, or an escape that cannot be mistaken for text."""
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    code = ord(char)
    if unicodedata.category(char) in _ESCAPED_CATEGORIES or (ascii_only and code > 0x7E):
        if code <= 0xFF:
            return f"\\x{code:02x}"
        return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
    return char


def quoted_name(name: str, ascii_only: bool = False, max_chars: int | None = None) -> str:
    """`name` in double quotes, control and format characters escaped (and non-ASCII too when
    `ascii_only`), cut to at most `max_chars` characters on an escape boundary, "..." marking the cut."""
    parts = [_escaped(c, ascii_only) for c in name]
    text = '"' + "".join(parts) + '"'
    if max_chars is None or len(text) <= max_chars:
        return text
    room = max_chars - 1 - len(_ELLIPSIS)  # the opening quote and the marker
    kept: list[str] = []
    for part in parts:
        if room < len(part):
            break
        kept.append(part)
        room -= len(part)
    return '"' + "".join(kept) + _ELLIPSIS


def _change_line(line: str) -> str:
    """One line of the change summary, control and format characters escaped, cut to a bounded length."""
    text = "".join(c if c in '"\\' else _escaped(c, ascii_only=False) for c in line)
    return text if len(text) <= MAX_CHANGE_LINE_CHARS else text[: MAX_CHANGE_LINE_CHARS - 3] + _ELLIPSIS


def subject_for(file_name: str, prefix: str = _SUBJECT_PREFIX) -> str:
    """An e-mail subject SNS accepts for any file name: printable ASCII, under 100 characters."""
    return prefix + quoted_name(file_name, ascii_only=True, max_chars=MAX_SUBJECT_CHARS - len(prefix))


def reminder_message(
    job_id: str, file_name: str, expires_at: str, approvals: list[str], required: int
) -> tuple[str, str]:
    """Subject and body of the reminder sent before a job's approval expires. No link and no token: the
    review link is in the first e-mail (its subject is quoted), and only its hash is stored."""
    lines = [
        f"A file still waits for a decision: {quoted_name(file_name)}",
        "",
        f"Job:       {job_id}",
        f"Expires:   {expires_at} (nothing is published if no decision is made by then)",
    ]
    if required > 1:
        lines.append(
            f"Approvals: {len(approvals)} of {required}"
            + (f" (by {', '.join(approvals)})" if approvals else "")
        )
    lines += [
        "",
        f"Reviewers: use the link in the e-mail {subject_for(file_name)!r}.",
        f"Operators with IAM access: etl jobs approve {job_id} (or reject, with a reason).",
    ]
    return subject_for(file_name, _REMINDER_PREFIX), "\n".join(lines)


def review_link(api_url: str, job_id: str, token: str) -> str:
    return f"{api_url.rstrip('/')}/review/{quote(job_id)}?token={quote(token)}"


_REPLACES = "Request {generation} for this file: this link replaces the earlier ones (they no longer work)."


def approval_message(
    job_id: str,
    file_name: str,
    counts: dict[str, int],
    reasons: dict[str, int],
    api_url: str,
    token: str,
    expires_at: str,
    changes: list[str] | None = None,
    generation: int = 1,
    recipient: str | None = None,
    approvals_required: int = 1,
) -> tuple[str, str]:
    """Subject and body. Carries the review token (that is its purpose) but no callback id or task token.

    A `generation` over 1 (approval requested again) says that this link replaces the earlier ones.
    `recipient`: the named reviewer the link belongs to (their decisions are recorded under it)."""
    top = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    lines = [f"A file is waiting for your approval: {quoted_name(file_name)}", ""]
    if recipient:
        lines += [f"This link is yours ({recipient}): a decision through it is recorded under your address."]
        if approvals_required > 1:
            lines += [f"The file is published after {approvals_required} different reviewers approve it."]
        lines += [""]
    lines += [
        f"Job:       {job_id}",
        f"Rows:      {counts.get('rows', 0):,}",
        f"Valid:     {counts.get('valid', 0):,}",
        f"Rejected:  {counts.get('rejected', 0):,}",
    ]
    if top:
        lines += ["", "Top reject reasons:"] + [f"  {code}: {n:,}" for code, n in top]
    if changes:
        lines += ["", "What changed since the last published version:"]
        lines += ["  " + _change_line(line) for line in changes]
    lines += [
        "",
        "Review, then approve or reject (single-use link, valid until " + expires_at + "):",
        review_link(api_url, job_id, token),
        *([_REPLACES.format(generation=generation)] if generation > 1 else []),
        "",
        "Operators with IAM access can also decide through the API:",
        f"  POST {api_url.rstrip('/')}/jobs/{job_id}/approve",
        f'  POST {api_url.rstrip("/")}/jobs/{job_id}/reject   (body: {{"reason": "..."}})',
        "",
        "Nothing is published until the file is approved.",
    ]
    return subject_for(file_name), "\n".join(lines)


def publish(topic_arn: str, subject: str, body: str, attributes: dict[str, str] | None = None) -> str:
    sns: Any = clients.client("sns")
    message_attributes = {k: {"DataType": "String", "StringValue": v} for k, v in (attributes or {}).items()}
    response = sns.publish(
        TopicArn=topic_arn, Subject=subject, Message=body, MessageAttributes=message_attributes
    )
    return response["MessageId"]
