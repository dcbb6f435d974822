"""The HCL, read structurally (python-hcl2), agrees with etl_aws.contract and keeps what the mirror's
older provider cannot validate: `durable_config` wired to variables and the >= 6.25 provider floor."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import pytest
from hcl2.utils import SerializationOptions

from etl_aws import contract

from .tfkit import ROOT, TERRAFORM_DIR

MODULES = TERRAFORM_DIR / "modules"
ENVIRONMENT = TERRAFORM_DIR / "environments" / "aws"
# Which module defines which functions (by etl_aws.contract package), and the environment's call of it.
HOST_MODULES = {"durable": "durable_pipeline", "sfn": "sfn_pipeline", "approval": "approval_api"}
MODULE_CALLS = {"durable": "durable", "sfn": "sfn", "approval": "approval_api"}
OPTIONS = SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)


@cache
def parse(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        return hcl2.load(fh, serialization_options=OPTIONS)


def blocks(directory: Path, kind: str) -> dict[str, Any]:
    """All `kind` blocks (locals, module, variable…) of a directory's .tf files, merged by name."""
    merged: dict[str, Any] = {}
    for tf in sorted(directory.glob("*.tf")):
        for block in parse(tf).get(kind, []):
            merged.update(block)
    return merged


def resources(directory: Path, rtype: str) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for tf in sorted(directory.glob("*.tf")):
        for block in parse(tf).get("resource", []):
            merged.update(block.get(rtype, {}))
    return merged


def ref(expression: str) -> str:
    """The reference inside a pure interpolation: "${local.x}" -> "local.x"."""
    match = re.fullmatch(r"\$\{(.+)\}", expression)
    assert match, f"expected a single reference, got {expression!r}"
    return match.group(1)


# --- durable_config and the provider floor --------------------------------------------------------


def test_lambda_function_has_a_durable_config_block_wired_to_its_variable() -> None:
    function = resources(MODULES / "lambda_function", "aws_lambda_function")["this"]
    dynamic = [d["durable_config"] for d in function["dynamic"] if "durable_config" in d]
    assert len(dynamic) == 1, "aws_lambda_function.this needs one dynamic durable_config block"
    block = dynamic[0]
    assert "var.durable_config" in block["for_each"]
    content = block["content"][0] if isinstance(block["content"], list) else block["content"]
    assert content == {
        "execution_timeout": "${durable_config.value.execution_timeout}",
        "retention_period": "${durable_config.value.retention_period}",
    }


def test_durable_config_variable_is_an_optional_object_of_both_settings() -> None:
    variable = blocks(MODULES / "lambda_function", "variable")["durable_config"]
    assert variable["default"] is None
    assert "execution_timeout = number" in variable["type"]
    assert "retention_period = optional(number, 14)" in variable["type"]


def test_orchestrator_is_durable_with_timeouts_from_the_pipeline_variables() -> None:
    orchestrator = blocks(MODULES / "durable_pipeline", "module")["orchestrator"]
    assert orchestrator["source"] == "../lambda_function"
    assert orchestrator["durable_config"] == {
        "execution_timeout": "${var.execution_timeout_seconds}",
        "retention_period": "${var.durable_retention_days}",
    }
    # Checkpointing is granted on the orchestrator's own executions (test_iam_calls.py), not through
    # the AWS managed policy that grants it on "*".
    assert "managed_policy_arns" not in orchestrator
    env_call = blocks(ENVIRONMENT, "module")["durable"]
    assert env_call["execution_timeout_seconds"] == "${var.execution_timeout_seconds}"
    assert env_call["approval_timeout_seconds"] == "${var.approval_timeout_seconds}"


def test_execution_timeout_is_validated_against_the_approval_timeout() -> None:
    for directory in (ENVIRONMENT, MODULES / "durable_pipeline"):
        validation = blocks(directory, "variable")["execution_timeout_seconds"]["validation"][0]
        assert "var.execution_timeout_seconds > var.approval_timeout_seconds" in validation["condition"]


# The provider floor of each root: 6.25 for `durable_config`; 6.62, the schema the configuration is
# checked against, where the jobs index's `key_schema` (6.29, fixed later) is used.
PROVIDER_FLOORS = {"modules/storage": ">= 6.62", "environments/aws": ">= 6.62"}


