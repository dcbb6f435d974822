"""Powertools switches set in a function's environment must not make a handler log the secrets it carries.

POWERTOOLS_DEV turns the REST resolver's debug printing of every event on (unless the resolver pins
debug=False), POWERTOOLS_LOGGER_LOG_EVENT makes `inject_lambda_context` log the event (unless the decorator
pins log_event=False). Both are read when the handler module is imported, so the handlers run in a process
of their own (tests/integration/powertools_env_probe.py) and everything it prints is inspected.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SWITCHES = {
    "POWERTOOLS_DEV": "1",
    "POWERTOOLS_LOGGER_LOG_EVENT": "true",
    "POWERTOOLS_EVENT_HANDLER_DEBUG": "true",
    "POWERTOOLS_LOG_LEVEL": "DEBUG",
}


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    """Run the probe with every switch on: (what it reports, everything it printed)."""
    report = tmp_path_factory.mktemp("probe") / "secrets.json"
    env = {**os.environ, **SWITCHES, "POWERTOOLS_TRACE_DISABLED": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "tests.integration.powertools_env_probe", str(report)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    printed = result.stdout + result.stderr
    assert result.returncode == 0, printed[-3000:]
    return json.loads(report.read_text()), printed


def test_the_probe_drove_every_handler_and_its_output_was_captured(probe: tuple[dict, str]) -> None:
    report, printed = probe

    assert report["statuses"] == [200] * 7
    assert len(report["secrets"]) == 8
    assert all(len(secret) >= 32 for secret in report["secrets"])
    for line in ("decision recorded", "approval requested", "workflow ended"):
        assert line in printed
    assert '"level":"DEBUG"' in printed or "POWERTOOLS_DEV" in printed  # the switches were live


def test_no_review_token_task_token_or_callback_id_is_printed_with_every_switch_on(
    probe: tuple[dict, str],
) -> None:
    report, printed = probe

    leaked = [secret[:8] + "..." for secret in report["secrets"] if secret in printed]

    assert leaked == [], "secrets printed under Powertools switches"
    assert "'queryStringParameters'" not in printed  # no event was printed at all
