"""The pipeline steps against moto: results, records, objects, idempotence, file errors, AWS errors."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

from etl_aws import contract as C
from etl_aws import identity, steps, tokens
from etl_aws.config import ApprovalRequestSettings
from etl_aws.errors import FileRejected, InvalidTransition, TransientError
from etl_aws.jobs import JobsRepository
from etl_aws.models import Decision, JobStatus, ObjectRef, Outcome, StartRequest
from tests.integration.etl_aws_support import (
    MAX_RESULT_BYTES,
    Crash,
    client_error,
    csv_bytes,
    faulty,
    faulty_table,
    job_state,
    jsonl,
    mail,
    objects,
    run_to_loaded,
    run_to_pending,
    serialized_size,
    shared_botocore_models,
    start_request,
    subscribe_queue,
    upload,
    versions,
)

CALLBACK = "callback-id-7d2f0c91"
APPROVAL = Decision(approved=True, reviewer="alice", reason="fine", decided_at="2025-01-01T00:00:00Z")


@pytest.fixture(autouse=True, scope="module")
def _models_parsed_once() -> Iterator[None]:
    with shared_botocore_models():
        yield


@pytest.fixture
def cfg(aws: Any) -> ApprovalRequestSettings:
    return aws.settings(C.DURABLE)


@pytest.fixture
def repo(cfg: ApprovalRequestSettings) -> JobsRepository:
    return JobsRepository(cfg.jobs_table)


def everything(aws: Any, cfg: ApprovalRequestSettings, ref: ObjectRef) -> dict[str, Any]:
    """What a step leaves behind: the current objects of both buckets and the job item, secrets included."""
    state: dict[str, Any] = {bucket: objects(aws, bucket) for bucket in (ref.bucket, cfg.output_bucket)}
    table = aws.session.resource("dynamodb").Table(cfg.jobs_table)
    state["items"] = table.scan(ConsistentRead=True)["Items"]
    return state


# ---- the happy path -------------------------------------------------------------------------------


def test_steps_carry_references_and_counts_from_upload_to_approval(
    aws: Any, cfg: ApprovalRequestSettings, repo: JobsRepository
) -> None:
    body = csv_bytes(rows=200, bad_ratio=0.05)
    ref = upload(aws, "uploads/2024/sales.csv", body)
    job_id = identity.job_id(ref)

    extracted = steps.extract(start_request(ref), cfg)
    assert extracted.source.version_id == ref.version_id
    assert extracted.source.etag == ref.etag
    assert extracted.source.size == len(body)
    assert repo.get(job_id).status == JobStatus.EXTRACTED

    transformed = steps.transform(extracted, cfg)
    assert transformed.counts.rows == 200
    assert transformed.counts.valid + transformed.counts.rejected == 200
    assert sum(transformed.reasons.values()) == transformed.counts.rejected > 0
    assert transformed.records_key == f"staging/{job_id}/records.jsonl"
    staged = objects(aws, cfg.output_bucket, f"staging/{job_id}/")
    assert len(jsonl(staged[transformed.records_key])) == transformed.counts.valid
    assert len(jsonl(staged[transformed.rejects_key])) == transformed.counts.rejected

    loaded = steps.load(transformed, cfg)
    manifest = json.loads(objects(aws, cfg.output_bucket, loaded.manifest_key)[loaded.manifest_key])
    assert manifest["job_id"] == job_id
    assert manifest["source"]["version_id"] == ref.version_id
    assert manifest["counts"] == transformed.counts.model_dump()
    assert manifest["files"]["records.jsonl"]["lines"] == transformed.counts.valid
    assert manifest["files"]["rejects.jsonl"]["bytes"] == len(staged[transformed.rejects_key])
    assert manifest["columns"][:2] == ["id", "name"]

    requested = steps.request_approval(loaded, CALLBACK, cfg)
    job = repo.get(job_id)
    assert job.status == JobStatus.PENDING_APPROVAL
    assert job.approval_expires_at == requested.approval_expires_at
    assert job.counts == transformed.counts.model_dump()
    assert job.outputs == {
        "records": transformed.records_key,
        "rejects": transformed.rejects_key,
        "manifest": loaded.manifest_key,
    }
    assert [h.status for h in job.history] == [
        JobStatus.RECEIVED,
        JobStatus.EXTRACTED,
        JobStatus.TRANSFORMED,
        JobStatus.LOADED,
        JobStatus.PENDING_APPROVAL,
    ]
    for result in (extracted, transformed, loaded, requested):
        assert serialized_size(result) < MAX_RESULT_BYTES


def test_step_results_stay_small_for_the_longest_keys(aws: Any, cfg: ApprovalRequestSettings) -> None:
    key = "uploads/" + "/".join(["très-long-dossier"] * 30) + "/" + "é" * 200 + ".csv"
    assert len(key.encode()) <= 1024
    ref = upload(aws, key, csv_bytes(rows=2000, bad_ratio=0.2))

    results: list[Any] = [*run_to_loaded(cfg, ref)]
    results.append(steps.request_approval(results[-1], "t" * 1024, cfg))
    results.append(steps.finalize(results[0].job_id, Outcome.APPROVED, Decision(approved=True), cfg=cfg))

    for result in results:
        assert serialized_size(result) < MAX_RESULT_BYTES, type(result).__name__


# ---- idempotence ----------------------------------------------------------------------------------


def _steps(cfg: ApprovalRequestSettings, ref: ObjectRef) -> list[tuple[str, Callable[[Any], Any]]]:
    request = start_request(ref)
    return [
        ("extract", lambda _: steps.extract(request, cfg)),
        ("transform", lambda previous: steps.transform(previous, cfg)),
        ("load", lambda previous: steps.load(previous, cfg)),
        ("request_approval", lambda previous: steps.request_approval(previous, CALLBACK, cfg)),
        ("finalize", lambda _: steps.finalize(request.job_id, Outcome.APPROVED, APPROVAL, cfg=cfg)),
    ]


def test_every_step_run_twice_gives_the_same_result_objects_and_record(
    aws: Any, cfg: ApprovalRequestSettings
) -> None:
    ref = upload(aws, "uploads/twice.csv", csv_bytes())
    queue = subscribe_queue(aws)
    previous: Any = None
    for name, step in _steps(cfg, ref):
        first = step(previous)
        state = everything(aws, cfg, ref)

        again = step(previous)

        assert again == first, name
        assert everything(aws, cfg, ref) == state, name
        previous = first
    assert len(mail(aws, queue)) == 1


@pytest.mark.parametrize(
    ("step_name", "operation", "on_call"),
    [
        ("extract", "get_object", 1),  # the head check, after the job was created
        ("transform", "put_object", 2),  # records staged, rejects not
        ("load", "put_object", 1),  # outputs checked, manifest not written
    ],
)
def test_a_step_crashed_half_way_completes_when_run_again(
    aws: Any,
    cfg: ApprovalRequestSettings,
    monkeypatch: pytest.MonkeyPatch,
    step_name: str,
    operation: str,
    on_call: int,
) -> None:
    crashed_ref = upload(aws, "uploads/crash/data.csv", csv_bytes())
    clean_ref = upload(aws, "uploads/clean/data.csv", csv_bytes())
    previous: dict[str, Any] = {"crash": None, "clean": None}
    for name, step in _steps(cfg, crashed_ref)[:3]:
        if name == step_name:
            with faulty(monkeypatch, "s3", operation, Crash(), on_call=on_call), pytest.raises(Crash):
                step(previous["crash"])
        previous["crash"] = step(previous["crash"])
    for _, step in _steps(cfg, clean_ref)[:3]:
        previous["clean"] = step(previous["clean"])

    crash_id, clean_id = identity.job_id(crashed_ref), identity.job_id(clean_ref)
    assert previous["crash"].model_dump_json().replace(crash_id, "J") == previous[
        "clean"
    ].model_dump_json().replace(clean_id, "J")
    assert job_state(aws, cfg, crash_id, crashed_ref) == job_state(aws, cfg, clean_id, clean_ref)
    assert JobsRepository(cfg.jobs_table).get(crash_id).status == JobStatus.LOADED


def test_transform_run_again_after_it_finished_does_not_read_the_source_again(
    aws: Any, cfg: ApprovalRequestSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transform that timed out after recording its result must not redo (and time out on) the file."""
    ref = upload(aws, "uploads/big-enough.csv", csv_bytes())
    extracted = steps.extract(start_request(ref), cfg)
    first = steps.transform(extracted, cfg)

    with faulty(monkeypatch, "s3", "get_object", client_error("AccessDenied", 403), times=99) as fault:
        again = steps.transform(extracted, cfg)

    assert again == first
    assert fault.calls == 0


