"""The local DynamoDB handles one request at a time: an item operation is atomic, as in AWS."""

from __future__ import annotations

import threading
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend

from etl_local import dynamodb_atomic


@mock_aws
def test_a_read_waits_for_a_write_in_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    dynamodb_atomic.install()
    table = boto3.resource("dynamodb", region_name="us-east-1").create_table(
        TableName="atomic",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    table.put_item(Item={"k": "a", "n": 0})
    inside, release = threading.Event(), threading.Event()
    original = DynamoDBBackend.update_item

    def slow_update(self: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
        inside.set()
        assert release.wait(timeout=30)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "update_item", slow_update)
    read: list[Any] = []
    writer = threading.Thread(
        target=lambda: table.update_item(
            Key={"k": "a"}, UpdateExpression="SET n = :one", ExpressionAttributeValues={":one": 1}
        )
    )
    reader = threading.Thread(target=lambda: read.append(table.get_item(Key={"k": "a"})["Item"]["n"]))
    writer.start()
    assert inside.wait(timeout=30)
    reader.start()
    reader.join(timeout=0.5)
    blocked = reader.is_alive()  # the read may not run while the write is half-way
    release.set()
    writer.join()
    reader.join()
    assert blocked
    assert read == [1]  # it saw the item after the write, never during it
