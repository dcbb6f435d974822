"""Helpers of the Terraform checks: which roots and test files exist, and the prepared copy.

The copy mirrors the repository layout (terraform/, dist/, the ASL file) so relative paths hold. When
the mirror's hashicorp/aws is older than what the real files need (the one here is 5.100), the copy
adapts them to it: without `durable_config` (6.25), with the jobs index's keys as `hash_key` and
`range_key` instead of `key_schema` blocks (6.29), and with every provider floor above the mirror
relaxed. The real files keep all of it; test_provider_schema.py holds them against the 6.62 schema and
test_terraform_contract.py checks them structurally.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import terraform_env  # scripts/terraform_env.py, put on sys.path by this package

from etl_aws import contract

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = ROOT / "terraform"

DURABLE_CONFIG_SINCE = "6.25.0"
INDEX_KEY_SCHEMA_SINCE = "6.29.0"
RELAXED_CONSTRAINT = ">= 5.100"
# The provider floors of the real versions.tf files: storage (and so the environment) need 6.62 for
# the index's `key_schema`, the others 6.25 for `durable_config`.
REAL_FLOORS = ("6.25", "6.62")
_FLOOR = re.compile(r'^(?P<indent>\s*)version = ">= (?P<floor>[0-9.]+)"', re.MULTILINE)
_KEY_SCHEMA = re.compile(
    r'\n[ \t]*key_schema \{\s*attribute_name = (?P<name>"[^"]*")\s*key_type\s*= "(?P<kind>HASH|RANGE)"\s*\}\n'
)
TIMEOUT_SECONDS = 600

# Terraform roots checked here, relative to terraform/.
ROOTS = (
    "modules/storage",
    "modules/lambda_function",
    "modules/pipeline_starter",
    "modules/approval_api",
    "modules/durable_pipeline",
    "modules/sfn_pipeline",
    "modules/monitoring",
    "environments/aws",
)
# Test files that render the real ASL definition (written alongside the sfn handlers).
NEEDS_ASL = frozenset({"environments/aws/tests/both_pipelines.tftest.hcl"})


def tftest_files() -> list[str]:
    """Every .tftest.hcl file under terraform/, relative to it."""
    return sorted(p.relative_to(TERRAFORM_DIR).as_posix() for p in TERRAFORM_DIR.rglob("*.tftest.hcl"))


def root_of(test_file: str) -> str:
    return test_file.split("/tests/", 1)[0]


def strip_block(text: str, opening: str) -> str:
    """Remove the block that starts with `opening` (e.g. `dynamic "durable_config"`) and its line."""
    start = text.index(opening)
    start = text.rindex("\n", 0, start) + 1
    depth, i = 0, text.index("{", start)
    while True:
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            break
        i += 1
    end = text.index("\n", i) + 1
    return text[:start] + text[end:]


def legacy_index_keys(text: str) -> str:
    """`key_schema` blocks of a DynamoDB index as the `hash_key`/`range_key` providers < 6.29 know."""

    def replace(match: re.Match[str]) -> str:
        argument = "hash_key" if match["kind"] == "HASH" else "range_key"
        return f"\n    {argument} = {match['name']}\n"

    return _KEY_SCHEMA.sub(replace, text)


def _older(provider_version: str, since: str) -> bool:
    return terraform_env.version_key(provider_version) < terraform_env.version_key(since)


def _relax_floors(terraform_dir: Path, provider_version: str) -> None:
    for versions in terraform_dir.rglob("versions.tf"):
        text = versions.read_text(encoding="utf-8")
        match = _FLOOR.search(text)
        assert match, versions
        assert match["floor"] in REAL_FLOORS, versions
        if _older(provider_version, match["floor"]):
            relaxed = _FLOOR.sub(rf'\g<indent>version = "{RELAXED_CONSTRAINT}"', text)
            versions.write_text(relaxed, encoding="utf-8")


def prepare_copy(dest: Path, provider_version: str) -> Path:
    """Copy terraform/ into `dest` in the repository layout, adapted to the mirror's provider."""
    ignore = shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate*", "*.tfplan")
    shutil.copytree(TERRAFORM_DIR, dest / "terraform", ignore=ignore)
    _relax_floors(dest / "terraform", provider_version)
    if _older(provider_version, DURABLE_CONFIG_SINCE):
        main = dest / "terraform" / "modules" / "lambda_function" / "main.tf"
        main.write_text(strip_block(main.read_text(encoding="utf-8"), 'dynamic "durable_config"'))
    if _older(provider_version, INDEX_KEY_SCHEMA_SINCE):
        table = dest / "terraform" / "modules" / "storage" / "dynamodb.tf"
        text = table.read_text(encoding="utf-8")
        legacy = legacy_index_keys(text)
        assert "key_schema {" not in legacy, table
        assert legacy.count("_key = ") == 2, table
        table.write_text(legacy, encoding="utf-8")
    # Stand-ins for `make build`: the mock provider only hashes them.
    (dest / "dist").mkdir()
    for package in contract.PACKAGES:
        with zipfile.ZipFile(dest / "dist" / f"{package}.zip", "w") as zf:
            zf.writestr("README.txt", f"stand-in for dist/{package}.zip\n")
    asl = ROOT / contract.ASL_PATH
    if asl.is_file():
        target = dest / contract.ASL_PATH
        target.parent.mkdir(parents=True)
        shutil.copy2(asl, target)
    return dest / "terraform"


@dataclass
class Terraform:
    """The terraform CLI wired to the provider mirror, and the prepared copy it runs in."""

    binary: str
    env: dict[str, str]
    workdir: Path
    provider_version: str
    results: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)

    def run(self, args: list[str], root: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.binary, *args],
            cwd=self.workdir / root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )


def report(result: subprocess.CompletedProcess[str]) -> str:
    """The useful end of a terraform run's output."""
    text = re.sub(r"\n{3,}", "\n\n", (result.stdout + result.stderr).strip())
    return text[-6000:]
