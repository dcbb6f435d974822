"""Fixtures of the Terraform checks: the CLI wired to a local provider mirror, a prepared copy of
terraform/, and the results of init, validate and `terraform test` over every root."""

from __future__ import annotations

import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest
import terraform_env

from etl_aws import contract

from .tfkit import NEEDS_ASL, ROOT, ROOTS, Terraform, prepare_copy, root_of, tftest_files


@pytest.fixture(scope="session")
def terraform_binary() -> str:
    binary = shutil.which("terraform")
    if binary is None:
        pytest.skip("terraform is not on PATH")
    return binary


@pytest.fixture(scope="session")
def terraform(terraform_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Terraform:
    """terraform with a CLI config for the local mirror, in a prepared copy of terraform/."""
    mirror = terraform_env.find_mirror()
    if mirror is None:
        roots = ", ".join(str(r) for r in terraform_env.candidate_roots())
        pytest.skip(f"no hashicorp/aws provider mirror found (searched {roots}; set TF_PROVIDER_MIRROR)")
    base = tmp_path_factory.mktemp("terraform")
    config = terraform_env.write_cli_config(mirror.root, base / "cli.tfrc")
    cache = base / "plugin-cache"
    cache.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    env.update(
        {
            "TF_CLI_CONFIG_FILE": str(config),
            "TF_PLUGIN_CACHE_DIR": str(cache),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
        }
    )
    workdir = prepare_copy(base / "repo", mirror.newest)
    return Terraform(terraform_binary, env, workdir, mirror.newest)


@pytest.fixture(scope="session")
def terraform_results(terraform: Terraform) -> dict[str, subprocess.CompletedProcess[str]]:
    """init (one root at a time: the plugin cache is not safe for concurrent installs), then
    validate and `terraform test` of every root in parallel. Keyed "init:<root>", "validate:<root>"
    and "test:<file>"."""
    results = terraform.results
    for root in ROOTS:
        results[f"init:{root}"] = terraform.run(["init", "-backend=false", "-no-color"], root)

    asl_present = (ROOT / contract.ASL_PATH).is_file()

    def check(root: str) -> dict[str, subprocess.CompletedProcess[str]]:
        out: dict[str, subprocess.CompletedProcess[str]] = {}
        if results[f"init:{root}"].returncode != 0:
            return out
        out[f"validate:{root}"] = terraform.run(["validate", "-no-color"], root)
        for test_file in tftest_files():
            if root_of(test_file) != root or (test_file in NEEDS_ASL and not asl_present):
                continue
            relative = test_file.removeprefix(root + "/")
            out[f"test:{test_file}"] = terraform.run(["test", "-no-color", f"-filter={relative}"], root)
        return out

    with ThreadPoolExecutor(max_workers=max(2, min(4, os.cpu_count() or 2))) as pool:
        for out in pool.map(check, ROOTS):
            results.update(out)
    return results
