"""`scripts/build_lambdas.py` gives byte-identical zips from the same tree, shaped as Lambda expects."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from etl_aws import contract

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "scripts" / "build_lambdas.py"
EXIT_WHEELS_UNAVAILABLE = 3

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two independent builds of the same tree, run side by side (they share the wheel cache)."""
    outs = (tmp_path_factory.mktemp("build-a"), tmp_path_factory.mktemp("build-b"))
    builds = [
        subprocess.Popen(
            [sys.executable, str(BUILD), "--out", str(out)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for out in outs
    ]
    results = [(*b.communicate(timeout=900), b.returncode) for b in builds]
    for _, stderr, code in results:
        if code == EXIT_WHEELS_UNAVAILABLE:
            pytest.skip(f"wheels cannot be fetched and dist/.cache holds none: {stderr[-400:]}")
        assert code == 0, stderr
    return outs


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_rebuild_from_same_tree_is_byte_identical(two_builds: tuple[Path, Path]) -> None:
    first, second = two_builds
    for package in contract.PACKAGES:
        assert _sha256(first / f"{package}.zip") == _sha256(second / f"{package}.zip"), package


def test_entries_are_sorted_with_fixed_time_and_modes(two_builds: tuple[Path, Path]) -> None:
    for package in contract.PACKAGES:
        with zipfile.ZipFile(two_builds[0] / f"{package}.zip") as zf:
            infos = zf.infolist()
        names = [i.filename for i in infos]
        assert names == sorted(names)
        assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
        for info in infos:
            mode = info.external_attr >> 16
            assert mode == (0o40755 if info.is_dir() else 0o100644), info.filename


def test_no_bytecode_scripts_or_record_files(two_builds: tuple[Path, Path]) -> None:
    for package in contract.PACKAGES:
        with zipfile.ZipFile(two_builds[0] / f"{package}.zip") as zf:
            names = zf.namelist()
        assert not [n for n in names if n.endswith((".pyc", "/RECORD")) or "__pycache__" in n]
        assert not [n for n in names if n.startswith("bin/")]


def test_zip_holds_every_source_file_of_its_trees(two_builds: tuple[Path, Path]) -> None:
    for package, trees in contract.PACKAGES.items():
        with zipfile.ZipFile(two_builds[0] / f"{package}.zip") as zf:
            names = set(zf.namelist())
        for tree in trees:
            src = ROOT / tree / "src"
            expected = {
                p.relative_to(src).as_posix()
                for p in src.rglob("*.py")
                if "__pycache__" not in p.parts and "tests" not in p.relative_to(src).parts
            }
            assert expected <= names, (package, sorted(expected - names)[:5])


def test_handler_modules_ship_in_their_package(two_builds: tuple[Path, Path]) -> None:
    for spec in contract.FUNCTIONS:
        module = spec.handler.rsplit(".", 1)[0].replace(".", "/") + ".py"
        tree = next(t for t in contract.PACKAGES[spec.package] if t.startswith("lambdas/"))
        if not (ROOT / tree / "src" / module).is_file():
            continue  # the handler is not written yet; the source test above covers what exists
        with zipfile.ZipFile(two_builds[0] / f"{spec.package}.zip") as zf:
            assert module in zf.namelist(), spec.key


def test_runtime_dependencies_are_bundled(two_builds: tuple[Path, Path]) -> None:
    with zipfile.ZipFile(two_builds[0] / "durable.zip") as zf:
        tops = {n.split("/", 1)[0] for n in zf.namelist()}
    assert {"aws_durable_execution_sdk_python", "aws_lambda_powertools", "pydantic", "orjson"} <= tops
