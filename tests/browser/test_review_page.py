"""The e-mailed review page in a real browser: what a reviewer sees, that a hostile value stays text, and
that its forms decide the waiting workflow (durable and Step Functions alike)."""

from __future__ import annotations

import hashlib
import io
import re
import time
from dataclasses import dataclass

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from etl_aws import contract as C
from etl_aws.jobs import Job
from etl_aws.models import TERMINAL, JobStatus
from etl_core import synth
from etl_local.faults import INJECTOR, Fault, Rule, attempts
from etl_local.runtime import LocalRuntime, available_workflows
from tests.browser.conftest import TEAM_DATASET, TEAM_REVIEWERS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WAITING = frozenset({JobStatus.PENDING_APPROVAL, *TERMINAL})
JOB_TIMEOUT = 120.0
DECISION_TIMEOUT_MS = 30_000
SCRIPT = "<script>window.__xss=1</script>"
IMAGE = "<img src=x onerror=window.__xss=2>"
REJECT_REASON = "totals do not match the <b>invoice</b>"

# 7 rows: 3 valid (the first carries markup in two values), 4 rejected for 3 reasons.
HOSTILE_CSV = (
    "id,name,email,date,amount,quantity,price\n"
    f'1,{SCRIPT},"{IMAGE}",2025-01-02,10.50,2,3.25\n'
    "2,Ana Smith,ana@example.com,01/03/2025,7,1,7\n"
    "3,,nobody@example.com,2025-01-04,1,1,1\n"
    "4,Bo Ng,bo@example.com,2025-02-30,1,1,1\n"
    "5,Chen Ito,chen@example.com,next tuesday,1,1,1\n"
    "6,Dee Berg,dee@example.com,2025-01-06,nan,1,1\n"
    "7,Eli Costa,eli@example.com,2025/01/07,2,2,2\n"
).encode()


@dataclass(frozen=True)
class Review:
    """A job waiting for a decision and the link its e-mail carries."""

    job_id: str
    link: str


@dataclass(frozen=True)
class Decided:
    """A decision taken on the review page: the page it led to and the job once its workflow ended."""

    review: Review
    status: int
    heading: str
    notice: str
    job: Job


def csv_file(rows: int, seed: int) -> bytes:
    out = io.BytesIO()
    synth.write_csv(out, rows, bad_ratio=0.1, seed=seed)
    return out.getvalue()


def review_of(runtime: LocalRuntime, job_id: str) -> Review:
    """Wait until the job asks for a decision; its review link, from the e-mail filed in the outbox."""
    job = runtime.wait_for(job_id, WAITING, timeout=JOB_TIMEOUT)
    assert job.status == JobStatus.PENDING_APPROVAL, job
    assert runtime.outbox is not None
    mail = runtime.outbox.wait_for(job_id, timeout=JOB_TIMEOUT)
    filed = (runtime.root / "outbox" / f"{job_id}.txt").read_text(encoding="utf-8")
    assert mail.review_link in filed
    return Review(job_id, mail.review_link)


@pytest.fixture(scope="module")
def reviews(runtime: LocalRuntime) -> dict[str, Review]:
    """Three files uploaded together: one to look at, one to reject (durable), one to approve (Step
    Functions when its handlers are installed)."""
    approve_on = C.STEP_FUNCTIONS if C.STEP_FUNCTIONS in available_workflows() else C.DURABLE
    uploads = {
        "shown": runtime.upload(C.DURABLE, "uploads/hostile.csv", HOSTILE_CSV),
        "rejected": runtime.upload(C.DURABLE, "uploads/reject-me.csv", HOSTILE_CSV),
        "approved": runtime.upload(approve_on, "uploads/approve-me.csv", csv_file(rows=30, seed=11)),
    }
    return {name: review_of(runtime, job_id) for name, job_id in uploads.items()}


def open_review(page: Page, review: Review) -> None:
    response = page.goto(review.link)
    assert response is not None
    assert response.status == 200


def submit(runtime: LocalRuntime, page: Page, review: Review, button: str) -> Decided:
    """Press the form's button; the page the answer shows, and the job once its workflow ended."""
    with page.expect_navigation(timeout=DECISION_TIMEOUT_MS) as navigation:
        page.get_by_role("button", name=button, exact=True).click()
    answer = navigation.value
    assert answer is not None
    return Decided(
        review,
        answer.status,
        page.get_by_role("heading", level=1).inner_text(),
        page.locator(".notice").inner_text(),
        runtime.wait_for(review.job_id, TERMINAL, JOB_TIMEOUT),
    )


