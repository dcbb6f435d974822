"""The local DynamoDB's copy-free paths answer and store exactly what moto's own paths do."""

from __future__ import annotations

import copy
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from moto.dynamodb.models.dynamo_type import Item

from etl_local import dynamodb_copies
from tests.integration.dynamodb_values import item, scalar

# Short names from a few letters, so that projection paths and nested keys meet often.
NAMES = st.text(alphabet="abcxyz", min_size=1, max_size=3)
attributes = item(NAMES, max_size=5)


def _paths(attrs: dict[str, Any]) -> list[list[str]]:
    """Projection paths into `attrs` as moto parses them: top-level names, list elements, nested keys,
    and one name that is absent."""
    paths: list[list[str]] = [["absent"]]
    for name, value in attrs.items():
        paths.append([name])
        if value.get("L"):
            paths.append([f"{name}[0]"])
        if "M" in value:
            paths += [[name, key] for key in value["M"]]
    return paths


@settings(max_examples=200, deadline=None)
@given(attributes, st.data())
def test_projection_keeps_what_motos_projection_keeps(attrs: dict[str, Any], data: st.DataObject) -> None:
    item = Item(hash_key=None, range_key=None, attrs=copy.deepcopy(attrs))
    paths = data.draw(st.lists(st.sampled_from(_paths(attrs)), min_size=1, max_size=4))

    ours = dynamodb_copies.project(item, paths).to_json()
    motos = dynamodb_copies.MOTO_PROJECT(item, paths).to_json()

    assert ours == motos
    assert item.to_json()["Attributes"] == Item(None, None, copy.deepcopy(attrs)).to_json()["Attributes"]


UPDATES = [
    ("SET a = :v", {":v": {"S": "new"}}),
    ("SET m.k = :v", {":v": {"N": "7"}}),
    ("SET l = list_append(if_not_exists(l, :empty), :h)", {":empty": {"L": []}, ":h": {"L": [{"S": "h"}]}}),
    ("REMOVE a", {}),
    ("ADD n :one", {":one": {"N": "1"}}),
    ("SET m = :v", {":v": {"M": {"k": {"S": "x"}, "j": {"L": [{"BOOL": True}]}}}}),
]
RETURN_VALUES = ["NONE", "ALL_NEW", "ALL_OLD", "UPDATED_OLD", "UPDATED_NEW"]


@pytest.fixture(scope="module")
def tables() -> Any:
    """One table with a stream (moto's own path: its record needs the old item) and one without."""
    dynamodb_copies.install()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        spec = {
            "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
        }
        client.create_table(
            TableName="streamed",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
            **spec,
        )
        client.create_table(TableName="plain", **spec)
        yield client


def _update(
    client: Any, table: str, key: str, update: str, values: dict, returns: str, condition: str
) -> Any:
    request: dict[str, Any] = {
        "TableName": table,
        "Key": {"k": {"S": key}},
        "UpdateExpression": update,
        "ReturnValues": returns,
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    if condition:
        request["ConditionExpression"] = condition
    if values:
        request["ExpressionAttributeValues"] = values
    try:
        answer = client.update_item(**request)
    except ClientError as exc:
        return exc.response["Error"]["Code"], exc.response.get("Item")
    answer.pop("ResponseMetadata")
    answer.pop("ConsumedCapacity", None)  # names the table
    return answer


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.fixed_dictionaries({"a": scalar, "n": st.integers(0, 9).map(lambda v: {"N": str(v)})}),
    st.lists(
        st.tuples(st.sampled_from(UPDATES), st.sampled_from(RETURN_VALUES), st.booleans()),
        min_size=1,
        max_size=6,
    ),
)
def test_updates_answer_and_store_as_moto_does(tables: Any, start: dict, steps: list) -> None:
    client, key = tables, f"item-{id(steps)}"
    for table in ("streamed", "plain"):
        client.put_item(TableName=table, Item={"k": {"S": key}, **start})
    for (update, values), returns, conditional in steps:
        condition = "attribute_exists(n)" if conditional else ""
        assert _update(client, "plain", key, update, values, returns, condition) == _update(
            client, "streamed", key, update, values, returns, condition
        ), (update, returns)
    stored = [
        client.get_item(TableName=table, Key={"k": {"S": key}}, ConsistentRead=True)["Item"]
        | {"k": {"S": key}}
        for table in ("streamed", "plain")
    ]
    assert stored[0] == stored[1]


def test_update_without_old_values_copies_no_item(tables: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The saving is real: an update answering NONE or ALL_NEW on a table without a stream copies no item,
    while one answering old values (or feeding a stream) still does."""
    copied: list[str] = []
    real = copy.deepcopy

    def counting(value: Any, memo: Any = None) -> Any:
        if isinstance(value, Item):
            copied.append("item")
        return real(value, memo)

    monkeypatch.setattr(copy, "deepcopy", counting)
    client = tables
    for table in ("plain", "streamed"):
        client.put_item(TableName=table, Item={"k": {"S": "counted"}, "n": {"N": "1"}})

    def copies(table: str, returns: str) -> int:
        copied.clear()
        _update(client, table, "counted", "ADD n :one", {":one": {"N": "1"}}, returns, "")
        return len(copied)

    assert copies("plain", "NONE") == copies("plain", "ALL_NEW") == 0
    assert copies("plain", "ALL_OLD") == copies("plain", "UPDATED_NEW") == 2
    assert copies("streamed", "NONE") == 2
