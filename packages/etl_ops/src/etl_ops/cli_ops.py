"""`etl upload`, `etl jobs start|retry|cancel`, `etl dlq list|redrive`: files in, stuck or failed starts out.

Each acts on the local stack or on a deployment named by `--outputs` (see etl_ops.target).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, urlsplit

from etl_ops import dlq
from etl_ops.target import Pipeline, Target, TargetError, resolve

PIPELINES = ("durable", "sfn")
# A single PutObject takes up to 5 GB: https://docs.aws.amazon.com/AmazonS3/latest/userguide/upload-objects.html
MAX_PUT_BYTES = 5 * 1024**3


def cmd_upload(args: argparse.Namespace) -> int:
    """Put FILE in the raw bucket of a pipeline (under uploads/ by default); print the job id it starts."""
    from etl_aws import contract as C
    from etl_aws import events

    path = Path(args.file)
    if not path.is_file():
        raise TargetError(f"no file {path}")
    if path.stat().st_size > MAX_PUT_BYTES:
        raise TargetError(f"{path} is over 5 GB, the most one PutObject takes")
    where = resolve(args)
    pipeline = where.pipeline(args.pipeline)
    key = args.key or f"{C.UPLOAD_PREFIX}{path.name}"
    with path.open("rb") as body:
        put = where.client("s3").put_object(Bucket=pipeline.raw_bucket, Key=key, Body=body)
    ref = _ref(pipeline.raw_bucket, key, put.get("VersionId"), put.get("ETag"))
    print(f"uploaded s3://{ref.bucket}/{key} ({pipeline.workflow})")
    if not events.is_upload(ref):
        print(f"note: only keys under {C.UPLOAD_PREFIX} ending in {C.UPLOAD_SUFFIX} start a job")
        return 0
    print(_job_id(ref) or "job id: known once S3 notifies the pipeline (the bucket is not versioned)")
    return 0


def cmd_jobs_start(args: argparse.Namespace) -> int:
    """Start the job of an object already in a raw bucket, as its S3 notification would have.

    The pipeline's queue gets the message S3 sends (https://docs.aws.amazon.com/AmazonS3/latest/userguide/
    notification-content-structure.html), so the starter derives the same job id from the same object
    version: starting an object whose job already runs is a no-op."""
    from etl_aws import events

    bucket, key = parse_s3_uri(args.uri)
    where = resolve(args)
    pipeline = where.pipeline_of_bucket(bucket)
    ref = _head(where, bucket, key, args.version_id)
    if not events.is_upload(ref):
        raise TargetError(
            f"s3://{bucket}/{key} is not a CSV under uploads/: the pipeline does not process it"
        )
    job_id = _job_id(ref)
    if job_id is None:
        raise TargetError("the bucket is not versioned: the job id of an unversioned object is S3's to give")
    where.client("sqs").send_message(QueueUrl=pipeline.queue_url, MessageBody=json.dumps(s3_event(ref)))
    print(f"start requested for s3://{bucket}/{key} ({pipeline.workflow}, version {ref.version_id})")
    print(job_id)
    return 0


def cmd_jobs_retry(args: argparse.Namespace) -> int:
    """Start a new attempt at a FAILED job (see etl_ops.retry for what an attempt is)."""
    from etl_ops.cli_jobs import api_client
    from etl_ops.retry import retry

    where = resolve(args)
    new_id, started = retry(where, api_client(where), args.job_id)
    print(f"retry of {args.job_id} {'started' if started else 'was already started'}")
    print(new_id)
    return 0


def cmd_jobs_cancel(args: argparse.Namespace) -> int:
    """Cancel one job, or every job waiting for a decision (see etl_ops.cancel for what a cancel does)."""
    from etl_ops import cancel

    if bool(args.job_id) == bool(args.all_waiting):
        raise TargetError("name one job id, or pass --all-waiting")
    if args.pipeline and not args.all_waiting:
        raise TargetError("--pipeline goes with --all-waiting")
    where = resolve(args)
    repo = cancel.repository(where)
    by = cancel.operator(where)
    if args.job_id:
        print(cancel.cancel(where, repo, args.job_id, by, args.reason).line())
        return 0
    waiting = cancel.waiting_jobs(repo, args.pipeline)
    refused = 0
    for job in waiting:
        try:
            print(cancel.cancel(where, repo, job.job_id, by, args.reason).line())
        except TargetError as exc:  # decided or ended since it was listed: that ending stands
            refused += 1
            print(f"not cancelled: {exc.code}")
    print(f"{len(waiting) - refused} waiting job(s) cancelled, {refused} refused")
    return 1 if refused else 0


def cmd_dlq(args: argparse.Namespace) -> int:
    """List the dead-letter queues' messages (what they name, never their bodies), or move them back."""
    where = resolve(args)
    pipelines = [where.pipeline(args.pipeline)] if args.pipeline else list(where.pipelines.values())
    sqs = where.client("sqs")
    if args.dlq_action == "redrive":
        return _redrive(sqs, pipelines)
    listing = {p.workflow: dlq.peek(sqs, _dlq_url(p), args.limit) for p in pipelines}
    if args.json:
        print(json.dumps({w: [m.to_dict() for m in found] for w, found in listing.items()}, indent=2))
        return 0
    for workflow, found in listing.items():
        print(f"{workflow}: {len(found)} message(s) in the dead-letter queue")
        for message in found:
            print(f"  {message.line()}")
    return 0


