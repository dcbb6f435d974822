"""The Step Functions orchestrator: one thin handler per step, the starter, and the ASL definition.

The definition (`state_machine.asl.json`) is a template: Terraform's templatefile() fills the function
ARNs and the approval timeout; `render_definition` does the same for tests and the local runtime.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib import resources

from etl_aws import contract as C

DEFINITION_FILE = "state_machine.asl.json"
_PLACEHOLDER = re.compile(r"\$\{[A-Za-z0-9_]+\}")


def definition_template() -> str:
    """The ASL with its `${...}` placeholders, as Terraform reads it (not valid JSON until rendered)."""
    return resources.files(__name__).joinpath(DEFINITION_FILE).read_text(encoding="utf-8")


def render_definition(function_arns: Mapping[str, str], approval_timeout_seconds: int) -> str:
    """Fill the template like templatefile(): each step's function (alias) ARN and the approval timeout.

    `function_arns` is keyed like `contract.ASL_PLACEHOLDERS` (extract, transform, load,
    request_approval, finalize). Raises ValueError for a missing ARN or a placeholder left unfilled.
    """
    missing = sorted(set(C.ASL_PLACEHOLDERS) - set(function_arns))
    if missing:
        raise ValueError(f"no function ARN for {', '.join(missing)}")
    if int(approval_timeout_seconds) < 1:
        raise ValueError("the approval timeout must be a positive number of seconds")
    text = definition_template()
    for step, placeholder in C.ASL_PLACEHOLDERS.items():
        text = text.replace(placeholder, function_arns[step])
    text = text.replace(C.ASL_TIMEOUT_PLACEHOLDER, str(int(approval_timeout_seconds)))
    left = _PLACEHOLDER.findall(text)
    if left:
        raise ValueError(f"placeholders left unfilled: {', '.join(sorted(set(left)))}")
    return text
