"""Hold `resource` and `data` blocks, read with python-hcl2, against a provider schema.

The schema is the committed extract of hashicorp/aws 6.62 written by scripts/provider_schema.py
(tests/terraform/data/aws_provider_6.62_schema.json): per type, `arguments` (name -> required |
optional), `blocks` (name -> nested schema with `nesting` single | list and `min_items`), `computed`
(read-only attributes) and `deprecated` (name -> note). No network, no terraform binary.

What counts as a mismatch: an argument or block the schema does not have, an argument written as a
block or a block as an argument, a computed-only attribute set, a single block repeated, a required
argument or block missing, a deprecated one used, an unknown `lifecycle` setting or `ignore_changes`
entry. Meta-arguments (`count`, `for_each`, `depends_on`, `provider`, `lifecycle`, provisioners)
are Terraform's, not the provider's; `dynamic "x"` is checked as block `x` with its `content`;
`timeouts` is an ordinary block of the types that declare it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
from hcl2.utils import SerializationOptions

from .tfkit import ROOT, TERRAFORM_DIR

SCHEMA_FILE = ROOT / "tests" / "terraform" / "data" / "aws_provider_6.62_schema.json"
# Blocks keep `__is_block__`, so `x { ... }` and `x = [{ ... }]` stay distinguishable.
OPTIONS = SerializationOptions(with_comments=False, explicit_blocks=True, strip_string_quotes=True)
BLOCK_MARK = "__is_block__"

# https://developer.hashicorp.com/terraform/language/meta-arguments
META_ARGUMENTS = {
    "resource": frozenset(
        {"count", "for_each", "depends_on", "provider", "lifecycle", "provisioner", "connection"}
    ),
    "data": frozenset({"count", "for_each", "depends_on", "provider", "lifecycle"}),
}
# https://developer.hashicorp.com/terraform/language/meta-arguments/lifecycle
LIFECYCLE = {
    "resource": frozenset(
        {
            "create_before_destroy",
            "prevent_destroy",
            "ignore_changes",
            "replace_triggered_by",
            "precondition",
            "postcondition",
        }
    ),
    "data": frozenset({"precondition", "postcondition"}),
}
_REFERENCE = re.compile(r"^\$\{(?P<ref>.+)\}$")


@dataclass(frozen=True)
class Finding:
    """One mismatch: where (file and address), the path inside the block, and what is wrong."""

    where: str
    path: str
    problem: str

    def __str__(self) -> str:
        return f"{self.where}: {self.path}: {self.problem}" if self.path else f"{self.where}: {self.problem}"


@cache
def load_schema(path: Path = SCHEMA_FILE) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def terraform_files(directory: Path = TERRAFORM_DIR) -> list[Path]:
    """Every .tf file of the modules and environments (test files and caches excluded)."""
    return sorted(
        p
        for p in directory.rglob("*.tf")
        if not {".terraform", "tests"} & set(p.relative_to(directory).parts)
    )


def parse_text(text: str) -> dict[str, Any]:
    return hcl2.loads(text, serialization_options=OPTIONS)


def declared_blocks(parsed: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(kind, type, name, body) of every `resource` and `data` block of one parsed file."""
    out = []
    for kind in ("resource", "data"):
        for entry in parsed.get(kind, []):
            for rtype, named in entry.items():
                if rtype == BLOCK_MARK:
                    continue
                for name, body in named.items():
                    if name != BLOCK_MARK:
                        out.append((kind, rtype, name, body))
    return out