# ---- file-level errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", "empty_file"),
        ("id,name\n1,café\n".encode("latin-1"), "not_utf8"),
        ("\ufeffid,name\n1,a\n".encode("utf-16"), "not_csv"),
        (b"id,id,name\n1,2,a\n", "duplicate_header"),
        (b"name,date\nx,2024-01-01\n", "missing_column"),
        (b"\n\n\n", "no_header"),
    ],
)
def test_a_file_refused_by_etl_core_ends_the_job_failed_with_the_reason_and_keeps_the_source(
    aws: Any, cfg: ApprovalRequestSettings, repo: JobsRepository, body: bytes, code: str
) -> None:
    ref = upload(aws, "uploads/bad file.csv", body)
    request = start_request(ref)

    with pytest.raises(FileRejected) as refused:
        steps.extract(request, cfg)

    job = repo.get(request.job_id)
    assert refused.value.code == code
    assert job.status == JobStatus.FAILED
    assert job.error == {"code": code, "message": refused.value.message}
    assert job.error["message"]
    assert objects(aws, ref.bucket, ref.key) == {ref.key: body}
    assert objects(aws, cfg.output_bucket) == {}
    with pytest.raises(FileRejected) as again:
        steps.extract(request, cfg)
    assert again.value.message == refused.value.message


