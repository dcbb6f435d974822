"""Both starters, message by message: one poison message fails alone (and only it reaches the DLQ), every
casing of `.csv` starts a job, and any other upload gets a visible, defined outcome.

The durable starter's Invoke is answered at the AWS boundary (moto cannot start a durable execution):
parameters are still validated against botocore's Lambda model, a second start of the same name raises
DurableExecutionAlreadyStartedException as the service does. The Step Functions starter talks to moto.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

import pytest
from botocore.awsrequest import AWSResponse

from etl_aws import clients, config, identity
from etl_aws import contract as C
from etl_aws.jobs import JobsRepository
from etl_aws.models import JobStatus, ObjectRef
from etl_core.synth import write_csv
from etl_local import pollers
from etl_local.functions import LambdaContext
from etl_local.pollers import EventSourceMapping
from etl_local.resources import env_for
from tests.integration.etl_aws_support import shared_botocore_models
from tests.integration.sfn_harness import s3_event, sqs_event

ORCHESTRATOR_ALIAS = "arn:aws:lambda:us-east-1:123456789012:function:test-durable-orchestrator:live"


@pytest.fixture(autouse=True, scope="module")
def _models_parsed_once() -> Iterator[None]:
    with shared_botocore_models():
        yield


def csv_bytes(rows: int = 5) -> bytes:
    buffer = io.BytesIO()
    write_csv(buffer, rows)
    return buffer.getvalue()


# ---- the two starters -----------------------------------------------------------------------------------


@dataclass
class DurableStarts:
    """Answers the durable starter's asynchronous Invoke of the orchestrator alias, as Lambda does."""

    names: list[str] = field(default_factory=list)
    fail_next: list[str] = field(default_factory=list)

    def install(self) -> None:
        events = clients.client("lambda").meta.events
        events.register("before-parameter-build.lambda.Invoke", self._keep)
        events.register("before-call.lambda.Invoke", self._answer)

    @staticmethod
    def _keep(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["kept"] = dict(params)

    def _answer(self, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        params = context["kept"]
        assert params["FunctionName"] == ORCHESTRATOR_ALIAS
        assert params["InvocationType"] == "Event"
        name = params["DurableExecutionName"]
        code = self.fail_next.pop(0) if self.fail_next else None
        if code is None and name in self.names:
            code = "DurableExecutionAlreadyStartedException"
        if code is not None:
            error = {
                "Error": {"Code": code, "Message": "refused"},
                "ResponseMetadata": {"HTTPStatusCode": 400},
            }
            return AWSResponse("https://lambda.test", 400, {}, None), error
        self.names.append(name)
        return AWSResponse("https://lambda.test", 202, {}, None), {"StatusCode": 202}


@dataclass
class Starter:
    """One workflow's starter function, its settings, and what it has started."""

    workflow: str
    cfg: config.StarterSettings
    handler: Callable[[dict[str, Any], Any], dict[str, Any]]
    stack: Any
    durable: DurableStarts | None = None

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        context = LambdaContext(f"test-{self.workflow}-starter", "arn:aws:lambda:us-east-1:123:function:s")
        with config.using(self.cfg):
            return self.handler(event, context)

    def started(self) -> list[str]:
        if self.durable is not None:
            return sorted(self.durable.names)
        sfn = self.stack.client("stepfunctions")
        executions = sfn.list_executions(stateMachineArn=self.cfg.orchestrator_arn)["executions"]
        return sorted(e["name"] for e in executions)

    def fail_next_start(self, code: str) -> None:
        """The next start is refused by the service with `code`."""
        if self.durable is not None:
            self.durable.fail_next.append(code)
            return
        client = clients.client("stepfunctions")
        left = [code]

        def refuse(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
            if not left:
                return None
            error = {"Error": {"Code": left.pop(), "Message": "refused"}}
            return AWSResponse("https://states.test", 400, {}, None), {
                **error,
                "ResponseMetadata": {"HTTPStatusCode": 400},
            }

        client.meta.events.register("before-call.sfn.StartExecution", refuse)

    def jobs(self) -> JobsRepository:
        return JobsRepository(self.cfg.jobs_table)

    def upload(self, key: str, body: bytes | None = None) -> ObjectRef:
        bucket = self.stack.raw_bucket(self.workflow)
        body = csv_bytes() if body is None else body
        put = self.stack.client("s3").put_object(Bucket=bucket, Key=key, Body=body)
        return ObjectRef(
            bucket=bucket, key=key, version_id=put["VersionId"], etag=put["ETag"].strip('"'), size=len(body)
        )


def _state_machine(stack: Any) -> str:
    """A state machine in moto that records executions (moto runs none unless told to)."""
    role = "arn:aws:iam::123456789012:role/test-sfn"
    definition = json.dumps({"StartAt": "Wait", "States": {"Wait": {"Type": "Pass", "End": True}}})
    return stack.client("stepfunctions").create_state_machine(
        name="test-starter-etl", definition=definition, roleArn=role
    )["stateMachineArn"]


@pytest.fixture(params=C.WORKFLOWS)
def starter(request: pytest.FixtureRequest, aws: Any) -> Starter:
    workflow = request.param
    if workflow == C.DURABLE:
        from etl_durable.starter import handler

        durable = DurableStarts()
        durable.install()
        cfg = config.DurableStarterSettings.from_env(
            env_for(aws.resources, "durable-starter", orchestrator_arn=ORCHESTRATOR_ALIAS)
        )
        return Starter(workflow, cfg, handler, aws, durable)
    from etl_sfn.starter import handler as sfn_handler

    cfg = config.SfnStarterSettings.from_env(
        env_for(aws.resources, "sfn-starter", orchestrator_arn=_state_machine(aws))
    )
    return Starter(workflow, cfg, sfn_handler, aws)


# ---- one poison message ---------------------------------------------------------------------------------


def _bad_bucket_name(ref: ObjectRef) -> dict[str, Any]:
    event = s3_event(ref)
    event["Records"][0]["s3"]["bucket"]["name"] = 12345
    return event


def _no_key(ref: ObjectRef) -> dict[str, Any]:
    event = s3_event(ref)
    del event["Records"][0]["s3"]["object"]["key"]
    return event


POISON: dict[str, Callable[[ObjectRef], dict[str, Any] | str]] = {
    "not-json": lambda ref: "not json at all",
    "json-list": lambda ref: json.dumps([s3_event(ref)]),
    "bucket-name-not-a-string": _bad_bucket_name,
    "record-not-an-object": lambda ref: {"Records": [42]},
    "records-without-s3-or-sqs": lambda ref: {"Records": [{"unexpected": True}]},
    "object-without-key": _no_key,
    "sns-envelope-with-a-list": lambda ref: {"Type": "Notification", "Message": "[1, 2]"},
}


@pytest.mark.parametrize("poison", list(POISON))
def test_one_poison_message_fails_alone_and_the_other_nine_start(starter: Starter, poison: str) -> None:
    refs = [starter.upload(f"uploads/part-{i}.csv") for i in range(9)]
    bodies: list[dict[str, Any] | str] = [s3_event(r) for r in refs]
    bodies.insert(4, POISON[poison](starter.upload("uploads/poison.csv")))
    event = sqs_event(*bodies)

    response = starter(event)

    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][4]["messageId"]}]}
    assert starter.started() == sorted(identity.job_id(r) for r in refs)


