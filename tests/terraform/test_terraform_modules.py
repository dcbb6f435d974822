"""Every module and the environment format, initialise from the local mirror, validate, and pass
their `terraform test` files (mock AWS provider: no credentials, no network)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from etl_aws import contract

from .tfkit import NEEDS_ASL, ROOT, ROOTS, TERRAFORM_DIR, Terraform, report, tftest_files

pytestmark = pytest.mark.terraform

Results = dict[str, subprocess.CompletedProcess[str]]


def test_terraform_files_are_formatted(terraform_binary: str) -> None:
    result = subprocess.run(
        [terraform_binary, "fmt", "-check", "-recursive", "-diff", "-no-color", str(TERRAFORM_DIR)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"run `terraform fmt -recursive terraform`:\n{result.stdout}"


@pytest.mark.parametrize("root", ROOTS)
def test_root_initialises_from_the_mirror_and_validates(root: str, terraform_results: Results) -> None:
    init = terraform_results[f"init:{root}"]
    assert init.returncode == 0, report(init)
    validate = terraform_results[f"validate:{root}"]
    assert validate.returncode == 0, report(validate)


@pytest.mark.parametrize("test_file", tftest_files())
def test_terraform_test_file_passes(test_file: str, terraform_results: Results) -> None:
    if test_file in NEEDS_ASL and not (ROOT / contract.ASL_PATH).is_file():
        pytest.skip(f"{contract.ASL_PATH} is not written yet; this file renders it")
    init = terraform_results[f"init:{test_file.split('/tests/', 1)[0]}"]
    assert init.returncode == 0, report(init)
    result = terraform_results[f"test:{test_file}"]
    assert result.returncode == 0, report(result)
    assert " 0 failed" in result.stdout, report(result)


def test_the_copy_keeps_only_what_the_mirrors_provider_knows(terraform: Terraform) -> None:
    main = Path(terraform.workdir) / "modules" / "lambda_function" / "main.tf"
    real = TERRAFORM_DIR / "modules" / "lambda_function" / "main.tf"
    table = Path(terraform.workdir) / "modules" / "storage" / "dynamodb.tf"
    real_table = TERRAFORM_DIR / "modules" / "storage" / "dynamodb.tf"
    assert 'dynamic "durable_config"' in real.read_text()
    assert real_table.read_text().count("key_schema {") == 2
    if terraform.provider_version.split(".")[0] == "5":
        assert 'dynamic "durable_config"' not in main.read_text()
        assert "key_schema {" not in table.read_text()
        assert 'hash_key = "status"' in table.read_text()
        assert 'range_key = "updated_at"' in table.read_text()
        floors = [p.read_text() for p in Path(terraform.workdir).rglob("versions.tf")]
        assert all(">= 6." not in text for text in floors), (
            "every provider floor must be relaxed for the mirror"
        )
