"""SQS batch of S3 notifications → one durable execution per object, through the orchestrator's alias."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from etl_aws import starter
from etl_aws.observability import logger


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return starter.handle_batch(event)