def test_a_file_error_past_the_head_check_fails_the_job_in_transform_leaving_nothing_staged(
    aws: Any, cfg: ApprovalRequestSettings, repo: JobsRepository
) -> None:
    body = csv_bytes(rows=3000, bad_ratio=0) + "3001,café,x@y,2024-01-01,1,1,1\n".encode("latin-1")
    assert len(body) > 128 * 1024
    ref = upload(aws, "uploads/late-error.csv", body)
    extracted = steps.extract(start_request(ref), cfg)

    with pytest.raises(FileRejected) as refused:
        steps.transform(extracted, cfg)

    job = repo.get(extracted.job_id)
    assert job.status == JobStatus.FAILED
    assert job.error is not None
    assert job.error["code"] == "not_utf8"
    assert job.error["message"] == refused.value.message
    assert objects(aws, cfg.output_bucket) == {}
    assert aws.client("s3").list_multipart_uploads(Bucket=cfg.output_bucket).get("Uploads", []) == []
    assert objects(aws, ref.bucket, ref.key) == {ref.key: body}
    with pytest.raises(FileRejected):
        steps.load(
            steps.Transformed(
                job_id=extracted.job_id,
                source=extracted.source,
                counts=steps.Counts(),
                records_key="r",
                rejects_key="j",
            ),
            cfg,
        )


