"""checkov finds nothing in terraform/ except what a skip comment next to the resource explains.

checkov runs from its own virtualenv, .venv-checkov, built from requirements-checkov.txt on first use
(and rebuilt when that file changes). Without network on a fresh machine the test is skipped.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .tfkit import ROOT, TERRAFORM_DIR

VENV = ROOT / ".venv-checkov"
REQUIREMENTS = ROOT / "requirements-checkov.txt"
SKIP_COMMENT = re.compile(r"#\s*checkov:skip=(?P<check>[A-Z0-9_]+)(?::(?P<reason>.*))?")

pytestmark = [pytest.mark.terraform, pytest.mark.slow]


def _checkov_binary() -> Path:
    """checkov from .venv-checkov, installing it there if the requirements changed or it is absent."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:16]
    stamp = VENV / f".installed-{digest}"
    binary = VENV / "bin" / "checkov"
    if stamp.is_file() and binary.is_file():
        return binary
    shutil.rmtree(VENV, ignore_errors=True)
    steps = (
        [sys.executable, "-m", "venv", str(VENV)],
        [str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "-r", str(REQUIREMENTS)],
    )
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, timeout=900, check=False)
        if result.returncode != 0:
            shutil.rmtree(VENV, ignore_errors=True)
            pytest.skip(f"checkov could not be installed ({' '.join(step[-3:])}): {result.stderr[-500:]}")
    stamp.write_text(REQUIREMENTS.read_text(encoding="utf-8"), encoding="utf-8")
    return binary


@pytest.fixture(scope="module")
def checkov_results() -> dict[str, Any]:
    binary = _checkov_binary()
    result = subprocess.run(
        [
            str(binary),
            "--directory",
            str(TERRAFORM_DIR),
            "--framework",
            "terraform",
            "--skip-download",
            "--compact",
            "--output",
            "json",
            # terraform test files and mocks are not configuration; checkov's HCL parser also times
            # out on some of them.
            "--skip-path",
            "/tests/",
            "--skip-path",
            r"\.terraform/",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr[-2000:]
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    terraform = [r for r in reports if r.get("check_type") == "terraform"]
    assert len(terraform) == 1, f"no terraform report in checkov output: {result.stdout[:500]}"
    return terraform[0]


def _skip_comments() -> list[tuple[str, int, str, str]]:
    """(file relative to terraform/, line, check id, reason) of every checkov skip comment."""
    out = []
    for tf in sorted(TERRAFORM_DIR.rglob("*.tf")):
        if "/tests/" in tf.as_posix() or "/.terraform/" in tf.as_posix():
            continue
        for number, line in enumerate(tf.read_text(encoding="utf-8").splitlines(), start=1):
            match = SKIP_COMMENT.search(line)
            if match:
                relative = "/" + tf.relative_to(TERRAFORM_DIR).as_posix()
                out.append((relative, number, match["check"], (match["reason"] or "").strip()))
    return out


def test_checkov_parses_every_file(checkov_results: dict[str, Any]) -> None:
    assert checkov_results["summary"]["parsing_errors"] == 0, checkov_results["results"].get("parsing_errors")
    assert checkov_results["summary"]["resource_count"] > 50


def test_checkov_reports_no_failed_check(checkov_results: dict[str, Any]) -> None:
    failed = [
        f"{c['check_id']} {c['resource']} {c['file_path']}:{c['file_line_range'][0]} {c['check_name']}"
        for c in checkov_results["results"]["failed_checks"]
    ]
    assert not failed, "fix these or skip them next to the resource with a reason:\n" + "\n".join(failed)


def test_every_skip_comment_gives_a_reason() -> None:
    missing = [f"{f}:{n} {check}" for f, n, check, reason in _skip_comments() if len(reason) < 20]
    assert not missing, missing


def test_every_skip_comment_is_needed(checkov_results: dict[str, Any]) -> None:
    skipped = {(c["file_path"], c["check_id"]) for c in checkov_results["results"]["skipped_checks"]}
    unused = [f"{f}:{n} {check}" for f, n, check, _ in _skip_comments() if (f, check) not in skipped]
    assert not unused, f"these skips suppress nothing; remove them: {unused}"


def test_skips_are_only_the_reviewed_checks(checkov_results: dict[str, Any]) -> None:
    for check in checkov_results["results"]["skipped_checks"]:
        assert check["check_result"].get("suppress_comment"), f"{check['check_id']} skipped without a reason"
        assert Path(check["file_abs_path"]).is_relative_to(TERRAFORM_DIR)
