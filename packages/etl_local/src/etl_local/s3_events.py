"""S3 event notifications as AWS sends them.

moto's ObjectCreated notification omits `versionId` and `sequencer`; AWS sends `versionId` for a
versioned bucket and always a `sequencer`. Without them a re-upload of the same content under the same
key would look like a redelivery of the first event, so the local runtime completes the record. It also adds
`userIdentity.principalId`, which AWS always sends (the uploader, "AWS:" + the IAM user or role id:
https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html); every local call
is signed by the local operator, so that is who uploaded.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

_lock = threading.Lock()
_counter = itertools.count()


def _sequencer() -> str:
    with _lock:
        return f"{time.time_ns():016X}{next(_counter) % 0x10000:04X}"


UPLOADER_PRINCIPAL_ID = "AWS:AIDALOCALOPERATOR0001"  # etl_local.runtime_reads.OPERATOR_PRINCIPAL_ID


def complete_s3_notifications() -> Callable[[], None]:
    """Patch moto's notification builder; returns the function that restores it."""
    from moto.s3 import notifications

    original = notifications._get_s3_event

    def _get_s3_event(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
        event = original(event_name, bucket, key, notification_id)
        for record in event.get("Records", []):
            record.setdefault("userIdentity", {"principalId": UPLOADER_PRINCIPAL_ID})
            obj = record.get("s3", {}).get("object", {})
            version = getattr(key, "version_id", None)
            if version and version != "null":
                obj.setdefault("versionId", version)
            obj.setdefault("sequencer", _sequencer())
        return event

    notifications._get_s3_event = _get_s3_event

    def restore() -> None:
        notifications._get_s3_event = original

    return restore
