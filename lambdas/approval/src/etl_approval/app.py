"""Approval API (API Gateway REST, proxy integration): the one door through which a decision reaches a
waiting workflow.

Operator routes are IAM (SigV4) authenticated at the gateway; the handler also refuses a request that
carries no IAM identity. Reviewer routes are authenticated by the single-use review token of the e-mailed
link. All logic is in `etl_aws.approval`; this module parses, calls one function, and renders.
"""

from __future__ import annotations

import json
import logging
import traceback
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Body, Form, Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from etl_approval import review_page
from etl_approval.models import (
    JOB_ID_PATTERN,
    ApproveRequest,
    DecisionResponse,
    JobListItem,
    JobsPage,
    RejectRequest,
    ReviewDecisionResponse,
    UnpublishRequest,
    UnpublishResponse,
)
from etl_approval.refusals import REFUSALS, Unauthenticated
from etl_aws import approval, job_ages, reminders, unpublish
from etl_aws.approval import ReasonRequired, ReviewLinkInvalid, ReviewLinkUsed
from etl_aws.config import ApprovalApiSettings, settings
from etl_aws.errors import (
    PipelineError,
    TransientError,
)
from etl_aws.handler import lambda_handler
from etl_aws.jobs import Job
from etl_aws.models import JobStatus
from etl_aws.observability import logger

# Library DEBUG lines quote request data (route arguments hold the review token; a durable callback id is
# part of a URL): keep them off even when the function runs at DEBUG.
for _library in ("aws_lambda_powertools.event_handler", "botocore", "boto3", "urllib3"):
    logging.getLogger(_library).setLevel(logging.INFO)

JobId = Annotated[str, Path(alias="jobId", pattern=JOB_ID_PATTERN, max_length=64)]
Token = Annotated[str, Query(alias="token", max_length=128)]
SHA256_FIELD = r"^([0-9a-fA-F]{64})?$"  # a staged object's SHA-256 as the review page shows it, or empty

# Rejections recorded without a reason, where ETL_REJECT_REASON_REQUIRED=false allows them.
NO_REASON_GIVEN = "no reason given"
REASON_REQUIRED_MESSAGE = (
    'a rejection needs a reason: send a JSON body {"reason": "..."} ("comment" is accepted too)'
)

UNPUBLISH_REASON_MESSAGE = 'an unpublish needs a reason: send a JSON body {"reason": "..."}'

JSON_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


# debug=False, not the default None: with None, POWERTOOLS_DEV=1 turns debug on and the resolver prints
# every event (review tokens in query strings and forms) to stdout.
app = APIGatewayRestResolver(enable_validation=True, debug=False)


def send_lease() -> int:
    """How long this invocation may hold the right to send a decision: the time it has left to run and
    a margin, so a claim never lapses while this function may still be sending."""
    return app.lambda_context.get_remaining_time_in_millis() // 1000 + 5


# ---- operator routes (IAM) ----------------------------------------------------------------------------


def operator_identity() -> str:
    """The IAM principal that signed the request (userArn, else caller, else access key id)."""
    identity = (app.current_event.raw_event.get("requestContext") or {}).get("identity") or {}
    for key in ("userArn", "caller", "accessKey"):
        value = identity.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    raise Unauthenticated("this route needs IAM (SigV4) authentication")


def operator_principal_id() -> str | None:
    """The signer's principal id (`user`: "AIDA…", or "AROA…:session"), as S3 events name an uploader."""
    identity = (app.current_event.raw_event.get("requestContext") or {}).get("identity") or {}
    value = identity.get("user")
    return value.strip() if isinstance(value, str) and value.strip() else None


@app.get("/jobs")
def list_jobs(
    status: Annotated[JobStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=4096)] = None,
) -> JobsPage:
    operator_identity()
    jobs, next_cursor = approval.list_jobs(status, limit, cursor)
    return JobsPage(jobs=[JobListItem.of(job) for job in jobs], next_cursor=next_cursor)


@app.get("/jobs/<jobId>")
@app.get("/status/<jobId>")
def get_job(job_id: JobId) -> Job:
    operator_identity()
    return approval.get_job(job_id)


