"""SQS batch of S3 notifications → one durable execution per object, through the orchestrator's alias.

A duplicate event finds the execution already there and counts as success; only messages that could
not be handled are reported back (ReportBatchItemFailures), so SQS redelivers just those.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from etl_aws import starter
from etl_aws.config import DurableStarterSettings, settings
from etl_aws.handler import lambda_handler


@lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """One batch of S3 notifications → the ids of the messages SQS should deliver again."""
    return starter.handle_batch(event, settings(DurableStarterSettings))
