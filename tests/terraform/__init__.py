"""Checks of the Terraform and of the Lambda build.

`etl_aws.contract` is the reference these tests hold the HCL against; it is importable here even
before `make venv` has installed the packages. scripts/ (terraform_env) is importable too.
"""

import importlib.util
import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[2]

if importlib.util.find_spec("etl_aws") is None:
    sys.path.insert(0, str(_ROOT / "packages" / "etl_aws" / "src"))
if str(_ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(_ROOT / "scripts"))