@app.post("/jobs/<jobId>/approve")
@app.post("/approve/<jobId>")
def approve(job_id: JobId, body: Annotated[ApproveRequest | None, Body()] = None) -> DecisionResponse:
    reviewer = operator_identity()
    request = body or ApproveRequest()
    _log_named_reviewer(request, reviewer)
    job, created = approval.decide(
        job_id,
        True,
        reviewer,
        request.why,
        via="iam",
        lease_seconds=send_lease(),
        staged=_presented(request),
        principal_id=operator_principal_id(),
    )
    return DecisionResponse.of(job, created)


@app.post("/jobs/<jobId>/reject")
@app.post("/reject/<jobId>")
def reject(job_id: JobId, body: Annotated[RejectRequest | None, Body()] = None) -> DecisionResponse:
    reviewer = operator_identity()
    request = body or RejectRequest()
    _log_named_reviewer(request, reviewer)
    job, created = approval.decide(
        job_id,
        False,
        reviewer,
        _rejection_reason(request),
        via="iam",
        lease_seconds=send_lease(),
        staged=_presented(request),
        principal_id=operator_principal_id(),
    )
    return DecisionResponse.of(job, created)


@app.post("/jobs/<jobId>/unpublish")
def unpublish_job(
    job_id: JobId, body: Annotated[UnpublishRequest | None, Body()] = None
) -> UnpublishResponse:
    """Take a COMPLETED job's published output back (moved under retracted/, never deleted).

    The caller's identity is checked before the body: an unsigned request is refused 403 whatever it sent."""
    operator = operator_identity()
    reason = body.reason if body else ""
    if not reason:
        raise ReasonRequired(UNPUBLISH_REASON_MESSAGE)
    job, created = unpublish.unpublish(job_id, operator, reason, via="iam")
    return UnpublishResponse.of(job, created)


def _presented(request: ApproveRequest | RejectRequest) -> dict[str, str] | None:
    """The staged-data hashes an operator's decision names (None: bound to the recorded ones)."""
    return request.staged_sha256.presented() if request.staged_sha256 else None


def _rejection_reason(request: RejectRequest) -> str:
    """The reason to record; refused with the field to send when one is required (the default)."""
    if request.why:
        return request.why
    if settings().reject_reason_required:
        raise ReasonRequired(REASON_REQUIRED_MESSAGE)
    return NO_REASON_GIVEN


def _log_named_reviewer(request: ApproveRequest | RejectRequest, principal: str) -> None:
    """A `reviewer` in the body is the caller's say-so: kept in the log beside the principal that signed."""
    if request.reviewer:
        logger.info(
            "reviewer named in the request",
            extra={"named_reviewer": request.reviewer, "principal": principal},
        )


# ---- reviewer routes (review link) ----------------------------------------------------------------------


@app.get("/review/<jobId>")
def review(job_id: JobId, token: Token = "") -> Response[str]:
    view = approval.review_view(job_id, token)
    return _html(200, review_page.review_page(view))


@app.post("/review/<jobId>")
def review_decide(
    job_id: JobId,
    decision: Annotated[Literal["approve", "reject"], Form()],
    reason: Annotated[str, Form(max_length=1000)] = "",
    token: Annotated[str, Form(max_length=128)] = "",
    sha256_records: Annotated[str, Form(pattern=SHA256_FIELD)] = "",
    sha256_rejects: Annotated[str, Form(pattern=SHA256_FIELD)] = "",
    sha256_manifest: Annotated[str, Form(pattern=SHA256_FIELD)] = "",
    link_token: Token = "",
) -> Response[str]:
    # The page's forms post to the link itself, so the token comes in the query string; JSON clients
    # may send it in the body instead. The page's forms carry the hashes of the staged data it showed:
    # a decision on data that changed since is refused (409).
    if decision == "reject" and not reason.strip() and not settings().reject_reason_required:
        reason = NO_REASON_GIVEN
    shown = {"records": sha256_records, "rejects": sha256_rejects, "manifest": sha256_manifest}
    job, created = approval.decide(
        job_id,
        decision == "approve",
        approval.REVIEW_LINK_REVIEWER,
        reason,
        via="review_link",
        token=token or link_token,
        lease_seconds=send_lease(),
        staged={name: value for name, value in shown.items() if value},
    )
    if _wants_html():
        decided = job.decision
        if decided is None:  # an approval recorded, more needed (N-of-M)
            page = review_page.approval_recorded_page(
                job.job_id, job.approvals, job.approvals_required, created
            )
            return _html(200, page)
        return _html(200, review_page.result_page(job.job_id, decided, created))
    return _json(200, ReviewDecisionResponse.of(job, created).model_dump(mode="json"))


