"""Cold-start import cost of every Lambda handler module, side by side with `import boto3`.

Importing the handler module is part of every cold start (the INIT phase runs it before the first event:
https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html). Each import runs in a
fresh interpreter under `python -X importtime`; the figure is the sum of the cumulative times of the
top-level imports the statement triggers, the median over the repetitions. Runs are interleaved (one of
each module per round) so background load falls on every module alike.

Prints figures and each module's ratio to `import boto3`; asserts nothing unless `--max-ratio` is given,
then exits 1 when a handler module is over it.
Usage: python bench/bench_imports.py [--repeat 9] [--traced] [--max-ratio 1.3] [--module etl_sfn.tasks ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "packages" / "etl_aws" / "src"))

from etl_aws import contract  # noqa: E402  (the path above makes the script run from a fresh clone)

BASELINE = "boto3"
MARKER = "--bench-imports-start--"


def handler_modules() -> list[str]:
    """Every module a Lambda handler lives in, in the contract's order."""
    return list(dict.fromkeys(spec.handler.rsplit(".", 1)[0] for spec in contract.FUNCTIONS))


def parse_importtime(stderr: str) -> float:
    """Seconds spent in the top-level imports after the marker (nested imports are in their parent's)."""
    _, _, after = stderr.partition(MARKER)
    total_us = 0
    for line in after.splitlines():
        if not line.startswith("import time:"):
            continue
        _, cumulative, name = line.removeprefix("import time:").split("|", 2)
        if name.startswith(" ") and not name.startswith("  ") and cumulative.strip().isdigit():
            total_us += int(cumulative)
    return total_us / 1e6


def import_seconds(module: str, env: dict[str, str]) -> float:
    """Import `module` in a fresh interpreter and return its `-X importtime` cost in seconds."""
    code = f"import sys; sys.stderr.write({MARKER!r} + '\\n'); import {module}"
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"import {module} failed:\n{result.stderr[-2000:]}")
    return parse_importtime(result.stderr)


def child_env(tracing: bool) -> dict[str, str]:
    """This environment with a region, and tracing on as on Lambda (LAMBDA_TASK_ROOT set, Powertools'
    signal) or off as a function with POWERTOOLS_TRACE_DISABLED sees it."""
    env = dict(os.environ)
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("LAMBDA_TASK_ROOT", "POWERTOOLS_TRACE_DISABLED", "AWS_SAM_LOCAL", "AWS_CHALICE_CLI_MODE"):
        env.pop(name, None)
    if tracing:
        env["LAMBDA_TASK_ROOT"] = str(ROOT)
    else:
        env["POWERTOOLS_TRACE_DISABLED"] = "true"
    return env


def measure(modules: list[str], repeat: int, env: dict[str, str]) -> dict[str, list[float]]:
    """Import times per module, `repeat` interleaved rounds (the first warms the bytecode caches)."""
    for module in modules:
        import_seconds(module, env)
    times: dict[str, list[float]] = {m: [] for m in modules}
    for _ in range(repeat):
        for module in modules:
            times[module].append(import_seconds(module, env))
    return times


def print_table(title: str, times: dict[str, list[float]], baseline: str) -> dict[str, float]:
    """Print median, min and ratio to the baseline per module; return the ratios."""
    base = statistics.median(times[baseline])
    print(f"\n{title}")
    print(f"{'module':<28} {'median ms':>10} {'min ms':>8} {'x boto3':>8}")
    ratios = {}
    for module, samples in times.items():
        median = statistics.median(samples)
        ratios[module] = median / base
        print(f"{module:<28} {median * 1e3:>10.0f} {min(samples) * 1e3:>8.0f} {ratios[module]:>8.2f}")
    return ratios


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--repeat", type=int, default=9, help="rounds per module (median reported)")
    parser.add_argument("--module", action="append", help="measure only this handler module (repeatable)")
    parser.add_argument("--traced", action="store_true", help="also measure with X-Ray tracing on")
    parser.add_argument("--max-ratio", type=float, help="exit 1 when a handler module's ratio is above this")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    modules = [BASELINE, *(args.module or handler_modules())]
    print(f"handler import time (python -X importtime), python {sys.version.split()[0]}, ", end="")
    print(f"median of {args.repeat} fresh interpreters per module, interleaved")
    title = "tracing off (POWERTOOLS_TRACE_DISABLED=true, or outside Lambda)"
    ratios = print_table(title, measure(modules, args.repeat, child_env(tracing=False)), BASELINE)
    if args.traced:
        title = "tracing on (LAMBDA_TASK_ROOT set: Powertools' Tracer and the X-Ray SDK are loaded)"
        print_table(title, measure(modules, args.repeat, child_env(tracing=True)), BASELINE)
    over = {m: r for m, r in ratios.items() if m != BASELINE and args.max_ratio and r > args.max_ratio}
    for module, ratio in over.items():
        print(f"over budget: {module} imports in {ratio:.2f}x boto3 (max {args.max_ratio})", file=sys.stderr)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
