"""DynamoDB responses of the local moto process, with item attributes encoded directly.

moto 5.2.5 serializes every response by walking the botocore shape of each value through a generic
attribute picker. For DynamoDB that walk is the hot spot of the local runtime: every item attribute is an
`AttributeValue` structure of ten members, each looked up under two spellings, recursively for maps and
lists — about a third of the DynamoDB process's time in the 100-document run (py-spy), more than the
reads and writes themselves. Yet moto already holds items in DynamoDB's wire form (`{"S": "x"}`,
`{"M": {...}}`), so an `AttributeValue` needs only its leaves encoded as the JSON protocol encodes them.

`DirectAttributeSerializer` does that for `AttributeValue` and leaves every other shape to moto's
serializer, so a response differs from moto's in nothing but the time it takes to produce: the test
(tests/integration/test_dynamodb_wire.py) compares both for generated items of every attribute type.
Installed inside the moto process serving DynamoDB (etl_local.moto_process).
"""

from __future__ import annotations

from typing import Any

from moto.core import serialize

ATTRIBUTE_VALUE = "AttributeValue"
_STRINGS = ("S", "N")
_STRING_SETS = ("SS", "NS")
_BOOLEANS = ("BOOL", "NULL")


class DirectAttributeSerializer(serialize.JSONSerializer):
    """moto's JSON serializer, with `AttributeValue` encoded without the shape walk."""

    def _serialize_type_structure(self, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if shape.name == ATTRIBUTE_VALUE and isinstance(value, dict):
            self._default_serialize(serialized, self._attribute(value), shape, key)
            return
        super()._serialize_type_structure(serialized, value, shape, key)

    def _attribute(self, value: dict[str, Any]) -> dict[str, Any]:
        """One AttributeValue as the JSON protocol writes it (members that are None are left out)."""
        out: dict[str, Any] = {}
        for kind, member in value.items():
            if member is None:
                continue
            if kind in _STRINGS:
                out[kind] = _string(member)
            elif kind in _BOOLEANS:
                out[kind] = member
            elif kind == "B":
                out[kind] = self._base64(member)
            elif kind in _STRING_SETS:
                out[kind] = [_string(v) for v in member]
            elif kind == "BS":
                out[kind] = [self._base64(v) for v in member]
            elif kind == "M":
                out[kind] = {k: self._attribute(v) for k, v in member.items()}
            elif kind == "L":
                out[kind] = [self._attribute(v) for v in member]
        return out


def _string(value: Any) -> Any:
    """As moto's JSON serializer writes a string member."""
    return str(value) if value not in (None, {}, []) else value


def install() -> None:
    """Serialize DynamoDB's JSON responses with `DirectAttributeSerializer` in this process."""
    serialize.SERVICE_SPECIFIC_SERIALIZERS.setdefault("dynamodb", {})["json"] = DirectAttributeSerializer


def atomic_requests() -> None:
    """Apply each DynamoDB request atomically, as the service does for an item's conditional write
    (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/WorkingWithItems.html#WorkingWithItems.ConditionalUpdate).
    moto checks a condition, then writes, with no lock between: two requests served at once by the server's
    thread pool could both pass the condition. One lock around each request restores the guarantee."""
    import threading

    from moto.dynamodb.responses import DynamoHandler

    lock = threading.Lock()
    original = DynamoHandler.call_action

    def call_action(self: Any) -> Any:
        with lock:
            return original(self)

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
