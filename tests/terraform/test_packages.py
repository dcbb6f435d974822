"""The zips `make build` writes run on the platform Terraform deploys them to.

Every native library is an ELF object for the functions' architecture (read from the ELF header, not the
file name), every extension module carries the runtime's ABI tag, every wheel was built for that runtime,
each function's Terraform `handler` names a module and a callable inside its zip, and each zip is within
Lambda's size quotas: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import pytest
from hcl2.utils import SerializationOptions

from etl_aws import contract

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "scripts" / "build_lambdas.py"
TERRAFORM = ROOT / "terraform"
EXIT_WHEELS_UNAVAILABLE = 3
OPTIONS = SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)
# The Terraform module that defines each contract package's functions.
HOST_MODULES = {"durable": "durable_pipeline", "sfn": "sfn_pipeline", "approval": "approval_api"}

MIB = 1024 * 1024
# Lambda quotas: 50 MB zipped for a direct upload (Terraform's `filename`), 250 MB unzipped for the
# function and its layers (these functions have none). GetAccountSettings reports them in bytes.
MAX_ZIPPED_BYTES = 50 * MIB
MAX_UNZIPPED_BYTES = 250 * MIB

# ELF e_machine values (System V ABI): https://refspecs.linuxfoundation.org/elf/gabi4+/ch4.eheader.html
ELF_MAGIC = b"\x7fELF"
ELF_CLASS_64 = 2
ELF_MACHINE = {"arm64": 183, "x86_64": 62}  # EM_AARCH64, EM_X86_64
MULTIARCH = {"arm64": "aarch64", "x86_64": "x86_64"}
# The build asks pip for manylinux2014 (glibc 2.17) wheels; Lambda's python3.12+ runtimes run on
# Amazon Linux 2023 (glibc 2.34): https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html
MAX_GLIBC = (2, 17)
NATIVE_SUFFIXES = re.compile(r"\.(so|pyd|dylib|dll)(\.[0-9]+)*$")
EXTENSION_TAG = re.compile(r"\.(?P<tag>cpython-[^.]+|abi3)\.so$")


@dataclass(frozen=True)
class Platform:
    """Where a function runs: its Lambda runtime and architecture."""

    runtime: str
    architecture: str

    @property
    def python_version(self) -> str:
        return self.runtime.removeprefix("python")

    @property
    def cpython_tag(self) -> str:
        return "cp" + self.python_version.replace(".", "")

    @property
    def abi_tag(self) -> str:
        """The extension-module suffix tag CPython on Linux imports, e.g. cpython-313-aarch64-linux-gnu."""
        return f"cpython-{self.python_version.replace('.', '')}-{MULTIARCH[self.architecture]}-linux-gnu"


# --- what Terraform deploys -----------------------------------------------------------------------


@cache
def _parse(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        return hcl2.load(fh, serialization_options=OPTIONS)


def _blocks(directory: Path, kind: str) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for tf in sorted(directory.glob("*.tf")):
        for block in _parse(tf).get(kind, []):
            merged.update(block)
    return merged


def deployed_platform() -> Platform:
    """The runtime and architecture every function gets by default from the environment root."""
    variables = _blocks(TERRAFORM / "environments" / "aws", "variable")
    return Platform(variables["runtime"]["default"], variables["architecture"]["default"])


def terraform_handlers() -> dict[str, str]:
    """Function key → the `handler` its Terraform module configures."""
    handlers: dict[str, str] = {}
    for module in HOST_MODULES.values():
        handlers.update(_blocks(TERRAFORM / "modules" / module, "locals")["handlers"])
    return handlers


# --- checks on one zip ----------------------------------------------------------------------------


def elf_problem(name: str, head: bytes, platform: Platform) -> str | None:
    """Why a native file cannot load on `platform`, judged from its ELF header; None when it can."""
    if head[:4] != ELF_MAGIC:
        return f"{name}: not an ELF object (a {name.rsplit('.', 1)[-1]} file cannot load on Linux)"
    if head[4] != ELF_CLASS_64:
        return f"{name}: 32-bit ELF object"
    byteorder = "little" if head[5] == 1 else "big"
    machine = int.from_bytes(head[18:20], byteorder)
    expected = ELF_MACHINE[platform.architecture]
    if machine != expected:
        return f"{name}: ELF e_machine {machine}, {platform.architecture} needs {expected}"
    return None


def native_problems(zf: zipfile.ZipFile, platform: Platform) -> list[str]:
    """Every native file that would not load: wrong format or machine, or an extension module for
    another interpreter. Shared libraries vendored by wheels (`<dist>.libs/`) carry no ABI tag."""
    problems = []
    for info in zf.infolist():
        name = info.filename
        base = name.rsplit("/", 1)[-1]
        if info.is_dir() or not NATIVE_SUFFIXES.search(base):
            continue
        with zf.open(info) as fh:
            problem = elf_problem(name, fh.read(64), platform)
        if problem:
            problems.append(problem)
            continue
        tag = EXTENSION_TAG.search(base)
        vendored = any(part.endswith(".libs") for part in name.split("/")[:-1])
        if tag is None and not vendored:
            problems.append(f"{name}: extension module without an ABI tag")
        elif tag is not None and tag["tag"] not in (platform.abi_tag, "abi3"):
            problems.append(f"{name}: built for {tag['tag']}, the runtime imports {platform.abi_tag}")
    return problems


def _tag_fits(tag: str, platform: Platform) -> bool:
    interpreter, abi, platform_tag = tag.split("-")
    if platform_tag == "any":
        return abi == "none" and interpreter.startswith("py")
    machine = MULTIARCH[platform.architecture]
    legacy = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
    match = re.fullmatch(
        rf"(manylinux1|manylinux2010|manylinux2014|manylinux_(\d+)_(\d+))_{machine}", platform_tag
    )
    if match is None:
        return False
    glibc = legacy.get(match[1]) or (int(match[2]), int(match[3]))
    if glibc > MAX_GLIBC:
        return False
    if abi == "abi3":
        return interpreter.startswith("cp3") and int(interpreter[3:]) <= int(platform.cpython_tag[3:])
    return interpreter == abi == platform.cpython_tag


def wheel_problems(zf: zipfile.ZipFile, platform: Platform) -> list[str]:
    """Every installed distribution whose WHEEL tags do not include one for `platform`."""
    problems = []
    for name in zf.namelist():
        if not re.fullmatch(r"[^/]+\.dist-info/WHEEL", name):
            continue
        text = zf.read(name).decode("utf-8")
        tags = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Tag:")]
        if not any(_tag_fits(t, platform) for t in tags):
            problems.append(f"{name.split('/')[0]}: tags {tags} do not fit {platform}")
    return problems


def handler_problem(zf: zipfile.ZipFile, handler: str) -> str | None:
    """Why Lambda could not resolve `handler` (module.path.function) from the zip's root; None if it can."""
    module, _, attribute = handler.rpartition(".")
    path = module.replace(".", "/") + ".py"
    names = set(zf.namelist())
    if path not in names:
        return f"{handler}: {path} is not at the zip's root"
    packages = module.split(".")[:-1]
    for depth in range(1, len(packages) + 1):
        init = "/".join(packages[:depth]) + "/__init__.py"
        if init not in names:
            return f"{handler}: {init} is missing"
    tree = ast.parse(zf.read(path), filename=path)
    defined = {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    } | {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    if attribute not in defined:
        return f"{handler}: {path} defines no top-level {attribute}"
    return None


def unzipped_bytes(zf: zipfile.ZipFile) -> int:
    return sum(info.file_size for info in zf.infolist())


# --- the build, once per session ------------------------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`make build`'s zips (the script's defaults), built into a temporary directory over the wheel cache."""
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [sys.executable, str(BUILD), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if result.returncode == EXIT_WHEELS_UNAVAILABLE:
        pytest.skip(f"wheels cannot be fetched and dist/.cache holds none: {result.stderr[-400:]}")
    assert result.returncode == 0, result.stderr
    return out


def _zip(built: Path, package: str) -> zipfile.ZipFile:
    return zipfile.ZipFile(built / f"{package}.zip")


@pytest.mark.slow
@pytest.mark.parametrize("package", sorted(contract.PACKAGES))
def test_native_libraries_match_the_deployed_architecture_and_runtime(built: Path, package: str) -> None:
    platform = deployed_platform()
    with _zip(built, package) as zf:
        problems = native_problems(zf, platform)
        native = [n for n in zf.namelist() if NATIVE_SUFFIXES.search(n.rsplit("/", 1)[-1])]
    assert native, f"{package}.zip holds no native library: pydantic_core and orjson should be there"
    assert not problems, "\n".join(problems)


@pytest.mark.slow
@pytest.mark.parametrize("package", sorted(contract.PACKAGES))
def test_every_bundled_wheel_was_built_for_the_deployed_platform(built: Path, package: str) -> None:
    with _zip(built, package) as zf:
        problems = wheel_problems(zf, deployed_platform())
    assert not problems, "\n".join(problems)


@pytest.mark.slow
@pytest.mark.parametrize("key", sorted(contract.FUNCTIONS_BY_KEY))
def test_terraform_handler_resolves_inside_the_functions_zip(built: Path, key: str) -> None:
    handler = terraform_handlers()[key]
    with _zip(built, contract.FUNCTIONS_BY_KEY[key].package) as zf:
        assert handler_problem(zf, handler) is None, handler_problem(zf, handler)


@pytest.mark.slow
@pytest.mark.parametrize("package", sorted(contract.PACKAGES))
def test_zip_is_within_lambdas_package_size_quotas(built: Path, package: str) -> None:
    path = built / f"{package}.zip"
    with _zip(built, package) as zf:
        unzipped = unzipped_bytes(zf)
    assert path.stat().st_size <= MAX_ZIPPED_BYTES, f"{package}.zip: {path.stat().st_size:,} bytes"
    assert unzipped <= MAX_UNZIPPED_BYTES, f"{package}.zip unzips to {unzipped:,} bytes"


# --- the checks themselves refuse what Lambda would refuse ------------------------------------------

ARM64_313 = Platform("python3.13", "arm64")


def _elf_header(machine: int, elf_class: int = ELF_CLASS_64) -> bytes:
    return (
        ELF_MAGIC
        + bytes([elf_class, 1, 1])
        + bytes(9)  # e_ident is 16 bytes; e_type at 16, e_machine at 18
        + (3).to_bytes(2, "little")
        + machine.to_bytes(2, "little")
    )


def _zip_of(tmp_path: Path, files: dict[str, bytes]) -> zipfile.ZipFile:
    path = tmp_path / "probe.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return zipfile.ZipFile(path)


def test_an_x86_64_library_named_for_aarch64_is_refused(tmp_path: Path) -> None:
    name = "orjson/orjson.cpython-313-aarch64-linux-gnu.so"
    with _zip_of(tmp_path, {name: _elf_header(ELF_MACHINE["x86_64"])}) as zf:
        problems = native_problems(zf, ARM64_313)
    assert problems == [f"{name}: ELF e_machine 62, arm64 needs 183"]


def test_an_extension_for_another_python_is_refused(tmp_path: Path) -> None:
    name = "pydantic_core/_pydantic_core.cpython-311-aarch64-linux-gnu.so"
    with _zip_of(tmp_path, {name: _elf_header(ELF_MACHINE["arm64"])}) as zf:
        problems = native_problems(zf, ARM64_313)
    assert problems == [
        f"{name}: built for cpython-311-aarch64-linux-gnu, the runtime imports {ARM64_313.abi_tag}"
    ]


def test_abi3_extensions_and_vendored_libraries_are_accepted(tmp_path: Path) -> None:
    files = {
        "cryptography/hazmat/bindings/_rust.abi3.so": _elf_header(183),
        "numpy.libs/libopenblas-r0-1234abcd.so.0": _elf_header(183),
        "wrapt/_wrappers.cpython-313-aarch64-linux-gnu.so": _elf_header(183),
    }
    with _zip_of(tmp_path, files) as zf:
        assert native_problems(zf, ARM64_313) == []


def test_a_mach_o_library_is_refused(tmp_path: Path) -> None:
    with _zip_of(tmp_path, {"orjson/orjson.cpython-313-darwin.so": b"\xcf\xfa\xed\xfe" + bytes(60)}) as zf:
        problems = native_problems(zf, ARM64_313)
    assert len(problems) == 1
    assert "not an ELF object" in problems[0]


@pytest.mark.parametrize(
    ("tag", "fits"),
    [
        ("py3-none-any", True),
        ("cp313-cp313-manylinux2014_aarch64", True),
        ("cp313-cp313-manylinux_2_17_aarch64", True),
        ("cp39-abi3-manylinux_2_17_aarch64", True),
        ("cp313-cp313-manylinux_2_17_x86_64", False),
        ("cp311-cp311-manylinux_2_17_aarch64", False),
        ("cp313-cp313-musllinux_1_2_aarch64", False),
        ("cp313-cp313-manylinux_2_39_aarch64", False),
        ("cp313-cp313-macosx_11_0_arm64", False),
    ],
)
def test_wheel_tags_are_judged_against_the_runtime(tag: str, fits: bool) -> None:
    assert _tag_fits(tag, ARM64_313) is fits


def test_a_handler_missing_from_the_zip_or_its_module_is_refused(tmp_path: Path) -> None:
    files = {
        "etl_sfn/__init__.py": b"",
        "etl_sfn/tasks.py": b"def extract_handler(event, context):\n    return {}\n"
        b"load_handler = extract_handler\n",
    }
    with _zip_of(tmp_path, files) as zf:
        assert handler_problem(zf, "etl_sfn.tasks.extract_handler") is None
        assert handler_problem(zf, "etl_sfn.tasks.load_handler") is None
        assert "defines no top-level" in str(handler_problem(zf, "etl_sfn.tasks.finalize_handler"))
        assert "not at the zip's root" in str(handler_problem(zf, "etl_sfn.starter.handler"))
