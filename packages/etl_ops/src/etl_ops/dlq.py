"""A pipeline's dead-letter queue: what its messages name, and moving them back to the event queue.

Messages land there after the starter failed them maxReceiveCount times
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html).
AWS's own redrive (StartMessageMoveTask) is not served by moto, so a redrive here is receive, send to the
source queue, then delete: at least once, as every SQS consumer is, and harmless since the starter derives
the same job id from the same object and a duplicate start is a no-op.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

BATCH = 10  # the most one ReceiveMessage / SendMessageBatch / DeleteMessageBatch takes
HOLD_SECONDS = 30  # messages stay hidden while a listing or a redrive works on them


@dataclass(frozen=True)
class Summary:
    """One dead-lettered message, without its body: S3 events carry requester details, not for display."""

    message_id: str
    sent_at: str
    receive_count: int
    objects: list[str] = field(default_factory=list)
    problem: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        named = ", ".join(self.objects) or self.problem or "no object"
        return f"{self.message_id}  sent {self.sent_at}  received {self.receive_count}x  {named}"


def summarize(message: dict[str, Any]) -> Summary:
    """The objects a message names (s3://bucket/key?versionId=...), or why it cannot be read."""
    from etl_aws import events

    attributes = message.get("Attributes", {})
    sent_ms = int(attributes.get("SentTimestamp", "0"))
    sent = datetime.fromtimestamp(sent_ms / 1000, UTC).isoformat(timespec="seconds") if sent_ms else "?"
    parsed = events.queue_messages(
        {"Records": [{"messageId": message["MessageId"], "body": message["Body"]}]}
    )
    objects = [
        f"s3://{ref.bucket}/{ref.key}" + (f"?versionId={ref.version_id}" if ref.version_id else "")
        for ref in parsed[0].objects
    ]
    return Summary(
        message_id=message["MessageId"],
        sent_at=sent,
        receive_count=int(attributes.get("ApproximateReceiveCount", "0")),
        objects=objects,
        problem=parsed[0].error or "",
    )


def _receive(sqs: Any, queue_url: str, count: int) -> list[dict[str, Any]]:
    return sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=min(BATCH, count),
        VisibilityTimeout=HOLD_SECONDS,
        WaitTimeSeconds=1,
        MessageSystemAttributeNames=["SentTimestamp", "ApproximateReceiveCount"],
    ).get("Messages", [])


def peek(sqs: Any, queue_url: str, limit: int = 100) -> list[Summary]:
    """Up to `limit` messages, each once; they are made visible again right after being read."""
    seen: dict[str, Summary] = {}
    handles: list[str] = []
    try:
        while len(seen) < limit:
            batch = [m for m in _receive(sqs, queue_url, limit - len(seen)) if m["MessageId"] not in seen]
            if not batch:
                break
            for message in batch:
                seen[message["MessageId"]] = summarize(message)
                handles.append(message["ReceiptHandle"])
    finally:
        _release(sqs, queue_url, handles)
    return list(seen.values())


def _release(sqs: Any, queue_url: str, handles: list[str]) -> None:
    for start in range(0, len(handles), BATCH):
        entries = [
            {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0}
            for i, handle in enumerate(handles[start : start + BATCH])
        ]
        sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)


def redrive(sqs: Any, dlq_url: str, queue_url: str) -> int:
    """Move every message of the dead-letter queue back to the event queue; returns how many moved.

    A message is deleted from the dead-letter queue only once the event queue has accepted it."""
    moved = 0
    while batch := _receive(sqs, dlq_url, BATCH):
        entries = [{"Id": str(i), "MessageBody": m["Body"]} for i, m in enumerate(batch)]
        sent = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries).get("Successful", [])
        done = [{"Id": s["Id"], "ReceiptHandle": batch[int(s["Id"])]["ReceiptHandle"]} for s in sent]
        if done:
            sqs.delete_message_batch(QueueUrl=dlq_url, Entries=done)
        moved += len(done)
        if len(done) < len(batch):
            break  # the event queue refused some: they reappear in the dead-letter queue to be retried
    return moved
