"""The Step Functions starter: an SQS batch of S3 events becomes one execution per object, named by job id."""

from __future__ import annotations

import io
import json

from etl_aws import identity
from etl_aws.models import ObjectRef
from etl_core.synth import write_csv
from etl_local.faults import INJECTOR, Fault, Rule, attempts
from tests.integration import sfn_harness
from tests.integration.sfn_harness import SfnPipeline, s3_event, sqs_event

sfn = sfn_harness.sfn
sfn_factory = sfn_harness.sfn_factory


def csv_bytes(rows: int = 20) -> bytes:
    buffer = io.BytesIO()
    write_csv(buffer, rows)
    return buffer.getvalue()


def execution_names(sfn: SfnPipeline) -> list[str]:
    return sorted(e["name"] for e in sfn.executions())


def message_ids(event: dict) -> list[str]:
    return [r["messageId"] for r in event["Records"]]


def test_batch_starts_one_execution_per_object_named_by_job_id(sfn: SfnPipeline) -> None:
    a = sfn.upload(csv_bytes(), "uploads/a.csv")
    b = sfn.upload(csv_bytes(), "uploads/b.csv")

    response = sfn.start(a, b)

    assert response == {"batchItemFailures": []}
    assert execution_names(sfn) == sorted([identity.job_id(a), identity.job_id(b)])
    started = json.loads(
        sfn.stepfunctions.describe_execution(executionArn=sfn.execution_arn(identity.job_id(a)))["input"]
    )
    assert started == {"job_id": identity.job_id(a), "object": a.model_dump()}
    for ref in (a, b):
        job = sfn.jobs().get(identity.job_id(ref))
        assert job.workflow == "sfn"
        assert job.source["version_id"] == ref.version_id


def test_duplicate_event_is_a_success_and_starts_nothing_more(sfn: SfnPipeline) -> None:
    ref = sfn.upload(csv_bytes())
    job_id = identity.job_id(ref)

    first = sfn.invoke_starter(sqs_event(s3_event(ref), s3_event(ref)))  # twice in one batch
    again = sfn.invoke_starter(sqs_event(s3_event(ref)))  # redelivered while it runs
    sfn.stop(job_id)
    sfn.wait_for_end(job_id)
    after_end = sfn.invoke_starter(sqs_event(s3_event(ref)))  # redelivered after it ended

    assert first == again == after_end == {"batchItemFailures": []}
    assert execution_names(sfn) == [job_id]


def test_malformed_messages_are_reported_failed_and_the_rest_of_the_batch_starts(sfn: SfnPipeline) -> None:
    ref = sfn.upload(csv_bytes())
    event = sqs_event("not json at all", {"Records": [{"unexpected": True}]}, s3_event(ref))

    response = sfn.invoke_starter(event)

    # Reported, not dropped: SQS's redrive policy moves them to the DLQ, where an operator sees them.
    ids = message_ids(event)
    assert response == {"batchItemFailures": [{"itemIdentifier": ids[0]}, {"itemIdentifier": ids[1]}]}
    assert execution_names(sfn) == [identity.job_id(ref)]


def test_failed_start_reports_only_that_message_and_a_redelivery_starts_it(
    sfn: SfnPipeline, no_backoff: list[float]
) -> None:
    refs: list[ObjectRef] = [sfn.upload(csv_bytes(), f"uploads/{name}.csv") for name in ("a", "b", "c")]
    event = sqs_event(*[s3_event(r) for r in refs])

    # the first StartExecution throttled on every attempt botocore makes
    with INJECTOR.injecting(Rule("sfn", "StartExecution", Fault.THROTTLE, times=attempts())):
        response = sfn.invoke_starter(event)

    assert response == {"batchItemFailures": [{"itemIdentifier": message_ids(event)[0]}]}
    assert execution_names(sfn) == sorted(identity.job_id(r) for r in refs[1:])

    retry = sfn.invoke_starter(sqs_event(s3_event(refs[0])))

    assert retry == {"batchItemFailures": []}
    assert execution_names(sfn) == sorted(identity.job_id(r) for r in refs)


def test_object_outside_uploads_is_ignored(sfn: SfnPipeline) -> None:
    ref = sfn.upload(csv_bytes(), "elsewhere/data.csv")

    response = sfn.start(ref)

    assert response == {"batchItemFailures": []}
    assert execution_names(sfn) == []
    assert sfn.jobs().find(identity.job_id(ref)) is None
