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
                refs.append(_from_s3_record(record["s3"]))
        else:
            raise EventError("record is neither an S3 nor an SQS record")
    return refs


def queue_messages(event: dict[str, Any]) -> list[QueueMessage]:
    """An SQS batch, message by message, so a starter can report failures per message."""
    messages = []
    for record in event.get("Records", []):
        message = QueueMessage(message_id=record.get("messageId", ""))
        try:
            body = _json(record.get("body", ""))
            if "Message" in body and body.get("Type") == "Notification":  # S3 → SNS → SQS
                body = _json(body["Message"])
            message.objects = object_refs(body)
        except (EventError, KeyError, TypeError) as exc:
            message.error = f"unreadable message: {exc}"
        messages.append(message)
    return messages


def is_upload(ref: ObjectRef) -> bool:
    """The pipeline's own filter, applied again in code: `uploads/` and `.csv` (case-insensitive)."""
    return ref.key.startswith(C.UPLOAD_PREFIX) and ref.key.lower().endswith(C.UPLOAD_SUFFIX)


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


def _from_s3_record(s3: dict[str, Any]) -> ObjectRef:
    obj = s3["object"]
    return ObjectRef(
        bucket=s3["bucket"]["name"],
        key=unquote_plus(obj["key"]),
        version_id=obj.get("versionId") or None,
        etag=(obj.get("eTag") or "").strip('"') or None,
        size=obj.get("size"),
        sequencer=obj.get("sequencer"),
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