def _redrive(sqs: Any, pipelines: list[Pipeline]) -> int:
    for pipeline in pipelines:
        moved = dlq.redrive(sqs, _dlq_url(pipeline), pipeline.queue_url)
        print(f"{pipeline.workflow}: {moved} message(s) moved back to the event queue")
    return 0


def _dlq_url(pipeline: Pipeline) -> str:
    if not pipeline.dlq_url or not pipeline.queue_url:
        raise TargetError(
            f"the {pipeline.workflow} queues are unknown: pass --outputs with queue_urls, dlq_urls"
        )
    return pipeline.dlq_url


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/key` → (bucket, key); a clear error for anything else."""
    parts = urlsplit(uri)
    if parts.scheme != "s3" or not parts.netloc or not parts.path.strip("/"):
        raise TargetError(f"expected s3://bucket/key, got {uri!r}")
    return parts.netloc, parts.path[1:]


def s3_event(ref: Any) -> dict[str, Any]:
    """The notification S3 sends for an ObjectCreated:Put of `ref` (the key URL-encoded, as S3 does)."""
    obj: dict[str, Any] = {"key": quote_plus(ref.key), "size": ref.size, "eTag": ref.etag or ""}
    if ref.version_id:
        obj["versionId"] = ref.version_id
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": ref.bucket}, "object": obj},
            }
        ]
    }


def _ref(bucket: str, key: str, version_id: str | None, etag: str | None, size: int | None = None) -> Any:
    from etl_aws.models import ObjectRef

    return ObjectRef(
        bucket=bucket, key=key, version_id=version_id, etag=(etag or "").strip('"') or None, size=size
    )


def _head(where: Target, bucket: str, key: str, version_id: str | None) -> Any:
    from botocore.exceptions import ClientError

    extra = {"VersionId": version_id} if version_id else {}
    try:
        head = where.client("s3").head_object(Bucket=bucket, Key=key, **extra)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise TargetError(f"s3://{bucket}/{key}: {code}") from None
    return _ref(bucket, key, head.get("VersionId"), head.get("ETag"), head.get("ContentLength"))


def _job_id(ref: Any) -> str | None:
    """The job id S3's notification of this object version gives (None without a version id)."""
    from etl_aws import identity

    return identity.job_id(ref) if ref.version_id else None


def _where_options(parser: argparse.ArgumentParser, region: bool = True) -> None:
    parser.add_argument("--outputs", metavar="JSON", help="`terraform output -json` of a deployment")
    if region:  # `etl jobs` has its own --region
        parser.add_argument(
            "--region", help="region of a deployment (default: the profile's, else us-east-1)"
        )


def add_parsers(commands: Any, job_actions: Any) -> None:
    """`etl upload`, `etl jobs start|retry|cancel`, `etl dlq list|redrive`."""
    upload = commands.add_parser("upload", help="put a CSV in a pipeline's raw bucket (starts a job)")
    upload.add_argument("file")
    upload.add_argument("--pipeline", choices=PIPELINES, help="default: durable, or the only one")
    upload.add_argument("--key", help="object key (default uploads/<file name>)")
    _where_options(upload)
    upload.set_defaults(func=cmd_upload)

    start = job_actions.add_parser("start", help="start the job of an object already uploaded")
    start.add_argument("uri", metavar="s3://bucket/key")
    start.add_argument("--version-id", help="that object version (default: the current one)")
    _where_options(start, region=False)
    start.set_defaults(func=cmd_jobs_start)

    again = job_actions.add_parser("retry", help="start a new attempt at a FAILED job (a new job id)")
    again.add_argument("job_id")
    _where_options(again, region=False)
    again.set_defaults(func=cmd_jobs_retry)

    stop = job_actions.add_parser(
        "cancel", help="stop a job before its decision: CANCELLED, nothing published, source archived"
    )
    stop.add_argument("job_id", nargs="?")
    stop.add_argument("--all-waiting", action="store_true", help="every job waiting for a decision")
    stop.add_argument("--pipeline", choices=PIPELINES, help="with --all-waiting: only this pipeline's")
    stop.add_argument("--reason", default="", help="recorded with the job")
    _where_options(stop, region=False)
    stop.set_defaults(func=cmd_jobs_cancel)

    queues = commands.add_parser("dlq", help="the pipelines' dead-letter queues")
    actions = queues.add_subparsers(dest="dlq_action", required=True)
    listing = actions.add_parser("list", help="what each message names (never its body)")
    listing.add_argument("--limit", type=int, default=100, help="messages per queue (default 100)")
    listing.add_argument("--json", action="store_true")
    redrive = actions.add_parser("redrive", help="move every message back to its event queue")
    for action in (listing, redrive):
        action.add_argument("--pipeline", choices=PIPELINES, help="default: every pipeline")
        _where_options(action)
        action.set_defaults(func=cmd_dlq)
