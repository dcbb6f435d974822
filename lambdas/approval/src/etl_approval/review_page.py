"""The reviewer's pages: self-contained HTML (no external assets, no script), every value escaped.

The forms post to the page's own URL (`action=""`), which carries the token in its query string, so the
token is never written into a page. The only style sheet is inline and allowed by its hash.
"""

from __future__ import annotations

import base64
import hashlib
import html
from typing import Any

from etl_aws.approval import REVIEW_LINK_REVIEWER, ReviewView
from etl_aws.models import DecisionRecord
from etl_aws.policy import Evaluation

_CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#f5f6f8;color:#1d2330}
main{max-width:880px;margin:2rem auto;padding:1.5rem 2rem;background:#fff;border-radius:8px;
box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{font-size:1.35rem;margin:.2rem 0 1rem}h2{font-size:1.05rem;margin:1.5rem 0 .5rem}
.file{font-family:ui-monospace,Menlo,Consolas,monospace;word-break:break-all}
.muted{color:#5b6474}.counts{display:flex;gap:1rem;flex-wrap:wrap;margin:0;padding:0;list-style:none}
.counts li{background:#eef1f5;border-radius:6px;padding:.5rem .9rem}.counts b{display:block;font-size:1.2rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border:1px solid #d9dee6;padding:.3rem .5rem;text-align:left;vertical-align:top;word-break:break-word}
th{background:#eef1f5}.scroll{overflow-x:auto}
.actions{display:flex;gap:2rem;flex-wrap:wrap;margin-top:1.5rem}.actions form{flex:1;min-width:260px}
textarea{width:100%;box-sizing:border-box;min-height:4.5rem;font:inherit}
button{font:inherit;padding:.55rem 1.2rem;border:0;border-radius:6px;cursor:pointer;color:#fff}
.approve{background:#1d7f46}.reject{background:#b42318}
.notice{padding:.8rem 1rem;border-radius:6px;background:#eef1f5}
.ok{background:#e7f6ec}.bad{background:#fdecea}
""".strip()

_STYLE_HASH = base64.b64encode(hashlib.sha256(_CSS.encode()).digest()).decode()

CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)

PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

HTML_CONTENT_TYPE = "text/html; charset=utf-8"


def e(value: Any) -> str:
    """Escape any value for HTML text or a quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{e(title)}</title><style>{_CSS}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )


def _counts(counts: dict[str, int]) -> str:
    items = "".join(
        f"<li><b>{e(f'{counts.get(key, 0):,}')}</b>{e(label)}</li>"
        for key, label in (("rows", "rows"), ("valid", "valid"), ("rejected", "rejected"))
    )
    return f'<ul class="counts">{items}</ul>'


def _reasons(reasons: list[tuple[str, int]]) -> str:
    if not reasons:
        return '<p class="muted">No row was rejected.</p>'
    rows = "".join(f"<tr><td>{e(reason)}</td><td>{e(f'{count:,}')}</td></tr>" for reason, count in reasons)
    return f"<table><thead><tr><th>Reason</th><th>Rows</th></tr></thead><tbody>{rows}</tbody></table>"


def _samples(columns: list[str], samples: list[dict[str, Any]]) -> str:
    if not samples:
        return '<p class="muted">No valid row to show.</p>'
    names = list(columns)
    for sample in samples:
        names += [k for k in sample if k not in names]
    head = "".join(f"<th>{e(name)}</th>" for name in names)
    body = "".join(
        "<tr>" + "".join(f"<td>{e(sample.get(name, ''))}</td>" for name in names) + "</tr>"
        for sample in samples
    )
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _span(span: Any) -> str:
    return f"{span[0]} to {span[1]}" if isinstance(span, list) and len(span) == 2 else "none"


def _number(value: Any) -> str:
    return "none" if value is None else f"{value:g}" if isinstance(value, int | float) else str(value)


def _shift_rows(changes: dict[str, Any]) -> str:
    rows = [
        f"<tr><td>{e(col)}</td><td>date range</td><td>{e(_span(d.get('before')))}</td>"
        f"<td>{e(_span(d.get('after')))}</td></tr>"
        for col, d in changes.get("dates", {}).items()
    ]
    rows += [
        f"<tr><td>{e(col)}</td><td>null rate</td><td>{e(f'{b:.1%}')}</td><td>{e(f'{a:.1%}')}</td></tr>"
        for col, (b, a) in changes.get("null_rate", {}).items()
    ]
    rows += [
        f"<tr><td>{e(col)}</td><td>{e(stat)}</td><td>{e(_number(b))}</td><td>{e(_number(a))}</td></tr>"
        for col, shift in changes.get("numbers", {}).items()
        for stat, (b, a) in shift.items()
    ]
    if not rows:
        return ""
    head = "<tr><th>Column</th><th>Measure</th><th>Before</th><th>Now</th></tr>"
    return f'<div class="scroll"><table><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table></div>'


def _changes(changes: dict[str, Any] | None) -> str:
    """The "What changed" section: this upload against the dataset's last published version."""
    if not changes:
        return ""
    title = '<h2 id="changes">What changed since the last published version</h2>'
    records = changes.get("records", {})
    after = f"{records.get('after', 0):,}"
    if changes.get("first"):
        return (
            title + f"<p>First publication of this dataset ({e(after)} records).</p>" + _shift_rows(changes)
        )
    since = changes.get("since", {})
    before, delta = f"{records.get('before', 0):,}", f"{records.get('delta', 0):+,}"
    parts = [
        title,
        f'<p class="muted">Compared with job {e(since.get("job_id"))}, published '
        f"{e(since.get('finalized_at'))}.</p>",
        f'<p class="records">Records: {e(before)} → {e(after)} (<b>{e(delta)}</b>)</p>',
    ]
    for label, key in (("Columns added", "columns_added"), ("Columns removed", "columns_removed")):
        if changes.get(key):
            parts.append(f"<p>{e(label)}: " + ", ".join(f"<b>{e(c)}</b>" for c in changes[key]) + "</p>")
    return "".join(parts) + _shift_rows(changes)


_STAGED_LABELS = (("records", "Valid records"), ("rejects", "Rejected rows"), ("manifest", "Manifest"))


def _staged(view: ReviewView) -> str:
    """The "Data you are deciding on" section: each staged object's SHA-256, size and version."""
    rows = []
    for name, label in _STAGED_LABELS:
        item = view.staged.get(name)
        if not item:
            continue
        size = f"{int(item.get('bytes', 0)):,} bytes"
        rows.append(
            f'<tr><td>{e(label)}</td><td class="file sha256" data-name="{e(name)}">'
            f"{e(item.get('sha256') or 'not recorded')}</td>"
            f'<td>{e(size)}</td><td class="file">{e(item.get("version_id") or "-")}</td></tr>'
        )
    if not rows:
        return ""
    head = "<tr><th>Output</th><th>SHA-256</th><th>Size</th><th>S3 version</th></tr>"
    request = f" (approval request {view.generation})" if view.generation > 1 else ""
    return (
        f'<h2 id="staged">Data you are deciding on{e(request)}</h2>'
        '<p class="muted">Your decision is bound to exactly these files: if any of them changes before it '
        "is published, nothing is published and the job fails.</p>"
        f'<div class="scroll"><table><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table></div>'
    )


def _bound_fields(view: ReviewView) -> str:
    """Hidden form fields carrying the hashes this page shows, so the decision is bound to them."""
    return "".join(
        f'<input type="hidden" name="sha256_{e(name)}" value="{e(item["sha256"])}">'
        for name, item in view.staged.items()
        if name in dict(_STAGED_LABELS) and item.get("sha256")
    )


_BY = {"review_link": " through the review link.", "policy": " by the dataset's quality policy."}


def _quality(policy: Evaluation | None) -> str:
    """Which of the dataset's quality thresholds fired (a warn sends the job to a reviewer)."""
    if policy is None or not policy.thresholds:
        return ""
    title = '<h2 id="quality">Quality checks</h2>'
    where = f"dataset {e(policy.dataset)}, policy version {e(policy.version)}"
    if not policy.fired:
        return title + f'<p class="notice ok">Every threshold passed ({where}).</p>'
    items = "".join(
        f'<li><b>{e(f.band)}</b> <span class="threshold">{e(f.threshold)}</span>: {e(f.reason)}</li>'
        for f in policy.fired
    )
    return (
        title
        + f'<div class="notice bad"><p>Thresholds that fired ({where}):</p><ul id="fired">{items}</ul></div>'
    )


def _decision_text(decision: DecisionRecord) -> str:
    outcome = "approved" if decision.approved else "rejected"
    parts = [f"<p>This file was <b>{e(outcome)}</b>"]
    if decision.decided_at:
        parts.append(f" at {e(decision.decided_at)}")
    if decision.via == "review_link" and decision.reviewer and decision.reviewer != REVIEW_LINK_REVIEWER:
        parts.append(f' by <span class="reviewer">{e(decision.reviewer)}</span> through their review link.')
    else:
        parts.append(_BY.get(decision.via, " by an operator."))
    if decision.via == "policy":
        parts.append(f' <span class="muted">({e(decision.reviewer)})</span>')
    parts.append("</p>")
    if decision.reason:
        parts.append(f"<p>Reason: {e(decision.reason)}</p>")
    return "".join(parts)


def _header(view: ReviewView) -> str:
    viewer = (
        f'<p class="muted">Reviewing as <b class="viewer">{e(view.viewer)}</b></p>' if view.viewer else ""
    )
    return (
        f'<h1>Review: <span class="file">{e(view.file_name or view.job_id)}</span></h1>'
        f'<p class="muted">Job {e(view.job_id)}</p>'
        + viewer
        + approvals_text(view.approvals, view.approvals_required)
    )


def approvals_text(approvals: dict[str, dict[str, str]], required: int) -> str:
    """ "1 of 2 approvals: by ana@…" where more than one approval is needed; nothing otherwise."""
    if required <= 1:
        return ""
    who = ", ".join(e(r) for r in sorted(approvals, key=lambda r: approvals[r].get("at", "")))
    return (
        f'<p class="approvals">{len(approvals)} of {required} approvals'
        + (f": by {who}" if who else "")
        + "</p>"
    )


def approval_recorded_page(
    job_id: str, approvals: dict[str, dict[str, str]], required: int, created: bool
) -> str:
    """The page after an approval that does not publish yet (more approvals are needed)."""
    note = "" if created else '<p class="muted">Your approval had already been recorded.</p>'
    body = (
        "<h1>Approval recorded</h1>"
        f'<div class="notice ok">{approvals_text(approvals, required)}'
        "<p>The file is published once enough different reviewers approve it.</p></div>"
        f'{note}<p class="muted">Job {e(job_id)}</p>'
    )
    return _page("Approval recorded", body)


def review_page(view: ReviewView) -> str:
    """The page for a waiting job: counts, what changed, reject reasons, sample rows, approve and reject."""
    if view.decision is not None:
        return decided_page(view)
    bound = _bound_fields(view)
    expiry = (
        f'<p class="muted">This link works once, until {e(view.expires_at)}.</p>' if view.expires_at else ""
    )
    body = (
        _header(view)
        + _counts(view.counts)
        + _quality(view.policy)
        + _changes(view.changes)
        + "<h2>Reject reasons</h2>"
        + _reasons(view.reasons)
        + "<h2>Sample rows</h2>"
        + _samples(view.columns, view.samples)
        + _staged(view)
        + '<div class="actions">'
        '<form method="post" action="">'
        '<input type="hidden" name="decision" value="approve">' + bound + "<p>Publish the valid rows.</p>"
        '<button type="submit" class="approve">Approve</button></form>'
        '<form method="post" action="">'
        '<input type="hidden" name="decision" value="reject">'
        + bound
        + '<label for="reason">Reason for rejecting (required)</label>'
        '<textarea id="reason" name="reason" required maxlength="1000"></textarea>'
        '<p><button type="submit" class="reject">Reject</button></p></form>'
        "</div>" + expiry + '<p class="muted">Nothing is published until the file is approved.</p>'
    )
    return _page(f"Review {view.file_name or view.job_id}", body)


def decided_page(view: ReviewView) -> str:
    """The page for a job that already has its decision."""
    assert view.decision is not None
    body = _header(view) + '<div class="notice">' + _decision_text(view.decision) + "</div>"
    return _page("Already decided", "<h1>Already decided</h1>" + body)


def result_page(job_id: str, decision: DecisionRecord, created: bool) -> str:
    """The page after a decision was posted."""
    title = "Approved" if decision.approved else "Rejected"
    if decision.approved:
        detail = "The valid rows will be published, and the source file archived."
    else:
        detail = "Nothing will be published. The source file will be archived."
    note = "" if created else '<p class="muted">This decision had already been recorded.</p>'
    body = (
        f"<h1>{e(title)}</h1>"
        f'<div class="notice {"ok" if decision.approved else "bad"}">{_decision_text(decision)}'
        f"<p>{e(detail)}</p></div>{note}"
        f'<p class="muted">Job {e(job_id)}</p>'
    )
    return _page(title, body)


def message_page(title: str, message: str, decision: DecisionRecord | None = None) -> str:
    """A page that explains why nothing happened (invalid, expired or used link; a bad form)."""
    extra = f'<div class="notice">{_decision_text(decision)}</div>' if decision is not None else ""
    return _page(title, f"<h1>{e(title)}</h1><p>{e(message)}</p>{extra}")
