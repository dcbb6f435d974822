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
    review_link: str  # "" for a message without one (a reminder)
    to: str = ""  # the `recipient` attribute: the named reviewer or escalation address ("" shared)

    @property
    def token(self) -> str:
        return parse_qs(urlsplit(self.review_link).query).get("token", [""])[0]


class Outbox:
    """Reads the approval topic through a subscribed queue; keeps, prints and files every e-mail.

    One per mailbox: the shared one, and one per named reviewer or escalation address (its subscription's
    filter policy lets only that address's messages through, as SNS does for an e-mail subscription)."""

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        directory: Path,
        echo: Callable[[str], None] | None,
        address: str = "",
    ) -> None:
        self.address = address
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
            to = f" to {self.address}" if self.address else ""
            self.echo(f"[e-mail{to}] {mail.subject}\n         review: {mail.review_link or '-'}")

    def mails(self, job_id: str) -> list[Mail]:
        with self._lock:
            return list(self._mails.get(job_id, []))

    def wait_for(self, job_id: str, timeout: float = 30.0, reminder: bool = False) -> Mail:
        """The latest review e-mail (with its link) about `job_id`, or with `reminder` the latest reminder
        (no link), waiting up to `timeout` seconds for one."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                found = [m for m in self._mails.get(job_id, []) if bool(m.review_link) != reminder]
                if found:
                    return found[-1]
                left = deadline - time.monotonic()
                if left <= 0:
                    what = "reminder" if reminder else "e-mail"
                    raise TimeoutError(f"no {what} about job {job_id} within {timeout} s")
                self._lock.wait(left)


def subscribe_mailbox(
    session: Any,
    topic_arn: str,
    queue: str,
    policy: dict[str, Any],
    directory: Path,
    echo: Callable[[str], None] | None,
    address: str = "",
) -> Outbox:
    """A queue subscribed to the topic under the filter `policy` (scope MessageAttributes), and its Outbox."""
    sqs = session.client("sqs")
    url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    attributes = {"FilterPolicy": json.dumps(policy), "FilterPolicyScope": "MessageAttributes"}
    session.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, Attributes=attributes)
    return Outbox(session.client("sqs"), url, directory, echo, address)


def parse_notification(body: str) -> Mail | None:
    """An SNS envelope (as delivered to an SQS subscriber) → the e-mail, when it is about a job (a review
    link, or a `job_id` attribute)."""
    try:
        envelope = json.loads(body)
    except ValueError:
        return None
    message = str(envelope.get("Message", ""))
    match = _REVIEW_LINK.search(message)
    attributes = envelope.get("MessageAttributes") or {}
    job_id = (attributes.get("job_id") or {}).get("Value") or (match["job"] if match else None)
    if not job_id:
        return None
    to = str((attributes.get("recipient") or {}).get("Value") or "")
    subject = str(envelope.get("Subject") or "")
    return Mail(job_id, subject, message, match.group(0) if match else "", to)
