"""A per-column profile of the valid records, built in `process`'s one pass, and the diff of two profiles.

The profile answers "what changed since the last published version": record count, columns, per-column
null rate, numeric min/max/mean and the date range. It travels in step results and is stored on the job,
so its size is bounded: at most `MAX_PROFILE_COLUMNS` columns, names cut to `MAX_NAME_CHARS`, and the
serialized profile (and a diff of two) stays under `MAX_PROFILE_BYTES`, far below the 256 KB limit on
durable step results and Step Functions state (https://docs.aws.amazon.com/step-functions/latest/dg/
service-quotas.html).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import orjson

from etl_core.numbers import NumberError, parse_number

PROFILE_VERSION = 1
MAX_PROFILE_COLUMNS = 32
MAX_DATE_COLUMNS = 4
MAX_NAME_CHARS = 64
MAX_PROFILE_BYTES = 16 * 1024
MAX_DATE_CHARS = 32
_SHIFT_EPSILON = 1e-9


def _unique_names(keys: tuple[str, ...]) -> list[str]:
    """Column names cut to `MAX_NAME_CHARS`; a cut name that collides with another gets its position."""
    names: list[str] = []
    for i, key in enumerate(keys):
        name = key if len(key) <= MAX_NAME_CHARS else key[: MAX_NAME_CHARS - 1] + "…"
        if name in names:
            name = f"{key[: MAX_NAME_CHARS - 8]}…#{i + 1}"
        names.append(name)
    return names


_INF = float("inf")


def _round(value: float) -> float:
    return float(f"{value:.6g}")


class Profiler:
    """Collects the profile of the records passed to `observe`, one record at a time, in constant memory.

    `dates` and `numbers` are the positions the schema normalizes (values are ISO dates / numbers
    already); any other column counts as numeric while every non-empty value in it parses as a number.
    Like the row converter (etl_core.rowcode), `observe` is generated straight-line code for the columns
    at hand: a loop over columns per record would cost more than the rest of the pass."""

    def __init__(self, keys: tuple[str, ...], dates: set[int], numbers: set[int]) -> None:
        self._keys = keys[:MAX_PROFILE_COLUMNS]
        self._all_columns = len(keys)
        width = len(self._keys)
        self._count = [0]
        self._nulls = [0] * width
        # per column: [count, total, min, max], or None when the column is not numeric
        self._stats: list[list[float] | None] = [
            None if i in dates else [0, 0.0, _INF, -_INF] for i in range(width)
        ]
        self._dates = [i for i in sorted(dates) if i < width][:MAX_DATE_COLUMNS]
        self._low = dict.fromkeys(self._dates, "\uffff")
        self._high = dict.fromkeys(self._dates, "")
        self._names = _unique_names(self._keys)
        self.observe = self._compile(numbers)

    def _compile(self, numbers: set[int]) -> Callable[[dict[str, Any]], None]:
        width = len(self._keys)
        names = [f"c{i}" for i in range(width)]
        body = [f"    {', '.join(names)}, *_ = r.values()", "    k[0] += 1"]
        for i, c in enumerate(names):
            body += [f"    if {c} is None or {c} == '':", f"        n[{i}] += 1"]
            if i in self._dates:
                body += [
                    "    else:",
                    f"        if {c} < lo[{i}]:",
                    f"            lo[{i}] = {c}",
                    f"        if {c} > hi[{i}]:",
                    f"            hi[{i}] = {c}",
                ]
            elif i in numbers:
                body += ["    else:", *_update(i, c, "        ")]
            elif self._stats[i] is not None:
                body += [
                    f"    elif s[{i}] is not None:",
                    "        try:",
                    f"            {c} = int({c}) if {c}.isdigit() and {c}.isascii() and len({c}) < 19 "
                    f"else num({c})",
                    "        except NumberError:",
                    f"            s[{i}] = None",
                    "        else:",
                    *_update(i, c, "            "),
                ]
        source = "def observe(r):\n" + "\n".join(body) + "\n"
        namespace: dict[str, Any] = {
            "k": self._count,
            "n": self._nulls,
            "s": self._stats,
            "lo": self._low,
            "hi": self._high,
            "num": parse_number,
            "NumberError": NumberError,
        }
        exec(compile(source, "<etl_core profiler>", "exec"), namespace)  # noqa: S102 - trusted template
        return namespace["observe"]

    @property
    def records(self) -> int:
        return self._count[0]

    def to_dict(self) -> dict[str, Any]:
        """The profile as a small JSON-ready dict (always under `MAX_PROFILE_BYTES` serialized)."""
        records = self.records
        columns: dict[str, dict[str, Any]] = {}
        for i, name in enumerate(self._names):
            entry: dict[str, Any] = {"null_rate": _rate(self._nulls[i], records)}
            stats = self._stats[i]
            if stats is not None and stats[0] and math.isfinite(stats[1]):
                entry |= {
                    "min": _round(stats[2]),
                    "max": _round(stats[3]),
                    "mean": _round(stats[1] / stats[0]),
                }
            columns[name] = entry
        dates = {
            self._names[i]: [self._low[i][:MAX_DATE_CHARS], self._high[i][:MAX_DATE_CHARS]]
            for i in self._dates
            if self._high[i]
        }
        profile = {
            "version": PROFILE_VERSION,
            "records": records,
            "columns": columns,
            "columns_total": self._all_columns,
            "dates": dates,
        }
        assert len(orjson.dumps(profile)) < MAX_PROFILE_BYTES, "profile over its size bound"
        return profile


def _update(i: int, c: str, indent: str) -> list[str]:
    """Generated lines adding the number in variable `c` to column `i`'s [count, total, min, max]."""
    lines = [
        f"t = s[{i}]",
        "t[0] += 1",
        f"t[1] += {c}",
        f"if {c} < t[2]:",
        f"    t[2] = {c}",
        f"if {c} > t[3]:",
        f"    t[3] = {c}",
    ]
    return [indent + line for line in lines]