@pytest.fixture(scope="module")
def rejected(runtime: LocalRuntime, reviews: dict[str, Review], module_context: BrowserContext) -> Decided:
    """The reviewer fills in a reason and presses Reject."""
    page = module_context.new_page()
    open_review(page, reviews["rejected"])
    page.get_by_label("Reason for rejecting (required)").fill(REJECT_REASON)
    decided = submit(runtime, page, reviews["rejected"], "Reject")
    page.close()
    return decided


@pytest.fixture(scope="module")
def approved(runtime: LocalRuntime, reviews: dict[str, Review], module_context: BrowserContext) -> Decided:
    """The reviewer presses Approve."""
    page = module_context.new_page()
    open_review(page, reviews["approved"])
    decided = submit(runtime, page, reviews["approved"], "Approve")
    page.close()
    return decided


@pytest.fixture(params=["rejected", "approved"])
def decided(request: pytest.FixtureRequest) -> Decided:
    return request.getfixturevalue(request.param)


def test_review_page_shows_counts_reasons_and_sample_rows(page: Page, reviews: dict[str, Review]) -> None:
    open_review(page, reviews["shown"])

    expect(page.get_by_role("heading", level=1)).to_have_text("Review: hostile.csv")
    expect(page.locator(".counts li")).to_have_text(
        [re.compile(r"^7\s*rows$"), re.compile(r"^3\s*valid$"), re.compile(r"^4\s*rejected$")]
    )
    reasons = page.locator("h2:text-is('Reject reasons') + table tbody tr")
    expect(reasons).to_have_text(
        [
            re.compile(r"^bad_date\s*2$"),
            re.compile(r"^missing_required\s*1$"),
            re.compile(r"^non_finite_number\s*1$"),
        ]
    )
    samples = page.locator("h2:text-is('Sample rows') + .scroll table")
    expect(samples.locator("thead th")).to_have_text(list(synth.COLUMNS))
    expect(samples.locator("tbody tr")).to_have_count(3)
    # The valid rows as the pipeline wrote them: dates in ISO form, numbers parsed.
    expect(samples.locator("tbody tr").nth(1).locator("td")).to_have_text(
        ["2", "Ana Smith", "ana@example.com", "2025-01-03", "7", "1", "7"]
    )
    expect(samples.locator("tbody tr").nth(2).locator("td").nth(3)).to_have_text("2025-01-07")
    expect(page.get_by_role("button", name="Approve", exact=True)).to_be_enabled()
    expect(page.get_by_role("button", name="Reject", exact=True)).to_be_enabled()


def test_markup_in_a_data_value_is_shown_as_text_and_never_runs(
    page: Page, reviews: dict[str, Review]
) -> None:
    open_review(page, reviews["shown"])

    expect(page.get_by_role("cell", name=SCRIPT, exact=True)).to_be_visible()
    expect(page.get_by_role("cell", name=IMAGE, exact=True)).to_be_visible()
    assert page.evaluate("() => typeof window.__xss") == "undefined"
    expect(page.locator("script")).to_have_count(0)
    expect(page.locator("img")).to_have_count(0)


def test_page_style_is_allowed_by_its_content_security_policy(page: Page, reviews: dict[str, Review]) -> None:
    open_review(page, reviews["shown"])

    # The inline style sheet only applies if the policy's hash matches it.
    expect(page.get_by_role("button", name="Approve", exact=True)).to_have_css(
        "background-color", "rgb(29, 127, 70)"
    )


def test_reject_from_the_page_ends_job_rejected_with_its_reason(rejected: Decided) -> None:
    assert rejected.status == 200
    assert rejected.heading == "Rejected"
    assert f"Reason: {REJECT_REASON}" in rejected.notice
    assert rejected.job.status == JobStatus.REJECTED
    assert rejected.job.decision is not None
    assert rejected.job.decision.approved is False
    assert rejected.job.decision.reason == REJECT_REASON
    assert rejected.job.decision.via == "review_link"


def test_approve_from_the_page_completes_the_job(approved: Decided) -> None:
    assert approved.status == 200
    assert approved.heading == "Approved"
    assert "This file was approved" in approved.notice
    assert approved.job.status == JobStatus.COMPLETED
    assert approved.job.decision is not None
    assert approved.job.decision.approved is True
    assert approved.job.decision.via == "review_link"
    # The page's form carried the hashes it showed: the decision is bound to the recorded staged data.
    assert approved.job.staged is not None
    assert approved.job.decision.staged == {
        name: item["sha256"] for name, item in approved.job.staged.items()
    }


