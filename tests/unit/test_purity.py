"""etl_core is the pure domain: nothing in it may import boto3 or any other AWS library."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[2] / "packages" / "etl_core" / "src"
AWS_LIBRARIES = {"boto3", "botocore", "aiobotocore", "aioboto3", "s3transfer", "awscrt", "moto"}


def is_aws(module: str) -> bool:
    top = module.split(".")[0]
    return top in AWS_LIBRARIES or top.startswith("aws")


def imported_names(path: Path) -> set[str]:
    """Every module named by an import statement, or by a literal `import_module("x")` / `__import__("x")`."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in {"import_module", "__import__"} and isinstance(node.args[0].value, str):
                names.add(node.args[0].value)
    return names


def test_aws_detection_covers_the_known_libraries() -> None:
    assert all(is_aws(n) for n in ["boto3", "botocore.client", "aiobotocore", "aws_lambda_powertools"])
    assert not any(is_aws(n) for n in ["orjson", "csv", "etl_core.process"])


def test_etl_core_sources_are_found() -> None:
    modules = {p.name for p in SOURCE.rglob("*.py")}

    assert {"process.py", "rowcode.py", "cli.py", "synth.py"} <= modules


def test_no_etl_core_module_imports_an_aws_library() -> None:
    offenders = {
        f"{path.relative_to(SOURCE)}: {name}"
        for path in SOURCE.rglob("*.py")
        for name in imported_names(path)
        if is_aws(name)
    }

    assert offenders == set()


IMPORT_EVERYTHING = """
import importlib, json, pkgutil, sys
import etl_core
found = pkgutil.walk_packages(etl_core.__path__, "etl_core.")
loaded = [m.name for m in found if m.name != "etl_core.__main__"]  # __main__ would run the CLI
for name in loaded:
    importlib.import_module(name)
print(json.dumps({"submodules": loaded, "modules": sorted(sys.modules)}))
"""


def test_importing_all_of_etl_core_loads_no_aws_library() -> None:
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERYTHING], capture_output=True, text=True, check=True, timeout=60
    )

    result = json.loads(done.stdout)
    assert "etl_core.process" in result["submodules"]
    assert [m for m in result["modules"] if is_aws(m)] == []