def _rate(count: int, total: int) -> float:
    return round(count / total, 4) if total else 0.0


def diff_profiles(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, Any]:
    """What changed from `before` (the last published version's profile; None for a first publication)
    to `after`: record delta, columns added/removed, null-rate and min/max/mean shifts, date ranges."""
    dates_after = after.get("dates", {})
    if not before:
        return {
            "first": True,
            "records": {"after": after.get("records", 0)},
            "dates": _dates(None, dates_after),
        }
    old, new = before.get("columns", {}), after.get("columns", {})
    shared = [c for c in new if c in old]
    diff = {
        "first": False,
        "records": _records(before.get("records", 0), after.get("records", 0)),
        "columns_added": [c for c in new if c not in old],
        "columns_removed": [c for c in old if c not in new],
        "null_rate": {
            c: [old[c]["null_rate"], new[c]["null_rate"]]
            for c in shared
            if _moved(old[c].get("null_rate"), new[c].get("null_rate"))
        },
        "numbers": {c: shift for c in shared if (shift := _numeric_shift(old[c], new[c]))},
        "dates": _dates(before.get("dates", {}), dates_after),
    }
    assert len(orjson.dumps(diff)) < MAX_PROFILE_BYTES, "diff over its size bound"
    return diff


def _records(before: int, after: int) -> dict[str, int]:
    return {"before": before, "after": after, "delta": after - before}


def _moved(before: Any, after: Any) -> bool:
    if before is None or after is None:
        return before is not after
    return abs(after - before) > _SHIFT_EPSILON


def _numeric_shift(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[Any]]:
    return {
        stat: [old.get(stat), new.get(stat)]
        for stat in ("min", "max", "mean")
        if (stat in old or stat in new) and _moved(old.get(stat), new.get(stat))
    }


def _dates(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    names = list(after) + [c for c in (before or {}) if c not in after]
    return {c: {"before": (before or {}).get(c), "after": after.get(c)} for c in names}


def describe_changes(diff: dict[str, Any], limit: int = 8) -> list[str]:
    """A few plain-text lines summing up `diff` (for an e-mail); at most `limit` lines."""
    if diff.get("first"):
        lines = [f"First publication of this dataset: {diff['records']['after']:,} records."]
        lines += [_date_line(c, d) for c, d in diff.get("dates", {}).items()]
        return lines[:limit]
    rec = diff["records"]
    lines = [f"Records: {rec['before']:,} → {rec['after']:,} ({rec['delta']:+,})"]
    if diff["columns_added"]:
        lines.append("Columns added: " + ", ".join(diff["columns_added"]))
    if diff["columns_removed"]:
        lines.append("Columns removed: " + ", ".join(diff["columns_removed"]))
    lines += [_date_line(c, d) for c, d in diff["dates"].items()]
    lines += [f"Null rate of {c}: {b:.1%} → {a:.1%}" for c, (b, a) in diff["null_rate"].items()]
    lines += [
        f"{c} {stat}: {_num(b)} → {_num(a)}"
        for c, shift in diff["numbers"].items()
        for stat, (b, a) in shift.items()
    ]
    if len(lines) > limit:
        lines = [*lines[: limit - 1], f"… and {len(lines) - limit + 1} more change(s)"]
    return lines


def _date_line(column: str, change: dict[str, Any]) -> str:
    return f"Date range of {column}: {_span(change.get('before'))} → {_span(change.get('after'))}"


def _span(span: list[str] | None) -> str:
    return f"{span[0]} to {span[1]}" if span else "none"


def _num(value: Any) -> str:
    return "none" if value is None else f"{value:g}"