def test_a_refused_start_fails_only_its_message_and_a_redelivery_starts_it(starter: Starter) -> None:
    refs = [starter.upload(f"uploads/{name}.csv") for name in ("a", "b", "c")]
    event = sqs_event(*[s3_event(r) for r in refs])
    starter.fail_next_start("ThrottlingException")

    response = starter(event)

    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert starter.started() == sorted(identity.job_id(r) for r in refs[1:])
    assert starter(sqs_event(s3_event(refs[0]))) == {"batchItemFailures": []}
    assert starter.started() == sorted(identity.job_id(r) for r in refs)


def test_only_the_poison_message_reaches_the_dead_letter_queue(
    starter: Starter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The local event source mapping deletes handled messages and leaves failed ones; SQS (moto) moves a
    message received maxReceiveCount times to the DLQ on the next receive."""
    sqs = starter.stack.client("sqs")
    dlq = sqs.create_queue(QueueName="test-starter-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    queue = sqs.create_queue(
        QueueName="test-starter-events", Attributes={"VisibilityTimeout": "0", "RedrivePolicy": redrive}
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    refs = [starter.upload(f"uploads/good-{i}.csv") for i in range(3)]
    for ref in refs:
        sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(s3_event(ref)))
    sqs.send_message(QueueUrl=queue, MessageBody="this is not an S3 notification")
    monkeypatch.setattr(pollers, "WAIT_SECONDS", 0)
    mapping = EventSourceMapping(sqs, queue, queue_arn, starter)

    for _ in range(4):  # received twice, then moved on the third receive
        mapping.poll_once()

    assert starter.started() == sorted(identity.job_id(r) for r in refs)
    left = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    dead = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", [])
    assert left == []
    assert [m["Body"] for m in dead] == ["this is not an S3 notification"]


# ---- what an upload is ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["data.csv", "DATA.CSV", "Data.Csv", "report.cSV"])
def test_every_casing_of_csv_starts_a_job(starter: Starter, name: str) -> None:
    ref = starter.upload(f"uploads/{name}")

    assert starter(sqs_event(s3_event(ref))) == {"batchItemFailures": []}

    assert starter.started() == [identity.job_id(ref)]
    assert starter.jobs().get(identity.job_id(ref)).status == JobStatus.RECEIVED


def _metrics(out: str) -> dict[str, Any]:
    """The values of the metrics Powertools flushed (CloudWatch embedded metric format lines)."""
    values: dict[str, Any] = {}
    for line in out.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            document = json.loads(line)
            for definition in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
                values[definition["Name"]] = document[definition["Name"]]
    return values


@pytest.mark.parametrize("name", ["notes.txt", "data.csv.gz", "report.xlsx", "no-extension"])
def test_an_upload_that_is_not_a_csv_ends_failed_visibly_and_starts_nothing(
    starter: Starter, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = starter.upload(f"uploads/{name}", b"whatever")
    event = sqs_event(s3_event(ref))
    capsys.readouterr()

    first = starter(event)
    metrics = _metrics(capsys.readouterr().out)
    again = starter(event)  # a redelivery changes nothing

    assert first == again == {"batchItemFailures": []}
    assert starter.started() == []
    job = starter.jobs().get(identity.job_id(ref))
    assert job.status == JobStatus.FAILED
    assert job.error is not None
    assert job.error["code"] == C.UNSUPPORTED_FILE_TYPE
    assert ".csv" in job.error["message"]
    assert metrics.get("UnsupportedUploads") in (1.0, [1.0])
    listing = starter.stack.client("s3").list_objects_v2(Bucket=ref.bucket)["Contents"]
    assert [o["Key"] for o in listing] == [ref.key]  # the source stays where it was


@pytest.mark.parametrize("key", ["uploads/2025/", "uploads/", "elsewhere/data.csv"])
def test_folder_placeholders_and_objects_outside_uploads_are_skipped(starter: Starter, key: str) -> None:
    ref = starter.upload(key, b"")

    assert starter(sqs_event(s3_event(ref))) == {"batchItemFailures": []}

    assert starter.started() == []
    assert starter.jobs().find(identity.job_id(ref)) is None


# ---- the notification reaches the starter -----------------------------------------------------------------


@pytest.mark.parametrize("key", ["uploads/DATA.CSV", "uploads/notes.txt"])
def test_the_bucket_notifies_every_object_created_under_uploads(aws: Any, key: str) -> None:
    """The local stack's notification (as Terraform's) filters on the prefix only: S3 filters are
    case-sensitive, so a suffix filter would drop these without a trace."""
    bucket = aws.raw_bucket(C.DURABLE)
    queue_url = aws.resources["pipelines"][C.DURABLE]["queue_url"]
    aws.client("s3").put_object(Bucket=bucket, Key=key, Body=b"id,name\n1,a\n")
    aws.client("s3").put_object(Bucket=bucket, Key="elsewhere/x.csv", Body=b"id,name\n1,a\n")

    received = aws.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]

    bodies = [json.loads(m["Body"]) for m in received]
    keys = [unquote_plus(r["s3"]["object"]["key"]) for b in bodies for r in b.get("Records", [])]
    assert keys == [key]