def _is_block(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, dict) and v.get(BLOCK_MARK) for v in value)
    )


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _dynamic_blocks(body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(block name, spec) of each `dynamic "name" { ... }` directly in `body`."""
    out = []
    for entry in body.get("dynamic", []):
        for name, spec in entry.items():
            if name != BLOCK_MARK:
                out.append((name, spec))
    return out


def _check_dynamic(name: str, spec: dict[str, Any], node: dict[str, Any], path: str) -> list[tuple[str, str]]:
    where = _join(path, f'dynamic "{name}"')
    if name not in node.get("blocks", {}):
        if name in node.get("arguments", {}):
            return [(where, f"`{name}` is an argument, not a block: it cannot be dynamic")]
        return [(where, f"no block `{name}` here in the provider schema")]
    problems: list[tuple[str, str]] = []
    if name in node.get("deprecated", {}):
        problems.append((where, f"deprecated: {node['deprecated'][name]}"))
    if "for_each" not in spec:
        problems.append((where, "a dynamic block needs `for_each`"))
    unknown = set(spec) - {"for_each", "iterator", "labels", "content", BLOCK_MARK}
    if unknown:
        problems.append((where, f"unexpected in a dynamic block: {sorted(unknown)}"))
    contents = spec.get("content", [])
    if len(contents) != 1:
        problems.append((where, "a dynamic block needs exactly one `content` block"))
    for content in contents:
        problems += check_body(content, node["blocks"][name], _join(path, name), meta=frozenset())
    return problems


def _check_attribute(name: str, node: dict[str, Any], path: str) -> list[tuple[str, str]]:
    where = _join(path, name)
    if name in node.get("arguments", {}):
        note = node.get("deprecated", {}).get(name)
        return [(where, f"deprecated: {note}")] if note else []
    if name in node.get("blocks", {}):
        return [(where, f"`{name}` is a block: write `{name} {{ ... }}`, not `{name} = ...`")]
    if name in node.get("computed", []):
        return [(where, f"`{name}` is computed by the provider and cannot be set")]
    return [(where, "no such argument in the provider schema")]


def _check_static_blocks(name: str, blocks: list[dict[str, Any]], node: dict[str, Any], path: str):
    where = _join(path, name)
    schema = node.get("blocks", {}).get(name)
    if schema is None:
        if name in node.get("arguments", {}):
            return [(where, f"`{name}` is an argument: write `{name} = ...`, not a block")]
        return [(where, "no such block in the provider schema")]
    problems: list[tuple[str, str]] = []
    if name in node.get("deprecated", {}):
        problems.append((where, f"deprecated: {node['deprecated'][name]}"))
    if schema.get("nesting") == "single" and len(blocks) > 1:
        problems.append((where, f"at most one `{name}` block is allowed, found {len(blocks)}"))
    for block in blocks:
        problems += check_body(block, schema, where, meta=frozenset())
    return problems


def _check_required(body: dict[str, Any], node: dict[str, Any], path: str, dynamic: set[str]):
    problems = []
    for name, mode in sorted(node.get("arguments", {}).items()):
        if mode == "required" and name not in body:
            problems.append((path, f"required argument `{name}` is missing"))
    for name, block in sorted(node.get("blocks", {}).items()):
        if block.get("min_items", 0) > 0 and name not in body and name not in dynamic:
            problems.append((path, f"required block `{name}` is missing"))
    return problems


def _check_lifecycle(kind: str, blocks: Any, node: dict[str, Any]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for block in blocks if isinstance(blocks, list) else [blocks]:
        for key, value in block.items():
            if key == BLOCK_MARK:
                continue
            if key not in LIFECYCLE[kind]:
                problems.append(("lifecycle", f"`{key}` is not a lifecycle setting of a {kind} block"))
            elif key == "ignore_changes" and isinstance(value, list):
                problems += _check_ignore_changes(value, node)
    return problems


def _check_ignore_changes(entries: list[Any], node: dict[str, Any]) -> list[tuple[str, str]]:
    known = set(node.get("arguments", {})) | set(node.get("blocks", {})) | set(node.get("computed", []))
    problems = []
    for entry in entries:
        text = str(entry)
        match = _REFERENCE.match(text)
        first = re.split(r"[.\[]", match["ref"] if match else text, maxsplit=1)[0]
        if first not in known:
            problems.append(("lifecycle.ignore_changes", f"`{text}` names nothing in the provider schema"))
    return problems


def check_body(
    body: dict[str, Any], node: dict[str, Any], path: str, meta: frozenset[str]
) -> list[tuple[str, str]]:
    """(path, problem) of every mismatch between one block body and its schema node, recursively."""
    problems: list[tuple[str, str]] = []
    dynamic = _dynamic_blocks(body)
    for name, spec in dynamic:
        problems += _check_dynamic(name, spec, node, path)
    for name, value in body.items():
        if name in (BLOCK_MARK, "dynamic") or name in meta:
            continue
        if _is_block(value):
            problems += _check_static_blocks(name, value, node, path)
        else:
            problems += _check_attribute(name, node, path)
    problems += _check_required(body, node, path, {name for name, _ in dynamic})
    return problems


def check_block(kind: str, rtype: str, body: dict[str, Any], schema: dict[str, Any]) -> list[tuple[str, str]]:
    """Mismatches of one `resource`/`data` block against the schema document."""
    node = schema[kind].get(rtype)
    if node is None:
        return [
            ("", f"{kind} type {rtype} is not in the schema file: run scripts/provider_schema.py --write")
        ]
    problems = check_body(body, node, "", META_ARGUMENTS[kind])
    if "lifecycle" in body:
        problems += _check_lifecycle(kind, body["lifecycle"], node)
    return problems


def check_text(text: str, where: str, schema: dict[str, Any]) -> list[Finding]:
    """Every mismatch of the `resource` and `data` blocks in one file's text."""
    findings = []
    for kind, rtype, name, body in declared_blocks(parse_text(text)):
        address = f"{'data.' if kind == 'data' else ''}{rtype}.{name}"
        for path, problem in check_block(kind, rtype, body, schema):
            findings.append(Finding(f"{where}: {address}", path, problem))
    return findings


def check_file(path: Path, schema: dict[str, Any]) -> list[Finding]:
    return check_text(path.read_text(encoding="utf-8"), str(path.relative_to(TERRAFORM_DIR)), schema)