@pytest.mark.parametrize(
    "versions", sorted(TERRAFORM_DIR.rglob("versions.tf")), ids=lambda p: str(p.parent.relative_to(ROOT))
)
def test_every_root_requires_its_aws_floor_and_terraform_1_9(versions: Path) -> None:
    terraform = parse(versions)["terraform"][0]
    root = versions.parent.relative_to(TERRAFORM_DIR).as_posix()
    assert terraform["required_providers"][0]["aws"]["version"] == PROVIDER_FLOORS.get(root, ">= 6.25")
    assert terraform["required_providers"][0]["aws"]["source"] == "hashicorp/aws"
    assert terraform["required_version"] == ">= 1.9.0"


# --- functions: handlers, packages, environment variable names ------------------------------------


@pytest.mark.parametrize("spec", contract.FUNCTIONS, ids=lambda s: s.key)
def test_function_handler_matches_the_contract(spec: contract.FunctionSpec) -> None:
    locals_ = blocks(MODULES / HOST_MODULES[spec.package], "locals")
    assert locals_["handlers"][spec.key] == spec.handler


@pytest.mark.parametrize("spec", contract.FUNCTIONS, ids=lambda s: s.key)
def test_function_environment_names_match_the_contract(spec: contract.FunctionSpec) -> None:
    locals_ = blocks(MODULES / HOST_MODULES[spec.package], "locals")
    if spec.key in locals_["environment"]:
        names = set(locals_["environment"][spec.key])
    else:
        assert spec.key.endswith("-starter"), f"{spec.key} has no environment in its module"
        names = set(blocks(MODULES / "pipeline_starter", "locals")["environment"])
    assert names == set(spec.env)


@pytest.mark.parametrize("spec", contract.FUNCTIONS, ids=lambda s: s.key)
def test_function_ships_in_its_contract_package(spec: contract.FunctionSpec) -> None:
    call = blocks(ENVIRONMENT, "module")[MODULE_CALLS[spec.package]]
    assert call["package_file"] == f"${{local.dist_dir}}/{spec.package}.zip"


def test_every_module_function_is_in_the_contract() -> None:
    declared = set()
    for module in HOST_MODULES.values():
        declared |= set(blocks(MODULES / module, "locals")["handlers"])
    assert declared == set(contract.FUNCTIONS_BY_KEY)


def test_workflow_names_match_the_contract() -> None:
    assert blocks(MODULES / "durable_pipeline", "locals")["workflow"] == contract.DURABLE
    assert blocks(MODULES / "sfn_pipeline", "locals")["workflow"] == contract.STEP_FUNCTIONS


def test_starters_point_at_their_orchestrator() -> None:
    starter = blocks(MODULES / "pipeline_starter", "locals")["environment"]
    assert starter[contract.ENV_ORCHESTRATOR_ARN] == "${var.orchestrator_arn}"
    assert starter[contract.ENV_WORKFLOW] == "${var.workflow}"
    durable = blocks(MODULES / "durable_pipeline", "module")["queue_starter"]
    sfn = blocks(MODULES / "sfn_pipeline", "module")["queue_starter"]
    assert durable["orchestrator_arn"] == "${module.orchestrator.alias_arn}"
    assert sfn["orchestrator_arn"] == "${aws_sfn_state_machine.this.arn}"
    assert (durable["workflow"], sfn["workflow"]) == ("${local.workflow}", "${local.workflow}")


@pytest.mark.parametrize("module", ["durable_pipeline", "sfn_pipeline"])
def test_each_pipeline_starts_through_the_shared_starter(module: str) -> None:
    """One queue → starter → orchestrator wiring: neither pipeline declares its own starter function
    or event source mapping, and the starter's handler is the contract's."""
    call = blocks(MODULES / module, "module")["queue_starter"]
    assert call["source"] == "../pipeline_starter"
    key = f"{'durable' if module == 'durable_pipeline' else 'sfn'}-starter"
    assert call["handler"] == f'${{local.handlers["{key}"]}}'
    assert call["reserved_concurrency"] == "${var.starter_reserved_concurrency}"
    assert call["max_concurrency"] == "${var.starter_max_concurrency}"
    assert not resources(MODULES / module, "aws_lambda_event_source_mapping")
    assert "starter" not in blocks(MODULES / module, "module")


# --- storage: S3 layout, event filter, jobs table ---------------------------------------------------


