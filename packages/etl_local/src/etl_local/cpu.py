"""CPU time used by the local runtime's processes: the figure that says where a run's time goes.

Wall-clock throughput on a shared 2-core machine moves with whatever else runs; the CPU seconds each
process spent per document do not, so the benchmark reports both. Read from `/proc/<pid>/stat` (Linux);
elsewhere only this process's own time is known.
"""

from __future__ import annotations

import os
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process `pid` so far, or None when it cannot be read."""
    if pid == os.getpid():
        times = os.times()
        return times.user + times.system
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return None
    # Fields after the command name (which may hold spaces, inside parentheses): utime is the 14th
    # field of the line, stime the 15th, i.e. the 12th and 13th after the closing parenthesis.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def snapshot(pids: dict[str, int]) -> dict[str, float]:
    """Name → CPU seconds so far, for the processes that can be read."""
    found = {name: process_seconds(pid) for name, pid in pids.items()}
    return {name: seconds for name, seconds in found.items() if seconds is not None}


def spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds each process spent between two snapshots (processes present in both)."""
    return {name: round(after[name] - before[name], 2) for name in after if name in before}
