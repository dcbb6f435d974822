"""Compile a schema and a header into one straight-line row converter.

A generic loop over column rules costs several times more per row than the work itself (loop set-up,
index lookups, `dict(zip(...))`). Like `dataclasses` and `namedtuple`, we generate the source of a
function specialized to the columns at hand; every rule it applies is the one documented in
`schema.py`, and `tests/unit` checks the generated converter against the rules row by row.

The converter returns the record (a dict, header order) or a `(reason, message)` tuple.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from etl_core import errors as E
from etl_core.dates import DateNormalizer
from etl_core.numbers import NumberError, parse_number

Converter = Callable[[list[str], int], "dict[str, Any] | tuple[str, str]"]


def short(value: str, limit: int = 40) -> str:
    """A value cut for messages, so a huge field never makes a huge reject line."""
    return value if len(value) <= limit else value[: limit - 1] + "…"


def compile_converter(
    keys: tuple[str, ...],
    required: set[int],
    dates: set[int],
    numbers: set[int],
    normalize_date: DateNormalizer,
    include_line: bool,
) -> Converter:
    """Generate `convert(row, line)` for rows of exactly `len(keys)` fields."""
    names = [f"c{i}" for i in range(len(keys))]
    body = [f"    {', '.join(names)}{',' if len(names) == 1 else ''} = row"]
    for i, key in enumerate(keys):
        c = names[i]
        label = repr(key)
        body.append(f"    {c} = {c}.strip()")
        if i in required:
            body.append(f"    if not {c}:")
            body.append(f"        return (MISSING, 'required column ' + {label!r} + ' is empty')")
        if i in dates:
            body += [
                f"    if {c}:",
                f"        d = dget({c})",
                "        if d is None:",
                f"            d = dnorm({c})",
                "        if not d:",
                f"            return (BAD_DATE, 'column ' + {label!r} + ': ' + repr(short({c})) + "
                "' is not a valid date')",
                f"        {c} = d",
                "    else:",
                f"        {c} = None",
            ]
        elif i in numbers:
            body += [
                f"    if {c}:",
                f"        if {c}.isdigit() and {c}.isascii() and len({c}) < 19:",
                f"            {c} = int({c})",
                "        else:",
                "            try:",
                f"                f = float({c})",
                "            except ValueError:",
                "                f = None",
                f"            if f is not None and f - f == 0.0 and not f.is_integer() and {c}.isascii() "
                f"and '_' not in {c}:",
                f"                {c} = f",
                "            else:",
                "                try:",
                f"                    {c} = num({c})",
                "                except NumberError as exc:",
                f"                    return (exc.code, 'column ' + {label!r} + ': ' + repr(short({c})) + "
                "' is not a finite number')",
                "    else:",
                f"        {c} = None",
            ]
    fields = ", ".join(f"{key!r}: {names[i]}" for i, key in enumerate(keys))
    if include_line:
        fields += ", '_line': line"
    body.append(f"    return {{{fields}}}")
    source = "def convert(row, line):\n" + "\n".join(body) + "\n"
    namespace: dict[str, Any] = {
        "MISSING": E.MISSING_REQUIRED,
        "BAD_DATE": E.BAD_DATE,
        "NumberError": NumberError,
        "num": parse_number,
        "dget": normalize_date.cache.get,
        "dnorm": normalize_date,
        "short": short,
    }
    exec(compile(source, "<etl_core row converter>", "exec"), namespace)  # noqa: S102 - trusted template
    return namespace["convert"]