def test_s3_layout_matches_the_contract() -> None:
    locals_ = blocks(MODULES / "storage", "locals")
    assert locals_["upload_prefix"] == contract.UPLOAD_PREFIX
    assert locals_["upload_suffix"] == contract.UPLOAD_SUFFIX
    assert locals_["staging_prefix"] == contract.STAGING_PREFIX
    assert locals_["processed_prefix"] == contract.PROCESSED_PREFIX
    assert locals_["archive_prefix"] == contract.ARCHIVE_PREFIX
    assert locals_["retracted_prefix"] == contract.RETRACTED_PREFIX


def test_upload_notification_filters_on_the_contract_rules_only() -> None:
    # S3 filter rules are case-sensitive: a suffix rule would drop "data.CSV" (and a non-CSV upload) silently.
    notification = resources(MODULES / "storage", "aws_s3_bucket_notification")["uploads"]
    queue = notification["queue"][0]
    rules = {key.removeprefix("filter_"): value for key, value in queue.items() if key.startswith("filter_")}
    assert {name: ref(value) for name, value in rules.items()} == {"prefix": "local.upload_prefix"}
    assert set(contract.NOTIFICATION_FILTER_RULES) == set(rules)
    assert contract.NOTIFICATION_FILTER_RULES["prefix"] == contract.UPLOAD_PREFIX
    assert queue["events"] == ["s3:ObjectCreated:*"]


def test_jobs_table_key_index_and_ttl_match_the_contract() -> None:
    locals_ = blocks(MODULES / "storage", "locals")
    assert locals_["jobs_hash_key"] == contract.JOBS_HASH_KEY
    assert locals_["jobs_status_index"] == contract.JOBS_STATUS_INDEX
    assert locals_["jobs_ttl_attribute"] == contract.JOBS_TTL_ATTRIBUTE
    table = resources(MODULES / "storage", "aws_dynamodb_table")["jobs"]
    assert ref(table["hash_key"]) == "local.jobs_hash_key"
    index = table["global_secondary_index"][0]
    assert ref(index["name"]) == "local.jobs_status_index"
    assert "hash_key" not in index, "deprecated: use key_schema blocks"
    assert "range_key" not in index, "deprecated: use key_schema blocks"
    assert [(k["attribute_name"], k["key_type"]) for k in index["key_schema"]] == [
        ("status", "HASH"),
        ("updated_at", "RANGE"),
    ]
    assert ref(table["ttl"][0]["attribute_name"]) == "local.jobs_ttl_attribute"
    assert table["ttl"][0]["enabled"] is True
    assert table["point_in_time_recovery"][0]["enabled"] is True


# --- the ASL definition ---------------------------------------------------------------------------


def test_state_machine_fills_exactly_the_contract_placeholders() -> None:
    tasks = blocks(MODULES / "sfn_pipeline", "locals")["tasks"]
    assert {t["placeholder"] for t in tasks.values()} == set(contract.ASL_PLACEHOLDERS)
    for name, placeholder in contract.ASL_PLACEHOLDERS.items():
        assert placeholder == "${" + name + "_arn}"
    definition = blocks(MODULES / "sfn_pipeline", "locals")["definition"]
    assert '"${task.placeholder}_arn"' in definition
    assert contract.ASL_TIMEOUT_PLACEHOLDER == "${approval_timeout_seconds}"
    assert "approval_timeout_seconds = var.approval_timeout_seconds" in definition


def test_environment_renders_the_contract_asl_file() -> None:
    locals_ = blocks(ENVIRONMENT, "locals")
    assert locals_["definition_file"] == "${local.repo_root}/" + contract.ASL_PATH


def _render(text: str) -> str:
    for name, placeholder in contract.ASL_PLACEHOLDERS.items():
        text = text.replace(placeholder, f"arn:aws:lambda:eu-west-1:123456789012:function:t1-{name}:live")
    return text.replace(contract.ASL_TIMEOUT_PLACEHOLDER, "86400")


@pytest.mark.parametrize(
    "path",
    [ROOT / contract.ASL_PATH, MODULES / "sfn_pipeline" / "tests" / "fixtures" / "state_machine.asl.json"],
    ids=["real", "module-fixture"],
)
def test_asl_file_uses_every_placeholder_and_renders_to_json(path: Path) -> None:
    if not path.is_file():
        pytest.skip(f"{path.relative_to(ROOT)} is not written yet")
    text = path.read_text(encoding="utf-8")
    for placeholder in contract.ASL_PLACEHOLDERS.values():
        assert f'"{placeholder}"' in text, f"{placeholder} must be a whole JSON string"
    assert f'"TimeoutSeconds": {contract.ASL_TIMEOUT_PLACEHOLDER}' in text
    # Anything else written ${...} would be taken for a template expression by templatefile().
    leftover = re.findall(r"(?<!\$)\$\{[^}]*\}", _render(text))
    assert not leftover, f"unknown template expressions: {leftover}"
    rendered = json.loads(_render(text))
    assert rendered["States"], "the definition has no states"


