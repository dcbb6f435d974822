"""Background pollers: the SQS event source mapping of each pipeline, and the e-mail outbox."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from etl_aws.observability import logger
from etl_local.resources import REGION

WAIT_SECONDS = 1  # long-poll length: bounds how long stop() waits for a poller
_REVIEW_LINK = re.compile(r"https?://\S+/review/(?P<job>[A-Za-z0-9_.-]+)\?token=\S+")


class Poller(threading.Thread):
    """Repeats `poll_once` until stopped; an error is logged and the loop goes on after a pause."""

    def __init__(self, name: str, poll_once: Callable[[], None], pause: float = 0.2) -> None:
        super().__init__(name=name, daemon=True)
        self._poll_once = poll_once
        self._pause = pause
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._poll_once()
            except Exception:
                if self._stopping.is_set():
                    return
                logger.exception("local poller failed", extra={"poller": self.name})
                self._stopping.wait(self._pause * 5)

    def signal_stop(self) -> None:
        self._stopping.set()

    def stop(self, timeout: float = WAIT_SECONDS + 5) -> None:
        self._stopping.set()
        if self.is_alive():
            self.join(timeout)


class EventSourceMapping:
    """Receives batches from a queue, invokes the starter with them, deletes what it did not report failed."""

    def __init__(self, sqs: Any, queue_url: str, queue_arn: str, invoke: Callable[[dict], Any]) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.invoke = invoke
        self.batches = 0
        # SQS requests that moved messages (receives that returned some, deletes). Empty long polls are
        # left out: their number depends on how long the runtime idles, not on the workflows.
        self.requests = 0

    def poll_once(self) -> None:
        received = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=WAIT_SECONDS,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not received:
            return
        self.requests += 1
        event = {"Records": [self._record(m) for m in received]}
        try:
            response = self.invoke(event) or {}
        except Exception:
            logger.exception("starter failed: the batch returns to the queue after its visibility timeout")
            return
        self.batches += 1
        failed = {f.get("itemIdentifier") for f in response.get("batchItemFailures", [])}
        done = [m for m in received if m["MessageId"] not in failed]
        if done:
            self.requests += 1
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": message.get("MessageAttributes", {}),
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": REGION,
        }


@dataclass(frozen=True)
class Mail:
    """One approval e-mail as SNS would have sent it."""

    job_id: str
    subject: str
    body: str
    review_link: str

    @property
    def token(self) -> str:
        return parse_qs(urlsplit(self.review_link).query).get("token", [""])[0]


class Outbox:
    """Reads the approval topic through a subscribed queue; keeps, prints and files every e-mail."""

    def __init__(self, sqs: Any, queue_url: str, directory: Path, echo: Callable[[str], None] | None) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.directory = directory
        self.echo = echo
        self._mails: dict[str, list[Mail]] = {}
        self._lock = threading.Condition()

    def poll_once(self) -> None:
        received = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=WAIT_SECONDS
        ).get("Messages", [])
        for message in received:
            mail = parse_notification(message["Body"])
            if mail is not None:
                self._deliver(mail)
        if received:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)],
            )

    def _deliver(self, mail: Mail) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        text = f"Subject: {mail.subject}\n\n{mail.body}\n"
        (self.directory / f"{mail.job_id}.txt").write_text(text, encoding="utf-8")
        with self._lock:
            self._mails.setdefault(mail.job_id, []).append(mail)
            self._lock.notify_all()
        if self.echo:
            self.echo(f"[e-mail] {mail.subject}\n         review: {mail.review_link}")

    def mails(self, job_id: str) -> list[Mail]:
        with self._lock:
            return list(self._mails.get(job_id, []))

    def wait_for(self, job_id: str, timeout: float = 30.0) -> Mail:
        """The latest e-mail about `job_id`, waiting up to `timeout` seconds for one."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not self._mails.get(job_id):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no e-mail about job {job_id} within {timeout} s")
                self._lock.wait(left)
            return self._mails[job_id][-1]


def parse_notification(body: str) -> Mail | None:
    """An SNS envelope (as delivered to an SQS subscriber) → the e-mail, when it carries a review link."""
    try:
        envelope = json.loads(body)
    except ValueError:
        return None
    message = str(envelope.get("Message", ""))
    match = _REVIEW_LINK.search(message)
    if not match:
        return None
    attributes = envelope.get("MessageAttributes") or {}
    job_id = (attributes.get("job_id") or {}).get("Value") or match["job"]
    return Mail(job_id, str(envelope.get("Subject") or ""), message, match.group(0))