def test_used_link_shows_already_decided_without_forms(page: Page, decided: Decided) -> None:
    open_review(page, decided.review)

    expect(page).to_have_title("Already decided")
    expect(page.get_by_role("heading", name="Already decided", exact=True)).to_be_visible()
    outcome = "rejected" if decided.job.status == JobStatus.REJECTED else "approved"
    expect(page.locator(".notice")).to_contain_text(f"This file was {outcome}")
    expect(page.locator(".notice")).to_contain_text("through the review link.")
    expect(page.locator("form")).to_have_count(0)


def test_second_upload_of_a_dataset_shows_what_changed_since_the_published_one(
    runtime: LocalRuntime, approved: Decided, module_context: BrowserContext
) -> None:
    """`approved` published uploads/approve-me.csv (dataset `uploads`); the next upload there is compared."""
    assert approved.job.status == JobStatus.COMPLETED
    header, *rows = csv_file(rows=30, seed=11).decode().splitlines()
    widened = "\n".join(
        [header + ",region", *(row + ",eu" for row in rows), "99,Zed Park,z@x.io,2031-01-01,1,1,1,eu"]
    )
    review = review_of(
        runtime, runtime.upload(approved.job.workflow, "uploads/approve-me-2.csv", widened.encode())
    )
    page = module_context.new_page()
    open_review(page, review)

    section = page.locator("h2#changes")
    expect(section).to_have_text("What changed since the last published version")
    expect(page.locator("p.records")).to_have_text(re.compile(r"^Records: \d+ → \d+ \(\+1\)$"))
    expect(page.get_by_text("Columns added: region")).to_be_visible()
    expect(page.get_by_role("cell", name="date range", exact=True)).to_be_visible()
    expect(page.get_by_role("cell", name=re.compile(r"to 2031-01-01$"))).to_be_visible()
    page.close()


def test_review_page_shows_the_sha256_of_each_staged_file_and_its_forms_carry_them(
    runtime: LocalRuntime, page: Page, reviews: dict[str, Review]
) -> None:
    job = runtime.job(reviews["shown"].job_id)
    assert job is not None
    assert job.staged is not None
    s3 = runtime.client("s3")
    bucket = runtime.output_bucket(job.workflow)
    digests = [
        hashlib.sha256(s3.get_object(Bucket=bucket, Key=job.staged[name]["key"])["Body"].read()).hexdigest()
        for name in ("records", "rejects", "manifest")
    ]

    open_review(page, reviews["shown"])

    expect(page.locator("h2#staged")).to_have_text("Data you are deciding on")
    expect(page.locator("td.sha256")).to_have_text(digests)
    for form in ("form:has(button.approve)", "form:has(button.reject)"):
        fields = page.locator(f"{form} input[type=hidden][name^=sha256_]")
        expect(fields).to_have_count(3)
        assert [fields.nth(i).get_attribute("value") for i in range(3)] == digests


def _links_after_a_retried_request(runtime: LocalRuntime, timeout: float = JOB_TIMEOUT) -> tuple[str, str]:
    """Upload a file whose first approval e-mail's answer is lost (the step retries and e-mails a new
    link); the first and the newest links."""
    rule = Rule("sns", "Publish", Fault.LOST_RESPONSE, times=attempts(), function="durable-orchestrator")
    assert runtime.outbox is not None
    with INJECTOR.injecting(rule):
        job_id = runtime.upload(C.DURABLE, "uploads/superseded.csv", csv_file(rows=12, seed=3))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            links = list(dict.fromkeys(mail.review_link for mail in runtime.outbox.mails(job_id)))
            if len(links) >= 2:
                return links[0], links[-1]
            time.sleep(0.2)
    raise AssertionError(f"no second review link for {job_id} within {timeout} s")


