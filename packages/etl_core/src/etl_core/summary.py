"""The small result of a run: counts, per-reason counts, columns and a few sample records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from etl_core.schema import MAX_SAMPLE_VALUE_CHARS, MAX_SAMPLES

MAX_SUMMARY_BYTES = 4096


@dataclass(slots=True)
class Summary:
    """What `process` did. `rows == valid + rejected` always holds."""

    rows: int = 0
    valid: int = 0
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)
    bytes_read: int = 0
    # Per-column profile (etl_core.profile), kept out of `to_dict`: it has its own, larger size bound.
    profile: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict guaranteed to serialize under 4 KB (samples are trimmed to fit)."""
        data = {
            "rows": self.rows,
            "valid": self.valid,
            "rejected": self.rejected,
            "reasons": dict(sorted(self.reasons.items())),
            "columns": [_clip(c) for c in self.columns][:64],
            "samples": [_clip_record(s) for s in self.samples[:MAX_SAMPLES]],
            "bytes_read": self.bytes_read,
        }
        while len(orjson.dumps(data)) > MAX_SUMMARY_BYTES and data["samples"]:
            data["samples"].pop()
        while len(orjson.dumps(data)) > MAX_SUMMARY_BYTES and len(data["columns"]) > 1:
            data["columns"] = data["columns"][: len(data["columns"]) // 2]
        return data

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict())


def _clip(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_SAMPLE_VALUE_CHARS:
        return value[: MAX_SAMPLE_VALUE_CHARS - 1] + "…"
    return value


def _clip_record(record: dict[str, Any]) -> dict[str, Any]:
    return {_clip(k): _clip(v) for k, v in list(record.items())[:32]}
