"""moto's SQS receive without a scan of the whole queue for every message it hands out.

moto 5.2.5 checks each message a ReceiveMessage takes against the queue's retention period through
`get_queue_attributes(["MessageRetentionPeriod"])`, which builds every attribute of the queue three
times — `ApproximateNumberOfMessages` among them, a pass over all its messages. A receive of 10 then
walked the queue 30 times, so the cost of a receive grew with the backlog and a run's with its square:
when the 2,000 uploads of the 1,000-document experiment queued faster than they were processed, it was
the main moto process's hot spot (py-spy).

`install()` reads the retention period from the queue itself: the same number (moto keeps it as an
int), the same rule (a message is delivered only before `sent + retention`), one attribute read.
Installed in the moto process serving SQS (etl_local.moto_process) and in the tests' in-process moto.
"""

from __future__ import annotations

from typing import Any

from moto.sqs import models


def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
    """True while `message` is within its queue's retention period (moto's rule, one attribute read)."""
    retention = self.get_queue(queue_name).message_retention_period
    return retention + message.sent_timestamp / 1000 > models.unix_time()


def install() -> None:
    """Check retention without building the queue's attributes (idempotent)."""
    models.SQSBackend.is_message_valid_based_on_retention_period = (  # type: ignore[method-assign]
        is_message_valid_based_on_retention_period
    )
