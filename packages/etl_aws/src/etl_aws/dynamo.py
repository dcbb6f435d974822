"""DynamoDB expression building and item conversion for the jobs table (no table access here)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from etl_aws.models import JobStatus


def set_clauses(fields: dict[str, Any]) -> tuple[dict[str, str], dict[str, Any], list[str]]:
    """Placeholder names, values and `#fN = :vN` clauses of a SET for `fields` (`summary` kept as JSON)."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    sets: list[str] = []
    for i, (name, value) in enumerate(fields.items()):
        if name == "summary":
            name, value = "summary_json", json.dumps(value, separators=(",", ":"))
        names[f"#f{i}"] = name
        values[f":v{i}"] = value
        sets.append(f"#f{i} = :v{i}")
    return names, values, sets


def status_in(statuses: Iterable[JobStatus], names: dict[str, str], values: dict[str, Any]) -> str:
    """`#status IN (...)` for a condition expression, adding its names and values."""
    names["#status"] = "status"
    placeholders = []
    for i, status in enumerate(statuses):
        values[f":status{i}"] = status.value
        placeholders.append(f":status{i}")
    return "#status IN (" + ", ".join(placeholders) + ")"


def conditional_failed(exc: ClientError) -> bool:
    """True when a write was refused by its condition expression (and nothing else went wrong)."""
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def plain(value: Any) -> Any:
    """DynamoDB's Decimals back to int/float, recursively."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
