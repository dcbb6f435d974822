"""The reviewer's page: what it shows, how it is protected, and what it says when a link cannot be used."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser

from etl_approval.review_page import CONTENT_SECURITY_POLICY
from etl_aws.models import JobStatus
from tests.integration.approval_support import ApprovalEnv

pytest_plugins = ["tests.integration.approval_fixtures"]

HOSTILE_CSV = (
    b"id,name,date,amount\n"
    b"1,<script>alert(1)</script>,2025-01-02,1\n"
    b'2,"""><img src=x onerror=alert(2)>",2025-01-02,2\n'
    b"3,O'Brien & <b>Sons</b>,2025-01-02,3\n"
)

ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "main", "h1", "h2", "p", "span", "b", "ul", "li",
    "table", "thead", "tbody", "tr", "th", "td", "div", "form", "input", "label", "textarea", "button",
}  # fmt: skip


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(body: str) -> _Tags:
    parser = _Tags()
    parser.feed(body)
    return parser


def test_review_page_shows_file_counts_reasons_samples_and_both_actions(approval_env: ApprovalEnv) -> None:
    job = approval_env.pending()

    page = approval_env.review_get(job.job_id, job.review_token)

    assert page.status == 200
    assert page.content_type == "text/html; charset=utf-8"
    parsed = _parse(page.body)
    text = " ".join(parsed.text)
    assert "batch-1.csv" in text
    for count in (r"5\s*rows", r"2\s*valid", r"3\s*rejected"):
        assert re.search(count, text)
    for reason in ("bad_date", "bad_number", "missing_required"):
        assert re.search(rf"{reason}\s*1", text)
    for sample_name in ("Alice", "Bob"):
        assert sample_name in text
    assert [attrs for tag, attrs in parsed.tags if tag == "form"] == [{"method": "post", "action": ""}] * 2
    decisions = [a.get("value") for t, a in parsed.tags if t == "input" and a.get("name") == "decision"]
    assert decisions == ["approve", "reject"]
    textarea = {"id": "reason", "name": "reason", "required": None, "maxlength": "1000"}
    assert ("textarea", textarea) in parsed.tags


def test_review_page_shows_at_most_five_sample_rows(approval_env: ApprovalEnv) -> None:
    rows = b"".join(b"%d,Name%d,2025-01-02,%d\n" % (i, i, i) for i in range(1, 9))
    job = approval_env.pending(csv=b"id,name,date,amount\n" + rows)

    page = approval_env.review_get(job.job_id, job.review_token)

    samples = page.body.split("<h2>Sample rows</h2>", 1)[1].split("</table>", 1)[0]
    sample_rows = samples.count("<tr>") - 1  # minus the header row
    assert sample_rows == 5


def test_review_page_is_self_contained_and_locked_down(approval_env: ApprovalEnv) -> None:
    job = approval_env.pending()

    page = approval_env.review_get(job.job_id, job.review_token)

    assert page.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    policy = dict(part.strip().split(" ", 1) for part in CONTENT_SECURITY_POLICY.split(";"))
    assert policy["default-src"] == "'none'"
    assert policy["form-action"] == "'self'"
    assert policy["base-uri"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    style = re.search(r"<style>(.*?)</style>", page.body, re.S).group(1)  # type: ignore[union-attr]
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert policy["style-src"] == f"'sha256-{digest}'"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"
    assert "Access-Control-Allow-Origin" not in page.headers
    tags = _parse(page.body).tags
    assert {tag for tag, _ in tags} <= ALLOWED_TAGS
    assert not [attrs for _, attrs in tags if {"src", "href", "style"} & set(attrs)]
    assert not [name for _, attrs in tags for name in attrs if name.startswith("on")]


def test_review_page_never_contains_the_token(approval_env: ApprovalEnv) -> None:
    job = approval_env.pending()

    page = approval_env.review_get(job.job_id, job.review_token)
    result = approval_env.review_post(job.job_id, job.review_token, "approve")

    for body in (page.body, result.body):
        assert job.review_token not in body
        assert job.review_token_hash not in body


def test_hostile_sample_values_are_shown_escaped(approval_env: ApprovalEnv) -> None:
    job = approval_env.pending(csv=HOSTILE_CSV)

    page = approval_env.review_get(job.job_id, job.review_token)

    assert page.status == 200
    assert "<script>" not in page.body
    assert "<img" not in page.body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.body
    assert "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;" in page.body
    assert "O&#x27;Brien &amp; &lt;b&gt;Sons&lt;/b&gt;" in page.body
    tags = _parse(page.body).tags
    assert {tag for tag, _ in tags} <= ALLOWED_TAGS
    assert not [name for _, attrs in tags for name in attrs if name.startswith("on")]
    text = "".join(_parse(page.body).text)
    assert '"><img src=x onerror=alert(2)>' in text  # shown to the reviewer as text, verbatim


def test_a_form_post_gets_a_result_page(approval_env: ApprovalEnv) -> None:
    job = approval_env.pending()

    result = approval_env.review_post(job.job_id, job.review_token, "reject", "columns <shifted>")

    assert result.status == 200
    assert result.content_type.startswith("text/html")
    assert result.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "<h1>Rejected</h1>" in result.body
    assert "columns &lt;shifted&gt;" in result.body
    assert approval_env.repo.get(job.job_id).status == JobStatus.REJECTED


def test_a_json_post_gets_json(approval_env: ApprovalEnv) -> None:
    job = approval_env.pending()

    result = approval_env.review_post(
        job.job_id, job.review_token, "approve", form=False, token_in_query=False
    )

    assert result.status == 200
    assert result.content_type == "application/json"
    assert result.json["approved"] is True
    assert "reviewer" not in result.json


def test_a_decided_job_shows_what_was_decided(approval_env: ApprovalEnv) -> None:
    job = approval_env.pending()
    approval_env.review_post(job.job_id, job.review_token, "reject", "wrong month")

    page = approval_env.review_get(job.job_id, job.review_token)

    assert page.status == 200
    assert "Already decided" in page.body
    assert "<b>rejected</b>" in page.body
    assert "wrong month" in page.body
    assert "<form" not in page.body


def test_an_invalid_link_gets_a_clear_page(approval_env: ApprovalEnv) -> None:
    job = approval_env.pending()

    page = approval_env.review_get(job.job_id, "not-the-token")

    assert page.status == 403
    assert "<h1>This link is not valid</h1>" in page.body
    assert page.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "<form" not in page.body


def test_an_expired_link_gets_a_clear_page(approval_env: ApprovalEnv) -> None:
    job = approval_env.pending()
    approval_env.expire(job.job_id)

    page = approval_env.review_get(job.job_id, job.review_token)

    assert page.status == 410
    assert "<h1>This link has expired</h1>" in page.body
    assert "<form" not in page.body


def test_a_malformed_link_gets_a_clear_page(approval_env: ApprovalEnv) -> None:
    page = approval_env.review_get("not.a.job", "x" * 200)

    assert page.status == 400
    assert "<h1>This link is not valid</h1>" in page.body
    assert "x" * 200 not in page.body


def test_an_incomplete_form_gets_a_page_not_json(approval_env: ApprovalEnv) -> None:
    job = approval_env.pending()

    page = approval_env.review_post(job.job_id, job.review_token, "maybe")

    assert page.status == 400
    assert page.content_type.startswith("text/html")
    assert "The form is incomplete" in page.body
    assert approval_env.repo.get(job.job_id).status == JobStatus.PENDING_APPROVAL