def test_a_superseded_link_shows_superseded_without_forms_and_the_newest_link_works(
    runtime: LocalRuntime, page: Page
) -> None:
    first, newest = _links_after_a_retried_request(runtime)

    response = page.goto(first)

    assert response is not None
    assert response.status == 410
    expect(page).to_have_title("This link was superseded")
    expect(page.get_by_role("heading", level=1)).to_have_text("This link was superseded")
    expect(page.get_by_text("Open the link in the most recent e-mail about this file.")).to_be_visible()
    expect(page.locator("form")).to_have_count(0)
    fresh = page.goto(newest)
    assert fresh is not None
    assert fresh.status == 200
    expect(page.locator("h2#staged")).to_have_text("Data you are deciding on (approval request 2)")
    expect(page.get_by_role("button", name="Approve", exact=True)).to_be_enabled()


def test_each_named_reviewer_decides_on_a_page_of_their_own_and_is_named(
    runtime: LocalRuntime, module_context: BrowserContext
) -> None:
    """Two named reviewers, two approvals needed: the first only records, the second publishes, and the
    pages say who did what."""
    ana, ben = TEAM_REVIEWERS
    workflow = C.STEP_FUNCTIONS if C.STEP_FUNCTIONS in available_workflows() else C.DURABLE
    job_id = runtime.upload(workflow, f"{TEAM_DATASET}/pair.csv", csv_file(rows=20, seed=3))
    assert runtime.wait_for(job_id, WAITING, timeout=JOB_TIMEOUT).status == JobStatus.PENDING_APPROVAL
    links = {a: runtime.mailboxes[a].wait_for(job_id, timeout=JOB_TIMEOUT).review_link for a in (ana, ben)}
    page = module_context.new_page()

    open_review(page, Review(job_id, links[ana]))
    expect(page.locator(".viewer")).to_have_text(ana)
    with page.expect_navigation(timeout=DECISION_TIMEOUT_MS):
        page.get_by_role("button", name="Approve", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Approval recorded")
    expect(page.locator(".notice")).to_contain_text(f"1 of 2 approvals: by {ana}")
    assert runtime.job(job_id).status == JobStatus.PENDING_APPROVAL  # type: ignore[union-attr]

    open_review(page, Review(job_id, links[ben]))
    expect(page.locator(".viewer")).to_have_text(ben)
    expect(page.locator(".approvals")).to_have_text(f"1 of 2 approvals: by {ana}")
    decided = submit(runtime, page, Review(job_id, links[ben]), "Approve")

    assert decided.heading == "Approved"
    assert f"approved at {decided.job.decision.decided_at} by {ben}" in decided.notice  # type: ignore[union-attr]
    assert decided.job.status == JobStatus.COMPLETED
    assert decided.job.decision is not None
    assert decided.job.decision.reviewer == ben
    open_review(page, Review(job_id, links[ana]))
    expect(page.get_by_role("heading", name="Already decided", exact=True)).to_be_visible()
    expect(page.locator(".notice")).to_contain_text(f"by {ben} through their review link.")
    page.close()


def test_review_page_lists_the_quality_thresholds_that_fired(runtime: LocalRuntime, page: Page) -> None:
    """A warn of the dataset's quality policy (conftest.BROWSER_POLICIES) waits for a reviewer; the page
    says which thresholds fired, above the counts' details."""
    review = review_of(runtime, runtime.upload(C.DURABLE, "uploads/watched/hostile.csv", HOSTILE_CSV))

    open_review(page, review)

    expect(page.locator("h2#quality")).to_have_text("Quality checks")
    expect(page.locator("h2#quality + .notice")).to_contain_text(
        "Thresholds that fired (dataset uploads/watched, policy version browser-1)"
    )
    expect(page.locator("#fired li")).to_have_text(
        [
            re.compile(r"^warn max_reject_rate: reject rate 57\.14 % \(4 of 7 rows\) is over 10 %$"),
            re.compile(r"^warn reject_reasons: rows rejected for: bad_date \(2\)$"),
        ]
    )
    expect(page.get_by_role("button", name="Approve", exact=True)).to_be_enabled()


def test_review_page_says_when_every_quality_threshold_passed(runtime: LocalRuntime, page: Page) -> None:
    review = review_of(runtime, runtime.upload(C.DURABLE, "uploads/steady/a.csv", csv_file(rows=30, seed=3)))

    open_review(page, review)

    expect(page.locator("h2#quality + .notice")).to_have_text(
        "Every threshold passed (dataset uploads/steady, policy version browser-1)."
    )
    expect(page.locator("#fired")).to_have_count(0)


def test_review_page_has_no_quality_section_without_a_policy(page: Page, reviews: dict[str, Review]) -> None:
    open_review(page, reviews["shown"])

    expect(page.locator("h2#quality")).to_have_count(0)
