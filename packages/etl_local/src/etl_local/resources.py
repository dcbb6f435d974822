"""Create the deployment's resources against any endpoint (moto in-process, moto server): one definition
used by the tests and the local runtime, mirroring terraform/modules/storage."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3

from etl_aws import config
from etl_aws import contract as C

REGION = "us-east-1"
ACCOUNT = "123456789012"


@dataclass(frozen=True)
class PipelineNames:
    workflow: str
    raw_bucket: str
    output_bucket: str
    queue: str
    dlq: str


@dataclass(frozen=True)
class StackNames:
    name: str = "csv-etl"

    @property
    def jobs_table(self) -> str:
        return f"{self.name}-jobs"

    @property
    def topic(self) -> str:
        return f"{self.name}-approvals"

    def pipeline(self, workflow: str) -> PipelineNames:
        base = f"{self.name}-{workflow}"
        return PipelineNames(
            workflow, f"{base}-raw", f"{base}-output", f"{base}-events", f"{base}-events-dlq"
        )


def create_jobs_table(dynamodb: Any, name: str) -> None:
    """Create the jobs table, or keep the one a restarted stack restored (with its items)."""
    try:
        _create_table(dynamodb, name)
    except dynamodb.exceptions.ResourceInUseException:
        return
    dynamodb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": C.JOBS_TTL_ATTRIBUTE}
    )


def _create_table(dynamodb: Any, name: str) -> None:
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": C.JOBS_HASH_KEY, "AttributeType": "S"},
            {"AttributeName": "status", "AttributeType": "S"},
            {"AttributeName": "updated_at", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": C.JOBS_HASH_KEY, "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": C.JOBS_STATUS_INDEX,
                "KeySchema": [
                    {"AttributeName": "status", "KeyType": "HASH"},
                    {"AttributeName": "updated_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )


def create_bucket(s3: Any, name: str) -> None:
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})


def provision(
    session: boto3.session.Session, names: StackNames, workflows: tuple[str, ...] = C.WORKFLOWS
) -> dict:
    """Create table, topic, and per pipeline: raw + output buckets, event queue + DLQ, S3 → SQS wiring
    (every object created under uploads/)."""
    s3 = session.client("s3")
    sqs = session.client("sqs")
    create_jobs_table(session.client("dynamodb"), names.jobs_table)
    topic_arn = session.client("sns").create_topic(Name=names.topic)["TopicArn"]
    out: dict[str, Any] = {"jobs_table": names.jobs_table, "topic_arn": topic_arn, "pipelines": {}}
    for workflow in workflows:
        p = names.pipeline(workflow)
        create_bucket(s3, p.raw_bucket)
        create_bucket(s3, p.output_bucket)
        dlq_url = sqs.create_queue(QueueName=p.dlq)["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        queue_url = sqs.create_queue(
            QueueName=p.queue,
            Attributes={
                "VisibilityTimeout": "120",
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"}),
            },
        )["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        s3.put_bucket_notification_configuration(
            Bucket=p.raw_bucket,
            NotificationConfiguration={
                "QueueConfigurations": [
                    {
                        "QueueArn": queue_arn,
                        "Events": ["s3:ObjectCreated:*"],
                        # Prefix only: the starter decides what a .csv (any casing) is, and records a
                        # job for anything else under uploads/ (see contract.NOTIFICATION_FILTER_RULES).
                        "Filter": {
                            "Key": {
                                "FilterRules": [
                                    {"Name": name, "Value": value}
                                    for name, value in C.NOTIFICATION_FILTER_RULES.items()
                                ]
                            }
                        },
                    }
                ]
            },
        )
        out["pipelines"][workflow] = {
            "raw_bucket": p.raw_bucket,
            "output_bucket": p.output_bucket,
            "queue_url": queue_url,
            "dlq_url": dlq_url,
        }
    return out


def env_for(
    stack: dict,
    key: str,
    api_url: str = "http://127.0.0.1:8080",
    orchestrator_arn: str = "",
    approval_timeout_seconds: int = C.DEFAULT_APPROVAL_TIMEOUT_SECONDS,
    review_config: str = "{}",
    dataset_policies: str = "",
) -> dict[str, str]:
    """The environment of function `key` (etl_aws.contract.FUNCTIONS) as Terraform sets it: exactly the
    variables its settings model reads, the optional ones at the contract's defaults."""
    workflow = C.STEP_FUNCTIONS if key.startswith("sfn-") else C.DURABLE
    values = {
        C.ENV_JOBS_TABLE: stack["jobs_table"],
        C.ENV_WORKFLOW: workflow,
        C.ENV_TOPIC_ARN: stack["topic_arn"],
        C.ENV_API_URL: api_url,
        C.ENV_ORCHESTRATOR_ARN: orchestrator_arn,
        C.ENV_APPROVAL_TIMEOUT: str(approval_timeout_seconds),
        C.ENV_MAX_FILE_BYTES: str(C.DEFAULT_MAX_FILE_BYTES),
        C.ENV_RETENTION_DAYS: str(C.DEFAULT_RETENTION_DAYS),
        C.ENV_REJECT_REASON_REQUIRED: str(C.DEFAULT_REJECT_REASON_REQUIRED).lower(),
        C.ENV_REVIEW_CONFIG: review_config,
        C.ENV_DATASET_POLICIES: dataset_policies,
    }
    names = config.FUNCTION_SETTINGS[key].env_names()
    if C.ENV_OUTPUT_BUCKET in names:
        values[C.ENV_OUTPUT_BUCKET] = stack["pipelines"][workflow]["output_bucket"]
    return {name: values[name] for name in names}
