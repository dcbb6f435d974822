"""Terraform's defaults are the contract's, and each function's Terraform environment is what its settings
model reads.

Two readings of the HCL: every module's and the root's variable defaults (structurally, python-hcl2), and
the root evaluated with its defaults (tests/terraform/hcl_eval.py), which gives each deployed function's
memory, alias and environment exactly as `terraform apply` would set them.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest

from etl_aws import config
from etl_aws import contract as C
from etl_aws.reviewers import ReviewConfig

from .hcl_eval import Account, Module
from .test_terraform_contract import ENVIRONMENT, MODULES, blocks

NAME = "t1"
ROOTS = [ENVIRONMENT, *sorted(p for p in MODULES.iterdir() if (p / "variables.tf").is_file())]

# A variable of this name, wherever it is declared with a default, defaults to the contract's value.
CONTRACT_DEFAULTS: dict[str, Any] = {
    "max_file_bytes": C.DEFAULT_MAX_FILE_BYTES,
    "job_retention_days": C.DEFAULT_RETENTION_DAYS,
    "approval_timeout_seconds": C.DEFAULT_APPROVAL_TIMEOUT_SECONDS,
    "reject_reason_required": C.DEFAULT_REJECT_REASON_REQUIRED,
    "dataset_policies": C.DEFAULT_DATASET_POLICIES,
    "alias_name": C.FUNCTION_ALIAS,
    "step_memory_size": C.STEP_MEMORY_MB,
    "orchestrator_memory_size": C.STEP_MEMORY_MB,
    "transform_memory_size": C.STEP_MEMORY_MB,
    "task_memory_size": C.TASK_MEMORY_MB,
    "starter_memory_size": C.STARTER_MEMORY_MB,
    "approval_memory_size": C.APPROVAL_MEMORY_MB,
}
# `memory_size` of the modules that deploy one kind of function (lambda_function's is a generic default).
MODULE_MEMORY = {"approval_api": C.APPROVAL_MEMORY_MB, "pipeline_starter": C.STARTER_MEMORY_MB}


def _defaults(root: Path) -> dict[str, Any]:
    variables = blocks(root, "variable")
    found = {
        name: v["default"] for name, v in variables.items() if name in CONTRACT_DEFAULTS and "default" in v
    }
    if root.name in MODULE_MEMORY and "default" in variables.get("memory_size", {}):
        found["memory_size"] = variables["memory_size"]["default"]
    return found


@pytest.mark.parametrize("root", ROOTS, ids=lambda p: p.name)
def test_every_terraform_default_of_a_shared_value_is_the_contracts(root: Path) -> None:
    expected = CONTRACT_DEFAULTS | {"memory_size": MODULE_MEMORY.get(root.name)}

    found = _defaults(root)

    assert found == {name: expected[name] for name in found}


def test_the_root_declares_every_shared_default() -> None:
    assert set(_defaults(ENVIRONMENT)) == set(CONTRACT_DEFAULTS) - {
        "alias_name",  # a module detail: every function is invoked through it, callers pass no other
        "orchestrator_memory_size",  # the root's step_memory_size
        "transform_memory_size",  # the root's step_memory_size
    }


# ---- each function as the root deploys it ---------------------------------------------------------------


def _instances(called: Any) -> list[Module]:
    """A module call's instances: one, a list (count) or a map (for_each)."""
    if isinstance(called, dict):
        return list(called.values())
    return called if isinstance(called, list) else [called]


def _functions(module: Module) -> dict[str, Module]:
    """Every lambda_function module instance under `module`, by contract function key."""
    found: dict[str, Module] = {}
    for block in module.of("module"):
        for instance in _instances(module.module_call(block.labels[0])):
            if instance.path.name == "lambda_function":
                found[instance.variable("function_name").removeprefix(f"{NAME}-")] = instance
            else:
                found.update(_functions(instance))
    return found


@cache
def deployed() -> dict[str, Module]:
    """The root evaluated with its defaults and both pipelines on: each function's module instance."""
    return _functions(Module(ENVIRONMENT, {"name": lambda: NAME}, Account()))


def test_the_root_deploys_every_contract_function() -> None:
    assert set(deployed()) == set(C.FUNCTIONS_BY_KEY)


@pytest.mark.parametrize("key", list(C.FUNCTIONS_BY_KEY))
def test_each_function_is_given_exactly_the_variables_its_settings_model_reads(key: str) -> None:
    env = deployed()[key].variable("environment")
    model = config.FUNCTION_SETTINGS[key]

    assert set(env) == set(model.env_names())
    assert {name for name, required in model.env_names().items() if required} <= {
        n for n, v in env.items() if v
    }


@pytest.mark.parametrize("key", list(C.FUNCTIONS_BY_KEY))
def test_each_settings_model_accepts_its_terraform_environment_at_the_contract_defaults(key: str) -> None:
    model = config.FUNCTION_SETTINGS[key]

    cfg = config.for_function(key, deployed()[key].variable("environment"))

    defaults = {name: f.default for name, f in model.model_fields.items() if not f.is_required()}
    assert {name: getattr(cfg, name) for name in defaults} == defaults


@pytest.mark.parametrize("key", list(C.FUNCTIONS_BY_KEY))
def test_each_function_gets_the_contract_memory_and_alias(key: str) -> None:
    function = deployed()[key]

    assert function.variable("memory_size") == C.DEFAULT_MEMORY_MB[key]
    assert function.variable("alias_name") == C.FUNCTION_ALIAS


# ---- named reviewers ------------------------------------------------------------------------------------

REVIEW_POLICY = {
    "default": {"reviewers": ["ana@example.com", "ben@example.com"]},
    "datasets": {
        "uploads/sales": {
            "reviewers": ["ana@example.com", "cy@example.com"],
            "approvals_required": 2,
            "escalation": ["lead@example.com"],
            "remind_before_minutes": 120,
        }
    },
}
REVIEW_READERS = ("durable-orchestrator", "sfn-request-approval", "approval-api")


@cache
def deployed_with_reviewers() -> dict[str, Module]:
    variables = {"name": lambda: NAME, "review_policy": lambda: REVIEW_POLICY}
    return _functions(Module(ENVIRONMENT, variables, Account()))


@pytest.mark.parametrize("key", REVIEW_READERS)
def test_each_reader_of_the_review_policy_parses_the_roots_json_into_the_same_policy(key: str) -> None:
    cfg = config.for_function(key, deployed_with_reviewers()[key].variable("environment"))

    assert cfg.review == ReviewConfig.model_validate(REVIEW_POLICY)  # type: ignore[attr-defined]
    assert cfg.review.for_dataset("uploads/sales").approvals_required == 2  # type: ignore[attr-defined]


def test_only_the_functions_that_ask_or_decide_read_the_review_policy() -> None:
    readers = {k for k, f in deployed().items() if C.ENV_REVIEW_CONFIG in f.variable("environment")}

    assert readers == set(REVIEW_READERS)
