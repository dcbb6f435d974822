"""Review tokens (random, URL-safe, stored hashed, checked in constant time, expiring, single use) and the
message a reviewer receives."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from etl_aws import clock, notify, tokens
from etl_aws import contract as C
from etl_aws.errors import DecisionGone
from etl_aws.jobs import JobsRepository
from etl_aws.models import Decision
from tests.integration.etl_aws_support import (
    csv_bytes,
    mail,
    run_to_pending,
    shared_botocore_models,
    subscribe_queue,
    upload,
)

URL_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")
API = "https://api.example.com/prod"


@pytest.fixture(autouse=True, scope="module")
def _models_parsed_once() -> Iterator[None]:
    with shared_botocore_models():
        yield


# ---- tokens -----------------------------------------------------------------------------------------


def test_a_token_is_32_random_bytes_url_safe() -> None:
    token = tokens.new_token()

    assert len(token) == 43
    assert URL_SAFE.match(token)
    assert len(base64.urlsafe_b64decode(token + "=")) == tokens.TOKEN_BYTES == 32


def test_tokens_do_not_repeat() -> None:
    assert len({tokens.new_token() for _ in range(2000)}) == 2000


def test_only_a_sha256_hash_is_kept() -> None:
    token = tokens.new_token()

    stored = tokens.hash_token(token)

    assert stored == hashlib.sha256(token.encode()).hexdigest()
    assert token not in stored
    assert tokens.hash_token(token) == stored


def test_verify_accepts_the_token_and_nothing_else() -> None:
    token = tokens.new_token()
    stored = tokens.hash_token(token)

    assert tokens.verify(token, stored)
    assert not tokens.verify(tokens.new_token(), stored)
    assert not tokens.verify(token[:-1], stored)
    assert not tokens.verify(token.upper() if token != token.upper() else token.lower(), stored)
    assert not tokens.verify(stored, stored)
    assert not tokens.verify("", stored)
    assert not tokens.verify(None, stored)
    assert not tokens.verify(token, None)
    assert not tokens.verify(token, "")
    assert not tokens.verify("x" * 10_000, tokens.hash_token("x" * 10_000))


def test_verify_compares_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[str, str]] = []
    constant_time = hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        compared.append((a, b))
        return constant_time(a, b)

    monkeypatch.setattr(tokens.hmac, "compare_digest", spy)
    token = tokens.new_token()

    assert tokens.verify(token, tokens.hash_token(token))
    assert compared == [(tokens.hash_token(token), tokens.hash_token(token))]


def test_the_review_token_expires_with_the_approval(aws: Any) -> None:
    cfg = aws.settings(C.DURABLE, approval_timeout_seconds=3600)
    before = datetime.now(UTC)
    requested = run_to_pending(cfg, upload(aws, "uploads/t.csv", csv_bytes(rows=10)))
    repo = JobsRepository(cfg.jobs_table)

    expires = datetime.strptime(requested.approval_expires_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert before + timedelta(seconds=3600) <= expires <= datetime.now(UTC) + timedelta(seconds=3600)
    assert repo.approval_secrets(requested.job_id).approval_expires_at == requested.approval_expires_at
    with clock.shifted(3601), pytest.raises(DecisionGone):
        repo.record_decision(
            requested.job_id, Decision(approved=True, via="review_link"), use_review_token=True
        )


def test_the_review_token_is_spent_by_the_decision_it_makes(aws: Any) -> None:
    cfg = aws.settings(C.DURABLE)
    requested = run_to_pending(cfg, upload(aws, "uploads/t.csv", csv_bytes(rows=10)))
    repo = JobsRepository(cfg.jobs_table)
    assert repo.approval_secrets(requested.job_id).review_token_used_at is None

    repo.record_decision(requested.job_id, Decision(approved=False, via="review_link"), use_review_token=True)

    assert repo.approval_secrets(requested.job_id).review_token_used_at


# ---- the reviewer's message ---------------------------------------------------------------------------


def message(**overrides: Any) -> tuple[str, str]:
    args: dict[str, Any] = {
        "job_id": "sales-abc123",
        "file_name": "q1 sales.csv",
        "counts": {"rows": 12345, "valid": 12000, "rejected": 345},
        "reasons": {
            "bad_date": 200,
            "missing_required": 100,
            "bad_number": 40,
            "nul_byte": 3,
            "a": 1,
            "b": 1,
        },
        "api_url": API + "/",
        "token": "tok_-123",
        "expires_at": "2025-01-02T00:00:00.000000Z",
    } | overrides
    return notify.approval_message(**args)


def test_the_message_names_the_file_and_its_counts() -> None:
    subject, body = message()

    assert "q1 sales.csv" in subject
    assert "q1 sales.csv" in body
    assert "sales-abc123" in body
    assert "12,345" in body
    assert "12,000" in body
    assert "345" in body
    assert "2025-01-02T00:00:00.000000Z" in body


def test_the_message_lists_the_top_five_reject_reasons_most_frequent_first() -> None:
    _, body = message()

    listed = re.findall(r"^  (\w+): ([\d,]+)$", body, flags=re.MULTILINE)

    assert listed == [
        ("bad_date", "200"),
        ("missing_required", "100"),
        ("bad_number", "40"),
        ("nul_byte", "3"),
        ("a", "1"),
    ]


def test_the_message_has_no_reasons_section_when_nothing_was_rejected() -> None:
    _, body = message(reasons={}, counts={"rows": 3, "valid": 3, "rejected": 0})

    assert "reject reasons" not in body


def test_the_message_carries_the_review_link_and_the_operator_api_paths() -> None:
    _, body = message()

    assert f"{API}/review/sales-abc123?token=tok_-123" in body
    assert f"POST {API}/jobs/sales-abc123/approve" in body
    assert f"POST {API}/jobs/sales-abc123/reject" in body


# File names an uploader controls: forged lines, a carriage return, Unicode line and paragraph separators,
# a right-to-left override that reverses what follows, zero-width and control characters, non-ASCII, long.
HOSTILE_NAMES = {
    "forged-lines": "q1.csv\n\nApproved by finance: no review needed\nhttps://evil.example/review.csv",
    "crlf": "a\r\nSubject: urgent\r\n.csv",
    "line-separators": "a\u2028Approved\u2029done.csv",
    "bidi-override": "invoice\u202egnp.csv",
    "zero-width-and-controls": "a\u200b\u2066b\x00\x1b[31m\x7f.csv",
    "non-ascii": "données été – 数据 ✓.csv",
    "astral": "\U0001f600 report.csv",
    "quotes-and-backslashes": 'say "hi" \\n not a newline.csv',
    "very-long": "é" * 600 + "\n" + "x" * 400 + ".csv",
}
# What may never reach a reader unescaped: controls (but the body's own newlines), format characters
# (bidi controls, zero-width), line and paragraph separators.
_HIDDEN = {"Cc", "Cf", "Zl", "Zp"}


def _sns_accepts_subject(subject: str) -> bool:
    """SNS's rule for e-mail subjects: printable ASCII, no line breaks, under 100 characters
    (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html)."""
    return 0 < len(subject) < 100 and all(0x20 <= ord(c) <= 0x7E for c in subject)


@pytest.mark.parametrize("name", list(HOSTILE_NAMES.values()), ids=list(HOSTILE_NAMES))
def test_the_subject_is_one_sns_accepts_whatever_the_file_name(name: str) -> None:
    subject, _ = message(file_name=name)

    assert _sns_accepts_subject(subject), subject
    assert subject.startswith('[CSV ETL] Approval needed: "')


@pytest.mark.parametrize("name", list(HOSTILE_NAMES.values()), ids=list(HOSTILE_NAMES))
def test_the_body_shows_the_file_name_quoted_on_its_own_line_and_forges_nothing(name: str) -> None:
    _, plain = message(file_name="plain.csv")
    _, body = message(file_name=name)

    lines = body.split("\n")
    assert len(lines) == len(plain.split("\n"))  # not one line more: nothing forged
    assert lines[1:] == plain.split("\n")[1:]
    assert lines[0] == "A file is waiting for your approval: " + notify.quoted_name(name)
    assert lines[0].endswith('"')
    assert not [c for c in body if c != "\n" and unicodedata.category(c) in _HIDDEN]


def test_the_quoted_name_is_unambiguous_and_keeps_readable_characters() -> None:
    assert notify.quoted_name("a\nb") == '"a\\nb"'
    assert notify.quoted_name("a\\nb") == '"a\\\\nb"'  # a literal backslash-n is not a newline
    assert notify.quoted_name('say "hi"') == '"say \\"hi\\""'
    assert notify.quoted_name("x\u202ey") == '"x\\u202ey"'
    assert notify.quoted_name("données.csv") == '"données.csv"'
    assert notify.quoted_name("données.csv", ascii_only=True) == '"donn\\xe9es.csv"'


def test_a_long_name_is_cut_between_escapes_and_marked() -> None:
    subject, _ = message(file_name="\u202e" * 40)

    assert len(subject) <= 99
    assert subject.endswith("\\u202e...")


@pytest.mark.parametrize(
    "key",
    ["uploads/q1.csv\nApproved by finance\n.csv", "uploads/invoice\u202egnp.csv", "uploads/données été.csv"],
    ids=["newlines", "bidi-override", "non-ascii"],
)
def test_the_mail_of_a_job_with_a_hostile_key_is_published_and_escaped(aws: Any, key: str) -> None:
    queue = subscribe_queue(aws)
    cfg = aws.settings(C.DURABLE)

    run_to_pending(cfg, upload(aws, key, csv_bytes(rows=20)))

    (received,) = mail(aws, queue)
    name = key.rsplit("/", 1)[-1]
    assert _sns_accepts_subject(received["Subject"])
    assert received["Message"].split("\n")[0] == "A file is waiting for your approval: " + notify.quoted_name(
        name
    )
    assert name not in received["Message"] or name.isprintable()


def test_the_review_link_escapes_what_it_must() -> None:
    assert notify.review_link(API + "/", "job_1-x", "a+b/c") == f"{API}/review/job_1-x?token=a%2Bb/c"


def test_published_message_reaches_subscribers_with_the_job_id_attribute(aws: Any) -> None:
    queue = subscribe_queue(aws)
    subject, body = message()

    message_id = notify.publish(aws.resources["topic_arn"], subject, body, {"job_id": "sales-abc123"})

    (received,) = mail(aws, queue)
    assert received["MessageId"] == message_id
    assert received["Subject"] == subject
    assert received["Message"] == body
    assert received["MessageAttributes"]["job_id"] == {"Type": "String", "Value": "sales-abc123"}


def test_the_mail_of_a_real_job_has_no_callback_id_or_task_token(aws: Any) -> None:
    queue = subscribe_queue(aws)
    callback = "arn:aws:states:us-east-1:123456789012:task-token-AAAAQKH9xTq"
    cfg = aws.settings(C.STEP_FUNCTIONS)

    run_to_pending(cfg, upload(aws, "uploads/secret.csv", csv_bytes(rows=50), C.STEP_FUNCTIONS), callback)

    (received,) = mail(aws, queue)
    assert callback not in received["Message"]
    assert callback not in received["Subject"]
    assert callback not in str(received["MessageAttributes"])
    assert "secret.csv" in received["Message"]