def test_a_file_over_the_size_limit_is_refused_before_reading_it(
    aws: Any, cfg: ApprovalRequestSettings, repo: JobsRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = upload(aws, "uploads/huge.csv", csv_bytes(rows=100))
    small_limit = cfg.model_copy(update={"max_file_bytes": 1000})

    with (
        faulty(monkeypatch, "s3", "get_object", AssertionError("read"), times=99) as reads,
        pytest.raises(FileRejected) as refused,
    ):
        steps.extract(start_request(ref), small_limit)

    assert refused.value.code == "file_too_large"
    assert reads.calls == 0
    assert repo.get(identity.job_id(ref)).status == JobStatus.FAILED


def test_a_source_gone_before_extract_fails_the_job(
    aws: Any, cfg: ApprovalRequestSettings, repo: JobsRepository
) -> None:
    ref = upload(aws, "uploads/deleted.csv", csv_bytes())
    aws.client("s3").delete_object(Bucket=ref.bucket, Key=ref.key, VersionId=ref.version_id)

    with pytest.raises(FileRejected) as refused:
        steps.extract(start_request(ref), cfg)

    assert refused.value.code == "source_missing"
    assert repo.get(identity.job_id(ref)).status == JobStatus.FAILED


# ---- transient and permanent AWS errors -------------------------------------------------------------

S3_ENDPOINT = "https://s3.amazonaws.com"
TRANSIENT = {
    "extract-SlowDown": ("extract", "head_object", client_error("SlowDown", 503, "HeadObject")),
    "transform-SlowDown": ("transform", "get_object", client_error("SlowDown", 503)),
    "transform-Throttling": ("transform", "get_object", client_error("ThrottlingException", 400)),
    "transform-InternalError": ("transform", "get_object", client_error("InternalError", 500)),
    "transform-bare-503": ("transform", "get_object", client_error("", 503)),
    "transform-connection-closed": (
        "transform",
        "get_object",
        ConnectionClosedError(endpoint_url=S3_ENDPOINT),
    ),
    "transform-unreachable": ("transform", "get_object", EndpointConnectionError(endpoint_url=S3_ENDPOINT)),
    "load-SlowDown": ("load", "put_object", client_error("SlowDown", 503, "PutObject")),
    "finalize-InternalError": ("finalize", "copy_object", client_error("InternalError", 500, "CopyObject")),
}


@pytest.mark.parametrize(("step_name", "operation", "error"), TRANSIENT.values(), ids=TRANSIENT.keys())
def test_transient_aws_errors_become_transient_error_and_a_retry_completes(
    aws: Any,
    cfg: ApprovalRequestSettings,
    monkeypatch: pytest.MonkeyPatch,
    step_name: str,
    operation: str,
    error: Exception,
) -> None:
    ref = upload(aws, "uploads/flaky.csv", csv_bytes(rows=50))
    previous: Any = None
    for name, step in _steps(cfg, ref):
        if name == step_name:
            # Persistent, so that the reader's own resumes (on connection errors) run out too.
            with (
                faulty(monkeypatch, "s3", operation, error, times=99),
                pytest.raises(TransientError) as raised,
            ):
                step(previous)
            assert raised.value.__cause__ is error
        previous = step(previous)
        if name == step_name:
            break
    assert previous.job_id == identity.job_id(ref)


def test_dynamodb_throttling_is_transient(
    aws: Any, cfg: ApprovalRequestSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = upload(aws, "uploads/throttled.csv", csv_bytes(rows=20))
    throttled = client_error("ProvisionedThroughputExceededException", 400, "UpdateItem")

    with faulty_table(monkeypatch, "update_item", throttled), pytest.raises(TransientError):
        steps.extract(start_request(ref), cfg)

    assert steps.extract(start_request(ref), cfg).source.version_id == ref.version_id


def test_sns_throttling_in_request_approval_is_transient_and_a_retry_notifies(
    aws: Any, cfg: ApprovalRequestSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = subscribe_queue(aws)
    _, _, loaded = run_to_loaded(cfg, upload(aws, "uploads/n.csv", csv_bytes(rows=20)))

    with (
        faulty(monkeypatch, "sns", "publish", client_error("Throttling", 400, "Publish")),
        pytest.raises(TransientError),
    ):
        steps.request_approval(loaded, CALLBACK, cfg)
    steps.request_approval(loaded, CALLBACK, cfg)

    assert len(mail(aws, queue)) == 1


@pytest.mark.parametrize("code", ["AccessDenied", "NoSuchBucket", "InvalidObjectState"])
def test_permanent_aws_errors_are_raised_as_they_are(
    aws: Any, cfg: ApprovalRequestSettings, repo: JobsRepository, monkeypatch: pytest.MonkeyPatch, code: str
) -> None:
    ref = upload(aws, "uploads/denied.csv", csv_bytes(rows=20))
    extracted = steps.extract(start_request(ref), cfg)
    denied = client_error(code, 403 if code == "AccessDenied" else 400)

    with faulty(monkeypatch, "s3", "get_object", denied), pytest.raises(ClientError) as raised:
        steps.transform(extracted, cfg)

    assert raised.value is denied
    assert not isinstance(raised.value, TransientError)
    assert repo.get(extracted.job_id).status == JobStatus.EXTRACTED


# ---- request approval -----------------------------------------------------------------------------


def test_request_approval_stores_only_a_hash_of_the_token_it_mails(
    aws: Any, cfg: ApprovalRequestSettings, repo: JobsRepository
) -> None:
    queue = subscribe_queue(aws)
    requested = run_to_pending(cfg, upload(aws, "uploads/review me.csv", csv_bytes()), CALLBACK)

    (message,) = mail(aws, queue)
    token = message["Message"].split("?token=", 1)[1].split()[0]
    secrets = repo.approval_secrets(requested.job_id)
    item = (
        aws.session.resource("dynamodb")
        .Table(cfg.jobs_table)
        .get_item(Key={"job_id": requested.job_id})["Item"]
    )

    assert len(token) == 43
    assert tokens.verify(token, secrets.review_token_hash)
    assert secrets.callback_token == CALLBACK
    assert token not in json.dumps(item, default=str)
    assert CALLBACK not in message["Message"]
    assert CALLBACK not in message["Subject"]
    assert message["MessageAttributes"]["job_id"]["Value"] == requested.job_id


def test_request_approval_run_again_with_a_new_task_token_waits_on_the_new_one_with_a_new_link(
    aws: Any, cfg: ApprovalRequestSettings, repo: JobsRepository
) -> None:
    """A retried Step Functions task gets a new task token: the decision must reach the one that waits,
    and the reviewers get a new link; the first one is kept as superseded (it answers 410, never decides)."""
    queue = subscribe_queue(aws)
    _, _, loaded = run_to_loaded(cfg, upload(aws, "uploads/retried.csv", csv_bytes()))
    steps.request_approval(loaded, "task-token-attempt-1", cfg)

    steps.request_approval(loaded, "task-token-attempt-2", cfg)

    secrets = repo.approval_secrets(loaded.job_id)
    first, second = (m["Message"].split("?token=", 1)[1].split()[0] for m in mail(aws, queue))
    assert secrets.callback_token == "task-token-attempt-2"
    assert tokens.verify(second, secrets.review_token_hash)
    assert tokens.verify_any(first, secrets.superseded_token_hashes)
    assert not tokens.verify_any(second, secrets.superseded_token_hashes)
    assert repo.get(loaded.job_id).approval_generation == 2


def test_request_approval_repeated_with_the_same_token_issues_no_new_link(
    aws: Any, cfg: ApprovalRequestSettings, repo: JobsRepository
) -> None:
    queue = subscribe_queue(aws)
    _, _, loaded = run_to_loaded(cfg, upload(aws, "uploads/repeated.csv", csv_bytes()))
    first = steps.request_approval(loaded, CALLBACK, cfg)

    again = steps.request_approval(loaded, CALLBACK, cfg)

    assert again == first
    assert len(mail(aws, queue)) == 1
    assert repo.get(loaded.job_id).approval_generation == 1


def test_request_approval_crashed_after_mailing_mails_a_fresh_link_that_works(
    aws: Any, cfg: ApprovalRequestSettings, repo: JobsRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = subscribe_queue(aws)
    _, _, loaded = run_to_loaded(cfg, upload(aws, "uploads/crashy.csv", csv_bytes()))
    # update_item calls: 1 = enter PENDING_APPROVAL with the hash, 2 = note that the mail went out.
    with faulty_table(monkeypatch, "update_item", Crash(), on_call=2), pytest.raises(Crash):
        steps.request_approval(loaded, CALLBACK, cfg)

    steps.request_approval(loaded, CALLBACK, cfg)

    first, second = (m["Message"].split("?token=", 1)[1].split()[0] for m in mail(aws, queue))
    secrets = repo.approval_secrets(loaded.job_id)
    assert tokens.verify(second, secrets.review_token_hash)
    assert not tokens.verify(first, secrets.review_token_hash)
    assert tokens.verify_any(first, secrets.superseded_token_hashes)  # visibly superseded, not unknown
    assert repo.get(loaded.job_id).notified_at


def test_request_approval_before_load_is_refused(aws: Any, cfg: ApprovalRequestSettings) -> None:
    ref = upload(aws, "uploads/early.csv", csv_bytes(rows=10))
    extracted = steps.extract(start_request(ref), cfg)

    with pytest.raises(InvalidTransition):
        steps.request_approval(
            steps.Loaded(job_id=extracted.job_id, counts=steps.Counts(), manifest_key="m"), CALLBACK, cfg
        )


# ---- version pinning and awkward keys ---------------------------------------------------------------


@pytest.mark.parametrize("event_has_version", [True, False], ids=["versioned-event", "event-without-version"])
def test_a_reupload_while_a_job_runs_does_not_change_its_output(
    aws: Any, cfg: ApprovalRequestSettings, repo: JobsRepository, event_has_version: bool
) -> None:
    first_body = csv_bytes(rows=100, seed=1)
    second_body = csv_bytes(rows=300, seed=2)
    first = upload(aws, "uploads/pinned.csv", first_body)
    ref = first if event_has_version else first.model_copy(update={"version_id": None})
    request = StartRequest(job_id=identity.job_id(ref), object=ref)
    extracted = steps.extract(request, cfg)

    second = upload(aws, "uploads/pinned.csv", second_body)
    transformed = steps.transform(extracted, cfg)
    loaded = steps.load(transformed, cfg)
    steps.request_approval(loaded, CALLBACK, cfg)
    done = steps.finalize(request.job_id, Outcome.APPROVED, Decision(approved=True), cfg=cfg)

    assert extracted.source.version_id == first.version_id
    assert transformed.counts.rows == 100
    published = objects(aws, cfg.output_bucket, f"processed/{request.job_id}/")
    assert len(jsonl(published[done.outputs["records"]])) == transformed.counts.valid
    assert objects(aws, first.bucket, done.outputs["archive"]) == {done.outputs["archive"]: first_body}
    assert objects(aws, first.bucket, "uploads/") == {"uploads/pinned.csv": second_body}
    assert versions(aws, first.bucket, "uploads/pinned.csv") == [second.version_id]


AWKWARD_KEYS = [
    "uploads/monthly report.csv",
    "uploads/a+b=c.csv",
    "uploads/100% done.csv",
    "uploads/données/été 2024 – ventes.csv",
    "uploads/2024/01/31/region=eu/deep/file.csv",
]


@pytest.mark.parametrize("key", AWKWARD_KEYS)
def test_awkward_keys_go_from_notification_to_published_output(
    aws: Any, cfg: ApprovalRequestSettings, key: str
) -> None:
    from etl_aws import events

    body = csv_bytes(rows=30)
    bucket = aws.raw_bucket(C.DURABLE)
    aws.client("s3").put_object(Bucket=bucket, Key=key, Body=body)
    queue_url = aws.resources["pipelines"][C.DURABLE]["queue_url"]
    received = aws.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    batch = {
        "Records": [
            {"messageId": m["MessageId"], "eventSource": "aws:sqs", "body": m["Body"]} for m in received
        ]
    }
    (ref,) = events.uploads(o for m in events.queue_messages(batch) for o in m.objects)

    run_to_pending(cfg, ref)
    done = steps.finalize(identity.job_id(ref), Outcome.APPROVED, Decision(approved=True), cfg=cfg)

    file_name = key.rsplit("/", 1)[1]
    assert done.status == JobStatus.COMPLETED
    assert done.outputs["archive"] == f"archive/{identity.job_id(ref)}/{file_name}"
    assert objects(aws, bucket, "archive/") == {done.outputs["archive"]: body}
    assert objects(aws, bucket, "uploads/") == {}
    published = objects(aws, cfg.output_bucket, f"processed/{identity.job_id(ref)}/")
    assert len(published) == 3


def test_register_creates_the_job_once_for_a_redelivered_event(
    aws: Any, cfg: ApprovalRequestSettings
) -> None:
    ref = upload(aws, "uploads/registered.csv", csv_bytes(rows=5))
    job_id = identity.job_id(ref)

    first = steps.register(ref, job_id, cfg)
    again = steps.register(ref, job_id, cfg)

    assert first.status == again.status == JobStatus.RECEIVED
    assert again.created_at == first.created_at
    assert again.workflow == C.DURABLE