# --- job limits: the largest file against the function timeout, records against the approval wait ------

# Where max_file_bytes is set, and the timeout of the invocation that transforms a whole file there.
TRANSFORM_TIMEOUTS = {
    "modules/durable_pipeline": "var.orchestrator_timeout",
    "modules/sfn_pipeline": "var.transform_timeout",
    "environments/aws": str(contract.LAMBDA_MAX_TIMEOUT_SECONDS),  # the modules' default timeouts
}


def _variables(root: str) -> dict[str, Any]:
    return blocks(TERRAFORM_DIR / root, "variable")


@pytest.mark.parametrize("root", list(TRANSFORM_TIMEOUTS))
def test_job_limit_defaults_are_the_contract_defaults_the_settings_use(root: str) -> None:
    from etl_aws.config import DurableOrchestratorSettings, SfnApprovalTaskSettings

    variables = _variables(root)
    for model in (DurableOrchestratorSettings, SfnApprovalTaskSettings):
        fields = model.model_fields
        assert (
            variables["max_file_bytes"]["default"]
            == contract.DEFAULT_MAX_FILE_BYTES
            == fields["max_file_bytes"].default
        )
        assert (
            variables["job_retention_days"]["default"]
            == contract.DEFAULT_RETENTION_DAYS
            == fields["retention_days"].default
        )
        assert (
            variables["approval_timeout_seconds"]["default"]
            == contract.DEFAULT_APPROVAL_TIMEOUT_SECONDS
            == fields["approval_timeout_seconds"].default
        )


@pytest.mark.parametrize(("root", "timeout"), list(TRANSFORM_TIMEOUTS.items()))
def test_max_file_bytes_is_validated_against_the_transform_timeout(root: str, timeout: str) -> None:
    condition = _variables(root)["max_file_bytes"]["validation"][0]["condition"]

    rate, margin = contract.TRANSFORM_BYTES_PER_SECOND, contract.TRANSFORM_MARGIN_SECONDS
    assert f"var.max_file_bytes <= {rate} * ({timeout} - {margin})" in condition


@pytest.mark.parametrize("root", list(TRANSFORM_TIMEOUTS))
def test_job_retention_is_validated_against_the_approval_timeout(root: str) -> None:
    condition = _variables(root)["job_retention_days"]["validation"][0]["condition"]

    margin = contract.RETENTION_MARGIN_DAYS
    assert f"var.job_retention_days >= ceil(var.approval_timeout_seconds / 86400) + {margin}" in condition


# --- approval API routes --------------------------------------------------------------------------

GATEWAY_AUTHORIZATION = {contract.AUTH_IAM: "AWS_IAM", contract.AUTH_REVIEW_LINK: "NONE"}


def _resource_path(tree: dict[str, Any], key: str) -> str:
    """The full path of a resource in the module's `resources` local, following parents to the root."""
    node = tree[key]
    parent = _resource_path(tree, node["parent"]) if node["parent"] else ""
    return f"{parent}/{node['part']}"


def deployed_routes() -> dict[str, str]:
    """Every method the approval_api module deploys, "METHOD /path" → its authorization type."""
    module = MODULES / "approval_api"
    local = blocks(module, "locals")
    routes: dict[str, str] = {}
    for method in resources(module, "aws_api_gateway_method").values():
        for key, route in local[ref(method["for_each"]).removeprefix("local.")].items():
            path = _resource_path(local["resources"], route["resource"])
            assert key == f"{route['method']} {path}", f"the route key {key!r} names another path"
            assert method["http_method"] == "${each.value.method}"
            assert method["resource_id"] == "${local.resource_ids[each.value.resource]}"
            routes[key] = method["authorization"]
    return routes


def test_approval_api_deploys_exactly_the_contract_routes_with_their_authorization() -> None:
    expected = {route.key: GATEWAY_AUTHORIZATION[route.auth] for route in contract.API_ROUTES}

    assert deployed_routes() == expected
