"""Job ids: deterministic from the object's identity, short, safe as an execution name, readable."""

from __future__ import annotations

import json
import re
from urllib.parse import quote_plus

import pytest

from etl_aws import events, identity
from etl_aws.models import ObjectRef

SAFE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def ref(key: str = "uploads/sales.csv", **kw: str | None) -> ObjectRef:
    fields = {"bucket": "raw-bucket", "key": key, "version_id": "v1", "etag": "e1", "sequencer": "s1"} | kw
    return ObjectRef(**fields)


def test_the_same_event_delivered_twice_gives_the_same_id() -> None:
    body = json.dumps(
        {
            "Records": [
                {
                    "eventSource": "aws:s3",
                    "eventName": "ObjectCreated:Put",
                    "s3": {
                        "bucket": {"name": "raw-bucket"},
                        "object": {"key": quote_plus("uploads/q1 sales.csv"), "versionId": "v9", "eTag": "e"},
                    },
                }
            ]
        }
    )

    first = [identity.job_id(r) for r in events.object_refs(json.loads(body))]
    second = [identity.job_id(r) for r in events.object_refs(json.loads(body))]

    assert first == second


def test_an_s3_notification_and_an_eventbridge_event_for_one_version_give_one_id() -> None:
    s3 = ref(key="uploads/q1.csv", version_id="v9", etag="e", sequencer="s")
    eventbridge = ref(key="uploads/q1.csv", version_id="v9", etag="e", sequencer="other-sequencer")

    assert identity.job_id(s3) == identity.job_id(eventbridge)


def test_the_same_file_name_under_two_prefixes_gives_two_ids() -> None:
    assert identity.job_id(ref("uploads/eu/sales.csv")) != identity.job_id(ref("uploads/us/sales.csv"))


def test_a_reupload_of_the_same_key_gives_a_new_id() -> None:
    assert identity.job_id(ref(version_id="v1")) != identity.job_id(ref(version_id="v2"))


def test_the_same_key_in_another_bucket_gives_another_id() -> None:
    assert identity.job_id(ref(bucket="raw-a")) != identity.job_id(ref(bucket="raw-b"))


def test_without_versioning_the_etag_and_sequencer_identify_the_upload() -> None:
    first = ref(version_id=None, etag="e1", sequencer="s1")

    assert identity.job_id(first) == identity.job_id(ref(version_id=None, etag="e1", sequencer="s1"))
    assert identity.job_id(first) != identity.job_id(ref(version_id=None, etag="e1", sequencer="s2"))
    assert identity.job_id(first) != identity.job_id(ref(version_id=None, etag="e2", sequencer="s1"))


@pytest.mark.parametrize(
    "key",
    [
        "uploads/sales.csv",
        "uploads/monthly report (final) v2.csv",
        "uploads/a+b=c%20d.csv",
        "uploads/données/été 2024.csv",
        "uploads/日本語.csv",
        "uploads/.csv",
        "uploads/" + "x" * 900 + ".csv",
        "uploads/" + "é" * 300 + ".csv",
        "uploads/----.csv",
    ],
)
def test_ids_are_at_most_64_safe_characters(key: str) -> None:
    job_id = identity.job_id(ref(key))

    assert SAFE.match(job_id), job_id


def test_the_id_starts_with_a_readable_hint_of_the_file_name() -> None:
    assert identity.job_id(ref("uploads/2024/Q1 sales.csv")).startswith("Q1-sales-")


def test_long_names_keep_a_readable_prefix_and_still_differ() -> None:
    long_a = identity.job_id(ref("uploads/" + "quarterly-report-" * 10 + "a.csv"))
    long_b = identity.job_id(ref("uploads/" + "quarterly-report-" * 10 + "b.csv"))

    assert long_a.startswith("quarterly-report-")
    assert long_a != long_b
    assert len(long_a) == len(long_b) == 64
