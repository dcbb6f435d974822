"""S3 notifications (direct, through SQS, through SNS then SQS) and EventBridge events → object references."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote_plus

import pytest

from etl_aws import events
from etl_aws.events import EventError
from etl_aws.models import ObjectRef

# Keys as they are stored in S3; notifications carry them URL-encoded (spaces as "+").
AWKWARD_KEYS = [
    "uploads/monthly report.csv",
    "uploads/a+b=c.csv",
    "uploads/100% done.csv",
    "uploads/données/été 2024 – ventes.csv",
    "uploads/2024/01/31/region=eu/deep/file.csv",
    "uploads/日本語 ファイル.csv",
]


def s3_record(
    key: str,
    bucket: str = "raw-bucket",
    version_id: str | None = "v1",
    etag: str = "0123456789abcdef",
    size: int = 42,
    sequencer: str = "0055AED6DCD90281E5",
    event_name: str = "ObjectCreated:Put",
) -> dict[str, Any]:
    obj: dict[str, Any] = {"key": quote_plus(key), "size": size, "eTag": etag, "sequencer": sequencer}
    if version_id is not None:
        obj["versionId"] = version_id
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventName": event_name,
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket}, "object": obj},
    }


def s3_notification(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


def sqs_event(*bodies: dict[str, Any] | str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"m-{i}",
                "eventSource": "aws:sqs",
                "body": body if isinstance(body, str) else json.dumps(body),
            }
            for i, body in enumerate(bodies)
        ]
    }


def eventbridge_event(key: str, version_id: str | None = "v1") -> dict[str, Any]:
    obj: dict[str, Any] = {
        "key": quote_plus(key),
        "size": 42,
        "etag": "0123456789abcdef",
        "sequencer": "00AB",
    }
    if version_id:
        obj["version-id"] = version_id
    return {
        "version": "0",
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {"version": "0", "bucket": {"name": "raw-bucket"}, "object": obj, "reason": "PutObject"},
    }


def test_s3_notification_gives_bucket_decoded_key_version_etag_size_and_sequencer() -> None:
    event = s3_notification(s3_record("uploads/my file.csv", etag='"abc123"'))

    assert events.object_refs(event) == [
        ObjectRef(
            bucket="raw-bucket",
            key="uploads/my file.csv",
            version_id="v1",
            etag="abc123",
            size=42,
            sequencer="0055AED6DCD90281E5",
        )
    ]


@pytest.mark.parametrize("key", AWKWARD_KEYS)
def test_notification_keys_are_decoded_exactly(key: str) -> None:
    (ref,) = events.object_refs(s3_notification(s3_record(key)))

    assert ref.key == key


def test_a_literal_plus_and_an_encoded_space_stay_distinct() -> None:
    plus, space = events.object_refs(
        s3_notification(s3_record("uploads/a+b.csv"), s3_record("uploads/a b.csv"))
    )

    assert (plus.key, space.key) == ("uploads/a+b.csv", "uploads/a b.csv")


def test_every_record_of_a_multi_record_notification_is_returned() -> None:
    event = s3_notification(*(s3_record(f"uploads/file-{i}.csv", version_id=f"v{i}") for i in range(5)))

    refs = events.object_refs(event)

    assert [r.key for r in refs] == [f"uploads/file-{i}.csv" for i in range(5)]
    assert [r.version_id for r in refs] == [f"v{i}" for i in range(5)]


def test_unversioned_object_has_no_version_id() -> None:
    (ref,) = events.object_refs(s3_notification(s3_record("uploads/x.csv", version_id=None)))

    assert ref.version_id is None
    assert ref.etag == "0123456789abcdef"
    assert ref.sequencer == "0055AED6DCD90281E5"


def test_records_other_than_object_created_are_skipped() -> None:
    event = s3_notification(
        s3_record("uploads/gone.csv", event_name="ObjectRemoved:Delete"),
        s3_record("uploads/new.csv", event_name="ObjectCreated:CompleteMultipartUpload"),
    )

    assert [r.key for r in events.object_refs(event)] == ["uploads/new.csv"]


def test_sqs_batch_gives_every_object_of_every_message() -> None:
    event = sqs_event(
        s3_notification(s3_record("uploads/a.csv"), s3_record("uploads/b c.csv")),
        s3_notification(s3_record("uploads/d.csv")),
    )

    assert [r.key for r in events.object_refs(event)] == ["uploads/a.csv", "uploads/b c.csv", "uploads/d.csv"]


def test_queue_messages_keeps_the_objects_of_each_message_apart() -> None:
    event = sqs_event(
        s3_notification(s3_record("uploads/a.csv"), s3_record("uploads/b.csv")),
        s3_notification(s3_record("uploads/c.csv")),
    )

    messages = events.queue_messages(event)

    assert [(m.message_id, [o.key for o in m.objects], m.error) for m in messages] == [
        ("m-0", ["uploads/a.csv", "uploads/b.csv"], None),
        ("m-1", ["uploads/c.csv"], None),
    ]


def test_queue_messages_unwraps_s3_notifications_delivered_through_sns() -> None:
    sns_envelope = {
        "Type": "Notification",
        "MessageId": "sns-1",
        "Message": json.dumps(s3_notification(s3_record("uploads/via sns.csv"))),
    }

    (message,) = events.queue_messages(sqs_event(sns_envelope))

    assert [o.key for o in message.objects] == ["uploads/via sns.csv"]


def test_queue_messages_accepts_eventbridge_events_delivered_through_sqs() -> None:
    (message,) = events.queue_messages(sqs_event(eventbridge_event("uploads/eb file.csv")))

    assert [o.key for o in message.objects] == ["uploads/eb file.csv"]


def test_unreadable_message_is_reported_without_hiding_the_others() -> None:
    event = sqs_event("not json at all", {"neither": "records"}, s3_notification(s3_record("uploads/ok.csv")))

    messages = events.queue_messages(event)

    assert [m.error is not None for m in messages] == [True, True, False]
    assert [o.key for o in messages[2].objects] == ["uploads/ok.csv"]


def test_s3_test_event_announces_nothing() -> None:
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "raw-bucket"}

    assert events.object_refs(test_event) == []
    (message,) = events.queue_messages(sqs_event(test_event))
    assert message.objects == []
    assert message.error is None


def test_eventbridge_object_created_gives_object_ref() -> None:
    assert events.object_refs(eventbridge_event("uploads/eb report.csv")) == [
        ObjectRef(
            bucket="raw-bucket",
            key="uploads/eb report.csv",
            version_id="v1",
            etag="0123456789abcdef",
            size=42,
            sequencer="00AB",
        )
    ]


@pytest.mark.parametrize("key", AWKWARD_KEYS)
def test_eventbridge_keys_are_decoded_exactly(key: str) -> None:
    (ref,) = events.object_refs(eventbridge_event(key))

    assert ref.key == key


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"Records": [{"eventSource": "aws:dynamodb"}]},
        {"source": "aws.s3", "detail-type": "Object Deleted", "detail": {}},
    ],
    ids=["empty", "foreign-record", "eventbridge-delete"],
)
def test_events_we_do_not_understand_raise_event_error(event: dict[str, Any]) -> None:
    with pytest.raises(EventError):
        events.object_refs(event)


@pytest.mark.parametrize(
    ("key", "is_upload"),
    [
        ("uploads/a.csv", True),
        ("uploads/deep/er/A.CSV", True),
        ("uploads/a.csv.gz", False),
        ("archive/uploads/a.csv", False),
        ("Uploads/a.csv", False),
        ("staging/a.csv", False),
    ],
)
def test_uploads_keeps_csv_files_under_uploads_only(key: str, is_upload: bool) -> None:
    ref = ObjectRef(bucket="b", key=key)

    assert events.is_upload(ref) is is_upload
    assert events.uploads([ref]) == ([ref] if is_upload else [])


@pytest.mark.parametrize("key", AWKWARD_KEYS)
def test_a_real_s3_notification_through_sqs_names_the_uploaded_key(aws: Any, key: str) -> None:
    """Moto's S3 sends the notification to the pipeline's queue, URL-encoded as S3 does."""
    bucket = aws.raw_bucket("durable")
    queue_url = aws.resources["pipelines"]["durable"]["queue_url"]
    put = aws.client("s3").put_object(Bucket=bucket, Key=key, Body=b"id,name\n1,a\n")
    received = aws.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    batch = {
        "Records": [
            {"messageId": m["MessageId"], "eventSource": "aws:sqs", "body": m["Body"]}
            for m in received
            if "Records" in json.loads(m["Body"])  # skip the s3:TestEvent sent when notifications are set up
        ]
    }

    refs = [o for m in events.queue_messages(batch) for o in m.objects]

    assert [(r.bucket, r.key, r.etag) for r in refs] == [(bucket, key, put["ETag"].strip('"'))]
    assert events.uploads(refs) == refs
