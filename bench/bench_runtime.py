"""The local runtime's throughput: `etl demo --approve-all` at growing document counts.

Each count runs in a fresh `etl demo` process with a state directory of its own; the figures come from
its JSON report. Documents per minute counts both pipelines together (a file uploaded to each is two
documents), from the first upload to the last job's end. The last column is the time per document
relative to the smallest count: it must stay near 1.0 if the cost per document does not grow with it.

By default only 100 documents run (about a minute). The 1,000-document experiment takes longer than
`make bench` should by default: set BENCH_RUNTIME_COUNTS=100,1000 (or pass --counts 100,1000).
Usage: python bench/bench_runtime.py [--counts 100,1000] [--rows 200] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_COUNTS = "100"
TIMEOUT_PER_DOCUMENT = 3.0  # seconds: far above the slowest run measured, so a hang ends the bench


def run_once(count: int, rows: int, directory: Path) -> dict:
    """One `etl demo --count N --approve-all` in its own process; returns its report plus wall time."""
    report_path = directory / f"report-{count}.json"
    log_path = directory / f"demo-{count}.log"
    command = [sys.executable, "-m", "etl_ops.cli", "--root", str(directory / f"local-{count}"), "demo"]
    command += ["--count", str(count), "--rows", str(rows), "--approve-all", "--json", str(report_path)]
    began = time.monotonic()
    with log_path.open("w", encoding="utf-8") as log:
        code = subprocess.call(  # our own CLI, no shell
            command, stdout=log, stderr=subprocess.STDOUT, timeout=60 + count * TIMEOUT_PER_DOCUMENT
        )
    if code != 0 or not report_path.exists():
        tail = log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
        raise RuntimeError(f"etl demo --count {count} failed (exit {code}):\n{tail}")
    report = json.loads(report_path.read_text(encoding="utf-8"))
    report["wall_seconds"] = time.monotonic() - began
    return report


def row(count: int, report: dict, base_seconds_per_doc: float | None) -> tuple[str, float]:
    """The printed line for one count, and its seconds per document."""
    documents = len(report["jobs"])
    per_minute = report["documents_per_minute"]
    seconds_per_doc = 60.0 / per_minute if per_minute else float("inf")
    growth = seconds_per_doc / base_seconds_per_doc if base_seconds_per_doc else 1.0
    phases = report.get("phases", {})
    line = (
        f"{count:>6} {documents:>9} {phases.get('upload', 0):>9.1f} {phases.get('processing', 0):>12.1f}"
        f" {per_minute:>10.1f} {seconds_per_doc:>10.3f} {growth:>7.2f}"
    )
    cpu = {name: seconds / documents for name, seconds in report.get("cpu_seconds", {}).items()}
    if cpu:
        line += "   cpu s/doc " + ", ".join(f"{name} {value:.3f}" for name, value in cpu.items())
        line += f"; cpu-bound {cpu_bound_rate(cpu):.0f} docs/min"
    return line, seconds_per_doc


def cpu_bound_rate(cpu_per_doc: dict[str, float], cores: int | None = None) -> float:
    """Documents per minute the CPU time allows on an otherwise idle machine: all processes together
    share the cores, and each (one interpreter lock) uses at most one of them."""
    cores = cores or os.cpu_count() or 1
    total = sum(cpu_per_doc.values())
    busiest = max(cpu_per_doc.values())
    return min(60.0 * cores / total, 60.0 / busiest) if total > 0 else float("inf")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "--counts",
        default=os.environ.get("BENCH_RUNTIME_COUNTS", DEFAULT_COUNTS),
        help="files per pipeline, comma-separated (default 100; env BENCH_RUNTIME_COUNTS)",
    )
    parser.add_argument("--rows", type=int, default=200, help="rows per file (default 200, as etl demo)")
    parser.add_argument("--keep", type=Path, help="keep logs, reports and state in this directory")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    counts = [int(c) for c in args.counts.split(",") if c.strip()]
    with tempfile.TemporaryDirectory(prefix="bench-runtime-") as scratch:
        directory = args.keep or Path(scratch)
        directory.mkdir(parents=True, exist_ok=True)
        print(f"etl demo --approve-all, {args.rows} rows per file, both pipelines ({os.cpu_count()} cores)")
        header = f"{'files':>6} {'documents':>9} {'upload s':>9} {'processing s':>12} {'docs/min':>10}"
        print(f"{header} {'s/doc':>10} {'growth':>7}")
        base: float | None = None
        for count in counts:
            line, seconds_per_doc = row(count, run_once(count, args.rows, directory), base)
            base = base or seconds_per_doc
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