# ---- errors ---------------------------------------------------------------------------------------------


@app.exception_handler(list(REFUSALS))
def refused(exc: PipelineError) -> Response:
    status, title, text = REFUSALS[next(c for c in type(exc).__mro__ if c in REFUSALS)]
    if status >= 500:
        logger.warning("request not completed", extra={"error": exc.code})
    if _wants_html():
        decision = exc.decision if isinstance(exc, ReviewLinkUsed) else None
        return _html(status, review_page.message_page(title, text, decision))
    message = text if isinstance(exc, TransientError) else exc.message
    return _error(status, exc.code, message)


@app.exception_handler(RequestValidationError)
def invalid_request(exc: RequestValidationError) -> Response:
    # Field locations and pydantic's messages only: never the submitted values.
    problems = [f"{_field(err.get('loc', ()))}: {err.get('msg', 'invalid')}" for err in exc.errors()]
    message = "; ".join(problems)[:500] or "the request is not valid"
    if _wants_html():
        if app.current_event.http_method.upper() == "GET":
            _, title, text = REFUSALS[ReviewLinkInvalid]
            return _html(400, review_page.message_page(title, text))
        return _html(400, review_page.message_page("The form is incomplete", message))
    return _error(400, "invalid_request", message)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if len(parts) > 1 and parts[0] in ("body", "query", "path"):
        parts = parts[1:]
    return ".".join(parts) or "request"


@app.exception_handler(RequestUnsupportedContentType)
def unsupported_content_type(_: RequestUnsupportedContentType) -> Response:
    return _error(415, "unsupported_media_type", "send application/json or a form")


@app.not_found
def not_found(_: NotFoundError) -> Response:
    if _wants_html():
        return _html(404, review_page.message_page("Not found", "There is no such page."))
    return _error(404, "not_found", "no such route")


@app.exception_handler(Exception)
def unexpected(exc: Exception) -> Response:
    # The type and where it happened; not the message, which may quote a request parameter.
    frames = [
        f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}"
        for f in traceback.extract_tb(exc.__traceback__)
    ]
    logger.error("unexpected error", extra={"error_type": type(exc).__name__, "frames": frames[-5:]})
    if _wants_html():
        return _html(500, review_page.message_page("Something went wrong", "Please try again later."))
    return _error(500, "internal_error", "internal error")


# ---- responses ------------------------------------------------------------------------------------------


def _wants_html() -> bool:
    """Review routes answer browsers with pages, and JSON clients with JSON."""
    event = app.current_event
    path = event.raw_event.get("resource") or event.path or ""
    if not (path.startswith("/review/") or (event.path or "").startswith("/review/")):
        return False
    if event.http_method.upper() == "GET":
        return True
    content_type = (event.headers.get("content-type") or "").lower()
    return not content_type.startswith("application/json")


def _html(status: int, page: str) -> Response:
    return Response(
        status_code=status,
        content_type=review_page.HTML_CONTENT_TYPE,
        body=page,
        headers=dict(review_page.PAGE_HEADERS),
    )


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps(body, separators=(",", ":")),
        headers=dict(JSON_HEADERS),
    )


def _error(status: int, code: str, message: str) -> Response:
    return _json(status, {"error": code, "message": message})


def _with_default_headers(response: dict[str, Any]) -> dict[str, Any]:
    """Every answer, page or JSON, gets the security headers (a page's own policy stands)."""
    if "multiValueHeaders" in response:
        headers = response["multiValueHeaders"]
        for name, value in JSON_HEADERS.items():
            headers.setdefault(name, [value])
    else:
        headers = response.setdefault("headers", {})
        for name, value in JSON_HEADERS.items():
            headers.setdefault(name, value)
    return response


@lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point. The event is never logged, whatever POWERTOOLS_LOGGER_LOG_EVENT or
    POWERTOOLS_DEV say (`lambda_handler` pins that): it carries review tokens.

    The monitoring schedule invokes it too, to publish the jobs' ages (etl_aws.job_ages) and send the
    reminders that are due (etl_aws.reminders)."""
    if job_ages.is_schedule(event):
        published = job_ages.publish(settings().jobs_table)
        return published | {"reminders": reminders.sweep(settings(ApprovalApiSettings))}
    return _with_default_headers(app.resolve(event, context))
