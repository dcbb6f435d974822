"""The local DynamoDB process's direct AttributeValue encoding answers exactly as moto's serializer does."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws
from moto.core import serialize
from moto.core.responses import ActionContext, ActionResult
from moto.core.utils import get_service_model

from etl_local import dynamodb_wire
from tests.integration.dynamodb_values import item

MODEL = get_service_model("dynamodb")


def serialized(serializer: type[serialize.ResponseSerializer], operation: str, result: Any) -> Any:
    context = ActionContext(
        MODEL,
        MODEL.operation_model(operation),
        serializer,
        SimpleNamespace(RESPONSE_KEY_PATH_TO_TRANSFORMER={}),
    )
    status, _, body = ActionResult(result).execute_result(context)
    return status, json.loads(body)


@settings(max_examples=150, deadline=None)
@given(item())
def test_get_item_answers_as_motos_serializer(found: dict[str, Any]) -> None:
    result = {"Item": found, "ConsumedCapacity": {"TableName": "t", "CapacityUnits": 0.5}}
    assert serialized(dynamodb_wire.DirectAttributeSerializer, "GetItem", result) == serialized(
        serialize.JSONSerializer, "GetItem", result
    )


@settings(max_examples=60, deadline=None)
@given(st.lists(item(), max_size=4), item())
def test_batch_get_and_query_answer_as_motos_serializer(items: list[dict[str, Any]], key: dict) -> None:
    batch = {"Responses": {"t": items}, "UnprocessedKeys": {"t": {"Keys": [key]}}}
    query = {"Items": items, "Count": len(items), "ScannedCount": len(items), "LastEvaluatedKey": key}
    for operation, result in (("BatchGetItem", batch), ("Query", query), ("UpdateItem", {"Attributes": key})):
        assert serialized(dynamodb_wire.DirectAttributeSerializer, operation, result) == serialized(
            serialize.JSONSerializer, operation, result
        ), operation


@pytest.fixture
def direct_serializer() -> Any:
    before = dict(serialize.SERVICE_SPECIFIC_SERIALIZERS)
    dynamodb_wire.install()
    yield
    serialize.SERVICE_SPECIFIC_SERIALIZERS.clear()
    serialize.SERVICE_SPECIFIC_SERIALIZERS.update(before)


@mock_aws
def test_installed_serializer_round_trips_every_type_through_boto3(direct_serializer: None) -> None:
    table = boto3.resource("dynamodb", region_name="us-east-1").create_table(
        TableName="wire",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    stored = {
        "k": "a",
        "n": 12,
        "b": b"\x00\xff",
        "flag": False,
        "none": None,
        "ss": {"x", "y"},
        "ns": {1, 2},
        "m": {"inner": [1, "two", {"deep": True}]},
    }
    table.put_item(Item=stored)
    updated = table.update_item(
        Key={"k": "a"},
        UpdateExpression="SET n = n + :one",
        ExpressionAttributeValues={":one": 1},
        ReturnValues="ALL_NEW",
    )["Attributes"]
    assert serialize.get_serializer_class("dynamodb", "json") is dynamodb_wire.DirectAttributeSerializer
    found = table.get_item(Key={"k": "a"}, ConsistentRead=True)["Item"]
    assert found == updated == {**stored, "n": 13, "b": found["b"]}
    assert found["b"].value == b"\x00\xff"
