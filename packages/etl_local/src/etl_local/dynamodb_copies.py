"""moto's DynamoDB without the whole-item copies its answer does not need.

In the local runtime's DynamoDB process (py-spy, 400 documents per pipeline) two moto 5.2.5 paths spent
most of their time copying whole items, which grow with a job (~5.6 KB, 30 attributes, nested lists and
maps):
- `Item.project` (every read with a ProjectionExpression: the watchers' batch reads) converts the *whole*
  item to plain Python, deep copy included, once per projected path, to keep a few attributes;
- `UpdateItem` deep-copies the item twice before the update: once for the old values a `ReturnValues` of
  ALL_OLD / UPDATED_OLD / UPDATED_NEW answers with, once for the table's stream record. With ReturnValues
  NONE or ALL_NEW and no stream on the table, neither copy is read (4.5 ms of a 5.5 ms update on this
  machine).

`install()` projects from the top-level attributes the paths name, and skips those two copies exactly when
nothing reads them: the answers and the stored items are moto's own, which the tests compare
(tests/integration/test_dynamodb_copies.py) for generated items and every ReturnValues. Installed in the
moto process serving DynamoDB (etl_local.moto_process) and in the tests' in-process moto.
"""

from __future__ import annotations

import copy
import functools
import re
import types
from contextvars import ContextVar
from typing import Any

from botocore.utils import merge_dicts
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb import responses as dynamodb_responses
from moto.dynamodb.models import dynamo_type
from moto.dynamodb.models.dynamo_type import Item
from moto.dynamodb.models.utilities import find_nested_key

# The ReturnValues whose answer needs no copy of the item as it was before the update.
_NO_OLD_VALUES = frozenset({"NONE", "ALL_NEW"})
_LIST_ELEMENT = re.compile(r"(.+)\[(\d+)\]$")  # as moto's find_nested_key reads a path's first part
_skip_item_copies: ContextVar[bool] = ContextVar("skip_item_copies", default=False)
MOTO_PROJECT = Item.project  # moto's own, kept for comparison


class _Copies(types.ModuleType):
    """Stands in for the `copy` module inside moto's DynamoDB handler and backend: while an update's
    old item is not read, the copy of it is None (what moto answers with when there was no item)."""

    def __init__(self) -> None:
        super().__init__("copy")

    def deepcopy(self, value: Any, memo: dict[int, Any] | None = None) -> Any:
        if _skip_item_copies.get() and isinstance(value, Item):
            return None
        return copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def project(self: Item, projection_expressions: list[list[str]]) -> Item:
    """moto's `Item.project`, converting only the top-level attributes the paths start from."""
    roots: set[str] = set()
    for path in projection_expressions:
        roots.add(path[0])
        element = _LIST_ELEMENT.match(path[0])
        if element:
            roots.add(element.group(1))
    regular = {
        name: dynamo_type.deserializer.deserialize(value.to_regular_json())
        for name, value in self.attrs.items()
        if name in roots
    }
    result: dict[str, Any] = {}
    for path in projection_expressions:
        merge_dicts(result, find_nested_key(path, regular))
    return Item(
        hash_key=self.hash_key,
        range_key=self.range_key,
        attrs=dynamo_type.serializer.serialize(result)["M"],
    )


def _has_stream(handler: Any) -> bool:
    try:
        return handler.dynamodb_backend.get_table(handler.body["TableName"]).stream_shard is not None
    except Exception:  # an unknown table: moto's own path answers the error
        return True


def install() -> None:
    """Use the copy-free paths in this process (idempotent)."""
    if getattr(Item.project, "copy_free", False):
        return
    project.copy_free = True  # type: ignore[attr-defined]
    Item.project = project  # type: ignore[method-assign]
    copies = _Copies()
    dynamodb_responses.copy = copies  # type: ignore[attr-defined]
    dynamodb_models.copy = copies  # type: ignore[attr-defined]
    original = dynamodb_responses.DynamoHandler.update_item

    @functools.wraps(original)
    def update_item(self: Any) -> Any:
        lean = self.body.get("ReturnValues", "NONE") in _NO_OLD_VALUES and not _has_stream(self)
        token = _skip_item_copies.set(lean)
        try:
            return original(self)
        finally:
            _skip_item_copies.reset(token)

    dynamodb_responses.DynamoHandler.update_item = update_item  # type: ignore[method-assign]
