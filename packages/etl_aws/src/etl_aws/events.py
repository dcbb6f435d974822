"""Turn S3 notifications (direct, via SQS, or EventBridge "Object Created") into object references."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from etl_aws import contract as C
from etl_aws.models import ObjectRef


class EventError(ValueError):
    """The event is not one we understand."""


@dataclass
class QueueMessage:
    """One SQS message of a batch and the objects it announces (empty for S3 test events)."""

    message_id: str
    objects: list[ObjectRef] = field(default_factory=list)
    error: str | None = None


def object_refs(event: dict[str, Any]) -> list[ObjectRef]:
    """Every object named by an S3 notification, an SQS batch of them, or an EventBridge event."""
    if event.get("detail-type") == "Object Created" and event.get("source") == "aws.s3":
        return [_from_eventbridge(event["detail"])]
    records = event.get("Records")
    if not isinstance(records, list):
        if event.get("Event") == "s3:TestEvent":
            return []
        raise EventError("event has neither Records nor an EventBridge Object Created detail")
    refs: list[ObjectRef] = []
    for record in records:
        if record.get("eventSource") == "aws:sqs":
            refs.extend(object_refs(_json(record.get("body", ""))))
        elif "s3" in record:
            if str(record.get("eventName", "ObjectCreated")).startswith("ObjectCreated"):
                refs.append(_from_s3_record(record["s3"], record.get("userIdentity")))
        else:
            raise EventError("record is neither an S3 nor an SQS record")
    return refs


def queue_messages(event: dict[str, Any]) -> list[QueueMessage]:
    """An SQS batch, message by message, so a starter can report failures per message.

    Whatever shape a message body has, reading it never raises: an unreadable message carries `error`
    and its neighbours are read as usual."""
    records = event.get("Records") if isinstance(event, dict) else None
    messages = []
    for record in records if isinstance(records, list) else []:
        message_id = record.get("messageId", "") if isinstance(record, dict) else ""
        message = QueueMessage(message_id=str(message_id))
        try:
            message.objects = _message_objects(record)
        except Exception as exc:  # any shape at all: one bad message must not fail its batch
            message.error = f"unreadable message: {type(exc).__name__}: {str(exc)[:300]}"
        messages.append(message)
    return messages


def _message_objects(record: Any) -> list[ObjectRef]:
    if not isinstance(record, dict):
        raise EventError("SQS record is not an object")
    body = _json(record.get("body", ""))
    if "Message" in body and body.get("Type") == "Notification":  # S3 → SNS → SQS
        body = _json(body["Message"])
    return object_refs(body)


def is_upload(ref: ObjectRef) -> bool:
    """The pipeline's own filter: under `uploads/` and ending in `.csv` in any casing (`.CSV` too)."""
    return ref.key.startswith(C.UPLOAD_PREFIX) and ref.key.lower().endswith(C.UPLOAD_SUFFIX)


def is_folder_placeholder(ref: ObjectRef) -> bool:
    """A zero-byte "folder" the S3 console creates (`uploads/2025/`): not a file, nothing to do."""
    return ref.key.endswith("/")


def is_unsupported_upload(ref: ObjectRef) -> bool:
    """An object under `uploads/` that is neither a CSV nor a folder placeholder: refused visibly."""
    return ref.key.startswith(C.UPLOAD_PREFIX) and not is_upload(ref) and not is_folder_placeholder(ref)


def uploads(refs: Iterable[ObjectRef]) -> list[ObjectRef]:
    return [r for r in refs if is_upload(r)]


def _json(text: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(text, dict):
        return text
    try:
        value = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise EventError(f"body is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise EventError("body is not a JSON object")
    return value


def _from_s3_record(s3: dict[str, Any], user: Any = None) -> ObjectRef:
    """One record of an S3 notification; `user` is its userIdentity (the uploader's principal id):
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html"""
    obj = s3["object"]
    principal = user.get("principalId") if isinstance(user, dict) else None
    return ObjectRef(
        bucket=s3["bucket"]["name"],
        key=unquote_plus(obj["key"]),
        version_id=obj.get("versionId") or None,
        etag=(obj.get("eTag") or "").strip('"') or None,
        size=obj.get("size"),
        sequencer=obj.get("sequencer"),
        uploader=str(principal) if principal else None,
    )


def _from_eventbridge(detail: dict[str, Any]) -> ObjectRef:
    obj = detail["object"]
    return ObjectRef(
        bucket=detail["bucket"]["name"],
        key=unquote_plus(obj["key"]),  # URL-encoded like S3 notifications (as Powertools decodes it)
        version_id=obj.get("version-id") or None,
        etag=(obj.get("etag") or "").strip('"') or None,
        size=obj.get("size"),
        sequencer=obj.get("sequencer"),
    )
