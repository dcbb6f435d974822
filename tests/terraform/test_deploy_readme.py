"""The README's "Deploy" section, run as written wherever that needs no AWS account.

Every command of the section's shell blocks is either run here or checked against what it names:
- `make build`: `make -n build` (the target exists; the build itself downloads wheels the first time and
  is covered by test_build.py);
- `cp … terraform.tfvars.example …`, `terraform … init`: run exactly, in a prepared copy of the
  repository, with providers from the local mirror (scripts/terraform_env.py);
- `terraform … plan`: needs credentials (the provider calls STS and reads the partition before planning),
  so the same root is planned with the copied terraform.tfvars against the mock provider instead
  (`terraform test`, data/deploy_example.tftest.hcl), after `validate`;
- `apply`, `destroy`, `output -json > outputs.json`: need an account; apply must take the plan file that
  `plan` wrote, and every output `etl` reads from outputs.json must be declared by the root;
- `etl … --outputs outputs.json`: the CLI accepts the command and each of its options (`--help`);
- `aws …`: the operation and every parameter exist in the pinned botocore service model.
A command of another kind fails the test, so a new step cannot be added without being checked.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from functools import cache
from pathlib import Path

import botocore.session
import hcl2
import pytest
from botocore import xform_name
from hcl2.utils import SerializationOptions

from etl_aws import contract

from .tfkit import ROOT, TERRAFORM_DIR, Terraform, prepare_copy, report

README = ROOT / "README.md"
ENVIRONMENT = "terraform/environments/aws"
EXAMPLE = TERRAFORM_DIR / "environments" / "aws" / "terraform.tfvars.example"
PLAN_TEST = Path(__file__).parent / "data" / "deploy_example.tftest.hcl"
ETL_OPS = ROOT / "packages" / "etl_ops" / "src" / "etl_ops"
OPTIONS = SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)
# What the README asks a user to set before planning.
REQUIRED_SETTINGS = ("name", "region", "approver_emails", "approval_timeout_seconds", "architecture")


@cache
def deploy_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## Deploy\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


@cache
def commands() -> tuple[tuple[str, ...], ...]:
    """Each command line of the section's ```sh blocks, split as the shell would (redirections kept
    as words)."""
    found = []
    for block in re.findall(r"```sh\n(.*?)```", deploy_section(), flags=re.S):
        for line in block.splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                found.append(tuple(shlex.split(line)))
    return tuple(found)


def terraform_commands(subcommand: str) -> list[tuple[str, ...]]:
    return [c for c in commands() if c[:2] == ("terraform", f"-chdir={ENVIRONMENT}") and c[2] == subcommand]


def one(subcommand: str) -> tuple[str, ...]:
    [command] = terraform_commands(subcommand)
    return command


def kind(command: tuple[str, ...]) -> str:
    """What the test does with a command; "" for a command it does not know."""
    if command == ("make", "build"):
        return "make"
    if command[0] == "cp" and command[1].endswith("terraform.tfvars.example"):
        return "cp"
    if command[:2] == ("terraform", f"-chdir={ENVIRONMENT}"):
        return {
            "init": "run",
            "plan": "plan",
            "apply": "account",
            "destroy": "account",
            "output": "outputs",
        }.get(command[2], "")
    if command[0] == ".venv/bin/etl":
        return "etl"
    if command[0] == "aws":
        return "aws"
    return ""


# ---- the section itself ----------------------------------------------------------------------------


def test_every_deploy_command_is_run_or_checked() -> None:
    assert commands(), "the README's Deploy section has no ```sh block"
    unknown = [shlex.join(c) for c in commands() if not kind(c)]
    assert not unknown, f"add these to test_deploy_readme.py: {unknown}"


def test_deploy_steps_come_in_order_build_configure_init_plan_apply_outputs() -> None:
    kinds = [kind(c) for c in commands()]
    order = ["make", "cp", "run", "plan", "account", "outputs", "etl"]
    assert kinds[: len(order)] == order
    assert commands()[-1][2] == "destroy", "destroy comes last, after the waiting executions are stopped"
    stops = [i for i, c in enumerate(commands()) if c[0] == "aws" and c[2].startswith("stop-")]
    assert len(stops) == 2
    assert max(stops) < len(commands()) - 1


def test_apply_takes_the_plan_file_that_plan_wrote() -> None:
    plan = one("plan")
    outs = [a.removeprefix("-out=") for a in plan if a.startswith("-out=")]
    assert outs
    assert one("apply")[3:] == (outs[0],)


def test_the_example_tfvars_sets_what_the_readme_asks_for() -> None:
    with EXAMPLE.open(encoding="utf-8") as fh:
        example = hcl2.load(fh, serialization_options=OPTIONS)
    for setting in REQUIRED_SETTINGS:
        assert setting in example, f"{EXAMPLE.name} does not set {setting}"
        assert f"`{setting}`" in deploy_section(), f"the README does not say to set {setting}"
    assert example["approver_emails"], "the example names no reviewer"
    cp = next(c for c in commands() if kind(c) == "cp")
    assert (ROOT / cp[1]) == EXAMPLE
    assert cp[2] == f"{ENVIRONMENT}/terraform.tfvars"


def test_the_readme_documents_the_fresh_account_defaults() -> None:
    section = deploy_section()
    for text in (
        "manage_api_gateway_account = true",
        "starter_reserved_concurrency",
        "orchestrator_reserved_concurrency",
    ):
        assert text in section


# ---- make, etl and aws: checked against what they name -------------------------------------------------


def test_make_build_is_a_target() -> None:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not on PATH")
    result = subprocess.run([make, "-n", "build"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "scripts/build_lambdas.py" in result.stdout


@pytest.mark.parametrize(
    "command", [c for c in commands() if kind(c) == "etl"], ids=lambda c: " ".join(c[1:3])
)
def test_etl_accepts_the_command_line(command: tuple[str, ...]) -> None:
    etl = ROOT / command[0]
    if not etl.is_file():
        pytest.skip(f"{command[0]} is not installed (make venv)")
    result = subprocess.run(
        [str(etl), *command[1:], "--help"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    options = [a for a in command if a.startswith("--")]
    assert "--outputs" in options
    for option in options:
        assert option in result.stdout, f"{shlex.join(command)}: etl has no {option}"
    assert command[command.index("--outputs") + 1] == one("output")[-1]


def outputs_read_by_etl() -> set[str]:
    """Every `terraform output` name etl_ops reads from an outputs document."""
    names: set[str] = set()
    for source in ETL_OPS.glob("*.py"):
        text = source.read_text(encoding="utf-8")
        names |= set(re.findall(r'\boutput\(outputs, "(\w+)"\)', text))
        names |= set(re.findall(r'\bvalue\("(\w+)"\)', text))
    return names


def test_outputs_json_holds_everything_etl_reads() -> None:
    output = one("output")
    assert output[3:] == ("-json", ">", "outputs.json")
    with (TERRAFORM_DIR / "environments" / "aws" / "outputs.tf").open(encoding="utf-8") as fh:
        blocks = hcl2.load(fh, serialization_options=OPTIONS)["output"]
    declared = {name for block in blocks for name in block}
    read = outputs_read_by_etl()
    assert {"api_url", "queue_urls", "state_machine_arn"} <= read, "etl_ops no longer reads its outputs"
    assert read <= declared, f"etl reads outputs the root does not declare: {sorted(read - declared)}"


def _aws_operation(service: str, kebab: str) -> tuple[object, object]:
    model = botocore.session.get_session().get_service_model(service)
    by_cli_name = {xform_name(name, "-"): name for name in model.operation_names}
    assert kebab in by_cli_name, f"aws {service} has no {kebab}"
    return model, model.operation_model(by_cli_name[kebab])


# The AWS CLI's global options, not parameters of an operation.
CLI_GLOBAL = {"--query", "--output", "--region", "--profile"}


@pytest.mark.parametrize(
    "command", [c for c in commands() if kind(c) == "aws"], ids=lambda c: " ".join(c[1:3])
)
def test_aws_command_matches_the_service_model(command: tuple[str, ...]) -> None:
    _, operation = _aws_operation(command[1], command[2])
    parameters = {xform_name(name, "-") for name in operation.input_shape.members}
    options = {a.removeprefix("--") for a in command[3:] if a.startswith("--") and a not in CLI_GLOBAL}
    assert options <= parameters, f"{shlex.join(command)}: unknown {sorted(options - parameters)}"
    required = {xform_name(name, "-") for name in operation.input_shape.required_members}
    assert required <= options, f"{shlex.join(command)}: missing {sorted(required - options)}"


def test_the_durable_orchestrator_named_for_teardown_is_the_deployed_one() -> None:
    [listing] = [c for c in commands() if c[:3] == ("aws", "lambda", "list-durable-executions-by-function")]
    name = listing[listing.index("--function-name") + 1]
    assert name == "<name>-durable-orchestrator"
    main = (TERRAFORM_DIR / "modules" / "durable_pipeline" / "iam.tf").read_text(encoding="utf-8")
    assert 'orchestrator_name = "${var.name}-durable-orchestrator"' in main


# ---- init, validate and the plan: run ------------------------------------------------------------------


@pytest.fixture(scope="module")
def deploy_copy(terraform: Terraform, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A prepared copy of the repository (stand-in zips for `make build`) with the plan test added."""
    if not (ROOT / contract.ASL_PATH).is_file():
        pytest.skip(f"{contract.ASL_PATH} is missing: the example deploys the Step Functions pipeline")
    dest = tmp_path_factory.mktemp("deploy")
    prepare_copy(dest, terraform.provider_version)
    shutil.copy2(PLAN_TEST, dest / ENVIRONMENT / "tests" / PLAN_TEST.name)
    return dest


def _run(terraform: Terraform, dest: Path, argv: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    program = terraform.binary if argv[0] == "terraform" else argv[0]
    return subprocess.run(
        [program, *argv[1:]],
        cwd=dest,
        env=terraform.env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.terraform
def test_configure_init_validate_and_plan_run_as_written(terraform: Terraform, deploy_copy: Path) -> None:
    cp = next(c for c in commands() if kind(c) == "cp")
    assert _run(terraform, deploy_copy, cp).returncode == 0
    init = _run(terraform, deploy_copy, one("init"))
    assert init.returncode == 0, report(init)
    validate = _run(terraform, deploy_copy, ("terraform", f"-chdir={ENVIRONMENT}", "validate", "-no-color"))
    assert validate.returncode == 0, report(validate)
    # `plan` against the mock provider: terraform test reads the copied terraform.tfvars as plan does,
    # and the test file sets no variable, so `name` and the rest come from the example.
    plan = _run(
        terraform,
        deploy_copy,
        ("terraform", f"-chdir={ENVIRONMENT}", "test", "-no-color", f"-filter=tests/{PLAN_TEST.name}"),
    )
    assert plan.returncode == 0, report(plan)
    assert "1 passed, 0 failed" in plan.stdout, report(plan)
